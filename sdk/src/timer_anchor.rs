//! One tokio timer kept pending per client, due before any request's
//! timeout, so that arming a request's timeout does not wake tokio's timer
//! driver.
//!
//! tokio wakes its parked timer driver whenever a timer is registered that
//! is due before every timer that was pending when the driver parked. A
//! client making one call at a time, with no other timer armed, paid that
//! wake-up on every call: an `eventfd` write and a context switch on the
//! other worker thread, about 10 % of a loopback `get_job` (measured with
//! `sdk-vs-reqwest --explain`, see `docs/benchmarks.md`). With this anchor
//! pending, due at most half a timeout from now, every request's timeout is
//! due after it and registers without waking anyone.
//!
//! The anchor is re-armed lazily by the calls themselves once it has fired,
//! so an idle client costs at most one more timer firing, never a periodic
//! wake-up, and no task is spawned.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Waker};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// See the [module docs](self).
#[derive(Default)]
pub(crate) struct TimerAnchor {
    sleep: Mutex<Option<Pin<Box<Sleep>>>>,
}

impl TimerAnchor {
    /// Makes sure a timer due before `now + timeout` is pending on the
    /// current runtime's driver, before a request arms its `timeout`.
    pub(crate) fn hold(&self, timeout: Duration) {
        // Contended: another call is re-arming it right now.
        let Ok(mut anchor) = self.sleep.try_lock() else {
            return;
        };
        let now = Instant::now();
        if anchor.as_ref().is_some_and(|sleep| sleep.deadline() > now) {
            return;
        }
        // Outside a tokio runtime there is no driver to spare (and creating
        // a timer would panic); reqwest reports that case itself. Checked
        // only here: it clones the runtime's handle.
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let Some(due) = now.checked_add(timeout / 2) else {
            return;
        };
        let mut sleep = Box::pin(tokio::time::sleep_until(due));
        // Polling once registers the timer; with a no-op waker its firing
        // wakes no one.
        let _ = sleep.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        *anchor = Some(sleep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_a_runtime_it_does_nothing() {
        let anchor = TimerAnchor::default();
        anchor.hold(Duration::from_secs(30));
        assert!(anchor.sleep.lock().unwrap().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn it_is_re_armed_only_once_it_has_fired() {
        let anchor = TimerAnchor::default();
        anchor.hold(Duration::from_secs(30));
        let first = anchor.sleep.lock().unwrap().as_ref().unwrap().deadline();
        assert_eq!(first, Instant::now() + Duration::from_secs(15));

        tokio::time::sleep(Duration::from_secs(10)).await;
        anchor.hold(Duration::from_secs(30));
        let same = anchor.sleep.lock().unwrap().as_ref().unwrap().deadline();
        assert_eq!(same, first, "still pending: kept");

        tokio::time::sleep(Duration::from_secs(5)).await;
        anchor.hold(Duration::from_secs(30));
        let next = anchor.sleep.lock().unwrap().as_ref().unwrap().deadline();
        assert_eq!(
            next,
            Instant::now() + Duration::from_secs(15),
            "fired: re-armed"
        );
    }

    #[test]
    fn an_anchor_outliving_its_runtime_is_replaced_and_dropped_safely() {
        // A client shared by two runtimes in turn (one per test, say).
        let anchor = TimerAnchor::default();
        let first = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        first.block_on(async { anchor.hold(Duration::from_millis(2)) });
        drop(first);
        std::thread::sleep(Duration::from_millis(5));
        let second = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_time()
            .build()
            .unwrap();
        second.block_on(async {
            anchor.hold(Duration::from_millis(2));
            assert!(anchor.sleep.lock().unwrap().as_ref().unwrap().deadline() > Instant::now());
        });
        drop(second);
        drop(anchor);
    }

    #[tokio::test(start_paused = true)]
    async fn a_huge_timeout_never_panics() {
        let anchor = TimerAnchor::default();
        anchor.hold(Duration::MAX);
        anchor.hold(Duration::ZERO);
    }
}
