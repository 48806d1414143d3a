//! Topic names and how topics are spread over channels.
//!
//! Genesys allows 1,000 topics per channel and 20 channels per OAuth client; three topics per
//! agent means one client covers about 6,600 agents. [`plan_channels`] makes the split and
//! says clearly when a roster does not fit.

/// Heartbeats and ping replies arrive on this topic without a subscription.
pub const CHANNEL_METADATA: &str = "channel.metadata";
/// Sent about a minute before the server closes a socket for maintenance.
pub const SOCKET_CLOSING: &str = "v2.system.socket_closing";
/// "Subscribing to more returns HTTP 400."
pub const MAX_TOPICS_PER_CHANNEL: usize = 1_000;
/// "Up to 20 channels per user and application."
pub const MAX_CHANNELS_PER_CLIENT: usize = 20;

/// The per-user topics agentcast knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserTopicKind {
    Activity,
    Presence,
    RoutingStatus,
    ConversationSummary,
    Schedules,
}

impl UserTopicKind {
    pub const ALL: [UserTopicKind; 5] = [
        Self::Activity,
        Self::Presence,
        Self::RoutingStatus,
        Self::ConversationSummary,
        Self::Schedules,
    ];

    /// The suffix after `v2.users.{id}.`, spelled as Genesys spells it.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Activity => "activity",
            Self::Presence => "presence",
            Self::RoutingStatus => "routingStatus",
            Self::ConversationSummary => "conversationsummary",
            Self::Schedules => "workforcemanagement.schedules",
        }
    }

    pub fn as_label(self) -> &'static str {
        match self {
            Self::Activity => "activity",
            Self::Presence => "presence",
            Self::RoutingStatus => "routing_status",
            Self::ConversationSummary => "conversation_summary",
            Self::Schedules => "schedules",
        }
    }
}

/// `v2.users.{user_id}.{suffix}`.
pub fn user_topic(user_id: &str, kind: UserTopicKind) -> String {
    format!("v2.users.{user_id}.{}", kind.suffix())
}

/// A topic name, understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic<'a> {
    User {
        user_id: &'a str,
        kind: UserTopicKind,
    },
    ChannelMetadata,
    SocketClosing,
    /// Another `v2.system.*` push.
    System(&'a str),
    Unknown(&'a str),
}

impl<'a> Topic<'a> {
    /// Parses a `topicName`. Official samples compare topic names case-insensitively, so
    /// this does too.
    pub fn parse(name: &'a str) -> Topic<'a> {
        if name.eq_ignore_ascii_case(CHANNEL_METADATA) {
            return Topic::ChannelMetadata;
        }
        if name.eq_ignore_ascii_case(SOCKET_CLOSING) {
            return Topic::SocketClosing;
        }
        if starts_with_ignore_case(name, "v2.system.") {
            return Topic::System(name);
        }
        if starts_with_ignore_case(name, "v2.users.") {
            let rest = &name["v2.users.".len()..];
            if let Some((user_id, suffix)) = rest.split_once('.')
                && !user_id.is_empty()
                && let Some(kind) = UserTopicKind::ALL
                    .into_iter()
                    .find(|k| k.suffix().eq_ignore_ascii_case(suffix))
            {
                return Topic::User { user_id, kind };
            }
        }
        Topic::Unknown(name)
    }
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// A roster whose topics need more channels than one client may hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{topics} topics need {channels_needed} channels of {per_channel} topics, but Genesys allows \
     {max_channels} channels per OAuth client (about {max_agents} agents at {topics_per_agent} \
     topics each); split the roster over several agentcast instances with their own OAuth clients"
)]
pub struct TooManyTopics {
    pub topics: usize,
    pub channels_needed: usize,
    pub per_channel: usize,
    pub max_channels: usize,
    pub topics_per_agent: usize,
    pub max_agents: usize,
}

/// Splits `topics` into channel-sized groups, in order, each at most `per_channel` long.
pub fn plan_channels(
    topics: &[String],
    per_channel: usize,
    max_channels: usize,
    topics_per_agent: usize,
) -> Result<Vec<&[String]>, TooManyTopics> {
    let per_channel = per_channel.max(1);
    let groups: Vec<&[String]> = topics.chunks(per_channel).collect();
    if groups.len() > max_channels {
        return Err(TooManyTopics {
            topics: topics.len(),
            channels_needed: groups.len(),
            per_channel,
            max_channels,
            topics_per_agent,
            max_agents: per_channel * max_channels / topics_per_agent.max(1),
        });
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_topics_parse_case_insensitively_and_keep_the_user_id() {
        let id = "9ed7d9f6-0c59-4360-ac54-40dd35eb9c2f";
        for kind in UserTopicKind::ALL {
            let name = user_topic(id, kind);
            assert_eq!(Topic::parse(&name), Topic::User { user_id: id, kind });
            let upper = name.to_uppercase();
            assert!(matches!(Topic::parse(&upper), Topic::User { kind: k, .. } if k == kind));
        }
        assert_eq!(Topic::parse("channel.metadata"), Topic::ChannelMetadata);
        assert_eq!(
            Topic::parse("v2.system.socket_closing"),
            Topic::SocketClosing
        );
        assert_eq!(
            Topic::parse("v2.users.x.station"),
            Topic::Unknown("v2.users.x.station")
        );
        assert_eq!(
            Topic::parse("v2.users..activity"),
            Topic::Unknown("v2.users..activity")
        );
    }

    #[test]
    fn three_thousand_topics_fill_three_channels_and_too_many_is_one_clear_error() {
        let topics: Vec<String> = (0..3000).map(|i| format!("t{i}")).collect();
        let plan = plan_channels(&topics, 1000, 20, 3).unwrap();
        assert_eq!(
            plan.iter().map(|g| g.len()).collect::<Vec<_>>(),
            vec![1000, 1000, 1000]
        );

        let topics: Vec<String> = (0..20_001).map(|i| format!("t{i}")).collect();
        let err = plan_channels(&topics, 1000, 20, 3).unwrap_err();
        assert_eq!(err.channels_needed, 21);
        assert!(err.to_string().contains("21 channels"), "{err}");
        assert!(err.to_string().contains("about 6666 agents"), "{err}");
    }
}
