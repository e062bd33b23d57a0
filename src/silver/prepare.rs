//! Deciding a job run: open its source and target, read what the job last recorded, decide
//! what is recomputed ([`Scope`]) and how ([`Execution`]), and build the plans. Nothing is
//! computed or written here; [`super::run`] executes what this returns.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use deltalake::kernel::Transaction;
use polars::prelude::*;
use tokio::task::block_in_place;

use super::check::CheckedJobs;
use super::chunks::{plan_execution, Execution};
use super::plan::build;
use super::RunOptions;
use super::{app_id, definition_app_id, source_app_id, SilverError};
use crate::lake::changes::{self, AddedFile, PartitionKey};
use crate::lake::read::{scan_files, DataFile};
use crate::lake::{Table, TableSchema};
use crate::spec::job::{JobQuery, JobSpec, OnSchemaChange, WriteMode};
use crate::spec::PipelineSpec;

/// What was (or would be) recomputed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The whole source.
    Full(&'static str),
    /// Only these source partitions.
    Partitions(BTreeSet<PartitionKey>),
    /// Only files added as new data since the last run (append).
    NewFiles(Vec<AddedFile>),
    /// Only the keys found in new source data (scd2): their versions are recomputed and the
    /// target files holding them rewritten.
    Keys {
        /// Source files added since the last run.
        new_files: usize,
        /// Keys found in them.
        keys: usize,
        /// Target files rewritten (relative paths).
        rewrite: BTreeSet<String>,
    },
}

struct Source {
    table: Table,
    /// Its path in the lake.
    rel: String,
    schema: TableSchema,
    version: u64,
}

async fn open_source(
    spec: &PipelineSpec,
    checked: &CheckedJobs,
    job: &JobSpec,
    reference: &str,
) -> Result<Source, SilverError> {
    let lake_err = SilverError::lake_of(&job.name);
    let t = checked
        .catalog
        .resolve(reference)
        .ok_or_else(|| SilverError::Compute {
            job: job.name.clone(),
            message: format!("unknown table {reference}"),
        })?;
    let path = spec.table_path(&t.path);
    let table =
        Table::open(&path)
            .await
            .map_err(lake_err)?
            .ok_or_else(|| SilverError::NoSource {
                job: job.name.clone(),
                table: t.path.clone(),
                hint: match &t.kind {
                    crate::lake::catalog::TableKind::Silver { job } => {
                        format!("run `lakectl run {job}` first")
                    }
                    _ => "run `lakectl run bronze` first".into(),
                },
            })?;
    let schema = table.schema().map_err(lake_err)?;
    let version = table.version();
    Ok(Source {
        table,
        rel: t.path.clone(),
        schema,
        version,
    })
}

/// Decides what a run recomputes, or None when it is up to date.
async fn decide_scope(
    job: &JobSpec,
    src: &Source,
    last: Option<i64>,
    definition_changed: bool,
    opts: &RunOptions,
) -> Option<Scope> {
    if opts.source_schema_changed {
        return Some(Scope::Full("a source's schema changed the job's output"));
    }
    if !opts.full_refresh && !definition_changed && last == Some(src.version as i64) {
        return None;
    }
    if last.is_some_and(|l| l > src.version as i64) {
        return Some(Scope::Full(
            "the source table is older than the version last read (recreated?)",
        ));
    }
    // An edit recomputes everything, except under `on_schema_change: append_new_columns`
    // (dbt's incremental models): then only what changed since the last run.
    let rebuild_on_edit =
        definition_changed && job.on_schema_change != OnSchemaChange::AppendNewColumns;
    let Some(last) = last.filter(|_| !opts.full_refresh && !rebuild_on_edit) else {
        return Some(Scope::Full(if opts.full_refresh {
            "--full-refresh"
        } else if definition_changed {
            "the job's definition changed since the last run"
        } else {
            "first run"
        }));
    };
    match job.mode {
        WriteMode::Overwrite => Some(Scope::Full("mode overwrite")),
        WriteMode::ReplacePartitions => {
            if !job
                .partition_by
                .iter()
                .all(|p| src.schema.partition_by.contains(p))
            {
                return Some(Scope::Full(
                    "the source is not partitioned by the job's partition columns",
                ));
            }
            match changes::between(
                &src.table,
                (last + 1) as u64,
                src.version,
                &job.partition_by,
            )
            .await
            {
                Some(c) => Some(Scope::Partitions(c.partitions)),
                None => Some(Scope::Full(
                    "the source log since the last run is unavailable or changed the schema",
                )),
            }
        }
        // Only files the log added as new data: a compaction's files hold rows already read.
        WriteMode::Append => {
            match changes::between(&src.table, (last + 1) as u64, src.version, &[]).await {
                Some(c) => Some(Scope::NewFiles(c.added_files)),
                None => Some(Scope::Full(
                    "the source log since the last run is unavailable",
                )),
            }
        }
    }
}

