//! `GET /v1/subscribe`: the subscriber WebSocket (protocol: `docs/subscriber-protocol.md`).
//!
//! Everything is decided before the upgrade, in this order: the API key (none or unknown →
//! 401), the query (malformed → 400), the scopes (not granted → 403), a free slot
//! (`max_subscribers` reached, or shutting down → 503 with `Retry-After`); then the WebSocket
//! handshake and a [`SessionActor`] on this worker.
//!
//! State: `web::Data<HubHandle>` and `web::Data<ApiKeys>`.

use std::sync::Arc;

use actix_web::{
    FromRequest, HttpRequest, HttpResponse, ResponseError, body::BoxBody, http::StatusCode,
    http::header, web,
};

use crate::{
    actors::{
        hub::HubHandle,
        session::{SessionActor, SessionStart, slices::Sliced},
    },
    auth::ApiKeys,
    event::Scope,
    fanout::{
        admission::Refused,
        filter::{Filter, FilterError, FilterSpec},
        writer::Framing,
    },
    frame_limit::PayloadGuard,
    http::auth::AuthError,
};

pub const PATH: &str = "/v1/subscribe";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(PATH).get(subscribe));
}

/// Why an upgrade was refused; always answered before the upgrade.
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("invalid query: {0}")]
    BadQuery(String),
    #[error("the subscriber limit ({max}) is reached; retry later")]
    Full { max: usize, retry_after_secs: u64 },
    #[error("agentcast is shutting down")]
    ShuttingDown { retry_after_secs: u64 },
}

impl SubscribeError {
    /// The `reason` label of `agentcast_subscriber_refusals_total`.
    fn metric_reason(&self) -> &'static str {
        match self {
            Self::Auth(AuthError::MissingKey | AuthError::UnknownKey) => "unauthorized",
            Self::Auth(_) => "forbidden",
            Self::BadQuery(_) => "bad_request",
            Self::Full { .. } => "full",
            Self::ShuttingDown { .. } => "shutting_down",
        }
    }
}

impl ResponseError for SubscribeError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Auth(err) => err.status_code(),
            Self::BadQuery(_) => StatusCode::BAD_REQUEST,
            Self::Full { .. } | Self::ShuttingDown { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Auth(err) => err.error_response(),
            Self::Full {
                retry_after_secs, ..
            }
            | Self::ShuttingDown { retry_after_secs } => HttpResponse::build(self.status_code())
                .insert_header((header::RETRY_AFTER, retry_after_secs.to_string()))
                .json(serde_json::json!({ "error": self.to_string() })),
            Self::BadQuery(_) => HttpResponse::build(self.status_code())
                .json(serde_json::json!({ "error": self.to_string() })),
        }
    }
}

impl From<FilterError> for SubscribeError {
    fn from(err: FilterError) -> Self {
        Self::Auth(AuthError::ScopeNotGranted(match err {
            FilterError::ScopeNotGranted(scope) => scope.as_str(),
            FilterError::NoScopeGranted => "(any)",
        }))
    }
}

/// The query of `/v1/subscribe`.
#[derive(Debug, Default, PartialEq)]
pub struct SubscribeQuery {
    pub filter: FilterSpec,
    pub since: Option<u64>,
    pub epoch: Option<String>,
    pub framing: Option<Framing>,
}

impl SubscribeQuery {
    /// Parses `scopes`, `agentIds`, `queueIds` (comma-separated, repeatable),
    /// `violationsOnly`, `since`, `epoch`, `batch`; `access_token` is the auth's. Anything
    /// else is refused, so a misspelt filter does not silently widen the subscription.
    pub fn parse(query: &str) -> Result<Self, SubscribeError> {
        let mut parsed = Self::default();
        let bad = |msg: String| SubscribeError::BadQuery(msg);
        let list = |value: &str| {
            value
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let flag = |name: &str, value: &str| match value {
            "" | "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            other => Err(bad(format!("{name}={other:?}: expected true or false"))),
        };
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match &*name {
                "access_token" => {}
                "scopes" => {
                    for raw in list(&value) {
                        let scope = Scope::parse(&raw).ok_or_else(|| {
                            bad(format!(
                                "unknown scope {raw:?}; expected global_routing, queue_specific, supervisory_only or internal_monitoring"
                            ))
                        })?;
                        parsed.filter.scopes.push(scope);
                    }
                }
                "agentIds" => parsed
                    .filter
                    .agent_ids
                    .get_or_insert_with(Vec::new)
                    .extend(list(&value)),
                "queueIds" => parsed
                    .filter
                    .queue_ids
                    .get_or_insert_with(Vec::new)
                    .extend(list(&value)),
                "violationsOnly" => parsed.filter.violations_only = flag(&name, &value)?,
                "since" => {
                    parsed.since = Some(value.parse().map_err(|_| {
                        bad(format!("since={value:?}: expected a seq (a whole number)"))
                    })?)
                }
                "epoch" => parsed.epoch = Some(value.into_owned()),
                "batch" => {
                    parsed.framing = Some(if flag(&name, &value)? {
                        Framing::Array
                    } else {
                        Framing::Frames
                    })
                }
                other => return Err(bad(format!("unknown parameter {other:?}"))),
            }
        }
        Ok(parsed)
    }
}

