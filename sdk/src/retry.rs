//! The retry policy: which failures are retried, and how long to wait.
//!
//! Decisions are pure functions of their inputs (attempt, outcome, a jitter
//! draw), so they are tested with tables and nothing sleeps in real time.
//!
//! - `GET` is idempotent: it is retried on transport errors, timeouts, 429 and
//!   5xx, with exponential backoff and full jitter.
//! - `PUT` and `DELETE` change state: they are retried only when the request
//!   provably applied nothing: the connection could not be made, or the
//!   server answered 429 (which applies nothing). A timeout or a reset after
//!   sending is returned to the caller, who knows whether repeating the
//!   action is safe.
//! - Other 4xx answers are never retried: asking again gives the same answer.
//! - A `Retry-After` from the server replaces the computed backoff. When it
//!   asks for more than [`RetryPolicy::max_retry_after`], the client does not
//!   wait: it returns [`JobsError::RateLimited`](crate::JobsError::RateLimited)
//!   (or [`JobsError::Server`](crate::JobsError::Server)) so the caller can
//!   schedule the retry; both expose the value through
//!   [`JobsError::retry_after`](crate::JobsError::retry_after).
//! - [`RetryPolicy::max_elapsed`] bounds the whole call: each attempt's
//!   timeout is cut to what is left of it, and no retry is started whose
//!   wait would end past it (default 60 s).
//!
//! # Bounds
//! Every wait is at most `min(max(max_backoff, max_retry_after), max_elapsed)`
//! and a call takes at most `max_elapsed` once its first attempt is sent
//! (plus the time waiting for a connection slot, see
//! [`JobsClientBuilder::max_concurrent_requests`](crate::JobsClientBuilder::max_concurrent_requests)).
//! No value of any field, however large, makes the arithmetic panic: it
//! saturates. These bounds are checked by a property test over arbitrary
//! durations, attempts, jitter draws and `Retry-After` values.

use std::time::{Duration, SystemTime};

use crate::backoff::{Backoff, full_jitter};

/// How a [`JobsClient`](crate::JobsClient) retries failed requests.
///
/// Start from [`RetryPolicy::default`] (or [`RetryPolicy::none`]) and change
/// what you need with the setters named after the fields; the struct is
/// `#[non_exhaustive]` so that a new knob is not a breaking change:
///
/// ```
/// use std::time::Duration;
/// use jobs_sdk::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .max_retries(3)
///     .initial_backoff(Duration::from_millis(100))
///     .max_elapsed(Duration::from_secs(20));
/// assert_eq!(policy.max_retries, 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 2, so at most 3 requests).
    pub max_retries: u32,
    /// Backoff before the first retry, doubled each retry (default 200 ms).
    pub initial_backoff: Duration,
    /// Upper bound of the computed backoff (default 5 s).
    pub max_backoff: Duration,
    /// The longest `Retry-After` the client will wait for by itself
    /// (default 30 s).
    pub max_retry_after: Duration,
    /// Budget of one call, all attempts and waits included, counted from
    /// when its first attempt is sent (default 60 s). Each attempt's timeout
    /// is cut to what is left; a retry whose wait would end past the budget
    /// is not made and the last error is returned.
    pub max_elapsed: Duration,
    /// The retry budget shared by the client, its clones and its watches
    /// (default [`RetryBudget::default`]; `None`: retries bounded per call
    /// only).
    pub budget: Option<RetryBudget>,
}

