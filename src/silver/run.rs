//! Running a job: scan the source snapshot (only the changed partitions when incremental),
//! compute (partition-wise in bounded chunks or in one streaming plan, see [`super::chunks`]),
//! enforce expectations, and make ONE Delta commit to the target: the new files, the removal
//! of the files they replace, and a `txn` recording the source version read. A crash before
//! the commit leaves the previous version intact.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use chrono::Utc;

use polars::prelude::*;
use tokio::task::block_in_place;

use super::check::CheckedJobs;
use super::expect::Checks;
use super::prepare::{partition_key, prepare};
use super::{app_id, SilverError};
use crate::lake::changes::{self, PartitionKey};
use crate::lake::commit::Kind;
use crate::lake::read::DataFile;
use crate::lake::{bridge, Draft, Table, TableSchema};
use crate::spec::job::{JobSpec, OnSchemaChange, OnViolation, WriteMode};
use crate::spec::PipelineSpec;

pub use super::expect::ExpectationResult;
pub use super::prepare::{plan_job, JobPlan, Scope};
pub use super::RunOptions;

/// Outcome of a job run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus {
    /// The source has not changed since the last run.
    UpToDate,
    /// The source changed, but no data the job reads.
    NoDataChange,
    /// A new target version.
    Committed(u64),
    /// Dry run: nothing written.
    DryRun,
}

/// What a job run did.
#[derive(Debug, Clone)]
pub struct JobReport {
    /// Job name.
    pub job: String,
    /// Outcome.
    pub status: JobStatus,
    /// Source version read.
    pub source_version: u64,
    /// What was recomputed.
    pub scope: Option<Scope>,
    /// Source rows read (from file statistics).
    pub rows_read: u64,
    /// Rows written.
    pub rows_written: u64,
    /// Expectation results.
    pub expectations: Vec<ExpectationResult>,
    /// Wall time.
    pub duration: Duration,
}

impl JobReport {
    /// One human line.
    pub fn line(&self) -> String {
        let status = match &self.status {
            JobStatus::UpToDate => "up to date".to_string(),
            JobStatus::NoDataChange => "up to date (no data change in the source)".to_string(),
            JobStatus::Committed(v) => format!("committed version {v}"),
            JobStatus::DryRun => "dry run".to_string(),
        };
        let scope = match &self.scope {
            None => String::new(),
            Some(Scope::Full(why)) => format!(", recomputed everything ({why})"),
            Some(Scope::Partitions(p)) => {
                format!(", recomputed {} partition(s): {}", p.len(), fmt_keys(p))
            }
            Some(Scope::NewFiles(f)) => format!(", appended from {} new file(s)", f.len()),
            Some(Scope::Keys { keys, rewrite, .. }) => format!(
                ", recomputed {keys} key(s), rewrote {} file(s)",
                rewrite.len()
            ),
        };
        let exp: Vec<String> = self
            .expectations
            .iter()
            .map(|e| {
                format!(
                    "{}: {}",
                    e.name,
                    if e.violations == 0 {
                        "ok".to_string()
                    } else {
                        format!("{} violation(s), {:?}", e.violations, e.action).to_lowercase()
                    }
                )
            })
            .collect();
        format!(
            "{}: {status}{scope}; source version {}, {} rows read, {} rows written{}; {:.2}s",
            self.job,
            self.source_version,
            self.rows_read,
            self.rows_written,
            if exp.is_empty() {
                String::new()
            } else {
                format!("; expectations [{}]", exp.join(", "))
            },
            self.duration.as_secs_f64()
        )
    }
}

fn fmt_keys(keys: &BTreeSet<PartitionKey>) -> String {
    let v: Vec<String> = keys.iter().take(5).map(changes::key_text).collect();
    if keys.len() > 5 {
        format!("{} …", v.join(", "))
    } else {
        v.join(", ")
    }
}

/// Attempts of a run whose commit loses to compactions of its target.
const ATTEMPTS: usize = 5;

/// Runs one job. A run whose commit lost to a compaction of its target (which changed no
/// data) is planned again on the new snapshot; one that lost to another run of the job fails
/// with nothing committed.
pub async fn run_job(
    spec: &PipelineSpec,
    checked: &CheckedJobs,
    job: &JobSpec,
    opts: &RunOptions,
) -> Result<JobReport, SilverError> {
    let mut attempt = 1;
    loop {
        match run_once(spec, checked, job, opts).await {
            Err(SilverError::Lake {
                source:
                    e @ crate::lake::LakeError::Conflict {
                        by_compaction: true,
                        ..
                    },
                ..
            }) if attempt < ATTEMPTS => {
                tracing::warn!(job = %job.name, attempt, error = %e, "the job's commit lost to a compaction of its target; planning again on the new snapshot");
                attempt += 1;
            }
            other => return other,
        }
    }
}

