//! The Prometheus metrics of a running lakectl (`/metrics` of `lakectl schedule --http` and
//! `lakectl serve`): per bronze pipeline rows/s, lag, watermark, batch duration and counters;
//! per job runs by status, failures, last success time, last duration; the HTTP server's
//! requests and dashboard computations. Kept in a `prometheus-client` registry (the
//! Prometheus project's Rust client) and encoded in the Prometheus text format.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::bronze::metrics::BatchMetrics;

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Name, type and help of every metric (the client adds the help's final period).
const FAMILIES: &[(&str, &str, &str)] = &[
    (
        "lakectl_bronze_batches_total",
        "counter",
        "Micro-batches committed",
    ),
    (
        "lakectl_bronze_rows_in_total",
        "counter",
        "Records consumed from Kafka",
    ),
    (
        "lakectl_bronze_rows_written_total",
        "counter",
        "Rows written to the bronze table",
    ),
    (
        "lakectl_bronze_rows_quarantined_total",
        "counter",
        "Rows written to the quarantine table",
    ),
    (
        "lakectl_bronze_rows_per_second",
        "gauge",
        "Records per second of the last batch",
    ),
    (
        "lakectl_bronze_lag_records",
        "gauge",
        "Records left in Kafka after the last batch",
    ),
    (
        "lakectl_bronze_watermark_timestamp_seconds",
        "gauge",
        "Event-time watermark (Unix seconds)",
    ),
    (
        "lakectl_bronze_batch_duration_seconds",
        "gauge",
        "Poll, decode, write and commit time of the last batch",
    ),
    ("lakectl_bronze_up", "gauge", "1 while the pipeline runs"),
    (
        "lakectl_job_runs_total",
        "counter",
        "Job run attempts, by how they ended",
    ),
    (
        "lakectl_job_failures_total",
        "counter",
        "Failed or timed-out job attempts",
    ),
    (
        "lakectl_job_last_success_timestamp_seconds",
        "gauge",
        "End of the last successful run (Unix seconds)",
    ),
    (
        "lakectl_job_last_duration_seconds",
        "gauge",
        "Duration of the last attempt",
    ),
    (
        "lakectl_job_running",
        "gauge",
        "1 while a run of the job is going",
    ),
    ("lakectl_scheduler_jobs", "gauge", "Jobs scheduled"),
    (
        "lakectl_scheduler_reloads_total",
        "counter",
        "Spec reloads, applied or rejected",
    ),
    (
        "lakectl_http_requests_total",
        "counter",
        "HTTP requests answered, by route and status code",
    ),
    (
        "lakectl_dashboard_computations_total",
        "counter",
        "Times the served dashboard was recomputed from the tables",
    ),
    (
        "lakectl_dashboard_compute_seconds",
        "gauge",
        "Duration of the last recomputation of the served dashboard",
    ),
];

type Labels = Vec<(String, String)>;
type Float = AtomicU64;

struct Inner {
    registry: Registry,
    counters: HashMap<&'static str, Family<Labels, Counter<f64, Float>>>,
    gauges: HashMap<&'static str, Family<Labels, Gauge<f64, Float>>>,
    /// Every (metric, labels) series set so far, for [`Metrics::forget`].
    series: Mutex<BTreeSet<(&'static str, Labels)>>,
}

/// The metric values, shared by the scheduler, the pipelines and the HTTP server.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let (mut counters, mut gauges) = (HashMap::new(), HashMap::new());
        for &(name, kind, help) in FAMILIES {
            if kind == "counter" {
                let f = Family::<Labels, Counter<f64, Float>>::default();
                // The client appends `_total` to a counter's name.
                registry.register(name.trim_end_matches("_total"), help, f.clone());
                counters.insert(name, f);
            } else {
                let f = Family::<Labels, Gauge<f64, Float>>::default();
                registry.register(name, help, f.clone());
                gauges.insert(name, f);
            }
        }
        Self(Arc::new(Inner {
            registry,
            counters,
            gauges,
            series: Mutex::new(BTreeSet::new()),
        }))
    }
}