/// A client-wide bound on retries, shared by the client, its clones and its
/// watches, as Finagle's retry budget and aws-sdk's retry quota: a token
/// bucket that starts full with `max_tokens`; each retry takes one token, and
/// every answered request (a 2xx or 304, first attempt or not) gives back
/// `1 / successes_per_token` of one, up to `max_tokens`. When the bucket is
/// empty a failure is returned at once instead of retried.
///
/// With the defaults (50 tokens, a token per 5 successes) a server that
/// fails everything gets at most 50 retries from the whole client, however
/// many calls are in flight: 50 concurrent calls send at most 100 requests.
/// A server that fails one request in ten is still retried to success: the
/// successes refill 0.2 tokens each, more than the retries take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryBudget {
    /// Tokens when full, and at the start (default 50).
    pub max_tokens: u32,
    /// Answered requests that give back one token (default 5; at least 1).
    pub successes_per_token: u32,
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self {
            max_tokens: 50,
            successes_per_token: 5,
        }
    }
}

impl RetryBudget {
    /// A budget of `max_tokens`, refilled one token per
    /// `successes_per_token` answered requests.
    pub fn new(max_tokens: u32, successes_per_token: u32) -> Self {
        Self {
            max_tokens,
            successes_per_token: successes_per_token.max(1),
        }
    }
}

/// The live bucket of a [`RetryBudget`], in units of one success: a retry
/// costs `successes_per_token` units.
#[derive(Debug)]
pub(crate) struct RetryTokens {
    units: std::sync::Mutex<u64>,
    capacity: u64,
    cost: u64,
}

impl RetryTokens {
    pub(crate) fn new(budget: RetryBudget) -> Self {
        let cost = u64::from(budget.successes_per_token.max(1));
        let capacity = u64::from(budget.max_tokens) * cost;
        Self {
            units: std::sync::Mutex::new(capacity),
            capacity,
            cost,
        }
    }

    /// Takes a token for a retry; `false` when the budget is spent.
    pub(crate) fn withdraw(&self) -> bool {
        let mut units = self.units.lock().unwrap_or_else(|e| e.into_inner());
        if *units < self.cost {
            return false;
        }
        *units -= self.cost;
        true
    }

    /// An answered request gives back a share of a token.
    pub(crate) fn deposit(&self) {
        let mut units = self.units.lock().unwrap_or_else(|e| e.into_inner());
        *units = (*units + 1).min(self.capacity);
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
            max_elapsed: DEFAULT_MAX_ELAPSED,
            budget: Some(RetryBudget::default()),
        }
    }
}

/// Default [`RetryPolicy::max_elapsed`]: one call never takes longer.
pub const DEFAULT_MAX_ELAPSED: Duration = Duration::from_secs(60);

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Sets [`max_retries`](Self::max_retries).
    #[must_use]
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// Sets [`initial_backoff`](Self::initial_backoff).
    #[must_use]
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// Sets [`max_backoff`](Self::max_backoff).
    #[must_use]
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// Sets [`max_retry_after`](Self::max_retry_after).
    #[must_use]
    pub fn max_retry_after(mut self, wait: Duration) -> Self {
        self.max_retry_after = wait;
        self
    }

    /// Sets [`max_elapsed`](Self::max_elapsed).
    #[must_use]
    pub fn max_elapsed(mut self, budget: Duration) -> Self {
        self.max_elapsed = budget;
        self
    }

    /// The client-wide retry budget (see [`RetryBudget`]).
    pub fn retry_budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// No client-wide retry budget: only `max_retries` and `max_elapsed`
    /// bound retries, per call.
    pub fn without_retry_budget(mut self) -> Self {
        self.budget = None;
        self
    }
}

/// What one attempt came to, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The connection could not be made: the request was not sent.
    ConnectFailed,
    /// The connection broke after the request may have been sent.
    TransportFailed,
    /// No answer within the timeout.
    TimedOut,
    /// The server answered with this status.
    Status(u16),
}

/// Whether an operation may be repeated without changing its effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// GET.
    Idempotent,
    /// PUT and DELETE: the action may be applied twice.
    StateChanging,
}

/// The retry decision after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Give up and return the error.
    GiveUp,
    /// Wait this long, then try again.
    RetryAfter(Duration),
}

