//! A job's changes fanned out to its watchers (the event stream,
//! `GET /api/jobs/{jobId}/events`): [`JobFeed`].
//!
//! A store that offers push keeps one `JobFeed`. Whatever learns that a job
//! changed (BullMQ's events stream in `jobs-server`, the engine in the stub,
//! the store's own actions) calls [`JobFeed::refresh`] with a way to read
//! the job: the job is read **once per change, whatever the number of its
//! watchers**, and only while someone watches it. Each watcher holds a
//! [`JobUpdates`], a `tokio::sync::watch` receiver: it sees the latest
//! state, never a backlog, however slowly it reads.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::store::{Snapshot, StoreError};

/// What a watcher of one job learns.
#[derive(Debug, Clone)]
pub enum JobUpdate {
    /// The job as `GET` answers it now.
    Changed(Arc<Snapshot>),
    /// No job has this id any more (cancelled, removed, cleaned).
    Gone,
    /// The store could not read the job after a change: the watcher cannot
    /// know its state (the event stream closes, and its client reconnects).
    Failed,
}

/// Coalesces reads of one job: while a read runs, further changes ask for
/// one more read after it, never one each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refresh {
    Idle,
    Running,
    /// Running, and changed again since the read began.
    Again,
}

#[derive(Debug)]
struct Slot {
    sender: watch::Sender<Option<JobUpdate>>,
    refresh: Refresh,
}

/// The watched jobs of one store and their watchers. Cheap to clone:
/// clones share the registry.
#[derive(Debug, Clone, Default)]
pub struct JobFeed(Arc<Mutex<HashMap<Arc<str>, Slot>>>);

impl JobFeed {
    /// An empty feed.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, Slot>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Watches job `id` from now on: the updates published after this
    /// call. The watcher reads the job's current state itself.
    pub fn subscribe(&self, id: &str) -> JobUpdates {
        let mut jobs = self.lock();
        let (id, receiver, first) = match jobs.get_key_value(id) {
            Some((key, slot)) => (Arc::clone(key), slot.sender.subscribe(), false),
            None => {
                let (sender, receiver) = watch::channel(None);
                let key: Arc<str> = Arc::from(id);
                jobs.insert(
                    Arc::clone(&key),
                    Slot {
                        sender,
                        refresh: Refresh::Idle,
                    },
                );
                (key, receiver, true)
            }
        };
        JobUpdates {
            id,
            receiver,
            first,
            feed: self.clone(),
        }
    }

    /// Resolves once nobody watches job `id` (at once if nobody does): a
    /// store that follows each watched job on its own ends there.
    pub async fn until_unwatched(&self, id: &str) {
        let sender = self.lock().get(id).map(|slot| slot.sender.clone());
        if let Some(sender) = sender {
            sender.closed().await;
        }
    }

    /// Whether anyone watches job `id`.
    pub fn is_watched(&self, id: &str) -> bool {
        self.lock().contains_key(id)
    }

    /// The ids of the watched jobs (for a store that must re-read them all,
    /// after its change source was interrupted).
    pub fn watched(&self) -> Vec<String> {
        self.lock().keys().map(|id| id.to_string()).collect()
    }

    /// Open watches, over all jobs.
    pub fn watchers(&self) -> usize {
        self.lock()
            .values()
            .map(|slot| slot.sender.receiver_count())
            .sum()
    }

