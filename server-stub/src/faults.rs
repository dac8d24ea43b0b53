//! Fault injection: make the public API misbehave on purpose, for the next
//! N requests or a fraction of them, so clients' retry and error paths can
//! be tested.
//!
//! Faults apply to `/api/jobs/…` requests that passed the rate limit and
//! authentication (they simulate the queue system and the network behind
//! the server), never to the docs or the `/__stub` control surface.
//!
//! For each request every rule is checked in the order it was added:
//! latency rules that fire add their delay; the first answer rule that fires
//! (`unavailable`, `dropConnection`, `tooManyRequests`, and
//! `appliedThenDropConnection` / `appliedThenUnavailable`, which let the
//! request take effect first) replaces the answer,
//! and later answer rules are not checked (so not consumed). A `next` rule
//! is removed once used up.
//!
//! The rules are bounded so no value the control surface accepts can break
//! the API: at most [`MAX_RULES`] at once, a latency of at most
//! [`MAX_LATENCY_MS`] per rule, and the delays of all rules that fire for one
//! request add up saturating (never overflowing).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The most fault rules active at once; the next one is refused
/// ([`FaultError::TooManyRules`]).
pub const MAX_RULES: usize = 256;

/// The longest latency one rule may add: one hour, in milliseconds.
pub const MAX_LATENCY_MS: u64 = 3_600_000;

/// What an injected fault does to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Fault {
    /// 500 with the operation's message and
    /// `details: "Queue system temporarily unavailable"`.
    Unavailable,
    /// The request is answered normally, `ms` milliseconds late.
    Latency {
        /// Added delay in milliseconds, at most [`MAX_LATENCY_MS`].
        ms: u64,
    },
    /// The connection is closed without an answer.
    DropConnection,
    /// 429 `Too many requests` with `Retry-After: retry_after_secs`.
    TooManyRequests {
        /// The `Retry-After` value, in seconds.
        retry_after_secs: u64,
    },
    /// The request is **applied**, then its connection is closed without
    /// the answer: the client cannot tell whether it was (test "the request
    /// may have been applied").
    AppliedThenDropConnection,
    /// The request is **applied**, then answered with the `unavailable`
    /// 500 instead of its own answer.
    AppliedThenUnavailable,
}

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Trigger {
    /// The next `n` requests (counting down as they are hit).
    Next(u32),
    /// Each request with this probability, from 0 to 1.
    Fraction(f64),
}

/// An active fault rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FaultRule {
    /// Identifier, for removal.
    pub id: u64,
    /// What it does.
    pub fault: Fault,
    /// When it fires; for `next`, the requests still to hit.
    pub trigger: Trigger,
}

/// A fault rule was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FaultError {
    /// `fraction` must be a number from 0 to 1.
    #[error("fraction must be a number from 0 to 1, got {0}")]
    InvalidFraction(f64),
    /// `next` must be at least 1.
    #[error("next must be at least 1")]
    ZeroCount,
    /// A latency above [`MAX_LATENCY_MS`].
    #[error("latency must be at most {MAX_LATENCY_MS} ms, got {0}")]
    LatencyTooLong(u64),
    /// [`MAX_RULES`] rules are active already.
    #[error("at most {MAX_RULES} fault rules can be active at once; remove some first")]
    TooManyRules,
}

/// What the fault rules decided for one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) latency: Duration,
    pub(crate) answer: Option<Fault>,
}

#[derive(Debug)]
struct State {
    rules: Vec<FaultRule>,
    next_id: u64,
    rng: fastrand::Rng,
}

/// The fault rules of a stub; cloning shares them.
#[derive(Debug, Clone)]
pub struct Faults {
    state: Arc<Mutex<State>>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                rules: Vec::new(),
                next_id: 0,
                rng: fastrand::Rng::new(),
            })),
        }
    }
}

impl Faults {
    /// No faults.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a rule; returns its id.
    ///
    /// # Errors
    ///
    /// [`FaultError`] for a fraction outside 0–1, a count of 0, a latency
    /// above [`MAX_LATENCY_MS`], or when [`MAX_RULES`] are active.
    pub fn inject(&self, fault: Fault, trigger: Trigger) -> Result<u64, FaultError> {
        match trigger {
            Trigger::Fraction(p) if !(0.0..=1.0).contains(&p) => {
                return Err(FaultError::InvalidFraction(p));
            }
            Trigger::Next(0) => return Err(FaultError::ZeroCount),
            _ => {}
        }
        if let Fault::Latency { ms } = fault
            && ms > MAX_LATENCY_MS
        {
            return Err(FaultError::LatencyTooLong(ms));
        }
        let mut state = self.lock();
        if state.rules.len() >= MAX_RULES {
            return Err(FaultError::TooManyRules);
        }
        state.next_id += 1;
        let id = state.next_id;
        state.rules.push(FaultRule { id, fault, trigger });
        Ok(id)
    }

    /// `fault` for the next `n` requests (`n` = 0 adds nothing).
    ///
    /// # Errors
    ///
    /// As [`Faults::inject`], but for a count of 0 (which adds nothing).
    pub fn next(&self, n: u32, fault: Fault) -> Result<(), FaultError> {
        match self.inject(fault, Trigger::Next(n)) {
            Ok(_) | Err(FaultError::ZeroCount) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// `fault` for each request with probability `fraction` (clamped to 0–1).
    ///
    /// # Errors
    ///
    /// As [`Faults::inject`] (a latency too long, too many rules).
    pub fn fraction(&self, fraction: f64, fault: Fault) -> Result<(), FaultError> {
        let fraction = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 1.0)
        };
        self.inject(fault, Trigger::Fraction(fraction)).map(drop)
    }

