//! The audit trail: one record per kind of happening, a hash chain that `agentcast audit
//! verify` checks (and that names the first tampered row), the query API's filters, counted
//! overflow with a gap record, and retention that keeps the chain verifiable.

mod common;

use std::sync::Arc;

use actix_web::{App, test, web};
use agentcast::{
    actors::{
        Broadcasted,
        audit::{ApplyRetention, AuditQuery, RunningOn, Shutdown, chain, records, verify_path},
        webhook::{
            DeliveryReport, ReportResult, Submit, WebhookActor, WebhookConfig, WebhookMetrics,
            signing::generate_secret,
        },
    },
    config::{Settings, WebhookSettings},
    event::{AuditKind, AuditRecord, RejectReason, Rejected, Scope},
};
use chrono::Utc;
use common::{
    WAIT,
    audit::{flush, of_kind, query, start_audit, verify_cli},
    forward::forward,
    keys::{ADMIN_KEY, VIEWER_KEY, admin_and_viewer},
    receiver::{Received, Reply, TestReceiver, broadcast},
    service::{TestService, test_settings},
    sim::TestSim,
};
use serde_json::{Value, json};

fn record(kind: AuditKind, agent: Option<&str>, details: Value) -> AuditRecord {
    AuditRecord::now(kind, agent.map(Into::into), details)
}

