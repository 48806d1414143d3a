//! Workforce management: agent → management unit, activity codes, and the business unit's
//! published schedules.
//!
//! A schedule search may answer `Processing` instead of a result (large units, or
//! `forceAsync`). How the real service delivers the finished result to a client-credentials
//! caller is not documented (Genesys reference §3.7, UNCONFIRMED), so this client asks again with
//! backoff until the answer is `Complete`, and fetches `downloadUrl` when the result is too
//! large to be inlined.

use std::time::Duration;

use actix_web::http::Method;
use chrono::{DateTime, Utc};
use tracing::info;

use super::segment;
use crate::genesys::{
    GenesysClient, GenesysError,
    backoff::Backoff,
    models::{
        ActivityCode, ActivityCodeListing, AgentManagementUnit, BusinessUnitListItem,
        BusinessUnitListing, ScheduleSearchRequest, ScheduleSearchResponse, ScheduleSearchResult,
        ScheduleSearchStatus,
    },
};

/// How many times a `Processing` schedule search is asked again before giving up.
pub const SCHEDULE_SEARCH_MAX_POLLS: u32 = 8;
const SCHEDULE_ROUTE: &str =
    "POST /api/v2/workforcemanagement/businessunits/{businessUnitId}/agentschedules/search";
const DOWNLOAD_ROUTE: &str = "GET <schedule search downloadUrl>";

impl GenesysClient {
    /// `GET /api/v2/workforcemanagement/agents/{agentId}/managementunit`.
    pub async fn agent_management_unit(
        &self,
        user_id: &str,
    ) -> Result<AgentManagementUnit, GenesysError> {
        self.get_json(
            "GET /api/v2/workforcemanagement/agents/{agentId}/managementunit",
            &format!(
                "/api/v2/workforcemanagement/agents/{}/managementunit",
                segment(user_id)
            ),
        )
        .await
    }

    /// The organisation's business units (`GET /api/v2/workforcemanagement/businessunits`).
    pub async fn business_units(&self) -> Result<Vec<BusinessUnitListItem>, GenesysError> {
        let listing: BusinessUnitListing = self
            .get_json(
                "GET /api/v2/workforcemanagement/businessunits",
                "/api/v2/workforcemanagement/businessunits",
            )
            .await?;
        Ok(listing.entities)
    }

    /// `GET /api/v2/workforcemanagement/businessunits/{businessUnitId}/activitycodes`.
    pub async fn activity_codes(
        &self,
        business_unit_id: &str,
    ) -> Result<Vec<ActivityCode>, GenesysError> {
        let listing: ActivityCodeListing = self
            .get_json(
                "GET /api/v2/workforcemanagement/businessunits/{businessUnitId}/activitycodes",
                &format!(
                    "/api/v2/workforcemanagement/businessunits/{}/activitycodes",
                    segment(business_unit_id)
                ),
            )
            .await?;
        Ok(listing.entities)
    }

    /// Published schedules of a business unit between `start` and `end`, for `user_ids` or
    /// (when `None`) everyone in the unit.
    pub async fn business_unit_schedules(
        &self,
        business_unit_id: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        user_ids: Option<Vec<String>>,
    ) -> Result<ScheduleSearchResult, GenesysError> {
        let request = ScheduleSearchRequest {
            start_date: start,
            end_date: end,
            user_ids,
        };
        let path = format!(
            "/api/v2/workforcemanagement/businessunits/{}/agentschedules/search",
            segment(business_unit_id)
        );
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(15));
        let mut polls = 0;
        loop {
            let answer: ScheduleSearchResponse = self
                .send_json(Method::POST, SCHEDULE_ROUTE, &path, &request)
                .await?;
            match answer.status {
                ScheduleSearchStatus::Complete => {
                    return match (answer.result, answer.download_url) {
                        (Some(result), _) => Ok(result),
                        (None, Some(url)) => self.download_json(DOWNLOAD_ROUTE, &url).await,
                        (None, None) => Ok(ScheduleSearchResult::default()),
                    };
                }
                ScheduleSearchStatus::Processing if polls < SCHEDULE_SEARCH_MAX_POLLS => {
                    let delay = backoff.delay(polls);
                    info!(
                        business_unit_id,
                        operation_id = answer.operation_id.as_deref().unwrap_or(""),
                        delay_ms = delay.as_millis() as u64,
                        "Schedule search is processing; asking again."
                    );
                    actix_rt::time::sleep(delay).await;
                    polls += 1;
                }
                other => {
                    return Err(GenesysError::ScheduleSearch {
                        business_unit: business_unit_id.to_owned(),
                        status: String::from(other),
                        attempts: polls + 1,
                    });
                }
            }
        }
    }
}
