//! The watch loop on tokio's paused clock against a scripted poller: exact
//! poll times, emission, ending. (Real-socket tests live in `sdk/tests/`.)

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use serde_json::json;

use super::*;

const S: fn(u64) -> Duration = Duration::from_secs;
const MS: fn(u64) -> Duration = Duration::from_millis;

fn snapshot(status: &str, progress: u32, stats_waiting: u64) -> Box<JobStatusResponse> {
    serde_json::from_value(json!({
        "job": {
            "id": "job_1", "type": "single-page", "status": status, "progress": progress,
            "data": {}, "createdAt": "2024-01-01T00:00:00.000Z", "attemptsMade": 1,
            "failedReason": if status == "failed" { json!("Page returned 500") } else { json!(null) }
        },
        "queueStats": { "waiting": stats_waiting, "active": 1, "completed": 0, "failed": 0 },
        "timestamp": format!("2024-01-01T00:00:{:02}.000Z", stats_waiting % 60)
    }))
    .unwrap()
}

/// One scripted answer.
enum Step {
    Snap(Box<JobStatusResponse>, Option<&'static str>),
    NotModified,
    Status(u16, Option<Duration>),
}

type PollLog = Arc<Mutex<Vec<(Duration, Option<String>)>>>;

#[derive(Clone, Default)]
struct Script {
    steps: Arc<Mutex<VecDeque<Step>>>,
    /// Virtual time (since the test started) and `If-None-Match` of each poll.
    polls: PollLog,
    started: Arc<Mutex<Option<Instant>>>,
}

impl Script {
    fn new(steps: Vec<Step>) -> Self {
        let script = Self::default();
        *script.steps.lock().unwrap() = steps.into();
        *script.started.lock().unwrap() = Some(Instant::now());
        script
    }

