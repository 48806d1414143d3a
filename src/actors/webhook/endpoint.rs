//! Endpoints as the webhook actor uses them: configuration resolved, secrets read, defaults
//! applied.

use std::{path::PathBuf, sync::Arc, time::Duration};

use url::Url;

use super::{retry::RetryPolicy, signing::Signer, ssrf::SsrfGuard};
use crate::{
    config::{ConfigError, Problem, Settings, WebhookSettings, secs},
    event::{Broadcast, Scope},
    store::Synchronous,
};

/// One endpoint, ready to deliver to.
#[derive(Debug)]
pub struct Endpoint {
    pub id: Arc<str>,
    pub url: Url,
    pub signer: Signer,
    pub scopes: Vec<Scope>,
    pub violations_only: bool,
    /// Time limit of one attempt: resolve, connect, send, read the answer.
    pub timeout: Duration,
    /// Deliveries in flight at once (at most one per agent).
    pub concurrency: usize,
    pub retry: RetryPolicy,
}

impl Endpoint {
    /// Whether a broadcast goes to this endpoint.
    pub fn wants(&self, broadcast: &Broadcast) -> bool {
        self.scopes.contains(&broadcast.scope)
            && (!self.violations_only || !broadcast.violations.is_empty())
    }

    /// The URL without credentials, query or fragment, for logs and the admin API.
    pub fn display_url(&self) -> String {
        let mut shown = self.url.clone();
        // Setting these on an http(s) URL cannot fail.
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        shown.set_query(None);
        shown.set_fragment(None);
        shown.to_string()
    }

    /// From the settings of endpoint `index`: URL, secret and defaults as the configuration
    /// resolves them ([`WebhookSettings::resolve`], the one place they are checked).
    fn from_settings(
        index: usize,
        hook: &WebhookSettings,
        settings: &Settings,
        secret_of: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, Vec<Problem>> {
        let shared = &settings.webhook;
        let resolved = hook.resolve(index, shared, secret_of)?;
        Ok(Self {
            id: hook.id.as_str().into(),
            url: resolved.url,
            signer: Signer::new(&resolved.secrets),
            scopes: resolved.scopes,
            violations_only: hook.violations_only,
            timeout: resolved.timeout,
            concurrency: resolved.concurrency,
            retry: RetryPolicy::from_settings(shared, hook.retry_schedule_secs.as_deref()),
        })
    }
}

/// Everything the webhook actor is configured with.
#[derive(Debug)]
pub struct WebhookConfig {
    pub endpoints: Vec<Arc<Endpoint>>,
    pub outbox_path: PathBuf,
    pub synchronous: Synchronous,
    pub guard: SsrfGuard,
    /// An endpoint failing without a success for this long is disabled.
    pub disable_after: Duration,
    pub max_response_bytes: usize,
    pub batch_max: usize,
    pub accept_queue_capacity: usize,
    pub max_queued_per_endpoint: usize,
    pub retention: Duration,
    pub maintenance_interval: Duration,
}

impl WebhookConfig {
    /// From validated settings, reading each endpoint's secret from the environment.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        Self::from_settings_with(settings, &|var| std::env::var(var).ok())
    }

    /// From validated settings, reading each endpoint's secret with `secret_of` (tests pass
    /// secrets this way instead of through the process environment). Every problem is reported.
    pub fn from_settings_with(
        settings: &Settings,
        secret_of: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut endpoints = Vec::new();
        let mut problems = Vec::new();
        for (i, hook) in settings.webhooks.iter().enumerate() {
            match Endpoint::from_settings(i, hook, settings, secret_of) {
                Ok(endpoint) => endpoints.push(Arc::new(endpoint)),
                Err(found) => problems.extend(found),
            }
        }
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems));
        }
        let w = &settings.webhook;
        Ok(Self {
            endpoints,
            outbox_path: PathBuf::from(&w.outbox_path),
            synchronous: w.synchronous,
            guard: SsrfGuard::new(&w.allow_hosts),
            disable_after: secs(w.disable_after_secs),
            max_response_bytes: w.max_response_bytes,
            batch_max: w.batch_max.max(1),
            accept_queue_capacity: w.accept_queue_capacity.max(1),
            max_queued_per_endpoint: w.max_queued_per_endpoint.max(2),
            retention: w.retention(),
            maintenance_interval: secs(w.maintenance_interval_secs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(hooks: Vec<WebhookSettings>) -> Settings {
        let mut settings = Settings::defaults();
        settings.webhooks = hooks;
        settings
    }

    #[test]
    fn endpoint_defaults_come_from_the_webhook_section() {
        let settings = settings(vec![WebhookSettings {
            id: "crm".into(),
            url: "https://hooks.example.com/x?token=abc".into(),
            secret_env: "CRM_SECRET".into(),
            scopes: vec!["supervisory_only".into()],
            concurrency: Some(4),
            ..WebhookSettings::default()
        }]);
        let secret = super::super::signing::generate_secret();
        let config = WebhookConfig::from_settings_with(&settings, &|var| {
            (var == "CRM_SECRET").then(|| secret.clone())
        })
        .unwrap();
        let e = &config.endpoints[0];
        assert_eq!(&*e.id, "crm");
        assert_eq!(e.scopes, [Scope::SupervisoryOnly]);
        assert_eq!((e.concurrency, e.timeout), (4, Duration::from_secs(15)));
        assert_eq!(e.retry.max_attempts(), 8);
        assert_eq!(e.display_url(), "https://hooks.example.com/x");
    }

    #[test]
    fn a_missing_or_bad_secret_names_its_variable() {
        let settings = settings(vec![
            WebhookSettings {
                id: "a".into(),
                url: "https://a.example.com/".into(),
                secret_env: "A_SECRET".into(),
                ..WebhookSettings::default()
            },
            WebhookSettings {
                id: "b".into(),
                url: "https://b.example.com/".into(),
                secret_env: "B_SECRET".into(),
                ..WebhookSettings::default()
            },
        ]);
        let err = WebhookConfig::from_settings_with(&settings, &|var| {
            (var == "B_SECRET").then(|| "whsec_short".to_owned())
        })
        .unwrap_err();
        let ConfigError::Invalid(problems) = err else {
            panic!("expected problems")
        };
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["A_SECRET", "B_SECRET"]);
        assert!(
            problems[0].message.contains("is not set"),
            "{}",
            problems[0]
        );
    }
}