    /// Seeds the generator behind `fraction` rules, for repeatable runs.
    pub fn seed(&self, seed: u64) {
        self.lock().rng.seed(seed);
    }

    /// The active rules, oldest first.
    pub fn rules(&self) -> Vec<FaultRule> {
        self.lock().rules.clone()
    }

    /// Removes one rule; whether it existed.
    pub fn remove(&self, id: u64) -> bool {
        let mut state = self.lock();
        let before = state.rules.len();
        state.rules.retain(|r| r.id != id);
        state.rules.len() != before
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.lock().rules.clear();
    }

    /// Decides the faults for one request, consuming `next` counts.
    pub(crate) fn decide(&self) -> Decision {
        let mut state = self.lock();
        let State { rules, rng, .. } = &mut *state;
        let mut decision = Decision::default();
        for rule in rules.iter_mut() {
            let is_answer = !matches!(rule.fault, Fault::Latency { .. });
            if is_answer && decision.answer.is_some() {
                continue;
            }
            let fires = match &mut rule.trigger {
                Trigger::Next(remaining) => {
                    *remaining = remaining.saturating_sub(1);
                    true
                }
                Trigger::Fraction(p) => rng.f64() < *p,
            };
            if !fires {
                continue;
            }
            match &rule.fault {
                Fault::Latency { ms } => {
                    decision.latency = decision.latency.saturating_add(Duration::from_millis(*ms));
                }
                answer => decision.answer = Some(answer.clone()),
            }
        }
        rules.retain(|r| r.trigger != Trigger::Next(0));
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_rules_count_down_and_answer_in_order() {
        let faults = Faults::new();
        faults.next(2, Fault::Unavailable).unwrap();
        faults
            .next(
                1,
                Fault::TooManyRequests {
                    retry_after_secs: 3,
                },
            )
            .unwrap();
        faults.next(4, Fault::Latency { ms: 250 }).unwrap();
        let answers: Vec<_> = (0..5).map(|_| faults.decide()).collect();
        let unavailable = Some(Fault::Unavailable);
        let limited = Some(Fault::TooManyRequests {
            retry_after_secs: 3,
        });
        let ms = Duration::from_millis(250);
        assert_eq!(
            answers,
            [
                Decision {
                    latency: ms,
                    answer: unavailable.clone()
                },
                Decision {
                    latency: ms,
                    answer: unavailable
                },
                Decision {
                    latency: ms,
                    answer: limited
                },
                Decision {
                    latency: ms,
                    answer: None
                },
                Decision::default(),
            ]
        );
        assert!(faults.rules().is_empty());
    }

    #[test]
    fn fractions_are_seeded_and_validated() {
        let faults = Faults::new();
        faults.seed(42);
        faults
            .inject(Fault::DropConnection, Trigger::Fraction(0.25))
            .unwrap();
        let hits = (0..4000)
            .filter(|_| faults.decide().answer.is_some())
            .count();
        assert!((800..1200).contains(&hits), "about a quarter: {hits}");
        assert_eq!(
            faults.inject(Fault::Unavailable, Trigger::Fraction(1.5)),
            Err(FaultError::InvalidFraction(1.5))
        );
        assert_eq!(
            faults.inject(Fault::Unavailable, Trigger::Next(0)),
            Err(FaultError::ZeroCount)
        );
        let id = faults.rules()[0].id;
        assert!(faults.remove(id));
        assert!(!faults.remove(id));
        faults.fraction(1.0, Fault::Unavailable).unwrap();
        assert_eq!(faults.decide().answer, Some(Fault::Unavailable));
        faults.clear();
        assert_eq!(faults.decide(), Decision::default());
    }

    #[test]
    fn rules_are_bounded_in_number_and_latency_and_spent_ones_leave() {
        let faults = Faults::new();
        assert_eq!(
            faults.inject(Fault::Latency { ms: u64::MAX }, Trigger::Next(1)),
            Err(FaultError::LatencyTooLong(u64::MAX))
        );
        for _ in 0..MAX_RULES {
            faults
                .inject(Fault::Latency { ms: MAX_LATENCY_MS }, Trigger::Next(1))
                .unwrap();
        }
        assert_eq!(
            faults.next(1, Fault::Unavailable),
            Err(FaultError::TooManyRules)
        );
        let decision = faults.decide();
        assert_eq!(
            decision.latency,
            Duration::from_millis(MAX_LATENCY_MS) * u32::try_from(MAX_RULES).unwrap()
        );
        assert!(faults.rules().is_empty(), "every spent rule removed");
        faults.next(1, Fault::Unavailable).unwrap();
    }

    #[test]
    fn wire_format_is_tagged_camel_case() {
        let rule = FaultRule {
            id: 1,
            fault: Fault::TooManyRequests {
                retry_after_secs: 2,
            },
            trigger: Trigger::Next(3),
        };
        assert_eq!(
            serde_json::to_value(rule).unwrap(),
            serde_json::json!({"id": 1, "fault": {"kind": "tooManyRequests", "retryAfterSecs": 2}, "trigger": {"next": 3}})
        );
    }
}
