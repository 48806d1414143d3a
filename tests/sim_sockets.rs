//! Channels and sockets over real loopback sockets: the 20-channel and 1,000-topic limits,
//! compound and unknown topics, delivery only to subscribers, one socket per channel,
//! heartbeats and pongs, socket closing, channel expiry extended by resubscribing, slow
//! clients.

mod common;

use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use awc::ws::Frame;
use common::{
    WAIT,
    emulator_api::Client,
    emulator_socket::{connect, next_event, next_frame, next_kind, ping_pong, send_text},
    sim::{TestSim, config, timeless},
    within,
};
use serde_json::{Value, json};

#[actix_web::test]
async fn the_21st_channel_evicts_the_oldest_unconnected_channel() {
    let sim = TestSim::with_config(config(5));
    let client = Client::new(&sim).await;
    let mut channels = Vec::new();
    for _ in 0..20 {
        channels.push(client.channel().await);
    }
    let _oldest_socket = connect(&channels[0].1).await;
    let (newest, _) = client.channel().await;
    assert_eq!(
        client.head(&channels[0].0).await,
        StatusCode::OK,
        "connected channels go last"
    );
    assert_eq!(
        client.head(&channels[1].0).await,
        StatusCode::NOT_FOUND,
        "oldest unconnected removed"
    );
    assert_eq!(client.head(&newest).await, StatusCode::OK);
    let listed = client.get("/api/v2/notifications/channels").await;
    assert_eq!(listed.body["entities"].as_array().map(Vec::len), Some(20));
    let other_token = client.new_token().await;
    let by_client = client
        .call_as(
            Some(&other_token),
            Method::GET,
            "/api/v2/notifications/channels?includechannels=oauthclient",
            None,
        )
        .await;
    let entities = by_client.body["entities"].as_array().expect("entities");
    assert_eq!(
        entities.len(),
        20,
        "other tokens' channels are shown to exist"
    );
    assert!(entities.iter().all(|c| c["id"] == "hidden"));
}

