//! Prometheus metrics of `lakectl schedule` (`--metrics-addr HOST:PORT`, path `/metrics`):
//! per bronze pipeline rows/s, lag, watermark, batch duration and counters; per job runs by
//! status, failures, last success time, last duration. A tiny HTTP/1.1 server on its own
//! thread serves the text exposition format; nothing else is exposed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::bronze::metrics::BatchMetrics;

/// Name, type and help of every metric.
const FAMILIES: &[(&str, &str, &str)] = &[
    (
        "lakectl_bronze_batches_total",
        "counter",
        "Micro-batches committed.",
    ),
    (
        "lakectl_bronze_rows_in_total",
        "counter",
        "Records consumed from Kafka.",
    ),
    (
        "lakectl_bronze_rows_written_total",
        "counter",
        "Rows written to the bronze table.",
    ),
    (
        "lakectl_bronze_rows_quarantined_total",
        "counter",
        "Rows written to the quarantine table.",
    ),
    (
        "lakectl_bronze_rows_per_second",
        "gauge",
        "Records per second of the last batch.",
    ),
    (
        "lakectl_bronze_lag_records",
        "gauge",
        "Records left in Kafka after the last batch.",
    ),
    (
        "lakectl_bronze_watermark_timestamp_seconds",
        "gauge",
        "Event-time watermark (Unix seconds).",
    ),
    (
        "lakectl_bronze_batch_duration_seconds",
        "gauge",
        "Poll, decode, write and commit time of the last batch.",
    ),
    ("lakectl_bronze_up", "gauge", "1 while the pipeline runs."),
    (
        "lakectl_job_runs_total",
        "counter",
        "Job run attempts, by how they ended.",
    ),
    (
        "lakectl_job_failures_total",
        "counter",
        "Failed or timed-out job attempts.",
    ),
    (
        "lakectl_job_last_success_timestamp_seconds",
        "gauge",
        "End of the last successful run (Unix seconds).",
    ),
    (
        "lakectl_job_last_duration_seconds",
        "gauge",
        "Duration of the last attempt.",
    ),
    (
        "lakectl_job_running",
        "gauge",
        "1 while a run of the job is going.",
    ),
    ("lakectl_scheduler_jobs", "gauge", "Jobs scheduled."),
    (
        "lakectl_scheduler_reloads_total",
        "counter",
        "Spec reloads, applied or rejected.",
    ),
];

type Key = (String, Vec<(String, String)>);

/// The metric values, shared by the scheduler, the pipelines and the HTTP server.
#[derive(Debug, Clone, Default)]
pub struct Metrics(Arc<Mutex<BTreeMap<Key, f64>>>);

fn key(name: &str, labels: &[(&str, &str)]) -> Key {
    (
        name.to_string(),
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

impl Metrics {
    /// Sets a gauge.
    pub fn set(&self, name: &str, labels: &[(&str, &str)], v: f64) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(key(name, labels), v);
        }
    }

    /// Adds to a counter.
    pub fn add(&self, name: &str, labels: &[(&str, &str)], v: f64) {
        if let Ok(mut m) = self.0.lock() {
            *m.entry(key(name, labels)).or_default() += v;
        }
    }

    /// Removes every series of `labels` (a job that was removed, a pipeline that stopped).
    pub fn forget(&self, label: (&str, &str)) {
        if let Ok(mut m) = self.0.lock() {
            m.retain(|(_, ls), _| !ls.iter().any(|(k, v)| k == label.0 && v == label.1));
        }
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

    /// The text exposition format.
    pub fn render(&self) -> String {
        let m = self.0.lock().map(|m| m.clone()).unwrap_or_default();
        let mut out = String::new();
        for (name, kind, help) in FAMILIES {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for ((n, labels), v) in m.iter().filter(|((n, _), _)| n == name) {
                let ls: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                    .collect();
                if ls.is_empty() {
                    out.push_str(&format!("{n} {v}\n"));
                } else {
                    out.push_str(&format!("{n}{{{}}} {v}\n", ls.join(",")));
                }
            }
        }
        out
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Serves `metrics` on `addr` (`HOST:PORT`; port 0 picks one) from a background thread.
/// Returns the bound address.
pub fn serve(addr: &str, metrics: Metrics) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    std::thread::Builder::new()
        .name("metrics-http".into())
        .spawn(move || {
            let busy = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            for conn in listener.incoming().flatten() {
                use std::sync::atomic::Ordering;
                // Each request on its own thread, so a slow client never stalls a scrape;
                // past MAX_CONNECTIONS at once, new ones are closed at once.
                if busy.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                    busy.fetch_sub(1, Ordering::SeqCst);
                    drop(conn);
                    continue;
                }
                let (metrics, mine) = (metrics.clone(), busy.clone());
                let spawned = std::thread::Builder::new()
                    .name("metrics-conn".into())
                    .spawn(move || {
                        if let Err(e) = respond(conn, &metrics) {
                            tracing::debug!("metrics request: {e}");
                        }
                        mine.fetch_sub(1, Ordering::SeqCst);
                    });
                if spawned.is_err() {
                    busy.fetch_sub(1, Ordering::SeqCst);
                }
            }
        })?;
    Ok(bound)
}

/// Requests served at once; more are closed unanswered.
const MAX_CONNECTIONS: usize = 16;
/// The request line and headers together, at most.
const MAX_REQUEST_BYTES: u64 = 8 << 10;
/// A request must arrive whole within this.
const REQUEST_DEADLINE: Duration = Duration::from_secs(5);

/// Reads the request head (request line and headers) within [`MAX_REQUEST_BYTES`] and
/// [`REQUEST_DEADLINE`], and returns the request line.
fn read_request(conn: &TcpStream) -> std::io::Result<String> {
    use std::io::Read;
    let deadline = std::time::Instant::now() + REQUEST_DEADLINE;
    let too_slow = || std::io::Error::new(std::io::ErrorKind::TimedOut, "request too slow");
    let mut reader = BufReader::new(conn.try_clone()?.take(MAX_REQUEST_BYTES));
    let mut request = String::new();
    let mut line = String::new();
    loop {
        let left = deadline
            .checked_duration_since(std::time::Instant::now())
            .ok_or_else(too_slow)?;
        conn.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
        line.clear();
        let n = reader.read_line(&mut line)?;
        if n == 0 || !line.ends_with('\n') {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "request head too long or cut short",
            ));
        }
        if request.is_empty() {
            request = line.clone();
        } else if line.trim().is_empty() {
            return Ok(request);
        }
    }
}

fn respond(conn: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    conn.set_write_timeout(Some(REQUEST_DEADLINE))?;
    let request = read_request(&conn)?;
    let mut parts = request.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, ctype, body) = match (method, path) {
        ("GET", "/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            metrics.render(),
        ),
        ("GET", "/") => (
            "200 OK",
            "text/plain; charset=utf-8",
            "lakectl schedule: metrics at /metrics\n".to_string(),
        ),
        ("GET", _) => ("404 Not Found", "text/plain", "not found\n".to_string()),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "only GET\n".to_string(),
        ),
    };
    let mut w = conn;
    write!(
        w,
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    w.flush()
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
        assert!(text.contains("# TYPE lakectl_job_runs_total counter"));
        assert!(text.contains("lakectl_job_runs_total{job=\"a\",status=\"succeeded\"} 2\n"));
        assert!(text.contains("lakectl_scheduler_jobs 3\n"));
        m.forget(("job", "a"));
        assert!(!m.render().contains("job=\"a\""));
    }
}
