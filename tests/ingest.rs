//! The ingest half end to end: emulator → GenesysStreamActor → validators → hub →
//! `/v1/agents`, over real loopback sockets. Every fault the emulator can inject while events
//! flow is survived: the state converges to the emulator's truth and the matching counter
//! moves. How fast it converges is the convergence benchmark's figure (`cargo bench --bench
//! converge`), not these tests': they wait for convergence with a generous deadline.

mod common;

use std::time::Duration;

use common::{
    eventually,
    service::{TestService, converges},
    sim::TestSim,
};
use serde_json::{Value, json};

fn sim(agents: u32) -> TestSim {
    TestSim::start(agents, |c| {
        c.heartbeat_interval = Duration::from_millis(200);
        c.socket_closing_grace = Duration::from_secs(1);
    })
}

async fn flow(sim: &TestSim, events_per_sec: f64) {
    sim.post("/sim/rate", json!({"eventsPerSec": events_per_sec}))
        .await;
    sim.post("/sim/resume", json!({})).await;
}

async fn stop(sim: &TestSim) {
    sim.post("/sim/pause", json!({})).await;
}

/// Lets events flow for `period` (the load of the test, not a wait for an outcome).
async fn flow_for(sim: &TestSim, events_per_sec: f64, period: Duration) {
    flow(sim, events_per_sec).await;
    actix_rt::time::sleep(period).await;
    stop(sim).await;
}

#[actix_rt::test]
async fn every_agent_matches_the_emulators_truth_once_the_stream_stops() {
    let sim = sim(400);
    let service = TestService::start(&sim, |_| {}).await;
    service.ready().await;
    flow_for(&sim, 200.0, Duration::from_secs(3)).await;
    converges(&sim, &service).await;
    let truth = sim.truth().await;
    assert!(
        truth["eventsEmitted"].as_u64().unwrap() >= 300,
        "events flowed: {}",
        truth["eventsEmitted"]
    );
    assert!(
        service
            .metric("agentcast_signals_total{topic=\"activity\"}")
            .await
            > 0.0
    );
    service.shutdown().await;
}

const RECONCILED: &str = "agentcast_signals_total{topic=\"reconciled\"}";

/// Waits until `count` reconciliations have finished, each observing every one of `agents`
/// (counted as a total, not from a baseline read while the start-up one may still be in the
/// validators).
async fn reconciliations(service: &TestService, agents: u32, count: u32) {
    service
        .metric_reaches(RECONCILED, f64::from(agents * count))
        .await;
}

/// Runs events, injects `fault`, waits for `counter` to move (and, for a fault that costs a
/// reconnect, for the reconciliation after it), then checks convergence.
async fn survives(fault: &str, body: Value, counter: &str, reconnects: bool) {
    let sim = sim(150);
    let service = TestService::start(&sim, |_| {}).await;
    service.ready().await;
    let before = service.metric_or_zero(counter).await;
    flow(&sim, 100.0).await;
    // Let some notifications arrive first, so that duplicate and stale have something to copy.
    let activity = "agentcast_signals_total{topic=\"activity\"}";
    let flowing = service.metric_or_zero(activity).await + 20.0;
    service.metric_reaches(activity, flowing).await;
    sim.fault(fault, body).await;
    service.metric_reaches(counter, before + 1.0).await;
    if reconnects {
        // The start-up reconciliation and the one after the reconnect.
        reconciliations(&service, 150, 2).await;
    }
    flow_for(&sim, 100.0, Duration::from_millis(500)).await;
    converges(&sim, &service).await;
    service.shutdown().await;
}

#[actix_rt::test]
async fn a_dropped_socket_is_reconnected_and_the_state_converges() {
    survives(
        "drop_sockets",
        json!({}),
        "agentcast_upstream_reconnects_total{cause=\"closed\"}",
        true,
    )
    .await;
}

#[actix_rt::test]
async fn socket_closing_reconnects_at_once_and_the_state_converges() {
    survives(
        "socket_closing",
        json!({"graceSecs": 5}),
        "agentcast_upstream_reconnects_total{cause=\"socket_closing\"}",
        true,
    )
    .await;
}

#[actix_rt::test]
async fn an_expired_channel_is_replaced_and_resubscribed() {
    survives(
        "expire_channel",
        json!({}),
        "agentcast_upstream_reconnects_total{cause=\"channel_gone\"}",
        true,
    )
    .await;
}

