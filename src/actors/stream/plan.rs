//! Which topics each agent needs, and how agents are grouped on channels.

use crate::{
    event::AgentId,
    genesys::topics::{
        MAX_CHANNELS_PER_CLIENT, MAX_TOPICS_PER_CHANNEL, TooManyTopics, UserTopicKind, user_topic,
    },
};

/// The topics agentcast follows per agent: presence + routing status + queues in one,
/// live interaction counts, and schedule changes.
pub const AGENT_TOPICS: [UserTopicKind; 3] = [
    UserTopicKind::Activity,
    UserTopicKind::ConversationSummary,
    UserTopicKind::Schedules,
];
pub const TOPICS_PER_AGENT: usize = AGENT_TOPICS.len();
/// Agents per channel: an agent's topics never straddle two channels.
pub const AGENTS_PER_CHANNEL: usize = MAX_TOPICS_PER_CHANNEL / TOPICS_PER_AGENT;

/// The topic names of one agent.
pub fn agent_topics(agent_id: &str) -> impl Iterator<Item = String> + '_ {
    AGENT_TOPICS
        .iter()
        .map(move |kind| user_topic(agent_id, *kind))
}

/// Splits the roster into channel-sized groups, or says why it cannot.
pub fn group_agents(roster: &[AgentId]) -> Result<Vec<Vec<AgentId>>, TooManyTopics> {
    let groups: Vec<Vec<AgentId>> = roster
        .chunks(AGENTS_PER_CHANNEL)
        .map(<[AgentId]>::to_vec)
        .collect();
    check_channel_count(groups.len(), roster.len())?;
    Ok(groups)
}

/// Fails when `channels` exceeds what one OAuth client may hold.
pub fn check_channel_count(channels: usize, agents: usize) -> Result<(), TooManyTopics> {
    if channels <= MAX_CHANNELS_PER_CLIENT {
        return Ok(());
    }
    Err(TooManyTopics {
        topics: agents * TOPICS_PER_AGENT,
        channels_needed: channels,
        per_channel: AGENTS_PER_CHANNEL * TOPICS_PER_AGENT,
        max_channels: MAX_CHANNELS_PER_CLIENT,
        topics_per_agent: TOPICS_PER_AGENT,
        max_agents: AGENTS_PER_CHANNEL * MAX_CHANNELS_PER_CLIENT,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roster(n: usize) -> Vec<AgentId> {
        (0..n)
            .map(|i| AgentId::from(format!("agent-{i}")))
            .collect()
    }

    #[test]
    fn an_agents_topics_stay_on_one_channel_and_fill_it_to_999() {
        let groups = group_agents(&roster(1000)).unwrap();
        assert_eq!(
            groups.iter().map(Vec::len).collect::<Vec<_>>(),
            [333, 333, 333, 1]
        );
        assert_eq!(AGENTS_PER_CHANNEL * TOPICS_PER_AGENT, 999);
    }

    #[test]
    fn a_roster_beyond_twenty_channels_is_one_error_naming_the_numbers() {
        assert!(group_agents(&roster(6660)).is_ok());
        let err = group_agents(&roster(6661)).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("21 channels")
                && message.contains("20 channels")
                && message.contains("about 6660 agents"),
            "{message}"
        );
    }
}
