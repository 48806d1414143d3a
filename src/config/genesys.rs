//! `[genesys]`: where the Genesys Cloud org is and the REST budget, and the OAuth client
//! credentials, which come from the environment only.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{Problem, Problems};
use crate::genesys::regions;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesysSettings {
    pub region: String,
    pub api_base: String,
    pub login_base: String,
    pub requests_per_minute: u32,
    pub request_timeout_secs: u64,
    pub max_retries: u32,
    pub retry_initial_backoff_ms: u64,
    pub retry_max_backoff_secs: u64,
    pub max_retry_after_secs: u64,
    pub max_rate_limited_secs: u64,
    pub token_refresh_margin_secs: u64,
    pub users_page_size: u32,
    /// Present only to give a clear error: secrets are never read from a file.
    #[serde(default, skip_serializing)]
    pub client_secret: Option<Ignored>,
    /// Present only to give a clear error: the client id comes from `GENESYS_CLIENT_ID`.
    #[serde(default, skip_serializing)]
    pub client_id: Option<Ignored>,
}

impl GenesysSettings {
    /// The API base URL, from `api_base` or the region.
    pub fn resolved_api_base(&self) -> Option<String> {
        if !self.api_base.is_empty() {
            return Some(self.api_base.trim_end_matches('/').to_owned());
        }
        regions::environment_host(&self.region).map(regions::api_base)
    }

    /// The login base URL, from `login_base` or derived from the API base.
    pub fn resolved_login_base(&self) -> Option<String> {
        if !self.login_base.is_empty() {
            return Some(self.login_base.trim_end_matches('/').to_owned());
        }
        self.resolved_api_base()
            .map(|api| regions::login_base_for(&api))
    }

    pub(super) fn validate(&self, p: &mut Problems) {
        if self.client_secret.is_some() {
            p.push(Problem::new(
                "genesys.client_secret",
                "secrets are read only from the environment: remove it from the file and set GENESYS_CLIENT_SECRET",
            ));
        }
        if self.client_id.is_some() {
            p.push(Problem::new(
                "genesys.client_id",
                "the client id is read from the environment: remove it from the file and set GENESYS_CLIENT_ID",
            ));
        }
        if self.api_base.is_empty() {
            p.check(
                regions::environment_host(&self.region).is_some(),
                "genesys.region",
                format!(
                    "unknown region {:?}; use one of: {}",
                    self.region,
                    regions::REGIONS
                        .iter()
                        .map(|(_, host)| *host)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        } else if let Err(err) = super::http_url(&self.api_base) {
            p.push(Problem::new("genesys.api_base", err));
        }
        if !self.login_base.is_empty()
            && let Err(err) = super::http_url(&self.login_base)
        {
            p.push(Problem::new("genesys.login_base", err));
        }
        p.check(
            (1..=300).contains(&self.requests_per_minute),
            "genesys.requests_per_minute",
            format!(
                "{} is outside 1..=300 (Genesys allows 300 per token)",
                self.requests_per_minute
            ),
        );
        p.at_least("genesys.request_timeout_secs", self.request_timeout_secs, 1);
        p.at_least(
            "genesys.retry_initial_backoff_ms",
            self.retry_initial_backoff_ms,
            1,
        );
        p.check(
            self.retry_max_backoff_secs.saturating_mul(1000) >= self.retry_initial_backoff_ms,
            "genesys.retry_max_backoff_secs",
            "must not be shorter than retry_initial_backoff_ms",
        );
        p.check(
            (1..=500).contains(&self.users_page_size),
            "genesys.users_page_size",
            format!("{} is outside 1..=500", self.users_page_size),
        );
    }
}

/// A placeholder that accepts any TOML value, so a forbidden key can be reported by name
/// (its value is never kept, so never shown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored;

impl<'de> Deserialize<'de> for Ignored {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| Ignored)
    }
}

/// OAuth client credentials, from `GENESYS_CLIENT_ID` and `GENESYS_CLIENT_SECRET` only.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: SecretString,
}

impl Credentials {
    pub const CLIENT_ID_VAR: &str = "GENESYS_CLIENT_ID";
    pub const CLIENT_SECRET_VAR: &str = "GENESYS_CLIENT_SECRET";

    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
        }
    }

    /// Reads the credentials with `var`, one problem per missing variable.
    pub fn read(var: &dyn Fn(&str) -> Option<String>) -> Result<Self, Vec<Problem>> {
        let read = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        match (read(Self::CLIENT_ID_VAR), read(Self::CLIENT_SECRET_VAR)) {
            (Some(id), Some(secret)) => Ok(Self::new(id, secret)),
            (id, secret) => Err([
                (id.is_none(), Self::CLIENT_ID_VAR),
                (secret.is_none(), Self::CLIENT_SECRET_VAR),
            ]
            .into_iter()
            .filter(|(missing, _)| *missing)
            .map(|(_, name)| {
                Problem::new(
                    name,
                    "is not set: the OAuth client credentials come from the environment",
                )
            })
            .collect()),
        }
    }
}
