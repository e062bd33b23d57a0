//! `lakectl run bronze [NAME…]`, `lakectl run silver [JOB…]`, `lakectl run JOB…`

use anyhow::bail;

use crate::bronze::{run_pipeline, IngestOptions, PipelineSummary};
use crate::schedule::child::ExecOutcome;
use crate::schedule::runs::{new_run_id, HistoryWriter, RunRecord, RunStatus};
use crate::shutdown::StopFlag;
use crate::silver::{self, run::select, RunOptions};

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// `bronze [NAME…]` (bronze pipelines; none = all), `silver [JOB…]` (those jobs, or every
    /// job, in dependency order), or job names (`silver bronze` runs a job named `bronze`).
    #[arg(required = true)]
    pub targets: Vec<String>,
    /// Bronze: stop once every partition has reached its end (instead of running until Ctrl-C).
    #[arg(long)]
    pub until_caught_up: bool,
    /// Bronze: only these Kafka partitions (comma separated), to split a topic between workers.
    #[arg(long, value_delimiter = ',', conflicts_with = "worker")]
    pub partitions: Option<Vec<i32>>,
    /// Bronze: be worker I of N (0-based): own the partitions p with p % N == I. Several
    /// workers, on one machine or several, commit to the same tables exactly once.
    #[arg(long, value_name = "I/N")]
    pub worker: Option<crate::bronze::ingest::Worker>,
    /// Silver: recompute everything, whatever changed.
    #[arg(long)]
    pub full_refresh: bool,
}

/// Runs what `targets` names.
pub async fn run(g: &super::Globals, args: &Args, stop: StopFlag) -> anyhow::Result<()> {
    let spec = super::load_spec(g)?;
    let (kind, names) = args
        .targets
        .split_first()
        .map(|(k, n)| (k.as_str(), n))
        .unwrap_or(("", &[]));
    match kind {
        "bronze" => run_bronze(&spec, names, args, stop).await,
        // `run silver JOB…`: those jobs (so a job may be named `bronze` or `silver`).
        "silver" => run_jobs(&spec, names, args).await,
        _ => run_jobs(&spec, &args.targets, args).await,
    }
}

async fn run_jobs(
    spec: &crate::spec::PipelineSpec,
    names: &[String],
    args: &Args,
) -> anyhow::Result<()> {
    let checked = silver::load_and_check(spec)?;
    if checked.jobs.is_empty() {
        bail!(
            "no job in {} (add a job file there)",
            spec.jobs_dir.display()
        );
    }
    let jobs = select(&checked, names)
        .map_err(|m| anyhow::anyhow!("{m}; to run bronze pipelines use `lakectl run bronze`"))?;
    let opts = RunOptions {
        full_refresh: args.full_refresh,
        dry_run: false,
        ..Default::default()
    };
    let pb = crate::term::stderr_is_tty().then(|| {
        let pb = indicatif::ProgressBar::new(jobs.len() as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} jobs {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    });
    // Manual runs go to the run history too (trigger `manual`), whatever their outcome.
    let mut history = Vec::new();
    let mut failure = None;
    for job in jobs {
        if let Some(pb) = &pb {
            pb.set_message(job.name.clone());
        }
        let started = chrono::Utc::now();
        let result = silver::run_job(spec, &checked, job, &opts).await;
        history.push(manual_record(&job.name, started, &result));
        let report = match result {
            Ok(r) => r,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        match &pb {
            Some(pb) => {
                pb.suspend(|| crate::outln!("{}", report.line()));
                pb.inc(1);
            }
            None => crate::outln!("{}", report.line()),
        }
    }
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    if let Err(e) = HistoryWriter::new(&spec.lake).append(&history).await {
        tracing::warn!("cannot record the runs in the run history: {e}");
    }
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// The run history row of a manual run.
fn manual_record(
    job: &str,
    started: chrono::DateTime<chrono::Utc>,
    result: &Result<silver::JobReport, silver::SilverError>,
) -> RunRecord {
    let mut r = RunRecord::new(&new_run_id(), job, 1, "manual", started);
    r.started = started;
    match result {
        Ok(rep) => r.succeeded(&ExecOutcome::from(rep)),
        Err(e) => {
            r.status = RunStatus::Failed;
            r.error = Some(e.to_string());
        }
    }
    r
}

async fn run_bronze(
    spec: &crate::spec::PipelineSpec,
    names: &[String],
    args: &Args,
    stop: StopFlag,
) -> anyhow::Result<()> {
    let selected: Vec<_> = if names.is_empty() {
        spec.bronze.iter().collect()
    } else {
        let mut v = Vec::new();
        for n in names {
            match spec.bronze(n) {
                Some(b) => v.push(b),
                None => {
                    let known: Vec<&str> = spec.bronze.iter().map(|b| b.name.as_str()).collect();
                    bail!(
                        "no bronze pipeline `{n}` in {} (pipelines: {})",
                        spec.file.display(),
                        known.join(", ")
                    );
                }
            }
        }
        v
    };
    if selected.is_empty() {
        bail!("{} defines no bronze pipeline", spec.file.display());
    }
    let opts = IngestOptions {
        until_caught_up: args.until_caught_up,
        progress: crate::term::stderr_is_tty(),
        partitions: args.partitions.clone(),
        worker: args.worker,
        on_batch: None,
    };
    let runs = selected.iter().map(|b| run_pipeline(spec, b, &opts, &stop));
    let results = futures::future::join_all(runs).await;
    let mut first_err = None;
    for r in results {
        match r {
            Ok(s) => print_summary(&s),
            Err(e) => {
                if first_err.is_some() {
                    tracing::error!("{e}");
                }
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

fn print_summary(s: &PipelineSummary) {
    let q: u64 = s.quarantined.values().sum();
    let reasons: Vec<String> = s
        .quarantined
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    crate::outln!(
        "{}: {} batches, {} consumed, {} written, {} quarantined{}, {} late dropped, {:.2}s ({:.0} records/s), bronze version {}",
        s.pipeline,
        s.batches,
        s.consumed,
        s.written,
        q,
        if reasons.is_empty() { String::new() } else { format!(" ({})", reasons.join(", ")) },
        s.late_dropped,
        s.elapsed.as_secs_f64(),
        s.consumed as f64 / s.elapsed.as_secs_f64().max(1e-9),
        s.bronze_version.map_or("-".into(), |v| v.to_string()),
    );
}
