//! One constructor per audit kind: the only place where a record's kind and its detail fields
//! are spelled. Every sender (validators, the stream and its channels, sessions, the webhook
//! actor and its workers, the service, the audit actor itself) builds its records here, so a
//! kind always carries the same fields whoever witnessed it, and the tests exercise what
//! production writes.
//!
//! Detail field names are snake_case, like the rest of the record (`agent_id`, `event_id`) and
//! the configuration that the `config_change` record carries.

use std::net::SocketAddr;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::event::{AgentId, AuditKind, AuditRecord, Broadcast, Rejected};

/// An agent state went out: what was sent, by the hash of the exact payload, so the trail
/// proves what subscribers and webhooks received. Dated when it was broadcast.
pub fn broadcast(b: &Broadcast) -> AuditRecord {
    AuditRecord {
        at: b.broadcast_at,
        kind: AuditKind::Broadcast,
        agent_id: Some(b.agent_id.clone()),
        details: json!({
            "seq": b.seq,
            "event_id": b.event_id,
            "scope": b.scope,
            "violations": b.violations,
            "validated": b.validated,
            "latency_ms": b.latency_ms,
            "payload_sha256": hex::encode(Sha256::digest(&b.json)),
        }),
    }
}

/// An input refused: a frame by the stream, a signal by a validator.
pub fn reject(r: &Rejected) -> AuditRecord {
    AuditRecord::now(
        AuditKind::Reject,
        r.agent_id.clone(),
        json!({
            "reason": r.reason.as_str(),
            "topic": r.topic,
            "detail": r.detail,
            "correlation_id": r.correlation_id,
        }),
    )
}

/// A subscriber session that agentcast closed (slow consumer, stale).
#[derive(Debug, Clone)]
pub struct Eviction<'a> {
    pub session_id: String,
    /// The name of the API key the session used (never the key).
    pub key: &'a str,
    pub reason: &'a str,
    /// The WebSocket close code sent.
    pub code: u16,
    pub queued_bytes: usize,
    pub queue_max_bytes: usize,
    pub stale_timeout_secs: u64,
    pub idle_secs: f64,
    pub peer: Option<SocketAddr>,
}

pub fn eviction(e: &Eviction<'_>) -> AuditRecord {
    AuditRecord::now(
        AuditKind::Eviction,
        None,
        json!({
            "session_id": e.session_id,
            "key": e.key,
            "reason": e.reason,
            "code": e.code,
            "queued_bytes": e.queued_bytes,
            "queue_max_bytes": e.queue_max_bytes,
            "stale_timeout_secs": e.stale_timeout_secs,
            "idle_secs": e.idle_secs,
            "peer": e.peer,
        }),
    )
}

/// How one webhook attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// Retried after this many milliseconds.
    Retry {
        in_ms: u64,
    },
    DeadLetter,
}

/// One attempt to deliver an event to a webhook endpoint.
#[derive(Debug, Clone)]
pub struct WebhookAttempt<'a> {
    pub endpoint: &'a str,
    pub event_id: &'a str,
    pub agent_id: AgentId,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The HTTP status; none when no answer came.
    pub status: Option<u16>,
    pub duration_ms: f64,
    pub error: Option<&'a str>,
    pub outcome: AttemptOutcome,
}

pub fn webhook_attempt(a: &WebhookAttempt<'_>) -> AuditRecord {
    let (outcome, retry_in_ms) = match a.outcome {
        AttemptOutcome::Delivered => ("delivered", None),
        AttemptOutcome::Retry { in_ms } => ("retry", Some(in_ms)),
        AttemptOutcome::DeadLetter => ("dead_letter", None),
    };
    AuditRecord::now(
        AuditKind::WebhookAttempt,
        Some(a.agent_id.clone()),
        json!({
            "endpoint": a.endpoint,
            "event_id": a.event_id,
            "attempt": a.attempt,
            "status": a.status,
            "duration_ms": a.duration_ms,
            "error": a.error,
            "outcome": outcome,
            "retry_in_ms": retry_in_ms,
        }),
    )
}

/// Webhook events that will not be delivered (dead letters, and events lost for webhooks).
#[derive(Debug, Clone)]
pub enum WebhookDeadLetter<'a> {
    /// One event for one endpoint: its attempts ran out, or its endpoint is disabled
    /// (`attempts` 0). It is in the endpoint's dead-letter list.
    Event {
        endpoint: &'a str,
        event_id: &'a str,
        agent_id: AgentId,
        attempts: u32,
        reason: &'a str,
    },
    /// Everything queued for an endpoint, moved to its dead-letter list (it was disabled).
    Queue {
        endpoint: &'a str,
        count: usize,
        reason: &'a str,
    },
    /// An event refused before the outbox (its queue was full): lost for these endpoints.
    Refused {
        event_id: &'a str,
        agent_id: AgentId,
        endpoints: Vec<&'a str>,
        reason: &'a str,
    },
    /// Broadcasts that never reached the webhook actor (the hub dropped them): lost for every
    /// endpoint that would have wanted them.
    Dropped {
        count: u64,
        first_seq: u64,
        last_seq: u64,
        reason: &'a str,
    },
}