async fn run_once(
    spec: &PipelineSpec,
    checked: &CheckedJobs,
    job: &JobSpec,
    opts: &RunOptions,
) -> Result<JobReport, SilverError> {
    let started = Instant::now();
    let lake = &spec.lake;
    let lake_err = SilverError::lake_of(&job.name);
    let compute_err = SilverError::compute_of(&job.name);
    let prepared = prepare(spec, checked, job, opts, Utc::now()).await?;
    let mut report = JobReport {
        job: job.name.clone(),
        status: JobStatus::UpToDate,
        source_version: prepared.source_version,
        scope: prepared.scope.clone(),
        rows_read: prepared.rows_read,
        rows_written: 0,
        expectations: Vec::new(),
        duration: Duration::ZERO,
    };
    let Some(work) = prepared.work else {
        report.duration = started.elapsed();
        return Ok(report);
    };
    if let Some(Scope::Partitions(p)) = &prepared.scope {
        if p.is_empty() {
            report.status = JobStatus::NoDataChange;
        }
    }

    // The output schema, from the plan (every chunk runs the same plan).
    let mut out_schema = match work.plans.first() {
        Some((lf, _)) => lf.clone().collect_schema().map_err(compute_err)?,
        None => return Err(compute_err(polars_err!(ComputeError: "no plan to run"))),
    };
    if let Some(c) = &job.cluster {
        Arc::make_mut(&mut out_schema).with_column(c.column.as_str().into(), DataType::Int32);
    }
    let mut centres = None;
    let schema = TableSchema::from_polars(&out_schema, &job.partition_by).map_err(|m| {
        SilverError::Compute {
            job: job.name.clone(),
            message: m,
        }
    })?;
    let path = lake.join(&job.to);
    let mut draft = Draft::default();
    let (mut target, schema_change) = match schema_policy(
        job,
        opts,
        prepared.target,
        prepared.definition_changed,
        &schema,
        &path,
        &mut draft,
    )? {
        Policy::Ready(target, change) => (target, change),
        Policy::RebuildFromScratch => {
            let again = RunOptions {
                source_schema_changed: true,
                ..*opts
            };
            return Box::pin(run_once(spec, checked, job, &again)).await;
        }
    };

    // Each chunk: compute, check, write its files (not committed); only the add actions stay
    // in memory. A failed expectation still counts its violations over every chunk, then the
    // files already written are deleted: nothing was committed.
    let mut checks = Checks::new(job)?;
    for (lf, engine) in work.plans {
        let mut df = block_in_place(|| lf.collect_with_engine(engine))
            .map_err(compute_err)?
            .unwrap_single();
        if let Some(c) = &job.cluster {
            let (clustered, c) =
                block_in_place(|| super::cluster::assign(df, c)).map_err(compute_err)?;
            (df, centres) = (clustered, Some(c));
        }
        let failed_before = checks.failed.is_some();
        df = checks.apply(df).map_err(compute_err)?;
        if checks.failed.is_some() {
            if !failed_before {
                if let Some(t) = &target {
                    t.discard(&mut draft).await;
                }
            }
            continue;
        }
        report.rows_written += df.height() as u64;
        if opts.dry_run || df.height() == 0 {
            continue;
        }
        if target.is_none() {
            target = Some(create_target(job, &path, &schema, prepared.last).await?);
        }
        let Some(t) = &target else { continue };
        let batches = block_in_place(|| bridge::to_record_batches(&mut df, &schema.arrow()))
            .map_err(|m| SilverError::Compute {
                job: job.name.clone(),
                message: m,
            })?;
        drop(df);
        t.write(&mut draft, batches).await.map_err(lake_err)?;
    }
    report.expectations = checks.results();
    for x in &report.expectations {
        if x.action == OnViolation::Warn && x.violations > 0 {
            tracing::warn!(job = %job.name, expectation = %x.name, violations = x.violations, "expectation violated (on_violation: warn)");
        }
    }
    if let Some((expectation, check)) = checks.failed.take() {
        let rows = report
            .expectations
            .iter()
            .find(|e| e.name == expectation)
            .map_or(0, |e| e.violations);
        return Err(SilverError::Expectation {
            job: job.name.clone(),
            expectation,
            check,
            rows,
        });
    }
    if opts.dry_run {
        report.status = JobStatus::DryRun;
        report.duration = started.elapsed();
        return Ok(report);
    }
    let target = match &mut target {
        Some(t) => t,
        None => target.insert(create_target(job, &path, &schema, prepared.last).await?),
    };

    let existing = target.files().map_err(lake_err)?;
    let replaced = replaced_files(job, prepared.scope.as_ref(), &existing);
    target.remove(&mut draft, &replaced).map_err(lake_err)?;
    let kind = commit_kind(job, prepared.scope.as_ref());
    let meta = commit_info(
        job,
        prepared.source_version,
        report.rows_written,
        prepared.scope.as_ref(),
        schema_change.as_deref(),
    );
    // Not committed: `commit` deletes the files written for it.
    let version = target
        .commit(kind, draft, prepared.txns, meta)
        .await
        .map_err(lake_err)?;
    if report.status != JobStatus::NoDataChange {
        report.status = JobStatus::Committed(version);
    }
    if let (Some(c), Some(centres)) = (&job.cluster, centres) {
        super::cluster::write_centres(lake, job, c, centres, version).await;
    }
    report.duration = started.elapsed();
    Ok(report)
}

