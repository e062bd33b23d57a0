//! The stage between polling and writing: a polled micro-batch decoded, derived, split by
//! the watermark and by validity into bronze and quarantine record batches, with the txns
//! and the metrics its commit carries.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use chrono::Utc;
use deltalake::arrow::array::RecordBatch;
use deltalake::arrow::datatypes::SchemaRef;
use deltalake::kernel::Transaction;
use polars::prelude::*;

use super::buffer::BatchBuffer;
use super::decode::{decode, Reason};
use super::frame::{self, QuarantineRow};
use super::metrics::{fmt_us, BatchMetrics};
use super::poll::Polled;
use super::watermark::WatermarkState;
use super::{app_id, owner_app_id, BronzeError};
use crate::lake::read::scan;
use crate::lake::{bridge, Table};
use crate::spec::{BronzeSpec, LatePolicy};

/// A decoded and classified batch, handed from the preparer to the writer.
pub(super) struct PreparedBatch {
    pub(super) bronze: Vec<RecordBatch>,
    pub(super) quarantine: Vec<RecordBatch>,
    pub(super) txns: Vec<Transaction>,
    pub(super) watermark_state: serde_json::Value,
    pub(super) metrics: BatchMetrics,
    pub(super) offsets: String,
}

/// The stage that turns a polled batch into what the writer commits: decode, derive,
/// watermark classification and quarantine rows. It holds the watermark state and the
/// decisions replayed after a crash.
pub(super) struct BatchPreparer<'a> {
    pub(super) b: &'a BronzeSpec,
    pub(super) bronze_arrow: SchemaRef,
    pub(super) quarantine_arrow: SchemaRef,
    pub(super) wm: WatermarkState,
    /// Partition → (quarantine txn version, offsets already in quarantine) for records whose
    /// fate was decided before a crash between the two commits.
    pub(super) decided: BTreeMap<i32, (i64, HashSet<i64>)>,
    /// This writer's claim on its partitions, carried by every commit.
    pub(super) epoch: i64,
    /// This writer's partitions.
    pub(super) parts: Vec<i32>,
}

pub(super) fn load_decided(
    quarantine: &Table,
    decided: &mut BTreeMap<i32, (i64, HashSet<i64>)>,
) -> PolarsResult<()> {
    let lf = scan(quarantine, &|_| true).map_err(|e| polars_err!(ComputeError: "{e}"))?;
    let df = lf.select([col("partition"), col("offset")]).collect()?;
    let p = df.column("partition")?.i32()?.clone();
    let o = df.column("offset")?.i64()?.clone();
    for (p, o) in p.iter().zip(o.iter()) {
        if let (Some(p), Some(o)) = (p, o) {
            if let Some((q, set)) = decided.get_mut(&p) {
                if o <= *q {
                    set.insert(o);
                }
            }
        }
    }
    Ok(())
}

fn offsets_desc(buf: &BatchBuffer) -> String {
    let mut r: BTreeMap<i32, (i64, i64)> = BTreeMap::new();
    for rec in &buf.records {
        let e = r.entry(rec.partition).or_insert((rec.offset, rec.offset));
        e.0 = e.0.min(rec.offset);
        e.1 = e.1.max(rec.offset);
    }
    r.iter()
        .map(|(p, (a, b))| format!("{p}:{a}-{b}"))
        .collect::<Vec<_>>()
        .join(",")
}

