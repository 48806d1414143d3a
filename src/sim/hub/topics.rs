//! Topic ids as clients send them: validation, canonical spelling, compound expansion and the
//! agent topic each one feeds.
//!
//! Accepted (state `Permitted`):
//! - `v2.users.{uuid}.{activity|presence|routingStatus|conversationsummary|
//!   workforcemanagement.schedules}`: the topics the emulator publishes. Suffixes match
//!   case-insensitively and are stored in Genesys's spelling. A user id that is not in the org
//!   is still permitted (the real service does not say whether it checks; UNCONFIRMED) and
//!   simply never fires.
//! - real topics the emulator accepts but never publishes: `v2.users.{uuid}.{conversations|
//!   outofoffice|station|workforcemanagement.adherence}`, `v2.routing.queues.{uuid}.users`
//!   and `channel.metadata`.
//! - compound ids `v2.users.{uuid}?presence&routingStatus`, expanded into one topic per
//!   sub-topic; each counts against the 1,000-topic limit (UNCONFIRMED whether Genesys counts
//!   a compound id as one).
//!
//! Anything else is `Rejected` with a reason.

use uuid::Uuid;

use super::Target;
use crate::{genesys::topics::UserTopicKind, sim::org::Org};

/// User sub-topics that are accepted but never published.
const SILENT_USER_SUFFIXES: &[&str] = &[
    "conversations",
    "outofoffice",
    "station",
    "workforcemanagement.adherence",
];

/// One requested topic after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The canonical topic id (or the raw id when rejected).
    pub id: String,
    /// `Ok(target)` when permitted (`None`: accepted, never published); `Err(reason)`.
    pub outcome: Result<Option<Target>, String>,
}

/// Validates and expands one requested topic id.
pub fn resolve(org: &Org, raw: &str) -> Vec<Resolved> {
    let raw = raw.trim();
    if let Some((base, subs)) = raw.split_once('?') {
        let Some(user) = base.strip_prefix("v2.users.") else {
            return vec![rejected(
                raw,
                "compound topics are supported for v2.users.{id} only",
            )];
        };
        if subs.is_empty() {
            return vec![rejected(
                raw,
                "a compound topic needs at least one sub-topic",
            )];
        }
        return subs
            .split('&')
            .map(|sub| single(org, &format!("v2.users.{user}.{sub}")))
            .collect();
    }
    vec![single(org, raw)]
}

fn single(org: &Org, raw: &str) -> Resolved {
    if raw.eq_ignore_ascii_case(crate::genesys::topics::CHANNEL_METADATA) {
        return permitted(crate::genesys::topics::CHANNEL_METADATA.to_owned(), None);
    }
    if let Some(rest) = raw.strip_prefix("v2.routing.queues.")
        && let Some(queue) = rest.strip_suffix(".users")
        && let Ok(queue) = Uuid::parse_str(queue)
    {
        return permitted(format!("v2.routing.queues.{queue}.users"), None);
    }
    let Some(rest) = raw.strip_prefix("v2.users.") else {
        return rejected(raw, "unknown topic");
    };
    let Some((user, suffix)) = rest.split_once('.') else {
        return rejected(raw, "unknown topic");
    };
    let Ok(user) = Uuid::parse_str(user) else {
        return rejected(raw, "the user id is not a UUID");
    };
    let user = user.to_string();
    if let Some(kind) = UserTopicKind::ALL
        .into_iter()
        .find(|k| k.suffix().eq_ignore_ascii_case(suffix))
    {
        let target = org.agent_index(&user).map(|agent| Target { agent, kind });
        return permitted(format!("v2.users.{user}.{}", kind.suffix()), target);
    }
    if let Some(silent) = SILENT_USER_SUFFIXES
        .iter()
        .find(|s| s.eq_ignore_ascii_case(suffix))
    {
        return permitted(format!("v2.users.{user}.{silent}"), None);
    }
    rejected(raw, "unknown topic")
}

fn permitted(id: String, target: Option<Target>) -> Resolved {
    Resolved {
        id,
        outcome: Ok(target),
    }
}

fn rejected(raw: &str, reason: &str) -> Resolved {
    Resolved {
        id: raw.to_owned(),
        outcome: Err(reason.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::sim::org;

    #[test]
    fn compound_topics_expand_and_unknown_ones_are_rejected() {
        let (org, _) = org::generate(1, 3, Utc::now());
        let user = org.agents[0].id.clone();
        let out = resolve(
            &org,
            &format!("v2.users.{user}?presence&routingstatus&station"),
        );
        let ids: Vec<&str> = out.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                format!("v2.users.{user}.presence"),
                format!("v2.users.{user}.routingStatus"),
                format!("v2.users.{user}.station"),
            ]
        );
        assert_eq!(
            out[0].outcome,
            Ok(Some(Target {
                agent: 0,
                kind: UserTopicKind::Presence
            }))
        );
        assert_eq!(out[2].outcome, Ok(None));
        for bad in ["v2.users.nope.presence", "v2.foo.bar", "v2.users.x?"] {
            assert!(resolve(&org, bad)[0].outcome.is_err(), "{bad}");
        }
        let stranger = Uuid::nil();
        assert_eq!(
            resolve(&org, &format!("v2.users.{stranger}.activity"))[0].outcome,
            Ok(None)
        );
    }
}
