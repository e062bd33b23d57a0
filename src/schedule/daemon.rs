//! `lakectl schedule`: one process running every bronze pipeline continuously and every job
//! with a `schedule` on its cron, reloading the spec when its files change.
//!
//! - A *generation* is a validated snapshot of `pipelines.yaml` and the job files (their
//!   texts). A change on disk builds a new one; if it is invalid, the running one stays and
//!   the located errors are logged once.
//! - Each bronze pipeline has a supervisor: it restarts the pipeline after an error (with a
//!   growing delay) and when its definition changes.
//! - Each scheduled job has a loop: it sleeps until the next fire time of the definition of
//!   the current generation, then starts a run (in a child process, see [`super::child`]) or
//!   skips it if the previous one still runs (`concurrency: forbid`).
//! - Every attempt is a row of the run history; metrics are updated as runs and batches end.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{error, info, warn, Instrument};

use super::child::{self, ExecError};
use super::fire::{fired_between, next_fire};
use super::runs::{self, new_run_id, RunRecord, RunStatus};
use crate::bronze::metrics::BatchObserver;
use crate::bronze::{run_pipeline, IngestOptions};
use crate::metrics::Metrics;
use crate::shutdown::StopFlag;
use crate::silver::CheckedJobs;
use crate::spec::job::{read_job_files, Concurrency, JobSpec};
use crate::spec::Overrides;
use crate::spec::{Diagnostics, PipelineSpec, SpecError};

/// How `lakectl schedule` runs.
#[derive(Debug, Clone)]
pub struct ScheduleOptions {
    /// `pipelines.yaml`.
    pub config: PathBuf,
    /// `--brokers` / `--lake`, also passed to the job processes.
    pub overrides: Overrides,
    /// How often the spec files are checked for changes.
    pub reload_interval: Duration,
    /// Run the bronze pipelines (false: jobs only).
    pub bronze: bool,
    /// The metrics, when served.
    pub metrics: Metrics,
}

/// A validated snapshot of the spec.
#[derive(Debug)]
pub struct Generation {
    /// The pipeline spec (overrides applied).
    pub spec: PipelineSpec,
    /// The checked jobs.
    pub checked: CheckedJobs,
    config_text: String,
    job_files: Vec<(PathBuf, String)>,
}

impl Generation {
    /// Reads and validates the spec at `config` and its job files.
    pub fn load(config: &std::path::Path, o: &Overrides) -> Result<Self, SpecError> {
        let text = std::fs::read_to_string(config).map_err(|source| SpecError::Read {
            path: config.display().to_string(),
            source,
        })?;
        Self::from_text(config, text, o)
    }

    fn from_text(config: &std::path::Path, text: String, o: &Overrides) -> Result<Self, SpecError> {
        let spec = child::load_spec(config, &text, o)?;
        let mut diags = Diagnostics::default();
        let job_files = read_job_files(&spec.jobs_dir, &mut diags);
        let checked = crate::silver::check::check_files(&spec, &job_files, diags)?;
        Ok(Self {
            spec,
            checked,
            config_text: text,
            job_files,
        })
    }

    /// The config text if the files on disk no longer read as this generation (an error if
    /// the config cannot be read any more).
    fn changed_on_disk(&self) -> Option<Result<String, SpecError>> {
        let text = match std::fs::read_to_string(&self.spec.file) {
            Ok(t) => t,
            Err(source) => {
                return Some(Err(SpecError::Read {
                    path: self.spec.file.display().to_string(),
                    source,
                }))
            }
        };
        let mut d = Diagnostics::default();
        if text != self.config_text
            || read_job_files(&self.spec.jobs_dir, &mut d) != self.job_files
            || !d.is_empty()
        {
            return Some(Ok(text));
        }
        None
    }

    /// The scheduled jobs.
    pub fn scheduled(&self) -> impl Iterator<Item = &JobSpec> {
        self.checked.jobs.iter().filter(|j| j.cron.is_some())
    }

    fn request(&self, o: &Overrides, job: &str) -> child::ExecRequest {
        child::request(&self.spec, &self.config_text, &self.job_files, o, job)
    }
}

/// Errors that stop the scheduler.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The spec is invalid at start.
    #[error(transparent)]
    Spec(#[from] SpecError),
}

