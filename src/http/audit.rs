//! `GET /v1/audit?kind=&agent=&since=&limit=`: the audit trail, for admin keys only.
//!
//! Filters combine: `kind` (`broadcast`, `reject`, `eviction`, `webhook_attempt`, …),
//! `agent` (an agent id), `since` (an RFC 3339 time: records at or after it; or a record id:
//! records after it, for paging), `limit` (default 100, at most 1000; `0` or anything but a
//! whole number is refused with 400). Records come oldest first; `next` is the `since` that
//! fetches the following page (absent on the last page). A parameter given twice is refused
//! with 400, like every malformed query.
//!
//! State: `web::Data<ApiKeys>` and `web::Data<Addr<AuditActor>>`.

use actix::Addr;
use actix_web::{HttpRequest, HttpResponse, ResponseError, http::StatusCode, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::{auth::AuthError, paging};
use crate::{
    actors::audit::{AuditActor, AuditError, AuditQuery, MAX_QUERY_LIMIT, Since},
    auth::ApiKeys,
};

/// Records returned when no `limit` is given.
const DEFAULT_LIMIT: usize = 100;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/audit").get(query));
}

#[derive(Debug, thiserror::Error)]
pub enum AuditApiError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error("{0}")]
    BadRequest(String),
}

impl ResponseError for AuditApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Auth(e) => e.status_code(),
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Audit(AuditError::Stopped) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Audit(AuditError::Store(_)) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Auth(e) => e.error_response(),
            other => {
                HttpResponse::build(other.status_code()).json(json!({ "error": other.to_string() }))
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct Params {
    kind: Option<String>,
    agent: Option<String>,
    since: Option<String>,
    limit: Option<String>,
}

async fn query(
    req: HttpRequest,
    keys: web::Data<ApiKeys>,
    audit: web::Data<Addr<AuditActor>>,
    params: web::Query<Params>,
) -> Result<HttpResponse, AuditApiError> {
    keys.authenticate_admin(&req)?;
    let params = params.into_inner();
    let since = params.since.as_deref().map(parse_since).transpose()?;
    let limit = paging::limit(params.limit.as_deref(), DEFAULT_LIMIT, MAX_QUERY_LIMIT)
        .map_err(AuditApiError::BadRequest)?;
    let records = audit
        .send(AuditQuery {
            kind: params.kind.filter(|k| !k.is_empty()),
            agent_id: params.agent.filter(|a| !a.is_empty()),
            since,
            limit,
        })
        .await
        .map_err(|_| AuditError::Stopped)??;
    let next = (records.len() == limit)
        .then(|| records.last().map(|r| r.id.to_string()))
        .flatten();
    Ok(HttpResponse::Ok().json(json!({ "records": records, "next": next })))
}

fn parse_since(raw: &str) -> Result<Since, AuditApiError> {
    if let Ok(id) = raw.parse::<i64>() {
        return Ok(Since::After(id));
    }
    DateTime::parse_from_rfc3339(raw)
        .map(|t| Since::Time(t.with_timezone(&Utc)))
        .map_err(|_| {
            AuditApiError::BadRequest(format!(
                "since={raw:?} is neither an RFC 3339 time nor a record id"
            ))
        })
}
