//! Utilization (capacity) limits: `GET /api/v2/routing/users/{id}/utilization` and the
//! org-wide `GET /api/v2/routing/utilization`.

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