#[actix_rt::test]
async fn every_kind_of_happening_becomes_one_record() {
    let dir = tempfile::tempdir().unwrap();
    let (audit, _trail, _) = start_audit(&dir, |_| {});

    // What other actors witness, built by the constructors they use.
    let b = Arc::new(broadcast("evt_b1", 1, "agent-1", Scope::GlobalRouting));
    audit.do_send(Broadcasted {
        broadcast: b.clone(),
    });
    audit.do_send(records::reject(&Rejected {
        reason: RejectReason::Stale,
        agent_id: Some("agent-2".into()),
        topic: Some("activity".into()),
        detail: "older than the current state".into(),
        correlation_id: Some("corr-1".into()),
    }));
    audit.do_send(records::eviction(&records::Eviction {
        session_id: "7".into(),
        key: "wallboard",
        reason: "slow_consumer",
        code: 4008,
        queued_bytes: 2 << 20,
        queue_max_bytes: 1 << 20,
        stale_timeout_secs: 30,
        idle_secs: 0.5,
        peer: None,
    }));
    audit.do_send(records::upstream_connect("c1"));
    audit.do_send(records::upstream_disconnect("c1", "heartbeat_timeout"));
    audit.do_send(records::upstream_connect("c1"));

    // The webhook actor's own records: attempts and outcomes, a dead letter, a disable.
    let mut receiver = TestReceiver::start(Box::new(|r: &Received| match r.id.as_str() {
        "evt_dead" => Reply::status(500),
        "evt_gone" => Reply::status(410),
        _ => Reply::ok(),
    }))
    .unwrap();
    let mut settings = Settings::defaults();
    settings.webhook.outbox_path = dir.path().join("outbox.sqlite").display().to_string();
    settings.webhook.allow_hosts = vec!["127.0.0.1".into()];
    settings.webhook.retry_schedule_secs = vec![0.01];
    settings.webhooks = vec![WebhookSettings {
        id: "hook".into(),
        url: receiver.url.clone(),
        secret_env: "S".into(),
        ..WebhookSettings::default()
    }];
    let secret = generate_secret();
    let config = WebhookConfig::from_settings_with(&settings, &|_| Some(secret.clone())).unwrap();
    let (observer, mut reports) = forward::<DeliveryReport>();
    let webhooks = WebhookActor::start(
        config,
        WebhookMetrics::new(&prometheus::Registry::new()),
        Some(audit.clone().recipient()),
        Some(observer),
    )
    .unwrap();
    for (i, id) in ["evt_ok", "evt_dead", "evt_gone"].into_iter().enumerate() {
        let b = Arc::new(broadcast(
            id,
            i as u64 + 2,
            &format!("agent-{id}"),
            Scope::GlobalRouting,
        ));
        webhooks
            .send(Submit { broadcast: b })
            .await
            .unwrap()
            .unwrap();
        loop {
            let r = tokio::time::timeout(WAIT, reports.recv())
                .await
                .unwrap()
                .unwrap();
            if &*r.event_id == id && !matches!(r.result, ReportResult::Retrying { .. }) {
                break;
            }
        }
    }
    assert!(receiver.drain().len() >= 4);
    webhooks
        .send(agentcast::actors::webhook::Flush)
        .await
        .unwrap();
    tokio::time::timeout(
        WAIT,
        audit.send(Shutdown {
            reason: "test over".into(),
        }),
    )
    .await
    .unwrap()
    .unwrap();

    let counts = |records: &[agentcast::actors::audit::StoredRecord]| records.len();
    assert_eq!(counts(&query(&audit, of_kind("start")).await), 1);
    assert_eq!(counts(&query(&audit, of_kind("stop")).await), 1);
    let rejects = query(&audit, of_kind("reject")).await;
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0].details["reason"], "stale");
    assert_eq!(rejects[0].details["correlation_id"], "corr-1");
    assert_eq!(rejects[0].agent_id.as_deref(), Some("agent-2"));
    let evictions = query(&audit, of_kind("eviction")).await;
    assert_eq!(evictions.len(), 1);
    assert_eq!(evictions[0].details["code"], 4008);
    let disconnects = query(&audit, of_kind("upstream_disconnect")).await;
    assert_eq!(disconnects.len(), 1, "one record per disconnect");
    assert_eq!(disconnects[0].details["channel_id"], "c1");
    let connects = query(&audit, of_kind("upstream_connect")).await;
    assert_eq!(connects.len(), 2, "a connect and a reconnect");
    assert!(connects.iter().all(|r| r.details["channel_id"] == "c1"));
    // One convention for every detail field: snake_case, like `agent_id` and the config.
    for record in query(
        &audit,
        AuditQuery {
            kind: None,
            ..of_kind("")
        },
    )
    .await
    {
        if record.kind == "config_change" {
            continue;
        }
        for key in record.details.as_object().unwrap().keys() {
            assert!(
                !key.chars().any(|c| c.is_ascii_uppercase()),
                "{} record field {key:?} is not snake_case",
                record.kind
            );
        }
    }

    let broadcasts = query(&audit, of_kind("broadcast")).await;
    assert_eq!(broadcasts.len(), 1);
    assert_eq!(broadcasts[0].agent_id.as_deref(), Some("agent-1"));
    assert_eq!(broadcasts[0].details["event_id"], "evt_b1");
    assert_eq!(broadcasts[0].details["scope"], "global_routing");

    // evt_ok: 1 attempt; evt_dead: 2 attempts (schedule of one retry); evt_gone: 1 attempt.
    let attempts = query(&audit, of_kind("webhook_attempt")).await;
    let outcomes: Vec<(String, String)> = attempts
        .iter()
        .map(|r| {
            (
                r.details["event_id"].as_str().unwrap().into(),
                r.details["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("evt_ok".to_owned(), "delivered".to_owned()),
            ("evt_dead".into(), "retry".into()),
            ("evt_dead".into(), "dead_letter".into()),
            ("evt_gone".into(), "dead_letter".into()),
        ]
    );
    assert_eq!(attempts[0].details["status"], 200);
    assert_eq!(attempts[0].agent_id.as_deref(), Some("agent-evt_ok"));
    let dead = query(&audit, of_kind("webhook_dead_letter")).await;
    let dead_ids: Vec<&str> = dead
        .iter()
        .filter_map(|r| r.details["event_id"].as_str())
        .collect();
    assert_eq!(dead_ids, ["evt_dead", "evt_gone"]);
    let endpoint = query(&audit, of_kind("webhook_endpoint")).await;
    assert_eq!(endpoint.len(), 1);
    assert_eq!(endpoint[0].details["action"], "disabled");

    let verified = verify_path(&dir.path().join("audit.sqlite"), None).unwrap();
    assert!(verified.records >= 14, "{verified:?}");
}

#[actix_rt::test]
async fn tampering_with_one_row_makes_audit_verify_fail_naming_that_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.sqlite");
    let (audit, _trail, _) = start_audit(&dir, |s| s.batch_max = 7);
    for i in 0..40 {
        audit.do_send(record(
            AuditKind::Reject,
            Some(&format!("agent-{i}")),
            json!({"n": i}),
        ));
    }
    flush(&audit).await;

    let (ok, out) = verify_cli(&path, &[]);
    assert!(ok, "{out}");
    assert!(
        out.contains("audit chain intact: 41 records (ids 1..=41)"),
        "{out}"
    );

    // Copies of the store, each tampered one way.
    let copy = |name: &str| {
        let target = dir.path().join(name);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute("VACUUM INTO ?1", [target.display().to_string()])
            .unwrap();
        (target.clone(), rusqlite::Connection::open(target).unwrap())
    };
    let (edited, conn) = copy("edited.sqlite");
    let changed = conn
        .execute(
            r#"UPDATE audit SET details = '{"n":999}' WHERE id = 17"#,
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(conn);
    let (ok, out) = verify_cli(&edited, &[]);
    assert!(!ok, "{out}");
    assert!(out.contains("record 17 ("), "{out}");
    assert!(out.contains(", reject) does not match its hash"), "{out}");

    let (removed, conn) = copy("removed.sqlite");
    conn.execute("DELETE FROM audit WHERE id = 30", []).unwrap();
    drop(conn);
    let (ok, out) = verify_cli(&removed, &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("record 31 (") && out.contains("records 30..31 are missing"),
        "{out}"
    );

    let (rehashed, conn) = copy("rehashed.sqlite");
    // An editor who also recomputes the edited row's own hash still breaks the next one.
    let prev: Vec<u8> = conn
        .query_row("SELECT hash FROM audit WHERE id = 4", [], |r| r.get(0))
        .unwrap();
    let (at, at_us, details): (String, i64, String) = conn
        .query_row(
            "SELECT at, at_us, details FROM audit WHERE id = 5",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(details, r#"{"n":3}"#);
    let forged_details = r#"{"n":333}"#;
    let forged = chain::record_hash(
        &prev.try_into().unwrap(),
        &chain::RecordFields {
            id: 5,
            at: &at,
            at_us,
            kind: "reject",
            agent_id: Some("agent-3"),
            details: forged_details,
        },
    );
    conn.execute(
        "UPDATE audit SET details = ?1, hash = ?2 WHERE id = 5",
        rusqlite::params![forged_details, &forged[..]],
    )
    .unwrap();
    drop(conn);
    let (ok, out) = verify_cli(&rehashed, &[]);
    assert!(!ok && out.contains("record 6 ("), "{out}");

    let (ok, out) = verify_cli(&dir.path().join("absent.sqlite"), &[]);
    assert!(!ok && out.contains("does not exist"), "{out}");
}

#[actix_rt::test]
async fn the_query_api_filters_by_kind_agent_since_and_limit_for_admins_only() {
    let dir = tempfile::tempdir().unwrap();
    let (audit, _trail, _) = start_audit(&dir, |_| {});
    flush(&audit).await; // the start record is written
    for i in 0..10 {
        let agent = if i % 2 == 0 {
            "agent-even"
        } else {
            "agent-odd"
        };
        audit.do_send(record(AuditKind::Reject, Some(agent), json!({"n": i})));
    }
    // Evictions witnessed a second later than everything else (records carry their own time).
    let evicted_at = Utc::now() + chrono::Duration::seconds(1);
    let before_evictions = evicted_at - chrono::Duration::milliseconds(500);
    for i in 0..3 {
        let eviction = record(AuditKind::Eviction, Some("agent-odd"), json!({"n": i}));
        audit.do_send(AuditRecord {
            at: evicted_at,
            ..eviction
        });
    }
    flush(&audit).await;

    let keys = admin_and_viewer();
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(keys))
            .app_data(web::Data::new(audit.clone()))
            .configure(agentcast::http::audit::routes),
    )
    .await;
    let get = |uri: String, key: Option<&'static str>| {
        let mut req = test::TestRequest::get().uri(&uri);
        if let Some(key) = key {
            req = req.insert_header(("Authorization", format!("Bearer {key}")));
        }
        req.to_request()
    };
    let call = |uri: String| get(uri, Some(ADMIN_KEY));

    let body: Value =
        test::call_and_read_body_json(&app, call("/v1/audit?kind=reject".into())).await;
    assert_eq!(body["records"].as_array().unwrap().len(), 10);
    let body: Value =
        test::call_and_read_body_json(&app, call("/v1/audit?kind=reject&agent=agent-odd".into()))
            .await;
    let ns: Vec<i64> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["details"]["n"].as_i64().unwrap())
        .collect();
    assert_eq!(ns, [1, 3, 5, 7, 9]);
    let body: Value =
        test::call_and_read_body_json(&app, call("/v1/audit?agent=agent-odd".into())).await;
    assert_eq!(body["records"].as_array().unwrap().len(), 8);
    let since = before_evictions.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let body: Value =
        test::call_and_read_body_json(&app, call(format!("/v1/audit?since={}", urlencode(&since))))
            .await;
    let kinds: Vec<&str> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["eviction"; 3]);

    // Paging: limit, then since=<id> from `next`.
    let page: Value = test::call_and_read_body_json(&app, call("/v1/audit?limit=5".into())).await;
    assert_eq!(page["records"].as_array().unwrap().len(), 5);
    assert_eq!(page["records"][0]["kind"], "start");
    let next = page["next"].as_str().unwrap().to_owned();
    assert_eq!(next, "5");
    let page: Value =
        test::call_and_read_body_json(&app, call(format!("/v1/audit?since={next}&limit=100")))
            .await;
    let ids: Vec<i64> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, (6..=14).collect::<Vec<_>>());
    assert!(page["next"].is_null());
    assert_eq!(page["records"][0]["hash"].as_str().unwrap().len(), 64);

    let status = |req| async { test::call_service(&app, req).await.status().as_u16() };
    assert_eq!(status(get("/v1/audit".into(), None)).await, 401);
    assert_eq!(status(get("/v1/audit".into(), Some(VIEWER_KEY))).await, 403);
    assert_eq!(status(call("/v1/audit?since=yesterday".into())).await, 400);
}