/// The source files `added` since the last run, which must still be there.
async fn new_files(
    job: &JobSpec,
    src: &Source,
    added: &[changes::AddedFile],
    last: Option<i64>,
) -> Result<Vec<DataFile>, SilverError> {
    let rels: Vec<&str> = added.iter().map(|a| a.rel.as_str()).collect();
    if let Some(gone) = crate::lake::read::first_missing(&src.table, &rels)
        .await
        .map_err(SilverError::lake_of(&job.name))?
    {
        return Err(SilverError::Compute {
            job: job.name.clone(),
            message: format!(
                "source file {gone} (new data since version {}) is gone, deleted by a vacuum before this job read it; rebuild the target with `lakectl run {} --full-refresh`",
                last.unwrap_or(0),
                job.name
            ),
        });
    }
    let root = src.table.location().clone();
    Ok(added
        .iter()
        .map(|a| DataFile {
            path: root.object(&a.rel),
            rel: a.rel.clone(),
            partition: a.partition.clone(),
            rows: a.rows,
            size: a.size,
        })
        .collect())
}

/// An scd2 run: all of it (first run, a refresh, an edit), or the keys found in the rows
/// appended since the last run, recomputed from the whole source, with the dimension files
/// that hold them rewritten.
async fn prepare_scd2(
    job: &JobSpec,
    src: &Source,
    target: Option<&Table>,
    scope: Scope,
    last: Option<i64>,
) -> Result<(Work, Scope, u64), SilverError> {
    let lake_err = SilverError::lake_of(&job.name);
    let compute_err = SilverError::compute_of(&job.name);
    let JobQuery::Scd2 { where_, scd2 } = &job.query else {
        unreachable!("an scd2 job")
    };
    let all = src.table.files().map_err(lake_err)?;
    let rows_read = all.iter().filter_map(|f| f.rows).sum::<usize>() as u64;
    let rows = super::scd2::source_rows(
        scan_files(&src.table, all).map_err(lake_err)?,
        where_.as_deref(),
        scd2,
    )
    .map_err(compute_err)?;
    let execution =
        Execution::Streaming("an scd2 job orders each key's rows over the whole source");
    let (Scope::NewFiles(added), Some(target)) = (&scope, target) else {
        let work = Work {
            plans: vec![(
                super::scd2::versions(rows, scd2).map_err(compute_err)?,
                Engine::InMemory,
            )],
            execution,
        };
        return Ok((work, scope, rows_read));
    };
    let new = new_files(job, src, added, last).await?;
    let new_rows = super::scd2::source_rows(
        scan_files(&src.table, new).map_err(lake_err)?,
        where_.as_deref(),
        scd2,
    )
    .map_err(compute_err)?;
    let keys = block_in_place(|| super::scd2::keys_of(new_rows, scd2)).map_err(compute_err)?;
    // Most members changed (a sales stream touches most active clients every day): selecting
    // them would cost more than it saves; recompute everything, as the first run did.
    let members = block_in_place(|| super::scd2::members(target)).map_err(lake_err)?;
    if keys.height() * 2 > members {
        let work = Work {
            plans: vec![(
                super::scd2::versions(rows, scd2).map_err(compute_err)?,
                Engine::InMemory,
            )],
            execution,
        };
        return Ok((
            work,
            Scope::Full("most of the dimension's keys are in the new data"),
            rows_read,
        ));
    }
    let rewrite =
        block_in_place(|| super::scd2::files_with_keys(target, &keys, scd2)).map_err(lake_err)?;
    let kept = scan_files(target, rewrite.clone()).map_err(lake_err)?;
    let lf = super::scd2::incremental(rows, &keys, kept, scd2).map_err(compute_err)?;
    let scope = Scope::Keys {
        new_files: added.len(),
        keys: keys.height(),
        rewrite: super::scd2::rels(&rewrite),
    };
    let work = Work {
        plans: vec![(lf, Engine::InMemory)],
        execution,
    };
    Ok((work, scope, rows_read))
}