/// What the scheduler shares with its tasks.
#[derive(Clone)]
struct Shared {
    opts: Arc<ScheduleOptions>,
    history: mpsc::UnboundedSender<RunRecord>,
    stop: StopFlag,
}

struct JobSlot {
    gen: watch::Sender<Arc<Generation>>,
    task: JoinHandle<()>,
}

struct BronzeSlot {
    fingerprint: String,
    stop: StopFlag,
    task: JoinHandle<()>,
}

/// Runs until `stop` is set, then shuts down gracefully (bronze finishes or abandons its
/// batch; running jobs get `scheduler.grace_period`, then are stopped).
pub async fn run(opts: ScheduleOptions, stop: StopFlag) -> Result<(), ScheduleError> {
    let gen = Arc::new(Generation::load(&opts.config, &opts.overrides)?);
    let lake = gen.spec.lake.clone();
    let retention = gen.spec.scheduler.history_retention;
    let (history_tx, history_rx) = mpsc::unbounded_channel();
    let history_task = tokio::spawn(runs::write_loop(lake.clone(), retention, history_rx));
    let past = match runs::read_all(&lake).await {
        Ok(rows) => runs::by_job(&rows),
        Err(e) => {
            warn!("cannot read the run history ({e}); catch-up runs are skipped");
            BTreeMap::new()
        }
    };
    let shared = Shared {
        opts: Arc::new(opts),
        history: history_tx,
        stop: stop.clone(),
    };
    let mut jobs: BTreeMap<String, JobSlot> = BTreeMap::new();
    let mut bronze: BTreeMap<String, BronzeSlot> = BTreeMap::new();
    let mut ended: Vec<JoinHandle<()>> = Vec::new();
    apply(&shared, &gen, &mut jobs, &mut bronze, &mut ended, |name| {
        past.get(name).and_then(|h| h.last_fire)
    });
    info!(
        jobs = jobs.len(),
        bronze = bronze.len(),
        "scheduler started (Ctrl-C or SIGTERM stops it)"
    );

    let mut current = gen;
    let mut rejected: Option<String> = None;
    let metrics = shared.opts.metrics.clone();
    'outer: loop {
        if stop.sleep(shared.opts.reload_interval).await {
            break 'outer;
        }
        let Some(changed) = current.changed_on_disk() else {
            continue;
        };
        let o = &shared.opts;
        match changed.and_then(|text| Generation::from_text(&o.config, text, &o.overrides)) {
            Ok(g) => {
                let g = Arc::new(g);
                let before: Vec<String> = current.scheduled().map(|j| j.name.clone()).collect();
                apply(&shared, &g, &mut jobs, &mut bronze, &mut ended, |_| None);
                let after: Vec<String> = g.scheduled().map(|j| j.name.clone()).collect();
                let added: Vec<&String> = after.iter().filter(|n| !before.contains(n)).collect();
                let removed: Vec<&String> = before.iter().filter(|n| !after.contains(n)).collect();
                info!(?added, ?removed, jobs = after.len(), "spec reloaded");
                metrics.add(
                    "lakectl_scheduler_reloads_total",
                    &[("result", "applied")],
                    1.0,
                );
                current = g;
                rejected = None;
            }
            Err(e) => {
                // Log a given problem once, not at every check.
                let key = e.to_string();
                if rejected.as_deref() != Some(key.as_str()) {
                    error!("spec change rejected; still running the previous spec:\n{e}");
                    metrics.add(
                        "lakectl_scheduler_reloads_total",
                        &[("result", "rejected")],
                        1.0,
                    );
                    rejected = Some(key);
                }
            }
        }
    }

    info!(
        "stopping: no new runs; bronze finishes its batch; running jobs get {}",
        crate::spec::units::fmt_duration(current.spec.scheduler.grace_period)
    );
    for b in bronze.values() {
        b.stop.set();
    }
    let tasks = jobs
        .into_values()
        .map(|j| j.task)
        .chain(bronze.into_values().map(|b| b.task))
        .chain(ended);
    futures::future::join_all(tasks).await;
    drop(shared);
    let _ = history_task.await;
    info!("scheduler stopped");
    Ok(())
}

