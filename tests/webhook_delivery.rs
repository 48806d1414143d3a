//! Webhook delivery against a real HTTP receiver on loopback: retries keep the webhook-id,
//! Retry-After and 429 waits, 410 and `disable_after` disable, exhaustion dead-letters,
//! per-agent order, SSRF refusals and redirects. Every wait is bounded; retry waits are
//! milliseconds, so nothing here depends on wall-clock speed.

mod common;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix::Addr;
use agentcast::{
    actors::webhook::{
        DeliveryReport, EnableEndpoint, ListAttempts, ListEndpoints, ReplayDeadLetters,
        ReplaySelector, ReportResult, Submit, WebhookActor, WebhookConfig, WebhookMetrics,
        signing::{Signer, generate_secret},
    },
    config::{Settings, WebhookSettings},
    event::{AuditKind, AuditRecord, Scope},
};
use common::{
    WAIT,
    forward::forward,
    receiver::{Received, Reply, TestReceiver, broadcast},
};
use tokio::sync::mpsc::UnboundedReceiver;

struct Harness {
    actor: Addr<WebhookActor>,
    reports: UnboundedReceiver<DeliveryReport>,
    audit: UnboundedReceiver<AuditRecord>,
    secret: String,
    _dir: tempfile::TempDir,
}

/// Settings for one endpoint `hook` at `url` with a millisecond retry schedule; `tune` adjusts.
fn settings(dir: &tempfile::TempDir, url: &str, tune: impl FnOnce(&mut Settings)) -> Settings {
    let mut settings = Settings::defaults();
    settings.webhook.outbox_path = dir.path().join("outbox.sqlite").display().to_string();
    settings.webhook.synchronous = agentcast::Synchronous::Normal;
    settings.webhook.allow_hosts = vec!["127.0.0.1".into()];
    settings.webhook.retry_schedule_secs = vec![0.01, 0.01, 0.01];
    settings.webhook.timeout_secs = 10.0;
    settings.webhooks = vec![WebhookSettings {
        id: "hook".into(),
        url: url.into(),
        secret_env: "HOOK_SECRET".into(),
        ..WebhookSettings::default()
    }];
    tune(&mut settings);
    settings
}

fn start(settings: &Settings, dir: tempfile::TempDir) -> Harness {
    let secret = generate_secret();
    let config =
        WebhookConfig::from_settings_with(settings, &|_| Some(secret.clone())).expect("config");
    let (observer, reports) = forward::<DeliveryReport>();
    let (audit_sink, audit) = forward::<AuditRecord>();
    let metrics = WebhookMetrics::new(&prometheus::Registry::new());
    let actor = WebhookActor::start(config, metrics, Some(audit_sink), Some(observer))
        .expect("webhook actor starts");
    Harness {
        actor,
        reports,
        audit,
        secret,
        _dir: dir,
    }
}

impl Harness {
    async fn submit(&self, event_id: &str, seq: u64, agent: &str) {
        let b = Arc::new(broadcast(event_id, seq, agent, Scope::GlobalRouting));
        let accepted = tokio::time::timeout(WAIT, self.actor.send(Submit { broadcast: b }))
            .await
            .expect("accepted in time")
            .expect("actor running")
            .expect("accepted");
        assert_eq!(accepted.endpoints, 1);
    }

    /// Reports until one for `event_id` is final (delivered or dead-lettered); returns them all.
    async fn until_final(&mut self, event_id: &str) -> Vec<DeliveryReport> {
        let mut seen = Vec::new();
        loop {
            let report = tokio::time::timeout(WAIT, self.reports.recv())
                .await
                .unwrap_or_else(|_| panic!("no final report for {event_id}; got {seen:#?}"))
                .expect("observer open");
            let done = &*report.event_id == event_id
                && !matches!(report.result, ReportResult::Retrying { .. });
            seen.push(report);
            if done {
                return seen;
            }
        }
    }

    async fn audit_of_kind(&mut self, kind: AuditKind) -> AuditRecord {
        loop {
            let record = tokio::time::timeout(WAIT, self.audit.recv())
                .await
                .unwrap_or_else(|_| panic!("no {kind:?} audit record"))
                .expect("audit open");
            if record.kind == kind {
                return record;
            }
        }
    }

