//! The run history: every job run attempt (and every skipped run) the scheduler makes, as
//! rows of the Delta table `_lakectl/runs` under the lake, partitioned by `day` (UTC).
//! Retention drops whole days older than `scheduler.history_retention`; the table is
//! compacted and vacuumed by the same pass, and its JSON log is kept for 2 days only
//! (checkpoints every 100 commits), so a per-second job does not grow it without bound.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::lake::commit::Kind;
use crate::lake::read::scan;
use crate::lake::{bridge, optimize, vacuum, Draft, LakeError, Table, TableSchema};
use crate::storage::Location;

/// The history table, relative to the lake.
pub const RUNS_TABLE: &str = "_lakectl/runs";

/// How a run attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Finished: committed, or the target was already up to date.
    Succeeded,
    /// Failed (or timed out), and will be retried.
    Retrying,
    /// Failed, no retry left.
    Failed,
    /// Stopped by its timeout, no retry left; nothing was committed.
    TimedOut,
    /// Not started: the previous run was still going (`concurrency: forbid`).
    Skipped,
    /// Stopped by shutdown or by a newer run (`concurrency: replace`); nothing committed.
    Cancelled,
}

impl RunStatus {
    /// The name stored in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Retrying => "retrying",
            RunStatus::Failed => "failed",
            RunStatus::TimedOut => "timed_out",
            RunStatus::Skipped => "skipped",
            RunStatus::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            RunStatus::Succeeded,
            RunStatus::Retrying,
            RunStatus::Failed,
            RunStatus::TimedOut,
            RunStatus::Skipped,
            RunStatus::Cancelled,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// One row of the history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    /// Identifies the run (all its attempts share it).
    pub run_id: String,
    /// Job name.
    pub job: String,
    /// Attempt number, from 1 (0 for a skipped run).
    pub attempt: u32,
    /// `schedule`, `catchup` or `manual`.
    pub trigger: String,
    /// The fire time the run is for.
    pub scheduled_for: DateTime<Utc>,
    /// Start of the attempt.
    pub started: DateTime<Utc>,
    /// End of the attempt.
    pub ended: DateTime<Utc>,
    /// How it ended.
    pub status: RunStatus,
    /// Source rows read.
    pub rows_read: u64,
    /// Rows written.
    pub rows_written: u64,
    /// Source version read.
    pub source_version: Option<u64>,
    /// Target version committed.
    pub target_version: Option<u64>,
    /// A human summary.
    pub detail: String,
    /// The error, when it failed.
    pub error: Option<String>,
}

impl RunRecord {
    /// A record of `job` that starts now and succeeded so far (the caller fills the outcome).
    pub fn new(
        run_id: &str,
        job: &str,
        attempt: u32,
        trigger: &str,
        scheduled_for: DateTime<Utc>,
    ) -> Self {
        let now = Utc::now();
        Self {
            run_id: run_id.to_string(),
            job: job.to_string(),
            attempt,
            trigger: trigger.to_string(),
            scheduled_for,
            started: now,
            ended: now,
            status: RunStatus::Succeeded,
            rows_read: 0,
            rows_written: 0,
            source_version: None,
            target_version: None,
            detail: String::new(),
            error: None,
        }
    }
}

impl RunRecord {
    /// Fills in what a successful run did.
    pub fn succeeded(&mut self, out: &super::child::ExecOutcome) {
        self.status = RunStatus::Succeeded;
        self.rows_read = out.rows_read;
        self.rows_written = out.rows_written;
        self.source_version = Some(out.source_version);
        self.target_version = out.target_version;
        self.detail = out.line.clone();
    }
}

/// A new run id (12 hex digits).
pub fn new_run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

fn ts_column(name: &str, v: Vec<i64>) -> PolarsResult<Column> {
    Column::new(name.into(), v).cast(&DataType::Datetime(
        TimeUnit::Microseconds,
        Some(polars::prelude::TimeZone::UTC),
    ))
}