fn urlencode(raw: &str) -> String {
    url::form_urlencoded::byte_serialize(raw.as_bytes()).collect()
}

#[actix_rt::test]
async fn records_that_cannot_be_kept_are_counted_and_the_gap_enters_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (audit, _trail, metrics) = start_audit(&dir, |s| {
        s.batch_max = 1;
        s.queue_capacity = 2;
    });
    const SENT: u64 = 300;
    for i in 0..SENT {
        audit.do_send(record(AuditKind::Reject, None, json!({"n": i})));
    }
    flush(&audit).await;
    // One more record after the writer caught up: the gap is written before it, if not already.
    audit.do_send(record(AuditKind::Eviction, None, json!({})));
    flush(&audit).await;

    let unwritten = metrics.unwritten.get();
    assert!(unwritten > 0, "a queue of 2 cannot hold a burst of {SENT}");
    let rejects = query(&audit, of_kind("reject")).await.len() as u64;
    assert_eq!(
        rejects + unwritten,
        SENT,
        "every record is written or counted"
    );
    let gaps = query(&audit, of_kind("audit_gap")).await;
    let reported: u64 = gaps
        .iter()
        .map(|g| g.details["count"].as_u64().unwrap())
        .sum();
    assert_eq!(reported, unwritten, "the chain says how many are missing");
    let verified =
        verify_path(&dir.path().join("audit.sqlite"), None).expect("the chain is intact");
    assert_eq!(
        (verified.gap_records, verified.gap_events),
        (gaps.len() as u64, unwritten),
        "audit verify reports the gaps"
    );
}