pub(crate) fn partition_key(f: &DataFile, cols: &[String]) -> PartitionKey {
    cols.iter()
        .map(|c| f.partition.get(c).cloned().flatten())
        .collect()
}

/// What `lakectl plan` shows of a run.
#[derive(Debug, Clone)]
pub struct JobPlan {
    /// Polars' optimised plan (of the first chunk when partition-wise).
    pub plan: String,
    /// What an incremental run recomputes; None when up to date.
    pub scope: Option<Scope>,
    /// How it executes; None when up to date.
    pub execution: Option<Execution>,
    /// The source version read.
    pub source_version: u64,
}

/// The plan a run would execute, with its scope and execution: for `lakectl plan`.
pub async fn plan_job(
    spec: &PipelineSpec,
    checked: &CheckedJobs,
    job: &JobSpec,
    opts: &RunOptions,
) -> Result<JobPlan, SilverError> {
    let Prepared {
        work,
        scope,
        source_version,
        ..
    } = prepare(spec, checked, job, opts, Utc::now()).await?;
    let Some(work) = work else {
        return Ok(JobPlan {
            plan: "(nothing to compute: up to date)".into(),
            scope,
            execution: None,
            source_version,
        });
    };
    let plan = match work.plans.first() {
        Some((lf, _)) => lf
            .describe_optimized_plan()
            .map_err(|e| SilverError::Compute {
                job: job.name.clone(),
                message: e.to_string(),
            })?,
        None => String::new(),
    };
    Ok(JobPlan {
        plan,
        scope,
        execution: Some(work.execution),
        source_version,
    })
}

/// What a run computes: one plan per chunk, run one after the other.
pub(crate) struct Work {
    /// The plans, each with the engine it runs on (one plan for a streaming run).
    pub(crate) plans: Vec<(LazyFrame, Engine)>,
    /// How they run.
    pub(crate) execution: Execution,
}

/// What a run computes, and the target snapshot it was decided on.
pub(crate) struct Prepared {
    /// What to compute; None when up to date.
    pub(crate) work: Option<Work>,
    /// What is recomputed.
    pub(crate) scope: Option<Scope>,
    /// The source version read (the sum of the sources' versions for a SQL job).
    pub(crate) source_version: u64,
    /// Source rows read (from file statistics).
    pub(crate) rows_read: u64,
    /// The target as read when deciding; the commit is built on this very snapshot, so a
    /// concurrent run of the job that committed since cannot be overlooked.
    pub(crate) target: Option<Table>,
    /// The source version the job recorded in that snapshot.
    pub(crate) last: Option<i64>,
    /// The `txn`s recording what this run read.
    pub(crate) txns: Vec<Transaction>,
    /// The job's definition changed since the target was written: rebuild it.
    pub(crate) definition_changed: bool,
}

