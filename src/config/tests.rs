//! The sections validating together: keys named, defaults equal to config.toml, secrets never
//! shown, and the pre-flight checks.

use super::*;

fn keys(problems: &[Problem]) -> Vec<&str> {
    problems.iter().map(|p| p.key.as_str()).collect()
}

#[test]
fn defaults_are_valid() {
    let settings = Settings::defaults();
    assert_eq!(settings.validate(), vec![]);
    assert_eq!(
        settings.genesys.resolved_api_base().unwrap(),
        "https://api.mypurecloud.com"
    );
    assert_eq!(
        settings.genesys.resolved_login_base().unwrap(),
        "https://login.mypurecloud.com"
    );
}

#[test]
fn every_problem_is_reported_with_its_key() {
    let mut settings = Settings::defaults();
    settings.genesys.region = "moon.example".into();
    settings.genesys.requests_per_minute = 0;
    settings.http.listen = "nowhere".into();
    settings.genesys.client_secret = Some(Ignored);
    assert_eq!(
        keys(&settings.validate()),
        [
            "genesys.client_secret",
            "genesys.region",
            "genesys.requests_per_minute",
            "http.listen"
        ]
    );
}

#[test]
fn subscriber_defaults_match_config_toml_and_bad_heartbeats_are_refused() {
    let mut settings = Settings::defaults();
    assert_eq!(settings.subscribers, SubscriberSettings::default());
    settings.subscribers.ping_interval_secs = 20;
    settings.subscribers.stale_timeout_secs = 30;
    settings.subscribers.queue_max_bytes = 100;
    assert_eq!(
        keys(&settings.validate()),
        [
            "subscribers.stale_timeout_secs",
            "subscribers.queue_max_bytes"
        ]
    );
}

#[test]
fn webhook_and_audit_defaults_match_config_toml() {
    let settings = Settings::defaults();
    assert_eq!(settings.webhook, WebhookDeliverySettings::default());
    assert_eq!(settings.audit, AuditSettings::default());
    assert!(settings.webhooks.is_empty());
}

#[test]
fn webhook_problems_name_their_keys() {
    let mut settings = Settings::defaults();
    let hook = WebhookSettings {
        id: "crm".into(),
        url: "ftp://example.com".into(),
        scopes: vec!["everything".into()],
        timeout_secs: Some(60.0),
        ..WebhookSettings::default()
    };
    settings.webhooks = vec![hook.clone(), hook];
    settings.webhook.retry_jitter = 1.5;
    settings.audit.batch_max = 0;
    assert_eq!(
        keys(&settings.validate()),
        [
            "webhooks[0].url",
            "webhooks[0].secret_env",
            "webhooks[0].scopes",
            "webhooks[0].timeout_secs",
            "webhooks[1].id",
            "webhooks[1].url",
            "webhooks[1].secret_env",
            "webhooks[1].scopes",
            "webhooks[1].timeout_secs",
            "webhook.retry_jitter",
            "audit.batch_max",
        ]
    );
}

#[test]
fn an_explicit_api_base_replaces_the_region_and_serves_login_too() {
    let mut settings = Settings::defaults();
    settings.genesys.region = "not-a-region".into();
    settings.genesys.api_base = "http://127.0.0.1:4000/".into();
    assert_eq!(settings.validate(), vec![]);
    assert_eq!(
        settings.genesys.resolved_api_base().unwrap(),
        "http://127.0.0.1:4000"
    );
    assert_eq!(
        settings.genesys.resolved_login_base().unwrap(),
        "http://127.0.0.1:4000"
    );
}

/// Before, these passed validation and became zero (every record purged at once, retries
/// without a wait) or a panic (an infinite heartbeat).
#[test]
fn seconds_that_no_duration_can_hold_are_problems_not_zero() {
    let mut settings = Settings::defaults();
    settings.upstream.heartbeat_interval_secs = f64::INFINITY;
    settings.webhook.retry_schedule_secs = vec![5.0, 1e300];
    settings.webhook.max_retry_after_secs = 1e300;
    settings.webhook.retention_hours = 1e300;
    settings.audit.retention_days = 1e300;
    let problems = settings.validate();
    assert_eq!(
        keys(&problems),
        [
            "upstream.heartbeat_interval_secs",
            "webhook.retry_schedule_secs",
            "webhook.max_retry_after_secs",
            "webhook.retention_hours",
            "audit.retention_days",
        ]
    );
    assert!(
        problems
            .iter()
            .all(|p| p.message.contains("too long for a duration")),
        "{problems:?}"
    );
    assert!(
        problems[1].message.starts_with("wait 2 (1e300)"),
        "{}",
        problems[1]
    );
}

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn hook(secret_env: &str) -> WebhookSettings {
    WebhookSettings {
        id: "crm".into(),
        url: "https://hooks.example.com/x".into(),
        secret_env: secret_env.into(),
        ..WebhookSettings::default()
    }
}