#[actix_rt::test]
async fn retention_removes_old_records_and_the_chain_still_verifies_from_its_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.sqlite");
    let (audit, _trail, _) = start_audit(&dir, |s| s.retention_days = 90.0);
    for i in 0..10 {
        audit.do_send(record(AuditKind::Reject, None, json!({"n": i})));
    }
    let later = Utc::now() + chrono::Duration::days(10);
    for i in 0..5 {
        audit.do_send(AuditRecord {
            at: later,
            ..record(AuditKind::Eviction, None, json!({"n": i}))
        });
    }
    flush(&audit).await;

    // 95 days from now, everything but the five records dated 10 days ahead is out of retention.
    let as_of = Utc::now() + chrono::Duration::days(95);
    let removed = audit.send(ApplyRetention { as_of }).await.unwrap().unwrap();
    assert_eq!(removed, 11, "the start record and the ten rejects");
    let verified = verify_path(&path, None).unwrap();
    assert_eq!(
        (verified.records, verified.anchor_id, verified.first_id),
        (5, Some(11), Some(12))
    );

    // The chain goes on from where it was.
    audit.do_send(record(
        AuditKind::Reject,
        None,
        json!({"after": "retention"}),
    ));
    flush(&audit).await;
    let verified = verify_path(&path, None).unwrap();
    assert_eq!((verified.records, verified.last_id), (6, Some(17)));
    let (ok, out) = verify_cli(&path, &[]);
    assert!(
        ok && out.contains("from the retention anchor at record 11"),
        "{out}"
    );
}

