//! Typed settings, one file per section of `config.toml`, each with its defaults and its own
//! validation into one [`Problems`] list.
//!
//! Layers, later winning: the defaults compiled in from the repository's `config.toml` → the
//! file given with `--config` (or `./config.toml` when present) → the seed's variables
//! (`GENESYS_HOST`, `WEBHOOK_URL`) → `AGENTCAST_<SECTION>_<KEY>`. Then [`Settings::validate`]
//! reports every problem at once, each naming its key, and [`Settings::preflight`] what only
//! the running system can tell (secrets in the environment, the listen address, the stores'
//! files). Secrets are read from the environment only ([`Credentials`], each webhook's
//! `secret_env`), and never appear in a problem.
//!
//! | file | section |
//! |---|---|
//! | [`genesys`] | `[genesys]` and the OAuth credentials |
//! | [`http`] | `[http]` |
//! | [`log`] | `[log]` |
//! | [`upstream`] | `[upstream]` |
//! | [`reference`] | `[reference]` |
//! | [`validation`] | `[validation]` and its scope rules |
//! | [`sim`] | `[sim]` |
//! | [`api_keys`] | `[[api_keys]]` |
//! | [`subscribers`] | `[subscribers]` |
//! | [`webhooks`] | `[[webhooks]]`, with [`webhook_secret`] for their secrets |
//! | [`webhook`] | `[webhook]` |
//! | [`audit`] | `[audit]` |

mod api_keys;
mod audit;
mod duration;
mod genesys;
mod http;
mod log;
mod preflight;
mod problem;
mod reference;
mod sim;
mod store_path;
mod subscribers;
mod upstream;
mod validation;
mod webhook;
mod webhook_secret;
mod webhooks;

use std::path::Path;

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

pub use self::{
    api_keys::ApiKeySettings,
    audit::AuditSettings,
    duration::{SECS_PER_DAY, SECS_PER_HOUR, SecsError, secs, try_secs},
    genesys::{Credentials, GenesysSettings, Ignored},
    http::{BindError, HttpSettings},
    log::{LogFormat, LogSettings},
    preflight::{Listener, Preflight},
    problem::{Problem, Problems, http_url},
    reference::ReferenceSettings,
    sim::SimSettings,
    subscribers::SubscriberSettings,
    upstream::UpstreamSettings,
    validation::{Deliver, InteractionsMatch, ScopeRule, ValidationSettings},
    webhook::WebhookDeliverySettings,
    webhook_secret::{SECRET_PREFIX, SecretError, WebhookSecrets},
    webhooks::{ResolvedWebhook, WEBHOOK_SECRET_VAR, WebhookSettings},
};

/// The repository's `config.toml`: the documented defaults.
pub const DEFAULTS_TOML: &str = include_str!("../../config.toml");
/// Prefix of the environment overrides.
pub const ENV_PREFIX: &str = "AGENTCAST_";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub genesys: GenesysSettings,
    pub http: HttpSettings,
    pub log: LogSettings,
    pub upstream: UpstreamSettings,
    pub reference: ReferenceSettings,
    pub validation: ValidationSettings,
    pub sim: SimSettings,
    /// Webhook endpoints (`[[webhooks]]`); `WEBHOOK_URL` adds one named `default`.
    #[serde(default)]
    pub webhooks: Vec<WebhookSettings>,
    /// Keys that may subscribe or use the admin API (`[[api_keys]]`).
    #[serde(default)]
    pub api_keys: Vec<ApiKeySettings>,
    /// WebSocket subscribers: limits, heartbeat, queues, recovery (`[subscribers]`).
    #[serde(default)]
    pub subscribers: SubscriberSettings,
    /// Webhook delivery shared by every endpoint: outbox, retries, SSRF allow-list (`[webhook]`).
    #[serde(default)]
    pub webhook: WebhookDeliverySettings,
    /// The durable, hash-chained audit trail (`[audit]`).
    #[serde(default)]
    pub audit: AuditSettings,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path} does not exist")]
    MissingFile { path: String },

    #[error("invalid configuration:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

impl Settings {
    /// Loads the layers (see the module docs) and validates the result.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let settings = Self::load_unvalidated(path)?;
        let problems = settings.validate();
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// The embedded defaults alone, validated (tests and the emulator start from these).
    pub fn defaults() -> Self {
        // expect: the embedded config.toml is checked by the `defaults_are_valid` test.
        Figment::from(Toml::string(DEFAULTS_TOML))
            .extract()
            .expect("embedded config.toml is valid")
    }

    fn load_unvalidated(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS_TOML));
        match path {
            Some(path) if !path.exists() => {
                return Err(ConfigError::MissingFile {
                    path: path.display().to_string(),
                });
            }
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new("config.toml").exists() => {
                figment = figment.merge(Toml::file_exact("config.toml"));
            }
            None => {}
        }
        if let Some(host) = std::env::var("GENESYS_HOST")
            .ok()
            .filter(|h| !h.trim().is_empty())
        {
            figment = figment.merge(Serialized::default("genesys.region", host.trim()));
        }
        figment = figment.merge(
            Env::prefixed(ENV_PREFIX)
                // AGENTCAST_<SECTION>_<KEY>: the section is the first word, the key the rest.
                .map(|key| {
                    key.as_str()
                        .to_ascii_lowercase()
                        .replacen('_', ".", 1)
                        .into()
                }),
        );
        let mut settings: Settings = figment
            .extract()
            .map_err(|err| ConfigError::Invalid(problems_of(err)))?;
        if let Some(url) = std::env::var("WEBHOOK_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
        {
            settings.webhooks.push(WebhookSettings {
                id: "default".into(),
                url: url.trim().into(),
                secret_env: WEBHOOK_SECRET_VAR.into(),
                ..WebhookSettings::default()
            });
        }
        Ok(settings)
    }

    /// Every problem in the settings, each naming its key; empty when all is well. Each
    /// section checks itself, in the order of `config.toml`.
    pub fn validate(&self) -> Vec<Problem> {
        let mut p = Problems::new();
        self.genesys.validate(&mut p);
        self.http.validate(&mut p);
        self.log.validate(&mut p);
        self.upstream.validate(&mut p);
        self.reference.validate(&mut p);
        self.validation.validate(&mut p);
        self.sim.validate(&mut p);
        for (i, key) in self.api_keys.iter().enumerate() {
            key.validate(i, &mut p);
        }
        for (i, hook) in self.webhooks.iter().enumerate() {
            hook.validate(i, &self.webhooks[..i], &mut p);
        }
        self.subscribers.validate(&mut p);
        self.webhook.validate(&mut p);
        self.audit.validate(&mut p);
        p.into_vec()
    }
}

/// A value of the wrong type, an unknown key, unparsable TOML: one problem per error, named
/// by its key and where its value came from (the file, or the environment variable).
fn problems_of(err: figment::Error) -> Vec<Problem> {
    err.into_iter()
        .map(|e| {
            let key = e.path.join(".").to_ascii_lowercase();
            let source = match e.metadata.as_ref().map(|m| m.name.as_ref()) {
                Some(name) if name.contains("environment") => {
                    format!(
                        " (from the environment variable {ENV_PREFIX}{})",
                        key.replacen('.', "_", 1).to_ascii_uppercase()
                    )
                }
                Some(name) => match e.metadata.as_ref().and_then(|m| m.source.as_ref()) {
                    Some(source) => format!(" (from {source})"),
                    None => format!(" (from {name})"),
                },
                None => String::new(),
            };
            Problem::new(
                if key.is_empty() {
                    "configuration".to_owned()
                } else {
                    key
                },
                format!("{}{source}", e.kind),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests;
