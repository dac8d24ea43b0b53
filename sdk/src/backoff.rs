//! The one backoff schedule of the SDK, shared by retries and watches: a
//! delay that starts at `initial`, grows by `factor` per step and stops at
//! `max`, then jitter so that many clients do not move in step.
//!
//! Retries use full jitter, a draw from `[0, delay]`, which spreads clients
//! best (AWS architecture blog, "Exponential Backoff And Jitter"); watches
//! spread each delay by ± a fraction, so a poll stays near its schedule.
//! Everything here is a pure function of its inputs (the random draw is
//! passed in), and no input, however absurd, makes it panic.

use std::time::Duration;

/// Exponential growth from `initial` by `factor`, capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Backoff {
    pub(crate) initial: Duration,
    /// Growth per step; below 1 (or NaN) counts as 1: the delay never shrinks.
    pub(crate) factor: f64,
    pub(crate) max: Duration,
}

impl Backoff {
    fn factor(&self) -> f64 {
        if self.factor.is_nan() {
            1.0
        } else {
            self.factor.max(1.0)
        }
    }

    /// The delay of step `n` (0 for the first): `initial × factor^n`, capped.
    pub(crate) fn nth(&self, n: u32) -> Duration {
        let factor = self.factor();
        let grown = if factor.fract() == 0.0 && factor <= f64::from(u32::MAX) {
            // Whole factors (the retries' ×2) in integer arithmetic: exact,
            // where f64 could round a hair above the true delay. The factor
            // is whole and in range, so the cast loses nothing.
            self.initial
                .saturating_mul((factor as u32).saturating_pow(n))
        } else {
            scale(
                self.initial,
                factor.powi(i32::try_from(n).unwrap_or(i32::MAX)),
            )
        };
        grown.min(self.max)
    }

    /// The delay after one of `previous`: `max(previous, initial) × factor`,
    /// capped.
    pub(crate) fn after(&self, previous: Duration) -> Duration {
        scale(previous.max(self.initial), self.factor()).min(self.max)
    }
}

/// Full jitter: `ceiling × draw` for a draw from `[0, 1]`, never above the
/// ceiling (f64 rounding may land a hair above it).
pub(crate) fn full_jitter(ceiling: Duration, draw: f64) -> Duration {
    scale(ceiling, unit(draw)).min(ceiling)
}

/// `base` spread by ± `fraction` (clamped into `[0, 1]`) for a draw from
/// `[0, 1]`, never above `cap`.
pub(crate) fn spread(base: Duration, fraction: f64, draw: f64, cap: Duration) -> Duration {
    let offset = unit(fraction) * (2.0 * unit(draw) - 1.0);
    scale(base, 1.0 + offset).min(cap)
}

/// `fraction` clamped into `[0, 1]`, NaN as 0.
pub(crate) fn unit(fraction: f64) -> f64 {
    if fraction.is_nan() {
        0.0
    } else {
        fraction.clamp(0.0, 1.0)
    }
}

/// `duration × factor` without panicking: a negative or NaN factor gives 0,
/// an overflow `Duration::MAX`.
pub(crate) fn scale(duration: Duration, factor: f64) -> Duration {
    // Zero stays zero even for an infinite factor (0 × ∞ is NaN in f64).
    if factor.is_nan() || factor <= 0.0 || duration.is_zero() {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(duration.as_secs_f64() * factor).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn steps_grow_by_the_factor_up_to_the_cap() {
        let backoff = Backoff {
            initial: MS(100),
            factor: 2.0,
            max: MS(1000),
        };
        #[rustfmt::skip]
        let table: &[(u32, Duration)] = &[
            (0, MS(100)), (1, MS(200)), (2, MS(400)), (3, MS(800)), (4, MS(1000)), (u32::MAX, MS(1000)),
        ];
        for &(n, expected) in table {
            assert!(
                backoff.nth(n).abs_diff(expected) <= Duration::from_micros(1),
                "{n}"
            );
        }
        assert_eq!(backoff.after(Duration::ZERO), MS(200));
        assert_eq!(backoff.after(MS(400)), MS(800));
        assert_eq!(backoff.after(MS(900)), MS(1000));
    }

    #[test]
    fn a_factor_below_one_or_nan_never_shrinks_the_delay() {
        for factor in [0.5, 0.0, -3.0, f64::NAN] {
            let backoff = Backoff {
                initial: MS(100),
                factor,
                max: MS(1000),
            };
            assert_eq!(backoff.nth(7), MS(100), "{factor}");
            assert_eq!(backoff.after(MS(300)), MS(300), "{factor}");
        }
        let huge = Backoff {
            initial: Duration::MAX,
            factor: f64::INFINITY,
            max: Duration::MAX,
        };
        assert_eq!(huge.nth(u32::MAX), Duration::MAX);
        assert_eq!(huge.after(Duration::MAX), Duration::MAX);
        let zero = Backoff {
            initial: Duration::ZERO,
            factor: 2.0,
            max: Duration::MAX,
        };
        assert_eq!(zero.nth(1024), Duration::ZERO, "0 × 2^1024 (∞ in f64) is 0");
    }

    #[test]
    fn jitter_stays_in_its_bounds() {
        #[rustfmt::skip]
        let table: &[(f64, Duration)] = &[(0.0, MS(0)), (0.5, MS(500)), (1.0, MS(1000)), (7.0, MS(1000)), (-1.0, MS(0)), (f64::NAN, MS(0))];
        for &(draw, expected) in table {
            assert!(
                full_jitter(MS(1000), draw).abs_diff(expected) <= Duration::from_micros(1),
                "{draw}"
            );
        }
        assert_eq!(spread(MS(1000), 0.1, 0.0, MS(5000)), MS(900));
        assert_eq!(spread(MS(1000), 0.1, 1.0, MS(5000)), MS(1100));
        assert_eq!(spread(MS(1000), 0.1, 1.0, MS(1050)), MS(1050));
        assert_eq!(spread(MS(1000), f64::NAN, 1.0, MS(5000)), MS(1000));
    }
}
