//! Subscriber filters: the wire form ([`FilterSpec`], from the query string or a `subscribe`
//! frame) and the precomputed form the hub matches every broadcast against ([`Filter`]).

use std::{collections::HashSet, sync::Arc};

use serde::{Deserialize, Serialize};

use crate::{
    auth::Grant,
    event::{Broadcast, Scope},
};

/// A filter as a client states it. Absent, null and empty lists all mean "no restriction".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FilterSpec {
    /// Scopes to receive; empty: every scope the key is granted.
    #[serde(default)]
    pub scopes: Vec<Scope>,
    /// Only these agents.
    #[serde(default)]
    pub agent_ids: Option<Vec<String>>,
    /// Only states whose active queues include one of these.
    #[serde(default)]
    pub queue_ids: Option<Vec<String>>,
    /// Only states with at least one violation.
    #[serde(default)]
    pub violations_only: bool,
}

/// Why a filter cannot be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("this key may not receive scope {}", .0.as_str())]
    ScopeNotGranted(Scope),
    #[error("this key may not receive any scope")]
    NoScopeGranted,
}

/// A granted filter: what the hub matches with, and the effective spec it echoes to the client
/// in `welcome` and `subscribed`.
#[derive(Debug, Clone)]
pub struct Filter {
    matcher: Matcher,
    spec: FilterSpec,
}

/// The hot-path form, kept by the hub for each session and checked once per broadcast: a scope
/// bitmask and hash sets (boxed: most sessions have none, and the hub holds ten thousand).
// The boxes are deliberate: an absent set then costs 8 bytes instead of 48, per session.
#[allow(clippy::box_collection)]
#[derive(Debug, Clone)]
pub struct Matcher {
    scopes: u8,
    violations_only: bool,
    agents: Option<Box<HashSet<Arc<str>>>>,
    queues: Option<Box<HashSet<Box<str>>>>,
}

fn bit(scope: Scope) -> u8 {
    1 << (scope as u8)
}

impl Filter {
    /// Checks the requested scopes against the key's grant and precomputes the sets.
    pub fn new(spec: FilterSpec, grant: &Grant) -> Result<Self, FilterError> {
        if grant.scopes.is_empty() {
            return Err(FilterError::NoScopeGranted);
        }
        if let Some(denied) = spec.scopes.iter().find(|s| !grant.allows(**s)) {
            return Err(FilterError::ScopeNotGranted(*denied));
        }
        let mut scopes: Vec<Scope> = if spec.scopes.is_empty() {
            grant.scopes.clone()
        } else {
            spec.scopes.clone()
        };
        scopes.sort();
        scopes.dedup();
        let non_empty = |list: Option<Vec<String>>| list.filter(|l| !l.is_empty());
        let agent_ids = non_empty(spec.agent_ids);
        let queue_ids = non_empty(spec.queue_ids);
        Ok(Self {
            matcher: Matcher {
                scopes: scopes.iter().fold(0, |mask, s| mask | bit(*s)),
                agents: agent_ids
                    .as_ref()
                    .map(|ids| Box::new(ids.iter().map(|id| Arc::from(id.as_str())).collect())),
                queues: queue_ids
                    .as_ref()
                    .map(|ids| Box::new(ids.iter().map(|id| Box::from(id.as_str())).collect())),
                violations_only: spec.violations_only,
            },
            spec: FilterSpec {
                scopes,
                agent_ids,
                queue_ids,
                violations_only: spec.violations_only,
            },
        })
    }

    /// Whether a broadcast goes to the session holding this filter.
    pub fn matches(&self, b: &Broadcast) -> bool {
        self.matcher.matches(b)
    }

    /// The effective filter (granted scopes filled in, empty lists dropped).
    pub fn spec(&self) -> &FilterSpec {
        &self.spec
    }

    /// The hot-path part, for the hub's registry.
    pub fn into_matcher(self) -> Matcher {
        self.matcher
    }
}

