//! One HTTP exchange with Genesys, retried as the platform asks: 429 waits out `Retry-After`,
//! 5xx (except 501) and connection failures back off exponentially with jitter, and every
//! attempt draws from the shared request budget and is counted by route and status.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use actix_web::http::{Method, StatusCode, header};
use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota};
use secrecy::{ExposeSecret, SecretString};
use tracing::{debug, warn};

use super::{GenesysError, backoff::Backoff, models::ErrorBody};
use crate::metrics::Metrics;

/// Header carrying Genesys's id for one request; quoted in every error.
pub const CORRELATION_ID: &str = "inin-correlation-id";
/// Largest answer body read (a schedule search for a big business unit is several MiB).
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// `Retry-After` assumed when a 429 carries none (the Java SDK's default).
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(3);

/// How hard to try.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub request_timeout: Duration,
    pub max_retries: u32,
    pub backoff: Backoff,
    pub max_retry_after: Duration,
    pub max_rate_limited: Duration,
}

/// What a request carries besides its URL.
pub struct Call<'a> {
    pub method: Method,
    /// Route template for metrics and messages, e.g. `GET /api/v2/users`.
    pub route: &'static str,
    pub url: &'a str,
    pub authorization: Option<&'a SecretString>,
    pub body: Option<(&'static str, Bytes)>,
    /// Whether the request draws from the REST budget (Platform API calls do; the token
    /// endpoint on the login host does not).
    pub budgeted: bool,
}

/// A final answer: 2xx, or an error status that retrying would not change.
pub struct Answer {
    pub status: StatusCode,
    pub correlation_id: Option<String>,
    pub body: Bytes,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The answer as an API error, with its `ErrorBody` when it has one.
    pub fn into_error(self, route: &'static str) -> GenesysError {
        let body = serde_json::from_slice::<ErrorBody>(&self.body).unwrap_or_else(|_| {
            let text = String::from_utf8_lossy(&self.body);
            ErrorBody {
                message: Some(text.chars().take(200).collect()),
                ..ErrorBody::default()
            }
        });
        GenesysError::Api {
            route,
            status: self.status.as_u16(),
            body: Box::new(body),
            correlation_id: self.correlation_id,
        }
    }
}

pub struct Transport {
    http: awc::Client,
    policy: RetryPolicy,
    limiter: DefaultDirectRateLimiter,
    metrics: Arc<Metrics>,
}

impl Transport {
    pub fn new(policy: RetryPolicy, quota: Quota, metrics: Arc<Metrics>) -> Self {
        let http = awc::Client::builder()
            .timeout(policy.request_timeout)
            .disable_redirects()
            .finish();
        Self {
            http,
            policy,
            limiter: DefaultDirectRateLimiter::direct(quota),
            metrics,
        }
    }