fn to_frame(rows: &[RunRecord]) -> PolarsResult<DataFrame> {
    let s = |f: &dyn Fn(&RunRecord) -> String| rows.iter().map(f).collect::<Vec<String>>();
    let i = |f: &dyn Fn(&RunRecord) -> Option<i64>| rows.iter().map(f).collect::<Vec<_>>();
    let us = |f: &dyn Fn(&RunRecord) -> DateTime<Utc>| {
        rows.iter()
            .map(|r| f(r).timestamp_micros())
            .collect::<Vec<i64>>()
    };
    DataFrame::new_infer_height(vec![
        Column::new("run_id".into(), s(&|r| r.run_id.clone())),
        Column::new("job".into(), s(&|r| r.job.clone())),
        Column::new(
            "attempt".into(),
            rows.iter().map(|r| r.attempt as i32).collect::<Vec<_>>(),
        ),
        Column::new("trigger".into(), s(&|r| r.trigger.clone())),
        ts_column("scheduled_for", us(&|r| r.scheduled_for))?,
        ts_column("started", us(&|r| r.started))?,
        ts_column("ended", us(&|r| r.ended))?,
        Column::new(
            "duration_ms".into(),
            i(&|r| Some((r.ended - r.started).num_milliseconds())),
        ),
        Column::new("status".into(), s(&|r| r.status.as_str().to_string())),
        Column::new("rows_read".into(), i(&|r| Some(r.rows_read as i64))),
        Column::new("rows_written".into(), i(&|r| Some(r.rows_written as i64))),
        Column::new(
            "source_version".into(),
            i(&|r| r.source_version.map(|v| v as i64)),
        ),
        Column::new(
            "target_version".into(),
            i(&|r| r.target_version.map(|v| v as i64)),
        ),
        Column::new(
            "detail".into(),
            s(&|r| crate::redact::text(&r.detail).into_owned()),
        ),
        Column::new(
            "error".into(),
            rows.iter()
                .map(|r| {
                    r.error
                        .as_deref()
                        .map(|e| crate::redact::text(e).into_owned())
                })
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "day".into(),
            s(&|r| r.started.format("%Y-%m-%d").to_string()),
        ),
    ])
}

fn history_schema() -> TableSchema {
    let df = to_frame(&[]).unwrap_or_default();
    TableSchema::from_polars(df.schema(), &["day".to_string()]).unwrap_or_else(|_| TableSchema {
        columns: Vec::new(),
        partition_by: Vec::new(),
    })
}

/// The history table's folder under `lake`.
pub fn runs_path(lake: &Location) -> Location {
    lake.join(RUNS_TABLE)
}

/// Appends rows to the history table (created on first use).
#[derive(Debug)]
pub struct HistoryWriter {
    path: Location,
    table: Option<Table>,
}

impl HistoryWriter {
    /// A writer for the history under `lake`.
    pub fn new(lake: &Location) -> Self {
        Self {
            path: runs_path(lake),
            table: None,
        }
    }

    /// Appends `rows` in one commit.
    pub async fn append(&mut self, rows: &[RunRecord]) -> Result<(), LakeError> {
        if rows.is_empty() {
            return Ok(());
        }
        let schema = history_schema();
        let t = match self.table.as_mut() {
            Some(t) => t,
            None => {
                let t = Table::open_or_create(
                    &self.path,
                    &schema,
                    "lakectl_runs",
                    &[("delta.logRetentionDuration", "interval 2 days")],
                )
                .await?;
                self.table.insert(t)
            }
        };
        let convert = |message: String| LakeError::Convert {
            table: self.path.to_string(),
            message,
        };
        let mut df = to_frame(rows).map_err(|e| convert(e.to_string()))?;
        let batches = bridge::to_record_batches(&mut df, &schema.arrow()).map_err(convert)?;
        let meta = HashMap::from([("lakectl.runs".to_string(), serde_json::json!(rows.len()))]);
        if let Err(e) = t.append(batches, vec![], meta).await {
            // Another writer (a maintenance pass) may have moved the table on: reopen next time.
            self.table = None;
            return Err(e);
        }
        Ok(())
    }
}

