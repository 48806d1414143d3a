//! One delivery attempt: vet the address (SSRF guard), sign, POST within the time limit, read
//! part of the answer, and classify the result.

use std::{
    cell::Cell,
    net::SocketAddr,
    rc::Rc,
    sync::Arc,
    time::{Duration, Instant},
};

use actix_web::http::{StatusCode, header};
use bytes::BytesMut;
use futures_util::StreamExt;

use super::{
    endpoint::Endpoint,
    outbox::now_ms,
    retry::parse_retry_after,
    scheduler::Delivery,
    signing::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP},
    ssrf::Blocked,
    worker::WorkerShared,
};

/// How long a vetted address is reused before the endpoint's name is resolved (and vetted)
/// again: one lookup per endpoint every few seconds instead of one per attempt.
const VETTED_TTL: Duration = Duration::from_secs(10);

/// The address last vetted for an endpoint, and when (one per worker, on its thread).
#[derive(Debug, Clone, Default)]
pub(super) struct Vetted(Rc<Cell<Option<(SocketAddr, Instant)>>>);

impl Vetted {
    /// The address to dial: the cached one while fresh, else a new vetting.
    async fn address(&self, cfg: &Endpoint, shared: &WorkerShared) -> Result<SocketAddr, Blocked> {
        if let Some((addr, at)) = self.0.get()
            && at.elapsed() < VETTED_TTL
        {
            return Ok(addr);
        }
        let addr = shared.guard.vet(&cfg.url).await?;
        self.0.set(Some((addr, Instant::now())));
        Ok(addr)
    }

    /// Forgets the address (after a connection failure, resolve again).
    fn forget(&self) {
        self.0.set(None);
    }
}

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttemptError {
    #[error("{0}")]
    Blocked(#[from] Blocked),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("connection failed: {0}")]
    Network(String),
    #[error("redirect not followed: {status} to {location}")]
    Redirect { status: u16, location: String },
    #[error("410 Gone: the receiver asked for no more deliveries")]
    Gone,
    #[error("429 Too Many Requests")]
    Throttled,
    #[error("HTTP {0}")]
    Status(u16),
}

impl AttemptError {
    /// The `outcome` label of `agentcast_webhook_attempts_total`.
    pub(super) fn label(&self) -> &'static str {
        match self {
            Self::Blocked(_) => "blocked",
            Self::Timeout(_) => "timeout",
            Self::Network(_) => "network",
            Self::Redirect { .. } => "redirect",
            Self::Gone => "gone",
            Self::Throttled | Self::Status(_) => "http_error",
        }
    }

    /// A 429 or a timeout: the next wait is at least the throttle floor.
    pub(super) fn throttled(&self) -> bool {
        matches!(self, Self::Throttled | Self::Timeout(_))
    }
}

/// What one attempt came to.
pub(super) struct Attempted {
    pub(super) at_ms: i64,
    pub(super) duration: Duration,
    pub(super) status: Option<u16>,
    pub(super) error: Option<AttemptError>,
    pub(super) retry_after: Option<Duration>,
    pub(super) response: Option<String>,
}

/// One attempt: vet the address, sign, POST, read (part of) the answer, within the time limit.
pub(super) async fn send(
    client: awc::Client,
    cfg: Arc<Endpoint>,
    shared: Arc<WorkerShared>,
    vetted: Vetted,
    delivery: Delivery,
) -> Attempted {
    let at_ms = now_ms();
    let started = Instant::now();
    let exchange = async {
        let addr = vetted.address(&cfg, &shared).await?;
        let timestamp = chrono::Utc::now().timestamp();
        let signature = cfg
            .signer
            .sign(&delivery.event_id, timestamp, &delivery.payload);
        let mut response = client
            .post(cfg.url.as_str())
            .address(addr)
            .insert_header((HEADER_ID, &*delivery.event_id))
            .insert_header((HEADER_TIMESTAMP, timestamp.to_string()))
            .insert_header((HEADER_SIGNATURE, signature))
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .send_body(delivery.payload.clone())
            .await
            .map_err(|e| {
                vetted.forget();
                match e {
                    awc::error::SendRequestError::Timeout => AttemptError::Timeout(cfg.timeout),
                    other => AttemptError::Network(other.to_string()),
                }
            })?;
        let text = |name: header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after =
            text(header::RETRY_AFTER).and_then(|v| parse_retry_after(&v, chrono::Utc::now()));
        let location = text(header::LOCATION);
        let status = response.status();
        let mut body = BytesMut::new();
        while body.len() < shared.max_response_bytes {
            match response.next().await {
                Some(Ok(chunk)) => {
                    let room = shared.max_response_bytes - body.len();
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                _ => break,
            }
        }
        let response = (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned());
        Ok::<_, AttemptError>((status, retry_after, location, response))
    };
    let (status, error, retry_after, response) =
        match actix_rt::time::timeout(cfg.timeout, exchange).await {
            Err(_) => (None, Some(AttemptError::Timeout(cfg.timeout)), None, None),
            Ok(Err(e)) => (None, Some(e), None, None),
            Ok(Ok((status, retry_after, location, response))) => {
                let error = classify(status, location);
                (Some(status.as_u16()), error, retry_after, response)
            }
        };
    Attempted {
        at_ms,
        duration: started.elapsed(),
        status,
        error,
        retry_after,
        response,
    }
}

/// Success is 2xx only; a 3xx is a failure (redirects are not followed).
fn classify(status: StatusCode, location: Option<String>) -> Option<AttemptError> {
    if status.is_success() {
        None
    } else if status.is_redirection() {
        Some(AttemptError::Redirect {
            status: status.as_u16(),
            location: location.unwrap_or_else(|| "(no Location)".into()),
        })
    } else if status == StatusCode::GONE {
        Some(AttemptError::Gone)
    } else if status == StatusCode::TOO_MANY_REQUESTS {
        Some(AttemptError::Throttled)
    } else {
        Some(AttemptError::Status(status.as_u16()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_as_the_spec_says() {
        assert_eq!(classify(StatusCode::OK, None), None);
        assert_eq!(classify(StatusCode::NO_CONTENT, None), None);
        assert_eq!(
            classify(StatusCode::FOUND, Some("http://127.0.0.1/".into())),
            Some(AttemptError::Redirect {
                status: 302,
                location: "http://127.0.0.1/".into()
            })
        );
        assert_eq!(classify(StatusCode::GONE, None), Some(AttemptError::Gone));
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, None),
            Some(AttemptError::Throttled)
        );
        assert_eq!(
            classify(StatusCode::INTERNAL_SERVER_ERROR, None),
            Some(AttemptError::Status(500))
        );
        assert!(AttemptError::Throttled.throttled());
        assert!(AttemptError::Timeout(Duration::from_secs(1)).throttled());
        assert!(!AttemptError::Status(503).throttled());
    }
}
