//! Step one of loading `pipelines.yaml`: raw serde types that mirror the YAML exactly.
//! Unknown keys are rejected; values are checked in step two ([`super::pipeline`]).

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::Deserialize;

/// The whole `pipelines.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipelineFile {
    /// Kafka connection.
    pub kafka: RawKafka,
    /// Lake root folder.
    pub lake: String,
    /// Bronze pipelines.
    #[serde(default)]
    pub bronze: Vec<serde_yaml::Value>,
    /// Silver settings.
    #[serde(default)]
    pub silver: Option<RawSilver>,
    /// `lakectl schedule` settings.
    #[serde(default)]
    pub scheduler: Option<RawScheduler>,
}

/// `scheduler:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScheduler {
    /// How long the run history (`_lakectl/runs`) keeps a run.
    #[serde(default)]
    pub history_retention: Option<String>,
    /// On SIGINT/SIGTERM, how long running jobs may take to finish.
    #[serde(default)]
    pub grace_period: Option<String>,
}

/// `kafka:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKafka {
    /// Bootstrap servers, comma separated.
    pub brokers: String,
    /// librdkafka properties passed through.
    #[serde(default)]
    pub options: BTreeMap<String, serde_yaml::Value>,
}

/// `silver:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSilver {
    /// Folder of job files.
    #[serde(default)]
    pub jobs: Option<String>,
}

/// One item of `bronze:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBronze {
    pub name: String,
    pub topic: String,
    pub table: String,
    pub quarantine: String,
    #[serde(default = "default_format")]
    pub format: String,
    pub schema: IndexMap<String, String>,
    pub event_time: String,
    #[serde(default = "default_watermark")]
    pub watermark: String,
    #[serde(default)]
    pub late: Option<RawLate>,
    #[serde(default)]
    pub derive: IndexMap<String, String>,
    #[serde(default)]
    pub partition_by: Vec<String>,
    #[serde(default, deserialize_with = "super::scalar::opt_bool")]
    pub kafka_metadata: Option<bool>,
    #[serde(default)]
    pub batch: RawBatch,
    #[serde(default)]
    pub on_data_loss: Option<RawDataLoss>,
    #[serde(default)]
    pub optimize: Option<RawOptimize>,
    /// `delta.logRetentionDuration` of the bronze and quarantine tables.
    #[serde(default)]
    pub log_retention: Option<String>,
    /// Records dated later than now + this go to quarantine (`future`).
    #[serde(default)]
    pub future_tolerance: Option<String>,
    #[serde(default)]
    pub limits: RawLimits,
}

/// `limits:` (per record, enforced before parsing)
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub max_record_bytes: Option<serde_yaml::Value>,
    #[serde(default, deserialize_with = "super::scalar::opt_i64")]
    pub max_depth: Option<i64>,
}

/// `optimize:` (periodic compaction while the pipeline runs continuously)
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOptimize {
    pub every: String,
    pub target_size: Option<String>,
}

/// `late:`
#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum RawLate {
    Quarantine,
    Drop,
}

/// `on_data_loss:`
#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum RawDataLoss {
    Fail,
    Skip,
}

/// `batch:`
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawBatch {
    #[serde(default, deserialize_with = "super::scalar::opt_i64")]
    pub max_records: Option<i64>,
    pub max_bytes: Option<serde_yaml::Value>,
    pub max_wait: Option<String>,
}

fn default_format() -> String {
    "json".into()
}
fn default_watermark() -> String {
    "10m".into()
}
