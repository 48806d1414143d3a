//! Each fault of `POST /sim/faults/<name>` does what it says, over real loopback sockets.

mod common;

use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use awc::ws::Frame;
use common::{
    WAIT,
    emulator_api::Client,
    emulator_socket::{
        Ws, connect, next_event, next_frame, next_kind, next_text, ping_pong, send_text,
        until_protocol_pong,
    },
    sim::{TestSim, config, timeless},
    within,
};
use serde_json::{Value, json};

/// The topics [`subscribed`] subscribes, by their last part.
const SUBSCRIBED: [&str; 3] = ["activity", "presence", "routingStatus"];

/// An emulator, a client, an agent, and a connected socket subscribed to the agent's
/// activity, presence and routingStatus topics. Nothing comes due on the emulator's clock but
/// heartbeats, every `heartbeat`.
async fn subscribed(heartbeat: Duration) -> (TestSim, Client, String, String, Ws) {
    let mut cfg = timeless(10);
    cfg.heartbeat_interval = heartbeat;
    let sim = TestSim::with_config(cfg);
    let client = Client::new(&sim).await;
    let agent = sim.agent_id(0).await;
    let (channel, uri) = client.channel().await;
    let topics: Vec<String> = SUBSCRIBED
        .iter()
        .map(|k| format!("v2.users.{agent}.{k}"))
        .collect();
    client.subscribe(&channel, &topics).await;
    let ws = connect(&uri).await;
    (sim, client, agent, channel, ws)
}

/// A heartbeat interval that only an advance of the emulator's clock brings round.
const QUIET: Duration = Duration::from_secs(3600);

/// How many messages the socket of [`subscribed`] gets for a `set_state` answer: one per
/// topic it published that the socket is subscribed to.
fn messages_for(set_state: &Value) -> usize {
    set_state["topics"]
        .as_array()
        .expect("the published topics")
        .iter()
        .filter_map(Value::as_str)
        .filter(|t| SUBSCRIBED.iter().any(|k| t.ends_with(&format!(".{k}"))))
        .count()
}

#[actix_web::test]
async fn expire_tokens_makes_every_token_answer_credentials_expired() {
    let sim = TestSim::with_config(config(5));
    let client = Client::new(&sim).await;
    assert_eq!(
        sim.fault("expire_tokens", json!({})).await["tokensExpired"],
        1
    );
    let reply = client.get("/api/v2/users").await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("credentials.expired"))
    );
    let fresh = client.new_token().await;
    assert_eq!(
        client
            .call_as(Some(&fresh), Method::GET, "/api/v2/users", None)
            .await
            .status,
        StatusCode::OK
    );
}

#[actix_web::test]
async fn rate_limit_answers_429_with_the_seconds_left_until_cleared() {
    let sim = TestSim::with_config(config(5));
    let client = Client::new(&sim).await;
    sim.fault("rate_limit", json!({"secs": 30})).await;
    let reply = client.get("/api/v2/users").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.body["code"], "too.many.requests");
    let retry: u64 = reply
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((29..=30).contains(&retry), "{retry}");
    assert!(reply.header("inin-ratelimit-reset").is_some());
    sim.fault("clear", json!({})).await;
    assert_eq!(client.get("/api/v2/users").await.status, StatusCode::OK);
}

#[actix_web::test]
async fn drop_sockets_ends_sockets_without_a_close_frame_or_socket_closing() {
    let (sim, client, _agent, channel, mut ws) = subscribed(QUIET).await;
    assert_eq!(
        sim.fault("drop_sockets", json!({})).await["socketsAffected"],
        1
    );
    match next_frame(&mut ws, WAIT).await {
        None => {}
        other => panic!("expected the stream to end abruptly, got {other:?}"),
    }
    assert_eq!(
        client.head(&channel).await,
        StatusCode::OK,
        "the channel stays"
    );
}

