//! Step two of loading `pipelines.yaml`: validated domain types.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::diag::{did_you_mean, Diagnostics};
use super::document::Document;
use super::expr::parse_expr;
use super::options::{check_storage_keys, option_values};
use super::raw::{RawBronze, RawDataLoss, RawLate, RawPipelineFile};
use super::source_map::{join_index, join_key};
use super::types::{ColumnType, TYPE_NAMES};
use super::units::{parse_duration, parse_size};
use crate::storage::{Location, StorageOptions};

/// The whole pipeline, validated.
#[derive(Debug, Clone)]
pub struct PipelineSpec {
    /// The spec file.
    pub file: PathBuf,
    /// Kafka connection.
    pub kafka: KafkaSpec,
    /// Lake root: a local folder (relative paths resolved against the spec's folder) or an
    /// object-store URL, with the options to reach it.
    pub lake: Location,
    /// Bronze pipelines.
    pub bronze: Vec<BronzeSpec>,
    /// Folder of silver job files.
    pub jobs_dir: PathBuf,
    /// `lakectl schedule` settings.
    pub scheduler: SchedulerSpec,
}

/// `lakectl schedule` settings (`scheduler:` in pipelines.yaml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerSpec {
    /// Runs older than this leave the run history (whole days).
    pub history_retention: Duration,
    /// On SIGINT/SIGTERM, how long running jobs may take before they are stopped.
    pub grace_period: Duration,
}

impl Default for SchedulerSpec {
    fn default() -> Self {
        Self {
            history_retention: Duration::from_secs(30 * 86400),
            grace_period: Duration::from_secs(30),
        }
    }
}

/// Kafka connection settings.
#[derive(Debug, Clone)]
pub struct KafkaSpec {
    /// Bootstrap servers.
    pub brokers: String,
    /// librdkafka properties passed through (may hold secrets: never print values).
    pub options: BTreeMap<String, String>,
}

/// What happens to rows older than the watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatePolicy {
    /// Into the quarantine table with reason `late`.
    Quarantine,
    /// Dropped and counted.
    Drop,
}

/// What happens when a stored offset is no longer in Kafka.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataLossPolicy {
    /// Stop with an error naming the partition and the gap.
    Fail,
    /// Log the gap and resume at the earliest available offset.
    Skip,
}

/// Periodic compaction of a bronze pipeline's tables while it runs continuously.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptimizeSpec {
    /// Time between passes.
    pub every: Duration,
    /// Target file size.
    pub target_size: u64,
}

/// Micro-batch limits: whichever is reached first ends the batch.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// Records per batch.
    pub max_records: usize,
    /// Payload bytes per batch.
    pub max_bytes: usize,
    /// Time spent polling per batch.
    pub max_wait: Duration,
}

/// One bronze pipeline: a topic into a Delta table.
#[derive(Debug, Clone)]
pub struct BronzeSpec {
    /// Pipeline name.
    pub name: String,
    /// Kafka topic.
    pub topic: String,
    /// Table path relative to the lake.
    pub table: String,
    /// Quarantine table path relative to the lake.
    pub quarantine: String,
    /// How payloads are encoded.
    pub format: super::PayloadFormat,
    /// Columns of the payload, in order.
    pub schema: Vec<(String, ColumnType)>,
    /// The event-time column (a timestamp column of the schema).
    pub event_time: String,
    /// Allowed lateness.
    pub watermark: Duration,
    /// Late rows policy.
    pub late: LatePolicy,
    /// Derived columns: name and SQL expression, in order.
    pub derive: Vec<(String, String)>,
    /// Partition columns.
    pub partition_by: Vec<String>,
    /// Adds `_kafka_partition`, `_kafka_offset`, `_kafka_timestamp`.
    pub kafka_metadata: bool,
    /// Batch limits.
    pub batch: BatchLimits,
    /// Retention gap policy.
    pub on_data_loss: DataLossPolicy,
    /// Compact the bronze and quarantine tables periodically in continuous mode.
    pub optimize: Option<OptimizeSpec>,
    /// Per-record limits, enforced before parsing.
    pub limits: RecordLimits,
    /// Records whose event time is later than now + this go to quarantine (`future`) and
    /// never move the watermark.
    pub future_tolerance: Duration,
    /// How long the bronze and quarantine tables keep their JSON log
    /// (`delta.logRetentionDuration`; default 7 days): the log stays bounded at one commit
    /// per second, and time travel reaches that far back.
    pub log_retention: Duration,
}

