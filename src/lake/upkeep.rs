//! Checkpoints and log cleanup beside a long-running writer's commits, off the commit path.

use tokio::task::JoinHandle;

use super::append::Appender;
use super::commit::checkpoint;
use super::delta::open_at;
use super::LakeError;

/// Keeps a long-running writer's `_delta_log` bounded and quick to read. Every
/// `delta.checkpointInterval` versions, a background task loads the table at the writer's
/// version, writes its checkpoint and deletes the log expired under
/// `delta.logRetentionDuration`. The writer's [`Appender`] never waits for it: its commits
/// need no table state, so the task's cost (which grows with the table) never stalls
/// ingestion. One task at a time; a failed one is retried at the next interval.
#[derive(Debug)]
pub struct Upkeep {
    interval: u64,
    last_checkpoint: u64,
    running: Option<JoinHandle<Result<u64, LakeError>>>,
}

impl Upkeep {
    /// Upkeep for the appender's table, at its checkpoint interval.
    pub fn new(a: &Appender) -> Self {
        use deltalake::table::config::TablePropertiesExt;
        let interval = a
            .opened()
            .snapshot()
            .map(|s| s.table_config().checkpoint_interval().get())
            .unwrap_or(100);
        Self {
            interval,
            last_checkpoint: a.version(),
            running: None,
        }
    }

    /// Call after each commit of the writer. Never waits for the background work.
    pub async fn after_commit(&mut self, a: &Appender) {
        if self.running.as_ref().is_some_and(JoinHandle::is_finished) {
            if let Some(h) = self.running.take() {
                report(h.await);
            }
        }
        // Due when a multiple of the interval was crossed (the 100th commit is version 99,
        // as delta-rs counts), whoever made the commits in between.
        let v = a.version();
        if self.running.is_none()
            && (v + 1) / self.interval > (self.last_checkpoint + 1) / self.interval
        {
            self.last_checkpoint = v;
            let loc = a.location();
            self.running = Some(tokio::spawn(async move {
                let table = open_at(&loc, v).await?;
                checkpoint(&table).await?;
                Ok(v)
            }));
        }
    }

    /// Waits for background work in progress (at the end of a run).
    pub async fn finish(&mut self) {
        if let Some(h) = self.running.take() {
            report(h.await);
        }
    }
}

fn report(done: Result<Result<u64, LakeError>, tokio::task::JoinError>) {
    match done {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "checkpoint failed; retrying at the next interval")
        }
        Err(e) => tracing::warn!(error = %e, "checkpoint task failed"),
    }
}
