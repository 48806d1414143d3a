//! Wiring: starting the hub on its own arbiter, and the handle the routes and sessions use.

use std::sync::Arc;

use actix::{Actor, Addr, Arbiter, ArbiterHandle};

use super::{BroadcastHubActor, CloseAll, ClosedAll, downstream::Downstream};
use crate::{
    config::SubscriberSettings,
    event::AuditSink,
    fanout::{admission::Admission, metrics::FanoutMetrics},
};

/// What the subscribe route, the stats route and the sessions need of the fan-out; cheap to
/// clone, registered as `web::Data<HubHandle>`.
#[derive(Clone)]
pub struct HubHandle {
    pub addr: Addr<BroadcastHubActor>,
    pub admission: Arc<Admission>,
    pub metrics: Arc<FanoutMetrics>,
    pub settings: Arc<SubscriberSettings>,
    /// Where sessions send their eviction records.
    pub audit: Option<AuditSink>,
    arbiter: ArbiterHandle,
}

impl HubHandle {
    /// Starts the hub on an arbiter (thread) of its own. Needs a running actix `System`.
    /// Registers the fan-out metrics in `registry` (once per registry).
    pub fn start(
        settings: Arc<SubscriberSettings>,
        registry: &prometheus::Registry,
        downstream: Vec<Downstream>,
        audit: Option<AuditSink>,
    ) -> Result<Self, prometheus::Error> {
        let metrics = Arc::new(FanoutMetrics::new(registry)?);
        let admission = Admission::new(settings.max_subscribers);
        let hub = BroadcastHubActor::new(
            Arc::clone(&settings),
            Arc::clone(&metrics),
            Arc::clone(&admission),
            downstream,
        );
        let arbiter = Arbiter::new().handle();
        let addr = BroadcastHubActor::start_in_arbiter(&arbiter, move |_| hub);
        Ok(Self {
            addr,
            admission,
            metrics,
            settings,
            audit,
            arbiter,
        })
    }

    /// Closes every session with 1001 and waits for them (the shutdown path's step).
    pub async fn close_all(&self) -> Result<ClosedAll, actix::MailboxError> {
        self.addr.send(CloseAll).await
    }

    /// Stops the hub's arbiter (after [`close_all`](Self::close_all), at the very end).
    pub fn stop(&self) {
        self.arbiter.stop();
    }
}
