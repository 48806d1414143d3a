//! `POST /oauth/token`: the client-credentials grant (Genesys reference §1.2, §1.3).
//!
//! Credentials are accepted only as `Authorization: Basic base64(id:secret)`, as every
//! official client sends them (the body form is UNCONFIRMED, so it is refused). Errors are
//! `AuthErrorResponse` bodies: 401 `invalid_client` for missing or wrong credentials (checked
//! first), 400 `invalid_request` without `grant_type`, 400 `unsupported_grant_type` for any
//! grant but `client_credentials`. `token_type` is `bearer` (UNCONFIRMED casing).

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use base64::Engine;

use crate::{
    genesys::models::{AuthErrorResponse, AuthResponse},
    sim::world::{Sim, lock},
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/oauth/token", web::post().to(token));
}

async fn token(req: HttpRequest, body: web::Bytes, sim: web::Data<Sim>) -> HttpResponse {
    if !credentials_match(&req, &sim) {
        tracing::info!("Token request with bad or missing client credentials.");
        return auth_error(
            HttpResponse::Unauthorized(),
            "invalid_client",
            "Client authentication failed: send Authorization: Basic base64(clientId:clientSecret).",
        );
    }
    let grant = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| v.into_owned());
    match grant.as_deref() {
        None => auth_error(
            HttpResponse::BadRequest(),
            "invalid_request",
            "grant_type is required.",
        ),
        Some("client_credentials") => {
            let (access_token, expires_in) =
                lock(&sim.auth).issue(&sim.config.client_id, sim.clock.now());
            HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(AuthResponse {
                    access_token,
                    token_type: "bearer".to_owned(),
                    expires_in,
                    refresh_token: None,
                })
        }
        Some(other) => auth_error(
            HttpResponse::BadRequest(),
            "unsupported_grant_type",
            &format!("grant_type {other:?} is not supported; use client_credentials."),
        ),
    }
}

fn credentials_match(req: &HttpRequest, sim: &Sim) -> bool {
    let Some(value) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(decoded) = String::from_utf8(decoded) else {
        return false;
    };
    decoded.split_once(':').is_some_and(|(id, secret)| {
        id == sim.config.client_id && secret == sim.config.client_secret
    })
}

fn auth_error(
    mut builder: actix_web::HttpResponseBuilder,
    error: &str,
    text: &str,
) -> HttpResponse {
    builder.json(AuthErrorResponse {
        error: Some(error.to_owned()),
        description: Some(text.to_owned()),
        error_description: Some(text.to_owned()),
    })
}
