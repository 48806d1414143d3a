//! Workforce management (Genesys reference §4.2, §4.3): agent → management unit, the management unit, a
//! business unit's activity codes and the business-unit schedule search.
//!
//! Schedule search choices (the reference leaves them open):
//! - `forceAsync=true`, or an armed `schedule_processing` fault, answers
//!   `{"status":"Processing","operationId","progress":0}` and nothing more: no completion
//!   notification is sent (which topic would carry it is UNCONFIRMED); the client is expected
//!   to issue the search again later (without `forceAsync`).
//! - `forceDownloadService=true` answers `Complete` with a `downloadUrl` instead of `result`;
//!   the URL (`{base}/downloads/{operationId}`, no auth, kept for the last
//!   [`DOWNLOADS_KEPT`] searches) serves the `result` JSON.
//! - without `userIds`, every agent of the business unit is returned; ids that are unknown or
//!   in another business unit are left out. `endDate` must be after `startDate` (else 400).
//! - shifts overlapping `[startDate, endDate)` are returned, time-off markers whose date lies
//!   in the range, and the published weeks overlapping it.

use std::collections::VecDeque;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Duration;

use super::Params;
use crate::{
    genesys::models::{
        ActivityCodeListing, AgentManagementUnit, AgentSchedule, BusinessUnitListItem,
        BusinessUnitListing, EntityRef, FullDayTimeOffMarker, ManagementUnit, PublishedScheduleRef,
        ScheduleSearchRequest, ScheduleSearchResponse, ScheduleSearchResult, ScheduleSearchStatus,
    },
    sim::{
        auth::Api,
        org::Org,
        respond::{ApiError, parse_json},
        world::{Sim, World, lock},
    },
};

/// Downloadable search results kept.
pub const DOWNLOADS_KEPT: usize = 32;

/// Results of `forceDownloadService` searches, by operation id.
#[derive(Debug, Default)]
pub struct Downloads {
    entries: VecDeque<(String, web::Bytes)>,
}

impl Downloads {
    fn put(&mut self, id: String, body: web::Bytes) {
        if self.entries.len() >= DOWNLOADS_KEPT {
            self.entries.pop_front();
        }
        self.entries.push_back((id, body));
    }

    fn get(&self, id: &str) -> Option<web::Bytes> {
        self.entries
            .iter()
            .find(|(k, _)| k == id)
            .map(|(_, v)| v.clone())
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/api/v2/workforcemanagement/businessunits",
        web::get().to(business_units),
    )
    .route(
        "/api/v2/workforcemanagement/agents/{agentId}/managementunit",
        web::get().to(agent_unit),
    )
    .route(
        "/api/v2/workforcemanagement/managementunits/{muId}",
        web::get().to(management_unit),
    )
    .route(
        "/api/v2/workforcemanagement/businessunits/{buId}/activitycodes",
        web::get().to(activity_codes),
    )
    .route(
        "/api/v2/workforcemanagement/businessunits/{buId}/agentschedules/search",
        web::post().to(search),
    )
    .route("/downloads/{operationId}", web::get().to(download));
}

fn bu_uri(id: &str) -> String {
    format!("/api/v2/workforcemanagement/businessunits/{id}")
}

fn mu_uri(id: &str) -> String {
    format!("/api/v2/workforcemanagement/managementunits/{id}")
}

/// `GET /api/v2/workforcemanagement/businessunits` (`BusinessUnitListing`; not in the
/// reference, which lists agent → unit instead; the SDKs and the Terraform provider use it).
async fn business_units(_api: Api, sim: web::Data<Sim>) -> Result<HttpResponse, ApiError> {
    let org = &sim.org;
    let division = EntityRef {
        id: org.division_id.clone(),
        self_uri: Some(format!(
            "/api/v2/authorization/divisions/{}",
            org.division_id
        )),
    };
    let entities = org
        .business_units
        .iter()
        .enumerate()
        .map(|(i, bu)| BusinessUnitListItem {
            id: bu.id.clone(),
            name: Some(format!("Business Unit {}", i + 1)),
            division: Some(division.clone()),
            self_uri: Some(bu_uri(&bu.id)),
        })
        .collect();
    Ok(HttpResponse::Ok().json(BusinessUnitListing { entities }))
}

