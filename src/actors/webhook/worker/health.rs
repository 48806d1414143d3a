//! An endpoint's health: successes end a failing streak, a 410 or a streak longer than
//! `disable_after` disables the endpoint (its queue goes to the dead-letter list), and an
//! operator re-enables it.

use std::time::Duration;

use actix::{ActorFutureExt, AsyncContext, Context, Handler, WrapFuture};
use tracing::{error, info, warn};

use super::{Enable, EndpointChanged, EndpointWorker, FailureSummary};
use crate::{
    actors::audit::records::{self, EndpointChange, WebhookDeadLetter},
    actors::webhook::{
        ReportResult,
        attempt::AttemptError,
        outbox::{AttemptLog, DEAD_REASON_DISABLED, DeadLetterPending, now_ms},
        scheduler::Delivery,
    },
};

impl EndpointWorker {
    pub(super) fn succeeded(&mut self, delivery: &Delivery) {
        let now = now_ms();
        self.shared
            .metrics
            .delivery_seconds
            .with_label_values(&[self.endpoint()])
            .observe((now - delivery.accepted_ms).max(0) as f64 / 1000.0);
        self.record.last_success_ms = Some(now);
        if self.record.failing_since_ms.take().is_some() {
            info!(endpoint = self.endpoint(), "Webhook endpoint recovered.");
            self.persist();
        }
    }

    /// Books a failure against the endpoint's health; disables it on a 410 or when it has
    /// failed without a success for `disable_after`.
    pub(super) fn failed(
        &mut self,
        error: &AttemptError,
        status: Option<u16>,
        ctx: &mut Context<Self>,
    ) {
        let now = now_ms();
        self.last_failure = Some(FailureSummary {
            at: chrono::Utc::now(),
            status,
            error: error.to_string(),
        });
        let since = match self.record.failing_since_ms {
            Some(since) => since,
            None => {
                self.record.failing_since_ms = Some(now);
                self.persist();
                now
            }
        };
        if *error == AttemptError::Gone {
            self.disable("the receiver answered 410 Gone".into(), ctx);
        } else {
            let failing_for = Duration::from_millis((now - since).max(0).unsigned_abs());
            if failing_for >= self.shared.disable_after {
                self.disable(
                    format!(
                        "every attempt failed for {} s (disable_after is {} s); last: {error}",
                        failing_for.as_secs(),
                        self.shared.disable_after.as_secs()
                    ),
                    ctx,
                );
            }
        }
    }

    pub(super) fn disable(&mut self, reason: String, ctx: &mut Context<Self>) {
        if !self.record.enabled {
            return;
        }
        warn!(
            endpoint = self.endpoint(),
            reason, "Webhook endpoint disabled."
        );
        self.record.enabled = false;
        self.record.disabled_reason = Some(reason.clone());
        self.record.disabled_ms = Some(now_ms());
        self.persist();
        self.shared
            .metrics
            .enabled
            .with_label_values(&[self.endpoint()])
            .set(0);
        self.audit(records::webhook_endpoint(
            &self.cfg.id,
            &EndpointChange::Disabled { reason: &reason },
        ));
        self.parent.do_send(EndpointChanged {
            endpoint: self.cfg.id.clone(),
            enabled: false,
        });
        if let Some((_, handle)) = self.timer.take() {
            ctx.cancel_future(handle);
        }
        // Everything queued, in memory or only in the outbox, goes to the dead-letter list.
        let taken = self.sched.take_queued();
        for delivery in &taken {
            self.report(
                delivery,
                delivery.attempts,
                &AttemptLog::none(),
                ReportResult::DeadLettered {
                    reason: DEAD_REASON_DISABLED.into(),
                },
            );
        }
        self.spilled = true;
        let endpoint = self.cfg.id.clone();
        let moved = self.shared.store.send(DeadLetterPending {
            endpoint: endpoint.clone(),
            reason: DEAD_REASON_DISABLED.into(),
        });
        ctx.spawn(moved.into_actor(self).map(move |res, act, _| match res {
            Ok(Ok(count)) => {
                act.shared
                    .metrics
                    .dead_letters
                    .with_label_values(&[&endpoint])
                    .inc_by(count as u64);
                act.audit(records::webhook_dead_letter(&WebhookDeadLetter::Queue {
                    endpoint: &endpoint,
                    count,
                    reason: DEAD_REASON_DISABLED,
                }));
            }
            Ok(Err(e)) => error!(endpoint = &*endpoint, error = %e, "Outbox: could not dead-letter the queue of a disabled endpoint; its deliveries stay pending."),
            Err(e) => error!(endpoint = &*endpoint, error = %e, "Outbox: could not dead-letter the queue of a disabled endpoint; its deliveries stay pending."),
        }));
    }
}

impl Handler<Enable> for EndpointWorker {
    type Result = ();

    fn handle(&mut self, msg: Enable, ctx: &mut Context<Self>) {
        if self.record.enabled {
            return;
        }
        info!(
            endpoint = self.endpoint(),
            by = msg.by,
            "Webhook endpoint re-enabled."
        );
        self.record.enabled = true;
        self.record.disabled_reason = None;
        self.record.disabled_ms = None;
        self.record.failing_since_ms = None;
        self.persist();
        self.shared
            .metrics
            .enabled
            .with_label_values(&[self.endpoint()])
            .set(1);
        self.audit(records::webhook_endpoint(
            &self.cfg.id,
            &EndpointChange::Enabled { by: &msg.by },
        ));
        self.parent.do_send(EndpointChanged {
            endpoint: self.cfg.id.clone(),
            enabled: true,
        });
        self.spilled = true;
        self.pump(ctx);
    }
}
