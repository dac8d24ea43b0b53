//! Change notifications for a job's watchers. A watcher learns *that* its
//! job changed (or is gone), not what changed: it reads the job again, so a
//! slow watcher gets the latest state and never a backlog of changes.
//! One `tokio::sync::watch` channel per watched job, made on the first
//! subscription and dropped once nobody watches or the job is removed.

use tokio::sync::watch;

use super::Engine;

/// The changes of one job, from [`Engine::subscribe`].
#[derive(Debug, Clone)]
pub struct JobChanges {
    receiver: watch::Receiver<u64>,
}

/// The job was removed (cancelled, deleted, cleared): no change will come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the job was removed")]
pub struct JobGone;

impl JobChanges {
    /// Waits until the job changes after the last change this watcher saw
    /// (or after it subscribed). Many changes in between are one: read the
    /// job again for its state.
    ///
    /// # Errors
    ///
    /// [`JobGone`] once the job is removed.
    pub async fn changed(&mut self) -> Result<(), JobGone> {
        self.receiver.changed().await.map_err(|_| JobGone)?;
        self.receiver.borrow_and_update();
        Ok(())
    }

    /// The job's revision at the last change this watcher saw: the number
    /// in its `ETag`, increasing with every change.
    pub fn revision(&self) -> u64 {
        *self.receiver.borrow()
    }
}

impl Engine {
    /// The changes of job `id` from now on; `None` for an unknown job.
    pub fn subscribe(&mut self, id: &str) -> Option<JobChanges> {
        let revision = self.jobs.get(id)?.revision;
        let sender = self
            .change_senders
            .entry(id.to_owned())
            .or_insert_with(|| watch::Sender::new(revision));
        Some(JobChanges {
            receiver: sender.subscribe(),
        })
    }

    /// Job `id` is now at `revision`: its watchers, if any, learn it. A
    /// channel nobody listens to any more goes.
    pub(super) fn notify_changed(&mut self, id: &str, revision: u64) {
        if let Some(sender) = self.change_senders.get(id) {
            if sender.receiver_count() == 0 {
                self.change_senders.remove(id);
            } else {
                sender.send_replace(revision);
            }
        }
    }

    /// Job `id` is gone: its watchers learn it ([`JobGone`]).
    pub(super) fn notify_removed(&mut self, id: &str) {
        // Dropping the sender closes every receiver.
        self.change_senders.remove(id);
    }

    /// Whether the server offers a job's event stream
    /// (`GET /api/jobs/{jobId}/events`; default: yes).
    pub fn push_enabled(&self) -> bool {
        *self.push.borrow()
    }

    /// Offers the event stream or not from now on. Turned off, the stream
    /// answers as a server without it (404, no route) and the streams open
    /// close without an `end` event: their clients reconnect, find no
    /// stream and fall back to polling, as against an older deployment.
    pub fn set_push(&mut self, enabled: bool) {
        self.push.send_replace(enabled);
    }

    /// Follows [`push_enabled`](Self::push_enabled) (what a stream's task
    /// watches to close when push is turned off).
    pub fn push_switch(&self) -> watch::Receiver<bool> {
        self.push.subscribe()
    }

    /// How many jobs have a channel (for tests: none is kept for nobody).
    #[cfg(test)]
    pub(crate) fn watched_jobs(&self) -> usize {
        self.change_senders.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use jobs_sdk::{JobAction, JobState};

    use super::*;
    use crate::ManualClock;
    use crate::engine::{EngineConfig, JobBuilder};

    fn engine() -> Engine {
        let clock = ManualClock::at("2024-01-01T00:00:00Z".parse().expect("time"));
        let mut engine = Engine::new(Arc::new(clock), EngineConfig::default());
        for id in ["a", "b"] {
            engine
                .insert(JobBuilder::new(id).status(JobState::Active))
                .expect("insert");
        }
        engine
    }

    /// Whether `changes` has a change (or the end) to report now.
    async fn ready(changes: &mut JobChanges) -> Option<Result<(), JobGone>> {
        tokio::time::timeout(Duration::from_millis(1), changes.changed())
            .await
            .ok()
    }

    #[tokio::test(start_paused = true)]
    async fn a_watcher_learns_of_each_burst_of_changes_once_with_the_latest_revision() {
        let mut engine = engine();
        assert!(engine.subscribe("nope").is_none());
        let mut changes = engine.subscribe("a").expect("a job");
        let mut other = engine.subscribe("b").expect("b job");
        assert_eq!(ready(&mut changes).await, None, "nothing changed yet");

        engine.report_progress("a", 10.0).expect("progress");
        engine.report_progress("a", 20.0).expect("progress");
        engine.append_log("a", "step").expect("log");
        assert_eq!(ready(&mut changes).await, Some(Ok(())));
        assert_eq!(
            ready(&mut changes).await,
            None,
            "coalesced: one change to read"
        );
        let etag = engine.get("a").expect("a").etag;
        assert!(
            etag.ends_with(&format!("-{:x}\"", changes.revision())),
            "{etag}"
        );
        assert_eq!(
            ready(&mut other).await,
            None,
            "another job's watcher hears nothing"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_removed_job_ends_its_watchers_and_no_channel_outlives_its_watchers() {
        let mut engine = engine();
        let mut changes = engine.subscribe("a").expect("a job");
        let copy = changes.clone();
        engine.apply("a", JobAction::Cancel).expect("cancel");
        assert_eq!(ready(&mut changes).await, Some(Err(JobGone)));
        drop((changes, copy));

        let watcher = engine.subscribe("b").expect("b job");
        assert_eq!(engine.watched_jobs(), 1);
        drop(watcher);
        engine.report_progress("b", 5.0).expect("progress");
        assert_eq!(engine.watched_jobs(), 0, "dropped with its last watcher");

        let mut watcher = engine.subscribe("b").expect("b job");
        engine.clear();
        assert_eq!(ready(&mut watcher).await, Some(Err(JobGone)));
    }
}