/// What a run does about its target's schema.
enum Policy {
    /// Go on with this target (None: created when there is something to commit), and the
    /// schema change the draft carries, if any.
    Ready(Option<Table>, Option<String>),
    /// A source's schema changed the output of a job that says `on_schema_change: rebuild`:
    /// run again from scratch.
    RebuildFromScratch,
}

/// A job whose output columns changed (an edit of its YAML, a source whose schema evolved)
/// follows its `on_schema_change`: `rebuild` replaces the table (new schema, old files
/// removed, new files added), `append_new_columns` adds the new columns to the table's schema
/// and recomputes only what changed (older rows read null), `fail` waits for an explicit
/// --full-refresh. Always in the run's one commit (`draft`).
fn schema_policy(
    job: &JobSpec,
    opts: &RunOptions,
    target: Option<Table>,
    definition_changed: bool,
    schema: &TableSchema,
    path: &crate::storage::Location,
    draft: &mut Draft,
) -> Result<Policy, SilverError> {
    let lake_err = SilverError::lake_of(&job.name);
    // Created when there is something to commit (a failed or stopped first run leaves no
    // table behind).
    let Some(t) = target else {
        return Ok(Policy::Ready(None, None));
    };
    let rebuild = opts.full_refresh
        || opts.source_schema_changed
        || (definition_changed && job.on_schema_change == OnSchemaChange::Rebuild);
    let append_columns = job.on_schema_change == OnSchemaChange::AppendNewColumns;
    let existing = t.schema().map_err(lake_err)?;
    match schema.diff(&existing) {
        None => Ok(Policy::Ready(Some(t), None)),
        Some(diff) if rebuild => {
            t.replace_schema(draft, schema).map_err(lake_err)?;
            Ok(Policy::Ready(Some(t), Some(diff)))
        }
        Some(diff) if append_columns && schema.added_columns(&existing).is_some() => {
            t.evolve_schema(draft, schema).map_err(lake_err)?;
            Ok(Policy::Ready(Some(t), Some(diff)))
        }
        // The job is as it was: a source's schema changed its output. Under `rebuild` that
        // is one more reason to rebuild, from scratch.
        Some(_) if job.on_schema_change == OnSchemaChange::Rebuild => Ok(Policy::RebuildFromScratch),
        Some(diff) => Err(lake_err(crate::lake::LakeError::SchemaMismatch {
            table: path.to_string(),
            diff,
            hint: format!(
                "the job's output changed{}: rebuild the table with `lakectl run {} --full-refresh`",
                match job.on_schema_change {
                    OnSchemaChange::Fail => " and it says `on_schema_change: fail`",
                    OnSchemaChange::AppendNewColumns =>
                        " beyond new columns (`on_schema_change: append_new_columns` only adds columns)",
                    OnSchemaChange::Rebuild => "",
                },
                job.name
            ),
        })),
    }
}

