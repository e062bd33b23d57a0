//! The scheduler (`lakectl schedule`): bronze pipelines run continuously and silver jobs on
//! their cron, in one long-running process, with hot reload of the spec, a run history
//! table, Prometheus metrics and graceful shutdown. `lakectl jobs` reads what it recorded.

pub mod child;
pub mod daemon;
pub mod fire;
pub mod runs;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::lake::LakeError;
use crate::silver::CheckedJobs;
use crate::spec::PipelineSpec;

pub use daemon::{run, ScheduleError, ScheduleOptions};

/// One line of `lakectl jobs`.
#[derive(Debug, Clone, Serialize)]
pub struct JobRow {
    /// Job name.
    pub job: String,
    /// Cron expression, or None for a job run on demand only.
    pub schedule: Option<String>,
    /// IANA time zone of the schedule.
    pub timezone: String,
    /// The next three fire times.
    pub next: Vec<DateTime<Utc>>,
    /// The last attempt that ran, if any.
    pub last_run: Option<runs::RunRecord>,
    /// End of the last successful run.
    pub last_success: Option<DateTime<Utc>>,
}

/// Every job of `checked`, with its next fire times and its last run from the history.
pub async fn list_jobs(
    spec: &PipelineSpec,
    checked: &CheckedJobs,
    now: DateTime<Utc>,
) -> Result<Vec<JobRow>, LakeError> {
    let rows = runs::read_all(&spec.lake).await?;
    let past = runs::by_job(&rows);
    Ok(checked
        .jobs
        .iter()
        .map(|j| {
            let h = past.get(&j.name).cloned().unwrap_or_default();
            JobRow {
                job: j.name.clone(),
                schedule: j.schedule.clone(),
                timezone: j.timezone.name().to_string(),
                next: j
                    .cron
                    .as_ref()
                    .map(|c| fire::next_fires(c, j.timezone, now, 3))
                    .unwrap_or_default(),
                last_run: h.last_run,
                last_success: h.last_success,
            }
        })
        .collect())
}