impl RetryPolicy {
    /// Decides what to do after attempt number `attempt` (0 for the first
    /// request) ended in `outcome`, `elapsed` after the call's first send.
    /// `retry_after` is the server's header, `jitter` a uniform draw from
    /// `[0, 1)` (anything else is clamped; NaN counts as 0).
    pub(crate) fn decide(
        &self,
        idempotency: Idempotency,
        attempt: u32,
        outcome: Outcome,
        retry_after: Option<Duration>,
        jitter: f64,
        elapsed: Duration,
    ) -> Decision {
        if attempt >= self.max_retries || !is_retryable(idempotency, outcome) {
            return Decision::GiveUp;
        }
        let wait = match retry_after {
            Some(wait) if wait > self.max_retry_after => return Decision::GiveUp,
            Some(wait) => wait,
            None => self.backoff(attempt, jitter),
        };
        // The budget wins: a retry that could only start after it is not made.
        if elapsed.saturating_add(wait) >= self.max_elapsed {
            return Decision::GiveUp;
        }
        Decision::RetryAfter(wait)
    }

    /// Full-jitter exponential backoff (see [`crate::backoff`]): a uniform
    /// draw from `[0, min(max_backoff, initial_backoff × 2^attempt)]`.
    pub(crate) fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let ceiling = Backoff {
            initial: self.initial_backoff,
            factor: 2.0,
            max: self.max_backoff,
        }
        // 2^31 × even 1 ns is over two seconds: past it the cap is what counts.
        .nth(attempt.min(31));
        full_jitter(ceiling, jitter)
    }
}

