//! [`GenesysClient`]: the one handle through which agentcast talks to Genesys Cloud.
//!
//! It owns the HTTP client, the token manager and the shared REST budget, and offers typed
//! calls (in `calls/`). It is cheap to clone and meant for the single actix thread that
//! drives upstream (awc is not `Send`).

use std::{num::NonZeroU32, rc::Rc, sync::Arc, time::Duration};

use actix_web::http::{Method, StatusCode};
use bytes::Bytes;
use governor::Quota;
use serde::{Serialize, de::DeserializeOwned};

use super::{
    GenesysError,
    auth::TokenManager,
    backoff::Backoff,
    transport::{Answer, Call, RetryPolicy, Transport},
};
use crate::{
    config::{Credentials, GenesysSettings},
    metrics::Metrics,
};

/// Everything the client needs, resolved from settings and the environment.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub api_base: String,
    pub login_base: String,
    pub credentials: Credentials,
    pub requests_per_minute: u32,
    pub retry: RetryPolicy,
    pub token_refresh_margin: Duration,
    pub users_page_size: u32,
}

impl ClientConfig {
    /// From validated settings. `None` when the settings name no usable API base (which
    /// [`crate::config::Settings::validate`] reports).
    pub fn from_settings(settings: &GenesysSettings, credentials: Credentials) -> Option<Self> {
        Some(Self {
            api_base: settings.resolved_api_base()?,
            login_base: settings.resolved_login_base()?,
            credentials,
            requests_per_minute: settings.requests_per_minute,
            retry: RetryPolicy {
                request_timeout: Duration::from_secs(settings.request_timeout_secs),
                max_retries: settings.max_retries,
                backoff: Backoff::new(
                    Duration::from_millis(settings.retry_initial_backoff_ms),
                    Duration::from_secs(settings.retry_max_backoff_secs),
                ),
                max_retry_after: Duration::from_secs(settings.max_retry_after_secs),
                max_rate_limited: Duration::from_secs(settings.max_rate_limited_secs),
            },
            token_refresh_margin: Duration::from_secs(settings.token_refresh_margin_secs),
            users_page_size: settings.users_page_size,
        })
    }
}

#[derive(Clone)]
pub struct GenesysClient {
    inner: Rc<Inner>,
}

struct Inner {
    config: ClientConfig,
    transport: Rc<Transport>,
    tokens: TokenManager,
}

impl GenesysClient {
    pub fn new(config: ClientConfig, metrics: Arc<Metrics>) -> Self {
        let per_minute = NonZeroU32::new(config.requests_per_minute).unwrap_or(NonZeroU32::MIN);
        let transport = Rc::new(Transport::new(
            config.retry.clone(),
            Quota::per_minute(per_minute),
            metrics,
        ));
        let tokens = TokenManager::new(
            transport.clone(),
            &config.login_base,
            &config.credentials,
            config.token_refresh_margin,
        );
        Self {
            inner: Rc::new(Inner {
                config,
                transport,
                tokens,
            }),
        }
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    pub fn tokens(&self) -> &TokenManager {
        &self.inner.tokens
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        self.inner.transport.metrics()
    }

    /// The raw HTTP client (the stream dials channel sockets with it).
    pub fn http(&self) -> &awc::Client {
        self.inner.transport.http()
    }

    /// `api_base` + `path_and_query`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.inner.config.api_base, path_and_query)
    }

    /// A Platform API call with the bearer token. A 401 renews the token and retries once.
    pub(crate) async fn call(
        &self,
        method: Method,
        route: &'static str,
        path_and_query: &str,
        body: Option<Bytes>,
    ) -> Result<Answer, GenesysError> {
        let url = self.url(path_and_query);
        let mut renewed = false;
        loop {
            let authorization = self.inner.tokens.authorization().await?;
            let call = Call {
                method: method.clone(),
                route,
                url: &url,
                authorization: Some(&authorization),
                body: body.clone().map(|b| ("application/json", b)),
                budgeted: true,
            };
            let answer = self.inner.transport.execute(&call).await?;
            if answer.status == StatusCode::UNAUTHORIZED && !renewed {
                tracing::info!(route, "Genesys refused the access token; renewing it.");
                self.inner.tokens.invalidate(&authorization).await;
                renewed = true;
                continue;
            }
            return if answer.is_success() {
                Ok(answer)
            } else {
                Err(answer.into_error(route))
            };
        }
    }

    /// `GET` and parse the JSON answer.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        route: &'static str,
        path_and_query: &str,
    ) -> Result<T, GenesysError> {
        self.bodiless_json(Method::GET, route, path_and_query).await
    }

    /// A call without a request body whose answer is JSON.
    pub(crate) async fn bodiless_json<T: DeserializeOwned>(
        &self,
        method: Method,
        route: &'static str,
        path_and_query: &str,
    ) -> Result<T, GenesysError> {
        let answer = self.call(method, route, path_and_query, None).await?;
        decode(route, &answer)
    }

    /// Send a JSON body and parse the JSON answer.
    pub(crate) async fn send_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        route: &'static str,
        path_and_query: &str,
        body: &B,
    ) -> Result<T, GenesysError> {
        let body = serde_json::to_vec(body).map_err(|e| GenesysError::Decode {
            route,
            detail: format!("request body: {e}"),
            correlation_id: None,
        })?;
        let answer = self
            .call(method, route, path_and_query, Some(Bytes::from(body)))
            .await?;
        decode(route, &answer)
    }

    /// An unauthenticated `GET` of a pre-signed URL (a schedule search's `downloadUrl`).
    pub(crate) async fn download_json<T: DeserializeOwned>(
        &self,
        route: &'static str,
        url: &str,
    ) -> Result<T, GenesysError> {
        let call = Call {
            method: Method::GET,
            route,
            url,
            authorization: None,
            body: None,
            budgeted: false,
        };
        let answer = self.inner.transport.execute(&call).await?;
        if !answer.is_success() {
            return Err(answer.into_error(route));
        }
        decode(route, &answer)
    }
}

fn decode<T: DeserializeOwned>(route: &'static str, answer: &Answer) -> Result<T, GenesysError> {
    serde_json::from_slice(&answer.body).map_err(|e| GenesysError::Decode {
        route,
        detail: e.to_string(),
        correlation_id: answer.correlation_id.clone(),
    })
}
