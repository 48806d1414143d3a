//! The admin commands behind `/v1/webhooks…`: endpoint health, dead letters, replay,
//! re-enable, attempts. Each answers asynchronously; none blocks delivery.

use actix::{Context, Handler, Message, MessageResult, ResponseFuture};
use futures_util::future::join_all;
use serde::Serialize;

use super::{
    AttemptView, DeadLetter, FailureSummary, MAX_LIST_LIMIT, ReplaySelector, WebhookActor,
    WebhookError,
    outbox::{self, CountDeliveries, Replay},
    worker::{self, Enqueue, GetHealth},
};

/// Every endpoint with its health.
#[derive(Message)]
#[rtype(result = "Result<Vec<EndpointHealth>, WebhookError>")]
pub struct ListEndpoints;

#[derive(Debug, Clone, Serialize)]
pub struct EndpointHealth {
    pub id: String,
    /// Without credentials, query or fragment.
    pub url: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Start of the current run of failures; none while healthy.
    pub failing_since: Option<chrono::DateTime<chrono::Utc>>,
    pub last_success_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_failure: Option<FailureSummary>,
    /// Deliveries held in memory, in flight included.
    pub queued: usize,
    pub in_flight: usize,
    /// Pending deliveries in the outbox (in memory or not).
    pub pending: u64,
    pub dead_letters: u64,
    pub scopes: Vec<&'static str>,
    pub violations_only: bool,
    pub concurrency: usize,
    pub timeout_secs: f64,
    pub max_attempts: u32,
}

/// Events lost for webhooks since the start: accepted by agentcast (broadcast) but never
/// written to the outbox, so no endpoint will get them and no replay can bring them back.
#[derive(Message)]
#[rtype(result = "WebhookLosses")]
pub struct GetLosses;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WebhookLosses {
    /// Refused because the outbox queue was full (`agentcast_webhook_refused_total`).
    pub refused: u64,
    /// Dropped by the hub before they reached the webhook actor
    /// (`agentcast_webhook_dropped_total`).
    pub dropped: u64,
    /// The most recent loss, of either kind.
    pub last: Option<Loss>,
}

/// One run of events lost for webhooks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Loss {
    /// When agentcast learned of it.
    pub at: chrono::DateTime<chrono::Utc>,
    pub count: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub reason: String,
}

impl WebhookLosses {
    pub(super) fn record(&mut self, loss: Loss, refused: bool) {
        if refused {
            self.refused += loss.count;
        } else {
            self.dropped += loss.count;
        }
        self.last = Some(loss);
    }
}

/// Dead letters of an endpoint, oldest first.
#[derive(Message)]
#[rtype(result = "Result<Vec<DeadLetter>, WebhookError>")]
pub struct ListDeadLetters {
    pub endpoint: String,
    /// Only events accepted at or after this time.
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    pub limit: usize,
}

/// Puts dead letters back in the endpoint's queue; answers how many.
#[derive(Message)]
#[rtype(result = "Result<usize, WebhookError>")]
pub struct ReplayDeadLetters {
    pub endpoint: String,
    pub selector: ReplaySelector,
}

/// Re-enables a disabled endpoint.
#[derive(Message)]
#[rtype(result = "Result<(), WebhookError>")]
pub struct EnableEndpoint {
    pub endpoint: String,
    /// Who asked, for the audit trail.
    pub by: String,
}

/// The attempts to deliver one event to one endpoint.
#[derive(Message)]
#[rtype(result = "Result<Vec<AttemptView>, WebhookError>")]
pub struct ListAttempts {
    pub endpoint: String,
    pub event_id: String,
}

impl Handler<GetLosses> for WebhookActor {
    type Result = MessageResult<GetLosses>;

    fn handle(&mut self, _: GetLosses, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.losses.clone())
    }
}

impl Handler<ListEndpoints> for WebhookActor {
    type Result = ResponseFuture<Result<Vec<EndpointHealth>, WebhookError>>;

