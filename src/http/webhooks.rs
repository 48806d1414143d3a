//! The webhook admin API, for admin keys only (same keys as subscribers, `admin = true`):
//!
//! | route | what |
//! |---|---|
//! | `GET  /v1/webhooks` | every endpoint with its health, and the events lost for webhooks |
//! | `GET  /v1/webhooks/{id}` | one endpoint |
//! | `POST /v1/webhooks/{id}/enable` | re-enable a disabled endpoint |
//! | `GET  /v1/webhooks/{id}/dead-letters?since=&limit=` | its dead letters, oldest first (`limit` 1 to 1000) |
//! | `POST /v1/webhooks/{id}/dead-letters/{event_id}/replay` | replay one |
//! | `POST /v1/webhooks/{id}/replay?since=` | replay every dead letter accepted since a time |
//! | `GET  /v1/webhooks/{id}/events/{event_id}/attempts` | every attempt for one event |
//!
//! State: `web::Data<ApiKeys>` and `web::Data<Addr<WebhookActor>>`. Times are RFC 3339.

use actix::Addr;
use actix_web::{HttpRequest, HttpResponse, ResponseError, http::StatusCode, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::{auth::AuthError, paging};
use crate::{
    actors::webhook::{
        EnableEndpoint, GetLosses, ListAttempts, ListDeadLetters, ListEndpoints, MAX_LIST_LIMIT,
        ReplayDeadLetters, ReplaySelector, WebhookActor, WebhookError,
    },
    auth::ApiKeys,
};

/// Dead letters listed when no `limit` is given.
const DEFAULT_LIMIT: usize = 100;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/webhooks").get(list))
        .service(web::resource("/v1/webhooks/{id}").get(one))
        .service(web::resource("/v1/webhooks/{id}/enable").post(enable))
        .service(web::resource("/v1/webhooks/{id}/dead-letters").get(dead_letters))
        .service(web::resource("/v1/webhooks/{id}/dead-letters/{event_id}/replay").post(replay_one))
        .service(web::resource("/v1/webhooks/{id}/replay").post(replay_since))
        .service(web::resource("/v1/webhooks/{id}/events/{event_id}/attempts").get(attempts));
}

/// Why an admin request failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    #[error("{0}")]
    BadRequest(String),
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Auth(e) => e.status_code(),
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Webhook(e) => match e {
                WebhookError::UnknownEndpoint(_) | WebhookError::NoDeadLetter { .. } => {
                    StatusCode::NOT_FOUND
                }
                WebhookError::Disabled(_) => StatusCode::CONFLICT,
                WebhookError::Overloaded(_) | WebhookError::Stopped => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                WebhookError::Store(_) | WebhookError::Config(_) => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            },
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

type Actor = web::Data<Addr<WebhookActor>>;
type Keys = web::Data<ApiKeys>;

fn admin(req: &HttpRequest, keys: &ApiKeys) -> Result<String, AdminError> {
    Ok(keys.authenticate_admin(req)?.name.clone())
}

async fn ask<M>(actor: &Addr<WebhookActor>, msg: M) -> Result<M::Result, AdminError>
where
    M: actix::Message + Send + 'static,
    M::Result: Send,
    WebhookActor: actix::Handler<M>,
{
    actor
        .send(msg)
        .await
        .map_err(|_| AdminError::Webhook(WebhookError::Stopped))
}

async fn list(req: HttpRequest, keys: Keys, actor: Actor) -> Result<HttpResponse, AdminError> {
    admin(&req, &keys)?;
    let endpoints = ask(&actor, ListEndpoints).await??;
    let lost = ask(&actor, GetLosses).await?;
    Ok(HttpResponse::Ok().json(json!({ "endpoints": endpoints, "lost": lost })))
}

async fn one(
    req: HttpRequest,
    keys: Keys,
    actor: Actor,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    admin(&req, &keys)?;
    let id = id.into_inner();
    let endpoint = ask(&actor, ListEndpoints)
        .await??
        .into_iter()
        .find(|e| e.id == id)
        .ok_or(WebhookError::UnknownEndpoint(id))?;
    Ok(HttpResponse::Ok().json(endpoint))
}

async fn enable(
    req: HttpRequest,
    keys: Keys,
    actor: Actor,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let by = admin(&req, &keys)?;
    let endpoint = id.into_inner();
    ask(
        &actor,
        EnableEndpoint {
            endpoint: endpoint.clone(),
            by,
        },
    )
    .await??;
    Ok(HttpResponse::Ok().json(json!({ "endpoint": endpoint, "enabled": true })))
}

#[derive(Debug, Deserialize)]
struct ListParams {
    since: Option<String>,
    limit: Option<String>,
}

async fn dead_letters(
    req: HttpRequest,
    keys: Keys,
    actor: Actor,
    id: web::Path<String>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, AdminError> {
    admin(&req, &keys)?;
    let since = params.since.as_deref().map(parse_time).transpose()?;
    let limit = paging::limit(params.limit.as_deref(), DEFAULT_LIMIT, MAX_LIST_LIMIT)
        .map_err(AdminError::BadRequest)?;
    let list = ask(
        &actor,
        ListDeadLetters {
            endpoint: id.into_inner(),
            since,
            limit,
        },
    )
    .await??;
    Ok(HttpResponse::Ok().json(json!({ "dead_letters": list })))
}

async fn replay_one(
    req: HttpRequest,
    keys: Keys,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    admin(&req, &keys)?;
    let (endpoint, event_id) = path.into_inner();
    let replayed = ask(
        &actor,
        ReplayDeadLetters {
            endpoint,
            selector: ReplaySelector::Event(event_id),
        },
    )
    .await??;
    Ok(HttpResponse::Ok().json(json!({ "replayed": replayed })))
}

#[derive(Debug, Deserialize)]
struct SinceParam {
    since: Option<String>,
}

async fn replay_since(
    req: HttpRequest,
    keys: Keys,
    actor: Actor,
    id: web::Path<String>,
    params: web::Query<SinceParam>,
) -> Result<HttpResponse, AdminError> {
    admin(&req, &keys)?;
    let since = params
        .since
        .as_deref()
        .ok_or_else(|| {
            AdminError::BadRequest(
                "since is required: replay dead letters accepted since when?".into(),
            )
        })
        .and_then(parse_time)?;
    let replayed = ask(
        &actor,
        ReplayDeadLetters {
            endpoint: id.into_inner(),
            selector: ReplaySelector::Since(since.timestamp_millis()),
        },
    )
    .await??;
    Ok(HttpResponse::Ok().json(json!({ "replayed": replayed })))
}

async fn attempts(
    req: HttpRequest,
    keys: Keys,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    admin(&req, &keys)?;
    let (endpoint, event_id) = path.into_inner();
    let list = ask(&actor, ListAttempts { endpoint, event_id }).await??;
    Ok(HttpResponse::Ok().json(json!({ "attempts": list })))
}

fn parse_time(raw: &str) -> Result<DateTime<Utc>, AdminError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| AdminError::BadRequest(format!("since={raw:?} is not an RFC 3339 time: {e}")))
}