#[actix_web::test]
async fn expire_channel_closes_its_socket_and_removes_it() {
    let (sim, client, _agent, channel, mut ws) = subscribed(QUIET).await;
    let (other, _) = client.channel().await;
    let unknown = client
        .admin(
            Method::POST,
            "/sim/faults/expire_channel",
            Some(json!({"channelId": "nope"})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let summary = sim
        .fault("expire_channel", json!({"channelId": channel}))
        .await;
    assert_eq!(summary["channelsExpired"], 1);
    assert!(matches!(
        next_frame(&mut ws, WAIT).await,
        Some(Frame::Close(_))
    ));
    assert_eq!(client.head(&channel).await, StatusCode::NOT_FOUND);
    assert_eq!(client.head(&other).await, StatusCode::OK);
    assert_eq!(
        sim.fault("expire_channel", json!({})).await["channelsExpired"],
        1
    );
    assert_eq!(client.head(&other).await, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn stop_heartbeats_withholds_heartbeats_and_pongs_until_cleared() {
    let (sim, _client, _agent, _channel, mut ws) = subscribed(QUIET).await;
    sim.advance_clock(QUIET).await;
    assert_eq!(next_kind(&mut ws).await, "WebSocket Heartbeat");
    sim.fault("stop_heartbeats", json!({})).await;
    // A heartbeat comes due and a ping is sent; the emulator answers the protocol ping after
    // them (frames in order), and nothing came before its pong.
    sim.advance_clock(QUIET).await;
    send_text(&mut ws, r#"{"message":"ping"}"#).await;
    assert_eq!(
        until_protocol_pong(&mut ws).await,
        Vec::<String>::new(),
        "neither the due heartbeat nor the pong"
    );
    sim.fault("clear", json!({})).await;
    sim.advance_clock(QUIET).await;
    assert_eq!(next_kind(&mut ws).await, "WebSocket Heartbeat");
    ping_pong(&mut ws, "pongs again once cleared").await;
}

#[actix_web::test]
async fn malformed_frame_sends_text_that_is_not_json() {
    let (sim, _client, _agent, _channel, mut ws) = subscribed(QUIET).await;
    assert_eq!(
        sim.fault("malformed_frame", json!({})).await["socketsAffected"],
        1
    );
    let text = next_text(&mut ws).await;
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
}

#[actix_web::test]
async fn oversized_frame_sends_a_valid_subscribed_message_past_the_size() {
    let (sim, _client, agent, _channel, mut ws) = subscribed(QUIET).await;
    let summary = sim
        .fault("oversized_frame", json!({"bytes": 300_000}))
        .await;
    assert_eq!(summary["socketsAffected"], 1);
    let text = next_text(&mut ws).await;
    assert!(text.len() > 300_000, "{}", text.len());
    let message: Value = serde_json::from_str(&text).expect("still valid JSON");
    assert!(
        message["topicName"]
            .as_str()
            .is_some_and(|t| t.starts_with(&format!("v2.users.{agent}.")))
    );
    assert_eq!(message["version"], "2");
}

#[actix_web::test]
async fn duplicate_resends_the_last_event_with_the_same_bytes() {
    let (sim, _client, agent, _channel, mut ws) = subscribed(QUIET).await;
    let set = sim
        .set_state(&agent, json!({"systemPresence": "Training"}))
        .await;
    let mut last = String::new();
    for _ in 0..messages_for(&set) {
        last = next_text(&mut ws).await;
    }
    assert_eq!(
        sim.fault("duplicate", json!({})).await["socketsAffected"],
        1
    );
    assert_eq!(next_text(&mut ws).await, last);
}

#[actix_web::test]
async fn stale_event_replays_the_previous_state_with_its_older_timestamps() {
    let (sim, _client, agent, _channel, mut ws) = subscribed(QUIET).await;
    let busy = sim
        .set_state(&agent, json!({"systemPresence": "Busy"}))
        .await;
    let meeting = sim
        .set_state(&agent, json!({"systemPresence": "Meeting"}))
        .await;
    let mut latest_activity = Value::Null;
    for _ in 0..messages_for(&busy) + messages_for(&meeting) {
        let message = next_event(&mut ws).await;
        if message["topicName"]
            .as_str()
            .is_some_and(|t| t.ends_with(".activity"))
        {
            latest_activity = message;
        }
    }
    assert_eq!(
        latest_activity["eventBody"]["presence"]["presenceDefinition"]["systemPresence"],
        "MEETING"
    );
    let summary = sim.fault("stale_event", json!({})).await;
    assert_eq!(summary["socketsAffected"], 1);
    loop {
        let message = next_event(&mut ws).await;
        if !message["topicName"]
            .as_str()
            .is_some_and(|t| t.ends_with(".activity"))
        {
            continue;
        }
        let stale = &message["eventBody"]["presence"];
        assert_eq!(stale["presenceDefinition"]["systemPresence"], "BUSY");
        let (old, new) = (
            stale["modifiedDate"].as_str(),
            latest_activity["eventBody"]["presence"]["modifiedDate"].as_str(),
        );
        assert!(old < new, "{old:?} is older than {new:?}");
        break;
    }
}

/// Long enough that no answer it holds back can pass for an undelayed one in [`WAIT`].
const SLOW_REST_DELAY_MS: u64 = 60_000;

#[actix_web::test]
async fn slow_rest_delays_every_api_answer_until_its_time_is_up_or_it_is_cleared() {
    let sim = TestSim::with_config(timeless(5));
    let client = Client::new(&sim).await;
    let presences = "/api/v2/systempresences";
    let held_back = || async {
        sim.fault(
            "slow_rest",
            json!({"delayMs": SLOW_REST_DELAY_MS, "secs": 60}),
        )
        .await;
        let delayed = tokio::time::timeout(Duration::from_secs(1), client.get(presences)).await;
        assert!(delayed.is_err(), "answered although delayed a minute");
    };
    held_back().await;
    // Its 60 s pass on the emulator's clock: answers are prompt again (`get` fails after
    // WAIT, well short of the delay).
    sim.advance_clock(Duration::from_secs(61)).await;
    assert_eq!(client.get(presences).await.status, StatusCode::OK);
    held_back().await;
    sim.fault("clear", json!({})).await;
    assert_eq!(client.get(presences).await.status, StatusCode::OK);
}

#[actix_web::test]
async fn server_errors_answer_the_next_calls_with_that_status() {
    let sim = TestSim::with_config(config(5));
    let client = Client::new(&sim).await;
    let refused = client
        .admin(
            Method::POST,
            "/sim/faults/server_errors",
            Some(json!({"count": 1, "status": 404})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    sim.fault("server_errors", json!({"count": 2, "status": 503}))
        .await;
    for _ in 0..2 {
        let reply = client.get("/api/v2/users").await;
        assert_eq!(
            (reply.status, reply.body["code"].as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, Some("service.unavailable"))
        );
    }
    assert_eq!(client.get("/api/v2/users").await.status, StatusCode::OK);
}

#[actix_web::test]
async fn schedule_processing_and_the_download_service_change_the_search_answer() {
    let sim = TestSim::with_config(config(10));
    let client = Client::new(&sim).await;
    let agent = sim.agent_id(0).await;
    let bu = client.business_unit(&agent).await;
    let path = format!("/api/v2/workforcemanagement/businessunits/{bu}/agentschedules/search");
    let now = chrono::Utc::now();
    let body = json!({"startDate": (now - chrono::Duration::days(1)).to_rfc3339(), "endDate": (now + chrono::Duration::days(1)).to_rfc3339(), "userIds": [agent]});
    sim.fault("schedule_processing", json!({"count": 1})).await;
    let first = client.call(Method::POST, &path, Some(body.clone())).await;
    assert_eq!(first.body["status"], "Processing");
    let again = client.call(Method::POST, &path, Some(body.clone())).await;
    assert_eq!(again.body["status"], "Complete");
    assert_eq!(
        again.body["result"]["agentSchedules"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let download = client
        .call(
            Method::POST,
            &format!("{path}?forceDownloadService=true"),
            Some(body),
        )
        .await;
    assert_eq!(download.body["status"], "Complete");
    assert!(download.body.get("result").is_none());
    let url = download.body["downloadUrl"].as_str().expect("downloadUrl");
    let path = url
        .strip_prefix(&client.base)
        .expect("served by the emulator");
    let fetched = client.admin(Method::GET, path, None).await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.body, again.body["result"]);
}

#[actix_web::test]
async fn unknown_faults_and_bad_bodies_are_error_bodies() {
    let sim = TestSim::with_config(config(5));
    let client = Client::new(&sim).await;
    let unknown = client
        .admin(Method::POST, "/sim/faults/meteor", Some(json!({})))
        .await;
    assert_eq!(
        (unknown.status, unknown.body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not.found"))
    );
    let agent = sim.agent_id(0).await;
    let out_of_range = [
        (
            "/sim/faults/rate_limit".to_owned(),
            json!({"secs": u64::MAX}),
        ),
        (
            "/sim/faults/socket_closing".to_owned(),
            json!({"graceSecs": u64::MAX}),
        ),
        (
            "/sim/faults/slow_rest".to_owned(),
            json!({"delayMs": u64::MAX, "secs": 1}),
        ),
        ("/sim/rate".to_owned(), json!({"eventsPerSec": 1e300})),
        ("/sim/step".to_owned(), json!({"count": 10_000_000_000u64})),
        (
            format!("/sim/agents/{agent}/shifts"),
            json!({"shifts": [{"startDate": "2024-05-01T08:00:00Z", "lengthMinutes": 0}]}),
        ),
        (
            format!("/sim/agents/{agent}/state"),
            json!({"conversations": {"call": 300}}),
        ),
        (
            format!("/sim/agents/{agent}/utilization"),
            json!({"utilization": {"chat": {"maximumCapacity": 26}}}),
        ),
    ];
    for (path, body) in out_of_range {
        let reply = client.admin(Method::POST, &path, Some(body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(reply.body["code"], "bad.request", "{path}");
    }
    let missing = client
        .admin(Method::POST, "/sim/faults/rate_limit", Some(json!({})))
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    let garbage = client
        .http
        .post(format!("{}/sim/rate", client.base))
        .insert_header(("Content-Type", "application/json"))
        .send_body("{not json");
    let mut reply = within("bad body", garbage).await.expect("sent");
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
    let body: Value =
        serde_json::from_slice(&within("body", reply.body()).await.expect("body")).expect("json");
    assert_eq!(body["code"], "bad.request");
}