#[actix_web::test]
async fn more_than_1000_topics_on_a_channel_are_refused_with_400() {
    let sim = TestSim::with_config(config(5));
    let client = Client::new(&sim).await;
    let (channel, _) = client.channel().await;
    let topics: Vec<Value> = (0..1001)
        .map(|_| json!({"id": format!("v2.users.{}.presence", uuid::Uuid::new_v4())}))
        .collect();
    let path = format!("/api/v2/notifications/channels/{channel}/subscriptions");
    let refused = client
        .call(Method::PUT, &path, Some(Value::Array(topics.clone())))
        .await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad.request"))
    );
    let accepted = client
        .call(
            Method::PUT,
            &path,
            Some(Value::Array(topics[..1000].to_vec())),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::OK);
    assert_eq!(
        accepted.body["entities"].as_array().map(Vec::len),
        Some(1000)
    );
    let one_more = client
        .call(Method::POST, &path, Some(json!([topics[1000]])))
        .await;
    assert_eq!(one_more.status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn compound_topics_expand_and_unknown_topics_are_rejected_or_refused() {
    let sim = TestSim::with_config(config(5));
    let client = Client::new(&sim).await;
    let (channel, _) = client.channel().await;
    let agent = sim.agent_id(0).await;
    let path = format!("/api/v2/notifications/channels/{channel}/subscriptions");
    let body = json!([{"id": format!("v2.users.{agent}?presence&routingStatus")}, {"id": "v2.bogus.topic"}]);
    let refused = client.call(Method::PUT, &path, Some(body.clone())).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let partial = client
        .call(
            Method::PUT,
            &format!("{path}?ignoreErrors=true"),
            Some(body),
        )
        .await;
    assert_eq!(partial.status, StatusCode::OK);
    let states: Vec<(String, String)> = partial.body["entities"]
        .as_array()
        .expect("entities")
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap_or("").to_owned(),
                t["state"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(states.contains(&(format!("v2.users.{agent}.presence"), "Permitted".into())));
    assert!(states.contains(&(
        format!("v2.users.{agent}.routingStatus"),
        "Permitted".into()
    )));
    assert!(states.contains(&("v2.bogus.topic".into(), "Rejected".into())));
    assert_eq!(
        client.get(&path).await.body["entities"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let cleared = client.call(Method::DELETE, &path, None).await;
    assert!(cleared.status.is_success());
    assert_eq!(
        client.get(&path).await.body["entities"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
}

#[actix_web::test]
async fn events_reach_only_channels_subscribed_to_their_topic() {
    let sim = TestSim::with_config(config(10));
    let client = Client::new(&sim).await;
    let (x, y) = (sim.agent_id(0).await, sim.agent_id(1).await);
    let (a, a_uri) = client.channel().await;
    let (b, b_uri) = client.channel().await;
    client
        .subscribe(&a, &[format!("v2.users.{x}.presence")])
        .await;
    client
        .subscribe(&b, &[format!("v2.users.{y}.presence")])
        .await;
    let (mut ws_a, mut ws_b) = (connect(&a_uri).await, connect(&b_uri).await);
    sim.set_state(&x, json!({"systemPresence": "Busy"})).await;
    assert_eq!(
        next_event(&mut ws_a).await["topicName"],
        format!("v2.users.{x}.presence")
    );
    sim.set_state(&y, json!({"systemPresence": "Away"})).await;
    let first_on_b = next_event(&mut ws_b).await;
    assert_eq!(
        first_on_b["topicName"],
        format!("v2.users.{y}.presence"),
        "B never saw X's change"
    );
    assert_eq!(
        first_on_b["eventBody"]["presenceDefinition"]["systemPresence"],
        "AWAY"
    );
}

#[actix_web::test]
async fn a_second_socket_on_a_channel_closes_the_first() {
    let sim = TestSim::with_config(config(5));
    let client = Client::new(&sim).await;
    let agent = sim.agent_id(0).await;
    let (channel, uri) = client.channel().await;
    client
        .subscribe(&channel, &[format!("v2.users.{agent}.presence")])
        .await;
    let mut first = connect(&uri).await;
    let mut second = connect(&uri).await;
    match next_frame(&mut first, WAIT).await {
        Some(Frame::Close(reason)) => {
            assert_eq!(reason.map(|r| r.code), Some(awc::ws::CloseCode::Normal))
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    sim.set_state(&agent, json!({"systemPresence": "Meal"}))
        .await;
    assert_eq!(
        next_event(&mut second).await["topicName"],
        format!("v2.users.{agent}.presence")
    );
    let channels = client.admin(Method::GET, "/sim/channels", None).await;
    assert_eq!(channels.body["channels"][0]["socketsOpened"], 2);
}

/// An interval no real-time test ever waits out: only advancing the emulator's clock brings
/// the deadlines that are counted in it.
const HOUR: Duration = Duration::from_secs(3600);

#[actix_web::test]
async fn heartbeats_come_each_interval_pings_get_pongs_and_other_text_is_ignored() {
    let mut cfg = timeless(5);
    cfg.heartbeat_interval = HOUR;
    let sim = TestSim::with_config(cfg);
    let client = Client::new(&sim).await;
    let (_, uri) = client.channel().await;
    let mut ws = connect(&uri).await;
    // Other text gets no answer: the next thing to come is the pong of the ping after it.
    send_text(&mut ws, "2024-05-01T12:00:00Z").await;
    ping_pong(
        &mut ws,
        "no heartbeat before the first interval, no reply to other text",
    )
    .await;
    for beat in 1..=2 {
        sim.advance_clock(HOUR / 2).await;
        ping_pong(
            &mut ws,
            &format!("no heartbeat {beat} half an interval early"),
        )
        .await;
        sim.advance_clock(HOUR / 2).await;
        assert_eq!(
            next_kind(&mut ws).await,
            "WebSocket Heartbeat",
            "heartbeat {beat} once its interval passed"
        );
    }
    ping_pong(&mut ws, "one heartbeat per interval").await;
}

#[actix_web::test]
async fn heartbeats_and_pongs_keep_coming_while_events_flow() {
    let mut cfg = timeless(50);
    cfg.heartbeat_interval = HOUR;
    cfg.events_per_sec = 3000.0;
    let sim = TestSim::with_config(cfg);
    let client = Client::new(&sim).await;
    let truth = sim.truth().await;
    let topics: Vec<String> = truth["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .flat_map(|a| {
            let id = a["id"].as_str().unwrap_or("").to_owned();
            [
                "presence",
                "routingStatus",
                "activity",
                "conversationsummary",
            ]
            .map(|k| format!("v2.users.{id}.{k}"))
        })
        .collect();
    let (channel, uri) = client.channel().await;
    client.subscribe(&channel, &topics).await;
    let mut ws = connect(&uri).await;
    let mut events = 0;
    // Events flowing first, so the heartbeat and the pong meet a busy queue.
    while events < 100 {
        assert_ne!(
            next_kind(&mut ws).await,
            "WebSocket Heartbeat",
            "a heartbeat before its interval"
        );
        events += 1;
    }
    sim.advance_clock(HOUR).await;
    within("a heartbeat among events", async {
        while next_kind(&mut ws).await != "WebSocket Heartbeat" {
            events += 1;
        }
    })
    .await;
    send_text(&mut ws, r#"{"message":"ping"}"#).await;
    within("a pong among events", async {
        loop {
            match next_kind(&mut ws).await.as_str() {
                "pong" => break,
                "WebSocket Heartbeat" => panic!("a second heartbeat within one interval"),
                _ => events += 1,
            }
        }
    })
    .await;
    assert!(events >= 100, "events flowed meanwhile: {events}");
}

#[actix_web::test]
async fn socket_closing_is_announced_then_the_socket_closes_after_the_grace() {
    let sim = TestSim::with_config(timeless(5));
    let client = Client::new(&sim).await;
    let (channel, uri) = client.channel().await;
    let mut ws = connect(&uri).await;
    let summary = sim
        .fault("socket_closing", json!({"graceSecs": HOUR.as_secs()}))
        .await;
    assert_eq!(summary["socketsAffected"], 1);
    let closing = next_event(&mut ws).await;
    assert_eq!(closing["topicName"], "v2.system.socket_closing");
    assert_eq!(closing["eventBody"]["channelId"], channel.as_str());
    sim.advance_clock(HOUR / 2).await;
    ping_pong(&mut ws, "the socket stays open during the grace").await;
    sim.advance_clock(HOUR / 2).await;
    match next_frame(&mut ws, WAIT).await {
        Some(Frame::Close(reason)) => {
            assert_eq!(reason.map(|r| r.code), Some(awc::ws::CloseCode::Away))
        }
        other => panic!("expected a close frame once the grace passed, got {other:?}"),
    }
    let head = client
        .call(
            Method::HEAD,
            &format!("/api/v2/notifications/channels/{channel}"),
            None,
        )
        .await;
    assert_eq!(
        head.status,
        StatusCode::OK,
        "the channel survives: reconnect to it"
    );
}

/// A channel's `expires`, as the listing shows it.
async fn expires(client: &Client, channel: &str) -> chrono::DateTime<chrono::Utc> {
    let listed = client.get("/api/v2/notifications/channels").await;
    let entity = listed.body["entities"]
        .as_array()
        .expect("entities")
        .iter()
        .find(|c| c["id"] == channel)
        .unwrap_or_else(|| panic!("channel {channel} listed in {}", listed.body))
        .clone();
    entity["expires"]
        .as_str()
        .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
        .unwrap_or_else(|| panic!("an RFC 3339 expires in {entity}"))
        .with_timezone(&chrono::Utc)
}

#[actix_web::test]
async fn resubscribing_extends_a_channel_and_expiry_closes_its_socket() {
    let mut cfg = timeless(5);
    cfg.channel_ttl = HOUR;
    let sim = TestSim::with_config(cfg);
    let client = Client::new(&sim).await;
    let agent = sim.agent_id(0).await;
    let (channel, uri) = client.channel().await;
    // A second channel, never resubscribed: its removal shows that an expiry sweep has run.
    let (marker, _) = client.channel().await;
    let first_expiry = expires(&client, &channel).await;
    sim.advance_clock(HOUR / 2).await;
    client
        .subscribe(&channel, &[format!("v2.users.{agent}.presence")])
        .await;
    let second_expiry = expires(&client, &channel).await;
    assert!(
        second_expiry - first_expiry >= chrono::Duration::minutes(30),
        "resubscribing moved expires from {first_expiry} to {second_expiry}"
    );
    let mut ws = connect(&uri).await;
    // Past the first expiry, before the second.
    sim.advance_clock(HOUR * 3 / 4).await;
    within("the marker channel to expire", async {
        while client.head(&marker).await != StatusCode::NOT_FOUND {
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(
        client.head(&channel).await,
        StatusCode::OK,
        "alive past its first expiry"
    );
    ping_pong(&mut ws, "its socket is still open").await;
    sim.advance_clock(HOUR).await;
    match next_frame(&mut ws, WAIT).await {
        Some(Frame::Close(reason)) => {
            assert_eq!(reason.map(|r| r.code), Some(awc::ws::CloseCode::Away))
        }
        other => panic!("expected a close frame at expiry, got {other:?}"),
    }
    assert_eq!(client.head(&channel).await, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn a_socket_for_an_unknown_channel_is_refused_with_404() {
    let sim = TestSim::with_config(config(5));
    let uri = format!(
        "{}/channels/streaming-0-nosuchchannel",
        sim.base().replace("http", "ws")
    );
    let refused = within("connect", awc::Client::new().ws(uri).connect()).await;
    match refused {
        Err(awc::error::WsClientError::InvalidResponseStatus(status)) => {
            assert_eq!(status, StatusCode::NOT_FOUND)
        }
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("an unknown channel was upgraded"),
    }
}

#[actix_web::test]
async fn a_client_that_stops_reading_is_disconnected_and_counted() {
    let sim = TestSim::with_config(config(200));
    let client = Client::new(&sim).await;
    let truth = sim.truth().await;
    let kinds = [
        "presence",
        "routingStatus",
        "activity",
        "conversationsummary",
        "workforcemanagement.schedules",
    ];
    let topics: Vec<String> = truth["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .flat_map(|a| {
            kinds
                .iter()
                .map(move |k| format!("v2.users.{}.{k}", a["id"].as_str().unwrap_or("")))
        })
        .collect();
    let (channel, uri) = client.channel().await;
    client.subscribe(&channel, &topics).await;
    let _never_read = connect(&uri).await;
    // Sixteen 1 MB frames fill the socket buffers; then a few thousand changes fill the
    // emulator's per-socket queue.
    for _ in 0..16 {
        sim.fault("oversized_frame", json!({"bytes": 1 << 20}))
            .await;
    }
    within("overflow", async {
        loop {
            client
                .admin(Method::POST, "/sim/step", Some(json!({"count": 2000})))
                .await;
            let channels = client.admin(Method::GET, "/sim/channels", None).await;
            if channels.body["slowClientCloses"] == 1 {
                assert_eq!(channels.body["channels"][0]["connected"], false);
                return;
            }
        }
    })
    .await;
}
