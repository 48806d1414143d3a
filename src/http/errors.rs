//! Every error the HTTP surface answers is JSON, `{"error": "<one line>"}`, with the status
//! that names the cause: the routes' own refusals build it themselves; this module covers what
//! actix-web answers on their behalf.
//!
//! - a query, path or JSON body its extractor cannot parse → 400 (413/415 for bodies) through
//!   [`configure`]'s `QueryConfig`, `PathConfig` and `JsonConfig` error handlers;
//! - a path no route has → 404 from the default service;
//! - a known path with another method → 405 with `Allow` (actix-web's resource answer, which
//!   [`json_error_bodies`] gives a JSON body), and every other error actix-web answers with an
//!   empty body (a refused WebSocket handshake, say) likewise.
//!
//! A client's mistake is logged at DEBUG: it is the client's to fix, not the operator's.
//! (Malformed HTTP never reaches the application: actix-http answers it with an empty 400 before
//! routing, and [`crate::telemetry`] logs it at WARN instead of actix-http's ERROR.)

use actix_web::{
    HttpRequest, HttpResponse, ResponseError,
    body::{BodySize, MessageBody},
    dev::ServiceResponse,
    error::InternalError,
    http::{StatusCode, header},
    middleware::{ErrorHandlerResponse, ErrorHandlers},
    web,
};
use serde_json::json;

/// A JSON error answer: `{"error": message}` with `status`.
pub fn json_error(status: StatusCode, message: impl std::fmt::Display) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": message.to_string() }))
}

/// Registers the extractor error handlers and the 404 default service (app-wide: the routes
/// of every module share them).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(|err, req| {
        let message = match &err {
            actix_web::error::QueryPayloadError::Deserialize(cause) => {
                format!("invalid query string: {cause}")
            }
            other => format!("invalid query string: {other}"),
        };
        refuse(err, req, message)
    }))
    .app_data(web::PathConfig::default().error_handler(|err, req| {
        let message = match &err {
            actix_web::error::PathError::Deserialize(cause) => format!("invalid path: {cause}"),
            other => format!("invalid path: {other}"),
        };
        refuse(err, req, message)
    }))
    .app_data(web::JsonConfig::default().error_handler(|err, req| {
        let message = format!("invalid JSON body: {err}");
        refuse(err, req, message)
    }))
    .default_service(web::to(no_such_route));
}

/// The extractor's error with a JSON answer of its own status.
fn refuse<E>(err: E, req: &HttpRequest, message: String) -> actix_web::Error
where
    E: ResponseError + std::fmt::Debug + std::fmt::Display + 'static,
{
    tracing::debug!(path = req.path(), error = %message, "Request refused.");
    let response = json_error(err.status_code(), &message);
    InternalError::from_response(err, response).into()
}

async fn no_such_route(req: HttpRequest) -> HttpResponse {
    tracing::debug!(method = %req.method(), path = req.path(), "No such route.");
    json_error(
        StatusCode::NOT_FOUND,
        format_args!("no route for {} {}", req.method(), req.path()),
    )
}

/// Middleware giving a JSON body to every error actix-web answers with an empty one (405 from a
/// resource, a refused WebSocket handshake), keeping its status and headers (`Allow`, …).
/// Errors that already have a body pass unchanged.
pub fn json_error_bodies<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(fill_empty_error_body)
}

fn fill_empty_error_body<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    if !matches!(
        res.response().body().size(),
        BodySize::None | BodySize::Sized(0)
    ) {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let (req, response) = res.into_parts();
    let status = response.status();
    let message = match response.headers().get(header::ALLOW) {
        Some(allow) if status == StatusCode::METHOD_NOT_ALLOWED => format!(
            "{} is not allowed on {}; allowed: {}",
            req.method(),
            req.path(),
            allow.to_str().unwrap_or("(unreadable Allow header)")
        ),
        _ => response
            .head()
            .reason
            .or_else(|| status.canonical_reason())
            .unwrap_or("error")
            .to_owned(),
    };
    tracing::debug!(method = %req.method(), path = req.path(), %status, error = %message, "Request refused.");
    let mut answer = json_error(status, message);
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, answer).map_into_right_body(),
    ))
}
