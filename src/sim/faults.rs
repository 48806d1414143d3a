//! Faults armed through `POST /sim/faults/<name>`, as read by the REST guard and the sockets.
//! One-shot socket faults (drop, malformed, duplicate, ...) act at once in `admin/faults.rs`
//! and keep no state here.

use std::time::{Duration, Instant};

/// Faults that last a while or a number of calls.
#[derive(Debug, Default)]
pub struct Faults {
    /// Every `/api/v2` call answers 429 until then.
    rate_limit_until: Option<Instant>,
    /// Every `/api/v2` call is delayed by `delay` until `until`.
    slow_rest: Option<(Duration, Instant)>,
    /// The next `remaining` `/api/v2` calls answer `status`.
    server_errors: Option<(u32, u16)>,
    /// The next n schedule searches answer `Processing`.
    schedule_processing: u32,
    /// The next n channels are created without a `connectUri` (a broken answer, for clients).
    channels_without_uri: u32,
    /// Heartbeats and pongs are withheld: `Some(None)` until cleared, `Some(Some(t))` until t.
    heartbeats_stopped: Option<Option<Instant>>,
}

impl Faults {
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    pub fn arm_rate_limit(&mut self, until: Instant) {
        self.rate_limit_until = Some(until);
    }

    pub fn arm_slow_rest(&mut self, delay: Duration, until: Instant) {
        self.slow_rest = Some((delay, until));
    }

    pub fn arm_server_errors(&mut self, count: u32, status: u16) {
        self.server_errors = (count > 0).then_some((count, status));
    }

    pub fn arm_schedule_processing(&mut self, count: u32) {
        self.schedule_processing = count;
    }

    pub fn arm_channels_without_uri(&mut self, count: u32) {
        self.channels_without_uri = count;
    }

    pub fn stop_heartbeats(&mut self, until: Option<Instant>) {
        self.heartbeats_stopped = Some(until);
    }

    /// Whole seconds left of a 429 storm (at least 1), if one is on.
    pub fn rate_limited(&mut self, now: Instant) -> Option<u64> {
        match self.rate_limit_until {
            Some(until) if until > now => Some(ceil_secs(until - now)),
            Some(_) => {
                self.rate_limit_until = None;
                None
            }
            None => None,
        }
    }

    /// The delay to add to a REST answer, if `slow_rest` is on.
    pub fn slow_delay(&mut self, now: Instant) -> Option<Duration> {
        match self.slow_rest {
            Some((delay, until)) if until > now => Some(delay),
            Some(_) => {
                self.slow_rest = None;
                None
            }
            None => None,
        }
    }

    /// Consumes one injected server error, if any are left.
    pub fn take_server_error(&mut self) -> Option<u16> {
        let (remaining, status) = self.server_errors.as_mut()?;
        let status = *status;
        *remaining -= 1;
        if *remaining == 0 {
            self.server_errors = None;
        }
        Some(status)
    }

    /// Consumes one forced `Processing` answer, if any are left.
    pub fn take_schedule_processing(&mut self) -> bool {
        let armed = self.schedule_processing > 0;
        self.schedule_processing = self.schedule_processing.saturating_sub(1);
        armed
    }

    pub fn take_channel_without_uri(&mut self) -> bool {
        let armed = self.channels_without_uri > 0;
        self.channels_without_uri = self.channels_without_uri.saturating_sub(1);
        armed
    }

    pub fn heartbeats_stopped(&mut self, now: Instant) -> bool {
        match self.heartbeats_stopped {
            Some(Some(until)) if until <= now => {
                self.heartbeats_stopped = None;
                false
            }
            Some(_) => true,
            None => false,
        }
    }
}

/// Whole seconds, rounded up, at least 1 (`Retry-After`, `inin-ratelimit-reset`).
pub fn ceil_secs(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000).max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_faults_run_out_and_timed_ones_expire() {
        let mut f = Faults::default();
        let now = Instant::now();
        f.arm_server_errors(2, 503);
        assert_eq!(f.take_server_error(), Some(503));
        assert_eq!(f.take_server_error(), Some(503));
        assert_eq!(f.take_server_error(), None);
        f.arm_rate_limit(now + Duration::from_millis(1500));
        assert_eq!(f.rate_limited(now), Some(2));
        assert_eq!(f.rate_limited(now + Duration::from_secs(2)), None);
        f.stop_heartbeats(Some(now + Duration::from_secs(1)));
        assert!(f.heartbeats_stopped(now));
        assert!(!f.heartbeats_stopped(now + Duration::from_secs(1)));
    }
}