    pub fn http(&self) -> &awc::Client {
        &self.http
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Sends `call` until it gets a final answer or the retry policy gives up.
    pub async fn execute(&self, call: &Call<'_>) -> Result<Answer, GenesysError> {
        let mut attempt = 0;
        let mut rate_limited_for = Duration::ZERO;
        loop {
            if call.budgeted {
                self.limiter.until_ready().await;
            }
            let started = Instant::now();
            let outcome = self.send_once(call).await;
            self.metrics
                .genesys_rest_seconds
                .with_label_values(&[call.route])
                .observe(started.elapsed().as_secs_f64());
            let answer = match outcome {
                Ok(answer) => answer,
                Err(failure) => {
                    self.metrics
                        .genesys_rest_calls
                        .with_label_values(&[call.route, "error"])
                        .inc();
                    if attempt >= self.policy.max_retries {
                        return Err(failure.into_error(call, attempt + 1, &self.policy));
                    }
                    let delay = self.policy.backoff.delay(attempt);
                    warn!(route = call.route, attempt, cause = %failure, delay_ms = delay.as_millis() as u64, "Genesys request failed; retrying.");
                    actix_rt::time::sleep(delay).await;
                    attempt += 1;
                    continue;
                }
            };
            let status = answer.status;
            self.metrics
                .genesys_rest_calls
                .with_label_values(&[call.route, status.as_str()])
                .inc();
            debug!(
                route = call.route,
                status = status.as_u16(),
                correlation_id = answer.correlation_id.as_deref().unwrap_or(""),
                "Genesys answered."
            );
            if status == StatusCode::TOO_MANY_REQUESTS {
                let wait = answer.retry_after.unwrap_or(DEFAULT_RETRY_AFTER);
                if wait > self.policy.max_retry_after
                    || rate_limited_for + wait > self.policy.max_rate_limited
                {
                    return Err(GenesysError::RateLimited {
                        route: call.route,
                        waited_secs: rate_limited_for.as_secs(),
                        retry_after_secs: wait.as_secs(),
                    });
                }
                warn!(
                    route = call.route,
                    retry_after_secs = wait.as_secs(),
                    "Rate limited by Genesys; waiting."
                );
                actix_rt::time::sleep(wait).await;
                rate_limited_for += wait;
                continue;
            }
            let retryable = status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED;
            if retryable && attempt < self.policy.max_retries {
                let delay = self
                    .policy
                    .backoff
                    .delay(attempt)
                    .max(answer.retry_after.unwrap_or_default());
                warn!(
                    route = call.route,
                    status = status.as_u16(),
                    attempt,
                    correlation_id = answer.correlation_id.as_deref().unwrap_or(""),
                    "Genesys server error; retrying."
                );
                actix_rt::time::sleep(delay).await;
                attempt += 1;
                continue;
            }
            return Ok(Answer {
                status,
                correlation_id: answer.correlation_id,
                body: answer.body,
            });
        }
    }

    async fn send_once(&self, call: &Call<'_>) -> Result<RawAnswer, Failure> {
        let mut request = self.http.request(call.method.clone(), call.url);
        if let Some(authorization) = call.authorization {
            request = request.insert_header((header::AUTHORIZATION, authorization.expose_secret()));
        }
        let sent = match &call.body {
            Some((content_type, body)) => {
                request
                    .insert_header((header::CONTENT_TYPE, *content_type))
                    .send_body(body.clone())
                    .await
            }
            None => request.send().await,
        };
        let mut response = sent.map_err(|e| match e {
            awc::error::SendRequestError::Timeout => Failure::Timeout,
            other => Failure::Transport(other.to_string()),
        })?;
        let header_str = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let correlation_id = header_str(CORRELATION_ID);
        let retry_after = header_str(header::RETRY_AFTER.as_str())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let status = response.status();
        let body = if call.method == Method::HEAD {
            Bytes::new()
        } else {
            response
                .body()
                .limit(MAX_BODY_BYTES)
                .await
                .map_err(|e| match e {
                    awc::error::PayloadError::Io(io)
                        if io.kind() == std::io::ErrorKind::TimedOut =>
                    {
                        Failure::Timeout
                    }
                    other => Failure::Transport(format!("reading the answer: {other}")),
                })?
        };
        Ok(RawAnswer {
            status,
            correlation_id,
            retry_after,
            body,
        })
    }
}

struct RawAnswer {
    status: StatusCode,
    correlation_id: Option<String>,
    retry_after: Option<Duration>,
    body: Bytes,
}

/// A request that got no answer.
#[derive(Debug)]
enum Failure {
    Timeout,
    Transport(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Timeout => f.write_str("timed out"),
            Failure::Transport(detail) => f.write_str(detail),
        }
    }
}

impl Failure {
    fn into_error(self, call: &Call<'_>, attempts: u32, policy: &RetryPolicy) -> GenesysError {
        match self {
            Failure::Timeout => GenesysError::Timeout {
                route: call.route,
                timeout_secs: policy.request_timeout.as_secs(),
                attempts,
            },
            Failure::Transport(detail) => GenesysError::Unreachable {
                route: call.route,
                url: redact_query(call.url),
                attempts,
                detail,
            },
        }
    }
}

/// A URL without its query string, for messages.
fn redact_query(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_owned()
}
