//! Workforce management: agent → management unit, published schedules (shifts and their
//! activities) and activity codes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::{EntityRef, time};

/// `GET /api/v2/workforcemanagement/agents/{agentId}/managementunit`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentManagementUnit {
    pub user: Option<EntityRef>,
    pub management_unit: Option<EntityRef>,
    pub business_unit: Option<EntityRef>,
}

/// `GET /api/v2/workforcemanagement/businessunits` (`BusinessUnitListing`).
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BusinessUnitListing {
    #[serde(default)]
    pub entities: Vec<BusinessUnitListItem>,
}

/// An entry of [`BusinessUnitListing`].
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BusinessUnitListItem {
    pub id: String,
    pub name: Option<String>,
    pub division: Option<EntityRef>,
    pub self_uri: Option<String>,
}

/// `GET /api/v2/workforcemanagement/managementunits/{muId}` (`ManagementUnit`; `settings`
/// is not modelled).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagementUnit {
    pub id: String,
    pub name: Option<String>,
    pub business_unit: Option<EntityRef>,
    /// `Monday` .. `Sunday`.
    pub start_day_of_week: Option<String>,
    /// An IANA zone, e.g. `America/New_York`.
    pub time_zone: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub division: Option<EntityRef>,
    pub self_uri: Option<String>,
}

/// Body of `POST .../businessunits/{buId}/agentschedules/search`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleSearchRequest {
    #[serde(with = "time")]
    pub start_date: DateTime<Utc>,
    #[serde(with = "time")]
    pub end_date: DateTime<Utc>,
    pub user_ids: Option<Vec<String>>,
}

/// `BuAsyncAgentSchedulesSearchResponse`: `result` only when `status` is `Complete`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleSearchResponse {
    pub status: ScheduleSearchStatus,
    pub operation_id: Option<String>,
    pub result: Option<ScheduleSearchResult>,
    pub progress: Option<u32>,
    pub download_url: Option<String>,
}

/// `Processing | Complete | Canceled | Error`, unknown values kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ScheduleSearchStatus {
    Processing,
    Complete,
    Canceled,
    Error,
    Other(String),
}

impl From<String> for ScheduleSearchStatus {
    fn from(raw: String) -> Self {
        match raw.as_str() {
            "Processing" => Self::Processing,
            "Complete" => Self::Complete,
            "Canceled" => Self::Canceled,
            "Error" => Self::Error,
            _ => Self::Other(raw),
        }
    }
}

impl From<ScheduleSearchStatus> for String {
    fn from(status: ScheduleSearchStatus) -> Self {
        match status {
            ScheduleSearchStatus::Processing => "Processing".into(),
            ScheduleSearchStatus::Complete => "Complete".into(),
            ScheduleSearchStatus::Canceled => "Canceled".into(),
            ScheduleSearchStatus::Error => "Error".into(),
            ScheduleSearchStatus::Other(raw) => raw,
        }
    }
}

/// `BuAgentSchedulesSearchResponse`.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleSearchResult {
    #[serde(default)]
    pub agent_schedules: Vec<AgentSchedule>,
    pub business_unit_time_zone: Option<String>,
    pub published_schedules: Option<Vec<PublishedScheduleRef>>,
}

#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentSchedule {
    pub user: EntityRef,
    #[serde(default)]
    pub shifts: Vec<Shift>,
    pub full_day_time_off_markers: Option<Vec<FullDayTimeOffMarker>>,
}

#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shift {
    pub id: Option<String>,
    #[serde(with = "time")]
    pub start_date: DateTime<Utc>,
    pub length_minutes: u32,
    #[serde(default)]
    pub activities: Vec<ScheduleActivity>,
    pub manually_edited: Option<bool>,
    pub schedule: Option<WeekScheduleRef>,
    pub work_plan_id: Option<String>,
    pub work_plan_shift_id: Option<String>,
}

impl Shift {
    pub fn end_date(&self) -> DateTime<Utc> {
        self.start_date + chrono::Duration::minutes(i64::from(self.length_minutes))
    }
}

