//! Checkpoints and log cleanup beside a long-running writer's commits, off the commit path.

use deltalake::DeltaTable;

use super::table::{delta_err, name_of};
use super::LakeError;

/// Keeps a long-running writer's commits cheap however large its table grows. delta-rs
/// 1.1 replays every log batch it holds in memory after each commit (one batch per commit
/// made in the process), writes checkpoints inside the commit call, and lists the whole
/// `_delta_log` for cleanup on every commit: all grow with the table's age. Here the writer
/// commits with [`Checkpointing::Background`](super::table::Checkpointing::Background); every `delta.checkpointInterval` versions a background task
/// writes the checkpoint and deletes the log expired under `delta.logRetentionDuration`, and
/// once it is done the writer's in-memory state is rebuilt from that checkpoint (a few large
/// batches), so a commit never replays more than one interval's worth of batches.
#[derive(Debug)]
pub struct Upkeep {
    interval: u64,
    last_checkpoint: u64,
    running: Option<tokio::task::JoinHandle<Result<u64, LakeError>>>,
    /// Commits since the in-memory state was last rebuilt.
    since_reload: u64,
}

/// The in-memory state is rebuilt (from the newest checkpoint and the JSON commits after it)
/// after this many commits, so a commit never replays more batches than that.
const RELOAD_EVERY: u64 = 25;

impl Upkeep {
    /// Upkeep for `table`, at its checkpoint interval.
    pub fn new(table: &DeltaTable) -> Self {
        use deltalake::table::config::TablePropertiesExt;
        let interval = table
            .snapshot()
            .map(|s| s.table_config().checkpoint_interval().get())
            .unwrap_or(100);
        Self {
            interval,
            last_checkpoint: table.version().unwrap_or(0),
            running: None,
            since_reload: 0,
        }
    }

    /// Call after each commit of the writer. Never waits for the background work.
    pub async fn after_commit(&mut self, table: &mut DeltaTable) {
        self.since_reload += 1;
        if self.since_reload >= RELOAD_EVERY && self.running.is_none() {
            self.since_reload = 0;
            if let Err(e) = reload_from_checkpoint(table).await {
                tracing::warn!(table = %table.table_url(), error = %e, "rebuilding the in-memory state failed; keeping the current one");
            }
        }
        if self.running.as_ref().is_some_and(|h| h.is_finished()) {
            if let Some(h) = self.running.take() {
                match h.await {
                    Ok(Ok(v)) => {
                        self.since_reload = 0;
                        if let Err(e) = reload_from_checkpoint(table).await {
                            tracing::warn!(table = %table.table_url(), error = %e, "rebuilding the state from checkpoint {v} failed; keeping the current one");
                        }
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(table = %table.table_url(), error = %e, "checkpoint failed; retrying at the next interval")
                    }
                    Err(e) => tracing::warn!(error = %e, "checkpoint task failed"),
                }
            }
        }
        // Due when a multiple of the interval was crossed (the 100th commit is version 99,
        // as delta-rs counts), whoever made the commits in between.
        let v = table.version().unwrap_or(0);
        if self.running.is_none()
            && (v + 1) / self.interval > (self.last_checkpoint + 1) / self.interval
        {
            self.last_checkpoint = v;
            let snapshot = table.clone();
            self.running = Some(tokio::spawn(async move {
                let path = name_of(&snapshot);
                deltalake::protocol::checkpoints::create_checkpoint(&snapshot, None)
                    .await
                    .map_err(delta_err(&path, "writing a checkpoint"))?;
                let removed = deltalake::protocol::checkpoints::cleanup_metadata(&snapshot, None)
                    .await
                    .map_err(delta_err(&path, "cleaning the expired log"))?;
                tracing::debug!(table = %path, version = v, removed, "checkpoint written, expired log cleaned");
                Ok(v)
            }));
        }
    }

    /// Waits for background work in progress (at the end of a run).
    pub async fn finish(&mut self) {
        if let Some(h) = self.running.take() {
            let _ = h.await;
        }
    }
}

/// Replaces the in-memory state of `table` by one read afresh at the same version (from its
/// newest checkpoint): the same snapshot, held in a few batches instead of one per commit.
async fn reload_from_checkpoint(table: &mut DeltaTable) -> Result<(), LakeError> {
    let path = name_of(table);
    let Some(v) = table.version() else {
        return Ok(());
    };
    let state =
        deltalake::table::state::DeltaTableState::try_new(table.log_store().as_ref(), Some(v))
            .await
            .map_err(delta_err(&path, "reloading the state"))?;
    table.state = Some(state);
    Ok(())
}
