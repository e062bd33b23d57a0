//! The ingest loop of one bronze pipeline, as a three-stage pipeline so both cores work:
//! a poller thread fills the next micro-batch while the current one is decoded, and a
//! writer task writes and commits batches strictly in order.
//!
//! Exactly-once: each partition's last written offset lives in the bronze table as a `txn`
//! action (appId `lakectl/<pipeline>/<partition>`), committed atomically with the batch's
//! files. On start lakectl resumes each partition at that version + 1. Quarantine rows are
//! committed first with the same txn scheme; if a crash falls between the two commits, the
//! replayed records whose fate was already decided keep it (read back from the quarantine
//! table), so no record ends up in both tables or in neither. Batches in flight when the
//! process dies were never committed and are read again.

use std::collections::{BTreeMap, HashSet};
use std::sync::mpsc::{sync_channel, Receiver};
use std::time::{Duration, Instant};

use chrono::Utc;
use deltalake::arrow::datatypes::SchemaRef;
use deltalake::kernel::Transaction;
use indicatif::{ProgressBar, ProgressStyle};
use polars::prelude::*;
use tokio::task::block_in_place;
use tracing::{debug, info, warn};

use super::buffer::BatchBuffer;
use super::decode::{decode, Reason};
use super::frame::{self, QuarantineRow};
use super::metrics::{fmt_us, BatchMetrics};
pub use super::poll::added_partitions;
use super::poll::{poll_loop, Discover, Polled};
use super::watermark::WatermarkState;
use super::writer::{write_loop, Prepared};
use super::{app_id, owner_app_id, BronzeError};
use crate::kafka::admin::topic_partitions;
use crate::kafka::consumer::Drain;
use crate::lake::read::scan;
use crate::lake::{bridge, table, DeltaTable, TableSchema};
use crate::shutdown::StopFlag;
use crate::spec::{BronzeSpec, LatePolicy, PipelineSpec};

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Stop once every partition reached its end (Spark's availableNow).
    pub until_caught_up: bool,
    /// Show a progress display.
    pub progress: bool,
    /// Only these partitions (for several workers); None = all.
    pub partitions: Option<Vec<i32>>,
    /// Worker `index` of `count`: the partitions `p` with `p % count == index`.
    pub worker: Option<Worker>,
    /// Told about every committed batch.
    pub on_batch: Option<super::metrics::BatchObserver>,
}

/// One of several bronze workers sharing a topic (`--worker I/N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Worker {
    /// This worker's index, from 0.
    pub index: u32,
    /// How many workers share the topic.
    pub count: u32,
}

impl std::str::FromStr for Worker {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not I/N (e.g. 0/2: the first of two workers)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(format!(
                "worker {index}/{count}: the index must be below the count"
            ));
        }
        Ok(Self { index, count })
    }
}

impl Worker {
    /// The partitions of `all` this worker owns.
    pub fn partitions(&self, all: &[i32]) -> Vec<i32> {
        all.iter()
            .copied()
            .filter(|p| (*p as u32) % self.count == self.index)
            .collect()
    }
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct PipelineSummary {
    /// Pipeline name.
    pub pipeline: String,
    /// Batches committed.
    pub batches: u64,
    /// Records consumed.
    pub consumed: u64,
    /// Rows written to bronze.
    pub written: u64,
    /// Quarantined rows by reason.
    pub quarantined: BTreeMap<String, u64>,
    /// Late rows dropped.
    pub late_dropped: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Bronze table version at the end.
    pub bronze_version: Option<u64>,
}

/// The stage that turns a polled batch into what the writer commits: decode, derive,
/// watermark classification and quarantine rows. It holds the watermark state and the
/// decisions replayed after a crash.
struct BatchPreparer<'a> {
    b: &'a BronzeSpec,
    bronze_arrow: SchemaRef,
    quarantine_arrow: SchemaRef,
    wm: WatermarkState,
    /// Partition → (quarantine txn version, offsets already in quarantine) for records whose
    /// fate was decided before a crash between the two commits.
    decided: BTreeMap<i32, (i64, HashSet<i64>)>,
    /// This writer's claim on its partitions, carried by every commit.
    epoch: i64,
    /// This writer's partitions.
    parts: Vec<i32>,
}

