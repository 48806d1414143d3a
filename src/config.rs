//! Typed settings.
//!
//! Layers, later winning: the defaults compiled in from the repository's `config.toml` → the
//! file given with `--config` (or `./config.toml` when present) → the seed's variables
//! (`GENESYS_HOST`, `WEBHOOK_URL`) → `AGENTCAST_<SECTION>_<KEY>`. Then [`Settings::validate`]
//! reports every problem at once, each naming its key. Secrets are read from the environment
//! only ([`Credentials::from_env`]).

use std::{net::SocketAddr, path::Path};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::genesys::regions;

/// The repository's `config.toml`: the documented defaults.
pub const DEFAULTS_TOML: &str = include_str!("../config.toml");
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

/// WebSocket subscribers on `GET /v1/subscribe` (design §5). Defaults are documented in
/// `config.toml` and repeated by [`SubscriberSettings::default`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubscriberSettings {
    /// Most sessions at once; the next upgrade is refused with 503 and `Retry-After`.
    pub max_subscribers: usize,
    /// The `Retry-After` of that 503.
    pub retry_after_secs: u64,
    /// A session pings its client this often.
    pub ping_interval_secs: u64,
    /// A session that received nothing (no pong, no frame) for this long evicts itself.
    pub stale_timeout_secs: u64,
    /// Outbound queue budget per session; past it the session is closed with 4008.
    pub queue_max_bytes: usize,
    /// Largest frame written when queued events are coalesced or a snapshot is chunked.
    pub frame_max_bytes: usize,
    /// Largest frame (or fragmented message) a client may send; past it, close 1009.
    pub client_frame_max_bytes: usize,
    /// Broadcasts kept for replay with `?since=`; older `since` values get a snapshot.
    pub recovery_ring_size: usize,
    /// How long one rendered snapshot is shared with new sessions of the same filter (they
    /// also get the events since it); 0 renders one per session.
    pub snapshot_share_ms: u64,
    /// How long a close frame may wait behind a stalled socket before the session gives up.
    pub close_timeout_secs: u64,
    /// Broadcasts the hub holds for a downstream actor whose mailbox is full; past it the
    /// oldest is dropped and counted.
    pub downstream_backlog_max: usize,
}

impl Default for SubscriberSettings {
    fn default() -> Self {
        Self {
            max_subscribers: 10_000,
            retry_after_secs: 5,
            ping_interval_secs: 10,
            stale_timeout_secs: 30,
            queue_max_bytes: 1 << 20,
            frame_max_bytes: 64 << 10,
            client_frame_max_bytes: 64 << 10,
            recovery_ring_size: 10_000,
            snapshot_share_ms: 1_000,
            close_timeout_secs: 5,
            downstream_backlog_max: 65_536,
        }
    }
}

/// One API key, stored as the SHA-256 of the key (`printf %s "$KEY" | sha256sum`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeySettings {
    /// Who holds the key (logged and audited; the key itself never is).
    pub name: String,
    /// Lower-case hex SHA-256 of the key.
    pub sha256: String,
    /// Notification scopes the key may receive: `global_routing`, `queue_specific`,
    /// `supervisory_only`, `internal_monitoring`, or `*` for all.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Whether the key may use the admin API (webhooks, audit).
    #[serde(default)]
    pub admin: bool,
}

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
    pub client_secret: Option<toml_value::Ignored>,
    /// Present only to give a clear error: the client id comes from `GENESYS_CLIENT_ID`.
    #[serde(default, skip_serializing)]
    pub client_id: Option<toml_value::Ignored>,
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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub listen: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

/// The notification stream: channel sockets and how they are kept alive.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSettings {
    pub heartbeat_interval_secs: f64,
    pub heartbeat_timeout_factor: f64,
    pub ping_interval_secs: f64,
    pub reconnect_initial_backoff_ms: u64,
    pub reconnect_max_backoff_secs: u64,
    pub renew_before_expiry_secs: u64,
    pub roster_refresh_secs: u64,
    pub max_frame_bytes: usize,
    pub reconcile_delay_ms: u64,
    pub validator_queue_limit: usize,
}