impl BronzeSpec {
    /// The Delta properties lakectl keeps on this pipeline's tables.
    pub fn table_properties(&self) -> Vec<(&'static str, String)> {
        vec![(
            "delta.logRetentionDuration",
            format!("interval {} seconds", self.log_retention.as_secs()),
        )]
    }
}

/// Per-record limits (`limits:`): a record beyond them goes to quarantine with its reason
/// before any parser sees it, so one hostile record cannot stop a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordLimits {
    /// Larger payloads are quarantined (`too_large`). Default 16 MiB.
    pub max_record_bytes: usize,
    /// JSON nested deeper than this is quarantined (`malformed`). Default 64.
    pub max_depth: usize,
}

impl Default for RecordLimits {
    fn default() -> Self {
        Self {
            max_record_bytes: 16 << 20,
            max_depth: 64,
        }
    }
}

/// A table's path relative to the lake, normalised (`./a//b/` → `a/b`). Refused: absolute
/// paths, `..` (a table outside the lake), `%`, and the lake's reserved folders.
pub fn lake_relative(path: &str) -> Result<String, String> {
    let p = path.trim();
    if p.starts_with('/') || p.starts_with('\\') || p.contains(':') {
        return Err(format!(
            "`{p}` must be a path relative to the lake (e.g. silver/my_table)"
        ));
    }
    // delta-rs 1.1 decodes a table's URL twice when it reads the log (object_store's
    // `Path::from_url_path` then `Path::parse`), while it writes through one decoding: a
    // table created as `a%20b/` is then looked for in `a b/`. Refused before anything runs.
    if p.contains('%') {
        return Err(format!(
            "`{p}` contains `%`, which delta-rs reads back as an escape (a table created as `a%20b` would be opened as `a b`): use another character (spaces, `#`, `?` and accents are fine)"
        ));
    }
    let mut parts = Vec::new();
    for seg in p.split(['/', '\\']) {
        match seg {
            "" | "." => {}
            ".." => return Err(format!("`{p}` leaves the lake (`..`)")),
            s => parts.push(s),
        }
    }
    match parts.first() {
        None => Err("the path is empty".into()),
        Some(first) if first.starts_with("_lakectl") || first.starts_with("_delta_log") => {
            Err(format!("`{p}` is reserved for lakectl's own tables"))
        }
        _ if parts.contains(&"_delta_log") => Err(format!("`{p}` is inside a Delta log folder")),
        _ => Ok(parts.join("/")),
    }
}

/// A positive size (`64MiB`, or a number of bytes) at `path`, or `default` when absent.
fn size_value(
    doc: &Document,
    path: &str,
    v: Option<&serde_yaml::Value>,
    default: usize,
    diags: &mut Diagnostics,
) -> usize {
    let key = path.rsplit('.').next().unwrap_or(path);
    let parsed = match v {
        None => return default,
        Some(serde_yaml::Value::Number(n)) => n.as_u64().ok_or_else(|| "not a size".to_string()),
        Some(serde_yaml::Value::String(s)) => parse_size(s),
        Some(_) => Err("not a size".to_string()),
    };
    match parsed {
        Ok(n) if n > 0 => n as usize,
        Ok(_) => {
            diags.push(doc.at(path, format!("{key} must be positive")));
            1
        }
        Err(e) => {
            diags.push(
                doc.at(path, format!("bad {key}: {e}"))
                    .with_hint("a size such as 64MiB"),
            );
            1
        }
    }
}

impl PipelineSpec {
    /// The spec with `--brokers` and `--lake` applied (an empty broker list is ignored).
    pub fn with_overrides(mut self, o: &super::Overrides) -> Result<Self, super::SpecError> {
        if let Some(b) = o.brokers.as_deref().filter(|b| !b.trim().is_empty()) {
            self.kafka.brokers = b.to_string();
        }
        if let Some(l) = o.lake.as_deref().filter(|l| !l.trim().is_empty()) {
            self.lake = self
                .location(l)
                .map_err(|message| super::SpecError::Override {
                    flag: "--lake (env LAKECTL_LAKE)",
                    message,
                })?;
        }
        Ok(self)
    }