#[actix_rt::test]
async fn a_channel_that_cannot_be_replaced_is_retried_until_shutdown_and_not_after() {
    const CREATE: &str = "POST /api/v2/notifications/channels";
    let sim = TestSim::start(5, |_| {});
    let service = TestService::start(&sim, |_| {}).await;
    service.ready().await;
    // Every replacement the emulator hands out from now on is unusable (no connectUri).
    let created = sim.calls(CREATE, 200).await;
    sim.fault("channel_without_uri", json!({"count": 1_000_000}))
        .await;
    sim.fault("expire_channel", json!({})).await;
    eventually("three failed replacements", || async {
        let now = sim.calls(CREATE, 200).await;
        if now >= created + 3 { Ok(()) } else { Err(now) }
    })
    .await;
    let upstream = service.service.as_ref().expect("running").upstream.clone();
    assert!(!upstream.is_ready(), "a channel is down");
    service.shutdown().await;
    // Stopped: its pending replacement timer went with it.
    assert!(upstream.stopped.load(std::sync::atomic::Ordering::Relaxed));
}

#[actix_rt::test]
async fn a_malformed_frame_is_rejected_and_counted() {
    survives(
        "malformed_frame",
        json!({}),
        "agentcast_rejects_total{reason=\"malformed\"}",
        false,
    )
    .await;
}

#[actix_rt::test]
async fn an_oversized_frame_is_rejected_and_counted() {
    survives(
        "oversized_frame",
        json!({"bytes": 70_000}),
        "agentcast_rejects_total{reason=\"oversized\"}",
        false,
    )
    .await;
}

#[actix_rt::test]
async fn a_duplicate_is_discarded_and_counted() {
    survives(
        "duplicate",
        json!({}),
        "agentcast_rejects_total{reason=\"duplicate\"}",
        false,
    )
    .await;
}

#[actix_rt::test]
async fn a_stale_event_is_discarded_and_counted() {
    survives(
        "stale_event",
        json!({}),
        "agentcast_rejects_total{reason=\"stale\"}",
        false,
    )
    .await;
}

#[actix_rt::test]
async fn stopped_heartbeats_are_noticed_by_the_watchdog() {
    let sim = sim(150);
    let service = TestService::start(&sim, |_| {}).await;
    service.ready().await;
    // A silent socket: no events, no heartbeats, no pongs.
    sim.fault("stop_heartbeats", json!({"secs": 2})).await;
    service
        .metric_reaches(
            "agentcast_upstream_reconnects_total{cause=\"heartbeat_timeout\"}",
            1.0,
        )
        .await;
    reconciliations(&service, 150, 2).await;
    flow_for(&sim, 100.0, Duration::from_millis(500)).await;
    converges(&sim, &service).await;
    service.shutdown().await;
}

#[actix_rt::test]
async fn an_expired_token_is_renewed_without_losing_events() {
    let sim = sim(150);
    let service =
        TestService::start(&sim, |s| s.reference.utilization_fetches_per_minute = 600).await;
    service.ready().await;
    flow(&sim, 100.0).await;
    sim.fault("expire_tokens", json!({})).await;
    // The background utilization fill calls REST every 100 ms: the next call meets the 401.
    service.metric_reaches("agentcast_genesys_rest_requests_total{route=\"GET /api/v2/routing/users/{userId}/utilization\",status=\"401\"}", 1.0).await;
    sim.fault("drop_sockets", json!({})).await;
    reconciliations(&service, 150, 2).await;
    flow_for(&sim, 100.0, Duration::from_millis(500)).await;
    converges(&sim, &service).await;
    assert!(
        sim.calls("POST /oauth/token", 200).await >= 2,
        "a second token was fetched"
    );
    service.shutdown().await;
}

#[actix_rt::test]
async fn a_sixty_second_rate_limit_storm_is_waited_out() {
    const AGENTS: u32 = 150;
    let sim = sim(AGENTS);
    let service = TestService::start(&sim, |_| {}).await;
    service.ready().await;
    flow(&sim, 50.0).await;
    sim.fault("rate_limit", json!({"secs": 60})).await;
    // A reconnect during the storm needs a reconciliation, which must wait the storm out.
    sim.fault("drop_sockets", json!({})).await;
    // Each successful reconciliation observes every agent once: the start-up one, then the one
    // the reconnect is owed, which cannot succeed while every call answers 429. (Counting up to
    // a total, not from a baseline: the start-up one may still be in the validators here.)
    let owed = f64::from(2 * AGENTS);
    service
        .metric_reaches(
            "agentcast_genesys_rest_requests_total{route=\"GET /api/v2/users\",status=\"429\"}",
            1.0,
        )
        .await;
    let storm_over = async {
        while service.metric_or_zero(RECONCILED).await < owed {
            actix_rt::time::sleep(Duration::from_millis(250)).await;
        }
    };
    actix_rt::time::timeout(Duration::from_secs(90), storm_over)
        .await
        .expect("reconciliation finished after the storm");
    stop(&sim).await;
    converges(&sim, &service).await;
    service.shutdown().await;
}