/// Reference data and how often it is refreshed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceSettings {
    pub schedule_refresh_secs: u64,
    pub schedule_min_interval_secs: u64,
    pub schedule_days_before: u32,
    pub schedule_days_after: u32,
    pub utilization_refresh_secs: u64,
    pub utilization_fetches_per_minute: u32,
    pub queue_refresh_secs: u64,
}

/// What validation checks and how it scopes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationSettings {
    pub pool_size: usize,
    pub max_payload_bytes: usize,
    pub shift_grace_minutes: i64,
    pub max_concurrent_interactions: u32,
    pub deliver: Deliver,
    pub on_duty_presences: Vec<String>,
    pub scope_rules: Vec<ScopeRule>,
}

/// Which validated states are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Deliver {
    /// Every state, annotated with its violations.
    All,
    /// Only states that passed every check (the seed's behaviour).
    ValidOnly,
}

/// One row of the notification-scope table; the first matching row wins.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeRule {
    /// Presences the row applies to (any spelling); empty means any presence.
    #[serde(default)]
    pub presences: Vec<String>,
    /// `none` (no active interaction), `some` (at least one) or `any`.
    pub interactions: InteractionsMatch,
    pub scope: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InteractionsMatch {
    None,
    Some,
    Any,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimSettings {
    pub listen: String,
    pub agents: u32,
    pub seed: u64,
    pub events_per_sec: f64,
    pub token_lifetime_secs: u64,
    pub rate_limit_per_minute: u32,
    pub heartbeat_interval_secs: u64,
    pub channel_ttl_secs: u64,
    pub socket_closing_grace_secs: u64,
    pub max_page_size: u32,
}

/// One webhook endpoint (`[[webhooks]]`). Keys left out take the `[webhook]` defaults.
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

/// The environment variable holding the secret of the endpoint `WEBHOOK_URL` adds.
pub const WEBHOOK_SECRET_VAR: &str = "WEBHOOK_SECRET";

/// Webhook delivery settings shared by every endpoint (`[webhook]`); see config.toml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookDeliverySettings {
    pub outbox_path: String,
    pub synchronous: crate::store::Synchronous,
    pub allow_hosts: Vec<String>,
    pub timeout_secs: f64,
    pub concurrency: u32,
    pub retry_schedule_secs: Vec<f64>,
    pub retry_jitter: f64,
    pub throttle_floor_secs: f64,
    pub max_retry_after_secs: f64,
    pub disable_after_secs: f64,
    pub max_response_bytes: usize,
    pub batch_max: usize,
    pub accept_queue_capacity: usize,
    pub max_queued_per_endpoint: usize,
    pub retention_hours: f64,
    pub maintenance_interval_secs: f64,
}

impl Default for WebhookDeliverySettings {
    /// The values documented in config.toml (a test keeps the two equal).
    fn default() -> Self {
        Self {
            outbox_path: "agentcast-outbox.sqlite".into(),
            synchronous: crate::store::Synchronous::Full,
            allow_hosts: Vec::new(),
            timeout_secs: 15.0,
            concurrency: 16,
            retry_schedule_secs: vec![5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
            retry_jitter: 0.2,
            throttle_floor_secs: 60.0,
            max_retry_after_secs: 36000.0,
            disable_after_secs: 432000.0,
            max_response_bytes: 4096,
            batch_max: 1000,
            accept_queue_capacity: 50_000,
            max_queued_per_endpoint: 10_000,
            retention_hours: 168.0,
            maintenance_interval_secs: 600.0,
        }
    }
}

/// The audit trail (`[audit]`); see config.toml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    pub path: String,
    pub synchronous: crate::store::Synchronous,
    pub batch_max: usize,
    pub queue_capacity: usize,
    pub retention_days: f64,
    pub maintenance_interval_secs: f64,
}