    /// Job `id` changed: reads it with `read` and publishes what it is to
    /// its watchers. Does nothing when nobody watches it. When a read of
    /// the job is already running, returns at once and that read is
    /// followed by one more (changes during a read are coalesced).
    ///
    /// A state equal to the one published last (the same `ETag`: only the
    /// queue's counters moved) is not published again.
    pub async fn refresh<F, Fut>(&self, id: &str, mut read: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<Snapshot>, StoreError>>,
    {
        {
            let mut jobs = self.lock();
            let Some(slot) = jobs.get_mut(id) else {
                return;
            };
            match slot.refresh {
                Refresh::Idle => slot.refresh = Refresh::Running,
                Refresh::Running | Refresh::Again => {
                    slot.refresh = Refresh::Again;
                    return;
                }
            }
        }
        loop {
            let update = match read().await {
                Ok(Some(snapshot)) => JobUpdate::Changed(Arc::new(snapshot)),
                Ok(None) => JobUpdate::Gone,
                Err(error) => {
                    tracing::debug!(%error, "could not read a watched job after a change");
                    JobUpdate::Failed
                }
            };
            let mut jobs = self.lock();
            let Some(slot) = jobs.get_mut(id) else {
                return;
            };
            publish(slot, update);
            if slot.refresh == Refresh::Again {
                slot.refresh = Refresh::Running;
            } else {
                slot.refresh = Refresh::Idle;
                return;
            }
        }
    }

    /// Publishes `update` for job `id` without reading it (a store that
    /// knows the job is gone, say). Nothing happens if nobody watches it.
    pub fn publish(&self, id: &str, update: JobUpdate) {
        if let Some(slot) = self.lock().get_mut(id) {
            publish(slot, update);
        }
    }

    /// The last watcher of `id` went away: the slot goes too.
    fn unsubscribed(&self, id: &str) {
        let mut jobs = self.lock();
        // Under the lock, so no subscriber can arrive between the count and
        // the removal. The dropping receiver is still counted.
        if jobs
            .get(id)
            .is_some_and(|slot| slot.sender.receiver_count() <= 1)
        {
            jobs.remove(id);
        }
    }
}

fn publish(slot: &mut Slot, update: JobUpdate) {
    slot.sender.send_if_modified(|current| {
        let same = match (&*current, &update) {
            (Some(JobUpdate::Changed(old)), JobUpdate::Changed(new)) => old.etag == new.etag,
            (Some(JobUpdate::Gone), JobUpdate::Gone) => true,
            _ => false,
        };
        if !same {
            *current = Some(update);
        }
        !same
    });
}

/// One watcher's view of a job's changes ([`JobFeed::subscribe`]).
#[derive(Debug)]
pub struct JobUpdates {
    id: Arc<str>,
    receiver: watch::Receiver<Option<JobUpdate>>,
    first: bool,
    feed: JobFeed,
}

impl JobUpdates {
    /// The watched job's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether this watcher made the job watched: nobody watched it just
    /// before (a store that follows each watched job starts here).
    pub fn is_first(&self) -> bool {
        self.first
    }

