//! The stub's engine as a [`JobStore`], so the shared public API
//! (`jobs_http`) answers from it.

use std::time::Duration;

use jobs_http::feed::{JobFeed, JobUpdate, JobUpdates};
use jobs_http::store::{ActionOutcome, JobStore, Snapshot, StoreError, StoreFuture};
use jobs_sdk::{JobAction, JobState, UpdatedJob};

use crate::engine::{
    Acknowledgement, ActionError, AuditOperation, ControlRequest, DeleteError, JobChanges,
    SharedEngine,
};

/// Default [`EngineStore::control_timeout`]: 5 s, as `jobs-server`'s.
pub use jobs_http::DEFAULT_CONTROL_TIMEOUT;

/// [`SharedEngine`] behind the contract's operations. The engine answers at
/// once, except a pause or cancel of a running job while the simulated
/// workers do not acknowledge at once ([`Acknowledgement`]): that waits up
/// to [`control_timeout`](Self::control_timeout) for the worker.
///
/// It offers push: a job's event stream follows the engine's changes
/// ([`crate::engine::Engine::subscribe`]), reading the job once per change
/// for all its streams, unless [`crate::engine::Engine::set_push`] turned
/// it off.
#[derive(Debug, Clone)]
pub struct EngineStore {
    engine: SharedEngine,
    control_timeout: Duration,
    feed: JobFeed,
}

impl EngineStore {
    /// The contract over `engine`, waiting [`DEFAULT_CONTROL_TIMEOUT`] for
    /// a running job's worker.
    pub fn new(engine: SharedEngine) -> Self {
        Self {
            engine,
            control_timeout: DEFAULT_CONTROL_TIMEOUT,
            feed: JobFeed::new(),
        }
    }

    /// Open event-stream watches, over all jobs.
    pub fn watchers(&self) -> usize {
        self.feed.watchers()
    }

    /// Waits up to `timeout` for a running job's worker to settle a pause
    /// or cancel; past it the answer is 202 and the request stays in force.
    #[must_use]
    pub fn with_control_timeout(mut self, timeout: Duration) -> Self {
        self.control_timeout = timeout;
        self
    }

    /// How long a pause or cancel of a running job waits for its worker.
    pub fn control_timeout(&self) -> Duration {
        self.control_timeout
    }

    /// The outcome of `request` on job `id`: the worker's (after its
    /// acknowledgement delay), the job's own end, or 202 past the bound.
    async fn await_worker(&self, id: &str, request: ControlRequest) -> ActionOutcome {
        let ControlRequest {
            pending,
            acknowledgement,
            mut outcome,
            ..
        } = request;
        if let Acknowledgement::Delayed { delay_ms } = acknowledgement {
            let engine = self.engine.clone();
            let (id, at) = (id.to_owned(), pending.requested_at);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                engine.lock().acknowledge(&id, at);
            });
        }
        let settled = match tokio::time::timeout(self.control_timeout, &mut outcome).await {
            Ok(settled) => settled.ok(),
            Err(_) => {
                let still = self
                    .engine
                    .lock()
                    .request_timed_out(id, pending.requested_at);
                match still {
                    Some(status) => {
                        return ActionOutcome::Pending {
                            status,
                            action: pending.action,
                            requested_at: pending.requested_at,
                        };
                    }
                    // Settled between the bound and the lock.
                    None => outcome.try_recv().ok(),
                }
            }
        };
        match settled {
            Some(Ok(updated)) => applied(updated, Some(JobState::Active)),
            Some(Err(ActionError::NotAllowed {
                status, details, ..
            })) => ActionOutcome::Refused { status, details },
            _ => ActionOutcome::Missing,
        }
    }

    /// A `PUT` (or, with `operation` Delete, a `DELETE`) as far as the
    /// engine answers at once: the outcome, or a running job's request to
    /// wait on.
    fn act(
        &self,
        id: &str,
        action: JobAction,
        operation: AuditOperation,
        client: Option<&str>,
    ) -> Step {
        let mut engine = self.engine.lock();
        let outcome = match engine.request_control(id, action, operation, client) {
            Some(Ok(request)) => return Step::Wait(request),
            Some(Err(error)) => Err(error),
            None if operation == AuditOperation::Delete => {
                return Step::Done(match engine.delete_as(id, client) {
                    Ok(at) => ActionOutcome::Applied {
                        from: None,
                        to: JobState::Cancelled,
                        at,
                    },
                    Err(DeleteError::NotCancellable { status, details }) => {
                        ActionOutcome::Refused { status, details }
                    }
                    Err(DeleteError::NotFound) => ActionOutcome::Missing,
                });
            }
            None => engine.apply_as(id, action, client),
        };
        Step::Done(match outcome {
            Ok(updated) => applied(updated, None),
            Err(ActionError::NotAllowed {
                status, details, ..
            }) => ActionOutcome::Refused { status, details },
            Err(ActionError::NotFound) => ActionOutcome::Missing,
        })
    }

    async fn act_and_wait(
        &self,
        id: &str,
        action: JobAction,
        operation: AuditOperation,
        client: Option<&str>,
    ) -> ActionOutcome {
        match self.act(id, action, operation, client) {
            Step::Done(outcome) => outcome,
            Step::Wait(request) => self.await_worker(id, request).await,
        }
    }
}

