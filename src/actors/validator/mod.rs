//! ValidatorActor: turns each agent signal into one validated state.
//!
//! Receives [`AgentSignal`]s from the GenesysStreamActor (notifications and reconciled
//! observations) and [`Reevaluate`] from the ReferenceActor after reference data changed
//! (schedule notifications go to the ReferenceActor, not here).
//! Keeps each agent's state ([`tracked`]), discards duplicates and stale input (counted and
//! audited as rejects), runs the checks ([`verdict`]) against the shared reference data, and
//! sends a [`Publish`] per change to the hub. A [`ValidatorPool`] of N actors, each on its
//! own thread, routes by agent id so that one agent's signals keep their order.

mod pool;
pub mod tracked;
pub mod verdict;

use std::{
    collections::HashMap,
    hash::{Hash, Hasher},
    sync::Arc,
    time::Instant,
};

use actix::{
    Actor, AsyncContext, Context, Handler, Message, Recipient, WrapFuture, dev::SendError,
};
use bytes::Bytes;
use chrono::Utc;
use serde::de::DeserializeOwned;
use tracing::debug;

pub use pool::ValidatorPool;
use tracked::{Applied, Tracked};
use verdict::{Rules, Verdict};

use super::ingest_metrics::IngestMetrics;
use crate::{
    actors::{audit::records, hub::Publish},
    config::Deliver,
    event::{AgentId, AuditSink, RejectReason, Rejected, Validated},
    genesys::{
        models::{
            ActivityEvent, ActivityPresence, PresenceEvent, RoutingStatusEvent, User,
            UserConversationSummary,
        },
        topics::UserTopicKind,
    },
    reference::ReferenceCache,
};

/// One input about one agent.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct AgentSignal {
    pub agent_id: AgentId,
    /// When the frame arrived (or the observation was fetched).
    pub received_at: Instant,
    pub input: SignalInput,
}

#[derive(Debug)]
pub enum SignalInput {
    /// A per-user topic notification, body not yet parsed.
    Notification {
        kind: UserTopicKind,
        correlation_id: Option<String>,
        /// The `eventBody` JSON (a slice of the frame it came in).
        body: Bytes,
    },
    /// The agent as read over REST by reconciliation, fetched at `fetched_at`.
    Observed {
        user: Box<User>,
        fetched_at: Instant,
    },
}

/// Validate these agents again (their schedule changed, or time moved past a boundary) and
/// publish those whose verdict changed.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Reevaluate {
    /// `None` = every agent this validator tracks.
    pub agent_ids: Option<Vec<AgentId>>,
}

/// Where a validator sends its output.
#[derive(Clone)]
pub struct ValidatorOutputs {
    pub publish: Recipient<Publish>,
    pub audit: Option<AuditSink>,
}

pub struct ValidatorActor {
    agents: HashMap<AgentId, Agent>,
    reference: ReferenceCache,
    rules: Arc<Rules>,
    deliver: Deliver,
    outputs: ValidatorOutputs,
    metrics: IngestMetrics,
    /// Decremented as signals are handled; the stream pauses when it is too high.
    backlog: pool::Backlog,
}

#[derive(Default)]
struct Agent {
    tracked: Tracked,
    /// A fingerprint of the last verdict published (its state and violations), to tell
    /// whether a re-evaluation changed anything without keeping a copy of it.
    published: Option<u64>,
}

impl ValidatorActor {
    fn new(
        reference: ReferenceCache,
        rules: Arc<Rules>,
        deliver: Deliver,
        outputs: ValidatorOutputs,
        metrics: IngestMetrics,
        backlog: pool::Backlog,
    ) -> Self {
        Self {
            agents: HashMap::new(),
            reference,
            rules,
            deliver,
            outputs,
            metrics,
            backlog,
        }
    }

