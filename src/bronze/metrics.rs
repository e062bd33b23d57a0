//! Per-batch metrics, in the spirit of Spark's StreamingQueryProgress: logged once per batch
//! and stored in the batch's Delta commitInfo.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::spec::units::fmt_duration;

/// What one micro-batch did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BatchMetrics {
    /// Bronze table version the batch committed (the batch id).
    pub batch_id: u64,
    /// Records consumed from Kafka.
    pub rows_in: u64,
    /// Rows written to the bronze table.
    pub rows_written: u64,
    /// Quarantined rows by reason.
    pub quarantined: BTreeMap<String, u64>,
    /// Late rows dropped (`late: drop`).
    pub late_dropped: u64,
    /// Poll time (ms, to the µs).
    pub poll_ms: f64,
    /// Decode + derive + watermark time (ms, to the µs).
    pub decode_ms: f64,
    /// Parquet write time (ms, to the µs).
    pub write_ms: f64,
    /// Commit time (ms, to the µs).
    pub commit_ms: f64,
    /// Records per second: over the wall time since the previous commit (the stages of
    /// consecutive batches overlap), or over the batch's own stages for the first one.
    pub rows_per_s: u64,
    /// Watermark after the batch (RFC 3339), if any partition has data.
    pub watermark: Option<String>,
    /// Last offset consumed per partition.
    pub end_offsets: BTreeMap<i32, i64>,
    /// Records still in Kafka after the batch, when known.
    pub lag: Option<i64>,
}

/// A callback given the pipeline name and a committed batch's metrics.
pub type BatchCallback = dyn Fn(&str, &BatchMetrics) + Send + Sync;

/// Called after each committed batch (e.g. to export metrics).
#[derive(Clone)]
pub struct BatchObserver(pub std::sync::Arc<BatchCallback>);

impl std::fmt::Debug for BatchObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BatchObserver")
    }
}

impl BatchMetrics {
    /// Total quarantined rows.
    pub fn quarantined_total(&self) -> u64 {
        self.quarantined.values().sum()
    }

    /// Sets durations and the rate from the batch's phases.
    pub fn set_times(
        &mut self,
        poll: Duration,
        decode: Duration,
        write: Duration,
        commit: Duration,
    ) {
        self.poll_ms = poll.as_secs_f64() * 1e3;
        self.decode_ms = decode.as_secs_f64() * 1e3;
        self.write_ms = write.as_secs_f64() * 1e3;
        self.commit_ms = commit.as_secs_f64() * 1e3;
        let total = (poll + decode + write + commit).as_secs_f64().max(1e-6);
        self.rows_per_s = (self.rows_in as f64 / total) as u64;
    }

    /// One human line for the log.
    pub fn line(&self) -> String {
        let q: Vec<String> = self
            .quarantined
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let offs: Vec<String> = self
            .end_offsets
            .iter()
            .map(|(p, o)| format!("{p}:{o}"))
            .collect();
        format!(
            "batch {} in={} written={} quarantined={} [{}] late_dropped={} rate={}/s poll={} decode={} write={} commit={} watermark={} end=[{}] lag={}",
            self.batch_id,
            self.rows_in,
            self.rows_written,
            self.quarantined_total(),
            q.join(" "),
            self.late_dropped,
            self.rows_per_s,
            fmt_duration(Duration::from_secs_f64(self.poll_ms / 1e3)),
            fmt_duration(Duration::from_secs_f64(self.decode_ms / 1e3)),
            fmt_duration(Duration::from_secs_f64(self.write_ms / 1e3)),
            fmt_duration(Duration::from_secs_f64(self.commit_ms / 1e3)),
            self.watermark.as_deref().unwrap_or("-"),
            offs.join(" "),
            self.lag.map_or("-".to_string(), |l| l.to_string()),
        )
    }
}

/// Formats a µs timestamp as RFC 3339.
pub fn fmt_us(us: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(us).map_or_else(
        || us.to_string(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    )
}