/// Every row of the history under `lake` (none if it does not exist yet), oldest first.
pub async fn read_all(lake: &Location) -> Result<Vec<RunRecord>, LakeError> {
    let path = runs_path(lake);
    let Some(t) = Table::open(&path).await? else {
        return Ok(Vec::new());
    };
    let polars_err = |e: PolarsError| LakeError::Polars {
        table: path.to_string(),
        source: Box::new(e),
    };
    let us = |c: &str| col(c).cast(DataType::Int64);
    let df = scan(&t, &|_| true)?
        .select([
            col("run_id"),
            col("job"),
            col("attempt"),
            col("trigger"),
            us("scheduled_for"),
            us("started"),
            us("ended"),
            col("status"),
            col("rows_read"),
            col("rows_written"),
            col("source_version"),
            col("target_version"),
            col("detail"),
            col("error"),
        ])
        .sort(["started"], Default::default())
        .collect()
        .map_err(polars_err)?;
    let str_col = |n: &str| -> Result<Vec<Option<String>>, LakeError> {
        Ok(df
            .column(n)
            .and_then(|c| c.str().cloned())
            .map_err(polars_err)?
            .iter()
            .map(|v| v.map(str::to_string))
            .collect())
    };
    let i64_col = |n: &str| -> Result<Vec<Option<i64>>, LakeError> {
        Ok(df
            .column(n)
            .and_then(|c| c.cast(&DataType::Int64))
            .and_then(|c| c.i64().cloned())
            .map_err(polars_err)?
            .iter()
            .collect())
    };
    let (run_id, job, trigger, status, detail, error) = (
        str_col("run_id")?,
        str_col("job")?,
        str_col("trigger")?,
        str_col("status")?,
        str_col("detail")?,
        str_col("error")?,
    );
    let (attempt, sched, started, ended) = (
        i64_col("attempt")?,
        i64_col("scheduled_for")?,
        i64_col("started")?,
        i64_col("ended")?,
    );
    let (rr, rw, sv, tv) = (
        i64_col("rows_read")?,
        i64_col("rows_written")?,
        i64_col("source_version")?,
        i64_col("target_version")?,
    );
    let at = |v: Option<i64>| DateTime::from_timestamp_micros(v.unwrap_or(0)).unwrap_or_default();
    let mut out = Vec::with_capacity(df.height());
    for k in 0..df.height() {
        let Some(st) = status[k].as_deref().and_then(RunStatus::parse) else {
            continue;
        };
        out.push(RunRecord {
            run_id: run_id[k].clone().unwrap_or_default(),
            job: job[k].clone().unwrap_or_default(),
            attempt: attempt[k].unwrap_or(0) as u32,
            trigger: trigger[k].clone().unwrap_or_default(),
            scheduled_for: at(sched[k]),
            started: at(started[k]),
            ended: at(ended[k]),
            status: st,
            rows_read: rr[k].unwrap_or(0) as u64,
            rows_written: rw[k].unwrap_or(0) as u64,
            source_version: sv[k].map(|v| v as u64),
            target_version: tv[k].map(|v| v as u64),
            detail: detail[k].clone().unwrap_or_default(),
            error: error[k].clone(),
        });
    }
    Ok(out)
}

/// Per job: its last run that was not skipped, and its last fire time (skipped included).
#[derive(Debug, Clone, Default)]
pub struct JobHistory {
    /// The last attempt that ran.
    pub last_run: Option<RunRecord>,
    /// The last fire time the scheduler handled.
    pub last_fire: Option<DateTime<Utc>>,
    /// The end of the last successful run.
    pub last_success: Option<DateTime<Utc>>,
}

/// Summarizes `rows` (oldest first) per job.
pub fn by_job(rows: &[RunRecord]) -> BTreeMap<String, JobHistory> {
    let mut out: BTreeMap<String, JobHistory> = BTreeMap::new();
    for r in rows {
        let h = out.entry(r.job.clone()).or_default();
        h.last_fire = h.last_fire.max(Some(r.scheduled_for));
        if r.status != RunStatus::Skipped {
            h.last_run = Some(r.clone());
        }
        if r.status == RunStatus::Succeeded {
            h.last_success = h.last_success.max(Some(r.ended));
        }
    }
    out
}

/// What a maintenance pass did.
#[derive(Debug, Clone, Default)]
pub struct Maintenance {
    /// Days dropped by the retention.
    pub days_dropped: usize,
    /// Files compacted away.
    pub files_compacted: usize,
    /// Files vacuumed.
    pub files_vacuumed: usize,
}

/// Drops the days older than `retention`, compacts the small files of each day, and deletes
/// the files no longer referenced for an hour.
pub async fn maintain(lake: &Location, retention: Duration) -> Result<Maintenance, LakeError> {
    let path = runs_path(lake);
    if Table::open(&path).await?.is_none() {
        return Ok(Maintenance::default());
    }
    let cutoff = (Utc::now() - chrono::Duration::from_std(retention).unwrap_or_default())
        .format("%Y-%m-%d")
        .to_string();
    let mut m = Maintenance {
        days_dropped: drop_days(&path, &cutoff).await?,
        ..Maintenance::default()
    };
    let r = optimize::optimize(&path, &optimize::OptimizeOptions::default()).await?;
    m.files_compacted = r.files_removed;
    let v = vacuum::vacuum(&path, Duration::from_secs(3600), false, true).await?;
    m.files_vacuumed = v.files.len();
    Ok(m)
}

