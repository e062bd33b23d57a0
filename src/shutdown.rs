//! Graceful shutdown: the first SIGINT/SIGTERM asks running work to stop at the next safe
//! point (a batch is finished and committed, or abandoned before its commit); a second one
//! exits at once. Delta commits are atomic, so neither can leave a half commit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// A stop (or cancellation) request, the one way lakectl stops work: a hot loop polls
/// [`StopFlag::is_set`] (an atomic load), async code awaits [`StopFlag::stopped`]. Signals
/// set the process's flag; the scheduler gives each job run a flag of its own to cancel it.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    set: AtomicBool,
    notify: Notify,
}

impl StopFlag {
    /// A flag that is not set.
    pub fn new() -> Self {
        Self::default()
    }

    /// True once a stop was requested.
    pub fn is_set(&self) -> bool {
        self.0.set.load(Ordering::Acquire)
    }

    /// Requests a stop, waking every task awaiting [`Self::stopped`].
    pub fn set(&self) {
        self.0.set.store(true, Ordering::Release);
        self.0.notify.notify_waiters();
    }

    /// Completes once a stop was requested (at once if it already was).
    pub async fn stopped(&self) {
        loop {
            let notified = self.0.notify.notified();
            tokio::pin!(notified);
            // Registered before the check, so a `set` in between is not missed.
            notified.as_mut().enable();
            if self.is_set() {
                return;
            }
            notified.await;
        }
    }

    /// A flag of its own that is also set when this one is: lets a part of the work stop
    /// the rest of it (a failed stage its siblings) without stopping the whole process.
    pub fn child(&self) -> StopFlag {
        let (parent, child) = (self.clone(), StopFlag::new());
        let c = child.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = parent.stopped() => c.set(),
                _ = c.stopped() => {}
            }
        });
        child
    }

    /// Sleeps for `d`, or less when a stop is requested meanwhile. True if stopped.
    pub async fn sleep(&self, d: std::time::Duration) -> bool {
        tokio::select! {
            _ = self.stopped() => true,
            _ = tokio::time::sleep(d) => self.is_set(),
        }
    }
}

/// Installs the SIGINT/SIGTERM handlers (inside a tokio runtime) and returns the flag they set.
pub fn install() -> StopFlag {
    let flag = StopFlag::new();
    let f = flag.clone();
    tokio::spawn(async move {
        let mut count = 0;
        loop {
            wait_signal().await;
            count += 1;
            if count == 1 {
                // The flag first: nothing (a log line to a closed pipe) may stand between a
                // signal and the stop.
                f.set();
                tracing::warn!(
                    "stop requested: finishing the current batch (signal again to exit at once)"
                );
            } else {
                tracing::warn!("second signal: exiting now");
                std::process::exit(i32::from(crate::exit::INTERRUPTED));
            }
        }
    });
    flag
}

async fn wait_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn stopped_wakes_waiters_and_cuts_sleeps_short() {
        let f = StopFlag::new();
        let g = f.clone();
        let waiter = tokio::spawn(async move { g.sleep(Duration::from_secs(30)).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let t = std::time::Instant::now();
        f.set();
        assert!(waiter.await.unwrap(), "the sleep reports the stop");
        assert!(t.elapsed() < Duration::from_secs(1));
        f.stopped().await; // already set: returns at once
        assert!(!StopFlag::new().sleep(Duration::from_millis(5)).await);
    }
}
