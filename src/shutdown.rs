//! Graceful shutdown: the first SIGINT/SIGTERM asks running work to stop at the next safe
//! point (a batch is finished and committed, or abandoned before its commit); a second one
//! exits at once. Delta commits are atomic, so neither can leave a half commit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Shared stop request.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// A flag that is not set.
    pub fn new() -> Self {
        Self::default()
    }

    /// True once a stop was requested.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Requests a stop.
    pub fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
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
                tracing::warn!(
                    "stop requested: finishing the current batch (signal again to exit at once)"
                );
                f.set();
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
