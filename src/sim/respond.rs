//! How every answer is dressed: the `ErrorBody` of failed calls, the `ININ-Correlation-Id`
//! and `inin-ratelimit-*` headers, and the per-route call counts behind `GET /sim/calls`.
//!
//! The [`envelope`] middleware gives each request a correlation id (a random UUID) and runs
//! the request inside a task-local scope holding it, so an [`ApiError`] built anywhere below
//! can put the same id in `contextId`. After the answer it adds the headers and counts the
//! call under `METHOD /route/{template}` (admin `/sim/` calls are not counted). Calls made
//! without a token (login, downloads, admin) report `inin-ratelimit-count: 0`.

use std::collections::BTreeMap;

use actix_web::{
    HttpMessage, HttpRequest, HttpResponse, ResponseError,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::{
        StatusCode,
        header::{HeaderName, HeaderValue, RETRY_AFTER},
    },
    middleware::Next,
    web,
};
use serde::de::DeserializeOwned;

use crate::{genesys::models::ErrorBody, sim::world::Sim};

tokio::task_local! {
    static CORRELATION_ID: String;
}

/// Header names (lower case, as HTTP/1 writes them; clients match case-insensitively).
pub const CORRELATION_HEADER: &str = "inin-correlation-id";
const RATE_COUNT: &str = "inin-ratelimit-count";
const RATE_ALLOWED: &str = "inin-ratelimit-allowed";
const RATE_RESET: &str = "inin-ratelimit-reset";

/// The rate-limit figures of the token that made a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateHeaders {
    pub count: u32,
    pub allowed: u32,
    pub reset_secs: u64,
}

/// A failed Platform API call; answered as an `ErrorBody` with the table's codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("No authentication bearer token specified in authorization header.")]
    AuthenticationRequired,
    #[error("Invalid login credentials.")]
    BadCredentials,
    #[error("The supplied credentials are expired and cannot be used.")]
    CredentialsExpired,
    #[error("Rate limit exceeded the maximum [{limit}] requests within [60] seconds")]
    TooManyRequests { limit: u32, retry_after_secs: u64 },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// A 5xx injected by the `server_errors` fault.
    #[error("The service is currently unavailable (injected fault).")]
    Injected { status: u16 },
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::AuthenticationRequired => "authentication.required",
            Self::BadCredentials => "bad.credentials",
            Self::CredentialsExpired => "credentials.expired",
            Self::TooManyRequests { .. } => "too.many.requests",
            Self::BadRequest(_) => "bad.request",
            Self::NotFound(_) => "not.found",
            Self::Injected { status: 503 } => "service.unavailable",
            Self::Injected { status: 504 } => "request.timeout",
            // Not in the reference's table: chosen to read like the others.
            Self::Injected { status: 502 } => "bad.gateway",
            Self::Injected { .. } => "internal.server.error",
        }
    }

    pub fn body(&self) -> ErrorBody {
        let mut body = ErrorBody::new(self.status_code().as_u16(), self.code(), self.to_string());
        body.context_id = correlation_id();
        if let Self::TooManyRequests { limit, .. } = self {
            body.limit = Some(serde_json::json!({
                "key": "client.credentials.token.rate.per.minute",
                "namespace": "platform.api",
                "value": limit,
            }));
        }
        body
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::AuthenticationRequired | Self::BadCredentials | Self::CredentialsExpired => {
                StatusCode::UNAUTHORIZED
            }
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Injected { status } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        if let Self::TooManyRequests {
            retry_after_secs, ..
        } = self
        {
            res.insert_header((RETRY_AFTER, retry_after_secs.to_string()));
        }
        res.json(self.body())
    }
}

/// The current request's correlation id (inside the [`envelope`] scope).
pub fn correlation_id() -> Option<String> {
    CORRELATION_ID.try_with(Clone::clone).ok()
}

/// Parses a JSON body, answering 400 `bad.request` when it does not fit.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("invalid body: {e}")))
}

/// Largest request body (a 1,000-topic subscription is about 70 kB).
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Query-string and path extraction errors as `ErrorBody` 400s; the body size limit.
pub fn configure_extractors(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .app_data(
            web::QueryConfig::default()
                .error_handler(|err, _| ApiError::BadRequest(err.to_string()).into()),
        )
        .app_data(
            web::PathConfig::default()
                .error_handler(|err, _| ApiError::BadRequest(err.to_string()).into()),
        );
}

/// Calls per `(route, status)`.
#[derive(Debug, Default)]
pub struct CallStats {
    counts: BTreeMap<(String, u16), u64>,
}

impl CallStats {
    pub fn record(&mut self, route: String, status: u16) {
        *self.counts.entry((route, status)).or_default() += 1;
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, u16, u64)> {
        self.counts.iter().map(|((r, s), n)| (r.as_str(), *s, *n))
    }

    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

/// Adds the correlation and rate-limit headers and counts the call (not `/sim/` ones).
pub async fn envelope(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = uuid::Uuid::new_v4().to_string();
    let mut res = CORRELATION_ID.scope(id.clone(), next.call(req)).await?;
    let Some(sim) = res.request().app_data::<web::Data<Sim>>().cloned() else {
        return Ok(res);
    };
    let rate = res
        .request()
        .extensions()
        .get::<RateHeaders>()
        .copied()
        .unwrap_or(RateHeaders {
            count: 0,
            allowed: sim.config.rate_limit_per_minute,
            reset_secs: 60,
        });
    let route = route_of(res.request());
    let status = res.status().as_u16();
    let headers = res.headers_mut();
    let mut put = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    put(CORRELATION_HEADER, id);
    put(RATE_COUNT, rate.count.to_string());
    put(RATE_ALLOWED, rate.allowed.to_string());
    put(RATE_RESET, rate.reset_secs.to_string());
    if let Some(route) = route {
        crate::sim::world::lock(&sim.calls).record(route, status);
    }
    Ok(res)
}

/// `METHOD /route/{template}`, or `None` for admin routes.
fn route_of(req: &HttpRequest) -> Option<String> {
    if req.path().starts_with("/sim/") {
        return None;
    }
    let pattern = req
        .match_pattern()
        .unwrap_or_else(|| "<unmatched>".to_owned());
    Some(format!("{} {pattern}", req.method()))
}

/// The default service: 404 `not.found` (401 first for `/api/v2` paths without a valid token).
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if req.path().starts_with("/api/v2") {
        crate::sim::auth::authorize(&req).await?;
    }
    Err(ApiError::NotFound(format!(
        "Resource {} {} not found",
        req.method(),
        req.path()
    )))
}
