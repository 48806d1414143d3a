//! What keeps one subscriber from hurting the others, over real sockets: the subscriber limit,
//! stale and slow subscribers evicted (counted, audited), shutdown closing everyone with 1001,
//! and downstream actors that never hold the hub up.

mod common;

use std::time::Duration;

use agentcast::event::{AuditKind, Scope};
use common::{
    WAIT,
    fanout::{
        ALL_KEY, ROUTING_KEY, Subscriber, TestServer, as_events, settings, settings_with,
        validated, with_queues,
    },
    rawws::Frame,
};

#[actix_rt::test]
async fn max_subscribers_is_enforced_with_retry_after_and_slots_come_back() {
    let server = TestServer::start(settings_with(|s| {
        s.max_subscribers = 2;
        s.retry_after_secs = 7;
    }))
    .await;
    let mut first = server.connect(ALL_KEY, "").await;
    let _second = server.connect(ALL_KEY, "").await;
    let refused = server.try_connect(ALL_KEY, "").await.unwrap_err();
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(refused.header("retry-after"), Some("7"));

    // The first leaves; its slot is free once its session has stopped.
    first
        .ws
        .send(common::rawws::OP_CLOSE, &1000u16.to_be_bytes())
        .await
        .unwrap();
    assert_eq!(first.close_code().await, Some(1000));
    server
        .wait_for_stats("the first session to stop", |s| s.active_subscribers == 1)
        .await;
    let deadline = std::time::Instant::now() + WAIT;
    let _third = loop {
        match server.try_connect(ALL_KEY, "").await {
            Ok(client) => break client,
            // The permit is returned a moment after the hub hears of the stop.
            Err(refused) if refused.status == 503 && std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(refused) => panic!("still refused: {refused:?}"),
        }
    };
    server.stop().await;
}

#[actix_rt::test]
async fn a_client_that_stops_answering_pings_is_evicted_after_the_stale_timeout() {
    let mut server = TestServer::start(settings_with(|s| {
        s.ping_interval_secs = 1;
        s.stale_timeout_secs = 2;
    }))
    .await;
    let mut healthy = server.connect(ALL_KEY, "").await;
    healthy.welcome_and_snapshot().await;
    // Reads (and so answers pings) all along.
    let mut healthy = healthy.in_background();
    let mut silent = server.connect(ALL_KEY, "").await;
    silent.ws.answer_pings = false;

    let mut pings = 0;
    let code = loop {
        match silent.frame().await {
            Frame::Ping(_) => pings += 1,
            Frame::Close(code, reason) => {
                assert_eq!(reason, "stale");
                break code;
            }
            _ => {}
        }
    };
    assert_eq!(code, Some(4001));
    assert!(pings >= 1, "pinged before eviction");

    let record = server.next_audit().await;
    assert_eq!(record.kind, AuditKind::Eviction);
    assert_eq!(record.details["reason"], "stale");
    assert_eq!(record.details["key"], "all");
    server
        .wait_for_stats("the stale eviction to be counted", |s| {
            s.evictions["stale"] == 1
        })
        .await;

    // The client that answers pings outlives the silent one.
    server.publish(validated("a", Scope::GlobalRouting)).await;
    assert_eq!(healthy.json().await["seq"], 1);
    assert_eq!(server.stats().await.active_subscribers, 1);
    server.stop().await;
}