    fn handle(&mut self, _: ListEndpoints, _: &mut Context<Self>) -> Self::Result {
        let routes: Vec<_> = self
            .routes
            .iter()
            .map(|r| (r.cfg.clone(), r.worker.clone()))
            .collect();
        let counts = self.store.send(CountDeliveries);
        Box::pin(async move {
            let counts = counts.await.map_err(|_| WebhookError::Stopped)??;
            let healths = join_all(routes.iter().map(|(_, w)| w.send(GetHealth))).await;
            let mut list = Vec::with_capacity(routes.len());
            for ((cfg, _), health) in routes.iter().zip(healths) {
                let health = health.map_err(|_| WebhookError::Stopped)?;
                let (pending, dead_letters) = counts.get(&*cfg.id).copied().unwrap_or_default();
                let time = |ms: Option<i64>| ms.and_then(chrono::DateTime::from_timestamp_millis);
                list.push(EndpointHealth {
                    id: cfg.id.to_string(),
                    url: cfg.display_url(),
                    enabled: health.record.enabled,
                    disabled_reason: health.record.disabled_reason.clone(),
                    disabled_at: time(health.record.disabled_ms),
                    failing_since: time(health.record.failing_since_ms),
                    last_success_at: time(health.record.last_success_ms),
                    last_failure: health.last_failure,
                    queued: health.queued,
                    in_flight: health.in_flight,
                    pending,
                    dead_letters,
                    scopes: cfg.scopes.iter().map(|s| s.as_str()).collect(),
                    violations_only: cfg.violations_only,
                    concurrency: cfg.concurrency,
                    timeout_secs: cfg.timeout.as_secs_f64(),
                    max_attempts: cfg.retry.max_attempts(),
                });
            }
            Ok(list)
        })
    }
}

impl Handler<ListDeadLetters> for WebhookActor {
    type Result = ResponseFuture<Result<Vec<DeadLetter>, WebhookError>>;

    fn handle(&mut self, msg: ListDeadLetters, _: &mut Context<Self>) -> Self::Result {
        let request = self.route(&msg.endpoint).map(|route| {
            self.store.send(outbox::ListDeadLetters {
                endpoint: route.cfg.id.clone(),
                since_ms: msg.since.map(|t| t.timestamp_millis()),
                limit: msg.limit.min(MAX_LIST_LIMIT),
            })
        });
        Box::pin(async move {
            request?
                .await
                .map_err(|_| WebhookError::Stopped)?
                .map_err(Into::into)
        })
    }
}

impl Handler<ReplayDeadLetters> for WebhookActor {
    type Result = ResponseFuture<Result<usize, WebhookError>>;

    fn handle(&mut self, msg: ReplayDeadLetters, _: &mut Context<Self>) -> Self::Result {
        let request = self.route(&msg.endpoint).and_then(|route| {
            if !route.enabled {
                return Err(WebhookError::Disabled(msg.endpoint.clone()));
            }
            Ok((
                route.worker.clone(),
                self.store.send(Replay {
                    endpoint: route.cfg.id.clone(),
                    selector: msg.selector.clone(),
                }),
            ))
        });
        Box::pin(async move {
            let (worker, replay) = request?;
            let deliveries = replay.await.map_err(|_| WebhookError::Stopped)??;
            if deliveries.is_empty()
                && let ReplaySelector::Event(event_id) = msg.selector
            {
                return Err(WebhookError::NoDeadLetter {
                    endpoint: msg.endpoint,
                    event_id,
                });
            }
            let n = deliveries.len();
            worker.do_send(Enqueue { deliveries });
            Ok(n)
        })
    }
}

impl Handler<EnableEndpoint> for WebhookActor {
    type Result = Result<(), WebhookError>;

    fn handle(&mut self, msg: EnableEndpoint, _: &mut Context<Self>) -> Self::Result {
        let route = self
            .routes
            .iter_mut()
            .find(|r| *r.cfg.id == msg.endpoint)
            .ok_or_else(|| WebhookError::UnknownEndpoint(msg.endpoint.clone()))?;
        route.enabled = true;
        route.worker.do_send(worker::Enable { by: msg.by });
        Ok(())
    }
}

impl Handler<ListAttempts> for WebhookActor {
    type Result = ResponseFuture<Result<Vec<AttemptView>, WebhookError>>;

    fn handle(&mut self, msg: ListAttempts, _: &mut Context<Self>) -> Self::Result {
        let request = self.route(&msg.endpoint).map(|route| {
            self.store.send(outbox::ListAttempts {
                endpoint: route.cfg.id.clone(),
                event_id: msg.event_id,
            })
        });
        Box::pin(async move {
            request?
                .await
                .map_err(|_| WebhookError::Stopped)?
                .map_err(Into::into)
        })
    }
}