pub fn webhook_dead_letter(d: &WebhookDeadLetter<'_>) -> AuditRecord {
    let (agent, details) = match d {
        WebhookDeadLetter::Event {
            endpoint,
            event_id,
            agent_id,
            attempts,
            reason,
        } => (
            Some(agent_id.clone()),
            json!({
                "endpoint": endpoint,
                "event_id": event_id,
                "attempts": attempts,
                "reason": reason,
            }),
        ),
        WebhookDeadLetter::Queue {
            endpoint,
            count,
            reason,
        } => (
            None,
            json!({ "endpoint": endpoint, "count": count, "reason": reason }),
        ),
        WebhookDeadLetter::Refused {
            event_id,
            agent_id,
            endpoints,
            reason,
        } => (
            Some(agent_id.clone()),
            json!({ "event_id": event_id, "endpoints": endpoints, "reason": reason }),
        ),
        WebhookDeadLetter::Dropped {
            count,
            first_seq,
            last_seq,
            reason,
        } => (
            None,
            json!({
                "count": count,
                "first_seq": first_seq,
                "last_seq": last_seq,
                "reason": reason,
            }),
        ),
    };
    AuditRecord::now(AuditKind::WebhookDeadLetter, agent, details)
}

/// A change of a webhook endpoint's state.
#[derive(Debug, Clone)]
pub enum EndpointChange<'a> {
    /// Disabled (410 Gone, or failing for `disable_after`).
    Disabled { reason: &'a str },
    /// Re-enabled by an admin.
    Enabled { by: &'a str },
    /// Re-enabled at start because its URL changed while it was disabled (an operator's fix).
    EnabledForNewUrl {
        was_disabled_because: Option<&'a str>,
    },
}

pub fn webhook_endpoint(endpoint: &str, change: &EndpointChange<'_>) -> AuditRecord {
    let details = match change {
        EndpointChange::Disabled { reason } => {
            json!({ "endpoint": endpoint, "action": "disabled", "reason": reason })
        }
        EndpointChange::Enabled { by } => {
            json!({ "endpoint": endpoint, "action": "enabled", "by": by })
        }
        EndpointChange::EnabledForNewUrl {
            was_disabled_because,
        } => json!({
            "endpoint": endpoint,
            "action": "enabled",
            "reason": "its URL changed while it was disabled",
            "was_disabled_because": was_disabled_because,
        }),
    };
    AuditRecord::now(AuditKind::WebhookEndpoint, None, details)
}

/// A notification channel's socket connected.
pub fn upstream_connect(channel_id: &str) -> AuditRecord {
    AuditRecord::now(
        AuditKind::UpstreamConnect,
        None,
        json!({ "channel_id": channel_id }),
    )
}

/// A notification channel's socket was lost (agentcast reconnects).
pub fn upstream_disconnect(channel_id: &str, cause: &str) -> AuditRecord {
    AuditRecord::now(
        AuditKind::UpstreamDisconnect,
        None,
        json!({ "channel_id": channel_id, "cause": cause }),
    )
}

/// The audit trail started (this process).
pub fn start() -> AuditRecord {
    AuditRecord::now(
        AuditKind::Start,
        None,
        json!({ "version": env!("CARGO_PKG_VERSION"), "pid": std::process::id() }),
    )
}

/// The audit trail stops (its last record in this process).
pub fn stop(reason: &str) -> AuditRecord {
    AuditRecord::now(AuditKind::Stop, None, json!({ "reason": reason }))
}

/// The effective configuration the service runs with (secrets are never in it).
pub fn config_change(effective: Value) -> AuditRecord {
    AuditRecord::now(AuditKind::ConfigChange, None, effective)
}

/// Events that should be in the trail and are not: how many, which broadcasts (by `seq`, when
/// any were among them), when, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Gap {
    /// Events missing from the chain.
    pub count: u64,
    /// The lowest and highest `seq` of the broadcasts among them, if any.
    pub seqs: Option<(u64, u64)>,
    /// When the first and the last of them happened.
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    pub reason: String,
}

/// The detail field of an `audit_gap` record that says how many events it stands for.
pub const GAP_COUNT_FIELD: &str = "count";

pub fn gap(g: &Gap) -> AuditRecord {
    AuditRecord::now(
        AuditKind::Gap,
        None,
        json!({
            GAP_COUNT_FIELD: g.count,
            "first_seq": g.seqs.map(|(first, _)| first),
            "last_seq": g.seqs.map(|(_, last)| last),
            "first_at": g.first_at,
            "last_at": g.last_at,
            "reason": g.reason,
        }),
    )
}