/// A subscriber that stops reading overflows its queue and is closed with 4008, while a
/// normal subscriber in the same test receives every event.
#[actix_rt::test]
async fn a_client_that_stops_reading_is_closed_4008_while_the_others_get_every_event() {
    let mut server = TestServer::start(settings_with(|s| {
        s.queue_max_bytes = 64 << 10;
        s.frame_max_bytes = 16 << 10;
        s.close_timeout_secs = 120;
    }))
    .await;
    let mut normal = server.connect(ALL_KEY, "").await;
    normal.welcome_and_snapshot().await;
    let mut stalled = {
        let target = "/v1/subscribe";
        let auth = format!("Bearer {ALL_KEY}");
        let ws = common::rawws::RawWs::connect(
            server.addr,
            target,
            &[("Authorization", &auth)],
            Some(4096),
        )
        .await
        .unwrap()
        .unwrap();
        Subscriber { ws }
    };
    stalled.welcome_and_snapshot().await;
    // From here on `stalled` reads nothing.

    let padding = "q".repeat(8 << 10);
    let mut seq = 0u64;
    let evicted_at = loop {
        seq += 1;
        assert!(seq <= 4000, "no eviction after 32 MB");
        server
            .publish(with_queues(
                validated("big", Scope::GlobalRouting),
                &[&padding],
            ))
            .await;
        // The normal client keeps up: it has each event before the next is published.
        assert_eq!(normal.seqs(1).await, [seq]);
        if seq.is_multiple_of(8) && server.stats().await.evictions["slow_consumer"] == 1 {
            break seq;
        }
    };
    for _ in 0..20 {
        seq += 1;
        server
            .publish(validated("small", Scope::GlobalRouting))
            .await;
        assert_eq!(normal.seqs(1).await, [seq]);
    }
    eprintln!("evicted after {evicted_at} events of 8 KiB");
    assert!(evicted_at > 1);
    let record = server.next_audit().await;
    assert_eq!(record.kind, AuditKind::Eviction);
    assert_eq!(record.details["reason"], "slow_consumer");
    assert_eq!(record.details["code"], 4008);

    // The stalled client reads again: a gap-free prefix of the events, then 4008.
    let mut expected = 1;
    let code = loop {
        match stalled.frame().await {
            Frame::Text(text) => {
                let value: serde_json::Value = serde_json::from_str(&text).unwrap();
                for event in as_events(&value) {
                    assert_eq!(event["seq"], expected);
                    expected += 1;
                }
            }
            Frame::Close(code, reason) => {
                assert_eq!(reason, "slow consumer");
                break code;
            }
            _ => {}
        }
    };
    assert_eq!(code, Some(4008));
    assert!(expected <= evicted_at + 1);
    assert_eq!(server.stats().await.evictions["stale"], 0);
    server.stop().await;
}

#[actix_rt::test]
async fn shutdown_sends_1001_to_every_session_and_refuses_new_ones() {
    let server = TestServer::start(settings()).await;
    let mut a = server.connect(ALL_KEY, "").await;
    let mut b = server.connect(ROUTING_KEY, "").await;
    a.welcome_and_snapshot().await;
    b.welcome_and_snapshot().await;
    server.publish(validated("x", Scope::GlobalRouting)).await;

    let closed = tokio::time::timeout(WAIT, server.hub.close_all())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(closed.closed, 2);
    assert_eq!(closed.remaining, 0);
    // What was queued is written before the close.
    assert_eq!(a.seqs(1).await, [1]);
    assert_eq!(a.close_code().await, Some(1001));
    assert_eq!(b.seqs(1).await, [1]);
    assert_eq!(b.close_code().await, Some(1001));
    let refused = server.try_connect(ALL_KEY, "").await.unwrap_err();
    assert_eq!(refused.status, 503);
    assert!(refused.header("retry-after").is_some());
    server.stop().await;
}

/// A downstream actor (webhooks, audit) slower than the broadcasts still gets every one, in
/// order, and the hub never waits for it.
#[actix_rt::test]
async fn downstream_actors_get_every_broadcast_in_order_when_their_mailbox_is_full() {
    use actix::{Actor, Arbiter, Context, Handler};
    use agentcast::actors::hub::{Broadcasted, BroadcastsDropped, downstream::Downstream};

    struct Slow(tokio::sync::mpsc::UnboundedSender<std::sync::Arc<agentcast::event::Broadcast>>);
    impl Actor for Slow {
        type Context = Context<Self>;
        fn started(&mut self, ctx: &mut Self::Context) {
            ctx.set_mailbox_capacity(2);
        }
    }
    impl Handler<Broadcasted> for Slow {
        type Result = ();
        fn handle(&mut self, msg: Broadcasted, _: &mut Self::Context) {
            // Slow on purpose, on its own thread.
            std::thread::sleep(Duration::from_micros(300));
            let _ = self.0.send(msg.broadcast);
        }
    }
    impl Handler<BroadcastsDropped> for Slow {
        type Result = ();
        fn handle(&mut self, msg: BroadcastsDropped, _: &mut Self::Context) {
            panic!("nothing may be dropped here: {msg:?}");
        }
    }

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let slow = Slow::start_in_arbiter(&Arbiter::new().handle(), move |_| Slow(tx));
    let server = TestServer::start_with(settings(), vec![Downstream::of("slow", &slow)]).await;
    for i in 0..300 {
        server.hub.addr.do_send(agentcast::actors::hub::Publish {
            validated: validated(&format!("a{}", i % 10), Scope::GlobalRouting),
        });
    }
    for expected in 1..=300u64 {
        let broadcast = tokio::time::timeout(WAIT, rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(broadcast.seq, expected);
        let payload: serde_json::Value = serde_json::from_slice(&broadcast.json).unwrap();
        assert_eq!(payload["seq"], expected);
        assert_eq!(payload["id"], broadcast.event_id.as_str());
    }
    let stats = server.stats().await;
    assert_eq!(stats.downstream[0].dropped, 0);
    assert_eq!(stats.downstream[0].backlog, 0);
    server.stop().await;
}
