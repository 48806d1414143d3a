//! Numbers of seconds from the configuration as [`Duration`]s. Validation refuses every value
//! [`try_secs`] cannot convert (see [`super::Problems::seconds`]), so [`secs`] only ever sees
//! convertible ones.

use std::time::Duration;

/// Seconds in an hour and a day, for keys given in those units.
pub const SECS_PER_HOUR: f64 = 3_600.0;
pub const SECS_PER_DAY: f64 = 86_400.0;

/// Why a number of seconds is not a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecsError {
    #[error("is not a number")]
    NotANumber,
    #[error("is negative")]
    Negative,
    #[error("is too long for a duration")]
    TooLong,
}

/// `value` seconds as a duration, or why it cannot be one.
pub fn try_secs(value: f64) -> Result<Duration, SecsError> {
    if value.is_nan() {
        Err(SecsError::NotANumber)
    } else if value < 0.0 {
        Err(SecsError::Negative)
    } else {
        Duration::try_from_secs_f64(value).map_err(|_| SecsError::TooLong)
    }
}

/// A validated number of seconds as a duration. An unvalidated value that is not one (a
/// caller that skipped [`super::Settings::validate`]) is logged at ERROR and read as zero.
pub fn secs(value: f64) -> Duration {
    try_secs(value).unwrap_or_else(|err| {
        tracing::error!(
            value,
            error = %err,
            "A number of seconds that validation should have refused reached the service; using 0."
        );
        Duration::ZERO
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_convert_and_the_rest_say_why_not() {
        assert_eq!(try_secs(1.5), Ok(Duration::from_millis(1500)));
        assert_eq!(try_secs(0.0), Ok(Duration::ZERO));
        assert_eq!(try_secs(-0.5), Err(SecsError::Negative));
        assert_eq!(try_secs(f64::NAN), Err(SecsError::NotANumber));
        assert_eq!(try_secs(f64::INFINITY), Err(SecsError::TooLong));
        assert_eq!(try_secs(1e300), Err(SecsError::TooLong));
    }
}