impl Default for AuditSettings {
    /// The values documented in config.toml (a test keeps the two equal).
    fn default() -> Self {
        Self {
            path: "agentcast-audit.sqlite".into(),
            synchronous: crate::store::Synchronous::Full,
            batch_max: 5000,
            queue_capacity: 100_000,
            retention_days: 90.0,
            maintenance_interval_secs: 3600.0,
        }
    }
}

/// A validated, non-negative number of seconds as a `Duration` (zero when it is not one).
pub fn secs(value: f64) -> std::time::Duration {
    std::time::Duration::try_from_secs_f64(value).unwrap_or_default()
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

    /// Reads the credentials, naming every missing variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        let read = |var: &str| std::env::var(var).ok().filter(|v| !v.trim().is_empty());
        match (read(Self::CLIENT_ID_VAR), read(Self::CLIENT_SECRET_VAR)) {
            (Some(id), Some(secret)) => Ok(Self::new(id, secret)),
            (id, secret) => Err(ConfigError::Invalid(
                [
                    (id.is_none(), Self::CLIENT_ID_VAR),
                    (secret.is_none(), Self::CLIENT_SECRET_VAR),
                ]
                .into_iter()
                .filter(|(missing, _)| *missing)
                .map(|(_, var)| {
                    Problem::new(
                        var,
                        "is not set: the OAuth client credentials come from the environment",
                    )
                })
                .collect(),
            )),
        }
    }
}