    /// A location given on the command line or in SQL (a path, relative to the working
    /// directory, or a URL), reached like the lake: an object-store URL gets the spec's
    /// `storage:` options, or, when the lake is a local folder, the `AWS_*` environment.
    pub fn location(&self, s: &str) -> Result<Location, String> {
        let cwd = std::env::current_dir().unwrap_or_default();
        let loc = Location::parse(s, &cwd, StorageOptions::default())?;
        Ok(match (loc.is_remote(), self.lake.is_remote()) {
            (true, true) => loc.with_options(self.lake.options().clone()),
            (true, false) => loc.with_options(StorageOptions::resolve(&BTreeMap::new())),
            (false, _) => loc,
        })
    }

    /// The location of a table given relative to the lake.
    pub fn table_path(&self, rel: &str) -> Location {
        self.lake.join(rel)
    }

    /// The bronze pipeline called `name`.
    pub fn bronze(&self, name: &str) -> Option<&BronzeSpec> {
        self.bronze.iter().find(|b| b.name == name)
    }
}

/// Validates a parsed `pipelines.yaml` document (spec file at `file`).
pub fn validate(doc: &Document, diags: &mut Diagnostics) -> Option<PipelineSpec> {
    let raw: RawPipelineFile = doc.deserialize(&doc.value, "", diags)?;
    let base = doc.file.parent().unwrap_or(Path::new(".")).to_path_buf();
    let resolve = |p: &str| -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };

    if raw.kafka.brokers.trim().is_empty() {
        diags.push(
            doc.at("kafka.brokers", "`kafka.brokers` is empty")
                .with_hint("e.g. 127.0.0.1:9092"),
        );
    }
    let options = option_values(doc, "kafka.options", &raw.kafka.options, diags);
    let storage = option_values(doc, "storage", &raw.storage, diags);
    check_storage_keys(doc, &storage, diags);
    let lake = if raw.lake.trim().is_empty() {
        diags.push(
            doc.at("lake", "`lake` is empty")
                .with_hint("e.g. ./lake or s3://bucket/lake"),
        );
        None
    } else {
        match Location::parse(&raw.lake, &base, StorageOptions::default()) {
            // Options (and the AWS_* environment) only for an object-store lake.
            Ok(l) if l.is_remote() => Some(l.with_options(StorageOptions::resolve(&storage))),
            Ok(l) => Some(l),
            Err(e) => {
                diags.push(doc.at("lake", format!("bad `lake`: {e}")));
                None
            }
        }
    };
    if !storage.is_empty() && lake.as_ref().is_some_and(|l| !l.is_remote()) {
        diags.push(
            doc.at_key(
                "storage",
                "`storage:` options are for an object-store lake, but `lake` is a local folder",
            )
            .with_hint("set `lake: s3://bucket/prefix`, or remove `storage:`"),
        );
    }

    let mut bronze = Vec::new();
    let mut names = HashSet::new();
    let mut tables: HashSet<String> = HashSet::new();
    for (i, item) in raw.bronze.iter().enumerate() {
        let path = join_index("bronze", i);
        let Some(mut rb) = doc.deserialize::<RawBronze>(item, &path, diags) else {
            continue;
        };
        for key in ["table", "quarantine"] {
            let t = if key == "table" {
                &mut rb.table
            } else {
                &mut rb.quarantine
            };
            match lake_relative(t) {
                Ok(n) => *t = n,
                Err(e) => diags.push(doc.at(&join_key(&path, key), format!("`{key}`: {e}"))),
            }
        }
        if !names.insert(rb.name.clone()) {
            diags.push(doc.at(
                &join_key(&path, "name"),
                format!("duplicate bronze pipeline name `{}`", rb.name),
            ));
        }
        for key in ["table", "quarantine"] {
            let t = if key == "table" {
                &rb.table
            } else {
                &rb.quarantine
            };
            if !tables.insert(t.clone()) {
                diags.push(
                    doc.at(
                        &join_key(&path, key),
                        format!("table `{t}` is already written by another pipeline"),
                    )
                    .with_hint("every bronze and quarantine table needs its own path"),
                );
            }
        }
        if let Some(b) = validate_bronze(doc, &path, rb, diags) {
            bronze.push(b);
        }
    }

    let jobs = raw
        .silver
        .and_then(|s| s.jobs)
        .unwrap_or_else(|| "jobs/".into());
    let mut scheduler = SchedulerSpec::default();
    if let Some(rs) = &raw.scheduler {
        if let Some(r) = &rs.history_retention {
            match parse_duration(r) {
                Ok(d) if d >= Duration::from_secs(86400) => scheduler.history_retention = d,
                Ok(_) => diags.push(
                    doc.at(
                        "scheduler.history_retention",
                        "history_retention must be at least 1d",
                    )
                    .with_hint("the history is kept in whole days, e.g. 30d"),
                ),
                Err(e) => diags.push(doc.at(
                    "scheduler.history_retention",
                    format!("bad history_retention: {e}"),
                )),
            }
        }
        if let Some(g) = &rs.grace_period {
            match parse_duration(g) {
                Ok(d) => scheduler.grace_period = d,
                Err(e) => {
                    diags.push(doc.at("scheduler.grace_period", format!("bad grace_period: {e}")))
                }
            }
        }
    }
    let lake = lake?;
    if !diags.is_empty() {
        return None;
    }
    Some(PipelineSpec {
        file: doc.file.clone(),
        kafka: KafkaSpec {
            brokers: raw.kafka.brokers,
            options,
        },
        lake,
        bronze,
        jobs_dir: resolve(&jobs),
        scheduler,
    })
}

