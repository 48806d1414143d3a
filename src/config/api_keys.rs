//! `[[api_keys]]`: the keys that may subscribe or use the admin API, stored by SHA-256.

use serde::{Deserialize, Serialize};

use super::Problems;

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

impl ApiKeySettings {
    pub(super) fn validate(&self, i: usize, p: &mut Problems) {
        p.check(
            !self.name.trim().is_empty(),
            &format!("api_keys[{i}].name"),
            "must not be empty",
        );
        // The value is never shown: a key pasted here in clear would be printed otherwise.
        p.check(
            self.sha256.len() == 64 && self.sha256.bytes().all(|b| b.is_ascii_hexdigit()),
            &format!("api_keys[{i}].sha256"),
            "must be 64 hex digits (printf %s \"$KEY\" | sha256sum)",
        );
        p.scopes(&format!("api_keys[{i}].scopes"), &self.scopes, true);
    }
}