/// Copies the store at `path` into `dir/name` (a consistent snapshot, WAL included) and opens
/// the copy for tampering.
fn copy_store(
    path: &std::path::Path,
    dir: &tempfile::TempDir,
    name: &str,
) -> (std::path::PathBuf, rusqlite::Connection) {
    let target = dir.path().join(name);
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute("VACUUM INTO ?1", [target.display().to_string()])
        .unwrap();
    (target.clone(), rusqlite::Connection::open(target).unwrap())
}

/// The `<id>:<sha256>` head an intact run prints.
fn printed_head(out: &str) -> String {
    out.trim_end()
        .rsplit_once("; head ")
        .unwrap_or_else(|| panic!("no head in {out:?}"))
        .1
        .to_owned()
}

#[actix_rt::test]
async fn shifting_a_records_time_makes_audit_verify_fail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.sqlite");
    let (audit, _trail, _) = start_audit(&dir, |_| {});
    for i in 0..5 {
        audit.do_send(record(AuditKind::Reject, None, json!({"n": i})));
    }
    flush(&audit).await;
    let (ok, out) = verify_cli(&path, &[]);
    assert!(ok, "{out}");

    // The time queries and retention use, an hour earlier.
    let (shifted, conn) = copy_store(&path, &dir, "shifted.sqlite");
    conn.execute(
        "UPDATE audit SET at_us = at_us - 3600000000 WHERE id = 3",
        [],
    )
    .unwrap();
    drop(conn);
    let (ok, out) = verify_cli(&shifted, &[]);
    assert!(!ok, "{out}");
    assert!(out.contains("record 3 (") && out.contains("time"), "{out}");

    // Both forms of the time, an hour earlier, consistently: the hash covers them.
    let (both, conn) = copy_store(&path, &dir, "both.sqlite");
    let at: String = conn
        .query_row("SELECT at FROM audit WHERE id = 3", [], |r| r.get(0))
        .unwrap();
    let earlier = chrono::DateTime::parse_from_rfc3339(&at).unwrap() - chrono::Duration::hours(1);
    let (at, at_us) = chain::stored_time(earlier.to_utc());
    conn.execute(
        "UPDATE audit SET at = ?1, at_us = ?2 WHERE id = 3",
        rusqlite::params![at, at_us],
    )
    .unwrap();
    drop(conn);
    let (ok, out) = verify_cli(&both, &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("record 3 (") && out.contains("does not match its hash"),
        "{out}"
    );
}

