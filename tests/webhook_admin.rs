//! The webhook admin API over HTTP: endpoint health, dead letters after exhaustion, replay of
//! one or all since a time (delivered with the same webhook-id), attempts with truncated
//! answers, re-enable, and admin-only access.

mod common;

use std::sync::{Arc, Mutex};

use actix_web::{App, test, web};
use agentcast::{
    actors::webhook::{
        DeliveryReport, ReportResult, Submit, WebhookActor, WebhookConfig, WebhookMetrics,
        signing::generate_secret,
    },
    config::{Settings, WebhookSettings},
    event::Scope,
};
use common::{
    WAIT,
    forward::forward,
    keys::{ADMIN_KEY, VIEWER_KEY, admin_and_viewer},
    receiver::{Reply, TestReceiver, broadcast},
};
use serde_json::Value;
use tokio::sync::mpsc::UnboundedReceiver;

async fn until_final(
    reports: &mut UnboundedReceiver<DeliveryReport>,
    event_id: &str,
) -> DeliveryReport {
    until_all_final(reports, &[event_id]).await.remove(0)
}

/// Reports until each of `event_ids` has a final one (delivered or dead-lettered), in any
/// order; returns those final reports in the order of `event_ids`.
async fn until_all_final(
    reports: &mut UnboundedReceiver<DeliveryReport>,
    event_ids: &[&str],
) -> Vec<DeliveryReport> {
    let mut finals: Vec<Option<DeliveryReport>> = vec![None; event_ids.len()];
    while finals.iter().any(Option::is_none) {
        let r = tokio::time::timeout(WAIT, reports.recv())
            .await
            .unwrap_or_else(|_| panic!("no final report for all of {event_ids:?}"))
            .unwrap();
        if matches!(r.result, ReportResult::Retrying { .. }) {
            continue;
        }
        if let Some(i) = event_ids.iter().position(|id| *id == &*r.event_id) {
            finals[i] = Some(r);
        }
    }
    finals.into_iter().flatten().collect()
}