    /// Waits for the next update and returns the latest one (updates
    /// published meanwhile are skipped: the state, not its history).
    pub async fn next(&mut self) -> JobUpdate {
        loop {
            // The feed holds the sender while a receiver exists, so
            // `changed` cannot fail; were it to, the job is unknown.
            if self.receiver.changed().await.is_err() {
                return JobUpdate::Failed;
            }
            if let Some(update) = self.receiver.borrow_and_update().clone() {
                return update;
            }
        }
    }
}

impl Drop for JobUpdates {
    fn drop(&mut self) {
        self.feed.unsubscribed(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jobs_sdk::{Job, JobData, JobState, JobStatusResponse, JobType, QueueStats};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn snapshot(etag: &str) -> Snapshot {
        let job = Job::new(
            "j",
            JobType::SinglePage,
            JobState::Active,
            JobData::default(),
            chrono::Utc::now(),
        );
        Snapshot {
            response: JobStatusResponse::new(job, QueueStats::new(0, 1, 0, 0), chrono::Utc::now()),
            etag: etag.to_owned(),
        }
    }

    fn etag_of(update: &JobUpdate) -> Option<&str> {
        match update {
            JobUpdate::Changed(snapshot) => Some(&snapshot.etag),
            _ => None,
        }
    }

    #[tokio::test]
    async fn one_read_per_change_whatever_the_number_of_watchers() {
        let feed = JobFeed::new();
        let mut watchers: Vec<_> = (0..100).map(|_| feed.subscribe("j")).collect();
        assert_eq!(feed.watchers(), 100);
        let reads = AtomicUsize::new(0);
        feed.refresh("j", || async {
            reads.fetch_add(1, Ordering::SeqCst);
            Ok(Some(snapshot("W/\"1\"")))
        })
        .await;
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        for watcher in &mut watchers {
            assert_eq!(etag_of(&watcher.next().await), Some("W/\"1\""));
        }
    }

    #[tokio::test]
    async fn an_unwatched_job_is_never_read_and_the_last_watcher_frees_its_slot() {
        let feed = JobFeed::new();
        feed.refresh("j", || async { panic!("read without a watcher") })
            .await;
        let first = feed.subscribe("j");
        let second = feed.subscribe("j");
        assert!(first.is_first() && !second.is_first());
        assert_eq!(feed.watched(), ["j"]);
        let unwatched = tokio::spawn({
            let feed = feed.clone();
            async move { feed.until_unwatched("j").await }
        });
        drop(first);
        assert!(feed.is_watched("j"));
        tokio::task::yield_now().await;
        assert!(!unwatched.is_finished());
        drop(second);
        assert!(!feed.is_watched("j"));
        assert_eq!(feed.watchers(), 0);
        unwatched.await.unwrap();
        assert!(feed.subscribe("j").is_first(), "watched anew");
    }

    #[tokio::test]
    async fn a_slow_watcher_gets_the_latest_state_not_a_backlog() {
        let feed = JobFeed::new();
        let mut watcher = feed.subscribe("j");
        for n in 0..50 {
            let etag = format!("W/\"{n}\"");
            feed.refresh("j", || {
                let etag = etag.clone();
                async move { Ok(Some(snapshot(&etag))) }
            })
            .await;
        }
        assert_eq!(etag_of(&watcher.next().await), Some("W/\"49\""));
        feed.publish("j", JobUpdate::Gone);
        assert!(matches!(watcher.next().await, JobUpdate::Gone));
    }

    #[tokio::test]
    async fn the_same_state_is_not_published_twice() {
        let feed = JobFeed::new();
        let mut watcher = feed.subscribe("j");
        for _ in 0..3 {
            feed.refresh("j", || async { Ok(Some(snapshot("W/\"same\""))) })
                .await;
        }
        assert!(etag_of(&watcher.next().await).is_some());
        let again = tokio::time::timeout(std::time::Duration::from_millis(20), watcher.next());
        assert!(again.await.is_err(), "no second update for the same ETag");
    }

    #[tokio::test(start_paused = true)]
    async fn changes_during_a_read_are_coalesced_into_one_more_read() {
        let feed = JobFeed::new();
        let mut watcher = feed.subscribe("j");
        let reads = Arc::new(AtomicUsize::new(0));
        let read = {
            let reads = Arc::clone(&reads);
            move || {
                let n = reads.fetch_add(1, Ordering::SeqCst);
                async move {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    Ok(Some(snapshot(&format!("W/\"{n}\""))))
                }
            }
        };
        let first = tokio::spawn({
            let feed = feed.clone();
            let read = read.clone();
            async move { feed.refresh("j", read).await }
        });
        tokio::task::yield_now().await;
        // Ten changes while the first read runs: each returns at once.
        for _ in 0..10 {
            feed.refresh("j", read.clone()).await;
        }
        first.await.unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 2, "one read, then one more");
        assert_eq!(etag_of(&watcher.next().await), Some("W/\"1\""));
    }

    #[tokio::test]
    async fn a_failed_read_is_published() {
        let feed = JobFeed::new();
        let mut watcher = feed.subscribe("j");
        feed.refresh("j", || async {
            Err(StoreError::Unavailable("down".into()))
        })
        .await;
        assert!(matches!(watcher.next().await, JobUpdate::Failed));
    }
}
