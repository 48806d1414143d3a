//! The domain types that flow between actors.
//!
//! ```text
//!  GenesysStreamActor ──AgentSignal──▶ ValidatorActor ──Validated──▶ BroadcastHubActor
//!                                                                    │ Arc<Broadcast> (serialized once)
//!                                        ┌───────────────────────────┼──────────────┐
//!                                        ▼                           ▼              ▼
//!                                  SessionActor × N             WebhookActor    AuditActor
//! ```
//! Rejections ([`Rejected`]) and every other notable happening ([`AuditRecord`]) go to the
//! AuditActor. Types here are plain data; messages that only one actor receives live with
//! that actor.

use std::{borrow::Cow, collections::BTreeMap, sync::Arc, time::Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A Genesys user id, shared cheaply between actors.
pub type AgentId = Arc<str>;

/// Who should hear about a state (architecture §3, the seed's four scopes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    GlobalRouting,
    QueueSpecific,
    SupervisoryOnly,
    InternalMonitoring,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Self::GlobalRouting,
        Self::QueueSpecific,
        Self::SupervisoryOnly,
        Self::InternalMonitoring,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::GlobalRouting => "global_routing",
            Self::QueueSpecific => "queue_specific",
            Self::SupervisoryOnly => "supervisory_only",
            Self::InternalMonitoring => "internal_monitoring",
        }
    }

    pub fn parse(raw: &str) -> Option<Scope> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// What a check found wrong (architecture §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    /// On-duty presence with no published shift covering now (± grace).
    OffShift,
    /// More active interactions than utilization or `max_concurrent_interactions` allows.
    OverCapacity,
    /// The schedule could not be had; the shift check did not run.
    ScheduleUnknown,
    /// The utilization could not be had; the capacity check did not run.
    CapacityUnknown,
}

impl ViolationKind {
    pub const ALL: [ViolationKind; 4] = [
        Self::OffShift,
        Self::OverCapacity,
        Self::ScheduleUnknown,
        Self::CapacityUnknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OffShift => "off_shift",
            Self::OverCapacity => "over_capacity",
            Self::ScheduleUnknown => "schedule_unknown",
            Self::CapacityUnknown => "capacity_unknown",
        }
    }
}

/// One violation, with a human-readable detail (`chat 5 > 4`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Violation {
    pub kind: ViolationKind,
    pub detail: String,
}

/// An agent's state after validation: the `availabilityStatusMatrix` of the payload. Built
/// for every change, so its parts are cheap to make: known names are static strings, the
/// capacity map is shared with the reference data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentState {
    /// Canonical presence name (`Available`, `OnQueue`, …) or the raw value when unknown.
    pub current_status: Cow<'static, str>,
    /// `OFF_QUEUE`, `IDLE`, `INTERACTING`, `NOT_RESPONDING`, `COMMUNICATING` or the raw value.
    pub routing_status: Cow<'static, str>,
    /// Active interactions across media types.
    pub interaction_load: u32,
    /// Maximum concurrent interactions per media type, from utilization.
    pub capacity: Arc<BTreeMap<String, u32>>,
    /// `None` when the schedule is unknown.
    pub on_shift: Option<bool>,
    /// The scheduled activity category now (`OnQueueWork`, `Break`, …), if any.
    pub scheduled_activity: Option<Cow<'static, str>>,
    /// Active queue ids.
    pub queues: Vec<String>,
    /// When this state began: the upstream time Genesys gave the presence or routing change
    /// (`modifiedDate` / `startTime`), or, for a change in interaction counts (which Genesys
    /// does not time), when agentcast received it.
    #[serde(with = "crate::genesys::models::time")]
    pub timestamp: DateTime<Utc>,
}

/// What the ValidatorActor hands to the hub: one per state change, never dropped silently.
#[derive(Debug, Clone)]
pub struct Validated {
    pub agent_id: AgentId,
    pub state: AgentState,
    pub violations: Vec<Violation>,
    pub scope: Scope,
    /// True only when every check ran and none failed.
    pub validated: bool,
    /// Emitted by reconciliation after a reconnect rather than by a notification.
    pub reconciled: bool,
    /// When the frame that caused it arrived (for `latencyMs`).
    pub received_at: Instant,
    /// Upstream correlation id, for the audit trail.
    pub correlation_id: Option<String>,
}

/// A payload as it leaves the hub: numbered, serialized once, shared by every recipient.
#[derive(Debug, Clone)]
pub struct Broadcast {
    pub seq: u64,
    /// `evt_<ULID>`; the webhook-id of its deliveries.
    pub event_id: String,
    pub agent_id: AgentId,
    pub scope: Scope,
    pub violations: Vec<ViolationKind>,
    pub queues: Vec<String>,
    pub validated: bool,
    /// The JSON payload (architecture §4), exactly as sent to subscribers and webhooks.
    pub json: Bytes,
    /// Ingest → dispatch inside agentcast.
    pub latency_ms: f64,
    pub broadcast_at: DateTime<Utc>,
}

/// The broadcast payload (architecture §4). The seed's field names are kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentStatePayload {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub seq: u64,
    pub agent_id: String,
    pub availability_status_matrix: AgentState,
    pub notification_scope: Scope,
    pub validated: bool,
    pub violations: Vec<Violation>,
    #[serde(with = "crate::genesys::models::time")]
    pub broadcast_timestamp: DateTime<Utc>,
    pub latency_ms: f64,
    /// Present and true when the change was found by reconciliation after a reconnect.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reconciled: bool,
}