fn labels(ls: &[(&str, &str)]) -> Labels {
    ls.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Metrics {
    fn remember(&self, name: &'static str, ls: &Labels) {
        if let Ok(mut s) = self.0.series.lock() {
            if !s.contains(&(name, ls.clone())) {
                s.insert((name, ls.clone()));
            }
        }
    }

    /// Sets a gauge (a name not in the list of metrics is ignored).
    pub fn set(&self, name: &str, ls: &[(&str, &str)], v: f64) {
        if let Some((&n, f)) = self.0.gauges.get_key_value(name) {
            let ls = labels(ls);
            f.get_or_create(&ls).set(v);
            self.remember(n, &ls);
        }
    }

    /// Adds to a counter (a name not in the list of metrics is ignored).
    pub fn add(&self, name: &str, ls: &[(&str, &str)], v: f64) {
        if let Some((&n, f)) = self.0.counters.get_key_value(name) {
            let ls = labels(ls);
            f.get_or_create(&ls).inc_by(v);
            self.remember(n, &ls);
        }
    }

    /// Removes every series of `label` (a job that was removed, a pipeline that stopped).
    pub fn forget(&self, label: (&str, &str)) {
        let Ok(mut series) = self.0.series.lock() else {
            return;
        };
        series.retain(|(name, ls)| {
            if !ls.iter().any(|(k, v)| k == label.0 && v == label.1) {
                return true;
            }
            if let Some(f) = self.0.counters.get(name) {
                f.remove(ls);
            }
            if let Some(f) = self.0.gauges.get(name) {
                f.remove(ls);
            }
            false
        });
    }

    /// Records a committed bronze batch.
    pub fn observe_batch(&self, pipeline: &str, b: &BatchMetrics) {
        let l = [("pipeline", pipeline)];
        self.add("lakectl_bronze_batches_total", &l, 1.0);
        self.add("lakectl_bronze_rows_in_total", &l, b.rows_in as f64);
        self.add(
            "lakectl_bronze_rows_written_total",
            &l,
            b.rows_written as f64,
        );
        self.add(
            "lakectl_bronze_rows_quarantined_total",
            &l,
            b.quarantined_total() as f64,
        );
        self.set("lakectl_bronze_rows_per_second", &l, b.rows_per_s as f64);
        if let Some(lag) = b.lag {
            self.set("lakectl_bronze_lag_records", &l, lag as f64);
        }
        if let Some(w) = b
            .watermark
            .as_deref()
            .and_then(|w| chrono::DateTime::parse_from_rfc3339(w).ok())
        {
            self.set(
                "lakectl_bronze_watermark_timestamp_seconds",
                &l,
                w.timestamp_micros() as f64 / 1e6,
            );
        }
        let ms = b.poll_ms + b.decode_ms + b.write_ms + b.commit_ms;
        self.set("lakectl_bronze_batch_duration_seconds", &l, ms / 1e3);
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.0.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_exposition_format() {
        let m = Metrics::default();
        m.add(
            "lakectl_job_runs_total",
            &[("job", "a"), ("status", "succeeded")],
            1.0,
        );
        m.add(
            "lakectl_job_runs_total",
            &[("job", "a"), ("status", "succeeded")],
            1.0,
        );
        m.set("lakectl_scheduler_jobs", &[], 3.0);
        let text = m.render();
        assert!(
            text.contains("# TYPE lakectl_job_runs_total counter"),
            "{text}"
        );
        assert!(
            text.contains("lakectl_job_runs_total{job=\"a\",status=\"succeeded\"} 2"),
            "{text}"
        );
        assert!(text.contains("lakectl_scheduler_jobs 3"), "{text}");
        m.forget(("job", "a"));
        assert!(!m.render().contains("job=\"a\""));
    }
}
