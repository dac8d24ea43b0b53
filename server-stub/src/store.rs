//! The stub's engine as a [`JobStore`], so the shared public API
//! (`jobs_http`) answers from it.

use jobs_http::store::{ActionOutcome, JobStore, Snapshot, StoreFuture};
use jobs_sdk::JobAction;

use crate::engine::{ActionError, DeleteError, SharedEngine};

/// [`SharedEngine`] behind the contract's operations. The engine answers at
/// once: each future is ready when polled.
#[derive(Debug, Clone)]
pub struct EngineStore(pub SharedEngine);

impl JobStore for EngineStore {
    fn get_job<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<Snapshot>> {
        // One lock: the job, its ETag and the counters are one snapshot.
        let snapshot = self.0.get(id).map(|snapshot| {
            let etag = snapshot.etag.clone();
            Snapshot {
                response: snapshot.into_response(),
                etag,
            }
        });
        Box::pin(std::future::ready(Ok(snapshot)))
    }

    fn update_job<'a>(
        &'a self,
        id: &'a str,
        action: JobAction,
        client: Option<&'a str>,
    ) -> StoreFuture<'a, ActionOutcome> {
        let outcome = match self.0.lock().apply_as(id, action, client) {
            Ok(updated) => ActionOutcome::Applied {
                from: None,
                to: updated.status,
                at: updated.updated_at,
            },
            Err(ActionError::NotAllowed {
                status, details, ..
            }) => ActionOutcome::Refused { status, details },
            Err(ActionError::NotFound) => ActionOutcome::Missing,
        };
        Box::pin(std::future::ready(Ok(outcome)))
    }

    fn delete_job<'a>(
        &'a self,
        id: &'a str,
        client: Option<&'a str>,
    ) -> StoreFuture<'a, ActionOutcome> {
        let outcome = match self.0.lock().delete_as(id, client) {
            Ok(at) => ActionOutcome::Applied {
                from: None,
                to: jobs_sdk::JobState::Cancelled,
                at,
            },
            Err(DeleteError::NotCancellable { status, details }) => {
                ActionOutcome::Refused { status, details }
            }
            Err(DeleteError::NotFound) => ActionOutcome::Missing,
        };
        Box::pin(std::future::ready(Ok(outcome)))
    }

    fn health(&self) -> StoreFuture<'_, ()> {
        Box::pin(std::future::ready(Ok(())))
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