/// The target's files a run replaces: none for an append of new source files, the files of
/// the recomputed partitions or keys, or every file (a full recomputation).
fn replaced_files(job: &JobSpec, scope: Option<&Scope>, existing: &[DataFile]) -> BTreeSet<String> {
    let replaced = |keep: &dyn Fn(&DataFile) -> bool| {
        existing
            .iter()
            .filter(|f| keep(f))
            .map(|f| f.rel.clone())
            .collect()
    };
    match (scope, job.mode) {
        // An append adds to what is there, except when it recomputes everything (first run,
        // --full-refresh, a changed definition): then it replaces the table.
        (Some(Scope::NewFiles(_)), WriteMode::Append) => BTreeSet::new(),
        (Some(Scope::Partitions(keys)), WriteMode::ReplacePartitions) => {
            replaced(&|f| keys.contains(&partition_key(f, &job.partition_by)))
        }
        (Some(Scope::Keys { rewrite, .. }), _) => replaced(&|f| rewrite.contains(&f.rel)),
        _ => replaced(&|_| true),
    }
}

/// What the run's commit does, for the conflict rules of the one commit path.
fn commit_kind(job: &JobSpec, scope: Option<&Scope>) -> Kind {
    match scope {
        Some(Scope::NewFiles(_)) => Kind::Append,
        Some(Scope::Partitions(keys)) if job.mode == WriteMode::ReplacePartitions => {
            Kind::ReplacePartitions {
                predicate: format!("{} IN ({})", job.partition_by.join(","), fmt_keys(keys)),
            }
        }
        Some(Scope::Keys { .. }) => Kind::ReplaceFiles,
        _ => Kind::Overwrite,
    }
}

/// The commitInfo entries of a run: the job, the source version read, the rows written, and
/// why it recomputed what it did (`lakectl history` shows it).
fn commit_info(
    job: &JobSpec,
    source_version: u64,
    rows_written: u64,
    scope: Option<&Scope>,
    schema_change: Option<&str>,
) -> HashMap<String, serde_json::Value> {
    HashMap::from([
        ("lakectl.job".to_string(), serde_json::json!(job.name)),
        (
            "lakectl.source_version".to_string(),
            serde_json::json!(source_version),
        ),
        (
            "lakectl.rows_written".to_string(),
            serde_json::json!(rows_written),
        ),
        // Why this run recomputed what it did (`lakectl history` shows it).
        (
            "lakectl.reason".to_string(),
            serde_json::json!(match (scope, schema_change) {
                (Some(Scope::Full(why)), Some(diff)) => format!(
                    "{why}; output columns changed ({}): table rebuilt",
                    diff.trim().replace('\n', "; ")
                ),
                (Some(Scope::Full(why)), None) => why.to_string(),
                (Some(Scope::Partitions(p)), Some(diff)) => format!(
                    "the job's definition changed; output columns added ({}): appended to the table, {} changed partition(s) recomputed, older rows read null",
                    diff.trim().replace('\n', "; "),
                    p.len()
                ),
                (Some(Scope::Partitions(p)), None) =>
                    format!("source changed in {} partition(s)", p.len()),
                (Some(Scope::NewFiles(f)), _) => format!("{} new source file(s)", f.len()),
                (Some(Scope::Keys { new_files, keys, rewrite }), _) => format!(
                    "{new_files} new source file(s): versions of {keys} key(s) recomputed, {} file(s) rewritten",
                    rewrite.len()
                ),
                (None, _) => String::new(),
            }),
        ),
    ])
}

/// Creates the job's target table, or opens the one a concurrent run just created: if that
/// run already committed, this one read the same source and must not commit it again.
async fn create_target(
    job: &JobSpec,
    path: &crate::storage::Location,
    schema: &TableSchema,
    last: Option<i64>,
) -> Result<Table, SilverError> {
    let lake_err = SilverError::lake_of(&job.name);
    let t = Table::open_or_create(path, schema, &job.name, &[])
        .await
        .map_err(lake_err)?;
    if t.txn_version(&app_id(&job.name)).await.map_err(lake_err)? != last {
        return Err(lake_err(crate::lake::LakeError::Conflict {
            table: path.to_string(),
            what: format!("job {} (another run committed first)", job.name),
            by_compaction: false,
        }));
    }
    Ok(t)
}

/// Everything the jobs of `checked` need, in order: `names` empty = all.
pub fn select<'a>(checked: &'a CheckedJobs, names: &[String]) -> Result<Vec<&'a JobSpec>, String> {
    for n in names {
        if checked.job(n).is_none() {
            let known: Vec<&str> = checked.jobs.iter().map(|j| j.name.as_str()).collect();
            return Err(format!("no job `{n}` (jobs: {})", known.join(", ")));
        }
    }
    Ok(checked
        .jobs
        .iter()
        .filter(|j| names.is_empty() || names.contains(&j.name))
        .collect())
}
