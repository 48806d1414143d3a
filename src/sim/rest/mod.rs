//! The Platform API surface: `POST /oauth/token` and the `/api/v2` routes, one file per area.
//! Every `/api/v2` handler takes [`crate::sim::auth::Api`] first, which runs the bearer,
//! rate-limit and fault guard.

pub mod notifications;
pub mod oauth;
pub mod presence;
pub mod queues;
pub mod routing;
pub mod users;
pub mod wfm;

use actix_web::{HttpRequest, web};

use crate::sim::respond::ApiError;

/// Registers every Platform API route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    oauth::configure(cfg);
    users::configure(cfg);
    presence::configure(cfg);
    routing::configure(cfg);
    queues::configure(cfg);
    wfm::configure(cfg);
    notifications::configure(cfg);
}

/// Query parameters, keeping repeats (`id=a&id=b`).
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn of(req: &HttpRequest) -> Self {
        Self(
            url::form_urlencoded::parse(req.query_string().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The last value of a parameter (names match case-insensitively).
    pub fn get(&self, name: &str) -> Option<&str> {
        (self.0.iter().rev())
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every comma-separated value of every occurrence of a parameter.
    pub fn list(&self, name: &str) -> Vec<String> {
        (self.0.iter())
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub fn number(&self, name: &str, default: u32) -> Result<u32, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|_| ApiError::BadRequest(format!("{name} must be a whole number"))),
        }
    }

    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name).map(str::trim) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(_) => Err(ApiError::BadRequest(format!(
                "{name} must be true or false"
            ))),
        }
    }
}

/// A page request checked against the largest allowed page size.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub size: u32,
    pub number: u32,
}

impl Page {
    /// `pageSize` (default 25, 1..=max) and `pageNumber` (default 1, at least 1).
    pub fn from_params(params: &Params, max_size: u32) -> Result<Self, ApiError> {
        let size = params.number("pageSize", 25)?;
        let number = params.number("pageNumber", 1)?;
        if size == 0 || size > max_size {
            return Err(ApiError::BadRequest(format!(
                "pageSize {size} is outside 1..={max_size}"
            )));
        }
        if number == 0 {
            return Err(ApiError::BadRequest("pageNumber must be at least 1".into()));
        }
        Ok(Self { size, number })
    }

    pub fn range(&self, total: usize) -> std::ops::Range<usize> {
        let start = ((self.number - 1) as usize).saturating_mul(self.size as usize);
        start.min(total)..start.saturating_add(self.size as usize).min(total)
    }

    /// The page fields of a listing: URIs are `{path}?pageSize=..&pageNumber=..{extra}`;
    /// `nextUri` only before the last page, `previousUri` only after the first.
    pub fn listing<T>(
        &self,
        path: &str,
        extra: &str,
        entities: Vec<T>,
        total: usize,
    ) -> crate::genesys::models::PagedListing<T> {
        let page_count = (total as u64).div_ceil(u64::from(self.size)) as u32;
        let uri = |n: u32| format!("{path}?pageSize={}&pageNumber={n}{extra}", self.size);
        crate::genesys::models::PagedListing {
            entities,
            page_size: Some(self.size),
            page_number: Some(self.number),
            total: Some(total as u64),
            first_uri: Some(uri(1)),
            self_uri: Some(uri(self.number)),
            next_uri: (self.number < page_count).then(|| uri(self.number + 1)),
            previous_uri: (self.number > 1).then(|| uri(self.number - 1)),
            last_uri: Some(uri(page_count.max(1))),
            page_count: Some(page_count),
        }
    }
}