#[actix_rt::test]
async fn removing_the_newest_records_fails_audit_verify_against_the_head_it_printed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.sqlite");
    let (audit, _trail, _) = start_audit(&dir, |_| {});
    for i in 0..9 {
        audit.do_send(record(AuditKind::Reject, None, json!({"n": i})));
    }
    flush(&audit).await;
    let (ok, out) = verify_cli(&path, &[]);
    assert!(ok, "{out}");
    let head = printed_head(&out);
    assert!(head.starts_with("10:"), "{out}");

    // The trail goes on; the kept head still checks out.
    audit.do_send(record(AuditKind::Reject, None, json!({"n": "later"})));
    flush(&audit).await;
    let (ok, out) = verify_cli(&path, &["--head", &head]);
    assert!(ok && out.contains("holds the anchored head 10"), "{out}");

    // Without the head, a truncated chain looks intact; against it, it does not.
    let (truncated, conn) = copy_store(&path, &dir, "truncated.sqlite");
    conn.execute("DELETE FROM audit WHERE id >= 8", []).unwrap();
    drop(conn);
    let (ok, out) = verify_cli(&truncated, &[]);
    assert!(ok && out.contains("7 records"), "{out}");
    let (ok, out) = verify_cli(&truncated, &["--head", &head]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("the anchored head is record 10, but the chain ends at record 7"),
        "{out}"
    );

    // A head that is not this chain's (a rewritten trail) fails too; a malformed one is refused.
    let forged = format!("10:{}", "00".repeat(32));
    let (ok, out) = verify_cli(&path, &["--head", &forged]);
    assert!(
        !ok && out.contains("record 10 is not the anchored head"),
        "{out}"
    );
    let (ok, out) = verify_cli(&path, &["--head", "10"]);
    assert!(!ok && out.contains("<record id>:<64 hex digits>"), "{out}");
}

