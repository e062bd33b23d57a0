//! `lakectl jobs [--json]`

use chrono::Utc;

use crate::dashboard::age;
use crate::schedule::{list_jobs, JobRow};

/// Arguments of `jobs`.
pub type Args = super::JsonOnly;

/// Lists the jobs: schedule, time zone, next three fire times, last run and its status.
pub async fn run(g: &super::Globals, args: &Args) -> anyhow::Result<()> {
    let (spec, checked) = super::load_checked(g)?;
    let now = Utc::now();
    let rows = list_jobs(&spec, &checked, now).await?;
    super::print_report(args.json, &rows, |rows| {
        if rows.is_empty() {
            crate::outln!("no job in {}", spec.jobs_dir.display());
        }
        for r in rows {
            print_job(r, now);
        }
    })
}

fn print_job(r: &JobRow, now: chrono::DateTime<Utc>) {
    let tz: chrono_tz::Tz = r.timezone.parse().unwrap_or(chrono_tz::UTC);
    match &r.schedule {
        Some(s) => crate::outln!("{}  schedule \"{s}\" ({})", r.job, r.timezone),
        None => crate::outln!("{}  on demand (no schedule)", r.job),
    }
    if !r.next.is_empty() {
        let next: Vec<String> = r
            .next
            .iter()
            .map(|t| {
                t.with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M:%S %Z")
                    .to_string()
            })
            .collect();
        crate::outln!("  next     {}", next.join(", "));
    }
    match &r.last_run {
        Some(l) => crate::outln!(
            "  last run {} ({} ago, {:.1}s, attempt {}): {}{}",
            l.started.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z"),
            age((now - l.started).num_seconds().max(0)),
            (l.ended - l.started).num_milliseconds() as f64 / 1e3,
            l.attempt,
            l.status.as_str(),
            l.error
                .as_deref()
                .map(|e| format!(" - {}", e.lines().next().unwrap_or_default()))
                .unwrap_or_default()
        ),
        None => crate::outln!("  last run never"),
    }
    if let Some(s) = r.last_success {
        crate::outln!("  last success {} ago", age((now - s).num_seconds().max(0)));
    }
}