impl Matcher {
    /// Whether a broadcast goes to the session holding this filter.
    #[inline]
    pub fn matches(&self, b: &Broadcast) -> bool {
        self.scopes & bit(b.scope) != 0
            && (!self.violations_only || !b.violations.is_empty())
            && self
                .agents
                .as_ref()
                .is_none_or(|agents| agents.contains(&*b.agent_id))
            && self
                .queues
                .as_ref()
                .is_none_or(|queues| b.queues.iter().any(|q| queues.contains(q.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use chrono::Utc;

    use super::*;
    use crate::event::ViolationKind;

    fn grant(scopes: &[Scope]) -> Grant {
        Grant {
            name: "test".into(),
            scopes: scopes.to_vec(),
            admin: false,
        }
    }

    fn broadcast(agent: &str, scope: Scope, queues: &[&str], violated: bool) -> Broadcast {
        Broadcast {
            seq: 1,
            event_id: "evt_1".into(),
            agent_id: agent.into(),
            scope,
            violations: if violated {
                vec![ViolationKind::OffShift]
            } else {
                vec![]
            },
            queues: queues.iter().map(|q| q.to_string()).collect(),
            validated: !violated,
            json: Bytes::new(),
            latency_ms: 0.0,
            broadcast_at: Utc::now(),
        }
    }

    #[test]
    fn an_empty_spec_receives_every_granted_scope_and_nothing_else() {
        let filter = Filter::new(
            FilterSpec::default(),
            &grant(&[Scope::GlobalRouting, Scope::QueueSpecific]),
        )
        .unwrap();
        assert!(filter.matches(&broadcast("a", Scope::GlobalRouting, &[], false)));
        assert!(filter.matches(&broadcast("a", Scope::QueueSpecific, &[], true)));
        assert!(!filter.matches(&broadcast("a", Scope::SupervisoryOnly, &[], false)));
        assert_eq!(
            filter.spec().scopes,
            [Scope::GlobalRouting, Scope::QueueSpecific]
        );
    }

    #[test]
    fn scopes_outside_the_grant_are_refused() {
        let spec = FilterSpec {
            scopes: vec![Scope::SupervisoryOnly],
            ..FilterSpec::default()
        };
        assert_eq!(
            Filter::new(spec, &grant(&[Scope::GlobalRouting])).unwrap_err(),
            FilterError::ScopeNotGranted(Scope::SupervisoryOnly)
        );
        assert_eq!(
            Filter::new(FilterSpec::default(), &grant(&[])).unwrap_err(),
            FilterError::NoScopeGranted
        );
    }

    #[test]
    fn agents_queues_and_violations_narrow_the_match() {
        let spec = FilterSpec {
            scopes: vec![],
            agent_ids: Some(vec!["a".into(), "b".into()]),
            queue_ids: Some(vec!["q1".into()]),
            violations_only: true,
        };
        let filter = Filter::new(spec, &grant(&Scope::ALL)).unwrap();
        assert!(filter.matches(&broadcast("a", Scope::GlobalRouting, &["q0", "q1"], true)));
        assert!(!filter.matches(&broadcast("c", Scope::GlobalRouting, &["q1"], true)));
        assert!(!filter.matches(&broadcast("a", Scope::GlobalRouting, &["q0"], true)));
        assert!(!filter.matches(&broadcast("a", Scope::GlobalRouting, &["q1"], false)));
    }

    #[test]
    fn empty_lists_mean_no_restriction() {
        let spec = FilterSpec {
            agent_ids: Some(vec![]),
            queue_ids: Some(vec![]),
            ..FilterSpec::default()
        };
        let filter = Filter::new(spec, &grant(&Scope::ALL)).unwrap();
        assert!(filter.matches(&broadcast("z", Scope::InternalMonitoring, &[], false)));
        assert_eq!(filter.spec().agent_ids, None);
    }
}
