//! `lakectl status`: where every pipeline, table and job stands — committed offsets against
//! the broker's high watermarks (lag), watermarks, table versions and sizes, quarantine
//! counts by reason, and what each job has processed.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use polars::prelude::*;
use serde::Serialize;

use crate::bronze::committed_offsets;
use crate::bronze::watermark::WatermarkState;
use crate::kafka::admin::topic_partitions;
use crate::kafka::consumer::Drain;
use crate::lake::catalog::TableKind;
use crate::lake::read::scan;
use crate::lake::LakeError;
use crate::lake::Table;
use crate::silver::CheckedJobs;
use crate::spec::{DataLossPolicy, PipelineSpec};

/// One Kafka partition of a bronze pipeline.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionStatus {
    /// Partition id.
    pub partition: i32,
    /// Last offset committed to the bronze table (its `txn` version).
    pub committed_offset: Option<i64>,
    /// The broker's high watermark (next offset to be written), from a fetch response.
    pub high_watermark: Option<i64>,
    /// Records in Kafka not yet in the lake (None when unknown, or when the committed offset
    /// is past the partition's end).
    pub lag: Option<i64>,
    /// The committed offset is past the partition's end: the topic was deleted and recreated
    /// (or emptied by a restart of an in-memory broker), and the lake describes the old one.
    pub offsets_past_end: bool,
}

/// One bronze pipeline.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineStatus {
    /// Pipeline name.
    pub name: String,
    /// Topic.
    pub topic: String,
    /// Per partition.
    pub partitions: Vec<PartitionStatus>,
    /// Total lag, when every partition's is known.
    pub lag: Option<i64>,
    /// Event-time watermark after the last batch.
    pub watermark: Option<String>,
    /// Time of the last bronze commit.
    pub last_batch: Option<String>,
    /// Why the broker could not be asked, if it could not.
    pub broker_error: Option<String>,
}

/// One table of the lake.
#[derive(Debug, Clone, Serialize)]
pub struct TableStatus {
    /// Catalog name.
    pub name: String,
    /// Path relative to the lake.
    pub path: String,
    /// Latest version (None: not created yet).
    pub version: Option<u64>,
    /// Active files.
    pub files: usize,
    /// Bytes of the active files.
    pub bytes: i64,
    /// Rows, from file statistics.
    pub rows: u64,
    /// Time of the last commit.
    pub last_commit: Option<String>,
    /// For quarantine tables: rows by reason.
    pub by_reason: Option<BTreeMap<String, u64>>,
}

/// One silver job.
#[derive(Debug, Clone, Serialize)]
pub struct JobStatus {
    /// Job name.
    pub name: String,
    /// Target table.
    pub target: String,
    /// Source version the last run read (its `txn`).
    pub source_version_read: Option<i64>,
    /// Source version now (structured jobs).
    pub source_version_now: Option<u64>,
    /// True when the source has versions the job has not read.
    pub stale: Option<bool>,
    /// Time of the last run that committed.
    pub last_run: Option<String>,
    /// Seconds since that run.
    pub age_seconds: Option<i64>,
}

/// Everything `lakectl status` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Bronze pipelines.
    pub pipelines: Vec<PipelineStatus>,
    /// Tables.
    pub tables: Vec<TableStatus>,
    /// Silver jobs.
    pub jobs: Vec<JobStatus>,
}