async fn subscribe(
    req: HttpRequest,
    body: web::Payload,
    fanout: web::Data<HubHandle>,
    keys: web::Data<ApiKeys>,
) -> actix_web::Result<HttpResponse> {
    let start = match admit(&req, &fanout, &keys) {
        Ok(start) => start,
        Err(err) => {
            fanout
                .metrics
                .refusals
                .with_label_values(&[err.metric_reason()])
                .inc();
            tracing::debug!(error = %err, "Subscriber refused.");
            return Err(err.into());
        }
    };
    // The client's frames are read through a guard that refuses an oversized frame at its
    // header: actix-ws alone would buffer a declared 1 TiB frame until it was complete.
    let mut guarded =
        PayloadGuard::new(body, fanout.settings.client_frame_max_bytes).into_payload();
    let body = web::Payload::from_request(&req, &mut guarded).await?;
    // A request that is not a WebSocket upgrade is answered here (400); the permit in `start`
    // is then dropped, freeing the slot.
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    SessionActor::start(&fanout.clone().into_inner(), start, session, stream);
    fanout.metrics.connections.inc();
    Ok(response.map_body(|_, body| BoxBody::new(Sliced::new(body))))
}

fn admit(
    req: &HttpRequest,
    fanout: &HubHandle,
    keys: &ApiKeys,
) -> Result<SessionStart, SubscribeError> {
    let grant = keys.authenticate(req)?;
    let query = SubscribeQuery::parse(req.query_string())?;
    let filter = Filter::new(query.filter, &grant)?;
    let retry_after_secs = fanout.settings.retry_after_secs;
    let permit = fanout
        .admission
        .try_admit()
        .map_err(|refused| match refused {
            Refused::Full => SubscribeError::Full {
                max: fanout.settings.max_subscribers,
                retry_after_secs,
            },
            Refused::ShuttingDown => SubscribeError::ShuttingDown { retry_after_secs },
        })?;
    Ok(SessionStart {
        grant: Arc::clone(&grant),
        filter,
        since: query.since,
        epoch: query.epoch,
        framing: query.framing.unwrap_or(Framing::Frames),
        permit,
        peer: req.peer_addr(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_gives_the_filter_and_the_recovery_point() {
        let q = SubscribeQuery::parse(
            "access_token=k&scopes=global_routing,queue_specific&agentIds=a,b&agentIds=c&queueIds=q1\
             &violationsOnly=true&since=42&epoch=E&batch=1",
        )
        .unwrap();
        assert_eq!(
            q.filter.scopes,
            [Scope::GlobalRouting, Scope::QueueSpecific]
        );
        assert_eq!(
            q.filter.agent_ids.as_deref(),
            Some(&["a".into(), "b".into(), "c".into()][..])
        );
        assert_eq!(q.filter.queue_ids.as_deref(), Some(&["q1".into()][..]));
        assert!(q.filter.violations_only);
        assert_eq!(q.since, Some(42));
        assert_eq!(q.epoch.as_deref(), Some("E"));
        assert_eq!(q.framing, Some(Framing::Array));
        assert_eq!(
            SubscribeQuery::parse("").unwrap(),
            SubscribeQuery::default()
        );
    }

    #[test]
    fn malformed_queries_are_refused_with_the_culprit_named() {
        for (query, culprit) in [
            ("scopes=everything", "everything"),
            ("since=yesterday", "yesterday"),
            ("violationsOnly=maybe", "maybe"),
            ("agentId=a", "agentId"),
        ] {
            let err = SubscribeQuery::parse(query).unwrap_err();
            assert!(matches!(err, SubscribeError::BadQuery(_)));
            assert!(err.to_string().contains(culprit), "{err}");
        }
    }
}
