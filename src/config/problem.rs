//! The problem list every section validates itself into: one [`Problem`] per thing wrong,
//! each naming its key, and the checks several sections share.

use std::fmt::Display;

use super::{ConfigError, duration};

/// One thing wrong with the configuration, naming its key (or the environment variable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl Problem {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// The problems found so far, in the order the checks ran.
#[derive(Debug, Default)]
pub struct Problems(Vec<Problem>);

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `message` at `key` unless `ok`.
    pub fn check(&mut self, ok: bool, key: &str, message: impl Into<String>) {
        if !ok {
            self.0.push(Problem::new(key, message));
        }
    }

    pub fn push(&mut self, problem: Problem) {
        self.0.push(problem);
    }

    pub fn extend(&mut self, problems: impl IntoIterator<Item = Problem>) {
        self.0.extend(problems);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<Problem> {
        self.0
    }

    /// `value` when nothing was found, else every problem as one error.
    pub fn into_result<T>(self, value: T) -> Result<T, ConfigError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(ConfigError::Invalid(self.0))
        }
    }

    /// `value` is at least `min`.
    pub fn at_least<T: PartialOrd + Display>(&mut self, key: &str, value: T, min: T) {
        let message = format!("must be at least {min}");
        self.check(value >= min, key, message);
    }

    /// `value` is a number of seconds ≥ 0 that a duration can hold.
    pub fn seconds(&mut self, key: &str, value: f64) {
        self.scaled_seconds(key, value, 1.0, "");
    }

    /// `value` is a number of seconds > 0 that a duration can hold.
    pub fn positive_seconds(&mut self, key: &str, value: f64) {
        self.positive_scaled(key, value, 1.0, "");
    }

    /// `value` (in units of `unit_secs` seconds, named `unit`) is > 0 and, in seconds, fits a
    /// duration.
    pub fn positive_scaled(&mut self, key: &str, value: f64, unit_secs: f64, unit: &str) {
        if value.is_nan() || value <= 0.0 {
            self.push(Problem::new(
                key,
                format!("{} must be a number > 0", number(value)),
            ));
        } else {
            self.scaled_seconds(key, value, unit_secs, unit);
        }
    }

    fn scaled_seconds(&mut self, key: &str, value: f64, unit_secs: f64, unit: &str) {
        if let Err(err) = duration::try_secs(value * unit_secs) {
            self.push(Problem::new(key, format!("{}{unit} {err}", number(value))));
        }
    }

    /// Every entry of `scopes` is a notification scope (or `*`, where `star` allows it).
    pub fn scopes(&mut self, key: &str, scopes: &[String], star: bool) {
        for scope in scopes {
            let known = (star && scope == "*") || crate::event::Scope::parse(scope).is_some();
            let choices = if star {
                "global_routing, queue_specific, supervisory_only, internal_monitoring or *"
            } else {
                "global_routing, queue_specific, supervisory_only or internal_monitoring"
            };
            self.check(
                known,
                key,
                format!("unknown scope {scope:?}; use {choices}"),
            );
        }
    }
}

/// A number as a person wrote it: `1e300`, not three hundred digits.
pub fn number(value: f64) -> String {
    if value.is_finite() && value.abs() >= 1e16 {
        format!("{value:e}")
    } else {
        value.to_string()
    }
}

/// `raw` parsed as an http(s) URL with a host, or why not.
pub fn http_url(raw: &str) -> Result<url::Url, String> {
    match url::Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(url),
        _ => Err(format!("{raw:?} is not an http(s) URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_that_no_duration_holds_are_problems() {
        let mut problems = Problems::new();
        problems.seconds("a", 1.5);
        problems.seconds("b", -1.0);
        problems.seconds("c", f64::NAN);
        problems.seconds("d", f64::INFINITY);
        problems.positive_scaled("e", 1e300, 3600.0, " hours");
        problems.positive_seconds("f", 0.0);
        let found: Vec<String> = problems.into_vec().iter().map(|p| p.to_string()).collect();
        assert_eq!(
            found,
            [
                "b: -1 is negative",
                "c: NaN is not a number",
                "d: inf is too long for a duration",
                "e: 1e300 hours is too long for a duration",
                "f: 0 must be a number > 0",
            ]
        );
    }

    #[test]
    fn only_http_urls_with_a_host_pass() {
        assert!(http_url("https://hooks.example.com/x").is_ok());
        assert!(http_url("ftp://example.com").is_err());
        assert!(http_url("http://").is_err());
        assert!(http_url("not a url").is_err());
    }
}