/// Removes the days before `cutoff` from the history table; returns how many. Another
/// scheduler dropping the same days at once makes one commit lose: it plans again on the new
/// snapshot, where those days are gone.
async fn drop_days(path: &Location, cutoff: &str) -> Result<usize, LakeError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut t = Table::open_existing(path).await?;
        let old: BTreeSet<String> = t
            .files()?
            .into_iter()
            .filter(|f| {
                f.partition
                    .get("day")
                    .cloned()
                    .flatten()
                    .is_some_and(|d| d.as_str() < cutoff)
            })
            .map(|f| f.rel)
            .collect();
        if old.is_empty() {
            return Ok(0);
        }
        let days: BTreeSet<&str> = old.iter().filter_map(|r| r.split('/').next()).collect();
        let dropped = days.len();
        let kind = Kind::Delete {
            predicate: format!("day < '{cutoff}'"),
        };
        let mut draft = Draft::default();
        t.remove(&mut draft, &old)?;
        match t.commit(kind, draft, Vec::new(), HashMap::new()).await {
            Ok(_) => return Ok(dropped),
            Err(e @ LakeError::Conflict { .. }) if attempt < 5 => {
                tracing::warn!(table = %path, attempt, error = %e, "dropping old days conflicted with a concurrent commit; retrying on the new snapshot");
            }
            Err(e) => return Err(e),
        }
    }
}

/// Writes history rows as they come (grouped into one commit when several are waiting), and
/// applies the retention once at start and then every hour.
pub async fn write_loop(
    lake: Location,
    retention: Duration,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<RunRecord>,
) {
    let mut writer = HistoryWriter::new(&lake);
    let mut pending: Vec<RunRecord> = Vec::new();
    let mut next_maintenance = tokio::time::Instant::now();
    loop {
        if tokio::time::Instant::now() >= next_maintenance {
            match maintain(&lake, retention).await {
                Ok(m) if m.days_dropped + m.files_compacted + m.files_vacuumed > 0 => {
                    tracing::info!(
                        days_dropped = m.days_dropped,
                        files_compacted = m.files_compacted,
                        files_vacuumed = m.files_vacuumed,
                        "run history maintained"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("run history maintenance failed: {e}"),
            }
            next_maintenance = tokio::time::Instant::now() + Duration::from_secs(3600);
        }
        let closed = tokio::select! {
            r = rx.recv() => match r {
                Some(r) => { pending.push(r); false }
                None => true,
            },
            _ = tokio::time::sleep(Duration::from_secs(60)) => false,
        };
        while let Ok(r) = rx.try_recv() {
            pending.push(r);
        }
        if !pending.is_empty() {
            match writer.append(&pending).await {
                Ok(()) => pending.clear(),
                Err(e) => {
                    tracing::warn!(
                        rows = pending.len(),
                        "cannot write the run history: {e}; retrying with the next run"
                    );
                    // Keep a bounded backlog if the lake is unavailable for long.
                    let excess = pending.len().saturating_sub(10_000);
                    pending.drain(..excess);
                    if closed {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        if closed {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(job: &str, status: RunStatus, minute: u32) -> RunRecord {
        let t = DateTime::parse_from_rfc3339(&format!("2026-01-01T00:{minute:02}:00Z"))
            .unwrap()
            .with_timezone(&Utc);
        RunRecord {
            run_id: format!("r{minute}"),
            job: job.into(),
            attempt: 1,
            trigger: "schedule".into(),
            scheduled_for: t,
            started: t,
            ended: t + chrono::Duration::seconds(1),
            status,
            rows_read: 10,
            rows_written: 2,
            source_version: Some(3),
            target_version: None,
            detail: String::new(),
            error: None,
        }
    }

    #[test]
    fn by_job_keeps_the_last_run_that_ran() {
        let rows = vec![
            rec("a", RunStatus::Succeeded, 1),
            rec("a", RunStatus::Skipped, 2),
            rec("b", RunStatus::Failed, 3),
        ];
        let h = by_job(&rows);
        assert_eq!(h["a"].last_run.as_ref().unwrap().run_id, "r1");
        assert_eq!(h["a"].last_fire, Some(rows[1].scheduled_for));
        assert_eq!(h["a"].last_success, Some(rows[0].ended));
        assert_eq!(h["b"].last_success, None);
    }

    #[test]
    fn the_frame_has_the_table_schema() {
        let df = to_frame(&[rec("a", RunStatus::Succeeded, 1)]).unwrap();
        assert_eq!(df.height(), 1);
        let s = history_schema();
        assert_eq!(s.partition_by, vec!["day".to_string()]);
        assert!(s.columns.iter().any(|c| c.name == "scheduled_for"));
    }
}
