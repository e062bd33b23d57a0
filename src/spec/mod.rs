//! The spec: `pipelines.yaml` (and, later, `jobs/*.yaml`) loaded in two steps — raw serde
//! types with `deny_unknown_fields`, then validated domain types — with every problem
//! reported at once as `file:line:col: message` plus a hint.

pub mod diag;
pub mod document;
pub mod env;
pub mod expr;
pub mod job;
pub mod job_modes;
pub mod job_policy;
pub mod job_test;
pub mod options;
pub mod pipeline;
pub mod raw;
pub mod scalar;
pub mod schema;
pub mod source_map;
pub mod types;
pub mod units;

use std::path::Path;

pub use diag::{Diagnostic, Diagnostics, Loc};
pub use pipeline::{
    BatchLimits, BronzeSpec, DataLossPolicy, KafkaSpec, LatePolicy, OptimizeSpec, PipelineSpec,
    RecordLimits, SchedulerSpec,
};
pub use types::{ColumnType, PayloadFormat};

/// What the environment overrides in the spec: `--brokers` and `--lake` (or their variables).
/// Declared once: flattened into the command line, and passed on to the scheduler's job
/// processes.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, clap::Args, serde::Serialize, serde::Deserialize,
)]
pub struct Overrides {
    /// Kafka bootstrap servers; overrides `kafka.brokers` of the spec.
    #[arg(long, global = true, env = "KAFKA_BROKERS")]
    pub brokers: Option<String>,

    /// Lake root: a folder or `s3://bucket/prefix`; overrides `lake` of the spec.
    #[arg(long, global = true, env = "LAKECTL_LAKE")]
    pub lake: Option<String>,
}

/// Why a spec could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("cannot read spec {path}: {source}\n    hint: run from the folder holding pipelines.yaml, or pass --config FILE (env LAKECTL_CONFIG)")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file has problems, all listed.
    #[error("{0}")]
    Invalid(Diagnostics),
    /// A command-line override is invalid.
    #[error("bad {flag}: {message}")]
    Override {
        /// The flag.
        flag: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl crate::exit::ExitCode for SpecError {
    fn exit_code(&self) -> u8 {
        crate::exit::SPEC
    }
}

/// Loads and validates the pipeline spec at `path`.
pub fn load_pipeline(path: &Path) -> Result<PipelineSpec, SpecError> {
    let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
        path: path.display().to_string(),
        source,
    })?;
    load_pipeline_str(path, &text)
}

/// Validates spec text as if read from `path`.
pub fn load_pipeline_str(path: &Path, text: &str) -> Result<PipelineSpec, SpecError> {
    let mut diags = Diagnostics::default();
    let spec = Document::parse(path, text, &mut diags)
        .and_then(|doc| pipeline::validate(&doc, &mut diags));
    match spec {
        Some(s) if diags.is_empty() => Ok(s),
        _ => Err(SpecError::Invalid(diags.sorted())),
    }
}

use document::Document;
