//! The emulator's clock: real time plus an offset that only moves forward, through
//! `POST /sim/clock {"advanceMs": n}`. Everything the emulator times reads it (token lifetimes
//! and rate-limit windows, channel expiry, heartbeats, the `socket_closing` grace, faults that
//! last a while), and the UTC times it reports move with it, so a test crosses a TTL or an
//! interval by advancing the clock instead of sleeping past a real deadline. The event rate and
//! the `slow_rest` delay stay in real time: they are load, not deadlines.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// Furthest the clock goes ahead of real time (so `now()` cannot overflow): a century.
const MAX_OFFSET: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Real time plus an offset; see the module doc.
#[derive(Debug)]
pub struct SimClock {
    /// How far the clock is ahead of real time; tasks waiting on a deadline watch it.
    offset: watch::Sender<Duration>,
}

impl Default for SimClock {
    fn default() -> Self {
        Self {
            offset: watch::Sender::new(Duration::ZERO),
        }
    }
}

impl SimClock {
    /// Now, on this clock.
    pub fn now(&self) -> Instant {
        Instant::now() + *self.offset.borrow()
    }

    /// Now as a UTC time, on this clock.
    pub fn utc_now(&self) -> DateTime<Utc> {
        let offset =
            chrono::Duration::from_std(*self.offset.borrow()).unwrap_or(chrono::Duration::MAX);
        Utc::now()
            .checked_add_signed(offset)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Moves the clock forward by `by` (at most [`MAX_OFFSET`] ahead of real time in all);
    /// answers how far ahead of real time it now is.
    pub fn advance(&self, by: Duration) -> Duration {
        self.offset
            .send_modify(|offset| *offset = offset.saturating_add(by).min(MAX_OFFSET));
        *self.offset.borrow()
    }

    /// The real instant at which this clock reads `at` (now, if that is past), for a tokio
    /// timer. Advancing the clock moves it earlier: re-arm timers on [`SimClock::changes`].
    pub fn timer_deadline(&self, at: Instant) -> tokio::time::Instant {
        let real = at
            .checked_sub(*self.offset.borrow())
            .unwrap_or_else(Instant::now);
        tokio::time::Instant::from_std(real)
    }

    /// Notified on every advance.
    pub fn changes(&self) -> watch::Receiver<Duration> {
        self.offset.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_now_and_brings_deadlines_closer() {
        let clock = SimClock::default();
        let deadline = clock.now() + Duration::from_secs(3600);
        let real_before = clock.timer_deadline(deadline);
        let changes = clock.changes();
        assert_eq!(
            clock.advance(Duration::from_secs(1800)),
            Duration::from_secs(1800)
        );
        assert!(changes.has_changed().unwrap());
        assert_eq!(
            real_before - clock.timer_deadline(deadline),
            Duration::from_secs(1800)
        );
        assert!(clock.now() + Duration::from_secs(1) > deadline - Duration::from_secs(1800));
        assert!(clock.utc_now() > Utc::now() + chrono::Duration::minutes(29));
        clock.advance(Duration::from_secs(7200));
        assert!(clock.timer_deadline(deadline) <= tokio::time::Instant::now());
    }
}