fn validate_bronze(
    doc: &Document,
    path: &str,
    rb: RawBronze,
    diags: &mut Diagnostics,
) -> Option<BronzeSpec> {
    let before = diags.mark();
    let p = |k: &str| join_key(path, k);

    let format = rb
        .format
        .parse::<super::PayloadFormat>()
        .map_err(|e| {
            diags.push(doc.at(&p("format"), e).with_hint(format!(
                "formats are: {} (json: one JSON object per Kafka record)",
                super::PayloadFormat::NAMES.join(", ")
            )))
        })
        .unwrap_or_default();
    for (key, v) in [
        ("name", &rb.name),
        ("topic", &rb.topic),
        ("table", &rb.table),
        ("quarantine", &rb.quarantine),
    ] {
        if v.trim().is_empty() {
            diags.push(doc.at(&p(key), format!("`{key}` is empty")));
        }
    }
    if rb.table == rb.quarantine {
        diags.push(doc.at(
            &p("quarantine"),
            "the quarantine table must differ from the bronze table",
        ));
    }

    let mut schema = Vec::new();
    for (col, ty) in &rb.schema {
        match ty.parse::<ColumnType>() {
            Ok(t) => schema.push((col.clone(), t)),
            Err(e) => diags.push(
                doc.at(&join_key(&p("schema"), col), format!("column `{col}`: {e}"))
                    .with_hint(format!("types are: {}", TYPE_NAMES.join(", "))),
            ),
        }
    }
    if rb.schema.is_empty() {
        diags.push(doc.at(&p("schema"), "`schema` has no columns"));
    }
    let schema_names: Vec<&str> = rb.schema.keys().map(String::as_str).collect();

    match rb
        .schema
        .get(&rb.event_time)
        .map(|t| t.parse::<ColumnType>())
    {
        Some(Ok(ColumnType::Timestamp)) => {}
        Some(Ok(t)) => diags.push(doc.at(
            &p("event_time"),
            format!(
                "event_time column `{}` is {t}, not timestamp",
                rb.event_time
            ),
        )),
        Some(Err(_)) => {}
        None => {
            let mut d = doc.at(
                &p("event_time"),
                format!(
                    "event_time `{}` is not a column of the schema",
                    rb.event_time
                ),
            );
            if let Some(s) = did_you_mean(&rb.event_time, schema_names.iter().copied()) {
                d = d.with_hint(format!("did you mean `{s}`?"));
            }
            diags.push(d);
        }
    }

    let watermark = parse_duration(&rb.watermark)
        .map_err(|e| diags.push(doc.at(&p("watermark"), format!("bad watermark: {e}"))))
        .unwrap_or_default();

    let mut derive = Vec::new();
    for (name, sql) in &rb.derive {
        let dp = join_key(&p("derive"), name);
        if rb.schema.contains_key(name) {
            diags.push(doc.at_key(
                &dp,
                format!("derived column `{name}` is already a schema column"),
            ));
        }
        if let Err(e) = parse_expr(sql) {
            diags.push(doc.at(&dp, format!("derive `{name}`: {e}")));
        }
        derive.push((name.clone(), sql.clone()));
    }

    for (i, col) in rb.partition_by.iter().enumerate() {
        if !rb.schema.contains_key(col) && !rb.derive.contains_key(col) {
            let candidates = schema_names
                .iter()
                .copied()
                .chain(rb.derive.keys().map(String::as_str));
            let mut d = doc.at(
                &join_index(&p("partition_by"), i),
                format!("partition column `{col}` is neither a schema nor a derived column"),
            );
            if let Some(s) = did_you_mean(col, candidates) {
                d = d.with_hint(format!("did you mean `{s}`?"));
            }
            diags.push(d);
        }
    }

    let bp = p("batch");
    let max_records = match rb.batch.max_records {
        None => 50_000,
        Some(n) if n > 0 => n as usize,
        Some(n) => {
            diags.push(doc.at(
                &join_key(&bp, "max_records"),
                format!("max_records must be positive, got {n}"),
            ));
            1
        }
    };
    let max_bytes = size_value(
        doc,
        &join_key(&bp, "max_bytes"),
        rb.batch.max_bytes.as_ref(),
        64 << 20,
        diags,
    );
    let lp = p("limits");
    let max_record_bytes = size_value(
        doc,
        &join_key(&lp, "max_record_bytes"),
        rb.limits.max_record_bytes.as_ref(),
        16 << 20,
        diags,
    );
    let max_depth = match rb.limits.max_depth {
        None => 64,
        Some(n) if (1..=10_000).contains(&n) => n as usize,
        Some(n) => {
            diags.push(doc.at(
                &join_key(&lp, "max_depth"),
                format!("max_depth must be between 1 and 10000, got {n}"),
            ));
            1
        }
    };
    let log_retention = match &rb.log_retention {
        None => Duration::from_secs(7 * 86_400),
        Some(s) => parse_duration(s)
            .ok()
            .filter(|d| d.as_secs() >= 3600)
            .unwrap_or_else(|| {
                diags.push(
                    doc.at(&p("log_retention"), format!("bad log_retention `{s}`"))
                        .with_hint("a duration of at least 1h, such as 7d"),
                );
                Duration::from_secs(3600)
            }),
    };
    let future_tolerance = match &rb.future_tolerance {
        None => Duration::from_secs(86_400),
        Some(s) => parse_duration(s)
            .map_err(|e| {
                diags.push(doc.at(&p("future_tolerance"), format!("bad future_tolerance: {e}")))
            })
            .unwrap_or_default(),
    };
    let max_wait = match &rb.batch.max_wait {
        None => Duration::from_secs(1),
        Some(s) => parse_duration(s)
            .map_err(|e| {
                diags.push(doc.at(&join_key(&bp, "max_wait"), format!("bad max_wait: {e}")))
            })
            .unwrap_or_default(),
    };

    let optimize = rb.optimize.as_ref().map(|o| {
        let op = p("optimize");
        let every = parse_duration(&o.every)
            .ok()
            .filter(|d| !d.is_zero())
            .unwrap_or_else(|| {
                diags.push(doc.at(
                    &join_key(&op, "every"),
                    format!("bad optimize.every `{}`: a duration such as 1h", o.every),
                ));
                Duration::from_secs(3600)
            });
        let target_size = match o.target_size.as_deref().map(parse_size) {
            None => 128 << 20,
            Some(Ok(n)) if n > 0 => n,
            Some(_) => {
                diags.push(doc.at(
                    &join_key(&op, "target_size"),
                    "optimize.target_size must be a size such as 128MiB",
                ));
                1
            }
        };
        OptimizeSpec { every, target_size }
    });

    diags.none_since(before).then(|| BronzeSpec {
        name: rb.name,
        topic: rb.topic,
        table: rb.table,
        quarantine: rb.quarantine,
        format,
        schema,
        event_time: rb.event_time,
        watermark,
        late: match rb.late {
            Some(RawLate::Drop) => LatePolicy::Drop,
            _ => LatePolicy::Quarantine,
        },
        derive,
        partition_by: rb.partition_by,
        kafka_metadata: rb.kafka_metadata.unwrap_or(true),
        limits: RecordLimits {
            max_record_bytes,
            max_depth,
        },
        future_tolerance,
        log_retention,
        batch: BatchLimits {
            max_records,
            max_bytes,
            max_wait,
        },
        on_data_loss: match rb.on_data_loss {
            Some(RawDataLoss::Skip) => DataLossPolicy::Skip,
            _ => DataLossPolicy::Fail,
        },
        optimize,
    })
}