fn fmt_ms(ms: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Gathers the status (the broker is asked for high watermarks, at most `kafka_timeout` each).
/// A table that does not exist yet is "not created"; one that cannot be read (an
/// unreachable store, refused credentials, a corrupt log) is an error: a status that says
/// "nothing there" when the lake is merely unreadable would mislead whoever reads it.
pub async fn gather(
    spec: &PipelineSpec,
    checked: &CheckedJobs,
    kafka_timeout: Duration,
) -> Result<Status, LakeError> {
    let lake = &spec.lake;
    crate::lake::require_lake(lake)?;
    let mut pipelines = Vec::new();
    for b in &spec.bronze {
        let bronze = Table::open(&lake.join(&b.table)).await?;
        let mut ps = PipelineStatus {
            name: b.name.clone(),
            topic: b.topic.clone(),
            partitions: Vec::new(),
            lag: None,
            watermark: None,
            last_batch: None,
            broker_error: None,
        };
        if let Some(t) = &bronze {
            ps.last_batch = t.last_commit_ms().await.and_then(fmt_ms);
            if let Ok(wm) = WatermarkState::stored(t, None).await {
                ps.watermark = wm
                    .watermark_us(b.watermark.as_micros() as i64, &[])
                    .map(crate::bronze::metrics::fmt_us);
            }
        }
        let parts = match tokio::task::block_in_place(|| {
            topic_partitions(&spec.kafka, &b.topic, kafka_timeout)
        }) {
            Ok(p) => p,
            Err(e) => {
                ps.broker_error =
                    Some(e.to_string().lines().next().unwrap_or_default().to_string());
                Vec::new()
            }
        };
        let mut starts = BTreeMap::new();
        for (p, committed) in committed_offsets(bronze.as_ref(), &b.name, &parts).await {
            starts.insert(p, committed.map(|c| c + 1));
            ps.partitions.push(PartitionStatus {
                partition: p,
                committed_offset: committed,
                high_watermark: None,
                lag: None,
                offsets_past_end: false,
            });
        }
        if !parts.is_empty() {
            let highs = tokio::task::block_in_place(|| {
                let mut d = Drain::open(&spec.kafka, &b.topic, &starts, DataLossPolicy::Skip)?;
                d.probe_high_watermarks(kafka_timeout)
            });
            match highs {
                Ok(Some(h)) => {
                    for p in &mut ps.partitions {
                        p.high_watermark = h.get(&p.partition).copied();
                        let next = p.committed_offset.map_or(0, |c| c + 1);
                        p.offsets_past_end = p.high_watermark.is_some_and(|hw| next > hw);
                        p.lag = p
                            .high_watermark
                            .filter(|_| !p.offsets_past_end)
                            .map(|hw| hw - next);
                    }
                    ps.lag = ps.partitions.iter().map(|p| p.lag).sum();
                }
                Ok(None) => {
                    ps.broker_error =
                        Some("the broker did not report high watermarks in time".into())
                }
                Err(e) => {
                    ps.broker_error =
                        Some(e.to_string().lines().next().unwrap_or_default().to_string())
                }
            }
        }
        pipelines.push(ps);
    }

    let mut tables = Vec::new();
    let mut versions: BTreeMap<String, u64> = BTreeMap::new();
    for t in checked.catalog.tables() {
        let mut ts = TableStatus {
            name: t.name.clone(),
            path: t.path.clone(),
            version: None,
            files: 0,
            bytes: 0,
            rows: 0,
            last_commit: None,
            by_reason: None,
        };
        if let Some(dt) = Table::open(&lake.join(&t.path)).await? {
            ts.version = Some(dt.version());
            if let Some(v) = ts.version {
                versions.insert(t.name.clone(), v);
            }
            if let Ok(files) = dt.files() {
                ts.files = files.len();
                ts.bytes = files.iter().map(|f| f.size).sum();
                ts.rows = files.iter().filter_map(|f| f.rows).sum::<usize>() as u64;
            }
            ts.last_commit = dt.last_commit_ms().await.and_then(fmt_ms);
            if matches!(t.kind, TableKind::Quarantine { .. }) {
                ts.by_reason = reasons(&dt);
            }
        }
        tables.push(ts);
    }

    let mut jobs = Vec::new();
    for j in &checked.jobs {
        let mut js = JobStatus {
            name: j.name.clone(),
            target: j.to.clone(),
            source_version_read: None,
            source_version_now: None,
            stale: None,
            last_run: None,
            age_seconds: None,
        };
        if let Some(t) = Table::open(&lake.join(&j.to)).await? {
            js.source_version_read = t
                .txn_version(&crate::silver::app_id(&j.name))
                .await
                .ok()
                .flatten();
            if let Some(ms) = t.last_commit_ms().await {
                js.last_run = fmt_ms(ms);
                js.age_seconds = Some((Utc::now().timestamp_millis() - ms) / 1000);
            }
        }
        if let Some(src) = j.from.as_deref().and_then(|f| checked.catalog.resolve(f)) {
            js.source_version_now = versions.get(&src.name).copied();
            js.stale = js.source_version_now.map(|now| {
                js.source_version_read
                    .is_none_or(|read| (read as u64) < now)
            });
        }
        jobs.push(js);
    }
    Ok(Status {
        pipelines,
        tables,
        jobs,
    })
}

fn reasons(t: &Table) -> Option<BTreeMap<String, u64>> {
    let df = scan(t, &|_| true)
        .ok()?
        .group_by([col("reason")])
        .agg([len().alias("n")])
        .collect()
        .ok()?;
    let r = df.column("reason").ok()?.str().ok()?.clone();
    let n = df.column("n").ok()?.cast(&DataType::UInt64).ok()?;
    let n = n.u64().ok()?.clone();
    Some(
        r.iter()
            .zip(n.iter())
            .filter_map(|(r, n)| Some((r?.to_string(), n?)))
            .collect(),
    )
}
