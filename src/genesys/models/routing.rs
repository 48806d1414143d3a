//! Routing: utilization (capacity) limits (`GET /api/v2/routing/users/{id}/utilization`,
//! the org-wide `GET /api/v2/routing/utilization`), and queues with their members
//! (`GET /api/v2/routing/queues`, `GET /api/v2/routing/queues/{id}/members`), which say which
//! queues an agent is active in while On Queue.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

/// Both utilization answers. `level` is `Agent` or `Organization` on the user endpoint and
/// absent on the org endpoint. Media keys are `call`, `callback`, `chat`, `email`, `message`
/// (newer orgs may add more; they are kept).
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UtilizationResponse {
    #[serde(default)]
    pub utilization: BTreeMap<String, MediaUtilization>,
    pub label_utilizations: Option<BTreeMap<String, LabelUtilization>>,
    pub max_inbound_calls: Option<u32>,
    pub level: Option<String>,
}

#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaUtilization {
    /// 0..=25 concurrent interactions of this media type.
    pub maximum_capacity: Option<u32>,
    pub interruptable_media_types: Option<Vec<String>>,
    pub include_non_acd: Option<bool>,
}

#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelUtilization {
    pub maximum_capacity: Option<u32>,
    pub interrupting_label_ids: Option<Vec<String>>,
    pub label_name: Option<String>,
}

/// An entry of `GET /api/v2/routing/queues` (`Queue`; only the fields agentcast reads).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Queue {
    pub id: String,
    pub name: Option<String>,
    pub member_count: Option<u32>,
    pub joined_member_count: Option<u32>,
    pub division: Option<super::EntityRef>,
    pub self_uri: Option<String>,
}

/// An entry of `GET /api/v2/routing/queues/{queueId}/members` (`QueueMember`): the member's
/// user id is `id`; `joined` says whether the member is active in the queue.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueMember {
    pub id: String,
    pub name: Option<String>,
    pub user: Option<super::EntityRef>,
    pub ring_number: Option<u32>,
    pub joined: Option<bool>,
    /// `user` | `group`.
    pub member_by: Option<String>,
    pub self_uri: Option<String>,
}
