//! Step one of loading `pipelines.yaml`: raw serde types that mirror the YAML exactly.
//! Unknown keys are rejected; values are checked in step two ([`super::pipeline`]).

use std::collections::BTreeMap;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use super::schema::Lenient;

/// The whole `pipelines.yaml`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPipelineFile {
    /// Kafka connection.
    pub kafka: RawKafka,
    /// Lake root: a local folder or an object-store URL (`s3://bucket/prefix`).
    pub lake: String,
    /// Options to reach an object-store lake (endpoint, region, credentials, …).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub storage: BTreeMap<String, serde_yaml::Value>,
    /// Bronze pipelines.
    #[serde(default)]
    #[schemars(with = "Vec<RawBronze>")]
    pub bronze: Vec<serde_yaml::Value>,
    /// Silver settings.
    #[serde(default)]
    pub silver: Option<RawSilver>,
    /// `lakectl schedule` settings.
    #[serde(default)]
    pub scheduler: Option<RawScheduler>,
}

/// `scheduler:`
#[derive(Debug, Deserialize, JsonSchema)]
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
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawKafka {
    /// Bootstrap servers, comma separated.
    pub brokers: String,
    /// librdkafka properties passed through.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub options: BTreeMap<String, serde_yaml::Value>,
}

/// `silver:`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSilver {
    /// Folder of job files.
    #[serde(default)]
    pub jobs: Option<String>,
}

/// One item of `bronze:`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBronze {
    /// Pipeline name.
    pub name: String,
    /// Kafka topic.
    pub topic: String,
    /// Bronze table, relative to the lake.
    pub table: String,
    /// Quarantine table, relative to the lake.
    pub quarantine: String,
    /// Payload format (`json`).
    #[serde(default = "default_format")]
    pub format: String,
    /// Payload columns: name → type.
    pub schema: IndexMap<String, String>,
    /// The event-time column (a timestamp of the schema).
    pub event_time: String,
    /// Allowed lateness (e.g. `10m`).
    #[serde(default = "default_watermark")]
    pub watermark: String,
    /// What late records do: `quarantine` or `drop`.
    #[serde(default)]
    pub late: Option<RawLate>,
    /// Derived column → SQL expression, in order.
    #[serde(default)]
    pub derive: IndexMap<String, String>,
    /// Partition columns.
    #[serde(default)]
    pub partition_by: Vec<String>,
    /// Adds `_kafka_partition`, `_kafka_offset`, `_kafka_timestamp`.
    #[serde(default, deserialize_with = "super::scalar::opt_bool")]
    #[schemars(with = "Option<Lenient<bool>>")]
    pub kafka_metadata: Option<bool>,
    /// Micro-batch limits.
    #[serde(default)]
    pub batch: RawBatch,
    /// When stored offsets fell out of retention: `fail` or `skip`.
    #[serde(default)]
    pub on_data_loss: Option<RawDataLoss>,
    /// Periodic compaction while running continuously.
    #[serde(default)]
    pub optimize: Option<RawOptimize>,
    /// `delta.logRetentionDuration` of the bronze and quarantine tables.
    #[serde(default)]
    pub log_retention: Option<String>,
    /// Records dated later than now + this go to quarantine (`future`).
    #[serde(default)]
    pub future_tolerance: Option<String>,
    /// Per-record limits, checked before parsing.
    #[serde(default)]
    pub limits: RawLimits,
}

/// `limits:` (per record, enforced before parsing)
#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Larger payloads go to quarantine (`too_large`): bytes, or a size such as `16MiB`.
    #[schemars(with = "Option<Lenient<u64>>")]
    pub max_record_bytes: Option<serde_yaml::Value>,
    /// JSON nested deeper goes to quarantine (`malformed`).
    #[serde(default, deserialize_with = "super::scalar::opt_i64")]
    #[schemars(with = "Option<Lenient<i64>>")]
    pub max_depth: Option<i64>,
}

/// `optimize:` (periodic compaction while the pipeline runs continuously)
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOptimize {
    /// How often.
    pub every: String,
    /// Target file size (e.g. `128MiB`).
    pub target_size: Option<String>,
}

/// `late:`
#[derive(Debug, Deserialize, Clone, Copy, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawLate {
    /// Late records go to quarantine.
    Quarantine,
    /// Late records are dropped (and counted).
    Drop,
}

/// `on_data_loss:`
#[derive(Debug, Deserialize, Clone, Copy, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawDataLoss {
    /// Stop with an error.
    Fail,
    /// Resume at the earliest retained offset.
    Skip,
}

/// `batch:`
#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBatch {
    /// At most this many records per batch.
    #[serde(default, deserialize_with = "super::scalar::opt_i64")]
    #[schemars(with = "Option<Lenient<i64>>")]
    pub max_records: Option<i64>,
    /// At most this many payload bytes per batch (e.g. `64MiB`).
    #[schemars(with = "Option<Lenient<u64>>")]
    pub max_bytes: Option<serde_yaml::Value>,
    /// At most this long per batch (e.g. `1s`).
    pub max_wait: Option<String>,
}

fn default_format() -> String {
    "json".into()
}
fn default_watermark() -> String {
    "10m".into()
}
