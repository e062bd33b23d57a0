//! What the server answers, computed in one place: a background task refreshes it every
//! interval and publishes it on a watch channel; requests only read the latest copy, so a
//! hundred viewers cost what one does. The sales figures are recomputed only when a table's
//! Delta version moved (the cache key); the health panels (lag, freshness) every interval.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::cli::Globals;
use crate::dashboard::{self, html, Dashboard};
use crate::metrics::Metrics;
use crate::shutdown::StopFlag;
use crate::silver::CheckedJobs;
use crate::spec::PipelineSpec;

/// One refresh's answers, ready to send.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Counts refreshes that changed anything (the page's event id).
    pub seq: u64,
    /// When the figures were last checked against the tables.
    pub checked_at: DateTime<Utc>,
    /// `/`: the whole page.
    pub page: Bytes,
    /// `/panels`: the part of the page that updates.
    pub panels: Bytes,
    /// `/api/dashboard`: `dashboard --json`.
    pub dashboard: Bytes,
    /// `/api/status`: `status --json`.
    pub status: Bytes,
    /// `/api/jobs`: `jobs --json`.
    pub jobs: Bytes,
    /// Why the last refresh failed, when it did (the answers above are then the last good
    /// ones).
    pub error: Option<String>,
}

impl Snapshot {
    /// Before the first figures: a page that says why there are none yet and reloads itself.
    fn waiting(why: &str) -> Self {
        let empty = Bytes::from_static(b"null");
        let body = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"3\"><title>Sales dashboard</title><link rel=\"stylesheet\" href=\"/app.css\"></head><body><main><section class=\"notice\"><b>No figures yet</b><ul><li>{}</li></ul></section></main></body></html>",
            html::esc(why)
        );
        let page = html_bytes(&body);
        Self {
            seq: 0,
            checked_at: Utc::now(),
            page: page.clone(),
            panels: page,
            dashboard: empty.clone(),
            status: empty.clone(),
            jobs: empty,
            error: Some(why.to_string()),
        }
    }

    /// `last` with a new error: the last good answers stay, or a waiting page if none.
    fn failed(last: &Snapshot, why: String) -> Self {
        if last.seq == 0 {
            return Self::waiting(&why);
        }
        Snapshot {
            error: Some(why),
            checked_at: Utc::now(),
            ..last.clone()
        }
    }
}

/// The receiving end: the latest snapshot.
pub type Latest = watch::Receiver<Arc<Snapshot>>;

fn json<T: serde::Serialize>(v: &T) -> Bytes {
    let text = serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    Bytes::from(crate::redact::text(&text).into_owned())
}

fn html_bytes(s: &str) -> Bytes {
    Bytes::from(crate::redact::text(s).into_owned())
}

/// The table versions the figures were computed from.
type Key = Vec<(String, Option<u64>)>;

struct Refresher {
    globals: Globals,
    metrics: Metrics,
    spec: Option<(PipelineSpec, CheckedJobs)>,
    key: Option<Key>,
    figures: Option<Dashboard>,
    seq: u64,
}

impl Refresher {
    /// Loads the spec again (a job added while serving shows up); keeps the last good one
    /// when the files are invalid now, and says so.
    fn reload(&mut self) -> Option<String> {
        match crate::cli::load_checked(&self.globals) {
            Ok(s) => {
                self.spec = Some(s);
                None
            }
            Err(e) => Some(format!(
                "the spec is invalid now, serving the last valid one: {e:#}"
            )),
        }
    }

    async fn refresh(&mut self, last: &Snapshot) -> Snapshot {
        let spec_problem = self.reload();
        let Some((spec, checked)) = &self.spec else {
            return Snapshot::failed(last, spec_problem.unwrap_or_default());
        };
        let status =
            match crate::status::gather(spec, checked, crate::kafka::admin::REPORT_TIMEOUT).await {
                Ok(s) => s,
                Err(e) => return Snapshot::failed(last, format!("cannot read the lake: {e}")),
            };
        let key: Key = status
            .tables
            .iter()
            .map(|t| (t.path.clone(), t.version))
            .collect();
        if self.key.as_ref() != Some(&key) || self.figures.is_none() {
            let started = Instant::now();
            self.figures = Some(dashboard::figures(spec, checked).await);
            self.metrics
                .add("lakectl_dashboard_computations_total", &[], 1.0);
            self.metrics.set(
                "lakectl_dashboard_compute_seconds",
                &[],
                started.elapsed().as_secs_f64(),
            );
            self.key = Some(key);
        }
        let now = Utc::now();
        let mut d = self.figures.clone().unwrap_or_default();
        d.set_health(spec, &status, now);
        if let Some(p) = &spec_problem {
            d.problems.push(p.clone());
        }
        let jobs = match crate::schedule::list_jobs(spec, checked, now).await {
            Ok(rows) => json(&rows),
            Err(e) => json(&serde_json::json!({ "error": e.to_string() })),
        };
        self.seq += 1;
        Snapshot {
            seq: self.seq,
            checked_at: now,
            page: html_bytes(&html::page(&d)),
            panels: html_bytes(&html::panels(&d)),
            dashboard: json(&d),
            status: json(&status),
            jobs,
            error: None,
        }
    }
}

/// Starts the refreshing task: the first snapshot is computed before this returns, then one
/// every `interval` until `stop`.
pub async fn start(
    globals: Globals,
    interval: Duration,
    metrics: Metrics,
    stop: StopFlag,
) -> Latest {
    let mut r = Refresher {
        globals,
        metrics,
        spec: None,
        key: None,
        figures: None,
        seq: 0,
    };
    let first = Arc::new(
        r.refresh(&Snapshot::waiting("computing the dashboard"))
            .await,
    );
    // Each problem logged once, not at every interval.
    let mut said = first.error.clone();
    if let Some(e) = &said {
        tracing::warn!("dashboard: {e}");
    }
    let (tx, rx) = watch::channel(first);
    tokio::spawn(async move {
        loop {
            if stop.sleep(interval).await {
                return;
            }
            let last = tx.borrow().clone();
            let next = r.refresh(&last).await;
            if next.error != said {
                match &next.error {
                    Some(e) => tracing::warn!("dashboard: {e}"),
                    None => tracing::info!("dashboard: figures computed"),
                }
                said = next.error.clone();
            }
            if tx.send(Arc::new(next)).is_err() {
                return;
            }
        }
    });
    rx
}