async fn agent_unit(
    _api: Api,
    path: web::Path<String>,
    sim: web::Data<Sim>,
) -> Result<HttpResponse, ApiError> {
    let org = &sim.org;
    let agent = org
        .agent_index(&path)
        .ok_or_else(|| ApiError::NotFound(format!("agent {} not found", path.as_str())))?;
    let (mu, bu) = (org.mu_of(agent), org.bu_of(agent));
    Ok(HttpResponse::Ok().json(AgentManagementUnit {
        user: Some(EntityRef {
            id: org.agents[agent as usize].id.clone(),
            self_uri: Some(format!("/api/v2/users/{}", org.agents[agent as usize].id)),
        }),
        management_unit: Some(EntityRef {
            id: mu.id.clone(),
            self_uri: Some(mu_uri(&mu.id)),
        }),
        business_unit: Some(EntityRef {
            id: bu.id.clone(),
            self_uri: Some(bu_uri(&bu.id)),
        }),
    }))
}

async fn management_unit(
    _api: Api,
    path: web::Path<String>,
    sim: web::Data<Sim>,
) -> Result<HttpResponse, ApiError> {
    let org = &sim.org;
    let mu = org
        .mu_index(&path)
        .map(|i| &org.management_units[i])
        .ok_or_else(|| {
            ApiError::NotFound(format!("management unit {} not found", path.as_str()))
        })?;
    let bu = &org.business_units[mu.bu as usize];
    Ok(HttpResponse::Ok().json(ManagementUnit {
        id: mu.id.clone(),
        name: Some(mu.name.clone()),
        business_unit: Some(EntityRef {
            id: bu.id.clone(),
            self_uri: Some(bu_uri(&bu.id)),
        }),
        start_day_of_week: Some("Monday".to_owned()),
        time_zone: Some(bu.time_zone.to_owned()),
        metadata: Some(serde_json::json!({ "version": 1 })),
        division: Some(EntityRef {
            id: org.division_id.clone(),
            self_uri: Some(format!(
                "/api/v2/authorization/divisions/{}",
                org.division_id
            )),
        }),
        self_uri: Some(mu_uri(&mu.id)),
    }))
}

fn business_unit(org: &Org, id: &str) -> Result<usize, ApiError> {
    org.bu_index(id)
        .ok_or_else(|| ApiError::NotFound(format!("business unit {id} not found")))
}

async fn activity_codes(
    _api: Api,
    path: web::Path<String>,
    sim: web::Data<Sim>,
) -> Result<HttpResponse, ApiError> {
    let bu = &sim.org.business_units[business_unit(&sim.org, &path)?];
    Ok(HttpResponse::Ok().json(ActivityCodeListing {
        entities: bu.codes.iter().map(|c| c.to_model(&bu.id)).collect(),
        download_url: None,
    }))
}