    fn reject(
        &self,
        reason: RejectReason,
        agent_id: &AgentId,
        kind: Option<UserTopicKind>,
        detail: String,
        correlation_id: Option<String>,
    ) {
        self.metrics.reject(reason);
        debug!(agent_id = %agent_id, reason = reason.as_str(), %detail, "Rejected a signal.");
        if let Some(audit) = &self.outputs.audit {
            audit.do_send(records::reject(&Rejected {
                reason,
                agent_id: Some(agent_id.clone()),
                topic: kind.map(|k| k.suffix().to_owned()),
                detail,
                correlation_id,
            }));
        }
    }

    /// Evaluates `agent_id` and publishes the verdict (if `deliver` allows it).
    fn publish(
        &mut self,
        agent_id: &AgentId,
        received_at: Instant,
        reconciled: bool,
        correlation_id: Option<String>,
        ctx: &mut Context<Self>,
    ) {
        let reference = self.reference.load();
        let Some(agent) = self.agents.get(agent_id) else {
            return;
        };
        self.metrics.evaluations.inc();
        let verdict = verdict::evaluate(
            agent_id,
            &agent.tracked,
            &reference,
            &self.rules,
            Utc::now(),
        );
        self.publish_verdict(
            agent_id,
            verdict,
            received_at,
            reconciled,
            correlation_id,
            ctx,
        );
    }

    /// Publishes a verdict just computed (if `deliver` allows it). When the hub's mailbox is
    /// full this validator waits for it (and the stream, seeing the pool's backlog grow, stops
    /// reading its sockets): back-pressure instead of an unbounded queue.
    fn publish_verdict(
        &mut self,
        agent_id: &AgentId,
        verdict: Verdict,
        received_at: Instant,
        reconciled: bool,
        correlation_id: Option<String>,
        ctx: &mut Context<Self>,
    ) {
        if let Some(agent) = self.agents.get_mut(agent_id) {
            agent.published = Some(fingerprint(&verdict));
        }
        self.metrics.validated.inc();
        for violation in &verdict.violations {
            self.metrics
                .violations
                .with_label_values(&[violation.kind.as_str()])
                .inc();
        }
        self.metrics
            .validation_seconds
            .observe(received_at.elapsed().as_secs_f64());
        if self.deliver == Deliver::ValidOnly && !verdict.validated {
            self.metrics.withheld.inc();
            return;
        }
        let publish = Publish {
            validated: Validated {
                agent_id: agent_id.clone(),
                state: verdict.state,
                violations: verdict.violations,
                scope: verdict.scope,
                validated: verdict.validated,
                reconciled,
                received_at,
                correlation_id,
            },
        };
        match self.outputs.publish.try_send(publish) {
            Ok(()) | Err(SendError::Closed(_)) => {}
            Err(SendError::Full(publish)) => {
                let hub = self.outputs.publish.clone();
                ctx.wait(
                    async move {
                        let _delivered = hub.send(publish).await;
                    }
                    .into_actor(self),
                );
            }
        }
    }