#[actix_rt::test]
async fn changes_made_while_the_socket_was_down_arrive_marked_reconciled() {
    let sim = sim(150);
    // A slow reconnect leaves a window in which the emulator moves agents unseen.
    let service =
        TestService::start(&sim, |s| s.upstream.reconnect_initial_backoff_ms = 1500).await;
    service.ready().await;
    let before = sim.truth().await;
    sim.fault("drop_sockets", json!({})).await;
    sim.post("/sim/step", json!({"count": 40})).await;
    let after = sim.truth().await;
    let moved: Vec<String> = before["agents"]
        .as_array()
        .unwrap()
        .iter()
        .zip(after["agents"].as_array().unwrap())
        .filter(|(b, a)| b != a)
        .map(|(_, a)| a["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!moved.is_empty(), "the emulator moved some agents");

    converges(&sim, &service).await;
    let agents = service.agents().await;
    for id in &moved {
        assert_eq!(
            agents[id]["reconciled"],
            json!(true),
            "agent {id}'s change arrived by reconciliation"
        );
    }
    assert!(
        service
            .metric("agentcast_signals_total{topic=\"reconciled\"}")
            .await
            > 150.0
    );
    service.shutdown().await;
}

/// Every media type's count, as the emulator's state body takes them.
fn conversations(calls: u32, chats: u32) -> Value {
    json!({"call": calls, "callback": 0, "chat": chats, "email": 0, "message": 0})
}

/// The kinds of violation in the agent's latest payload.
async fn violations(service: &TestService, agent: &str) -> Vec<String> {
    let payload = service.get_json(&format!("/v1/agents/{agent}")).await;
    payload["violations"]
        .as_array()
        .unwrap_or_else(|| panic!("violations in {payload}"))
        .iter()
        .map(|v| v["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Waits until the agent's latest payload lists exactly `want`.
async fn violations_become(service: &TestService, agent: &str, want: &[&str]) {
    eventually(&format!("violations {want:?}"), || async {
        let latest = violations(service, agent).await;
        if latest == want { Ok(()) } else { Err(latest) }
    })
    .await
}

#[actix_rt::test]
async fn over_capacity_and_off_shift_show_as_violations_and_clear_when_fixed() {
    let sim = sim(30);
    // A schedule change is fetched at most once per schedule_min_interval_secs: keep it short.
    let service = TestService::start(&sim, |s| s.reference.schedule_min_interval_secs = 1).await;
    service.ready().await;
    let agent = sim.agent_on_shift().await;
    sim.post(&format!("/sim/agents/{agent}/state"), json!({"systemPresence": "OnQueue", "routingStatus": "INTERACTING", "conversations": conversations(0, 2)})).await;
    violations_become(&service, &agent, &[]).await;
    sim.post(
        &format!("/sim/agents/{agent}/state"),
        json!({"conversations": conversations(2, 2)}),
    )
    .await;
    violations_become(&service, &agent, &["over_capacity"]).await;
    sim.post(
        &format!("/sim/agents/{agent}/state"),
        json!({"conversations": conversations(1, 2)}),
    )
    .await;
    violations_become(&service, &agent, &[]).await;
    sim.post(
        &format!("/sim/agents/{agent}/shifts"),
        json!({"offShift": true}),
    )
    .await;
    violations_become(&service, &agent, &["off_shift"]).await;
    sim.post(&format!("/sim/agents/{agent}/state"), json!({"systemPresence": "Offline", "routingStatus": "OFF_QUEUE", "conversations": conversations(0, 0)})).await;
    violations_become(&service, &agent, &[]).await;
    service.shutdown().await;
}

#[actix_rt::test]
async fn rest_calls_after_start_up_do_not_grow_with_the_event_rate() {
    let sim = sim(1000);
    let service = TestService::start(&sim, |_| {}).await;
    service.ready().await;
    let total = |v: Value| v["total"].as_u64().unwrap();
    let period = Duration::from_secs(6);

    let start = total(sim.get("/sim/calls").await);
    flow_for(&sim, 10.0, period).await;
    let slow = total(sim.get("/sim/calls").await) - start;

    let start = total(sim.get("/sim/calls").await);
    flow_for(&sim, 500.0, period).await;
    let fast = total(sim.get("/sim/calls").await) - start;

    let events = sim.truth().await["eventsEmitted"].as_u64().unwrap();
    assert!(
        events > 2_000,
        "the fast period emitted many events ({events})"
    );
    assert!(
        fast <= slow + slow / 2 + 3,
        "REST calls grew with the event rate: {slow} at 10/s, {fast} at 500/s"
    );
    service.shutdown().await;
}