/// Runs one bronze pipeline until stopped (or caught up). A continuous run that sees
/// partitions added to its topic finishes its batches and starts again with them (claiming
/// them like any start).
pub async fn run_pipeline(
    spec: &PipelineSpec,
    b: &BronzeSpec,
    opts: &IngestOptions,
    stop: &StopFlag,
) -> Result<PipelineSummary, BronzeError> {
    let started = Instant::now();
    let mut total = PipelineSummary {
        pipeline: b.name.clone(),
        ..Default::default()
    };
    loop {
        let (s, added) = run_once(spec, b, opts, stop).await?;
        total.batches += s.batches;
        total.consumed += s.consumed;
        total.written += s.written;
        total.late_dropped += s.late_dropped;
        for (k, v) in s.quarantined {
            *total.quarantined.entry(k).or_default() += v;
        }
        total.bronze_version = s.bronze_version.or(total.bronze_version);
        match added {
            Some(added) if !stop.is_set() => {
                info!(pipeline = %b.name, topic = %b.topic, ?added, "new partitions in the topic: restarting to read them");
            }
            _ => break,
        }
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

/// One run over the partitions the topic has at its start. Returns the partitions added to
/// the topic meanwhile, when it stopped because of them.
async fn run_once(
    spec: &PipelineSpec,
    b: &BronzeSpec,
    opts: &IngestOptions,
    stop: &StopFlag,
) -> Result<(PipelineSummary, Option<Vec<i32>>), BronzeError> {
    let started = Instant::now();
    let lake_err = |source| BronzeError::Lake {
        pipeline: b.name.clone(),
        source,
    };
    let kafka_err = |source| BronzeError::Kafka {
        pipeline: b.name.clone(),
        source,
    };
    let spec_err = |message: String| BronzeError::Spec {
        pipeline: b.name.clone(),
        message,
    };
    let runtime_err = |message: String| BronzeError::Runtime {
        pipeline: b.name.clone(),
        message,
    };
    let partitions_err = |message: String| BronzeError::Partitions {
        pipeline: b.name.clone(),
        message,
    };

    let lake = &spec.lake;
    let bronze_schema = frame::bronze_schema(b).map_err(|e| spec_err(e.to_string()))?;
    let bronze_ts = TableSchema::from_polars(&bronze_schema, &b.partition_by).map_err(spec_err)?;
    let quarantine_ts =
        TableSchema::from_polars(&frame::quarantine_schema(), &[]).map_err(spec_err)?;
    let props = b.table_properties();
    let props: Vec<(&str, &str)> = props.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let bronze = table::open_or_create_with(&lake.join(&b.table), &bronze_ts, &b.name, &props)
        .await
        .map_err(lake_err)?;
    let quarantine = table::open_or_create_with(
        &lake.join(&b.quarantine),
        &quarantine_ts,
        &format!("{}_quarantine", b.name),
        &props,
    )
    .await
    .map_err(lake_err)?;

    let all = block_in_place(|| topic_partitions(&spec.kafka, &b.topic)).map_err(kafka_err)?;
    let parts: Vec<i32> = match &opts.partitions {
        Some(only) => {
            if let Some(p) = only.iter().find(|p| !all.contains(p)) {
                return Err(partitions_err(format!(
                    "partition {p} does not exist in topic {} (partitions: {all:?})",
                    b.topic
                )));
            }
            only.clone()
        }
        None => match opts.worker {
            Some(w) => {
                let mine = w.partitions(&all);
                if mine.is_empty() {
                    return Err(partitions_err(format!(
                        "worker {}/{} owns no partition: topic {} has only {} (use fewer workers)",
                        w.index,
                        w.count,
                        b.topic,
                        all.len()
                    )));
                }
                mine
            }
            None => all,
        },
    };

    // This writer's claim on its partitions: carried by every commit, the first batch's
    // commits make it (see `ownership`). The state read below is the claim's snapshot.
    let epoch = Utc::now().timestamp_micros();

    let mut starts = BTreeMap::new();
    let mut decided = BTreeMap::new();
    for &p in &parts {
        let id = app_id(&b.name, p);
        let bt = table::txn_version(&bronze, &id).await.map_err(lake_err)?;
        let qt = table::txn_version(&quarantine, &id)
            .await
            .map_err(lake_err)?;
        starts.insert(p, bt.map(|v| v + 1));
        if let Some(q) = qt.filter(|q| *q > bt.unwrap_or(-1)) {
            decided.insert(p, (q, HashSet::new()));
            warn!(pipeline = %b.name, partition = p, bronze_offset = ?bt, quarantine_offset = q, "the last run stopped between the quarantine and bronze commits; replaying with the decisions already made");
        }
    }
    if !decided.is_empty() {
        load_decided(&quarantine, &mut decided)
            .map_err(|e| runtime_err(format!("reading the quarantine table: {e}")))?;
    }
    // Each worker stores its own partitions' state: take each partition's newest.
    let wm = WatermarkState::stored(&bronze, Some(&parts))
        .await
        .map_err(lake_err)?;
    info!(pipeline = %b.name, topic = %b.topic, ?starts, watermark = ?wm.watermark_us(b.watermark.as_micros() as i64, &[]).map(fmt_us), "starting");

    let drain = block_in_place(|| Drain::open(&spec.kafka, &b.topic, &starts, b.on_data_loss))
        .map_err(kafka_err)?;
    let mut preparer = BatchPreparer {
        b,
        bronze_arrow: bronze_ts.arrow(),
        quarantine_arrow: quarantine_ts.arrow(),
        wm,
        decided,
        epoch,
        parts: parts.clone(),
    };

    let pb = opts.progress.then(|| {
        let pb = ProgressBar::new_spinner();
        pb.set_style(
            ProgressStyle::with_template("{spinner} {prefix}: {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.set_prefix(b.name.clone());
        pb.enable_steady_tick(Duration::from_millis(200));
        pb
    });

    // Stage 1: the poller thread. A rendezvous channel: polling runs one batch ahead, so at
    // most three batches are alive (polling, decoding, writing) whatever the backlog.
    let (poll_tx, poll_rx) = sync_channel::<Polled>(0);
    // Stops this run's stages when one fails (the writer's refused commit must not wait for
    // more records to be noticed), or when the process stops.
    let stop = &stop.child();
    let poller = {
        let (stop, limits, record_limits, until) =
            (stop.clone(), b.batch, b.limits, opts.until_caught_up);
        // Continuous runs over the topic's partitions (all, or a worker's share) watch for
        // new ones; an explicit --partitions list is fixed.
        let discover = (!until && opts.partitions.is_none()).then(|| Discover {
            kafka: spec.kafka.clone(),
            topic: b.topic.clone(),
            worker: opts.worker,
            known: parts.clone(),
        });
        std::thread::Builder::new()
            .name(format!("poll-{}", b.name))
            .spawn(move || poll_loop(drain, limits, record_limits, until, discover, stop, poll_tx))
    }
    .map_err(|e| runtime_err(format!("cannot start the poller thread: {e}")))?;

    // Stage 3: the writer task, committing in order.
    let (prep_tx, prep_rx) = tokio::sync::mpsc::channel::<Prepared>(1);
    let writer = {
        let (stop, claim) = (
            stop.clone(),
            super::ownership::Claim::new(&b.name, &parts, epoch),
        );
        let (b, pb, on_batch) = (b.clone(), pb.clone(), opts.on_batch.clone());
        tokio::spawn(async move {
            let written = write_loop(b, claim, bronze, quarantine, prep_rx, pb, on_batch).await;
            if written.is_err() {
                stop.set();
            }
            written
        })
    };

    // Periodic compaction beside the writer (continuous mode): optimize never conflicts with
    // appends, so it needs no coordination with the commits.
    let compactor = match (b.optimize, opts.until_caught_up) {
        (Some(o), false) => Some(tokio::spawn(compact_loop(
            vec![lake.join(&b.table), lake.join(&b.quarantine)],
            o,
            stop.clone(),
        ))),
        _ => None,
    };

    // Stage 2: decode and classify here.
    let decoded = decode_loop(&mut preparer, poll_rx, &prep_tx).await;
    if let Some(c) = compactor {
        c.abort();
    }
    drop(prep_tx);
    let written = writer
        .await
        .map_err(|e| runtime_err(format!("writer task failed: {e}")))?;
    let polled = poller
        .join()
        .map_err(|_| runtime_err("the poller thread panicked".into()))?;
    stop.set(); // every stage is done: ends the child flag's watch of the process's flag
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    // The first error wins: the poller's (Kafka) explains a stopped preparer, etc.
    let added = polled.map_err(kafka_err)?;
    decoded?;
    let (mut summary, bronze_version) = written?;
    summary.elapsed = started.elapsed();
    summary.bronze_version = bronze_version;
    Ok((summary, added))
}

/// Optimizes `tables` every `o.every` until `stop`.
async fn compact_loop(
    tables: Vec<crate::storage::Location>,
    o: crate::spec::OptimizeSpec,
    stop: StopFlag,
) {
    let opts = crate::lake::optimize::OptimizeOptions {
        target_size: o.target_size,
        ..Default::default()
    };
    loop {
        if stop.sleep(o.every).await {
            return;
        }
        for t in &tables {
            match crate::lake::optimize::optimize(t, &opts).await {
                Ok(r) if r.version.is_some() => info!(
                    table = %t,
                    version = r.version,
                    files_removed = r.files_removed,
                    files_added = r.files_added,
                    "periodic optimize"
                ),
                Ok(_) => debug!(table = %t, "periodic optimize: nothing to compact"),
                Err(e) => {
                    warn!(table = %t, error = %e, "periodic optimize failed; retrying at the next period")
                }
            }
        }
    }
}

async fn decode_loop(
    d: &mut BatchPreparer<'_>,
    rx: Receiver<Polled>,
    tx: &tokio::sync::mpsc::Sender<Prepared>,
) -> Result<(), BronzeError> {
    // Owned (a `&Receiver` is not Send), and dropped on return so the poller stops.
    while let Ok(polled) = block_in_place(|| rx.recv()) {
        let prepared = block_in_place(|| d.prepare(&polled))?;
        if tx.send(prepared).await.is_err() {
            break; // the writer stopped (it reports why)
        }
    }
    Ok(())
}

fn load_decided(
    quarantine: &DeltaTable,
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
    fn prepare(&mut self, polled: &Polled) -> Result<Prepared, BronzeError> {
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
        Ok(Prepared {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_split_partitions_by_modulo() {
        let w: Worker = "1/2".parse().unwrap();
        assert_eq!(w.partitions(&[0, 1, 2, 3, 4]), vec![1, 3]);
        assert!("2/2"
            .parse::<Worker>()
            .unwrap_err()
            .contains("below the count"));
        assert!("x".parse::<Worker>().unwrap_err().contains("is not I/N"));
    }
}
