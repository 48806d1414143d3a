//! Access tokens, the bearer check and the per-token rate limit, plus the [`Api`] extractor
//! every `/api/v2` handler takes first.
//!
//! The guard runs in this order: bearer token (401 `authentication.required`, `bad.credentials`
//! or, for an expired token, `credentials.expired`: which code Genesys uses is UNCONFIRMED), the token's fixed 60-second window (429 `too.many.requests`
//! with `Retry-After` = seconds left in the window), then the armed faults (`rate_limit` 429
//! storm, `server_errors`, `slow_rest` delay). A rejected call still counts in its window.

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    time::{Duration, Instant},
};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, http::header, web};

use crate::sim::{
    faults::ceil_secs,
    ids,
    respond::{ApiError, RateHeaders},
    world::{Sim, lock},
};

/// Length of a rate-limit window.
const WINDOW: Duration = Duration::from_secs(60);
/// Tokens kept before expired ones are forgotten (then they answer `bad.credentials`).
const MAX_TOKENS: usize = 10_000;

#[derive(Debug)]
struct TokenEntry {
    client_id: String,
    expires_at: Instant,
    window_start: Instant,
    window_count: u32,
}

/// Issued tokens and their rate-limit windows.
#[derive(Debug)]
pub struct Auth {
    tokens: HashMap<String, TokenEntry>,
    lifetime: Duration,
    limit: u32,
}

impl Auth {
    pub fn new(lifetime: Duration, limit: u32) -> Self {
        Self {
            tokens: HashMap::new(),
            lifetime,
            limit: limit.max(1),
        }
    }

    /// Issues a token; returns it and `expires_in` (whole seconds, at least 1).
    pub fn issue(&mut self, client_id: &str, now: Instant) -> (String, u64) {
        if self.tokens.len() >= MAX_TOKENS {
            self.tokens.retain(|_, t| t.expires_at > now);
        }
        let token = ids::access_token();
        self.tokens.insert(
            token.clone(),
            TokenEntry {
                client_id: client_id.to_owned(),
                expires_at: now + self.lifetime,
                window_start: now,
                window_count: 0,
            },
        );
        (token, self.lifetime.as_secs().max(1))
    }

    /// Checks a token and counts the call in its window.
    pub fn check(
        &mut self,
        token: &str,
        now: Instant,
    ) -> Result<(String, RateHeaders), (ApiError, Option<RateHeaders>)> {
        let entry = self
            .tokens
            .get_mut(token)
            .ok_or((ApiError::BadCredentials, None))?;
        if now >= entry.expires_at {
            return Err((ApiError::CredentialsExpired, None));
        }
        if now.duration_since(entry.window_start) >= WINDOW {
            entry.window_start = now;
            entry.window_count = 0;
        }
        entry.window_count = entry.window_count.saturating_add(1);
        let reset_secs = ceil_secs(WINDOW.saturating_sub(now - entry.window_start));
        let rate = RateHeaders {
            count: entry.window_count,
            allowed: self.limit,
            reset_secs,
        };
        if entry.window_count > self.limit {
            let err = ApiError::TooManyRequests {
                limit: self.limit,
                retry_after_secs: reset_secs,
            };
            return Err((err, Some(rate)));
        }
        Ok((entry.client_id.clone(), rate))
    }

    /// Makes every issued token expired; returns how many there were.
    pub fn expire_all(&mut self, now: Instant) -> usize {
        for entry in self.tokens.values_mut() {
            entry.expires_at = entry.expires_at.min(now);
        }
        self.tokens.len()
    }
}

/// An authorized `/api/v2` call: who made it.
#[derive(Debug, Clone)]
pub struct Api {
    pub client_id: String,
    pub token: String,
}

impl FromRequest for Api {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authorize(&req).await })
    }
}

/// Runs the guard described in the module docs.
pub async fn authorize(req: &HttpRequest) -> Result<Api, ApiError> {
    // The app always carries its Sim; a 500 would show a wiring mistake.
    let sim = req
        .app_data::<web::Data<Sim>>()
        .cloned()
        .ok_or(ApiError::Injected { status: 500 })?;
    let token = bearer(req).ok_or(ApiError::AuthenticationRequired)?;
    let now = sim.clock.now();
    let checked = lock(&sim.auth).check(&token, now);
    let client_id = match checked {
        Ok((client_id, rate)) => {
            req.extensions_mut().insert(rate);
            client_id
        }
        Err((err, rate)) => {
            if let Some(rate) = rate {
                req.extensions_mut().insert(rate);
            }
            return Err(err);
        }
    };
    let delay = {
        let mut faults = lock(&sim.faults);
        if let Some(retry_after_secs) = faults.rate_limited(now) {
            return Err(ApiError::TooManyRequests {
                limit: sim.config.rate_limit_per_minute,
                retry_after_secs,
            });
        }
        if let Some(status) = faults.take_server_error() {
            return Err(ApiError::Injected { status });
        }
        faults.slow_delay(now)
    };
    if let Some(delay) = delay {
        actix_web::rt::time::sleep(delay).await;
    }
    Ok(Api { client_id, token })
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_allows_the_limit_then_refuses_until_it_resets() {
        let mut auth = Auth::new(Duration::from_secs(3600), 2);
        let now = Instant::now();
        let (token, expires_in) = auth.issue("c", now);
        assert_eq!(expires_in, 3600);
        assert!(auth.check(&token, now).is_ok());
        assert_eq!(auth.check(&token, now).map(|(_, r)| r.count), Ok(2));
        let (err, rate) = auth.check(&token, now).unwrap_err();
        assert!(matches!(
            err,
            ApiError::TooManyRequests {
                retry_after_secs: 60,
                ..
            }
        ));
        assert_eq!(rate.map(|r| r.count), Some(3));
        assert!(auth.check(&token, now + WINDOW).is_ok());
        assert_eq!(
            auth.check("nope", now).unwrap_err().0,
            ApiError::BadCredentials
        );
        auth.expire_all(now);
        assert_eq!(
            auth.check(&token, now).unwrap_err().0,
            ApiError::CredentialsExpired
        );
    }
}