impl BatchPreparer<'_> {
    /// Decodes, derives, applies the watermark and splits a batch into bronze and quarantine
    /// record batches. Updates the watermark state for the next batch.
    pub(super) fn prepare(&mut self, polled: &Polled) -> Result<PreparedBatch, BronzeError> {
        let b = self.b;
        let buf = &polled.buf;
        let batch_err = |message: String| BronzeError::Batch {
            pipeline: b.name.clone(),
            offsets: offsets_desc(buf),
            message,
        };
        let now = Utc::now();
        let t_decode = Instant::now();

        let mut m = BatchMetrics {
            rows_in: buf.records.len() as u64,
            lag: polled.lag,
            ..Default::default()
        };
        let mut end_offsets: BTreeMap<i32, i64> = BTreeMap::new();
        for r in &buf.records {
            let e = end_offsets.entry(r.partition).or_insert(r.offset);
            *e = (*e).max(r.offset);
        }

        let dec = decode(buf, b.format, &b.schema, &b.event_time)
            .map_err(|e| batch_err(format!("decoding: {e}")))?;
        let (mut df, rows, derive_failed) = frame::enrich_isolating(b, dec.df, buf, &dec.rows, now)
            .map_err(|e| batch_err(format!("deriving columns: {e}")))?;

        // Watermark: classify with the watermark of the batches before this one (as Spark and
        // Flink do), then fold this batch's per-partition max event times in for the next one.
        let et = df
            .column(&b.event_time)
            .and_then(|c| c.cast(&DataType::Int64))
            .map_err(|e| batch_err(e.to_string()))?;
        let et: Vec<i64> = et
            .i64()
            .map_err(|e| batch_err(e.to_string()))?
            .into_no_null_iter()
            .collect();
        let delay_us = b.watermark.as_micros() as i64;
        let future_us = now
            .timestamp_micros()
            .saturating_add(b.future_tolerance.as_micros() as i64);
        // A partition in this batch counts as waiting too: its first records are never judged
        // by the other partitions' progress alone.
        let mut waiting = polled.waiting.clone();
        waiting.extend(end_offsets.keys().copied());
        let watermark = self.wm.watermark_us(delay_us, &waiting);

        let decided = |p: i32, o: i64| self.decided.get(&p).is_some_and(|(q, _)| o <= *q);
        let already_quarantined = |p: i32, o: i64| {
            self.decided
                .get(&p)
                .is_some_and(|(q, s)| o <= *q && s.contains(&o))
        };
        let mut keep = Vec::with_capacity(et.len());
        let mut quarantine: Vec<QuarantineRow> = Vec::new();
        for (i, &t) in et.iter().enumerate() {
            let r = buf.records[rows[i]];
            let undecided = !decided(r.partition, r.offset);
            if already_quarantined(r.partition, r.offset) {
                keep.push(false);
            } else if undecided && t > future_us {
                // Never observed: one record dated far ahead cannot make the rest late.
                keep.push(false);
                quarantine.push(QuarantineRow {
                    record: rows[i],
                    reason: Reason::Future,
                    error: format!(
                        "event time {} is later than now + future_tolerance ({})",
                        fmt_us(t),
                        fmt_us(future_us)
                    ),
                });
            } else if undecided && watermark.is_some_and(|w| t < w) {
                keep.push(false);
                match b.late {
                    LatePolicy::Quarantine => quarantine.push(QuarantineRow {
                        record: rows[i],
                        reason: Reason::Late,
                        error: format!(
                            "event time {} is older than the watermark {}",
                            fmt_us(t),
                            watermark.map(fmt_us).unwrap_or_default()
                        ),
                    }),
                    LatePolicy::Drop => m.late_dropped += 1,
                }
            } else {
                keep.push(true);
            }
        }
        let rejected = dec
            .rejected
            .iter()
            .map(|r| (r.record, r.reason, r.error.clone()))
            .chain(
                derive_failed
                    .into_iter()
                    .map(|(record, error)| (record, Reason::Derive, error)),
            );
        for (record, reason, error) in rejected {
            let rec = buf.records[record];
            if !decided(rec.partition, rec.offset) {
                quarantine.push(QuarantineRow {
                    record,
                    reason,
                    error,
                });
            }
        }
        for (i, &t) in et.iter().enumerate() {
            if t <= future_us {
                self.wm.observe(buf.records[rows[i]].partition, t);
            }
        }
        m.watermark = self.wm.watermark_us(delay_us, &waiting).map(fmt_us);
        if keep.iter().any(|k| !k) {
            let mask = BooleanChunked::from_iter_values("keep".into(), keep.iter().copied());
            df = df.filter(&mask).map_err(|e| batch_err(e.to_string()))?;
        }
        m.rows_written = df.height() as u64;
        for q in &quarantine {
            *m.quarantined
                .entry(q.reason.as_str().to_string())
                .or_default() += 1;
        }
        quarantine.sort_by_key(|q| q.record);
        let quarantine = if quarantine.is_empty() {
            Vec::new()
        } else {
            let mut qdf = frame::quarantine_frame(&b.topic, buf, &quarantine, now)
                .map_err(|e| batch_err(e.to_string()))?;
            bridge::to_record_batches(&mut qdf, &self.quarantine_arrow).map_err(batch_err)?
        };
        let bronze = bridge::to_record_batches(&mut df, &self.bronze_arrow).map_err(batch_err)?;
        // The offsets of the batch's partitions, and the owner txns of ALL this writer's
        // partitions: a commit by anyone else on any of them since this writer's snapshot
        // makes this commit fail, including on partitions this batch did not touch.
        let txns = end_offsets
            .iter()
            .map(|(&p, &o)| Transaction::new(app_id(&b.name, p), o))
            .chain(
                self.parts
                    .iter()
                    .map(|&p| Transaction::new(owner_app_id(&b.name, p), self.epoch)),
            )
            .collect();
        // Decisions made before the crash are only needed until the replay has passed them.
        self.decided
            .retain(|p, (q, _)| end_offsets.get(p).is_none_or(|e| e < q));
        m.end_offsets = end_offsets;
        m.set_times(
            polled.poll,
            t_decode.elapsed(),
            Duration::ZERO,
            Duration::ZERO,
        );
        Ok(PreparedBatch {
            bronze,
            quarantine,
            txns,
            watermark_state: serde_json::to_value(&self.wm)
                .map_err(|e| batch_err(format!("serialising the watermark state: {e}")))?,
            metrics: m,
            offsets: offsets_desc(buf),
        })
    }
}
