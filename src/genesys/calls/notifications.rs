//! The Notifications API: channels and their topic subscriptions, and spreading a roster's
//! topics over as many channels as the 1,000-topic limit needs.

use actix_web::http::Method;
use tracing::{info, warn};

use super::{query, segment};
use crate::genesys::{
    GenesysClient, GenesysError,
    models::{Channel, ChannelEntityListing, ChannelTopic, ChannelTopicEntityListing, TopicState},
    topics::{MAX_CHANNELS_PER_CLIENT, MAX_TOPICS_PER_CHANNEL, plan_channels},
};

const SUBSCRIPTIONS_ROUTE_GET: &str =
    "GET /api/v2/notifications/channels/{channelId}/subscriptions";
const SUBSCRIPTIONS_ROUTE_PUT: &str =
    "PUT /api/v2/notifications/channels/{channelId}/subscriptions";
const SUBSCRIPTIONS_ROUTE_POST: &str =
    "POST /api/v2/notifications/channels/{channelId}/subscriptions";
const SUBSCRIPTIONS_ROUTE_DELETE: &str =
    "DELETE /api/v2/notifications/channels/{channelId}/subscriptions";

/// Which channels `GET /api/v2/notifications/channels` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeChannels {
    /// Channels of this token.
    Token,
    /// Channels of every token of this OAuth client.
    OauthClient,
}

/// A channel and the topics it carries.
#[derive(Debug, Clone)]
pub struct ChannelSubscription {
    pub channel: Channel,
    /// Topics the channel was asked to carry.
    pub topics: Vec<String>,
    /// Topics Genesys answered as `Rejected` (missing permissions, unknown topic).
    pub rejected: Vec<ChannelTopic>,
}

impl GenesysClient {
    /// `POST /api/v2/notifications/channels`.
    /// A channel without a usable `connectUri` (a `ws://` or `wss://` URL) cannot be
    /// connected to: that answer is an error here, not a socket dialled at `""` forever.
    pub async fn create_channel(&self) -> Result<Channel, GenesysError> {
        const ROUTE: &str = "POST /api/v2/notifications/channels";
        let channel: Channel = self
            .bodiless_json(Method::POST, ROUTE, "/api/v2/notifications/channels")
            .await?;
        let usable = channel.connect_uri.as_deref().is_some_and(|uri| {
            url::Url::parse(uri).is_ok_and(|url| matches!(url.scheme(), "ws" | "wss"))
        });
        if !usable {
            return Err(GenesysError::Decode {
                route: ROUTE,
                detail: format!(
                    "channel {} has no usable connectUri ({:?}); expected a ws:// or wss:// URL",
                    channel.id, channel.connect_uri
                ),
                correlation_id: None,
            });
        }
        Ok(channel)
    }

    /// `GET /api/v2/notifications/channels?includechannels=`.
    pub async fn list_channels(
        &self,
        include: IncludeChannels,
    ) -> Result<Vec<Channel>, GenesysError> {
        let include = match include {
            IncludeChannels::Token => "token",
            IncludeChannels::OauthClient => "oauthclient",
        };
        let listing: ChannelEntityListing = self
            .get_json(
                "GET /api/v2/notifications/channels",
                &format!(
                    "/api/v2/notifications/channels{}",
                    query([("includechannels", include)])
                ),
            )
            .await?;
        Ok(listing.entities)
    }

