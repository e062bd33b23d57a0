//! Who writes a pipeline's partitions.
//!
//! Every commit of a bronze writer carries, besides each partition's offset `txn`, an owner
//! `txn` per partition (appId `lakectl/<pipeline>/<p>/owner`, version = the writer's epoch).
//! delta-rs refuses a commit when a commit made after its snapshot touched one of its appIds,
//! so of two writers on the same partitions, the first to commit after the other's snapshot
//! wins and the other's next commit is refused: it stops without writing more (exit 6).
//!
//! A writer reads where to resume from the snapshots it opened at start, and its first
//! batch's commits are built on those very snapshots, quarantine first, then bronze: they
//! succeed only if nobody touched its partitions since it read that state. The quarantine
//! table is claimed even when the first batch quarantines nothing (an empty commit with the
//! owner txns): otherwise an older writer could still quarantine records this one writes to
//! bronze. An idle run commits nothing. Nothing depends on a timeout or a lock a crashed
//! writer could leave behind (Spark's "refuse a second run" without its lock file).

use std::collections::HashMap;

use chrono::Utc;
use deltalake::kernel::Transaction;
use tracing::debug;

use super::watermark::WatermarkState;
use super::{owner_app_id, BronzeError, WATERMARK_KEY};
use crate::lake::Table;
use crate::spec::{BronzeSpec, PipelineSpec};

/// Claims `parts` at once, for a command that is not a writer: one commit to the quarantine
/// table, then one to the bronze table, each with the owner txns (retried on a concurrent
/// commit). A writer running on those partitions stops at its next commit. Used by
/// `lakectl watermark reset`, whose bronze commit also carries `watermark` as the new state.
/// Returns the epoch.
pub async fn claim_partitions(
    b: &BronzeSpec,
    parts: &[i32],
    quarantine: &mut Table,
    bronze: &mut Table,
    watermark: Option<&WatermarkState>,
) -> Result<i64, BronzeError> {
    let lake_err = |source| BronzeError::Lake {
        pipeline: b.name.clone(),
        source,
    };
    let epoch = Utc::now().timestamp_micros();
    let owners: Vec<Transaction> = parts
        .iter()
        .map(|&p| Transaction::new(owner_app_id(&b.name, p), epoch))
        .collect();
    let meta = HashMap::from([(
        "lakectl.claim".to_string(),
        serde_json::json!({ "pipeline": b.name, "partitions": parts, "epoch": epoch }),
    )]);
    quarantine
        .claim(owners.clone(), meta.clone(), true)
        .await
        .map_err(lake_err)?;
    let mut bronze_meta = meta;
    if let Some(w) = watermark {
        bronze_meta.insert(
            WATERMARK_KEY.to_string(),
            serde_json::to_value(w).map_err(|e| BronzeError::Spec {
                pipeline: b.name.clone(),
                message: format!("serialising the watermark state: {e}"),
            })?,
        );
    }
    bronze
        .claim(owners, bronze_meta, true)
        .await
        .map_err(lake_err)?;
    debug!(pipeline = %b.name, ?parts, epoch, "partitions claimed");
    Ok(epoch)
}

/// A writer's claim on its partitions, made by its first batch.
#[derive(Debug, Clone)]
pub struct Claim {
    owners: Vec<Transaction>,
    meta: HashMap<String, serde_json::Value>,
    quarantine_claimed: bool,
    made: bool,
}

impl Claim {
    /// The claim of `parts` at `epoch`.
    pub fn new(pipeline: &str, parts: &[i32], epoch: i64) -> Self {
        Self {
            owners: parts
                .iter()
                .map(|&p| Transaction::new(owner_app_id(pipeline, p), epoch))
                .collect(),
            meta: HashMap::from([(
                "lakectl.claim".to_string(),
                serde_json::json!({ "pipeline": pipeline, "partitions": parts, "epoch": epoch }),
            )]),
            quarantine_claimed: false,
            made: false,
        }
    }

    /// Claims the quarantine table by an empty commit, if the first batch has no quarantine
    /// rows to commit (whose commit is the claim otherwise). Fails with a conflict when
    /// another writer committed to these partitions since this one read the table.
    pub async fn quarantine(
        &mut self,
        quarantine: &mut crate::lake::append::Appender,
    ) -> Result<(), crate::lake::LakeError> {
        if self.made || self.quarantine_claimed {
            return Ok(());
        }
        quarantine
            .commit(
                crate::lake::Draft::default(),
                self.owners.clone(),
                self.meta.clone(),
            )
            .await?;
        self.quarantine_claimed = true;
        Ok(())
    }

    /// The first batch is committed: the claim is made.
    pub fn made(&mut self) {
        self.made = true;
    }
}

/// What `lakectl watermark reset` did.
#[derive(Debug, Clone)]
pub struct WatermarkReset {
    /// Pipeline name.
    pub pipeline: String,
    /// Per-partition max event times before the reset (µs).
    pub before: WatermarkState,
    /// The bronze version of the reset.
    pub version: Option<u64>,
}

/// Forgets the persisted watermark of pipeline `b`: the next run starts with none (as a
/// new pipeline does) and rebuilds it from the records it reads. The reset is a claim of
/// every partition that has state, so a writer still running with the old watermark in
/// memory stops at its next commit (a supervisor restarts it on the reset state).
pub async fn reset_watermark(
    spec: &PipelineSpec,
    b: &BronzeSpec,
) -> Result<WatermarkReset, BronzeError> {
    let lake_err = |source| BronzeError::Lake {
        pipeline: b.name.clone(),
        source,
    };
    let lake = &spec.lake;
    let mut bronze = Table::open_existing(&lake.join(&b.table))
        .await
        .map_err(lake_err)?;
    let mut quarantine = Table::open_existing(&lake.join(&b.quarantine))
        .await
        .map_err(lake_err)?;
    let before = WatermarkState::stored(&bronze, None)
        .await
        .map_err(lake_err)?;
    let parts: Vec<i32> = before.max_event_us.keys().copied().collect();
    let reset = WatermarkState {
        reset: true,
        ..Default::default()
    };
    claim_partitions(b, &parts, &mut quarantine, &mut bronze, Some(&reset)).await?;
    Ok(WatermarkReset {
        pipeline: b.name.clone(),
        before,
        version: Some(bronze.version()),
    })
}