/// Makes the running tasks match `gen`: new jobs start, removed ones stop after their run,
/// changed ones get the new definition for their next run; bronze pipelines whose definition
/// changed restart.
fn apply(
    shared: &Shared,
    gen: &Arc<Generation>,
    jobs: &mut BTreeMap<String, JobSlot>,
    bronze: &mut BTreeMap<String, BronzeSlot>,
    ended: &mut Vec<JoinHandle<()>>,
    last_fire: impl Fn(&str) -> Option<DateTime<Utc>>,
) {
    ended.retain(|t| !t.is_finished());
    let wanted: Vec<String> = gen.scheduled().map(|j| j.name.clone()).collect();
    for (name, slot) in std::mem::take(jobs) {
        // A removed job's loop sees it is gone and ends after its current run.
        let _ = slot.gen.send(gen.clone());
        if wanted.contains(&name) {
            jobs.insert(name, slot);
        } else {
            shared.opts.metrics.forget(("job", &name));
            ended.push(slot.task);
        }
    }
    for name in wanted {
        if jobs.contains_key(&name) {
            continue;
        }
        let (tx, rx) = watch::channel(gen.clone());
        let task = tokio::spawn(
            job_loop(name.clone(), rx, shared.clone(), last_fire(&name))
                .instrument(tracing::info_span!("job", job = %name)),
        );
        jobs.insert(name, JobSlot { gen: tx, task });
    }
    shared
        .opts
        .metrics
        .set("lakectl_scheduler_jobs", &[], jobs.len() as f64);

    if !shared.opts.bronze {
        return;
    }
    let spec = &gen.spec;
    let mut keep = BTreeMap::new();
    for b in &spec.bronze {
        let fingerprint = format!("{:?}|{:?}|{:?}", spec.kafka, spec.lake, b);
        match bronze.remove(&b.name) {
            Some(slot) if slot.fingerprint == fingerprint => {
                keep.insert(b.name.clone(), slot);
            }
            old => {
                let stop = StopFlag::new();
                let prev = old.map(|o| {
                    info!(pipeline = %b.name, "definition changed: restarting the pipeline");
                    o.stop.set();
                    o.task
                });
                let task = tokio::spawn(
                    bronze_loop(
                        spec.clone(),
                        b.name.clone(),
                        shared.clone(),
                        stop.clone(),
                        prev,
                    )
                    .instrument(tracing::info_span!("bronze", pipeline = %b.name)),
                );
                keep.insert(
                    b.name.clone(),
                    BronzeSlot {
                        fingerprint,
                        stop,
                        task,
                    },
                );
            }
        }
    }
    for (name, slot) in std::mem::take(bronze) {
        info!(pipeline = %name, "removed from the spec: stopping the pipeline");
        slot.stop.set();
        ended.push(slot.task);
    }
    *bronze = keep;
}

/// Runs one bronze pipeline continuously; restarts it after an error.
async fn bronze_loop(
    spec: PipelineSpec,
    name: String,
    shared: Shared,
    stop: StopFlag,
    previous: Option<JoinHandle<()>>,
) {
    if let Some(p) = previous {
        let _ = p.await;
    }
    let Some(b) = spec.bronze(&name).cloned() else {
        return;
    };
    let metrics = shared.opts.metrics.clone();
    let m = metrics.clone();
    let opts = IngestOptions {
        on_batch: Some(BatchObserver(Arc::new(move |p, batch| {
            m.observe_batch(p, batch)
        }))),
        ..Default::default()
    };
    let mut delay = Duration::from_secs(1);
    let labels = [("pipeline", name.as_str())];
    while !stop.is_set() && !shared.stop.is_set() {
        metrics.set("lakectl_bronze_up", &labels, 1.0);
        let started = std::time::Instant::now();
        let r = run_pipeline(&spec, &b, &opts, &stop).await;
        metrics.set("lakectl_bronze_up", &labels, 0.0);
        match r {
            Ok(s) => {
                info!(
                    batches = s.batches,
                    consumed = s.consumed,
                    written = s.written,
                    "pipeline stopped"
                );
                break;
            }
            Err(e) => {
                if started.elapsed() > Duration::from_secs(60) {
                    delay = Duration::from_secs(1);
                }
                error!(
                    "{e}; restarting in {}",
                    crate::spec::units::fmt_duration(delay)
                );
                tokio::select! {
                    _ = stop.stopped() => {}
                    _ = shared.stop.stopped() => {}
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(60));
            }
        }
    }
}