/// What the engine answered at once.
enum Step {
    Done(ActionOutcome),
    Wait(ControlRequest),
}

/// The job as `GET` answers it, read under one lock.
fn snapshot(engine: &SharedEngine, id: &str) -> Option<Snapshot> {
    engine.get(id).map(|snapshot| {
        let etag = snapshot.etag.clone();
        Snapshot {
            response: snapshot.into_response(),
            etag,
        }
    })
}

/// Follows job `id` for its watchers until nobody watches it: each change
/// is read once and published; removal publishes `Gone`; push turned off
/// publishes `Failed` (the streams close, and their clients fall back).
/// `changes` and `push` were subscribed before the watcher read the job, so
/// no change after that read is missed.
async fn follow(
    engine: SharedEngine,
    feed: JobFeed,
    id: String,
    mut changes: JobChanges,
    mut push: tokio::sync::watch::Receiver<bool>,
) {
    let read = || std::future::ready(Ok::<_, StoreError>(snapshot(&engine, &id)));
    // This slot's watchers: a later watcher of the same id, after them,
    // has a follower of its own.
    let unwatched = feed.until_unwatched(&id);
    let mut unwatched = std::pin::pin!(unwatched);
    loop {
        tokio::select! {
            changed = changes.changed() => match changed {
                Ok(()) => feed.refresh(&id, read).await,
                Err(_gone) => {
                    feed.publish(&id, JobUpdate::Gone);
                    return;
                }
            },
            () = async { push.wait_for(|enabled| !*enabled).await.map_or((), drop) } => {
                feed.publish(&id, JobUpdate::Failed);
                return;
            }
            () = &mut unwatched => return,
        }
    }
}

fn applied(updated: UpdatedJob, from: Option<JobState>) -> ActionOutcome {
    ActionOutcome::Applied {
        from,
        to: updated.status,
        at: updated.updated_at,
    }
}

impl JobStore for EngineStore {
    fn get_job<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Snapshot>> {
        // One lock: the job, its ETag and the counters are one snapshot.
        Box::pin(std::future::ready(Ok(snapshot(&self.engine, id))))
    }

