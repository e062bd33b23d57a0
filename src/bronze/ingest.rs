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
use indicatif::{ProgressBar, ProgressStyle};
use tokio::task::block_in_place;
use tracing::{debug, info, warn};

use super::frame;
use super::metrics::fmt_us;
pub use super::poll::added_partitions;
use super::poll::{poll_loop, Discover, Polled};
use super::prepare::{load_decided, BatchPreparer, PreparedBatch};
use super::watermark::WatermarkState;
use super::writer::write_loop;
use super::{app_id, BronzeError};
use crate::kafka::admin::topic_partitions;
use crate::kafka::consumer::Drain;
use crate::lake::{Table, TableSchema};
use crate::shutdown::StopFlag;
use crate::spec::{BronzeSpec, PipelineSpec};

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
    let bronze = Table::open_or_create(&lake.join(&b.table), &bronze_ts, &b.name, &props)
        .await
        .map_err(lake_err)?;
    let quarantine = Table::open_or_create(
        &lake.join(&b.quarantine),
        &quarantine_ts,
        &format!("{}_quarantine", b.name),
        &props,
    )
    .await
    .map_err(lake_err)?;

    let all =
        block_in_place(|| topic_partitions(&spec.kafka, &b.topic, crate::kafka::admin::TIMEOUT))
            .map_err(kafka_err)?;
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
        let bt = bronze.txn_version(&id).await.map_err(lake_err)?;
        let qt = quarantine.txn_version(&id).await.map_err(lake_err)?;
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
    let (prep_tx, prep_rx) = tokio::sync::mpsc::channel::<PreparedBatch>(1);
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
    tx: &tokio::sync::mpsc::Sender<PreparedBatch>,
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