/// One thing wrong with the configuration, naming its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl Problem {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
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

    /// Every problem in the settings, each naming its key; empty when all is well.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, key: &str, message: String| {
            if !ok {
                problems.push(Problem::new(key, message));
            }
        };
        let g = &self.genesys;
        if g.client_secret.is_some() {
            check(false, "genesys.client_secret", "secrets are read only from the environment: remove it from the file and set GENESYS_CLIENT_SECRET".into());
        }
        if g.client_id.is_some() {
            check(false, "genesys.client_id", "the client id is read from the environment: remove it from the file and set GENESYS_CLIENT_ID".into());
        }
        if g.api_base.is_empty() {
            check(
                regions::environment_host(&g.region).is_some(),
                "genesys.region",
                format!(
                    "unknown region {:?}; use one of: {}",
                    g.region,
                    regions::REGIONS
                        .iter()
                        .map(|(_, host)| *host)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        } else {
            check(
                is_http_url(&g.api_base),
                "genesys.api_base",
                format!("{:?} is not an http(s) URL", g.api_base),
            );
        }
        if !g.login_base.is_empty() {
            check(
                is_http_url(&g.login_base),
                "genesys.login_base",
                format!("{:?} is not an http(s) URL", g.login_base),
            );
        }
        check(
            (1..=300).contains(&g.requests_per_minute),
            "genesys.requests_per_minute",
            format!(
                "{} is outside 1..=300 (Genesys allows 300 per token)",
                g.requests_per_minute
            ),
        );
        check(
            g.request_timeout_secs >= 1,
            "genesys.request_timeout_secs",
            "must be at least 1".into(),
        );
        check(
            g.retry_initial_backoff_ms >= 1,
            "genesys.retry_initial_backoff_ms",
            "must be at least 1".into(),
        );
        check(
            g.retry_max_backoff_secs * 1000 >= g.retry_initial_backoff_ms,
            "genesys.retry_max_backoff_secs",
            "must not be shorter than retry_initial_backoff_ms".into(),
        );
        check(
            (1..=500).contains(&g.users_page_size),
            "genesys.users_page_size",
            format!("{} is outside 1..=500", g.users_page_size),
        );
        check(
            self.http.listen.parse::<SocketAddr>().is_ok(),
            "http.listen",
            format!(
                "{:?} is not an address such as 127.0.0.1:8080",
                self.http.listen
            ),
        );
        check(
            tracing_subscriber::EnvFilter::try_new(&self.log.level).is_ok(),
            "log.level",
            format!("{:?} is not a valid log filter", self.log.level),
        );
        let u = &self.upstream;
        check(
            u.heartbeat_interval_secs > 0.0,
            "upstream.heartbeat_interval_secs",
            "must be positive".into(),
        );
        check(
            u.heartbeat_timeout_factor >= 1.0,
            "upstream.heartbeat_timeout_factor",
            "must be at least 1".into(),
        );
        check(
            u.ping_interval_secs > 0.0,
            "upstream.ping_interval_secs",
            "must be positive".into(),
        );
        check(
            u.reconnect_initial_backoff_ms >= 1,
            "upstream.reconnect_initial_backoff_ms",
            "must be at least 1".into(),
        );
        check(
            u.roster_refresh_secs >= 1,
            "upstream.roster_refresh_secs",
            "must be at least 1".into(),
        );
        check(
            u.max_frame_bytes >= 1024,
            "upstream.max_frame_bytes",
            "must be at least 1024".into(),
        );
        check(
            u.validator_queue_limit >= 1,
            "upstream.validator_queue_limit",
            "must be at least 1".into(),
        );
        let r = &self.reference;
        check(
            r.schedule_refresh_secs >= 1,
            "reference.schedule_refresh_secs",
            "must be at least 1".into(),
        );
        check(
            r.utilization_fetches_per_minute >= 1,
            "reference.utilization_fetches_per_minute",
            "must be at least 1".into(),
        );
        let v = &self.validation;
        check(
            v.max_payload_bytes >= 256,
            "validation.max_payload_bytes",
            "must be at least 256".into(),
        );
        check(
            v.shift_grace_minutes >= 0,
            "validation.shift_grace_minutes",
            "must not be negative".into(),
        );
        check(
            v.max_concurrent_interactions >= 1,
            "validation.max_concurrent_interactions",
            "must be at least 1".into(),
        );
        for presence in &v.on_duty_presences {
            check(
                crate::genesys::models::SystemPresence::parse(presence).is_known(),
                "validation.on_duty_presences",
                format!("unknown presence {presence:?}"),
            );
        }
        for (i, rule) in v.scope_rules.iter().enumerate() {
            check(
                crate::event::Scope::parse(&rule.scope).is_some(),
                &format!("validation.scope_rules[{i}].scope"),
                format!(
                    "unknown scope {:?}; use global_routing, queue_specific, supervisory_only or internal_monitoring",
                    rule.scope
                ),
            );
        }
        let s = &self.sim;
        check(
            s.listen.parse::<SocketAddr>().is_ok(),
            "sim.listen",
            format!("{:?} is not an address such as 127.0.0.1:0", s.listen),
        );
        check(s.agents >= 1, "sim.agents", "must be at least 1".into());
        check(
            s.events_per_sec.is_finite() && s.events_per_sec >= 0.0,
            "sim.events_per_sec",
            "must be a number ≥ 0".into(),
        );
        check(
            s.token_lifetime_secs >= 1,
            "sim.token_lifetime_secs",
            "must be at least 1".into(),
        );
        check(
            s.rate_limit_per_minute >= 1,
            "sim.rate_limit_per_minute",
            "must be at least 1".into(),
        );
        check(
            s.heartbeat_interval_secs >= 1,
            "sim.heartbeat_interval_secs",
            "must be at least 1".into(),
        );
        check(
            s.channel_ttl_secs >= 1,
            "sim.channel_ttl_secs",
            "must be at least 1".into(),
        );
        check(
            s.max_page_size >= 1,
            "sim.max_page_size",
            "must be at least 1".into(),
        );
        for (i, key) in self.api_keys.iter().enumerate() {
            check(
                !key.name.trim().is_empty(),
                &format!("api_keys[{i}].name"),
                "must not be empty".into(),
            );
            check(
                key.sha256.len() == 64 && key.sha256.bytes().all(|b| b.is_ascii_hexdigit()),
                &format!("api_keys[{i}].sha256"),
                "must be 64 hex digits (printf %s \"$KEY\" | sha256sum)".into(),
            );
            for scope in &key.scopes {
                check(
                    scope == "*" || crate::event::Scope::parse(scope).is_some(),
                    &format!("api_keys[{i}].scopes"),
                    format!(
                        "unknown scope {scope:?}; use global_routing, queue_specific, supervisory_only, internal_monitoring or *"
                    ),
                );
            }
        }
        for (i, hook) in self.webhooks.iter().enumerate() {
            check(
                !hook.id.trim().is_empty(),
                &format!("webhooks[{i}].id"),
                "must not be empty".into(),
            );
            check(
                hook.id.is_empty() || !self.webhooks[..i].iter().any(|h| h.id == hook.id),
                &format!("webhooks[{i}].id"),
                format!("{:?} is used by an earlier endpoint", hook.id),
            );
            check(
                is_http_url(&hook.url),
                &format!("webhooks[{i}].url"),
                format!("{:?} is not an http(s) URL", hook.url),
            );
            check(
                !hook.secret_env.trim().is_empty(),
                &format!("webhooks[{i}].secret_env"),
                "must name the environment variable holding the endpoint's whsec_ secret".into(),
            );
            for scope in &hook.scopes {
                check(
                    scope == "*" || crate::event::Scope::parse(scope).is_some(),
                    &format!("webhooks[{i}].scopes"),
                    format!(
                        "unknown scope {scope:?}; use global_routing, queue_specific, supervisory_only, internal_monitoring or *"
                    ),
                );
            }
            if let Some(timeout) = hook.timeout_secs {
                check_timeout(&mut check, &format!("webhooks[{i}].timeout_secs"), timeout);
            }
            if let Some(concurrency) = hook.concurrency {
                check_concurrency(
                    &mut check,
                    &format!("webhooks[{i}].concurrency"),
                    concurrency,
                );
            }
            if let Some(schedule) = &hook.retry_schedule_secs {
                check_schedule(
                    &mut check,
                    &format!("webhooks[{i}].retry_schedule_secs"),
                    schedule,
                );
            }
        }
        let sub = &self.subscribers;
        check(
            sub.max_subscribers >= 1,
            "subscribers.max_subscribers",
            "must be at least 1".into(),
        );
        check(
            sub.ping_interval_secs >= 1,
            "subscribers.ping_interval_secs",
            "must be at least 1".into(),
        );
        check(
            sub.stale_timeout_secs >= 2 * sub.ping_interval_secs,
            "subscribers.stale_timeout_secs",
            format!(
                "{} must be at least twice ping_interval_secs ({}), or a live client can be evicted between two pings",
                sub.stale_timeout_secs, sub.ping_interval_secs
            ),
        );
        check(
            sub.frame_max_bytes >= 1024,
            "subscribers.frame_max_bytes",
            "must be at least 1024".into(),
        );
        check(
            sub.queue_max_bytes >= sub.frame_max_bytes,
            "subscribers.queue_max_bytes",
            format!(
                "{} must be at least frame_max_bytes ({})",
                sub.queue_max_bytes, sub.frame_max_bytes
            ),
        );
        check(
            sub.client_frame_max_bytes >= 256,
            "subscribers.client_frame_max_bytes",
            "must be at least 256".into(),
        );
        check(
            sub.snapshot_share_ms <= 60_000,
            "subscribers.snapshot_share_ms",
            format!("{} is above 60000 (one minute)", sub.snapshot_share_ms),
        );
        check(
            sub.close_timeout_secs >= 1,
            "subscribers.close_timeout_secs",
            "must be at least 1".into(),
        );
        check(
            sub.downstream_backlog_max >= 1,
            "subscribers.downstream_backlog_max",
            "must be at least 1".into(),
        );
        let w = &self.webhook;
        check(
            !w.outbox_path.trim().is_empty(),
            "webhook.outbox_path",
            "must not be empty".into(),
        );
        check(
            w.allow_hosts.iter().all(|h| !h.trim().is_empty()),
            "webhook.allow_hosts",
            "entries must not be empty".into(),
        );
        check_timeout(&mut check, "webhook.timeout_secs", w.timeout_secs);
        check_concurrency(&mut check, "webhook.concurrency", w.concurrency);
        check_schedule(
            &mut check,
            "webhook.retry_schedule_secs",
            &w.retry_schedule_secs,
        );
        check(
            (0.0..1.0).contains(&w.retry_jitter),
            "webhook.retry_jitter",
            format!("{} is outside 0 ≤ jitter < 1", w.retry_jitter),
        );
        for (key, value) in [
            ("webhook.throttle_floor_secs", w.throttle_floor_secs),
            ("webhook.max_retry_after_secs", w.max_retry_after_secs),
        ] {
            check(
                is_secs(value),
                key,
                format!("{value} is not a number of seconds ≥ 0"),
            );
        }
        for (key, value) in [
            ("webhook.disable_after_secs", w.disable_after_secs),
            ("webhook.retention_hours", w.retention_hours),
            (
                "webhook.maintenance_interval_secs",
                w.maintenance_interval_secs,
            ),
            ("audit.retention_days", self.audit.retention_days),
            (
                "audit.maintenance_interval_secs",
                self.audit.maintenance_interval_secs,
            ),
        ] {
            check(
                is_secs(value) && value > 0.0,
                key,
                format!("{value} must be a number > 0"),
            );
        }
        check(
            w.max_response_bytes <= 1 << 20,
            "webhook.max_response_bytes",
            "must be at most 1048576".into(),
        );
        check(
            w.batch_max >= 1,
            "webhook.batch_max",
            "must be at least 1".into(),
        );
        check(
            w.accept_queue_capacity >= w.batch_max,
            "webhook.accept_queue_capacity",
            "must be at least webhook.batch_max".into(),
        );
        check(
            w.max_queued_per_endpoint >= 2,
            "webhook.max_queued_per_endpoint",
            "must be at least 2".into(),
        );
        let a = &self.audit;
        check(
            !a.path.trim().is_empty(),
            "audit.path",
            "must not be empty".into(),
        );
        check(
            a.batch_max >= 1,
            "audit.batch_max",
            "must be at least 1".into(),
        );
        check(
            a.queue_capacity >= a.batch_max,
            "audit.queue_capacity",
            "must be at least audit.batch_max".into(),
        );
        problems
    }
}