    fn handle_notification(
        &mut self,
        agent_id: AgentId,
        received_at: Instant,
        kind: UserTopicKind,
        correlation_id: Option<String>,
        body: &[u8],
        ctx: &mut Context<Self>,
    ) {
        self.metrics
            .signals
            .with_label_values(&[kind.as_label()])
            .inc();
        let agent = self.agents.entry(agent_id.clone()).or_default();
        if let Some(id) = &correlation_id
            && !agent.tracked.first_sighting(id)
        {
            return self.reject(
                RejectReason::Duplicate,
                &agent_id,
                Some(kind),
                "correlation id seen before".into(),
                correlation_id,
            );
        }
        let reference = self.reference.load();
        let applied = match kind {
            UserTopicKind::Activity => {
                parse::<ActivityEvent>(body).map(|e| agent.tracked.apply_activity(&e, &reference))
            }
            UserTopicKind::Presence => parse::<PresenceEvent>(body).map(|e| {
                let activity = ActivityEvent {
                    id: None,
                    routing_status: None,
                    presence: Some(ActivityPresence {
                        presence_definition: e.presence_definition,
                        presence_message: None,
                        modified_date: e.modified_date,
                    }),
                    out_of_office: None,
                    active_queue_ids: None,
                    date_active_queues_changed: None,
                };
                agent.tracked.apply_activity(&activity, &reference)
            }),
            UserTopicKind::RoutingStatus => parse::<RoutingStatusEvent>(body).map(|e| {
                let activity = ActivityEvent {
                    id: e.id,
                    routing_status: e.routing_status,
                    presence: None,
                    out_of_office: None,
                    active_queue_ids: None,
                    date_active_queues_changed: None,
                };
                agent.tracked.apply_activity(&activity, &reference)
            }),
            UserTopicKind::ConversationSummary => parse::<UserConversationSummary>(body)
                .map(|s| agent.tracked.apply_conversations(&s, received_at)),
            // The channels send schedule changes to the ReferenceActor, which has the
            // validators re-evaluate once the new schedule is in; nothing to apply here.
            UserTopicKind::Schedules => Ok(Applied::Unchanged),
        };
        match applied {
            Err(detail) => self.reject(
                RejectReason::InvalidBody,
                &agent_id,
                Some(kind),
                detail,
                correlation_id,
            ),
            Ok(Applied::Stale) => self.reject(
                RejectReason::Stale,
                &agent_id,
                Some(kind),
                "older than the known state".into(),
                correlation_id,
            ),
            Ok(Applied::Duplicate) => self.reject(
                RejectReason::Duplicate,
                &agent_id,
                Some(kind),
                "identical to the known state".into(),
                correlation_id,
            ),
            Ok(Applied::Unchanged) => {}
            Ok(Applied::Changed) => {
                self.publish(&agent_id, received_at, false, correlation_id, ctx)
            }
        }
    }
}

/// What a verdict tells subscribers, hashed.
fn fingerprint(verdict: &Verdict) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    verdict.state.hash(&mut hasher);
    verdict.violations.hash(&mut hasher);
    hasher.finish()
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

impl Actor for ValidatorActor {
    type Context = Context<Self>;
}

impl Handler<AgentSignal> for ValidatorActor {
    type Result = ();

    fn handle(&mut self, signal: AgentSignal, ctx: &mut Context<Self>) {
        self.backlog.handled();
        let AgentSignal {
            agent_id,
            received_at,
            input,
        } = signal;
        match input {
            SignalInput::Notification {
                kind,
                correlation_id,
                body,
            } => self.handle_notification(agent_id, received_at, kind, correlation_id, &body, ctx),
            SignalInput::Observed { user, fetched_at } => {
                self.metrics
                    .signals
                    .with_label_values(&["reconciled"])
                    .inc();
                let reference = self.reference.load();
                let agent = self.agents.entry(agent_id.clone()).or_default();
                let first = agent.published.is_none();
                if agent.tracked.apply_observed(&user, fetched_at, &reference) == Applied::Changed
                    || first
                {
                    self.publish(&agent_id, received_at, true, None, ctx);
                }
            }
        }
    }
}

impl Handler<Reevaluate> for ValidatorActor {
    type Result = ();

    fn handle(&mut self, msg: Reevaluate, ctx: &mut Context<Self>) {
        let reference = self.reference.load();
        let now = Utc::now();
        let candidates: Vec<AgentId> = match msg.agent_ids {
            Some(ids) => ids
                .into_iter()
                .filter(|id| self.agents.contains_key(id))
                .collect(),
            None => self.agents.keys().cloned().collect(),
        };
        for agent_id in candidates {
            let Some(agent) = self.agents.get_mut(&agent_id) else {
                continue;
            };
            agent.tracked.derive_queues(&agent_id, &reference);
            self.metrics.evaluations.inc();
            let verdict =
                verdict::evaluate(&agent_id, &agent.tracked, &reference, &self.rules, now);
            let changed = agent.published != Some(fingerprint(&verdict));
            if changed && agent.published.is_some() {
                // The verdict just computed is the one published: one evaluation per agent.
                self.publish_verdict(&agent_id, verdict, Instant::now(), false, None, ctx);
            }
        }
    }
}
