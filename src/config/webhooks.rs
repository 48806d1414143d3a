//! `[[webhooks]]`: the endpoints (supervisor systems) that receive every broadcast as a signed
//! POST. Each endpoint's URL and secret are checked here, once: [`WebhookSettings::resolve`]
//! reads and parses the secret and is what both the pre-flight checks and the webhook actor
//! use. Keys an endpoint leaves out take the `[webhook]` defaults.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use super::{
    Problem, Problems, WebhookDeliverySettings, duration,
    webhook::{check_concurrency, check_schedule, check_timeout},
    webhook_secret::{WebhookSecrets, looks_like_a_secret},
};
use crate::event::Scope;

/// The environment variable holding the secret of the endpoint `WEBHOOK_URL` adds.
pub const WEBHOOK_SECRET_VAR: &str = "WEBHOOK_SECRET";

/// One webhook endpoint (`[[webhooks]]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Stable name: metrics, logs, the admin API and the outbox know the endpoint by it.
    pub id: String,
    pub url: String,
    /// Environment variable holding the signing secret: `whsec_` + base64, or several separated
    /// by spaces during a key rotation (every one signs).
    #[serde(default)]
    pub secret_env: String,
    /// Notification scopes delivered; empty or `*` means all.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Deliver only states that carry violations.
    #[serde(default)]
    pub violations_only: bool,
    /// Time limit of one attempt; default `webhook.timeout_secs`.
    #[serde(default)]
    pub timeout_secs: Option<f64>,
    /// Deliveries in flight at once (never two of one agent); default `webhook.concurrency`.
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// Waits before each retry; default `webhook.retry_schedule_secs`.
    #[serde(default)]
    pub retry_schedule_secs: Option<Vec<f64>>,
}

/// An endpoint with its URL parsed, its secret read and its defaults applied.
#[derive(Debug, Clone)]
pub struct ResolvedWebhook {
    pub url: Url,
    pub secrets: WebhookSecrets,
    pub scopes: Vec<Scope>,
    /// Time limit of one attempt.
    pub timeout: Duration,
    /// Deliveries in flight at once (at least 1).
    pub concurrency: usize,
}

impl WebhookSettings {
    fn key(index: usize, field: &str) -> String {
        format!("webhooks[{index}].{field}")
    }

    /// What can be checked without the environment. `earlier` are the endpoints before this
    /// one (ids must be unique).
    pub(super) fn validate(&self, i: usize, earlier: &[WebhookSettings], p: &mut Problems) {
        let key = |field| Self::key(i, field);
        p.check(!self.id.trim().is_empty(), &key("id"), "must not be empty");
        p.check(
            self.id.is_empty() || !earlier.iter().any(|h| h.id == self.id),
            &key("id"),
            format!("{:?} is used by an earlier endpoint", self.id),
        );
        if let Err(err) = super::http_url(&self.url) {
            p.push(Problem::new(key("url"), err));
        }
        if let Err(problem) = self.check_secret_env(i) {
            p.push(problem);
        }
        p.scopes(&key("scopes"), &self.scopes, true);
        if let Some(timeout) = self.timeout_secs {
            check_timeout(p, &key("timeout_secs"), timeout);
        }
        if let Some(concurrency) = self.concurrency {
            check_concurrency(p, &key("concurrency"), concurrency);
        }
        if let Some(schedule) = &self.retry_schedule_secs {
            check_schedule(p, &key("retry_schedule_secs"), schedule);
        }
    }

    /// `secret_env` names an environment variable. A secret written there instead is refused
    /// without being shown.
    fn check_secret_env(&self, i: usize) -> Result<(), Problem> {
        let key = Self::key(i, "secret_env");
        let name = self.secret_env.trim();
        if name.is_empty() {
            Err(Problem::new(
                key,
                "must name the environment variable holding the endpoint's whsec_ secret",
            ))
        } else if looks_like_a_secret(name) {
            Err(Problem::new(
                key,
                "holds a secret, not the name of an environment variable: secrets are read only \
                 from the environment, so put it in a variable (e.g. CRM_WEBHOOK_SECRET) and name \
                 that variable here (the value is not shown)",
            ))
        } else if !is_variable_name(name) {
            Err(Problem::new(
                key,
                "must be the name of an environment variable: letters, digits and _, not \
                 starting with a digit (the value is not shown)",
            ))
        } else {
            Ok(())
        }
    }

    /// The endpoint as the webhook actor delivers to it: URL parsed, secret read with
    /// `secret_of` and parsed, defaults from `shared` applied. Every problem is reported,
    /// naming its key or variable; no secret is ever part of one.
    pub fn resolve(
        &self,
        i: usize,
        shared: &WebhookDeliverySettings,
        secret_of: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ResolvedWebhook, Vec<Problem>> {
        let mut problems = Vec::new();
        let url = super::http_url(&self.url)
            .map_err(|err| problems.push(Problem::new(Self::key(i, "url"), err)))
            .ok();
        let secrets = self
            .read_secrets(i, secret_of)
            .map_err(|problem| problems.push(problem))
            .ok();
        let scopes = if self.scopes.is_empty() || self.scopes.iter().any(|s| s == "*") {
            Scope::ALL.to_vec()
        } else {
            self.scopes.iter().filter_map(|s| Scope::parse(s)).collect()
        };
        match (url, secrets) {
            (Some(url), Some(secrets)) if problems.is_empty() => Ok(ResolvedWebhook {
                url,
                secrets,
                scopes,
                timeout: duration::secs(self.timeout_secs.unwrap_or(shared.timeout_secs)),
                concurrency: self.concurrency.unwrap_or(shared.concurrency).max(1) as usize,
            }),
            _ => Err(problems),
        }
    }

    fn read_secrets(
        &self,
        i: usize,
        secret_of: &dyn Fn(&str) -> Option<String>,
    ) -> Result<WebhookSecrets, Problem> {
        self.check_secret_env(i)?;
        let var = self.secret_env.trim();
        let value = secret_of(var).filter(|s| !s.trim().is_empty()).ok_or_else(|| {
            Problem::new(
                var,
                format!(
                    "is not set: webhook endpoint {:?} needs its signing secret (whsec_ + base64 \
                     of 24-64 random bytes, e.g. \"whsec_$(openssl rand -base64 32)\")",
                    self.id
                ),
            )
        })?;
        WebhookSecrets::parse(&value).map_err(|err| {
            Problem::new(
                var,
                format!(
                    "{err} (the signing secret of webhook endpoint {:?})",
                    self.id
                ),
            )
        })
    }
}

/// An environment variable name as shells write them: letters, digits and `_`, not starting
/// with a digit.
fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