fn is_secs(value: f64) -> bool {
    value.is_finite() && value >= 0.0
}

fn check_timeout(check: &mut impl FnMut(bool, &str, String), key: &str, value: f64) {
    check(
        is_secs(value) && value > 0.0 && value <= 30.0,
        key,
        format!("{value} is outside 0 < timeout ≤ 30 (the Standard Webhooks advice is 15–30)"),
    );
}

fn check_concurrency(check: &mut impl FnMut(bool, &str, String), key: &str, value: u32) {
    check(
        (1..=1024).contains(&value),
        key,
        format!("{value} is outside 1..=1024"),
    );
}

fn check_schedule(check: &mut impl FnMut(bool, &str, String), key: &str, schedule: &[f64]) {
    check(
        schedule.iter().all(|&s| is_secs(s)),
        key,
        "every wait must be a number of seconds ≥ 0".into(),
    );
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

fn is_http_url(raw: &str) -> bool {
    url::Url::parse(raw).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

/// A placeholder that accepts any TOML value, so a forbidden key can be reported by name.
mod toml_value {
    use serde::{Deserialize, Deserializer};

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Ignored;

    impl<'de> Deserialize<'de> for Ignored {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            serde::de::IgnoredAny::deserialize(d).map(|_| Ignored)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        settings.genesys.client_secret = Some(toml_value::Ignored);
        let keys: Vec<String> = settings.validate().into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
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
        let keys: Vec<String> = settings.validate().into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
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
        let keys: Vec<String> = settings.validate().into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
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
}