#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleActivity {
    #[serde(with = "time")]
    pub start_date: DateTime<Utc>,
    pub length_minutes: u32,
    pub description: Option<String>,
    pub activity_code_id: Option<String>,
    pub paid: Option<bool>,
    pub payable_minutes: Option<u32>,
    pub time_off_request_id: Option<String>,
    pub external_activity_id: Option<String>,
    /// `ActivityPlan | Coaching | Learning | Opportunity`.
    pub external_activity_type: Option<String>,
}

impl ScheduleActivity {
    pub fn end_date(&self) -> DateTime<Utc> {
        self.start_date + chrono::Duration::minutes(i64::from(self.length_minutes))
    }
}

#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FullDayTimeOffMarker {
    /// A local date, `2024-05-03`.
    pub business_unit_date: Option<String>,
    pub length_minutes: Option<u32>,
    pub description: Option<String>,
    pub activity_code_id: Option<String>,
    pub paid: Option<bool>,
    pub payable_minutes: Option<u32>,
    pub time_off_request_id: Option<String>,
}

#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WeekScheduleRef {
    pub id: Option<String>,
    pub week_date: Option<String>,
    pub self_uri: Option<String>,
}

#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishedScheduleRef {
    pub id: Option<String>,
    pub week_date: Option<String>,
    pub week_count: Option<u32>,
    pub self_uri: Option<String>,
}

/// `GET /api/v2/workforcemanagement/businessunits/{buId}/activitycodes`.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityCodeListing {
    #[serde(default)]
    pub entities: Vec<ActivityCode>,
    pub download_url: Option<String>,
}

#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityCode {
    pub id: String,
    pub name: Option<String>,
    pub active: Option<bool>,
    pub default_code: Option<bool>,
    pub category: Option<ActivityCategory>,
    pub length_in_minutes: Option<u32>,
    pub counts_as_paid_time: Option<bool>,
    pub counts_as_work_time: Option<bool>,
    pub agent_time_off_selectable: Option<bool>,
    pub counts_toward_shrinkage: Option<bool>,
    pub planned_shrinkage: Option<bool>,
    pub interruptible: Option<bool>,
    pub secondary_presences: Option<Vec<EntityRef>>,
    pub planning_groups: Option<Vec<EntityRef>>,
    pub metadata: Option<serde_json::Value>,
    pub self_uri: Option<String>,
}

/// `OnQueueWork | Break | Meal | Meeting | OffQueueWork | TimeOff | Training | Unavailable`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ActivityCategory {
    OnQueueWork,
    Break,
    Meal,
    Meeting,
    OffQueueWork,
    TimeOff,
    Training,
    Unavailable,
    Other(String),
}

impl ActivityCategory {
    pub const ALL: [ActivityCategory; 8] = [
        Self::OnQueueWork,
        Self::Break,
        Self::Meal,
        Self::Meeting,
        Self::OffQueueWork,
        Self::TimeOff,
        Self::Training,
        Self::Unavailable,
    ];

    pub fn as_str(&self) -> &str {
        match self {
            Self::OnQueueWork => "OnQueueWork",
            Self::Break => "Break",
            Self::Meal => "Meal",
            Self::Meeting => "Meeting",
            Self::OffQueueWork => "OffQueueWork",
            Self::TimeOff => "TimeOff",
            Self::Training => "Training",
            Self::Unavailable => "Unavailable",
            Self::Other(raw) => raw,
        }
    }
}

impl ActivityCategory {
    /// The category as text, without copying a known value.
    pub fn to_cow(&self) -> std::borrow::Cow<'static, str> {
        match self {
            Self::OnQueueWork => "OnQueueWork".into(),
            Self::Break => "Break".into(),
            Self::Meal => "Meal".into(),
            Self::Meeting => "Meeting".into(),
            Self::OffQueueWork => "OffQueueWork".into(),
            Self::TimeOff => "TimeOff".into(),
            Self::Training => "Training".into(),
            Self::Unavailable => "Unavailable".into(),
            Self::Other(raw) => raw.clone().into(),
        }
    }
}

impl From<String> for ActivityCategory {
    fn from(raw: String) -> Self {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == raw)
            .unwrap_or(Self::Other(raw))
    }
}

impl From<ActivityCategory> for String {
    fn from(c: ActivityCategory) -> Self {
        match c {
            ActivityCategory::Other(raw) => raw,
            known => known.as_str().to_owned(),
        }
    }
}
