//! The subscriber protocol over real sockets: a hub and the subscribe route on 127.0.0.1:0,
//! subscribers speaking WebSocket, synthetic validated states published into the hub. Auth,
//! catch-up and ordering, recovery, filters, bad input, batching, metrics.

mod common;

use agentcast::event::Scope;
use common::{
    WAIT,
    fanout::{
        ALL_KEY, ROUTING_KEY, TestServer, as_events, settings, settings_with, validated,
        with_queues, with_violation,
    },
};

/// Auth failures, bad queries and a full house are all answered with an HTTP status instead of
/// the upgrade.
#[actix_rt::test]
async fn each_auth_failure_is_answered_before_the_upgrade() {
    let server = TestServer::start(settings()).await;

    let refused = server.try_connect("", "").await.unwrap_err();
    assert_eq!(refused.status, 401, "{refused:?}");
    assert_eq!(refused.header("www-authenticate"), Some("Bearer"));

    let refused = server.try_connect("not-a-key", "").await.unwrap_err();
    assert_eq!(refused.status, 401, "{refused:?}");

    let refused = server
        .try_connect(ROUTING_KEY, "scopes=supervisory_only")
        .await
        .unwrap_err();
    assert_eq!(refused.status, 403, "{refused:?}");
    assert!(refused.body.contains("supervisory_only"), "{refused:?}");

    let refused = server
        .try_connect(ALL_KEY, "scopes=everything")
        .await
        .unwrap_err();
    assert_eq!(refused.status, 400, "{refused:?}");

    // A browser's key in the query works, and the granted scope passes.
    let mut client = server
        .try_connect(
            "",
            &format!("access_token={ROUTING_KEY}&scopes=global_routing"),
        )
        .await
        .expect("upgraded");
    let (welcome, _) = client.welcome_and_snapshot().await;
    assert_eq!(
        welcome["filter"]["scopes"],
        serde_json::json!(["global_routing"])
    );

    let metrics = server.metrics.render();
    assert!(
        metrics.contains(r#"agentcast_subscriber_refusals_total{reason="unauthorized"} 2"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"agentcast_subscriber_refusals_total{reason="forbidden"} 1"#));
    assert!(metrics.contains(r#"agentcast_subscriber_refusals_total{reason="bad_request"} 1"#));
    server.stop().await;
}

/// A standard client (awc) gets the welcome, the snapshot of every agent's latest state, then
/// the live events, seq strictly increasing with no gap, while events keep coming.
#[actix_rt::test]
async fn welcome_then_snapshot_then_events_in_seq_order_with_no_gap() {
    use futures_util::{SinkExt as _, StreamExt as _};

    let server = TestServer::start(settings()).await;
    for agent in ["a1", "a2", "a3", "a1"] {
        server.publish(validated(agent, Scope::GlobalRouting)).await;
    }

    // Keep publishing while the client connects.
    let hub = server.hub.addr.clone();
    let publisher = actix_rt::spawn(async move {
        for i in 0..200u32 {
            let agent = format!("b{}", i % 7);
            hub.send(agentcast::actors::hub::Publish {
                validated: validated(&agent, Scope::GlobalRouting),
            })
            .await
            .unwrap();
            if i.is_multiple_of(20) {
                actix_rt::task::yield_now().await;
            }
        }
    });

    let (_response, mut framed) = tokio::time::timeout(
        WAIT,
        awc::Client::new()
            .ws(format!("ws://{}/v1/subscribe", server.addr))
            .bearer_auth(ALL_KEY)
            .connect(),
    )
    .await
    .expect("connects in time")
    .expect("upgraded");
    let mut next_json = async || loop {
        let item = tokio::time::timeout(WAIT, framed.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("valid frame");
        match item {
            awc::ws::Frame::Text(bytes) => {
                return serde_json::from_slice::<serde_json::Value>(&bytes).unwrap();
            }
            awc::ws::Frame::Ping(p) => framed.send(awc::ws::Message::Pong(p)).await.unwrap(),
            other => panic!("unexpected {other:?}"),
        }
    };

    let welcome = next_json().await;
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["recovered"], false);
    assert!(welcome["sessionId"].as_str().unwrap().starts_with("ses_"));
    assert_eq!(welcome["heartbeatSecs"], 10);
    let at = welcome["seq"].as_u64().unwrap();
    assert!(at >= 4);
    let mut agents = Vec::new();
    loop {
        let frame = next_json().await;
        assert_eq!(frame["type"], "snapshot");
        assert_eq!(frame["seq"], at);
        agents.extend(frame["agents"].as_array().unwrap().iter().cloned());
        if frame["last"] == true {
            break;
        }
    }
    // One entry per agent, the latest, none newer than the welcome.
    let mut ids: Vec<&str> = agents
        .iter()
        .map(|a| a["agentId"].as_str().unwrap())
        .collect();
    ids.sort();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, ids.len());
    assert!(ids.starts_with(&["a1", "a2", "a3"]), "{ids:?}");
    assert!(agents.iter().all(|a| a["seq"].as_u64().unwrap() <= at));
    let a1 = agents.iter().find(|a| a["agentId"] == "a1").unwrap();
    assert_eq!(a1["seq"], 4, "a1's latest state");

    tokio::time::timeout(WAIT, publisher)
        .await
        .unwrap()
        .unwrap();
    let mut expected = at + 1;
    while expected <= 204 {
        let event = next_json().await;
        assert_eq!(event["type"], "agent.state");
        assert_eq!(event["seq"], expected, "strictly increasing, no gap");
        assert!(event["id"].as_str().unwrap().starts_with("evt_"));
        expected += 1;
    }
    server.stop().await;
}

#[actix_rt::test]
async fn reconnecting_with_since_replays_exactly_the_missed_events() {
    let server = TestServer::start(settings()).await;
    let mut client = server.connect(ALL_KEY, "").await;
    let (welcome, agents) = client.welcome_and_snapshot().await;
    assert_eq!(welcome["seq"], 0);
    assert!(agents.is_empty());
    let epoch = welcome["epoch"].as_str().unwrap().to_owned();
    for i in 0..5 {
        server
            .publish(validated(&format!("a{i}"), Scope::GlobalRouting))
            .await;
    }
    assert_eq!(client.seqs(5).await, [1, 2, 3, 4, 5]);
    drop(client);

    for i in 5..10 {
        server
            .publish(validated(&format!("a{i}"), Scope::GlobalRouting))
            .await;
    }
    let mut client = server
        .connect(ALL_KEY, &format!("since=5&epoch={epoch}"))
        .await;
    let welcome = client.json().await;
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["recovered"], true);
    assert_eq!(welcome["seq"], 10);
    assert_eq!(client.seqs(5).await, [6, 7, 8, 9, 10]);
    server.publish(validated("a0", Scope::GlobalRouting)).await;
    assert_eq!(client.seqs(1).await, [11]);

    // Nothing missed: an empty replay, then live events.
    let mut current = server.connect(ALL_KEY, "since=11").await;
    let welcome = current.json().await;
    assert_eq!(welcome["recovered"], true);
    server.publish(validated("a1", Scope::GlobalRouting)).await;
    assert_eq!(current.seqs(1).await, [12]);

    // A filtered replay holds only the matching missed events.
    server.publish(validated("x", Scope::SupervisoryOnly)).await;
    server.publish(validated("y", Scope::GlobalRouting)).await;
    let mut routing = server.connect(ROUTING_KEY, "since=12").await;
    assert_eq!(routing.json().await["recovered"], true);
    assert_eq!(routing.seqs(1).await, [14]);
    server.stop().await;
}

#[actix_rt::test]
async fn since_older_than_the_ring_gets_a_snapshot_never_a_silent_gap() {
    let server = TestServer::start(settings_with(|s| s.recovery_ring_size = 4)).await;
    for i in 1..=10 {
        server
            .publish(validated(&format!("a{}", i % 3), Scope::GlobalRouting))
            .await;
    }
    // The ring holds 7..=10: since=6 is the oldest that can be replayed.
    let mut edge = server.connect(ALL_KEY, "since=6").await;
    assert_eq!(edge.json().await["recovered"], true);
    assert_eq!(edge.seqs(4).await, [7, 8, 9, 10]);

    let mut old = server.connect(ALL_KEY, "since=5").await;
    let (welcome, agents) = old.welcome_and_snapshot().await;
    assert_eq!(welcome["recovered"], false);
    assert_eq!(welcome["seq"], 10);
    let mut seqs: Vec<u64> = agents.iter().map(|a| a["seq"].as_u64().unwrap()).collect();
    seqs.sort();
    assert_eq!(seqs, [8, 9, 10], "each agent's latest state");

    // A since from the future, or from another epoch, cannot be trusted either.
    for query in ["since=99", "since=8&epoch=01OTHEREPOCH"] {
        let mut client = server.connect(ALL_KEY, query).await;
        let (welcome, agents) = client.welcome_and_snapshot().await;
        assert_eq!(welcome["recovered"], false, "{query}");
        assert_eq!(agents.len(), 3, "{query}");
    }
    server.publish(validated("a1", Scope::GlobalRouting)).await;
    assert_eq!(old.seqs(1).await, [11]);
    server.stop().await;
}

/// Sessions connecting close together with the same filter share one rendered snapshot; one
/// that connects after more events gets that snapshot and then exactly the events since, so it
/// ends where a session with a snapshot of its own would. Another filter renders its own.
#[actix_rt::test]
async fn sessions_with_the_same_filter_share_a_snapshot_and_get_the_events_since() {
    // Long enough that a loaded machine cannot make the second session miss the first's rendering.
    let server = TestServer::start(settings_with(|s| {
        s.recovery_ring_size = 100;
        s.snapshot_share_ms = 60_000;
    }))
    .await;
    for agent in ["a1", "a2", "a3", "a4"] {
        server.publish(validated(agent, Scope::GlobalRouting)).await;
    }
    let mut first = server.connect(ALL_KEY, "").await;
    let (welcome, agents) = first.welcome_and_snapshot().await;
    assert_eq!(welcome["seq"], 4);
    assert_eq!(agents.len(), 4);

    for agent in ["a2", "a5", "a2"] {
        server.publish(validated(agent, Scope::GlobalRouting)).await;
    }
    let mut second = server.connect(ALL_KEY, "").await;
    let (second_welcome, second_agents) = second.welcome_and_snapshot().await;
    assert_eq!(second_welcome["seq"], 4, "the shared snapshot's seq");
    assert_eq!(second_agents, agents, "the same snapshot");
    assert_eq!(second.seqs(3).await, [5, 6, 7], "then every event since it");
    assert_eq!(first.seqs(3).await, [5, 6, 7]);
    server.publish(validated("a1", Scope::GlobalRouting)).await;
    assert_eq!(second.seqs(1).await, [8], "then live, no gap, no duplicate");

    // Another filter: a snapshot of its own, as of now.
    let mut routing = server.connect(ROUTING_KEY, "").await;
    let (routing_welcome, _) = routing.welcome_and_snapshot().await;
    assert_eq!(routing_welcome["seq"], 8);

    let metrics = server.metrics.render();
    for (source, count) in [("rendered", 2), ("shared", 1)] {
        let line = format!("agentcast_subscriber_snapshots_total{{source=\"{source}\"}} {count}");
        assert!(
            metrics.lines().any(|l| l == line),
            "no `{line}` in\n{metrics}"
        );
    }
    server.stop().await;
}

/// Scopes, agents, queues and violationsOnly, from the query and from a subscribe frame.
#[actix_rt::test]
async fn every_filter_is_honoured() {
    let server = TestServer::start(settings()).await;
    let mut by_scope = server
        .connect(ALL_KEY, "scopes=queue_specific,supervisory_only")
        .await;
    let mut by_agent = server.connect(ALL_KEY, "agentIds=a1,a3").await;
    let mut by_queue = server.connect(ALL_KEY, "queueIds=q2").await;
    let mut violations = server.connect(ALL_KEY, "violationsOnly=true").await;
    let mut routing_key = server.connect(ROUTING_KEY, "").await;
    let mut by_frame = server.connect(ALL_KEY, "").await;
    for client in [
        &mut by_scope,
        &mut by_agent,
        &mut by_queue,
        &mut violations,
        &mut routing_key,
        &mut by_frame,
    ] {
        client.welcome_and_snapshot().await;
    }
    by_frame
        .ws
        .send_text(r#"{"type":"subscribe","agentIds":["a2"],"violationsOnly":true}"#)
        .await
        .unwrap();
    let subscribed = by_frame.json().await;
    assert_eq!(subscribed["type"], "subscribed", "{subscribed}");
    assert_eq!(subscribed["filter"]["agentIds"], serde_json::json!(["a2"]));
    assert_eq!(by_frame.snapshot(0).await.len(), 0);

    let events = [
        with_queues(validated("a1", Scope::GlobalRouting), &["q1"]), // 1
        with_queues(validated("a2", Scope::QueueSpecific), &["q2"]), // 2
        with_violation(validated("a3", Scope::SupervisoryOnly)),     // 3
        with_violation(with_queues(
            validated("a2", Scope::InternalMonitoring),
            &["q1", "q2"],
        )), // 4
        validated("a4", Scope::GlobalRouting),                       // 5
    ];
    for event in events {
        server.publish(event).await;
    }
    // The sentinel matches every filter above.
    server
        .publish(with_violation(with_queues(
            validated("a2", Scope::QueueSpecific),
            &["q2"],
        )))
        .await; // 6
    // a1 and a3 subscribers need a sentinel of their own.
    server
        .publish(with_violation(with_queues(
            validated("a3", Scope::GlobalRouting),
            &["q2"],
        )))
        .await; // 7

    assert_eq!(by_scope.seqs(3).await, [2, 3, 6]);
    assert_eq!(by_agent.seqs(3).await, [1, 3, 7]);
    assert_eq!(by_queue.seqs(4).await, [2, 4, 6, 7]);
    assert_eq!(violations.seqs(4).await, [3, 4, 6, 7]);
    assert_eq!(routing_key.seqs(3).await, [1, 5, 7]);
    assert_eq!(by_frame.seqs(2).await, [4, 6]);

    // Two subscribe frames back to back (handled in the same poll, well within a second):
    // the second is refused, since each costs the hub a snapshot.
    let mut eager = server.connect(ALL_KEY, "").await;
    eager.welcome_and_snapshot().await;
    eager
        .ws
        .send_text(r#"{"type":"subscribe","agentIds":["a4"]}"#)
        .await
        .unwrap();
    eager
        .ws
        .send_text(r#"{"type":"subscribe","agentIds":["a1"]}"#)
        .await
        .unwrap();
    // (It may first get the events since a snapshot shared with `by_frame`'s first one.)
    let mut frames = Vec::new();
    while frames.len() < 3 {
        let frame = eager.json().await;
        if frame["type"] != "agent.state" {
            frames.push(frame);
        }
    }
    let kinds: Vec<&str> = frames.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"subscribed") && kinds.contains(&"snapshot"),
        "{frames:?}"
    );
    let refused = frames
        .iter()
        .find(|f| f["type"] == "error")
        .expect("a refusal");
    assert_eq!(refused["code"], "too_many_subscribes");
    let snapshot = frames.iter().find(|f| f["type"] == "snapshot").unwrap();
    assert_eq!(snapshot["agents"][0]["agentId"], "a4");

    // A scope outside the key's grant is refused in a frame too, and the filter stays.
    routing_key
        .ws
        .send_text(r#"{"type":"subscribe","scopes":["supervisory_only"]}"#)
        .await
        .unwrap();
    let error = routing_key.json().await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["code"], "scope_not_granted");
    server.stop().await;
}

#[actix_rt::test]
async fn garbage_binary_and_oversized_frames_are_handled_as_specified() {
    use common::rawws::{OP_BINARY, OP_TEXT};

    let server = TestServer::start(settings_with(|s| {
        s.client_frame_max_bytes = 1024;
    }))
    .await;
    let mut client = server.connect(ALL_KEY, "").await;
    client.welcome_and_snapshot().await;
    for (frame, code) in [
        ("hello", "invalid_json"),
        ("[1,2]", "invalid_json"),
        (r#"{"type":"dance"}"#, "unknown_type"),
        (
            r#"{"type":"subscribe","colour":"red"}"#,
            "invalid_subscribe",
        ),
    ] {
        client.ws.send_text(frame).await.unwrap();
        let error = client.json().await;
        assert_eq!(error["type"], "error", "{frame}");
        assert_eq!(error["code"], code, "{frame}");
    }
    client.ws.send(OP_BINARY, b"\x00\x01").await.unwrap();
    assert_eq!(client.json().await["code"], "binary_not_supported");
    client.ws.send_text(r#"{"type":"ping"}"#).await.unwrap();
    assert_eq!(client.json().await["type"], "pong");
    // A fragmented message is reassembled.
    client
        .ws
        .send_frame(OP_TEXT, false, true, br#"{"type":"#)
        .await
        .unwrap();
    client
        .ws
        .send_frame(0, true, true, br#""ping"}"#)
        .await
        .unwrap();
    assert_eq!(client.json().await["type"], "pong");
    // Still subscribed after all that.
    server.publish(validated("a", Scope::GlobalRouting)).await;
    assert_eq!(client.seqs(1).await, [1]);

    // Over the limit: 1009.
    client.ws.send_text(&"x".repeat(2000)).await.unwrap();
    assert_eq!(client.close_code().await, Some(1009));
    // Fragments adding up past the limit: 1009 too.
    let mut fragmented = server.connect(ALL_KEY, "").await;
    fragmented.welcome_and_snapshot().await;
    fragmented
        .ws
        .send_frame(OP_TEXT, false, true, &[b' '; 600])
        .await
        .unwrap();
    fragmented
        .ws
        .send_frame(0, false, true, &[b' '; 600])
        .await
        .unwrap();
    assert_eq!(fragmented.close_code().await, Some(1009));

    // Protocol errors: an unmasked client frame, a reserved opcode, invalid UTF-8: 1002.
    for broken in [
        (OP_TEXT, false, r#"{"type":"ping"}"#.as_bytes().to_vec()),
        (0x3, true, b"?".to_vec()),
        (OP_TEXT, true, vec![0xff, 0xfe]),
    ] {
        let mut client = server.connect(ALL_KEY, "").await;
        client.welcome_and_snapshot().await;
        client
            .ws
            .send_frame(broken.0, true, broken.1, &broken.2)
            .await
            .unwrap();
        assert_eq!(client.close_code().await, Some(1002), "{broken:?}");
    }
    // Raw garbage that is not even a frame.
    let mut client = server.connect(ALL_KEY, "").await;
    client.welcome_and_snapshot().await;
    client.ws.send_raw(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    assert_eq!(client.close_code().await, Some(1002));
    server.stop().await;
}

/// With `batch=true`, events queued together arrive as one JSON array.
#[actix_rt::test]
async fn batch_clients_get_queued_events_as_arrays() {
    let server = TestServer::start(settings()).await;
    for i in 0..30 {
        server
            .publish(validated(&format!("a{i}"), Scope::GlobalRouting))
            .await;
    }
    // A replay is queued all at once.
    let mut client = server.connect(ALL_KEY, "since=0&batch=true").await;
    assert_eq!(client.json().await["recovered"], true);
    let frame = client.json().await;
    assert!(frame.is_array(), "{frame}");
    let mut seqs: Vec<u64> = as_events(&frame)
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    seqs.extend(client.seqs(30 - seqs.len()).await);
    assert_eq!(seqs, (1..=30).collect::<Vec<_>>());
    let stats = server.stats().await;
    assert!(stats.frames < stats.deliveries, "{stats:?}");
    server.stop().await;
}

#[actix_rt::test]
async fn metrics_are_served_as_json_and_prometheus_text() {
    let server = TestServer::start(settings()).await;
    let mut client = server.connect(ALL_KEY, "").await;
    client.welcome_and_snapshot().await;
    for _ in 0..3 {
        server.publish(validated("a", Scope::GlobalRouting)).await;
    }
    assert_eq!(client.seqs(3).await, [1, 2, 3]);
    let stats = server
        .wait_for_stats("deliveries to be counted", |s| s.deliveries >= 3)
        .await;
    assert_eq!(stats.total_broadcasts, 3);

    let body = http_get(server.addr, "/v1/metrics").await;
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    for key in [
        "total_broadcasts",
        "average_latency_ms",
        "active_subscribers",
        "latency_p50_ms",
        "latency_p99_ms",
        "deliveries",
    ] {
        assert!(json.get(key).is_some(), "{key} in {json}");
    }
    assert_eq!(json["total_broadcasts"], 3);
    assert_eq!(json["active_subscribers"], 1);
    assert_eq!(json["evictions"]["slow_consumer"], 0);
    assert!(json["latency_p99_ms"].as_f64().unwrap() >= json["latency_p50_ms"].as_f64().unwrap());

    let text = http_get(server.addr, "/metrics").await;
    for name in [
        "agentcast_broadcasts_total 3",
        "agentcast_broadcast_latency_seconds_bucket",
        "agentcast_subscribers 1",
        "agentcast_subscriber_deliveries_total",
        r#"agentcast_subscriber_evictions_total{reason="stale"} 0"#,
    ] {
        assert!(text.contains(name), "{name} in {text}");
    }
    server.stop().await;
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut response = tokio::time::timeout(
        WAIT,
        awc::Client::new()
            .get(format!("http://{addr}{path}"))
            .send(),
    )
    .await
    .expect("answered in time")
    .expect("request works");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    let body = tokio::time::timeout(WAIT, response.body())
        .await
        .unwrap()
        .unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}