fn is_retryable(idempotency: Idempotency, outcome: Outcome) -> bool {
    match (idempotency, outcome) {
        // Nothing was applied: the request never arrived, or a 429 refused
        // it before any effect (the contract's 429 applies nothing).
        (_, Outcome::ConnectFailed | Outcome::Status(429)) => true,
        (Idempotency::StateChanging, _) => false,
        (Idempotency::Idempotent, Outcome::TransportFailed | Outcome::TimedOut) => true,
        (Idempotency::Idempotent, Outcome::Status(status)) => matches!(status, 429 | 500..=599),
    }
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP date (RFC 9110
/// §10.2.3). A date in the past means "now".
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More seconds than a u64 holds is "forever": saturate, never fail.
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod budget_tests {
    use super::*;

    #[test]
    fn retries_spend_tokens_and_successes_refill_them() {
        let tokens = RetryTokens::new(RetryBudget::new(2, 3));
        assert!(tokens.withdraw() && tokens.withdraw());
        assert!(!tokens.withdraw(), "spent");
        tokens.deposit();
        tokens.deposit();
        assert!(!tokens.withdraw(), "two successes are not a token");
        tokens.deposit();
        assert!(tokens.withdraw(), "three are");
        for _ in 0..100 {
            tokens.deposit();
        }
        assert!(
            tokens.withdraw() && tokens.withdraw() && !tokens.withdraw(),
            "capped"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::*;
    use Idempotency::*;
    use Outcome::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn which_outcomes_are_retried() {
        let policy = RetryPolicy::default();
        #[rustfmt::skip]
        let table: &[(Idempotency, Outcome, bool)] = &[
            (Idempotent, ConnectFailed, true),
            (Idempotent, TransportFailed, true),
            (Idempotent, TimedOut, true),
            (Idempotent, Status(429), true),
            (Idempotent, Status(500), true),
            (Idempotent, Status(502), true),
            (Idempotent, Status(503), true),
            (Idempotent, Status(400), false),
            (Idempotent, Status(401), false),
            (Idempotent, Status(404), false),
            (Idempotent, Status(409), false),
            (StateChanging, ConnectFailed, true),
            (StateChanging, TransportFailed, false),
            (StateChanging, TimedOut, false),
            (StateChanging, Status(429), true),
            (StateChanging, Status(503), false),
            (StateChanging, Status(400), false),
        ];
        for &(idempotency, outcome, retried) in table {
            let decision = policy.decide(idempotency, 0, outcome, None, 0.5, Duration::ZERO);
            assert_eq!(
                matches!(decision, RetryAfter(_)),
                retried,
                "{idempotency:?} {outcome:?}"
            );
        }
    }

    #[test]
    fn gives_up_after_max_retries() {
        let policy = RetryPolicy {
            max_retries: 2,
            ..RetryPolicy::default()
        };
        let decisions: Vec<_> = (0..4)
            .map(|attempt| {
                policy.decide(Idempotent, attempt, Status(503), None, 0.0, Duration::ZERO)
            })
            .collect();
        assert_eq!(
            decisions,
            [RetryAfter(MS(0)), RetryAfter(MS(0)), GiveUp, GiveUp]
        );
        assert_eq!(
            RetryPolicy::none().decide(Idempotent, 0, Status(503), None, 0.5, Duration::ZERO),
            GiveUp
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_full_jitter() {
        let policy = RetryPolicy {
            initial_backoff: MS(100),
            max_backoff: MS(1000),
            ..RetryPolicy::default()
        };
        #[rustfmt::skip]
        let table: &[(u32, f64, Duration)] = &[
            (0, 0.999_999, MS(100)), (0, 0.5, MS(50)), (0, 0.0, MS(0)),
            (1, 0.5, MS(100)), (2, 0.5, MS(200)), (3, 0.5, MS(400)),
            (4, 0.5, MS(500)), (4, 1.0, MS(1000)), (30, 1.0, MS(1000)), (u32::MAX, 1.0, MS(1000)),
            (1, 7.0, MS(200)), (1, -1.0, MS(0)),
        ];
        for &(attempt, jitter, expected) in table {
            let got = policy.backoff(attempt, jitter);
            let diff = got.abs_diff(expected);
            assert!(
                diff <= Duration::from_micros(1),
                "attempt {attempt} jitter {jitter}: {got:?}"
            );
        }
    }

    #[test]
    fn retry_after_wins_within_its_cap() {
        let policy = RetryPolicy {
            max_retry_after: Duration::from_secs(30),
            ..RetryPolicy::default()
        };
        let secs = Duration::from_secs;
        assert_eq!(
            policy.decide(
                Idempotent,
                0,
                Status(429),
                Some(secs(7)),
                0.1,
                Duration::ZERO
            ),
            RetryAfter(secs(7))
        );
        assert_eq!(
            policy.decide(
                Idempotent,
                0,
                Status(503),
                Some(secs(30)),
                0.1,
                Duration::ZERO
            ),
            RetryAfter(secs(30))
        );
        assert_eq!(
            policy.decide(
                Idempotent,
                0,
                Status(429),
                Some(secs(31)),
                0.1,
                Duration::ZERO
            ),
            GiveUp
        );
        // A PUT's 429 applied nothing: retried after its Retry-After, and
        // given up like a GET's when that is too long.
        assert_eq!(
            policy.decide(
                StateChanging,
                0,
                Status(429),
                Some(secs(1)),
                0.1,
                Duration::ZERO
            ),
            RetryAfter(secs(1))
        );
        assert_eq!(
            policy.decide(
                StateChanging,
                0,
                Status(429),
                Some(secs(31)),
                0.1,
                Duration::ZERO
            ),
            GiveUp
        );
    }

    #[test]
    fn parses_retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(90));
        #[rustfmt::skip]
        let table: &[(&str, Option<Duration>)] = &[
            ("0", Some(Duration::ZERO)),
            ("120", Some(Duration::from_secs(120))),
            (" 5 ", Some(Duration::from_secs(5))),
            (&later, Some(Duration::from_secs(90))),
            (&earlier, Some(Duration::ZERO)),
            ("-1", None),
            ("18446744073709551615", Some(Duration::from_secs(u64::MAX))),
            ("99999999999999999999999", Some(Duration::from_secs(u64::MAX))),
            ("+5", None),
            ("1.5", None),
            ("soon", None),
            ("", None),
        ];
        for (value, expected) in table {
            assert_eq!(parse_retry_after(value, now), *expected, "{value:?}");
        }
    }
}

/// Property tests: arbitrary policies, attempts, outcomes, jitter draws
/// (NaN and infinities included), `Retry-After` values and elapsed times.
#[cfg(test)]
pub(crate) mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Durations of every scale, with the edges (0, `MAX`) well represented.
    pub(crate) fn any_duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            Just(Duration::ZERO),
            Just(Duration::MAX),
            (0u64..10_000).prop_map(Duration::from_millis),
            (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        ]
    }

    /// Floats of every kind: NaN, ±∞, negative, huge, and ordinary draws.
    pub(crate) fn any_float() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(f64::MAX),
            Just(f64::MIN_POSITIVE),
            0.0..1.0f64,
            any::<f64>(),
        ]
    }

    fn any_policy() -> impl Strategy<Value = RetryPolicy> {
        (
            any::<u32>(),
            any_duration(),
            any_duration(),
            any_duration(),
            any_duration(),
        )
            .prop_map(|(retries, initial, max, max_after, elapsed)| {
                RetryPolicy::default()
                    .max_retries(retries)
                    .initial_backoff(initial)
                    .max_backoff(max)
                    .max_retry_after(max_after)
                    .max_elapsed(elapsed)
            })
    }

    fn any_outcome() -> impl Strategy<Value = Outcome> {
        prop_oneof![
            Just(Outcome::ConnectFailed),
            Just(Outcome::TransportFailed),
            Just(Outcome::TimedOut),
            any::<u16>().prop_map(Outcome::Status),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// No input panics, and every retry respects the documented bounds.
        #[test]
        fn decisions_never_panic_and_stay_within_bounds(
            policy in any_policy(),
            state_changing in any::<bool>(),
            attempt in any::<u32>(),
            outcome in any_outcome(),
            retry_after in proptest::option::of(any_duration()),
            jitter in any_float(),
            elapsed in any_duration(),
        ) {
            let idempotency = if state_changing { Idempotency::StateChanging } else { Idempotency::Idempotent };
            let decision = policy.decide(idempotency, attempt, outcome, retry_after, jitter, elapsed);
            let Decision::RetryAfter(wait) = decision else { return Ok(()) };
            prop_assert!(attempt < policy.max_retries);
            // PUT/DELETE only when the request provably was not sent.
            if state_changing {
                prop_assert_eq!(outcome, Outcome::ConnectFailed);
            }
            if let Outcome::Status(status) = outcome {
                prop_assert!(matches!(status, 429 | 500..=599), "{status}");
            }
            match retry_after {
                Some(asked) => {
                    prop_assert_eq!(wait, asked);
                    prop_assert!(wait <= policy.max_retry_after);
                }
                None => {
                    prop_assert!(wait <= policy.max_backoff);
                    let ceiling = policy.initial_backoff.saturating_mul(2u32.saturating_pow(attempt.min(31)));
                    prop_assert!(wait <= ceiling);
                }
            }
            // The budget wins: the retry starts before max_elapsed.
            prop_assert!(elapsed.saturating_add(wait) < policy.max_elapsed);
        }

        #[test]
        fn backoff_never_panics_and_is_capped(policy in any_policy(), attempt in any::<u32>(), jitter in any_float()) {
            let wait = policy.backoff(attempt, jitter);
            prop_assert!(wait <= policy.max_backoff);
        }

        #[test]
        fn retry_after_parsing_never_panics(value in ".{0,40}", seconds in any::<u64>()) {
            let now = SystemTime::now();
            let _ = parse_retry_after(&value, now);
            prop_assert_eq!(parse_retry_after(&seconds.to_string(), now), Some(Duration::from_secs(seconds)));
        }
    }
}
