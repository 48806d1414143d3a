//! Broadcasts the hub drops for a downstream actor (past `downstream_backlog_max`) leave a
//! mark: the audit trail gets an `audit_gap` record saying how many, which `seq` range and
//! why, and `agentcast audit verify` reports it; the webhook side counts them, shows them in
//! `/v1/webhooks` and audits them. A downstream actor is held up deterministically by blocking
//! its arbiter's thread until the test releases it.

mod common;

use std::sync::Arc;

use actix::{Actor, Addr, Arbiter, ArbiterHandle, Context, Handler};
use actix_web::{App, test, web};
use agentcast::{
    actors::{
        Broadcasted, BroadcastsDropped,
        audit::AuditQuery,
        hub::{GetStats, HubHandle, HubStats, Publish, downstream::Downstream},
        webhook::{WebhookActor, WebhookConfig, WebhookMetrics},
    },
    config::{Settings, SubscriberSettings},
    event::{AuditRecord, Scope},
};
use common::{
    WAIT,
    audit::{flush, of_kind, query, start_audit, verify_cli},
    fanout::validated,
    forward::forward,
    keys::{ADMIN_KEY, admin_and_viewer},
};
use serde_json::Value;

/// Broadcasts published while the downstream actor is held up.
const PUBLISHED: u64 = 200;
/// The hub's backlog per downstream actor, tiny so that most of the burst is dropped.
const BACKLOG_MAX: usize = 4;

/// Blocks `arbiter`'s thread until the returned sender is dropped or sent to; returns once the
/// thread is blocked.
async fn hold_up(arbiter: &ArbiterHandle) -> std::sync::mpsc::Sender<()> {
    let (blocked_tx, blocked) = tokio::sync::oneshot::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    assert!(arbiter.spawn_fn(move || {
        let _ = blocked_tx.send(());
        let _ = released.recv();
    }));
    tokio::time::timeout(WAIT, blocked)
        .await
        .expect("the arbiter runs the blocking task")
        .unwrap();
    release
}

fn start_hub(downstream: Downstream) -> HubHandle {
    let settings = SubscriberSettings {
        downstream_backlog_max: BACKLOG_MAX,
        ..SubscriberSettings::default()
    };
    HubHandle::start(
        Arc::new(settings),
        &prometheus::Registry::new(),
        vec![downstream],
        None,
    )
    .unwrap()
}

async fn publish_burst(hub: &HubHandle) {
    for i in 0..PUBLISHED {
        tokio::time::timeout(
            WAIT,
            hub.addr.send(Publish {
                validated: validated(&format!("agent-{}", i % 10), Scope::GlobalRouting),
            }),
        )
        .await
        .expect("the hub never waits for a downstream actor")
        .unwrap();
    }
}

async fn stats(hub: &HubHandle) -> HubStats {
    tokio::time::timeout(WAIT, hub.addr.send(GetStats))
        .await
        .unwrap()
        .unwrap()
}

/// Waits until the hub has handed everything waiting for its downstream actor over.
async fn backlog_drained(hub: &HubHandle) -> HubStats {
    common::eventually(
        "the backlog to drain once the actor is released",
        || async {
            let stats = stats(hub).await;
            if stats.downstream[0].backlog == 0 {
                Ok(stats)
            } else {
                Err(stats.downstream[0].backlog)
            }
        },
    )
    .await
}

/// The `first_seq..=last_seq` ranges of gap notices, checked to follow each other with no
/// hole or overlap and to add up to `dropped` broadcasts.
fn seq_ranges<'a>(
    notices: impl Iterator<Item = &'a Value>,
    dropped: u64,
) -> Vec<std::ops::RangeInclusive<u64>> {
    let ranges: Vec<_> = notices
        .map(|n| {
            let (first, last) = (
                n["first_seq"].as_u64().unwrap(),
                n["last_seq"].as_u64().unwrap(),
            );
            assert_eq!(n["count"].as_u64(), Some(last - first + 1), "{n}");
            first..=last
        })
        .collect();
    for pair in ranges.windows(2) {
        assert_eq!(pair[0].end() + 1, *pair[1].start(), "{ranges:?}");
    }
    let covered: u64 = ranges.iter().map(|r| r.end() - r.start() + 1).sum();
    assert_eq!(covered, dropped, "{ranges:?}");
    ranges
}