/// The `type` of an agent state payload.
pub const AGENT_STATE_TYPE: &str = "agent.state";

/// Why an input was refused by validation (counted by reason, audited, never a crash).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Larger than `max_payload_bytes`.
    Oversized,
    /// Not JSON, or not a notification envelope.
    Malformed,
    /// A topic agentcast does not subscribe to.
    UnknownTopic,
    /// No agent id in the topic or body, or an agent not on the roster.
    UnknownAgent,
    /// The same message again.
    Duplicate,
    /// Older than the agent's current state.
    Stale,
    /// A body that does not match its topic's schema.
    InvalidBody,
}

impl RejectReason {
    pub const ALL: [RejectReason; 7] = [
        Self::Oversized,
        Self::Malformed,
        Self::UnknownTopic,
        Self::UnknownAgent,
        Self::Duplicate,
        Self::Stale,
        Self::InvalidBody,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oversized => "oversized",
            Self::Malformed => "malformed",
            Self::UnknownTopic => "unknown_topic",
            Self::UnknownAgent => "unknown_agent",
            Self::Duplicate => "duplicate",
            Self::Stale => "stale",
            Self::InvalidBody => "invalid_body",
        }
    }
}

/// An input refused by validation.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub reason: RejectReason,
    pub agent_id: Option<AgentId>,
    pub topic: Option<String>,
    pub detail: String,
    pub correlation_id: Option<String>,
}

/// The kinds of audit record (architecture §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// An agent state was broadcast.
    Broadcast,
    /// An input was rejected.
    Reject,
    /// A subscriber session was evicted (stale, slow consumer).
    Eviction,
    /// A webhook delivery attempt and its outcome.
    WebhookAttempt,
    /// A webhook event was dead-lettered.
    WebhookDeadLetter,
    /// A webhook endpoint was disabled or re-enabled.
    WebhookEndpoint,
    /// The upstream connection was made.
    UpstreamConnect,
    /// The upstream connection was lost.
    UpstreamDisconnect,
    /// The service started.
    Start,
    /// The service stopped.
    Stop,
    /// The configuration was loaded or changed.
    ConfigChange,
    /// Events that should be in the trail and are not (how many, which, why).
    #[serde(rename = "audit_gap")]
    Gap,
}

impl AuditKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Broadcast => "broadcast",
            Self::Reject => "reject",
            Self::Eviction => "eviction",
            Self::WebhookAttempt => "webhook_attempt",
            Self::WebhookDeadLetter => "webhook_dead_letter",
            Self::WebhookEndpoint => "webhook_endpoint",
            Self::UpstreamConnect => "upstream_connect",
            Self::UpstreamDisconnect => "upstream_disconnect",
            Self::Start => "start",
            Self::Stop => "stop",
            Self::ConfigChange => "config_change",
            Self::Gap => "audit_gap",
        }
    }
}

/// One audit record, sent to the AuditActor by whoever witnessed it; built by the constructor
/// of its kind in `actors::audit::records`.
#[derive(Debug, Clone, actix::Message)]
#[rtype(result = "()")]
pub struct AuditRecord {
    pub at: DateTime<Utc>,
    pub kind: AuditKind,
    pub agent_id: Option<AgentId>,
    pub details: serde_json::Value,
}

impl AuditRecord {
    pub fn now(kind: AuditKind, agent_id: Option<AgentId>, details: serde_json::Value) -> Self {
        Self {
            at: Utc::now(),
            kind,
            agent_id,
            details,
        }
    }
}

/// Where audit records go: the AuditActor, or a test's collector.
pub type AuditSink = actix::Recipient<AuditRecord>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_keeps_the_seeds_field_names() {
        let payload = AgentStatePayload {
            kind: AGENT_STATE_TYPE.into(),
            id: "evt_01JD".into(),
            seq: 1842,
            agent_id: "9ed7d9f6-0c59-4360-ac54-40dd35eb9c2f".into(),
            availability_status_matrix: AgentState {
                current_status: "Available".into(),
                routing_status: "IDLE".into(),
                interaction_load: 0,
                capacity: Arc::new(BTreeMap::from([("call".into(), 1), ("chat".into(), 4)])),
                on_shift: Some(true),
                scheduled_activity: Some("OnQueueWork".into()),
                queues: vec!["q1".into()],
                timestamp: "2026-11-27T17:02:11.412Z".parse().unwrap(),
            },
            notification_scope: Scope::GlobalRouting,
            validated: true,
            violations: vec![],
            broadcast_timestamp: "2026-11-27T17:02:11.413Z".parse().unwrap(),
            latency_ms: 0.41,
            reconciled: false,
        };
        let json = serde_json::to_value(&payload).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "agentId",
                "availabilityStatusMatrix",
                "broadcastTimestamp",
                "id",
                "latencyMs",
                "notificationScope",
                "seq",
                "type",
                "validated",
                "violations"
            ]
        );
        let matrix = json["availabilityStatusMatrix"].as_object().unwrap();
        for key in [
            "currentStatus",
            "routingStatus",
            "interactionLoad",
            "capacity",
            "onShift",
            "scheduledActivity",
            "queues",
            "timestamp",
        ] {
            assert!(matrix.contains_key(key), "{key}");
        }
        assert_eq!(json["notificationScope"], "global_routing");
        assert_eq!(
            json["availabilityStatusMatrix"]["timestamp"],
            "2026-11-27T17:02:11.412Z"
        );
    }
}