    fn poll_times(&self) -> Vec<Duration> {
        self.polls.lock().unwrap().iter().map(|(t, _)| *t).collect()
    }
}

impl Poller for Script {
    async fn poll(&self, etag: Option<HeaderValue>, _: &mut Duration) -> Result<Polled, Failure> {
        let started = self.started.lock().unwrap().unwrap();
        let etag = etag.map(|e| e.to_str().unwrap().to_owned());
        self.polls.lock().unwrap().push((started.elapsed(), etag));
        // An exhausted script keeps answering "unchanged".
        let step = self
            .steps
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Step::NotModified);
        match step {
            Step::Snap(snapshot, etag) => Ok(Polled::Snapshot(
                snapshot,
                etag.map(HeaderValue::from_static),
            )),
            Step::NotModified => Ok(Polled::NotModified),
            Step::Status(status, retry_after) => Err(Failure {
                error: JobsError::from_status(status, br#"{"error":"scripted"}"#, retry_after),
                retry_after,
            }),
        }
    }
}

fn exact(interval: Duration, max_interval: Duration) -> WatchOptions {
    WatchOptions::default()
        .interval(interval)
        .max_interval(max_interval)
        .jitter(0.0)
}

async fn collect(
    script: &Script,
    options: WatchOptions,
) -> Vec<Result<JobStatusResponse, JobsError>> {
    watch(script.clone(), options).collect().await
}

#[test]
fn schedule_table() {
    let o = exact(S(1), S(3));
    use Observation::*;
    let paused = JobState::Paused;
    let stuck = JobState::Stuck;
    let active = JobState::Active;
    #[rustfmt::skip]
    let table: &[(Duration, Observation, Option<&JobState>, Duration)] = &[
        (S(1), Changed, Some(&active), S(1)),
        (S(3), Changed, Some(&active), S(1)),
        (S(1), Unchanged, Some(&active), MS(1500)),
        (MS(1500), Unchanged, None, MS(2250)),
        (MS(2250), Unchanged, None, S(3)),
        (S(3), Unchanged, None, S(3)),
        (S(1), Failed, None, MS(1500)),
        (S(1), Changed, Some(&paused), S(3)),
        (S(1), Unchanged, Some(&stuck), S(3)),
        (MS(10), Unchanged, None, MS(1500)), // never below interval
    ];
    for &(previous, observation, status, expected) in table {
        assert_eq!(
            next_base_delay(&o, previous, observation, status),
            expected,
            "{previous:?} {observation:?} {status:?}"
        );
    }
    // A cap below the interval means "no backoff".
    let flat = exact(S(2), S(1));
    assert_eq!(next_base_delay(&flat, S(2), Unchanged, None), S(2));
}

#[test]
fn jitter_spreads_within_bounds() {
    let o = WatchOptions::default()
        .interval(S(1))
        .max_interval(S(10))
        .jitter(0.1);
    assert_eq!(jittered(&o, S(2), 0.0), MS(1800));
    assert_eq!(jittered(&o, S(2), 0.5), S(2));
    assert_eq!(jittered(&o, S(2), 1.0), MS(2200));
    assert_eq!(jittered(&o, S(10), 1.0), S(10), "never beyond the cap");
    assert_eq!(jittered(&o.jitter(0.0), S(2), 0.9), S(2));
}

#[tokio::test(start_paused = true)]
async fn exact_poll_times_backoff_cap_and_reset_after_change() {
    let script = Script::new(vec![
        Step::Snap(snapshot("active", 10, 0), Some("\"r1\"")),
        Step::NotModified,
        Step::NotModified,
        Step::NotModified,
        Step::NotModified,
        Step::Snap(snapshot("active", 60, 1), Some("\"r2\"")),
        Step::NotModified,
        Step::Snap(snapshot("completed", 100, 2), Some("\"r3\"")),
    ]);

    let items = collect(&script, exact(S(1), S(3))).await;

    let progress: Vec<_> = items
        .iter()
        .map(|i| i.as_ref().unwrap().job.progress.unwrap())
        .collect();
    assert_eq!(progress, [10.0, 60.0, 100.0]);
    assert_eq!(
        script.poll_times(),
        [
            MS(0),
            MS(1000),
            MS(2500),
            MS(4750),
            MS(7750),
            MS(10750),
            MS(11750),
            MS(13250)
        ]
    );
    let etags: Vec<_> = script
        .polls
        .lock()
        .unwrap()
        .iter()
        .map(|(_, e)| e.clone())
        .collect();
    assert_eq!(etags[0], None);
    assert_eq!(etags[1].as_deref(), Some("\"r1\""));
    assert_eq!(etags[6].as_deref(), Some("\"r2\""));
}

#[tokio::test(start_paused = true)]
async fn emits_only_when_the_job_changes() {
    let script = Script::new(vec![
        Step::Snap(snapshot("active", 10, 0), None),
        Step::Snap(snapshot("active", 10, 7), None), // new timestamp and queueStats only
        Step::Snap(snapshot("active", 11, 7), None),
        Step::Snap(snapshot("failed", 11, 7), None),
    ]);

    let items = collect(&script, exact(S(1), S(1))).await;

    let seen: Vec<_> = items
        .iter()
        .map(|i| {
            let job = &i.as_ref().unwrap().job;
            (job.status.as_str().to_owned(), job.progress.unwrap())
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("active".into(), 10.0),
            ("active".into(), 11.0),
            ("failed".into(), 11.0)
        ]
    );
    assert_eq!(
        script.poll_times().len(),
        4,
        "nothing is polled after the end"
    );
}

#[tokio::test(start_paused = true)]
async fn paused_and_stuck_jobs_are_polled_at_the_cap() {
    let script = Script::new(vec![
        Step::Snap(snapshot("paused", 10, 0), None),
        Step::NotModified,
        Step::Snap(snapshot("stuck", 10, 0), None),
        Step::Snap(snapshot("active", 20, 0), None),
        Step::Snap(snapshot("completed", 100, 0), None),
    ]);

    collect(&script, exact(S(1), S(4))).await;

    assert_eq!(script.poll_times(), [S(0), S(4), S(8), S(12), S(13)]);
}

#[tokio::test(start_paused = true)]
async fn retry_after_wins_even_beyond_the_cap() {
    let script = Script::new(vec![
        Step::Snap(snapshot("active", 10, 0), None),
        Step::Status(429, Some(S(7))),
        Step::Status(503, Some(S(2))),
        Step::Status(503, None),
        Step::Snap(snapshot("completed", 100, 0), None),
    ]);

    let items = collect(&script, exact(S(1), S(3))).await;

    assert_eq!(script.poll_times(), [S(0), S(1), S(8), S(10), S(13)]);
    let kinds: Vec<_> = items
        .iter()
        .map(|i| i.as_ref().map(|_| ()).map_err(|e| e.status()))
        .collect();
    assert_eq!(
        kinds,
        [
            Ok(()),
            Err(Some(429)),
            Err(Some(503)),
            Err(Some(503)),
            Ok(())
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn not_found_ends_the_watch() {
    let script = Script::new(vec![
        Step::Snap(snapshot("active", 10, 0), None),
        Step::Status(404, None),
        Step::Snap(snapshot("active", 20, 0), None),
    ]);

    let items = collect(&script, exact(S(1), S(1))).await;

    assert_eq!(items.len(), 2);
    assert!(matches!(items[1], Err(JobsError::NotFound(_))));
    assert_eq!(script.poll_times().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn non_transient_errors_end_the_watch() {
    for status in [400, 401, 403] {
        let script = Script::new(vec![
            Step::Status(status, None),
            Step::Snap(snapshot("active", 1, 0), None),
        ]);
        let items = collect(&script, exact(S(1), S(1))).await;
        assert_eq!(items.len(), 1, "{status}");
        assert_eq!(items[0].as_ref().unwrap_err().status(), Some(status));
    }
}

#[tokio::test(start_paused = true)]
async fn error_budget_counts_consecutive_errors_only() {
    let script = Script::new(vec![
        Step::Status(500, None),
        Step::Status(502, None),
        Step::Snap(snapshot("active", 10, 0), None), // resets the count
        Step::Status(500, None),
        Step::Status(500, None),
        Step::Status(503, None),
        Step::Snap(snapshot("completed", 100, 0), None),
    ]);

    let items = collect(&script, exact(S(1), S(1)).max_consecutive_errors(3)).await;

    let statuses: Vec<_> = items
        .iter()
        .map(|i| i.as_ref().err().and_then(JobsError::status))
        .collect();
    assert_eq!(
        statuses,
        [Some(500), Some(502), None, Some(500), Some(500), Some(503)]
    );
    assert_eq!(script.poll_times().len(), 6, "the last error ends it");
}

#[tokio::test(start_paused = true)]
async fn deadline_yields_wait_timeout() {
    let script = Script::new(vec![Step::Snap(snapshot("active", 10, 0), None)]);

    let items = collect(&script, exact(S(1), S(2)).timeout(S(5))).await;

    assert_eq!(items.len(), 2);
    let Err(JobsError::WaitTimeout {
        elapsed,
        polls,
        last,
    }) = &items[1]
    else {
        panic!("{:?}", items[1])
    };
    assert_eq!(*elapsed, S(5));
    // Polls at 0, 1, 2.5, 4.5; the next (6.5) would pass the deadline.
    assert_eq!(*polls, 4);
    assert_eq!(script.poll_times(), [S(0), S(1), MS(2500), MS(4500)]);
    assert_eq!(last.as_ref().unwrap().status, JobState::Active);
    assert!(
        items[1]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("it was last active")
    );
}

/// A poller whose answer never comes: the deadline must still hold.
struct Hanging;

impl Poller for Hanging {
    async fn poll(&self, _: Option<HeaderValue>, _: &mut Duration) -> Result<Polled, Failure> {
        std::future::pending().await
    }
}

#[tokio::test(start_paused = true)]
async fn deadline_holds_while_a_poll_hangs() {
    let started = Instant::now();
    let items: Vec<_> = watch(Hanging, exact(S(1), S(2)).timeout(S(3)))
        .collect()
        .await;
    assert_eq!(started.elapsed(), S(3));
    assert!(matches!(
        items[..],
        [Err(JobsError::WaitTimeout { polls: 1, .. })]
    ));
}

#[tokio::test(start_paused = true)]
async fn dropping_the_stream_stops_polling() {
    let script = Script::new(vec![Step::Snap(snapshot("active", 10, 0), None)]);
    let mut stream = Box::pin(watch(script.clone(), exact(S(1), S(1))));

    assert!(stream.next().await.unwrap().is_ok());
    assert!(tokio::time::timeout(MS(3500), stream.next()).await.is_err());
    let before = script.poll_times().len();
    assert_eq!(before, 4); // 0, 1, 2, 3
    drop(stream);
    tokio::time::sleep(S(3600)).await;
    assert_eq!(script.poll_times().len(), before);
}

/// `wait_for_job`'s condition.
fn completed(job: &Job) -> bool {
    job.status == JobState::Completed
}

#[tokio::test(start_paused = true)]
async fn wait_until_returns_the_first_snapshot_the_condition_holds_for() {
    let script = Script::new(vec![
        Step::Snap(snapshot("waiting", 0, 0), None),
        Step::Snap(snapshot("active", 20, 0), None),
        Step::Snap(snapshot("active", 60, 0), None),
        Step::Snap(snapshot("completed", 100, 0), None),
    ]);
    let job = wait_for(Watcher::new(script, exact(S(1), S(1))), |job| {
        job.progress >= Some(50.0)
    })
    .await
    .unwrap();
    assert_eq!((job.status, job.progress), (JobState::Active, Some(60.0)));
    // The first snapshot counts too.
    let script = Script::new(vec![Step::Snap(snapshot("paused", 10, 0), None)]);
    let job = wait_for(Watcher::new(script, exact(S(1), S(1))), |job| {
        job.status == JobState::Paused
    })
    .await
    .unwrap();
    assert_eq!(job.status, JobState::Paused);
}

#[tokio::test(start_paused = true)]
async fn wait_until_a_condition_a_completed_job_never_meets_ends_with_job_finished() {
    let script = Script::new(vec![
        Step::Snap(snapshot("active", 20, 0), None),
        Step::Snap(snapshot("completed", 100, 0), None),
    ]);
    let err = wait_for(Watcher::new(script, exact(S(1), S(1))), |job| {
        job.status == JobState::Paused
    })
    .await
    .unwrap_err();
    assert!(matches!(err, JobsError::JobFinished { .. }), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn by_default_a_wait_on_a_paused_job_ends_after_an_hour() {
    let script = Script::new(vec![Step::Snap(snapshot("paused", 10, 0), None)]);
    let started = tokio::time::Instant::now();
    let err = wait_for(Watcher::new(script, WatchOptions::default()), completed)
        .await
        .unwrap_err();
    assert!(matches!(err, JobsError::WaitTimeout { .. }), "{err:?}");
    assert_eq!(started.elapsed(), crate::watch::DEFAULT_WATCH_TIMEOUT);
}

#[tokio::test(start_paused = true)]
async fn wait_for_returns_the_completed_job() {
    let script = Script::new(vec![
        Step::Snap(snapshot("waiting", 0, 0), None),
        Step::Status(503, None),
        Step::Snap(snapshot("active", 50, 0), None),
        Step::Snap(snapshot("completed", 100, 0), None),
    ]);
    let job = wait_for(Watcher::new(script, exact(S(1), S(1))), completed)
        .await
        .unwrap();
    assert_eq!(job.status, JobState::Completed);
}

#[tokio::test(start_paused = true)]
async fn wait_for_reports_failure_with_its_reason() {
    let script = Script::new(vec![Step::Snap(snapshot("failed", 40, 0), None)]);
    let err = wait_for(Watcher::new(script, exact(S(1), S(1))), completed)
        .await
        .unwrap_err();
    assert!(matches!(err, JobsError::JobFailed { .. }));
    assert_eq!(err.to_string(), "job failed: Page returned 500");
}

#[tokio::test(start_paused = true)]
async fn wait_for_gives_the_error_that_ended_the_watch() {
    let script = Script::new(vec![
        Step::Snap(snapshot("active", 5, 0), None),
        Step::Status(404, None),
    ]);
    let err = wait_for(Watcher::new(script, exact(S(1), S(1))), completed)
        .await
        .unwrap_err();
    assert!(matches!(err, JobsError::NotFound(_)), "{err:?}");

    let script = Script::new(vec![Step::Snap(snapshot("active", 5, 0), None)]);
    let err = wait_for(
        Watcher::new(script, exact(S(1), S(1)).timeout(S(10))),
        completed,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, JobsError::WaitTimeout { .. }), "{err:?}");
}

/// Panics a hostile server once caused, replayed: a `Retry-After` of u64::MAX
/// seconds, and `Duration::MAX`, NaN and infinite options.
#[tokio::test(start_paused = true)]
async fn reported_panics_are_gone() {
    let huge = Duration::from_secs(u64::MAX);
    let cases = [
        WatchOptions::default().timeout(Duration::MAX),
        WatchOptions::default().jitter(f64::NAN),
        WatchOptions::default().jitter(f64::INFINITY),
        WatchOptions::default().backoff_factor(f64::INFINITY),
        WatchOptions::default().backoff_factor(f64::NAN),
        WatchOptions::default().interval(Duration::MAX),
        WatchOptions::default().timeout(S(10)),
    ];
    for options in cases {
        let script = Script::new(vec![
            Step::Snap(snapshot("active", 10, 0), None),
            Step::Status(429, Some(huge)),
            Step::NotModified,
            Step::Snap(snapshot("completed", 100, 1), None),
        ]);
        let started = Instant::now();
        let items = collect(&script, options).await;
        assert!(!items.is_empty(), "{options:?}");
        // The 429's Retry-After was cut to max_retry_after (60 s), and a
        // 10 s deadline wins over it.
        let times = script.poll_times();
        if let [_, after_snapshot, after_429, ..] = times[..] {
            assert!(
                after_429 - after_snapshot <= S(60),
                "{options:?}: {times:?}"
            );
        }
        if options.timeout == Some(S(10)) {
            assert!(started.elapsed() <= S(10));
            assert!(matches!(
                items.last(),
                Some(Err(JobsError::WaitTimeout { .. }))
            ));
        }
    }
}

/// Property tests: arbitrary option values and server `Retry-After`s never
/// panic, and every delay stays within the documented bounds.
mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::retry::properties::{any_duration, any_float};

    fn any_options() -> impl Strategy<Value = WatchOptions> {
        (
            any_duration(),
            any_duration(),
            proptest::option::of(any_duration()),
            any::<u32>(),
            any_float(),
            any_float(),
            any_duration(),
        )
            .prop_map(
                |(interval, max_interval, timeout, errors, factor, jitter, max_after)| {
                    let options = WatchOptions::default()
                        .interval(interval)
                        .max_interval(max_interval)
                        .max_consecutive_errors(errors)
                        .backoff_factor(factor)
                        .jitter(jitter)
                        .max_retry_after(max_after);
                    match timeout {
                        Some(timeout) => options.timeout(timeout),
                        None => options,
                    }
                },
            )
    }

    fn any_observation() -> impl Strategy<Value = Observation> {
        prop_oneof![
            Just(Observation::Changed),
            Just(Observation::Unchanged),
            Just(Observation::Failed),
        ]
    }

    fn any_state() -> impl Strategy<Value = Option<JobState>> {
        prop_oneof![
            Just(None),
            Just(Some(JobState::Active)),
            Just(Some(JobState::Paused)),
            Just(Some(JobState::Stuck)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// The schedule: no panic; a delay is at most the cap, or the
        /// server's Retry-After cut to `max_retry_after`.
        #[test]
        fn schedule_never_panics_and_stays_within_bounds(
            options in any_options(),
            previous in any_duration(),
            observation in any_observation(),
            state in any_state(),
            retry_after in proptest::option::of(any_duration()),
            draw in any_float(),
        ) {
            let cap = options.max_interval.max(options.interval);
            let base = next_base_delay(&options, previous, observation, state.as_ref());
            prop_assert!(base <= cap);
            if observation == Observation::Changed && matches!(state, None | Some(JobState::Active)) {
                prop_assert_eq!(base, options.interval);
            }
            let delay = next_delay(&options, base, retry_after, draw);
            match retry_after {
                Some(asked) => prop_assert_eq!(delay, asked.min(options.max_retry_after)),
                None => prop_assert!(delay <= cap),
            }
            // Float options are clamped, as documented.
            prop_assert!((0.0..=1.0).contains(&options.jitter));
            prop_assert!(options.backoff_factor >= 1.0);
        }
    }

    /// A scripted server answering 429/503 with arbitrary `Retry-After`s.
    fn any_steps() -> impl Strategy<Value = Vec<(u8, Option<Duration>)>> {
        proptest::collection::vec((0u8..4, proptest::option::of(any_duration())), 0..8)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The whole watch on the paused clock: no panic whatever the options
        /// and Retry-After values; the stream ends; the deadline wins over
        /// any Retry-After; no gap between polls exceeds the bounds.
        #[test]
        fn watch_never_panics_and_its_deadline_wins(options in any_options(), steps in any_steps()) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut script: Vec<Step> = steps
                    .iter()
                    .map(|&(kind, retry_after)| match kind {
                        0 => Step::Status(429, retry_after),
                        1 => Step::Status(503, retry_after),
                        2 => Step::NotModified,
                        _ => Step::Snap(snapshot("active", 10, u64::from(kind)), None),
                    })
                    .collect();
                script.push(Step::Snap(snapshot("completed", 100, 99), None));
                let script = Script::new(script);
                let started = Instant::now();
                let items = collect(&script, options).await;
                let elapsed = started.elapsed();

                prop_assert!(!items.is_empty());
                prop_assert!(items.len() <= steps.len() + 2);
                if let Some(timeout) = options.timeout {
                    // The deadline wins: the watch never outlives it.
                    prop_assert!(elapsed <= timeout, "{elapsed:?} > {timeout:?}");
                }
                let cap = options
                    .max_interval
                    .max(options.interval)
                    .max(options.max_retry_after);
                let times = script.poll_times();
                for pair in times.windows(2) {
                    prop_assert!(pair[1] - pair[0] <= cap);
                }
                Ok(())
            })?;
        }
    }
}

/// A script whose answers take `latency` to come back.
struct Slow(Script, Duration);

impl Poller for Slow {
    async fn poll(
        &self,
        etag: Option<HeaderValue>,
        queued: &mut Duration,
    ) -> Result<Polled, Failure> {
        let answer = self.0.poll(etag, queued).await;
        tokio::time::sleep(self.1).await;
        answer
    }
}

fn unchanged_then_timeout(latency: Duration) -> (Script, Slow) {
    let mut steps = vec![Step::Snap(snapshot("active", 10, 0), Some("\"r1\""))];
    steps.extend((0..10).map(|_| Step::NotModified));
    let script = Script::new(steps);
    (script.clone(), Slow(script, latency))
}

#[tokio::test(start_paused = true)]
async fn the_delay_counts_from_the_answer() {
    let options = exact(S(1), S(1)).timeout(MS(4500));
    let (script, slow) = unchanged_then_timeout(MS(300));
    let items: Vec<_> = watch(slow, options).collect().await;
    // One interval after each answer: never overlapping, never bursting.
    assert_eq!(script.poll_times(), [MS(0), MS(1300), MS(2600), MS(3900)]);
    assert!(matches!(
        items.last(),
        Some(Err(JobsError::WaitTimeout { polls: 4, .. }))
    ));
}

#[tokio::test(start_paused = true)]
async fn a_slow_answer_delays_the_next_poll_without_a_burst() {
    let options = exact(S(1), S(1)).timeout(MS(5000));
    let (script, slow) = unchanged_then_timeout(MS(1500));
    let _: Vec<_> = watch(slow, options).collect().await;
    assert_eq!(script.poll_times(), [MS(0), MS(2500)]);
}

/// A script whose polls each wait `wait` for a concurrency slot, then are
/// answered at once.
struct Queued(Script, Duration);

impl Poller for Queued {
    async fn poll(
        &self,
        etag: Option<HeaderValue>,
        queued: &mut Duration,
    ) -> Result<Polled, Failure> {
        tokio::time::sleep(self.1).await;
        *queued += self.1;
        self.0.poll(etag, queued).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_poll_that_queued_for_a_slot_moves_the_next_one_back_by_that_wait() {
    let (script, _) = unchanged_then_timeout(Duration::ZERO);
    let options = exact(S(1), S(1)).timeout(MS(5000));
    let _: Vec<_> = watch(Queued(script.clone(), MS(300)), options)
        .collect()
        .await;
    // Each poll is sent after its 300 ms in the queue, answered at once,
    // and the next is due 1 s + 300 ms after that answer: watches started
    // together spread out instead of queueing again every interval.
    assert_eq!(script.poll_times(), [MS(300), MS(1900), MS(3500)]);
}

#[tokio::test(start_paused = true)]
async fn a_long_queue_wait_at_most_doubles_the_delay() {
    let (script, _) = unchanged_then_timeout(Duration::ZERO);
    let options = exact(S(1), S(1)).timeout(MS(9000));
    let _: Vec<_> = watch(Queued(script.clone(), S(3)), options).collect().await;
    // 3 s in the queue, then 1 s + 1 s (the delay, and the wait capped at
    // the delay) before the next poll's own 3 s in the queue.
    assert_eq!(script.poll_times(), [S(3), S(8)]);
}

#[tokio::test(start_paused = true)]
async fn after_a_failure_the_delay_counts_from_the_failure() {
    let script = Script::new(vec![
        Step::Status(503, None),
        Step::Status(503, None),
        Step::Snap(snapshot("completed", 100, 0), None),
    ]);
    let items: Vec<_> = watch(Slow(script.clone(), MS(300)), exact(S(1), S(1)))
        .collect()
        .await;
    assert_eq!(script.poll_times(), [MS(0), MS(1300), MS(2600)]);
    assert_eq!(items.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn retry_after_counts_from_the_answer() {
    let script = Script::new(vec![
        Step::Status(429, Some(S(5))),
        Step::Snap(snapshot("completed", 100, 0), None),
    ]);
    let _: Vec<_> = watch(Slow(script.clone(), MS(300)), exact(S(1), S(1)))
        .collect()
        .await;
    assert_eq!(script.poll_times(), [MS(0), MS(5300)]);
}

#[test]
fn a_watch_holds_no_request_while_it_sleeps() {
    // The request in flight is boxed only while it is: a watch between
    // polls is its own state plus a timer. Printed by the watch load too.
    let client = JobsClient::new("http://127.0.0.1:1").unwrap();
    let stream = client.watch_job("job_1", WatchOptions::default());
    let request = client.execute(Operation::Get, "job_1", None, Retries::Off);
    let (stream_size, request_size) = (
        std::mem::size_of_val(&stream),
        std::mem::size_of_val(&request),
    );
    assert!(
        stream_size < request_size,
        "watch stream {stream_size} B, one request {request_size} B"
    );
    assert!(stream_size <= 800, "watch stream {stream_size} B");
}

/// A poller with event streams: each opening answers the next scripted
/// stream (its events, then closed), recording the `Last-Event-ID` sent;
/// polls answer as `Script` does.
#[derive(Clone, Default)]
struct Streams {
    script: Script,
    streams: Arc<Mutex<VecDeque<ScriptedStream>>>,
    /// Virtual time and `Last-Event-ID` of each opening.
    opened: PollLog,
}

enum ScriptedStream {
    Events(Vec<Result<push::RawEvent, JobsError>>),
    NotOffered,
    Refused(u16),
}

fn job_event(id: &str, status: &str, progress: u32) -> Result<push::RawEvent, JobsError> {
    Ok(push::RawEvent {
        name: "job".into(),
        id: id.into(),
        data: serde_json::to_string(&snapshot(status, progress, 0)).unwrap(),
    })
}

fn end_event(reason: &str) -> Result<push::RawEvent, JobsError> {
    Ok(push::RawEvent {
        name: "end".into(),
        id: "end".into(),
        data: json!({"jobId": "job_1", "reason": reason, "timestamp": "2024-01-01T00:00:00.000Z"})
            .to_string(),
    })
}

impl Streams {
    fn new(streams: Vec<ScriptedStream>, polls: Vec<Step>) -> Self {
        Self {
            script: Script::new(polls),
            streams: Arc::new(Mutex::new(streams.into())),
            opened: PollLog::default(),
        }
    }

    fn openings(&self) -> Vec<(Duration, Option<String>)> {
        self.opened.lock().unwrap().clone()
    }
}

impl Poller for Streams {
    async fn poll(
        &self,
        etag: Option<HeaderValue>,
        queued: &mut Duration,
    ) -> Result<Polled, Failure> {
        self.script.poll(etag, queued).await
    }

    async fn open_stream(
        &self,
        last_event_id: Option<&str>,
        _wait_for_place: bool,
        _idle: Duration,
    ) -> Result<StreamOpen, Failure> {
        let started = self.script.started.lock().unwrap().unwrap();
        self.opened
            .lock()
            .unwrap()
            .push((started.elapsed(), last_event_id.map(str::to_owned)));
        // An exhausted script offers no stream.
        let next = self.streams.lock().unwrap().pop_front();
        match next.unwrap_or(ScriptedStream::NotOffered) {
            ScriptedStream::Events(events) => Ok(StreamOpen::Open(JobEvents::from_events(
                "job_1",
                futures_util::stream::iter(events),
            ))),
            ScriptedStream::NotOffered => Ok(StreamOpen::NotOffered(404)),
            ScriptedStream::Refused(status) => Err(Failure {
                error: JobsError::from_status(status, br#"{"error":"scripted"}"#, None),
                retry_after: None,
            }),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn pushed_states_are_items_and_a_closed_stream_reopens_from_its_last_id() {
    let streams = Streams::new(
        vec![
            ScriptedStream::Events(vec![
                job_event("a", "active", 10),
                job_event("b", "active", 10),
                job_event("c", "active", 30),
            ]),
            ScriptedStream::Events(vec![
                job_event("c", "active", 30),
                job_event("d", "completed", 100),
                end_event("completed"),
            ]),
        ],
        vec![],
    );
    let items: Vec<_> = watch(streams.clone(), exact(S(1), S(5))).collect().await;
    let progress: Vec<_> = items
        .iter()
        .map(|i| i.as_ref().unwrap().job.progress.unwrap())
        .collect();
    assert_eq!(
        progress,
        [10.0, 30.0, 100.0],
        "unchanged states are no items"
    );
    let openings = streams.openings();
    assert_eq!(openings.len(), 2);
    assert_eq!(openings[0].1, None);
    assert_eq!(openings[1].1.as_deref(), Some("c"), "Last-Event-ID");
    // The first stream lived no time: the second waited the schedule's
    // delay (the interval backed off once), not a moment.
    assert_eq!(openings[1].0, MS(1500));
    assert!(streams.script.poll_times().is_empty(), "never polled");
}

#[tokio::test(start_paused = true)]
async fn a_removed_job_ends_the_watch_as_a_404_would() {
    let streams = Streams::new(
        vec![ScriptedStream::Events(vec![
            job_event("a", "active", 10),
            end_event("removed"),
        ])],
        vec![],
    );
    let items: Vec<_> = watch(streams, exact(S(1), S(5))).collect().await;
    assert_eq!(items.len(), 2);
    assert!(matches!(&items[1], Err(JobsError::NotFound(api)) if api.status == 404));
}

#[tokio::test(start_paused = true)]
async fn an_error_after_events_is_yielded_and_the_stream_reopened_on_the_schedule() {
    let reset = || {
        Err(JobsError::Timeout {
            after: S(45),
            source: "scripted".into(),
        })
    };
    let streams = Streams::new(
        vec![
            ScriptedStream::Events(vec![job_event("a", "active", 10), reset()]),
            ScriptedStream::Events(vec![job_event("b", "completed", 100)]),
        ],
        vec![],
    );
    let items: Vec<_> = watch(streams.clone(), exact(S(1), S(5))).collect().await;
    assert!(items[0].is_ok());
    assert!(matches!(items[1], Err(JobsError::Timeout { .. })));
    assert_eq!(items[2].as_ref().unwrap().job.status, JobState::Completed);
    let times: Vec<_> = streams.openings().iter().map(|(t, _)| *t).collect();
    assert_eq!(
        times,
        [S(0), MS(1500)],
        "after a failure, the backed-off delay"
    );
}

#[tokio::test(start_paused = true)]
async fn streams_that_keep_failing_before_their_first_event_make_auto_poll() {
    let streams = Streams::new(
        vec![
            ScriptedStream::Events(vec![]),
            ScriptedStream::Refused(503),
            ScriptedStream::Events(vec![]),
        ],
        vec![
            Step::Snap(snapshot("active", 10, 0), None),
            Step::Snap(snapshot("active", 20, 0), None),
            Step::Snap(snapshot("active", 30, 0), None),
            Step::Snap(snapshot("completed", 100, 0), None),
        ],
    );
    let items: Vec<_> = watch(streams.clone(), exact(S(1), S(5))).collect().await;
    assert!(
        items.iter().all(Result::is_ok),
        "no error of the watch's: {items:?}"
    );
    assert_eq!(items.len(), 4);
    assert_eq!(streams.openings().len(), 3, "then polling for good");
    assert_eq!(streams.script.poll_times().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn push_only_ends_on_a_server_without_streams_and_poll_never_opens_one() {
    let streams = Streams::new(vec![ScriptedStream::NotOffered], vec![]);
    let options = exact(S(1), S(5)).transport(WatchTransport::Push);
    let items: Vec<_> = watch(streams, options).collect().await;
    assert!(matches!(
        items[..],
        [Err(JobsError::PushNotOffered { status: 404 })]
    ));

    let streams = Streams::new(
        vec![ScriptedStream::Events(vec![job_event("a", "active", 1)])],
        vec![Step::Snap(snapshot("completed", 100, 0), None)],
    );
    let options = exact(S(1), S(5)).transport(WatchTransport::Poll);
    let items: Vec<_> = watch(streams.clone(), options).collect().await;
    assert_eq!(items.len(), 1);
    assert!(streams.openings().is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_deadline_holds_while_a_stream_is_silent() {
    let streams = Streams::new(vec![], vec![]);
    // A stream that never says anything (and never ends).
    struct Silent(Streams);
    impl Poller for Silent {
        async fn poll(&self, e: Option<HeaderValue>, q: &mut Duration) -> Result<Polled, Failure> {
            self.0.poll(e, q).await
        }
        async fn open_stream(
            &self,
            _: Option<&str>,
            _: bool,
            _: Duration,
        ) -> Result<StreamOpen, Failure> {
            Ok(StreamOpen::Open(JobEvents::from_events(
                "job_1",
                futures_util::stream::pending(),
            )))
        }
    }
    let started = Instant::now();
    let items: Vec<_> = watch(Silent(streams), exact(S(1), S(5)).timeout(S(7)))
        .collect()
        .await;
    assert_eq!(started.elapsed(), S(7));
    assert!(matches!(items[..], [Err(JobsError::WaitTimeout { .. })]));
}