#[actix_rt::test]
async fn broadcasts_dropped_for_the_audit_trail_leave_a_gap_record_that_audit_verify_reports() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.sqlite");
    let (audit, trail, _) = start_audit(&dir, |_| {});
    flush(&audit).await;
    let hub = start_hub(Downstream::of("audit", &audit));

    let release = hold_up(&trail.arbiter()).await;
    publish_burst(&hub).await;
    let held = stats(&hub).await;
    let dropped = held.downstream[0].dropped;
    assert!(
        dropped > 0,
        "a backlog of {BACKLOG_MAX} cannot hold {PUBLISHED}"
    );
    assert!(held.downstream[0].backlog <= BACKLOG_MAX);
    drop(release);
    let drained = backlog_drained(&hub).await;
    assert_eq!(
        drained.downstream[0].dropped, dropped,
        "no more lost after release"
    );
    flush(&audit).await;

    // The chain says exactly which broadcasts it lacks, where they would have been. (The
    // notice of one run can be handed over while the run goes on: then several gap records
    // cover it, one after the other.)
    let gaps = query(&audit, of_kind("audit_gap")).await;
    assert!(!gaps.is_empty());
    let ranges = seq_ranges(gaps.iter().map(|g| &g.details), dropped);
    for gap in &gaps {
        let reason = gap.details["reason"].as_str().unwrap();
        assert!(reason.contains("downstream_backlog_max"), "{reason}");
    }
    let missing = |seq: &u64| ranges.iter().any(|r| r.contains(seq));
    let seqs: Vec<u64> = query(&audit, of_kind("broadcast"))
        .await
        .iter()
        .map(|r| r.details["seq"].as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = (1..=PUBLISHED).filter(|seq| !missing(seq)).collect();
    assert_eq!(seqs, expected, "every other broadcast is there, in order");
    let all = query(
        &audit,
        AuditQuery {
            kind: None,
            ..of_kind("")
        },
    )
    .await;
    let last_gap = all.iter().rposition(|r| r.kind == "audit_gap").unwrap();
    assert_eq!(
        all[last_gap + 1].details["seq"].as_u64(),
        Some(ranges.last().unwrap().end() + 1),
        "the gap records stand where the dropped broadcasts would have"
    );

    let (ok, stdout) = verify_cli(&path, &[]);
    assert!(ok, "{stdout}");
    assert!(
        stdout.contains(&format!(
            "{} covering {dropped} missing events",
            match gaps.len() {
                1 => "1 audit_gap record".to_owned(),
                n => format!("{n} audit_gap records"),
            }
        )),
        "{stdout}"
    );
    trail.shutdown("test over").await.unwrap();
    hub.stop();
}

/// Stands between the hub and the webhook actor: its mailbox is the one the hub fills, and
/// its arbiter is the one the test holds up. Everything it gets goes on, unchanged.
struct Relay(Addr<WebhookActor>);

impl Actor for Relay {
    type Context = Context<Self>;
}

impl Handler<Broadcasted> for Relay {
    type Result = ();
    fn handle(&mut self, msg: Broadcasted, _: &mut Context<Self>) {
        self.0.do_send(msg);
    }
}

impl Handler<BroadcastsDropped> for Relay {
    type Result = ();
    fn handle(&mut self, msg: BroadcastsDropped, _: &mut Context<Self>) {
        self.0.do_send(msg);
    }
}

#[actix_rt::test]
async fn broadcasts_dropped_for_webhooks_are_counted_shown_in_their_health_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::defaults();
    settings.webhook.outbox_path = dir.path().join("outbox.sqlite").display().to_string();
    let config = WebhookConfig::from_settings_with(&settings, &|_| None).unwrap();
    let metrics = WebhookMetrics::new(&prometheus::Registry::new());
    let (audit_recipient, mut audit_rx) = forward::<AuditRecord>();
    let webhooks =
        WebhookActor::start(config, metrics.clone(), Some(audit_recipient), None).unwrap();
    let relay_arbiter = Arbiter::new();
    let relay = Relay::start_in_arbiter(&relay_arbiter.handle(), {
        let webhooks = webhooks.clone();
        move |_| Relay(webhooks)
    });
    let hub = start_hub(Downstream::of("webhooks", &relay));

    let release = hold_up(&relay_arbiter.handle()).await;
    publish_burst(&hub).await;
    let dropped = stats(&hub).await.downstream[0].dropped;
    assert!(
        dropped > 0,
        "a backlog of {BACKLOG_MAX} cannot hold {PUBLISHED}"
    );
    drop(release);
    backlog_drained(&hub).await;

    // Audited: dead-letter records covering the whole run, with their seq ranges.
    let mut audited = Vec::new();
    tokio::time::timeout(WAIT, async {
        while audited
            .iter()
            .map(|r: &Value| r["count"].as_u64().unwrap())
            .sum::<u64>()
            < dropped
        {
            let record = audit_rx.recv().await.expect("the collector runs");
            if record.kind.as_str() == "webhook_dead_letter" {
                audited.push(record.details);
            }
        }
    })
    .await
    .expect("the loss is audited");
    let ranges = seq_ranges(audited.iter(), dropped);
    // Counted.
    assert_eq!(metrics.dropped.get(), dropped);

    // Shown in the endpoints' health.
    let keys = admin_and_viewer();
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(keys))
            .app_data(web::Data::new(webhooks.clone()))
            .configure(agentcast::http::webhooks::routes),
    )
    .await;
    let request = test::TestRequest::get()
        .uri("/v1/webhooks")
        .insert_header(("Authorization", format!("Bearer {ADMIN_KEY}")))
        .to_request();
    let body: Value = test::call_and_read_body_json(&app, request).await;
    let lost = &body["lost"];
    assert_eq!(lost["dropped"], dropped, "{body}");
    assert_eq!(lost["refused"], 0, "{body}");
    let last = ranges.last().unwrap();
    assert_eq!(lost["last"]["first_seq"], *last.start(), "{body}");
    assert_eq!(lost["last"]["last_seq"], *last.end(), "{body}");
    assert!(
        lost["last"]["reason"]
            .as_str()
            .unwrap()
            .contains("the hub's backlog for webhooks was full"),
        "{body}"
    );
    hub.stop();
    relay_arbiter.stop();
}
