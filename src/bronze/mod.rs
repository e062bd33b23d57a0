//! Bronze: Kafka → Delta in bounded micro-batches, exactly once. Decode (NDJSON → Polars),
//! derive, watermark, quarantine, and one atomic Delta commit per batch carrying the
//! Kafka offsets as `txn` actions.

pub mod buffer;
pub mod decode;
pub mod frame;
pub mod ingest;
pub mod metrics;
pub mod ownership;
mod poll;
mod prepare;
mod tape;
pub mod watermark;
mod writer;

pub use ingest::{run_pipeline, IngestOptions, PipelineSummary};

/// Errors of a bronze pipeline, naming the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum BronzeError {
    /// Kafka failed.
    #[error("pipeline {pipeline}: {source}")]
    Kafka {
        /// Pipeline name.
        pipeline: String,
        /// The error.
        source: crate::kafka::KafkaError,
    },
    /// The lake failed.
    #[error("pipeline {pipeline}: {source}")]
    Lake {
        /// Pipeline name.
        pipeline: String,
        /// The error.
        source: crate::lake::LakeError,
    },
    /// Processing a batch failed.
    #[error("pipeline {pipeline}: batch at offsets {offsets}: {message}")]
    Batch {
        /// Pipeline name.
        pipeline: String,
        /// Offsets of the batch (partition:first-last).
        offsets: String,
        /// What failed.
        message: String,
    },
    /// Another writer claimed partitions this one was writing: it stopped without writing
    /// more. What it committed before stays (it owned the partitions then).
    #[error("pipeline {pipeline}: partitions {partitions:?} were taken over by another writer (a newer `lakectl run bronze` or `lakectl schedule`), seen when committing to {table}; this run stopped and wrote nothing more\n    hint: run one writer per partition; `--worker I/N` splits a topic between writers")]
    OwnershipLost {
        /// Pipeline name.
        pipeline: String,
        /// The table whose commit was refused.
        table: String,
        /// The partitions of the refused batch.
        partitions: Vec<i32>,
    },
    /// The partitions asked for (`--partitions`, `--worker`) do not fit the topic.
    #[error("pipeline {pipeline}: {message}")]
    Partitions {
        /// Pipeline name.
        pipeline: String,
        /// What is wrong.
        message: String,
    },
    /// lakectl itself failed (a task or thread died, state could not be serialised).
    #[error("pipeline {pipeline}: {message}")]
    Runtime {
        /// Pipeline name.
        pipeline: String,
        /// What failed.
        message: String,
    },
    /// The spec produces a table lakectl cannot build.
    #[error("pipeline {pipeline}: {message}")]
    Spec {
        /// Pipeline name.
        pipeline: String,
        /// What is wrong.
        message: String,
    },
}

impl crate::exit::ExitCode for BronzeError {
    fn exit_code(&self) -> u8 {
        use crate::exit::{FAILURE, TAKEN_OVER, USAGE};
        match self {
            Self::Kafka { source, .. } => source.exit_code(),
            Self::Lake { source, .. } => source.exit_code(),
            Self::OwnershipLost { .. } => TAKEN_OVER,
            Self::Partitions { .. } => USAGE,
            Self::Batch { .. } | Self::Spec { .. } | Self::Runtime { .. } => FAILURE,
        }
    }
}

/// The `txn` appId of a partition of a pipeline.
pub fn app_id(pipeline: &str, partition: i32) -> String {
    format!("lakectl/{pipeline}/{partition}")
}

/// The `txn` appId whose version is the epoch of the writer owning a partition.
pub fn owner_app_id(pipeline: &str, partition: i32) -> String {
    format!("lakectl/{pipeline}/{partition}/owner")
}

/// Each partition's last offset committed to `bronze` (its `txn`), None when it has none
/// (or the table does not exist yet).
pub async fn committed_offsets(
    bronze: Option<&crate::lake::Table>,
    pipeline: &str,
    partitions: &[i32],
) -> std::collections::BTreeMap<i32, Option<i64>> {
    let mut out = std::collections::BTreeMap::new();
    for &p in partitions {
        let committed = match bronze {
            Some(t) => t.txn_version(&app_id(pipeline, p)).await.ok().flatten(),
            None => None,
        };
        out.insert(p, committed);
    }
    out
}

/// commitInfo key holding the watermark state.
pub const WATERMARK_KEY: &str = "lakectl.watermark";
/// commitInfo key holding the batch metrics.
pub const BATCH_KEY: &str = "lakectl.batch";
