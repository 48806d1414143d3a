//! The ReferenceActor against the emulator, with real validators behind it: a schedule change
//! is fetched once and leads to one evaluation and one verdict for the agent it concerns.

mod common;

use std::time::Instant;

use actix::{Actor, Addr};
use agentcast::{
    Metrics,
    actors::{
        hub::Publish,
        ingest_metrics::IngestMetrics,
        reference::{ReferenceActor, ScheduleChanged},
        validator::{AgentSignal, SignalInput, ValidatorOutputs, ValidatorPool},
    },
    config::Settings,
    event::{AgentId, Validated, ViolationKind},
    genesys::UserExpand,
    reference::ReferenceCache,
};
use common::{forward::forward, sim::TestSim, within};
use serde_json::json;
use tokio::sync::mpsc;

/// The next verdict published, within the common bound.
async fn next_verdict(rx: &mut mpsc::UnboundedReceiver<Publish>) -> Validated {
    within("a verdict", rx.recv())
        .await
        .expect("the validators are running")
        .validated
}

/// Whether the verdict reports `kind` (capacity stays unknown throughout: the org's
/// utilization is never loaded here).
fn reports(verdict: &Validated, kind: ViolationKind) -> bool {
    verdict.violations.iter().any(|v| v.kind == kind)
}

struct Pipeline {
    reference: Addr<ReferenceActor>,
    pool: ValidatorPool,
    metrics: IngestMetrics,
    /// What the validators publish, where the hub would be.
    verdicts: mpsc::UnboundedReceiver<Publish>,
}

/// A reference cache, a validator pool reading it, and a ReferenceActor writing it, in that
/// order. No `LoadReference`, and timers far off: the test's schedule changes are the only
/// thing that makes the actor fetch and re-evaluate.
fn pipeline(sim: &TestSim) -> Pipeline {
    let mut settings = Settings::defaults();
    settings.reference.schedule_refresh_secs = 3600;
    settings.reference.queue_refresh_secs = 3600;
    settings.reference.schedule_min_interval_secs = 0;
    let metrics = IngestMetrics::new(Metrics::new().registry());
    let (publish, verdicts) = forward::<Publish>();
    let outputs = ValidatorOutputs {
        publish,
        audit: None,
    };
    let cache = ReferenceCache::default();
    let pool = ValidatorPool::start(
        &settings.validation,
        10_000,
        cache.clone(),
        outputs,
        metrics.clone(),
    );
    let reference =
        ReferenceActor::new(sim.client(), cache, settings.reference, pool.clone()).start();
    Pipeline {
        reference,
        pool,
        metrics,
        verdicts,
    }
}

#[actix_rt::test]
async fn a_schedule_change_is_evaluated_once_and_published_once_for_its_agent() {
    let sim = TestSim::start(10, |_| {});
    let agent = sim.agent_on_shift().await;
    sim.post(
        &format!("/sim/agents/{agent}/state"),
        json!({"systemPresence": "OnQueue", "routingStatus": "IDLE"}),
    )
    .await;
    let mut p = pipeline(&sim);

    // The validators learn the agent's state (as reconciliation would hand it over).
    let user = sim
        .client()
        .all_users(&[
            UserExpand::Presence,
            UserExpand::RoutingStatus,
            UserExpand::ConversationSummary,
        ])
        .await
        .expect("the emulator lists its users")
        .into_iter()
        .find(|u| u.id == agent)
        .expect("the agent is a user");
    p.pool.send(AgentSignal {
        agent_id: AgentId::from(agent.as_str()),
        received_at: Instant::now(),
        input: SignalInput::Observed {
            user: Box::new(user),
            fetched_at: Instant::now(),
        },
    });
    let first = next_verdict(&mut p.verdicts).await;
    assert!(
        reports(&first, ViolationKind::ScheduleUnknown),
        "no schedule is loaded yet: {:?}",
        first.violations
    );
    assert_eq!(p.metrics.evaluations.get(), 1);

    // The first schedule change loads the agent's business unit: it is on shift.
    p.reference.do_send(ScheduleChanged {
        agent_id: AgentId::from(agent.as_str()),
    });
    let loaded = next_verdict(&mut p.verdicts).await;
    assert_eq!(&*loaded.agent_id, agent.as_str());
    assert!(
        !reports(&loaded, ViolationKind::ScheduleUnknown)
            && !reports(&loaded, ViolationKind::OffShift),
        "the schedule is known and covers now: {:?}",
        loaded.violations
    );
    assert_eq!(
        p.metrics.evaluations.get(),
        2,
        "one evaluation for the schedule change"
    );

    // The agent is taken off shift: one more fetch, one evaluation, one verdict.
    sim.post(
        &format!("/sim/agents/{agent}/shifts"),
        json!({"offShift": true}),
    )
    .await;
    p.reference.do_send(ScheduleChanged {
        agent_id: AgentId::from(agent.as_str()),
    });
    let off = next_verdict(&mut p.verdicts).await;
    assert!(
        reports(&off, ViolationKind::OffShift),
        "the agent is on queue with no shift: {:?}",
        off.violations
    );
    assert_eq!(
        p.metrics.evaluations.get(),
        3,
        "one evaluation for the schedule change"
    );
    assert_eq!(p.metrics.validated.get(), 3, "one verdict per change");
    assert!(p.verdicts.try_recv().is_err(), "no second verdict");
    p.pool.stop();
}