/// A run in progress.
struct Running {
    cancel: StopFlag,
    task: JoinHandle<()>,
}

/// Schedules one job until it leaves the spec or the scheduler stops.
async fn job_loop(
    name: String,
    mut gen_rx: watch::Receiver<Arc<Generation>>,
    shared: Shared,
    last_fire: Option<DateTime<Utc>>,
) {
    let mut running: Option<Running> = None;
    let mut after = Utc::now();
    // The fire time last logged as "next run" (a reload that keeps it says nothing).
    let mut announced = None;
    {
        let gen = gen_rx.borrow_and_update().clone();
        if let Some(job) = gen.checked.job(&name) {
            if let (Some(cron), Some(last)) = (&job.cron, last_fire) {
                if job.policy.catchup && fired_between(cron, job.timezone, last, after) {
                    info!(since = %last, "missed schedules during downtime: one catch-up run");
                    running = Some(start_run(&shared, &gen, job, after, "catchup"));
                } else if fired_between(cron, job.timezone, last, after) {
                    info!(since = %last, "missed schedules during downtime are not run (catchup: false)");
                }
            }
        }
    }
    loop {
        let gen = gen_rx.borrow_and_update().clone();
        let Some(job) = gen.checked.job(&name).filter(|j| j.cron.is_some()) else {
            info!("removed from the spec: no more runs");
            break;
        };
        let (Some(cron), tz) = (&job.cron, job.timezone) else {
            break;
        };
        let Some(fire) = next_fire(cron, tz, after) else {
            // A schedule with no future fire time: wait for a new definition.
            if wait_change(&mut gen_rx, &shared.stop).await {
                continue;
            }
            break;
        };
        if Some(fire) != announced {
            info!(next_run = %fire.with_timezone(&tz).to_rfc3339(), "next run");
            announced = Some(fire);
        }
        match sleep_until(fire, &mut gen_rx, &shared.stop).await {
            Wake::Fire => {}
            Wake::Changed => continue,
            Wake::Stop => break,
        }
        // Fire times missed while asleep (a suspended machine) collapse into this one.
        let now = Utc::now();
        let mut fire = fire;
        while let Some(t) = next_fire(cron, tz, fire).filter(|t| *t <= now) {
            fire = t;
        }
        after = fire;
        if let Some(r) = running.as_ref().filter(|r| !r.task.is_finished()) {
            match job.policy.concurrency {
                Concurrency::Forbid => {
                    warn!(scheduled_for = %fire, "previous run still going: this run is skipped (concurrency: forbid)");
                    record_skip(&shared, job, fire);
                    continue;
                }
                Concurrency::Replace => {
                    warn!(scheduled_for = %fire, "previous run still going: stopping it (concurrency: replace)");
                    r.cancel.set();
                    if let Some(r) = running.take() {
                        let _ = r.task.await;
                    }
                }
            }
        }
        running = Some(start_run(&shared, &gen, job, fire, "schedule"));
    }
    // Leaving: a running run finishes, within the grace period when the scheduler stops.
    if let Some(r) = running {
        if shared.stop.is_set() {
            let grace = gen_rx.borrow().spec.scheduler.grace_period;
            let mut task = r.task;
            if tokio::time::timeout(grace, &mut task).await.is_err() {
                warn!("still running after the grace period: stopping it (nothing committed)");
                r.cancel.set();
                let _ = task.await;
            }
        } else {
            let _ = r.task.await;
        }
    }
}

enum Wake {
    Fire,
    Changed,
    Stop,
}

async fn sleep_until(
    t: DateTime<Utc>,
    gen_rx: &mut watch::Receiver<Arc<Generation>>,
    stop: &StopFlag,
) -> Wake {
    loop {
        let left = (t - Utc::now()).to_std().unwrap_or_default();
        if left.is_zero() {
            return Wake::Fire;
        }
        // The wall clock is read again at least every 100 ms (a suspended machine, a clock
        // step); a stop or a spec change wakes at once.
        tokio::select! {
            _ = stop.stopped() => return Wake::Stop,
            _ = tokio::time::sleep(left.min(Duration::from_millis(100))) => {}
            r = gen_rx.changed() => return if r.is_ok() { Wake::Changed } else { Wake::Stop },
        }
    }
}