#[actix_rt::test]
async fn exhausted_events_are_dead_lettered_and_replay_delivers_them_with_the_same_id() {
    let failing = Arc::new(Mutex::new(true));
    let mut receiver = TestReceiver::start(Box::new({
        let failing = failing.clone();
        move |r| {
            if *failing.lock().unwrap() && r.id != "evt_fine" {
                Reply::status(500).body("x".repeat(10_000))
            } else {
                Reply::ok()
            }
        }
    }))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::defaults();
    settings.webhook.outbox_path = dir.path().join("outbox.sqlite").display().to_string();
    settings.webhook.allow_hosts = vec!["127.0.0.1".into()];
    settings.webhook.retry_schedule_secs = vec![0.01, 0.01];
    settings.webhook.max_response_bytes = 100;
    settings.webhooks = vec![WebhookSettings {
        id: "crm".into(),
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
        None,
        Some(observer),
    )
    .unwrap();
    let submit = |id: &'static str, seq: u64| {
        let webhooks = webhooks.clone();
        async move {
            let b = Arc::new(broadcast(
                id,
                seq,
                &format!("agent-{id}"),
                Scope::GlobalRouting,
            ));
            webhooks
                .send(Submit { broadcast: b })
                .await
                .unwrap()
                .unwrap();
        }
    };

    let keys = admin_and_viewer();
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(keys))
            .app_data(web::Data::new(webhooks.clone()))
            .configure(agentcast::http::webhooks::routes),
    )
    .await;
    let request = |method: &str, uri: &str, key: &str| {
        let req = match method {
            "POST" => test::TestRequest::post(),
            _ => test::TestRequest::get(),
        };
        req.uri(uri)
            .insert_header(("Authorization", format!("Bearer {key}")))
            .to_request()
    };
    macro_rules! json {
        ($method:expr, $uri:expr) => {{
            let resp = test::call_service(&app, request($method, &$uri, ADMIN_KEY)).await;
            assert!(
                resp.status().is_success(),
                "{} {} -> {}",
                $method,
                $uri,
                resp.status()
            );
            let body: Value = test::read_body_json(resp).await;
            body
        }};
    }
    let status = |method: &'static str, uri: String, key: &'static str| {
        let app = &app;
        async move {
            test::call_service(app, request(method, &uri, key))
                .await
                .status()
                .as_u16()
        }
    };

    // Reports go out as attempts end; the outbox records them in its next batch. Flush waits
    // for that, so what the admin API reads is settled.
    let flush = {
        let webhooks = webhooks.clone();
        move || {
            let webhooks = webhooks.clone();
            async move {
                webhooks
                    .send(agentcast::actors::webhook::Flush)
                    .await
                    .unwrap()
            }
        }
    };
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    submit("evt_lost", 1).await;
    let dead = until_final(&mut reports, "evt_lost").await;
    assert!(
        matches!(dead.result, ReportResult::DeadLettered { .. }),
        "{dead:?}"
    );
    assert_eq!(dead.attempt, 3, "1 + two retries");
    submit("evt_fine", 2).await;
    until_final(&mut reports, "evt_fine").await;
    flush.clone()().await;

    let body = json!("GET", "/v1/webhooks");
    let hook = &body["endpoints"][0];
    assert_eq!(hook["id"], "crm");
    assert_eq!(hook["enabled"], true);
    assert_eq!(hook["dead_letters"], 1);
    assert_eq!(hook["pending"], 0);
    assert_eq!(hook["last_failure"]["status"], 500);
    assert!(
        hook["failing_since"].is_null(),
        "evt_fine's success ended the failing streak"
    );
    assert!(hook["last_success_at"].is_string());
    assert_eq!(json!("GET", "/v1/webhooks/crm")["max_attempts"], 3);

    let body = json!("GET", "/v1/webhooks/crm/dead-letters");
    let letters = body["dead_letters"].as_array().unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["event_id"], "evt_lost");
    assert_eq!(letters[0]["agent_id"], "agent-evt_lost");
    assert_eq!(letters[0]["attempts"], 3);
    assert_eq!(letters[0]["last_status"], 500);
    assert_eq!(
        letters[0]["reason"],
        "gave up after 3 attempts; last: HTTP 500"
    );

    let body = json!("GET", "/v1/webhooks/crm/events/evt_lost/attempts");
    let attempts = body["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3);
    assert_eq!(
        attempts[0]["response"].as_str().unwrap().len(),
        100,
        "answers are truncated"
    );
    assert!(attempts[0]["duration_ms"].as_f64().unwrap() > 0.0);

    // Replay one: delivered again under its own webhook-id.
    *failing.lock().unwrap() = false;
    receiver.drain();
    let body = json!("POST", "/v1/webhooks/crm/dead-letters/evt_lost/replay");
    assert_eq!(body["replayed"], 1);
    let delivered = until_final(&mut reports, "evt_lost").await;
    flush.clone()().await;
    assert_eq!(delivered.result, ReportResult::Delivered);
    assert_eq!(delivered.attempt, 1, "a replay starts its attempts again");
    assert_eq!(receiver.next(WAIT).await.unwrap().id, "evt_lost");
    let body = json!("GET", "/v1/webhooks/crm/dead-letters");
    assert!(body["dead_letters"].as_array().unwrap().is_empty());
    let attempts = json!("GET", "/v1/webhooks/crm/events/evt_lost/attempts");
    assert_eq!(
        attempts["attempts"].as_array().unwrap().len(),
        4,
        "history is kept"
    );

    // Replay all since a time.
    *failing.lock().unwrap() = true;
    submit("evt_p", 3).await;
    submit("evt_q", 4).await;
    until_all_final(&mut reports, &["evt_p", "evt_q"]).await;
    flush.clone()().await;
    *failing.lock().unwrap() = false;
    receiver.drain();
    let uri = format!(
        "/v1/webhooks/crm/replay?since={}",
        url::form_urlencoded::byte_serialize(since.to_rfc3339().as_bytes()).collect::<String>()
    );
    assert_eq!(json!("POST", uri)["replayed"], 2);
    let mut ids = vec![
        receiver.next(WAIT).await.unwrap().id,
        receiver.next(WAIT).await.unwrap().id,
    ];
    ids.sort();
    assert_eq!(ids, ["evt_p", "evt_q"]);

    // Enabling an enabled endpoint is harmless.
    assert_eq!(json!("POST", "/v1/webhooks/crm/enable")["enabled"], true);

    // Refusals.
    assert_eq!(status("GET", "/v1/webhooks".into(), VIEWER_KEY).await, 403);
    assert_eq!(status("GET", "/v1/webhooks".into(), "nobody").await, 401);
    assert_eq!(
        status("GET", "/v1/webhooks/nope".into(), ADMIN_KEY).await,
        404
    );
    assert_eq!(
        status(
            "POST",
            "/v1/webhooks/crm/dead-letters/evt_unknown/replay".into(),
            ADMIN_KEY
        )
        .await,
        404
    );
    assert_eq!(
        status("POST", "/v1/webhooks/crm/replay".into(), ADMIN_KEY).await,
        400
    );
    assert_eq!(
        status(
            "GET",
            "/v1/webhooks/crm/dead-letters?since=tuesday".into(),
            ADMIN_KEY
        )
        .await,
        400
    );
}
