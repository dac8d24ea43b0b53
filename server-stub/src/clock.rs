//! Injectable time: the engine reads "now" from a [`Clock`], so tests can
//! drive it step by step with a [`ManualClock`] while the binary uses the
//! [`SystemClock`].

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that follows tokio's time: wall-clock time at creation plus the
/// tokio time elapsed since. Under `#[tokio::test(start_paused = true)]` the
/// engine then moves with `tokio::time::advance` and auto-advance, together
/// with timers such as [`StubBuilder::tick_every`](crate::StubBuilder::tick_every)
/// and a client's polling interval.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    start: DateTime<Utc>,
    origin: tokio::time::Instant,
}

impl TokioClock {
    /// Starts at the current wall-clock time (needs a tokio runtime when
    /// time is paused).
    pub fn new() -> Self {
        Self::starting_at(Utc::now())
    }

    /// Starts at `start`.
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        Self {
            start,
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = TimeDelta::from_std(self.origin.elapsed()).unwrap_or(TimeDelta::MAX);
        self.start
            .checked_add_signed(elapsed)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// A clock that only moves when told to, for deterministic tests.
///
/// Cloning shares the same time: advance one clone and every holder sees it.
///
/// ```
/// use std::time::Duration;
/// use jobs_server_stub::{Clock, ManualClock};
///
/// let clock = ManualClock::at("2024-01-01T00:00:00Z".parse().unwrap());
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(clock.now().to_rfc3339(), "2024-01-01T00:01:30+00:00");
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn at(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves the clock forward by `by`. Saturates at the largest time chrono
    /// can represent rather than panicking.
    pub fn advance(&self, by: Duration) {
        let mut now = self.lock();
        let delta = TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
        *now = now
            .checked_add_signed(delta)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
    }

    /// Sets the clock to `to` (which may be in the past: the engine copes).
    pub fn set(&self, to: DateTime<Utc>) {
        *self.lock() = to;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        // A poisoned lock still holds a valid time.
        self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_is_shared_between_clones() {
        let start: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
        let clock = ManualClock::at(start);
        let other = clock.clone();
        other.advance(Duration::from_millis(1500));
        assert_eq!(clock.now() - start, TimeDelta::milliseconds(1500));
        clock.set(start);
        assert_eq!(other.now(), start);
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let start: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
        let clock = TokioClock::starting_at(start);
        tokio::time::advance(Duration::from_secs(90)).await;
        assert_eq!(clock.now() - start, TimeDelta::seconds(90));
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(clock.now() - start, TimeDelta::milliseconds(90_250));
    }

    #[test]
    fn manual_clock_saturates_instead_of_panicking() {
        let clock = ManualClock::at(DateTime::<Utc>::MAX_UTC - TimeDelta::seconds(1));
        clock.advance(Duration::from_secs(u64::MAX));
        assert_eq!(clock.now(), DateTime::<Utc>::MAX_UTC);
    }
}