    fn update_job<'a>(
        &'a self,
        id: &'a str,
        action: JobAction,
        client: Option<&'a str>,
    ) -> StoreFuture<'a, ActionOutcome> {
        Box::pin(async move {
            Ok(self
                .act_and_wait(id, action, AuditOperation::from(action), client)
                .await)
        })
    }

    fn delete_job<'a>(
        &'a self,
        id: &'a str,
        client: Option<&'a str>,
    ) -> StoreFuture<'a, ActionOutcome> {
        Box::pin(async move {
            Ok(self
                .act_and_wait(id, JobAction::Cancel, AuditOperation::Delete, client)
                .await)
        })
    }

    fn health(&self) -> StoreFuture<'_, ()> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn watch(&self, id: &str) -> Option<JobUpdates> {
        if !self.engine.push_enabled() {
            return None;
        }
        let updates = self.feed.subscribe(id);
        if updates.is_first() {
            let (changes, push) = {
                let mut engine = self.engine.lock();
                (engine.subscribe(id), engine.push_switch())
            };
            // An unknown job has no changes: its stream answers 404.
            if let Some(changes) = changes {
                tokio::spawn(follow(
                    self.engine.clone(),
                    self.feed.clone(),
                    id.to_owned(),
                    changes,
                    push,
                ));
            }
        }
        Some(updates)
    }
}

#[cfg(test)]
mod tests {
    /// The GET body of job `id`, as the handler writes it.
    fn get_body(engine: &crate::engine::Engine, id: &str) -> String {
        serde_json::to_string(&engine.get(id).unwrap().into_response()).unwrap()
    }

    /// A job with every part (metadata, extras, logs, metrics,
    /// returnvalue) comes back from a GET as it was stored: key order,
    /// escapes, non-ASCII, nested values.
    #[test]
    fn get_body_of_a_job_with_every_part_loses_nothing() {
        use jobs_sdk::{Job, JobData, JobMetrics, JobState, JobType};
        use serde_json::json;

        let clock = crate::ManualClock::at("2024-01-01T00:05:00.123Z".parse().unwrap());
        let mut engine = crate::engine::Engine::new(std::sync::Arc::new(clock), Default::default());
        let mut data = JobData::default();
        data.url = Some("https://example.com/ü?q=\"x\"".into());
        data.customer_id = Some("客户-7\n".into());
        data.metadata = json!({"source": "api", "priority": "high", "zeta": {"b": 1, "a": [1.5, -2, null]}, "emoji": "🚀\u{1}"})
            .as_object()
            .cloned();
        data.total_pages = Some(20);
        data.processed_pages = Some(15);
        data.extra
            .insert("tenant".into(), json!({"region": "eu-west", "tier": 3}));
        data.extra.insert("Ähnlich".into(), json!("\u{2028}"));
        let mut metrics = JobMetrics::default();
        metrics.processing_time = Some(4500);
        metrics.memory_usage = Some("120MB".into());
        metrics.extra.insert("cpu".into(), json!(0.75));
        let mut job = Job::new(
            "job_ünïcode",
            JobType::from("pdf-export"),
            JobState::Failed,
            data,
            "2024-01-01T00:00:00Z".parse().unwrap(),
        );
        job.url = Some("https://example.com/other".into());
        job.progress = Some(62.5);
        job.started_at = Some("2024-01-01T00:01:00.5Z".parse().unwrap());
        job.finished_at = Some("2024-01-01T00:02:00Z".parse().unwrap());
        job.processed_on = Some("worker-node-1".into());
        job.attempts_made = 3;
        job.failed_reason = Some("Timeout \"after\" 30s\t✗".into());
        job.returnvalue = Some(json!({"partial": true, "pages": [1, 2, 3]}));
        job.logs = Some(vec!["line \"one\"".into(), "línea 2 🚀".into()]);
        job.metrics = Some(metrics);
        engine
            .insert(crate::engine::JobBuilder::from_job(job.clone()))
            .unwrap();
        engine.append_log("job_ünïcode", "one more").unwrap();

        let body = get_body(&engine, "job_ünïcode");
        let parsed: jobs_sdk::JobStatusResponse = serde_json::from_str(&body).unwrap();
        job.logs
            .as_mut()
            .unwrap()
            .push(parsed.job.logs.clone().unwrap()[2].clone());
        assert_eq!(parsed.job, job, "nothing lost on the way out");
        assert!(
            body.contains(
                r#""metadata":{"source":"api","priority":"high","zeta":{"b":1,"a":[1.5,-2,null]}"#
            ),
            "metadata keeps its key order: {body}"
        );
    }
}
