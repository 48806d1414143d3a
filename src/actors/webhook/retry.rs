//! When a failed delivery is tried again.
//!
//! Attempt 1 is immediate; after failed attempt `n` the delivery waits `schedule[n - 1]`,
//! spread by ± `jitter`, and once the schedule is used up it is dead-lettered (so the default
//! seven waits make eight attempts over about 27.6 h, as Svix). Two adjustments, both only ever
//! lengthening the wait: after a 429 or a timeout it is at least `throttle_floor`, and a
//! `Retry-After` answer is honoured up to `max_retry_after`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::RngExt;

use crate::config::{WebhookDeliverySettings, secs};

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// The waits before retries 1, 2, …
    pub schedule: Vec<Duration>,
    /// Fraction each wait is spread by, in `[0, 1)`.
    pub jitter: f64,
    /// Least wait after a 429 or a timeout.
    pub throttle_floor: Duration,
    /// Longest `Retry-After` honoured.
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    /// The policy of an endpoint: its own schedule when it has one, the shared settings else.
    pub fn from_settings(shared: &WebhookDeliverySettings, schedule: Option<&[f64]>) -> Self {
        Self {
            schedule: schedule
                .unwrap_or(&shared.retry_schedule_secs)
                .iter()
                .map(|&s| secs(s))
                .collect(),
            jitter: shared.retry_jitter,
            throttle_floor: secs(shared.throttle_floor_secs),
            max_retry_after: secs(shared.max_retry_after_secs),
        }
    }

    /// Attempts an event gets before it is dead-lettered.
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.schedule.len()).map_or(u32::MAX, |n| n.saturating_add(1))
    }

    /// The wait after `failures` failed attempts (1 after the first), or `None` when the
    /// schedule is used up. `throttled`: the attempt got a 429 or timed out.
    pub fn next_delay(
        &self,
        failures: u32,
        throttled: bool,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let index = usize::try_from(failures.checked_sub(1)?).ok()?;
        let base = *self.schedule.get(index)?;
        let mut delay = self.jittered(base);
        if throttled {
            delay = delay.max(self.throttle_floor);
        }
        if let Some(asked) = retry_after {
            delay = delay.max(asked.min(self.max_retry_after));
        }
        Some(delay)
    }

    fn jittered(&self, base: Duration) -> Duration {
        if self.jitter <= 0.0 || base.is_zero() {
            return base;
        }
        let factor = 1.0 + rand::rng().random_range(-self.jitter..=self.jitter);
        base.mul_f64(factor)
    }
}

/// A `Retry-After` value: delay seconds or an HTTP date (a date in the past means now).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some((at.with_timezone(&Utc) - now).to_std().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(jitter: f64) -> RetryPolicy {
        RetryPolicy::from_settings(
            &WebhookDeliverySettings {
                retry_jitter: jitter,
                ..WebhookDeliverySettings::default()
            },
            None,
        )
    }

    #[test]
    fn the_default_schedule_is_svixs_and_gives_eight_attempts() {
        let p = policy(0.0);
        let waits: Vec<u64> = (1..=7)
            .map(|n| p.next_delay(n, false, None).unwrap().as_secs())
            .collect();
        assert_eq!(waits, [5, 300, 1800, 7200, 18000, 36000, 36000]);
        assert_eq!(p.max_attempts(), 8);
        assert_eq!(p.next_delay(8, false, None), None);
        assert_eq!(p.next_delay(0, false, None), None);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let p = policy(0.2);
        for _ in 0..200 {
            let d = p.next_delay(2, false, None).unwrap().as_secs_f64();
            assert!((240.0..=360.0).contains(&d), "{d}");
        }
    }

    #[test]
    fn throttling_and_retry_after_only_lengthen_the_wait_within_bounds() {
        let p = policy(0.0);
        // 429 or timeout: at least the 60 s floor.
        assert_eq!(p.next_delay(1, true, None), Some(Duration::from_secs(60)));
        // Retry-After longer than the schedule is honoured…
        assert_eq!(
            p.next_delay(1, false, Some(Duration::from_secs(120))),
            Some(Duration::from_secs(120))
        );
        // …shorter is not (the schedule wins)…
        assert_eq!(
            p.next_delay(2, false, Some(Duration::from_secs(1))),
            Some(Duration::from_secs(300))
        );
        // …and it is capped.
        assert_eq!(
            p.next_delay(1, false, Some(Duration::from_secs(999_999))),
            Some(Duration::from_secs(36000))
        );
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_an_http_date() {
        let now: DateTime<Utc> = "2026-11-27T17:00:00Z".parse().unwrap();
        assert_eq!(
            parse_retry_after(" 30 ", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Fri, 27 Nov 2026 17:02:00 GMT", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Fri, 27 Nov 2026 16:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