#[test]
fn a_secret_written_as_secret_env_is_refused_and_never_shown() {
    let mut settings = Settings::defaults();
    settings.webhooks = vec![hook(SECRET), hook("not a name")];
    settings.webhooks[1].id = "other".into();
    let problems = settings.validate();
    assert_eq!(
        keys(&problems),
        ["webhooks[0].secret_env", "webhooks[1].secret_env"]
    );
    assert!(
        problems[0].message.contains("holds a secret"),
        "{}",
        problems[0]
    );
    let shown = ConfigError::Invalid(problems).to_string();
    assert!(!shown.contains("MfKQ9r8"), "{shown}");
    assert!(!shown.contains("not a name"), "{shown}");
    // Resolving without validating first refuses it in the same words.
    let err = settings.webhooks[0]
        .resolve(0, &settings.webhook, &|_| Some(SECRET.into()))
        .unwrap_err();
    assert_eq!(keys(&err), ["webhooks[0].secret_env"]);
    assert!(!format!("{err:?}").contains("MfKQ9r8"));
}

/// A data directory, with the stores in it and the listen address on any free port.
fn preflight_settings(data: &Path) -> Settings {
    let mut settings = Settings::defaults();
    settings.http.listen = "127.0.0.1:0".into();
    settings.webhook.outbox_path = data.join("outbox.sqlite").display().to_string();
    settings.audit.path = data.join("audit.sqlite").display().to_string();
    settings
}

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |var| pairs.iter().find(|(k, _)| k == var).map(|(_, v)| v.clone())
}

const CREDENTIALS: [(&str, &str); 2] = [
    ("GENESYS_CLIENT_ID", "id"),
    ("GENESYS_CLIENT_SECRET", "secret"),
];

#[test]
fn preflight_passes_a_usable_configuration_and_binds_the_listener() {
    let data = tempfile::tempdir().unwrap();
    let mut settings = preflight_settings(data.path());
    settings.webhooks = vec![hook("CRM_SECRET")];
    let mut vars = CREDENTIALS.to_vec();
    vars.push(("CRM_SECRET", SECRET));
    let ready = settings.preflight(&env(&vars)).unwrap();
    assert_eq!(ready.credentials.client_id, "id");
    assert!(matches!(ready.listener, Listener::Bound(_)));
    assert_eq!(
        std::fs::read_dir(data.path()).unwrap().count(),
        0,
        "the checks leave nothing behind"
    );
}

#[test]
fn preflight_finds_every_problem_the_environment_and_the_files_hold() {
    let data = tempfile::tempdir().unwrap();
    let mut settings = preflight_settings(data.path());
    let mut other = hook("OTHER_SECRET");
    other.id = "other".into();
    settings.webhooks = vec![hook("CRM_SECRET"), other];
    std::fs::create_dir(data.path().join("outbox.sqlite")).unwrap();
    std::fs::write(data.path().join("audit.sqlite"), "not a database").unwrap();
    settings.http.listen = "192.0.2.1:8080".into();
    let err = settings
        .preflight(&env(&[("OTHER_SECRET", "whsec_c2hvcnQ=")]))
        .unwrap_err();
    let ConfigError::Invalid(problems) = err else {
        panic!("expected problems")
    };
    assert_eq!(
        keys(&problems),
        [
            "GENESYS_CLIENT_ID",
            "GENESYS_CLIENT_SECRET",
            "CRM_SECRET",
            "OTHER_SECRET",
            "http.listen",
            "webhook.outbox_path",
            "audit.path",
        ]
    );
    assert!(
        problems[2].message.starts_with("is not set"),
        "{}",
        problems[2]
    );
    assert!(problems[3].message.contains("bytes"), "{}", problems[3]);
    assert!(!problems[3].message.contains("c2hvcnQ"));
}

#[test]
fn preflight_refuses_one_file_for_both_stores() {
    let data = tempfile::tempdir().unwrap();
    let mut settings = preflight_settings(data.path());
    settings.webhook.outbox_path = data
        .path()
        .join("sub/../audit.sqlite")
        .display()
        .to_string();
    std::fs::create_dir(data.path().join("sub")).unwrap();
    let err = settings.preflight(&env(&CREDENTIALS)).unwrap_err();
    let ConfigError::Invalid(problems) = err else {
        panic!("expected problems")
    };
    assert_eq!(keys(&problems), ["webhook.outbox_path"]);
    assert!(
        problems[0].message.contains("is also audit.path"),
        "{}",
        problems[0]
    );
}

#[test]
fn a_port_in_use_is_not_a_configuration_problem() {
    let data = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut settings = preflight_settings(data.path());
    settings.http.listen = taken.local_addr().unwrap().to_string();
    let ready = settings.preflight(&env(&CREDENTIALS)).unwrap();
    assert!(matches!(ready.listener, Listener::InUse(_)));
}
