//! The OAuth client-credentials token: fetched from `login_base/oauth/token` with Basic auth
//! and a form body, renewed `token_refresh_margin` before it expires (at most half its
//! lifetime early) and at once when the API answers 401. Concurrent callers wait on one
//! lock, so one refresh serves them all. The secret and the token never reach a log.

use std::{
    cell::Cell,
    rc::Rc,
    time::{Duration, Instant},
};

use actix_web::http::Method;
use base64::Engine;
use bytes::Bytes;
use secrecy::{ExposeSecret, SecretString};
use tracing::info;

use super::{
    GenesysError,
    models::{AuthErrorResponse, AuthResponse},
    transport::{Call, Transport},
};
use crate::config::Credentials;

/// Route label of the token endpoint.
pub const TOKEN_ROUTE: &str = "POST /oauth/token";

pub struct TokenManager {
    transport: Rc<Transport>,
    token_url: String,
    /// `Basic base64(client_id:client_secret)`.
    basic: SecretString,
    refresh_margin: Duration,
    current: tokio::sync::Mutex<Option<Token>>,
    fetched: Cell<u64>,
}

struct Token {
    /// `Bearer <access_token>`, ready for the Authorization header.
    authorization: SecretString,
    refresh_at: Instant,
}

impl TokenManager {
    pub fn new(
        transport: Rc<Transport>,
        login_base: &str,
        credentials: &Credentials,
        refresh_margin: Duration,
    ) -> Self {
        let pair = format!(
            "{}:{}",
            credentials.client_id,
            credentials.client_secret.expose_secret()
        );
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        );
        Self {
            transport,
            token_url: format!("{}/oauth/token", login_base.trim_end_matches('/')),
            basic: SecretString::from(basic),
            refresh_margin,
            current: tokio::sync::Mutex::new(None),
            fetched: Cell::new(0),
        }
    }

    /// The `Authorization` header value for an API call, fetching or renewing the token first
    /// when it is missing or due.
    pub async fn authorization(&self) -> Result<SecretString, GenesysError> {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref()
            && Instant::now() < token.refresh_at
        {
            return Ok(token.authorization.clone());
        }
        let token = self.fetch().await?;
        let authorization = token.authorization.clone();
        *current = Some(token);
        Ok(authorization)
    }

    /// Forgets `stale` after the API refused it (401), unless another caller already renewed.
    pub async fn invalidate(&self, stale: &SecretString) {
        let mut current = self.current.lock().await;
        if current
            .as_ref()
            .is_some_and(|t| t.authorization.expose_secret() == stale.expose_secret())
        {
            *current = None;
        }
    }

    /// When the current token is due for renewal, if there is one.
    pub async fn refresh_due_at(&self) -> Option<Instant> {
        self.current.lock().await.as_ref().map(|t| t.refresh_at)
    }

    /// Tokens fetched so far.
    pub fn tokens_fetched(&self) -> u64 {
        self.fetched.get()
    }

    async fn fetch(&self) -> Result<Token, GenesysError> {
        let call = Call {
            method: Method::POST,
            route: TOKEN_ROUTE,
            url: &self.token_url,
            authorization: Some(&self.basic),
            body: Some((
                "application/x-www-form-urlencoded",
                Bytes::from_static(b"grant_type=client_credentials"),
            )),
            budgeted: false,
        };
        let answer = self.transport.execute(&call).await?;
        if !answer.is_success() {
            let status = answer.status.as_u16();
            if matches!(status, 400 | 401 | 403) {
                let refusal: AuthErrorResponse =
                    serde_json::from_slice(&answer.body).unwrap_or_default();
                let reason = [
                    refusal.error,
                    refusal.error_description.or(refusal.description),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": ");
                return Err(GenesysError::BadCredentials {
                    url: self.token_url.clone(),
                    status,
                    reason: if reason.is_empty() {
                        "no reason given".into()
                    } else {
                        reason
                    },
                });
            }
            return Err(answer.into_error(TOKEN_ROUTE));
        }
        let granted: AuthResponse =
            serde_json::from_slice(&answer.body).map_err(|e| GenesysError::Decode {
                route: TOKEN_ROUTE,
                detail: e.to_string(),
                correlation_id: answer.correlation_id.clone(),
            })?;
        let lifetime = Duration::from_secs(granted.expires_in);
        let early = self.refresh_margin.min(lifetime / 2);
        self.fetched.set(self.fetched.get() + 1);
        info!(
            expires_in_secs = granted.expires_in,
            renew_in_secs = (lifetime - early).as_secs(),
            "Obtained a Genesys access token."
        );
        Ok(Token {
            authorization: SecretString::from(format!("Bearer {}", granted.access_token)),
            refresh_at: Instant::now() + (lifetime - early),
        })
    }
}