pub(crate) async fn prepare(
    spec: &PipelineSpec,
    checked: &CheckedJobs,
    job: &JobSpec,
    opts: &RunOptions,
    now: DateTime<Utc>,
) -> Result<Prepared, SilverError> {
    let lake = &spec.lake;
    let lake_err = SilverError::lake_of(&job.name);
    let compute_err = SilverError::compute_of(&job.name);
    let target = Table::open(&lake.join(&job.to)).await.map_err(lake_err)?;
    let stored = |id: String| {
        let t = target.as_ref();
        async move {
            match t {
                Some(t) => t.txn_version(&id).await,
                None => Ok(None),
            }
        }
    };
    let last = stored(app_id(&job.name)).await.map_err(lake_err)?;
    let fingerprint = job.fingerprint();
    // A table written before fingerprints were recorded counts as unchanged.
    let definition_changed = stored(definition_app_id(&job.name))
        .await
        .map_err(lake_err)?
        .is_some_and(|f| f != fingerprint);
    let mut txns = vec![Transaction::new(definition_app_id(&job.name), fingerprint)];
    // What each form computes: (work, scope, source version, rows read); None work when up
    // to date.
    let (work, scope, source_version, rows_read) = match &job.query {
        JobQuery::Sql(sql) => {
            // Every table the query names, at its latest version; what was read is recorded
            // per source, so a change to any one of them is seen exactly.
            let mut tables = Vec::new();
            let mut version = 0;
            let mut rows = 0;
            let mut unchanged = !opts.full_refresh && !definition_changed && target.is_some();
            for name in
                polars::sql::extract_table_identifiers(sql, false, true).map_err(compute_err)?
            {
                let src = open_source(spec, checked, job, &name).await?;
                version += src.version;
                let id = source_app_id(&job.name, &src.rel);
                unchanged &=
                    stored(id.clone()).await.map_err(lake_err)? == Some(src.version as i64);
                txns.push(Transaction::new(id, src.version as i64));
                let files = src.table.files().map_err(lake_err)?;
                rows += files.iter().filter_map(|f| f.rows).sum::<usize>() as u64;
                tables.push((name, scan_files(&src.table, files).map_err(lake_err)?));
            }
            txns.push(Transaction::new(app_id(&job.name), version as i64));
            if unchanged {
                (None, None, version, 0)
            } else {
                let lf = build(job, None, &tables, now).map_err(compute_err)?;
                let why = if opts.full_refresh {
                    "--full-refresh"
                } else if definition_changed {
                    "the job's definition changed since the last run"
                } else if last.is_none() {
                    "first run"
                } else {
                    "sql jobs recompute fully"
                };
                let work = Work {
                    plans: vec![(lf, Engine::Streaming)],
                    execution: Execution::Streaming("a SQL job is run as written"),
                };
                (Some(work), Some(Scope::Full(why)), version, rows)
            }
        }
        JobQuery::Scd2 { .. } => {
            let from = job.from.as_deref().unwrap_or_default();
            let src = open_source(spec, checked, job, from).await?;
            txns.push(Transaction::new(app_id(&job.name), src.version as i64));
            let scope = decide_scope(job, &src, last, definition_changed, opts).await;
            match scope {
                None => (None, None, src.version, 0),
                Some(scope) => {
                    let (w, s, r) = prepare_scd2(job, &src, target.as_ref(), scope, last).await?;
                    (Some(w), Some(s), src.version, r)
                }
            }
        }
        JobQuery::Structured(_) => {
            let from = job.from.as_deref().unwrap_or_default();
            let src = open_source(spec, checked, job, from).await?;
            txns.push(Transaction::new(app_id(&job.name), src.version as i64));
            match decide_scope(job, &src, last, definition_changed, opts).await {
                None => (None, None, src.version, 0),
                Some(scope) => {
                    let (work, rows) = structured_work(job, &src, &scope, last, now).await?;
                    (Some(work), Some(scope), src.version, rows)
                }
            }
        }
    };
    Ok(Prepared {
        work,
        scope,
        source_version,
        rows_read,
        target,
        last,
        txns,
        definition_changed,
    })
}

/// The plans of a structured job over the source files `scope` names, and the rows they hold.
async fn structured_work(
    job: &JobSpec,
    src: &Source,
    scope: &Scope,
    last: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(Work, u64), SilverError> {
    let lake_err = SilverError::lake_of(&job.name);
    let compute_err = SilverError::compute_of(&job.name);
    let files: Vec<DataFile> = match scope {
        Scope::Full(_) => src.table.files().map_err(lake_err)?,
        Scope::Partitions(keys) => src
            .table
            .files()
            .map_err(lake_err)?
            .into_iter()
            .filter(|f| keys.contains(&partition_key(f, &job.partition_by)))
            .collect(),
        Scope::NewFiles(added) => new_files(job, src, added, last).await?,
        Scope::Keys { .. } => unreachable!("decide_scope gives no Keys scope"),
    };
    let rows = files.iter().filter_map(|f| f.rows).sum::<usize>() as u64;
    let (execution, chunks) = plan_execution(job, &src.schema, files);
    let mut plans = Vec::with_capacity(chunks.len());
    for chunk in chunks {
        let lf = scan_files(&src.table, chunk.files).map_err(lake_err)?;
        plans.push((
            build(job, Some(lf), &[], now).map_err(compute_err)?,
            chunk.engine,
        ));
    }
    Ok((Work { plans, execution }, rows))
}
