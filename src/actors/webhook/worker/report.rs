//! What a worker tells others about its deliveries: audit records (every attempt, dead
//! letters, endpoint changes) and the observer's [`DeliveryReport`]s.

use tracing::warn;

use super::EndpointWorker;
use crate::{
    actors::audit::records::{self, AttemptOutcome, WebhookAttempt, WebhookDeadLetter},
    actors::webhook::{
        DeliveryReport, ReportResult,
        outbox::{AttemptLog, now_ms},
        scheduler::Delivery,
    },
    event::AuditRecord,
};

impl EndpointWorker {
    pub(super) fn audit(&self, record: AuditRecord) {
        if let Some(audit) = &self.shared.audit {
            audit.do_send(record);
        }
    }

    pub(super) fn audit_attempt(
        &self,
        delivery: &Delivery,
        log: &AttemptLog,
        result: &ReportResult,
    ) {
        let outcome = match result {
            ReportResult::Delivered => AttemptOutcome::Delivered,
            ReportResult::Retrying { after } => AttemptOutcome::Retry {
                in_ms: u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
            },
            ReportResult::DeadLettered { .. } => AttemptOutcome::DeadLetter,
        };
        self.audit(records::webhook_attempt(&WebhookAttempt {
            endpoint: &self.cfg.id,
            event_id: &delivery.event_id,
            agent_id: delivery.agent_id.clone(),
            attempt: log.attempt,
            status: log.status,
            duration_ms: log.duration_ms,
            error: log.error.as_deref(),
            outcome,
        }));
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
            self.audit(records::webhook_dead_letter(&WebhookDeadLetter::Event {
                endpoint: &self.cfg.id,
                event_id: &delivery.event_id,
                agent_id: delivery.agent_id.clone(),
                attempts: log.attempt,
                reason,
            }));
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