async fn wait_change(gen_rx: &mut watch::Receiver<Arc<Generation>>, stop: &StopFlag) -> bool {
    tokio::select! {
        _ = stop.stopped() => false,
        r = gen_rx.changed() => r.is_ok(),
    }
}

fn record_skip(shared: &Shared, job: &JobSpec, fire: DateTime<Utc>) {
    let mut r = RunRecord::new(&new_run_id(), &job.name, 0, "schedule", fire);
    r.status = RunStatus::Skipped;
    r.detail = "the previous run was still going (concurrency: forbid)".into();
    let _ = shared.history.send(r);
    shared.opts.metrics.add(
        "lakectl_job_runs_total",
        &[("job", &job.name), ("status", "skipped")],
        1.0,
    );
}

fn start_run(
    shared: &Shared,
    gen: &Arc<Generation>,
    job: &JobSpec,
    fire: DateTime<Utc>,
    trigger: &'static str,
) -> Running {
    let cancel = StopFlag::new();
    let run_id = new_run_id();
    let span = tracing::info_span!("run", job = %job.name, run_id = %run_id);
    let task = tokio::spawn(
        run_attempts(
            shared.clone(),
            gen.clone(),
            job.name.clone(),
            run_id,
            fire,
            trigger,
            cancel.clone(),
        )
        .instrument(span),
    );
    Running { cancel, task }
}

/// One run: attempts with exponential backoff until success or no retry left.
async fn run_attempts(
    shared: Shared,
    gen: Arc<Generation>,
    name: String,
    run_id: String,
    fire: DateTime<Utc>,
    trigger: &'static str,
    cancel: StopFlag,
) {
    let Some(job) = gen.checked.job(&name) else {
        return;
    };
    let policy = job.policy;
    let metrics = &shared.opts.metrics;
    let jl = [("job", name.as_str())];
    let req = gen.request(&shared.opts.overrides, &name);
    // Present at 0 before the first failure, so a rate over it is defined.
    metrics.add("lakectl_job_failures_total", &jl, 0.0);
    for attempt in 1..=policy.retries + 1 {
        info!(attempt, scheduled_for = %fire, trigger, "run started");
        metrics.set("lakectl_job_running", &jl, 1.0);
        let mut rec = RunRecord::new(&run_id, &name, attempt, trigger, fire);
        let started = rec.started;
        let result = child::run_in_child(&req, policy.timeout, cancel.clone()).await;
        let ended = Utc::now();
        rec.ended = ended;
        metrics.set("lakectl_job_running", &jl, 0.0);
        metrics.set(
            "lakectl_job_last_duration_seconds",
            &jl,
            (ended - started).num_milliseconds() as f64 / 1e3,
        );
        let last = attempt > policy.retries || shared.stop.is_set();
        let retry = match result {
            Ok(out) => {
                info!("{}", out.line);
                rec.succeeded(&out);
                metrics.set(
                    "lakectl_job_last_success_timestamp_seconds",
                    &jl,
                    ended.timestamp_millis() as f64 / 1e3,
                );
                false
            }
            Err(ExecError::Cancelled) => {
                warn!("run cancelled; nothing committed");
                rec.status = RunStatus::Cancelled;
                rec.error = Some(ExecError::Cancelled.to_string());
                false
            }
            Err(e) => {
                rec.status = match (&e, last) {
                    (_, false) => RunStatus::Retrying,
                    (ExecError::TimedOut(_), true) => RunStatus::TimedOut,
                    (_, true) => RunStatus::Failed,
                };
                rec.error = Some(e.to_string());
                metrics.add("lakectl_job_failures_total", &jl, 1.0);
                if last {
                    error!(attempt, "run failed: {e}");
                    rec.detail = format!("failed after {attempt} attempt(s)");
                } else {
                    let delay = policy.backoff(attempt);
                    rec.detail = format!("retry in {}", crate::spec::units::fmt_duration(delay));
                    warn!(attempt, "run failed: {e}; {}", rec.detail);
                }
                !last
            }
        };
        metrics.add(
            "lakectl_job_runs_total",
            &[("job", &name), ("status", rec.status.as_str())],
            1.0,
        );
        let _ = shared.history.send(rec);
        if !retry {
            return;
        }
        let delay = policy.backoff(attempt);
        tokio::select! {
            _ = shared.stop.stopped() => return,
            _ = cancel.stopped() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}
