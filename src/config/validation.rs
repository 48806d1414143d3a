//! `[validation]`: what validation checks, what it delivers, and the notification-scope table.

use serde::{Deserialize, Serialize};

use super::Problems;

/// Longest shift grace accepted: a day.
const MAX_SHIFT_GRACE_MINUTES: i64 = 24 * 60;

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

impl ValidationSettings {
    pub(super) fn validate(&self, p: &mut Problems) {
        p.at_least("validation.max_payload_bytes", self.max_payload_bytes, 256);
        p.check(
            (0..=MAX_SHIFT_GRACE_MINUTES).contains(&self.shift_grace_minutes),
            "validation.shift_grace_minutes",
            format!(
                "{} is outside 0..={MAX_SHIFT_GRACE_MINUTES} (a day)",
                self.shift_grace_minutes
            ),
        );
        p.at_least(
            "validation.max_concurrent_interactions",
            self.max_concurrent_interactions,
            1,
        );
        for presence in &self.on_duty_presences {
            p.check(
                crate::genesys::models::SystemPresence::parse(presence).is_known(),
                "validation.on_duty_presences",
                format!("unknown presence {presence:?}"),
            );
        }
        for (i, rule) in self.scope_rules.iter().enumerate() {
            p.scopes(
                &format!("validation.scope_rules[{i}].scope"),
                std::slice::from_ref(&rule.scope),
                false,
            );
        }
    }
}
