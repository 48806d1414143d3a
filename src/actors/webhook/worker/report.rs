//! What a worker tells others about its deliveries: audit records (every attempt, dead
//! letters, endpoint changes) and the observer's [`DeliveryReport`]s.

use tracing::warn;

use super::EndpointWorker;
use crate::{
    actors::webhook::{
        DeliveryReport, ReportResult,
        outbox::{AttemptLog, now_ms},
        scheduler::Delivery,
    },
    event::{AgentId, AuditKind, AuditRecord},
};

impl EndpointWorker {
    pub(super) fn audit(
        &self,
        kind: AuditKind,
        agent: Option<AgentId>,
        details: serde_json::Value,
    ) {
        if let Some(audit) = &self.shared.audit {
            audit.do_send(AuditRecord::now(kind, agent, details));
        }
    }

    pub(super) fn audit_attempt(
        &self,
        delivery: &Delivery,
        log: &AttemptLog,
        result: &ReportResult,
    ) {
        let (outcome, extra) = match result {
            ReportResult::Delivered => ("delivered", serde_json::Value::Null),
            ReportResult::Retrying { after } => (
                "retry",
                serde_json::json!(u64::try_from(after.as_millis()).unwrap_or(u64::MAX)),
            ),
            ReportResult::DeadLettered { reason } => ("dead_letter", serde_json::json!(reason)),
        };
        self.audit(
            AuditKind::WebhookAttempt,
            Some(delivery.agent_id.clone()),
            serde_json::json!({
                "endpoint": &*self.cfg.id,
                "event_id": &*delivery.event_id,
                "attempt": log.attempt,
                "status": log.status,
                "duration_ms": log.duration_ms,
                "error": log.error,
                "outcome": outcome,
                "retry_in_ms": if outcome == "retry" { extra.clone() } else { serde_json::Value::Null },
            }),
        );
        if let ReportResult::DeadLettered { reason } = result {
            self.shared
                .metrics
                .dead_letters
                .with_label_values(&[self.endpoint()])
                .inc();
            warn!(
                endpoint = self.endpoint(),
                event_id = &*delivery.event_id,
                agent_id = &*delivery.agent_id,
                reason,
                "Webhook event dead-lettered."
            );
            self.audit(
                AuditKind::WebhookDeadLetter,
                Some(delivery.agent_id.clone()),
                serde_json::json!({
                    "endpoint": &*self.cfg.id,
                    "event_id": &*delivery.event_id,
                    "attempts": log.attempt,
                    "reason": reason,
                }),
            );
        }
    }

    pub(super) fn report(
        &self,
        delivery: &Delivery,
        attempt: u32,
        log: &AttemptLog,
        result: ReportResult,
    ) {
        if let Some(observer) = &self.shared.observer {
            observer.do_send(DeliveryReport {
                endpoint: self.cfg.id.clone(),
                event_id: delivery.event_id.clone(),
                agent_id: delivery.agent_id.clone(),
                delivery_id: delivery.id,
                attempt,
                status: log.status,
                error: log.error.clone(),
                accepted_ms: delivery.accepted_ms,
                result,
            });
        }
    }
}

impl AttemptLog {
    /// No attempt was made (dead-lettered unsent).
    pub(super) fn none() -> Self {
        Self {
            attempt: 0,
            at_ms: now_ms(),
            status: None,
            duration_ms: 0.0,
            error: None,
            response: None,
        }
    }
}