async fn search(
    _api: Api,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    sim: web::Data<Sim>,
) -> Result<HttpResponse, ApiError> {
    let bu = business_unit(&sim.org, &path)?;
    let params = Params::of(&req);
    let force_async = params.flag("forceAsync")?;
    let force_download = params.flag("forceDownloadService")?;
    let request: ScheduleSearchRequest = parse_json(&body)?;
    if request.end_date <= request.start_date {
        return Err(ApiError::BadRequest(
            "endDate must be after startDate".into(),
        ));
    }
    let operation_id = uuid::Uuid::new_v4().to_string();
    let mut answer = ScheduleSearchResponse {
        status: ScheduleSearchStatus::Complete,
        operation_id: Some(operation_id.clone()),
        result: None,
        progress: None,
        download_url: None,
    };
    if force_async || lock(&sim.faults).take_schedule_processing() {
        answer.status = ScheduleSearchStatus::Processing;
        answer.progress = Some(0);
        return Ok(HttpResponse::Ok().json(answer));
    }
    let result = schedules(&sim.org, &lock(&sim.world), bu, &request);
    if force_download {
        let bytes = serde_json::to_vec(&result)
            .map_err(|e| ApiError::BadRequest(format!("cannot serialize the result: {e}")))?;
        lock(&sim.downloads).put(operation_id.clone(), bytes.into());
        answer.download_url = Some(format!("{}/downloads/{operation_id}", sim.base));
    } else {
        answer.result = Some(result);
    }
    Ok(HttpResponse::Ok().json(answer))
}

/// The `result` of a search of business unit `bu`.
pub fn schedules(
    org: &Org,
    world: &World,
    bu: usize,
    request: &ScheduleSearchRequest,
) -> ScheduleSearchResult {
    let in_bu = |agent: u32| org.mu_of(agent).bu as usize == bu;
    let agents: Vec<u32> = match &request.user_ids {
        Some(ids) => ids
            .iter()
            .filter_map(|id| org.agent_index(id))
            .filter(|a| in_bu(*a))
            .collect(),
        None => (0..org.agents.len() as u32).filter(|a| in_bu(*a)).collect(),
    };
    let unit = &org.business_units[bu];
    let (start, end) = (request.start_date, request.end_date);
    let agent_schedules = agents
        .into_iter()
        .map(|agent| {
            let mu = org.mu_of(agent);
            let id = &org.agents[agent as usize].id;
            AgentSchedule {
                user: EntityRef {
                    id: id.clone(),
                    self_uri: Some(format!("/api/v2/users/{id}")),
                },
                shifts: world.shifts[agent as usize]
                    .iter()
                    .filter(|s| s.start < end && s.end() > start)
                    .map(|s| s.to_model(unit, (&mu.work_plan_id, &mu.work_plan_shift_id)))
                    .collect(),
                full_day_time_off_markers: Some(
                    world.time_off[agent as usize]
                        .iter()
                        .filter(|m| start.date_naive() <= m.date && m.date <= end.date_naive())
                        .map(|m| FullDayTimeOffMarker {
                            business_unit_date: Some(m.date.to_string()),
                            length_minutes: Some(m.minutes),
                            description: Some(String::new()),
                            activity_code_id: Some(unit.code(m.code).id.clone()),
                            paid: Some(unit.code(m.code).paid),
                            payable_minutes: Some(m.minutes),
                            time_off_request_id: Some(m.request_id.clone()),
                        })
                        .collect(),
                ),
            }
        })
        .collect();
    let published = unit
        .weeks
        .iter()
        .filter(|w| {
            let week_start = w.week_date.and_hms_opt(0, 0, 0).map(|d| d.and_utc());
            week_start.is_some_and(|ws| ws < end && ws + Duration::days(7) > start)
        })
        .map(|w| PublishedScheduleRef {
            id: Some(w.id.clone()),
            week_date: Some(w.week_date.to_string()),
            week_count: Some(1),
            self_uri: Some(format!(
                "{}/weeks/{}/schedules/{}",
                bu_uri(&unit.id),
                w.week_date,
                w.id
            )),
        })
        .collect();
    ScheduleSearchResult {
        agent_schedules,
        business_unit_time_zone: Some(unit.time_zone.to_owned()),
        published_schedules: Some(published),
    }
}

async fn download(path: web::Path<String>, sim: web::Data<Sim>) -> Result<HttpResponse, ApiError> {
    let body = lock(&sim.downloads)
        .get(&path)
        .ok_or_else(|| ApiError::NotFound(format!("download {} not found", path.as_str())))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}