    /// `HEAD /api/v2/notifications/channels/{channelId}`: whether the channel still exists.
    pub async fn channel_exists(&self, channel_id: &str) -> Result<bool, GenesysError> {
        let path = format!("/api/v2/notifications/channels/{}", segment(channel_id));
        match self
            .call(
                Method::HEAD,
                "HEAD /api/v2/notifications/channels/{channelId}",
                &path,
                None,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(err) if err.is_not_found() => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// The channel's current subscriptions.
    pub async fn subscriptions(&self, channel_id: &str) -> Result<Vec<ChannelTopic>, GenesysError> {
        let listing: ChannelTopicEntityListing = self
            .get_json(
                SUBSCRIPTIONS_ROUTE_GET,
                &subscriptions_path(channel_id, None),
            )
            .await?;
        Ok(listing.entities)
    }

    /// Replaces the channel's subscriptions with `topics` (PUT). Also renews the channel's
    /// 24-hour lifetime.
    pub async fn replace_subscriptions(
        &self,
        channel_id: &str,
        topics: &[String],
    ) -> Result<Vec<ChannelTopic>, GenesysError> {
        let body: Vec<ChannelTopic> = topics.iter().map(ChannelTopic::new).collect();
        let listing: ChannelTopicEntityListing = self
            .send_json(
                Method::PUT,
                SUBSCRIPTIONS_ROUTE_PUT,
                &subscriptions_path(channel_id, Some(false)),
                &body,
            )
            .await?;
        Ok(listing.entities)
    }

    /// Adds `topics` to the channel's subscriptions (POST).
    pub async fn add_subscriptions(
        &self,
        channel_id: &str,
        topics: &[String],
    ) -> Result<Vec<ChannelTopic>, GenesysError> {
        let body: Vec<ChannelTopic> = topics.iter().map(ChannelTopic::new).collect();
        let listing: ChannelTopicEntityListing = self
            .send_json(
                Method::POST,
                SUBSCRIPTIONS_ROUTE_POST,
                &subscriptions_path(channel_id, Some(false)),
                &body,
            )
            .await?;
        Ok(listing.entities)
    }

    /// Removes every subscription of the channel (DELETE).
    pub async fn clear_subscriptions(&self, channel_id: &str) -> Result<(), GenesysError> {
        self.call(
            Method::DELETE,
            SUBSCRIPTIONS_ROUTE_DELETE,
            &subscriptions_path(channel_id, None),
            None,
        )
        .await?;
        Ok(())
    }

    /// Creates as many channels as `topics` need (≤ 1,000 topics each) and subscribes each to
    /// its share. Fails before creating anything when more than 20 channels would be needed.
    pub async fn subscribe_all(
        &self,
        topics: &[String],
        topics_per_agent: usize,
    ) -> Result<Vec<ChannelSubscription>, GenesysError> {
        let plan = plan_channels(
            topics,
            MAX_TOPICS_PER_CHANNEL,
            MAX_CHANNELS_PER_CLIENT,
            topics_per_agent,
        )?;
        let mut subscribed = Vec::with_capacity(plan.len());
        for group in plan {
            subscribed.push(self.subscribe_channel(group.to_vec()).await?);
        }
        Ok(subscribed)
    }

    /// Creates one channel carrying `topics`.
    pub async fn subscribe_channel(
        &self,
        topics: Vec<String>,
    ) -> Result<ChannelSubscription, GenesysError> {
        let channel = self.create_channel().await?;
        let answered = self.replace_subscriptions(&channel.id, &topics).await?;
        let rejected: Vec<ChannelTopic> = answered
            .into_iter()
            .filter(|t| matches!(t.state, Some(TopicState::Rejected)))
            .collect();
        if !rejected.is_empty() {
            warn!(channel_id = %channel.id, rejected = rejected.len(), first = %rejected[0].id, "Genesys rejected some topics.");
        }
        info!(channel_id = %channel.id, topics = topics.len(), "Subscribed a notification channel.");
        Ok(ChannelSubscription {
            channel,
            topics,
            rejected,
        })
    }
}

fn subscriptions_path(channel_id: &str, ignore_errors: Option<bool>) -> String {
    let q = match ignore_errors {
        Some(ignore) => query([("ignoreErrors", if ignore { "true" } else { "false" })]),
        None => String::new(),
    };
    format!(
        "/api/v2/notifications/channels/{}/subscriptions{q}",
        segment(channel_id)
    )
}
