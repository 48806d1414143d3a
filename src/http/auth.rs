//! API keys over HTTP: reading the key a request presents (`Authorization: Bearer <key>`, or
//! `?access_token=<key>` for browsers, which cannot set headers on a WebSocket), checking it
//! against the configured [`ApiKeys`], and answering a refusal (401 or 403, JSON).

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, ResponseError, http::StatusCode, http::header};

use crate::auth::{ApiKeys, Grant};

impl ApiKeys {
    /// Authenticates a request: its key must be present and known.
    pub fn authenticate(&self, req: &HttpRequest) -> Result<Arc<Grant>, AuthError> {
        let presented = presented_key(req).ok_or(AuthError::MissingKey)?;
        self.lookup(&presented).ok_or(AuthError::UnknownKey)
    }

    /// Authenticates a request for the admin API.
    pub fn authenticate_admin(&self, req: &HttpRequest) -> Result<Arc<Grant>, AuthError> {
        let grant = self.authenticate(req)?;
        if grant.admin {
            Ok(grant)
        } else {
            Err(AuthError::NotAdmin)
        }
    }
}

/// The key a request presents: `Authorization: Bearer <key>` or `?access_token=<key>`.
pub fn presented_key(req: &HttpRequest) -> Option<String> {
    if let Some(value) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, key) = value.trim().split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| key.trim().to_owned())
            .filter(|k| !k.is_empty());
    }
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(name, _)| name == "access_token")
        .map(|(_, key)| key.into_owned())
        .filter(|k| !k.is_empty())
}

/// Why a request was refused, answered before any upgrade.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("an API key is required: send Authorization: Bearer <key> or ?access_token=<key>")]
    MissingKey,
    #[error("unknown API key")]
    UnknownKey,
    #[error("this key may not receive scope {0}")]
    ScopeNotGranted(&'static str),
    #[error("this key may not use the admin API")]
    NotAdmin,
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MissingKey | Self::UnknownKey => StatusCode::UNAUTHORIZED,
            Self::ScopeNotGranted(_) | Self::NotAdmin => StatusCode::FORBIDDEN,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if self.status_code() == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.json(serde_json::json!({ "error": self.to_string() }))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;
    use crate::{auth::hash_key_hex, config::ApiKeySettings, event::Scope};

    fn keys() -> ApiKeys {
        ApiKeys::from_settings(&[
            ApiKeySettings {
                name: "wallboard".into(),
                sha256: hash_key_hex("wall-key"),
                scopes: vec!["global_routing".into()],
                admin: false,
            },
            ApiKeySettings {
                name: "ops".into(),
                sha256: hash_key_hex("ops-key"),
                scopes: vec!["*".into()],
                admin: true,
            },
        ])
    }

    #[test]
    fn keys_are_found_by_header_or_query_and_refused_otherwise() {
        let keys = keys();
        let header = TestRequest::default()
            .insert_header(("Authorization", "Bearer wall-key"))
            .to_http_request();
        assert_eq!(keys.authenticate(&header).unwrap().name, "wallboard");
        let query = TestRequest::with_uri("/v1/subscribe?access_token=ops-key").to_http_request();
        assert_eq!(
            keys.authenticate(&query).unwrap().scopes,
            Scope::ALL.to_vec()
        );

        let none = TestRequest::default().to_http_request();
        assert_eq!(keys.authenticate(&none), Err(AuthError::MissingKey));
        let wrong = TestRequest::default()
            .insert_header(("Authorization", "Bearer nope"))
            .to_http_request();
        assert_eq!(keys.authenticate(&wrong), Err(AuthError::UnknownKey));
        let basic = TestRequest::default()
            .insert_header(("Authorization", "Basic d2FsbC1rZXk="))
            .to_http_request();
        assert_eq!(keys.authenticate(&basic), Err(AuthError::MissingKey));
    }

    #[test]
    fn only_admin_keys_pass_the_admin_check() {
        let keys = keys();
        let wall = TestRequest::default()
            .insert_header(("Authorization", "Bearer wall-key"))
            .to_http_request();
        assert_eq!(keys.authenticate_admin(&wall), Err(AuthError::NotAdmin));
        let ops = TestRequest::default()
            .insert_header(("Authorization", "Bearer ops-key"))
            .to_http_request();
        assert!(keys.authenticate_admin(&ops).unwrap().admin);
        assert_eq!(AuthError::NotAdmin.status_code(), StatusCode::FORBIDDEN);
        assert_eq!(
            AuthError::UnknownKey.status_code(),
            StatusCode::UNAUTHORIZED
        );
    }
}