/// A store written before the time was hashed (format v1) still verifies after an upgrade,
/// its old records by the old hash, the new ones by the new.
#[actix_rt::test]
async fn a_store_from_before_the_time_was_hashed_still_verifies_after_the_upgrade() {
    use sha2::{Digest, Sha256};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.sqlite");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE audit (id INTEGER PRIMARY KEY, at TEXT NOT NULL, at_us INTEGER NOT NULL,
                kind TEXT NOT NULL, agent_id TEXT, details TEXT NOT NULL, hash BLOB NOT NULL);
             CREATE INDEX audit_kind ON audit(kind, id);
             CREATE INDEX audit_agent ON audit(agent_id, id) WHERE agent_id IS NOT NULL;
             CREATE INDEX audit_at ON audit(at_us);
             CREATE TABLE audit_anchor (singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                last_id INTEGER NOT NULL, last_hash BLOB NOT NULL, purged_at TEXT NOT NULL);
             PRAGMA user_version = 1;",
        )
        .unwrap();
        let mut prev = [0u8; 32];
        for id in 1..=3i64 {
            let (at, at_us) = chain::stored_time(Utc::now());
            let details = format!(r#"{{"n":{id}}}"#);
            // The v1 canonical form: no at_us.
            let mut h = Sha256::new();
            h.update(prev);
            h.update(b"agentcast-audit-v1\0");
            h.update(id.to_be_bytes());
            for field in [at.as_str(), "reject"] {
                h.update((field.len() as u64).to_be_bytes());
                h.update(field.as_bytes());
            }
            h.update([0]);
            h.update((details.len() as u64).to_be_bytes());
            h.update(details.as_bytes());
            prev = h.finalize().into();
            conn.execute(
                "INSERT INTO audit VALUES (?1, ?2, ?3, 'reject', NULL, ?4, ?5)",
                rusqlite::params![id, at, at_us, details, &prev[..]],
            )
            .unwrap();
        }
    }
    let (ok, out) = verify_cli(&path, &[]);
    assert!(ok && out.contains("3 records"), "{out}");

    let (audit, _trail, _) = start_audit(&dir, |_| {});
    audit.do_send(record(AuditKind::Reject, None, json!({"n": 4})));
    flush(&audit).await;
    let verified = verify_path(&path, None).expect("old and new records verify");
    assert_eq!((verified.records, verified.last_id), (5, Some(5)));

    // Old records' at_us is checked against their hashed `at`.
    let (shifted, conn) = copy_store(&path, &dir, "shifted.sqlite");
    conn.execute("UPDATE audit SET at_us = at_us + 1 WHERE id = 2", [])
        .unwrap();
    drop(conn);
    let (ok, out) = verify_cli(&shifted, &[]);
    assert!(!ok && out.contains("record 2 ("), "{out}");
}

#[actix_rt::test]
async fn the_audit_actor_runs_on_a_thread_of_its_own_and_stops_after_its_stop_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.sqlite");
    let (audit, trail, _) = start_audit(&dir, |_| {});
    let audit_thread = tokio::time::timeout(WAIT, audit.send(RunningOn))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(
        audit_thread,
        std::thread::current().id(),
        "the audit actor must not share the system thread (the stream's and the HTTP server's)"
    );

    audit.do_send(record(AuditKind::Reject, None, json!({"n": 1})));
    tokio::time::timeout(WAIT, trail.shutdown("test over"))
        .await
        .expect("shut down in time")
        .expect("the actor was running");
    assert!(
        audit.send(RunningOn).await.is_err(),
        "the actor stopped with its arbiter"
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    let kinds: Vec<String> = conn
        .prepare("SELECT kind FROM audit ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        kinds,
        ["start", "reject", "stop"],
        "flushed before it stopped"
    );
    verify_path(&path, None).expect("intact");
}

/// A start that fails once the audit trail is open (here: the webhook outbox path is a
/// directory) ends the trail cleanly: its last record is a `stop` naming the cause, and the
/// chain verifies.
#[actix_rt::test]
async fn a_start_that_fails_after_the_audit_trail_opened_ends_it_with_a_stop_record() {
    let sim = TestSim::start(5, |_| {});
    let audit_dir = tempfile::tempdir().unwrap();
    let audit_path = audit_dir.path().join("audit.sqlite");
    let data_dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(&sim);
    let outbox = data_dir.path().join("outbox-is-a-directory");
    std::fs::create_dir(&outbox).unwrap();
    settings.webhook.outbox_path = outbox.display().to_string();
    settings.audit.path = audit_path.display().to_string();
    let started = TestService::try_start(&sim, settings, data_dir, |_| {}).await;
    let Err(err) = started else {
        panic!("an outbox path that is a directory cannot be opened");
    };
    assert!(err.to_string().contains("outbox"), "{err}");

    let verified = verify_path(&audit_path, None).expect("the trail verifies");
    let conn = rusqlite::Connection::open(&audit_path).unwrap();
    let (kind, details): (String, String) = conn
        .query_row(
            "SELECT kind, details FROM audit WHERE id = ?1",
            [verified.last_id.unwrap()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(kind, "stop");
    assert!(
        details.contains("start-up failed") && details.contains("outbox"),
        "{details}"
    );
}
