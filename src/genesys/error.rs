//! `GenesysError`: every way a call to Genesys Cloud can fail, one variant each, so that
//! retry-or-give-up is one `match` for the caller.

use super::{models::ErrorBody, topics::TooManyTopics};

#[derive(Debug, thiserror::Error)]
pub enum GenesysError {
    /// The token endpoint refused the client id or secret.
    #[error(
        "Genesys refused the OAuth client credentials ({status} {reason}) at {url}: check \
         GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET and that the client uses the Client \
         Credentials grant"
    )]
    BadCredentials {
        url: String,
        status: u16,
        reason: String,
    },

    /// An error answer from the Platform API (after any retries it deserved).
    #[error(
        "{route} answered {status} {code}: {message} (ININ-Correlation-Id {correlation_id})",
        code = body.code.as_deref().unwrap_or("-"),
        message = body.message.as_deref().unwrap_or("no message"),
        correlation_id = correlation_id.as_deref().unwrap_or("none")
    )]
    Api {
        route: &'static str,
        status: u16,
        body: Box<ErrorBody>,
        correlation_id: Option<String>,
    },

    /// 429s did not stop within the configured patience.
    #[error(
        "{route} was still rate limited (429) after waiting {waited_secs} s; Genesys last asked \
         to wait {retry_after_secs} s more"
    )]
    RateLimited {
        route: &'static str,
        waited_secs: u64,
        retry_after_secs: u64,
    },

    /// No answer: connection refused or reset, DNS failure, TLS failure.
    #[error("{route}: could not reach {url} after {attempts} attempts: {detail}")]
    Unreachable {
        route: &'static str,
        url: String,
        attempts: u32,
        detail: String,
    },

    /// No answer in time.
    #[error("{route}: no answer within {timeout_secs} s, {attempts} attempts")]
    Timeout {
        route: &'static str,
        timeout_secs: u64,
        attempts: u32,
    },

    /// A 2xx answer whose body is not what the API documents.
    #[error(
        "{route}: unexpected answer body: {detail} (ININ-Correlation-Id {})",
        correlation_id.as_deref().unwrap_or("none")
    )]
    Decode {
        route: &'static str,
        detail: String,
        correlation_id: Option<String>,
    },

    /// An asynchronous schedule search that never completed or ended in error.
    #[error(
        "schedule search for business unit {business_unit} ended as {status} after {attempts} attempts"
    )]
    ScheduleSearch {
        business_unit: String,
        status: String,
        attempts: u32,
    },

    /// The roster needs more channels than one OAuth client may hold.
    #[error(transparent)]
    TooManyTopics(#[from] TooManyTopics),
}

impl GenesysError {
    /// The HTTP status of an error answer, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::BadCredentials { status, .. } | Self::Api { status, .. } => Some(*status),
            Self::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// True when the OAuth client lacks a permission (403) the call needs.
    pub fn is_missing_permission(&self) -> bool {
        self.status() == Some(403)
    }

    /// True for a 404 answer.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}
