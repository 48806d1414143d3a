//! API keys: who may subscribe, to which scopes, and who may use the admin API.
//!
//! Keys are configured by SHA-256 hash. A presented key (`Authorization: Bearer <key>`, or
//! `?access_token=<key>` for browsers, which cannot set headers on a WebSocket) is hashed and
//! looked up; the key itself is never stored, logged or audited, only its holder's name.

use std::{collections::HashMap, sync::Arc};

use actix_web::{HttpRequest, HttpResponse, ResponseError, http::StatusCode, http::header};
use sha2::{Digest, Sha256};

use crate::{config::ApiKeySettings, event::Scope};

/// What a key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The key holder's name from the configuration.
    pub name: String,
    /// Scopes the key may receive.
    pub scopes: Vec<Scope>,
    /// Whether the key may use the admin API.
    pub admin: bool,
}

impl Grant {
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// The configured keys, by hash.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    by_hash: HashMap<[u8; 32], Arc<Grant>>,
}

impl ApiKeys {
    /// From validated settings (entries with an unparsable hash are skipped; validation
    /// reports them).
    pub fn from_settings(keys: &[ApiKeySettings]) -> Self {
        let by_hash = keys
            .iter()
            .filter_map(|key| {
                let hash: [u8; 32] = hex::decode(key.sha256.trim()).ok()?.try_into().ok()?;
                let scopes = if key.scopes.iter().any(|s| s == "*") {
                    Scope::ALL.to_vec()
                } else {
                    key.scopes.iter().filter_map(|s| Scope::parse(s)).collect()
                };
                Some((
                    hash,
                    Arc::new(Grant {
                        name: key.name.clone(),
                        scopes,
                        admin: key.admin,
                    }),
                ))
            })
            .collect();
        Self { by_hash }
    }

    /// Adds a key given in clear (the demo's generated viewer key).
    pub fn insert(&mut self, key: &str, grant: Grant) {
        self.by_hash.insert(hash_key(key), Arc::new(grant));
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The grant of a presented key.
    pub fn lookup(&self, presented: &str) -> Option<Arc<Grant>> {
        self.by_hash.get(&hash_key(presented)).cloned()
    }

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

/// A new random key (for the demo's viewer): 32 characters from [A-Za-z0-9], about 190 bits.
pub fn generate_key() -> String {
    use rand::RngExt;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..32)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// SHA-256 of a key.
pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Lower-case hex SHA-256 of a key, as configured in `api_keys[].sha256`.
pub fn hash_key_hex(key: &str) -> String {
    hex::encode(hash_key(key))
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