    fn signer(&self) -> Signer {
        Signer::parse(&self.secret).unwrap()
    }
}

/// A script answering each webhook-id from a list of statuses, then 200.
fn statuses_by_id(
    plan: HashMap<&'static str, Vec<u16>>,
) -> Box<dyn FnMut(&Received) -> Reply + Send> {
    let mut plan: HashMap<String, Vec<u16>> =
        plan.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    Box::new(move |r| match plan.get_mut(&r.id) {
        Some(list) if !list.is_empty() => Reply::status(list.remove(0)),
        _ => Reply::ok(),
    })
}

async fn next(receiver: &mut TestReceiver) -> Received {
    receiver
        .next(WAIT)
        .await
        .expect("a request reaches the receiver")
}

#[actix_rt::test]
async fn failed_deliveries_are_retried_with_the_same_webhook_id_until_success() {
    let mut receiver =
        TestReceiver::start(statuses_by_id([("evt_retry", vec![500, 500])].into())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut h = start(&settings(&dir, &receiver.url, |_| {}), dir);
    h.submit("evt_retry", 1, "agent-1").await;

    let reports = h.until_final("evt_retry").await;
    let results: Vec<_> = reports.iter().map(|r| (r.attempt, r.status)).collect();
    assert_eq!(results, [(1, Some(500)), (2, Some(500)), (3, Some(200))]);
    assert_eq!(reports[2].result, ReportResult::Delivered);

    let requests = [
        next(&mut receiver).await,
        next(&mut receiver).await,
        next(&mut receiver).await,
    ];
    let signer = h.signer();
    for r in &requests {
        assert_eq!(r.id, "evt_retry", "the webhook-id is stable across retries");
        assert!(signer.verify(&r.id, r.timestamp, &r.body, &r.signature));
        assert_eq!(r.body, requests[0].body, "the body is byte-identical");
        let mut headers = http::HeaderMap::new();
        headers.insert("webhook-id", r.id.parse().unwrap());
        headers.insert(
            "webhook-timestamp",
            r.timestamp.to_string().parse().unwrap(),
        );
        headers.insert("webhook-signature", r.signature.parse().unwrap());
        standardwebhooks::Webhook::new(&h.secret)
            .unwrap()
            .verify(&r.body, &headers)
            .expect("an independent verifier accepts it");
    }
    let payload: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(payload["type"], "agent.state");
    assert_eq!(payload["id"], "evt_retry");
    assert!(
        receiver.next(Duration::from_millis(200)).await.is_none(),
        "delivered once"
    );

    let attempts = h
        .actor
        .send(ListAttempts {
            endpoint: "hook".into(),
            event_id: "evt_retry".into(),
        })
        .await
        .unwrap()
        .unwrap();
    let statuses: Vec<_> = attempts.iter().map(|a| (a.attempt, a.status)).collect();
    assert_eq!(statuses, [(1, Some(500)), (2, Some(500)), (3, Some(200))]);
    assert_eq!(attempts[0].error.as_deref(), Some("HTTP 500"));
}

#[actix_rt::test]
async fn retry_after_is_respected_and_429_waits_at_least_the_floor() {
    let mut receiver = TestReceiver::start(Box::new({
        let mut seen: HashMap<String, u32> = HashMap::new();
        move |r: &Received| {
            let n = seen.entry(r.id.clone()).or_default();
            *n += 1;
            match (r.id.as_str(), *n) {
                ("evt_after", 1) => Reply::status(503).header("Retry-After", "1"),
                ("evt_throttled", 1) => Reply::status(429),
                _ => Reply::ok(),
            }
        }
    }))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut h = start(
        &settings(&dir, &receiver.url, |s| s.webhook.throttle_floor_secs = 0.5),
        dir,
    );

    h.submit("evt_after", 1, "agent-1").await;
    let first = next(&mut receiver).await;
    let second = next(&mut receiver).await;
    assert_eq!(
        (first.id.as_str(), second.id.as_str()),
        ("evt_after", "evt_after")
    );
    let waited = second.at - first.at;
    assert!(
        waited >= Duration::from_millis(990),
        "Retry-After: 1 honoured, waited {waited:?}"
    );
    h.until_final("evt_after").await;

    h.submit("evt_throttled", 2, "agent-2").await;
    let first = next(&mut receiver).await;
    let second = next(&mut receiver).await;
    let waited = second.at - first.at;
    assert!(
        waited >= Duration::from_millis(490),
        "429 waits the 0.5 s floor, waited {waited:?}"
    );
    let reports = h.until_final("evt_throttled").await;
    assert_eq!(reports.last().unwrap().result, ReportResult::Delivered);
}

#[actix_rt::test]
async fn a_410_disables_the_endpoint_until_re_enabled_and_replay_delivers_what_it_missed() {
    let mut receiver = TestReceiver::start(Box::new(|_| Reply::status(410))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut h = start(&settings(&dir, &receiver.url, |_| {}), dir);
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);

    h.submit("evt_gone", 1, "agent-1").await;
    let reports = h.until_final("evt_gone").await;
    assert_eq!(reports.len(), 1, "410 is not retried: {reports:#?}");
    assert!(matches!(
        reports[0].result,
        ReportResult::DeadLettered { .. }
    ));
    let disabled = h.audit_of_kind(AuditKind::WebhookEndpoint).await;
    assert_eq!(disabled.details["action"], "disabled");
    assert!(
        disabled.details["reason"].as_str().unwrap().contains("410"),
        "{disabled:?}"
    );

    let endpoints = h.actor.send(ListEndpoints).await.unwrap().unwrap();
    assert!(!endpoints[0].enabled);
    assert!(
        endpoints[0]
            .disabled_reason
            .as_deref()
            .unwrap()
            .contains("410 Gone")
    );

    // While disabled, new events go straight to the dead-letter list, unsent.
    h.submit("evt_missed", 2, "agent-2").await;
    let reports = h.until_final("evt_missed").await;
    assert_eq!(reports.last().unwrap().attempt, 0);
    assert!(
        receiver
            .next(Duration::from_millis(200))
            .await
            .map(|r| r.id)
            == Some("evt_gone".into())
    );
    assert!(receiver.next(Duration::from_millis(200)).await.is_none());

    // Outcomes are recorded in batches; Flush settles them before the admin commands.
    h.actor
        .send(agentcast::actors::webhook::Flush)
        .await
        .unwrap();
    // Replaying while disabled is refused; re-enable, then replay everything since then.
    let refused = h
        .actor
        .send(ReplayDeadLetters {
            endpoint: "hook".into(),
            selector: ReplaySelector::Since(since.timestamp_millis()),
        })
        .await
        .unwrap();
    assert!(refused.is_err());
    receiver.set_script(Box::new(|_| Reply::ok()));
    h.actor
        .send(EnableEndpoint {
            endpoint: "hook".into(),
            by: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
    let enabled = h.audit_of_kind(AuditKind::WebhookEndpoint).await;
    assert_eq!(enabled.details["action"], "enabled");
    let replayed = h
        .actor
        .send(ReplayDeadLetters {
            endpoint: "hook".into(),
            selector: ReplaySelector::Since(since.timestamp_millis()),
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(replayed, 2);
    let mut delivered = vec![next(&mut receiver).await.id, next(&mut receiver).await.id];
    delivered.sort();
    assert_eq!(delivered, ["evt_gone", "evt_missed"]);
    assert!(h.actor.send(ListEndpoints).await.unwrap().unwrap()[0].enabled);
}

#[actix_rt::test]
async fn an_endpoint_failing_for_disable_after_is_disabled_and_audited() {
    let _receiver = TestReceiver::start(Box::new(|_| Reply::status(500))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = _receiver.url.clone();
    let mut h = start(
        &settings(&dir, &url, |s| {
            s.webhook.retry_schedule_secs = vec![0.05; 400];
            s.webhook.disable_after_secs = 0.3;
        }),
        dir,
    );
    h.submit("evt_failing", 1, "agent-1").await;
    let reports = h.until_final("evt_failing").await;
    match &reports.last().unwrap().result {
        ReportResult::DeadLettered { reason } => assert_eq!(reason, "endpoint disabled"),
        other => panic!("expected a dead letter, got {other:?}"),
    }
    assert!(reports.len() >= 2, "it failed for a while first");
    let record = h.audit_of_kind(AuditKind::WebhookEndpoint).await;
    assert_eq!(record.details["action"], "disabled");
    let reason = record.details["reason"].as_str().unwrap();
    assert!(reason.starts_with("every attempt failed for"), "{reason}");
    let health = &h.actor.send(ListEndpoints).await.unwrap().unwrap()[0];
    assert!(!health.enabled);
    assert_eq!(health.last_failure.as_ref().unwrap().status, Some(500));
}

#[actix_rt::test]
async fn an_agents_newer_state_waits_for_its_older_one_while_other_agents_flow() {
    // agent A's first event fails until all five of agent B's have arrived: B must flow while
    // A is blocked, and A's later events must not overtake its first.
    let b_seen = Arc::new(Mutex::new(0));
    let mut receiver = TestReceiver::start(Box::new({
        let b_seen = b_seen.clone();
        move |r: &Received| {
            let mut b = b_seen.lock().unwrap();
            if r.id.starts_with("evt_b") {
                *b += 1;
                Reply::ok()
            } else if r.id == "evt_a1" && *b < 5 {
                Reply::status(503)
            } else {
                Reply::ok()
            }
        }
    }))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let h = start(
        &settings(&dir, &receiver.url, |s| {
            s.webhook.retry_schedule_secs = vec![0.02; 500];
            s.webhook.concurrency = 4;
        }),
        dir,
    );
    for (i, id) in ["evt_a1", "evt_a2", "evt_a3"].into_iter().enumerate() {
        h.submit(id, i as u64 + 1, "agent-a").await;
    }
    for i in 1..=5u64 {
        h.submit(&format!("evt_b{i}"), 10 + i, "agent-b").await;
    }
    let mut received = Vec::new();
    while !received.iter().any(|r: &Received| r.id == "evt_a3") {
        received.push(next(&mut receiver).await);
    }
    let a: Vec<&str> = received
        .iter()
        .map(|r| r.id.as_str())
        .filter(|id| id.starts_with("evt_a"))
        .collect();
    let first_success = a.iter().rposition(|id| *id == "evt_a1").unwrap();
    assert!(first_success >= 1, "evt_a1 failed at least once: {a:?}");
    assert_eq!(
        &a[first_success + 1..],
        ["evt_a2", "evt_a3"],
        "A in order: {a:?}"
    );
    assert!(
        a[..=first_success].iter().all(|id| *id == "evt_a1"),
        "{a:?}"
    );
    let b: Vec<&str> = received
        .iter()
        .map(|r| r.id.as_str())
        .filter(|id| id.starts_with("evt_b"))
        .collect();
    assert_eq!(
        b,
        ["evt_b1", "evt_b2", "evt_b3", "evt_b4", "evt_b5"],
        "B in order"
    );
    let a1_success = received.iter().rposition(|r| r.id == "evt_a1").unwrap();
    let last_b = received
        .iter()
        .rposition(|r| r.id.starts_with("evt_b"))
        .unwrap();
    assert!(last_b < a1_success, "B flowed while A was blocked");
}

#[actix_rt::test]
async fn loopback_forms_are_refused_without_the_allow_list_and_never_dialed() {
    let mut receiver = TestReceiver::always_ok().unwrap();
    let port = receiver.addr.port();
    for (url, reason) in [
        (
            format!("http://127.0.0.1:{port}/hook"),
            "refused: 127.0.0.1 is a non-public address (loopback); list 127.0.0.1 in webhook.allow_hosts to allow it",
        ),
        (
            format!("http://[::1]:{port}/hook"),
            "refused: ::1 is a non-public address (loopback); list ::1 in webhook.allow_hosts to allow it",
        ),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/hook"),
            "refused: ::ffff:127.0.0.1 is a non-public address (IPv4-mapped loopback); list ::ffff:127.0.0.1 in webhook.allow_hosts to allow it",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut h = start(
            &settings(&dir, &url, |s| {
                s.webhook.allow_hosts.clear();
                s.webhook.retry_schedule_secs.clear();
            }),
            dir,
        );
        h.submit("evt_ssrf", 1, "agent-1").await;
        let reports = h.until_final("evt_ssrf").await;
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].error.as_deref(), Some(reason), "{url}");
        assert_eq!(reports[0].status, None);
    }
    assert!(
        receiver.next(Duration::from_millis(200)).await.is_none(),
        "nothing was dialed"
    );
}

#[actix_rt::test]
async fn a_redirect_is_not_followed_and_counts_as_a_failure() {
    let mut receiver = TestReceiver::start(Box::new(|_| Reply::ok())).unwrap();
    let target = format!("http://127.0.0.1:{}/elsewhere", receiver.addr.port());
    receiver.set_script(Box::new(move |r| {
        if r.path == "/hook" {
            Reply::status(302).header("Location", &target)
        } else {
            Reply::ok()
        }
    }));
    let dir = tempfile::tempdir().unwrap();
    let mut h = start(
        &settings(&dir, &receiver.url, |s| {
            s.webhook.retry_schedule_secs.clear()
        }),
        dir,
    );
    h.submit("evt_redirect", 1, "agent-1").await;
    let reports = h.until_final("evt_redirect").await;
    let error = reports[0].error.as_deref().unwrap();
    assert!(
        error.starts_with("redirect not followed: 302 to http://127.0.0.1:"),
        "{error}"
    );
    assert!(matches!(
        reports[0].result,
        ReportResult::DeadLettered { .. }
    ));
    assert_eq!(next(&mut receiver).await.path, "/hook");
    assert!(
        receiver.next(Duration::from_millis(200)).await.is_none(),
        "/elsewhere never asked"
    );
}

#[actix_rt::test]
async fn endpoints_get_only_their_scopes_and_violations() {
    let receiver = TestReceiver::always_ok().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let h = start(
        &settings(&dir, &receiver.url, |s| {
            s.webhooks[0].scopes = vec!["supervisory_only".into()];
            s.webhooks[0].violations_only = true;
        }),
        dir,
    );
    let send = |b: agentcast::event::Broadcast| {
        let actor = h.actor.clone();
        async move {
            actor
                .send(Submit {
                    broadcast: Arc::new(b),
                })
                .await
                .unwrap()
                .unwrap()
                .endpoints
        }
    };
    assert_eq!(
        send(broadcast("evt_1", 1, "a", Scope::GlobalRouting)).await,
        0
    );
    assert_eq!(
        send(broadcast("evt_2", 2, "a", Scope::SupervisoryOnly)).await,
        0
    );
    let mut with_violation = broadcast("evt_3", 3, "a", Scope::SupervisoryOnly);
    with_violation.violations = vec![agentcast::event::ViolationKind::OffShift];
    assert_eq!(send(with_violation).await, 1);
}

#[actix_rt::test]
async fn a_disabled_endpoint_stays_disabled_across_a_restart_until_its_url_changes() {
    let receiver = TestReceiver::start(Box::new(|_| Reply::status(410))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let first = settings(&dir, &receiver.url, |_| {});
    let path = dir.path().to_owned();
    let mut h = start(&first, dir);
    h.submit("evt_gone", 1, "agent-1").await;
    h.until_final("evt_gone").await;
    h.audit_of_kind(AuditKind::WebhookEndpoint).await;
    // Everything recorded so far is in the outbox (the endpoint state is written before the
    // attempt's outcome, and Flush waits for the outcomes).
    h.actor
        .send(agentcast::actors::webhook::Flush)
        .await
        .unwrap();

    // A second instance on the same outbox (as after a restart) starts it disabled.
    let again = tempfile::tempdir_in(&path).unwrap();
    let mut restarted = start(&first, again);
    let health = &restarted.actor.send(ListEndpoints).await.unwrap().unwrap()[0];
    assert!(!health.enabled);
    assert!(health.disabled_reason.as_deref().unwrap().contains("410"));
    restarted.submit("evt_while_disabled", 2, "agent-1").await;
    let reports = restarted.until_final("evt_while_disabled").await;
    assert_eq!(reports.last().unwrap().attempt, 0, "not sent");

    // A new URL is taken as the operator's fix: enabled again, and audited.
    let mut moved = first.clone();
    moved.webhooks[0].url = format!("{}/v2", receiver.url);
    let mut fixed = start(&moved, tempfile::tempdir_in(&path).unwrap());
    let record = fixed.audit_of_kind(AuditKind::WebhookEndpoint).await;
    assert_eq!(record.details["action"], "enabled");
    assert!(fixed.actor.send(ListEndpoints).await.unwrap().unwrap()[0].enabled);
}
