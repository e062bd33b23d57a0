//! Job runs in a child process (`lakectl job-exec`, hidden): the scheduler sends the spec
//! texts it validated (so a file being edited meanwhile cannot change the run), the child
//! runs the job and prints its outcome as JSON. A timeout or a cancellation kills the child,
//! which really stops the computation; a Delta commit is atomic, so a killed run leaves the
//! target as it was (the data files it may have written are never referenced; `vacuum` deletes
//! them). A separate process also returns a job's memory to the system when it ends.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tracing::Instrument;

use crate::silver::{self, JobStatus, RunOptions};
use crate::spec::{Diagnostics, Overrides, PipelineSpec, SpecError};

/// What the child runs: the spec as validated by the scheduler.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecRequest {
    /// `pipelines.yaml`'s path (relative paths in it resolve against its folder).
    pub config: PathBuf,
    /// Its text.
    pub config_text: String,
    /// `--brokers`, `--lake` as given to the scheduler.
    pub overrides: Overrides,
    /// Every job file, as (path, text).
    pub jobs: Vec<(PathBuf, String)>,
    /// The job to run.
    pub job: String,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExecOutcome {
    /// Target version committed (None: up to date).
    pub target_version: Option<u64>,
    /// Source version read.
    pub source_version: u64,
    /// Source rows read.
    pub rows_read: u64,
    /// Rows written.
    pub rows_written: u64,
    /// The run's one-line report.
    pub line: String,
}

/// Why a run did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The job failed; the message is the child's error.
    #[error("{0}")]
    Failed(String),
    /// Stopped by its timeout.
    #[error("timed out after {}; stopped, nothing committed", crate::spec::units::fmt_duration(*.0))]
    TimedOut(Duration),
    /// Stopped by shutdown or a newer run.
    #[error("cancelled; stopped, nothing committed")]
    Cancelled,
    /// The child could not be started.
    #[error("cannot start the job process: {0}")]
    Spawn(std::io::Error),
}

/// The child side: runs `req` in this process.
pub async fn execute(req: ExecRequest) -> anyhow::Result<ExecOutcome> {
    let spec = load_spec(&req.config, &req.config_text, &req.overrides)?;
    let checked = silver::check::check_files(&spec, &req.jobs, Diagnostics::default())?;
    let job = checked
        .job(&req.job)
        .ok_or_else(|| anyhow::anyhow!("no job `{}` in the spec sent by the scheduler", req.job))?;
    let report = silver::run_job(&spec, &checked, job, &RunOptions::default()).await?;
    Ok(ExecOutcome::from(&report))
}

impl From<&silver::JobReport> for ExecOutcome {
    fn from(report: &silver::JobReport) -> Self {
        Self {
            target_version: match report.status {
                JobStatus::Committed(v) => Some(v),
                _ => None,
            },
            source_version: report.source_version,
            rows_read: report.rows_read,
            rows_written: report.rows_written,
            line: report.line(),
        }
    }
}

/// Builds the request for `job` from the spec texts.
pub fn request(
    spec: &PipelineSpec,
    config_text: &str,
    jobs: &[(PathBuf, String)],
    overrides: &Overrides,
    job: &str,
) -> ExecRequest {
    ExecRequest {
        config: spec.file.clone(),
        config_text: config_text.to_string(),
        overrides: overrides.clone(),
        jobs: jobs.to_vec(),
        job: job.to_string(),
    }
}

/// Loads `pipelines.yaml` text with the overrides applied.
pub fn load_spec(
    config: &std::path::Path,
    text: &str,
    o: &Overrides,
) -> Result<PipelineSpec, SpecError> {
    crate::spec::load_pipeline_str(config, text)?.with_overrides(o)
}

/// The parent side: runs `req` in a child process, killing it on `timeout` or when `cancel`
/// turns true. The child's logs are re-emitted in the current span (job and run id).
pub async fn run_in_child(
    req: &ExecRequest,
    timeout: Option<Duration>,
    cancel: crate::shutdown::StopFlag,
) -> Result<ExecOutcome, ExecError> {
    let mut cmd = tokio::process::Command::new(own_binary().map_err(ExecError::Spawn)?);
    cmd.args(["--log-format", "json", "job-exec"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe; it only asks the kernel to kill the child if the
    // scheduler dies (a second Ctrl-C exits at once), so no job outlives it.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(ExecError::Spawn)?;
    let body = serde_json::to_vec(req).map_err(|e| ExecError::Failed(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(&body)
            .await
            .map_err(|e| ExecError::Failed(format!("sending the job to its process: {e}")))?;
    }
    let mut stdout = child.stdout.take();
    let out_task = tokio::spawn(async move {
        let mut s = String::new();
        if let Some(o) = stdout.as_mut() {
            let _ = o.read_to_string(&mut s).await;
        }
        s
    });
    let stderr = child.stderr.take();
    let err_task = tokio::spawn(
        async move {
            let mut errors = Vec::new();
            if let Some(e) = stderr {
                let mut lines = BufReader::new(e).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(plain) = forward_log(&line) {
                        errors.push(plain);
                    }
                }
            }
            errors
        }
        .instrument(tracing::Span::current()),
    );

    let deadline = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let killed = tokio::select! {
        status = child.wait() => Ok(status),
        _ = deadline => Err(ExecError::TimedOut(timeout.unwrap_or_default())),
        _ = cancel.stopped() => Err(ExecError::Cancelled),
    };
    let status = match killed {
        Ok(s) => s.map_err(|e| ExecError::Failed(format!("waiting for the job process: {e}")))?,
        Err(e) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            return Err(e);
        }
    };
    let out = out_task.await.unwrap_or_default();
    let errors = err_task.await.unwrap_or_default();
    if status.success() {
        serde_json::from_str(out.trim()).map_err(|e| {
            ExecError::Failed(format!("the job process answered `{}`: {e}", out.trim()))
        })
    } else {
        let msg = errors
            .iter()
            .map(|l| l.strip_prefix("error: ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        Err(ExecError::Failed(if msg.is_empty() {
            format!("the job process exited with {status}")
        } else {
            msg
        }))
    }
}

/// This program. On Linux `/proc/self/exe`, which still runs this very binary after it was
/// rebuilt or replaced on disk while the scheduler runs.
fn own_binary() -> std::io::Result<PathBuf> {
    let proc_exe = PathBuf::from("/proc/self/exe");
    if cfg!(target_os = "linux") && proc_exe.exists() {
        return Ok(proc_exe);
    }
    std::env::current_exe()
}

/// Re-emits one JSON log line of the child; returns lines that are not logs (its error).
fn forward_log(line: &str) -> Option<String> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
        return (!line.trim().is_empty()).then(|| line.to_string());
    };
    let msg = v
        .pointer("/fields/message")
        .and_then(|m| m.as_str())
        .unwrap_or_default();
    match v.get("level").and_then(|l| l.as_str()).unwrap_or("INFO") {
        "ERROR" => tracing::error!("{msg}"),
        "WARN" => tracing::warn!("{msg}"),
        "DEBUG" => tracing::debug!("{msg}"),
        "TRACE" => tracing::trace!("{msg}"),
        _ => tracing::info!("{msg}"),
    }
    None
}
