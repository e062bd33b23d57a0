//! The ingest loop of one bronze pipeline.
//!
//! Exactly-once: each partition's last written offset lives in the bronze table as a `txn`
//! action (appId `lakectl/<pipeline>/<partition>`), committed atomically with the batch's
//! files. On start lakectl resumes each partition at that version + 1. Quarantine rows are
//! committed first with the same txn scheme; if a crash falls between the two commits, the
//! replayed records whose fate was already decided keep it (read back from the quarantine
//! table), so no record ends up in both tables or in neither.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::Utc;
use deltalake::kernel::Transaction;
use indicatif::{ProgressBar, ProgressStyle};
use polars::prelude::*;
use tokio::task::block_in_place;
use tracing::{info, warn};

use super::buffer::BatchBuffer;
use super::decode::{decode, Reason};
use super::frame::{self, QuarantineRow};
use super::metrics::{fmt_us, BatchMetrics};
use super::watermark::WatermarkState;
use super::{app_id, BronzeError, BATCH_KEY, WATERMARK_KEY};
use crate::kafka::admin::topic_partitions;
use crate::kafka::consumer::{BatchEnd, Drain};
use crate::lake::read::scan;
use crate::lake::{bridge, table, DeltaTable, Lake, TableSchema};
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

struct Ctx<'a> {
    b: &'a BronzeSpec,
    bronze: DeltaTable,
    quarantine: DeltaTable,
    bronze_arrow: deltalake::arrow::datatypes::SchemaRef,
    quarantine_arrow: deltalake::arrow::datatypes::SchemaRef,
    wm: WatermarkState,
    /// Partition → (quarantine txn version, offsets already in quarantine) for records whose
    /// fate was decided before a crash between the two commits.
    decided: BTreeMap<i32, (i64, HashSet<i64>)>,
}

/// Runs one bronze pipeline until stopped (or caught up).
pub async fn run_pipeline(
    spec: &PipelineSpec,
    b: &BronzeSpec,
    opts: &IngestOptions,
    stop: &StopFlag,
) -> Result<PipelineSummary, BronzeError> {
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

    let lake = Lake::new(&spec.lake);
    let bronze_schema = frame::bronze_schema(b).map_err(|e| spec_err(e.to_string()))?;
    let bronze_ts = TableSchema::from_polars(&bronze_schema, &b.partition_by).map_err(spec_err)?;
    let quarantine_ts =
        TableSchema::from_polars(&frame::quarantine_schema(), &[]).map_err(spec_err)?;
    let bronze = table::open_or_create(&lake.path(&b.table), &bronze_ts, &b.name)
        .await
        .map_err(lake_err)?;
    let quarantine = table::open_or_create(
        &lake.path(&b.quarantine),
        &quarantine_ts,
        &format!("{}_quarantine", b.name),
    )
    .await
    .map_err(lake_err)?;

    let all = block_in_place(|| topic_partitions(&spec.kafka, &b.topic)).map_err(kafka_err)?;
    let parts: Vec<i32> = match &opts.partitions {
        Some(only) => {
            if let Some(p) = only.iter().find(|p| !all.contains(p)) {
                return Err(spec_err(format!(
                    "partition {p} does not exist in topic {} (partitions: {all:?})",
                    b.topic
                )));
            }
            only.clone()
        }
        None => all,
    };

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
            .map_err(|e| spec_err(format!("reading the quarantine table: {e}")))?;
    }
    let wm: WatermarkState = table::latest_commit_value(&bronze, WATERMARK_KEY, 100)
        .await
        .map_err(lake_err)?
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    info!(pipeline = %b.name, topic = %b.topic, ?starts, watermark = ?wm.watermark_us(b.watermark.as_micros() as i64, &[]).map(fmt_us), "starting");

    let mut drain = block_in_place(|| Drain::open(&spec.kafka, &b.topic, &starts, b.on_data_loss))
        .map_err(kafka_err)?;
    let mut ctx = Ctx {
        b,
        bronze_arrow: bronze_ts.arrow(),
        quarantine_arrow: quarantine_ts.arrow(),
        bronze,
        quarantine,
        wm,
        decided,
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

    let mut summary = PipelineSummary {
        pipeline: b.name.clone(),
        ..Default::default()
    };
    let mut buf = BatchBuffer::default();
    loop {
        buf.clear();
        let t0 = Instant::now();
        let end = block_in_place(|| {
            drain.poll_batch(&b.batch, opts.until_caught_up, &mut buf, &|| stop.is_set())
        })
        .map_err(kafka_err)?;
        let poll = t0.elapsed();
        if !buf.is_empty() {
            // Partitions with unread records (not at their end) that were never observed.
            let waiting: Vec<i32> = drain
                .states()
                .iter()
                .filter(|(_, s)| !s.at_end)
                .map(|(p, _)| *p)
                .collect();
            let mut m = process_batch(&mut ctx, &buf, poll, &waiting).await?;
            m.lag = drain.lag();
            summary.batches += 1;
            summary.consumed += m.rows_in;
            summary.written += m.rows_written;
            summary.late_dropped += m.late_dropped;
            for (k, v) in &m.quarantined {
                *summary.quarantined.entry(k.clone()).or_default() += v;
            }
            let line = m.line();
            match &pb {
                Some(pb) => {
                    pb.suspend(|| info!(pipeline = %b.name, "{line}"));
                    pb.set_message(format!(
                        "{} consumed, {} written, {} quarantined, {}/s, lag {}",
                        summary.consumed,
                        summary.written,
                        summary.quarantined.values().sum::<u64>(),
                        m.rows_per_s,
                        m.lag.map_or("-".into(), |l| l.to_string())
                    ));
                }
                None => info!(pipeline = %b.name, "{line}"),
            }
        }
        if matches!(end, BatchEnd::CaughtUp | BatchEnd::Stopped) {
            break;
        }
    }
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    summary.elapsed = started.elapsed();
    summary.bronze_version = ctx.bronze.version();
    Ok(summary)
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

async fn process_batch(
    ctx: &mut Ctx<'_>,
    buf: &BatchBuffer,
    poll: Duration,
    waiting: &[i32],
) -> Result<BatchMetrics, BronzeError> {
    let b = ctx.b;
    let batch_err = |message: String| BronzeError::Batch {
        pipeline: b.name.clone(),
        offsets: offsets_desc(buf),
        message,
    };
    let lake_err = |source| BronzeError::Lake {
        pipeline: b.name.clone(),
        source,
    };
    let now = Utc::now();
    let t_decode = Instant::now();

    let mut m = BatchMetrics {
        rows_in: buf.records.len() as u64,
        ..Default::default()
    };
    let mut end_offsets: BTreeMap<i32, i64> = BTreeMap::new();
    for r in &buf.records {
        let e = end_offsets.entry(r.partition).or_insert(r.offset);
        *e = (*e).max(r.offset);
    }

    let dec = block_in_place(|| decode(buf, &b.schema, &b.event_time))
        .map_err(|e| batch_err(format!("decoding: {e}")))?;
    let mut df = block_in_place(|| frame::enrich(b, dec.df, buf, &dec.rows, now))
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
    // A partition in this batch counts as waiting too: its first records are never judged
    // by the other partitions' progress alone.
    let mut waiting = waiting.to_vec();
    waiting.extend(end_offsets.keys().copied());
    let watermark = ctx.wm.watermark_us(delay_us, &waiting);

    let decided = |p: i32, o: i64| ctx.decided.get(&p).is_some_and(|(q, _)| o <= *q);
    let already_quarantined = |p: i32, o: i64| {
        ctx.decided
            .get(&p)
            .is_some_and(|(q, s)| o <= *q && s.contains(&o))
    };
    let mut keep = Vec::with_capacity(et.len());
    let mut quarantine: Vec<QuarantineRow> = Vec::new();
    for (i, &t) in et.iter().enumerate() {
        let r = buf.records[dec.rows[i]];
        if already_quarantined(r.partition, r.offset) {
            keep.push(false);
        } else if !decided(r.partition, r.offset) && watermark.is_some_and(|w| t < w) {
            keep.push(false);
            match b.late {
                LatePolicy::Quarantine => quarantine.push(QuarantineRow {
                    record: dec.rows[i],
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
    for r in &dec.rejected {
        let rec = buf.records[r.record];
        if !decided(rec.partition, rec.offset) {
            quarantine.push(QuarantineRow {
                record: r.record,
                reason: r.reason,
                error: r.error.clone(),
            });
        }
    }
    for (i, &t) in et.iter().enumerate() {
        ctx.wm.observe(buf.records[dec.rows[i]].partition, t);
    }
    m.watermark = ctx.wm.watermark_us(delay_us, &waiting).map(fmt_us);
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
    let decode_time = t_decode.elapsed();

    let txns: Vec<Transaction> = end_offsets
        .iter()
        .map(|(&p, &o)| Transaction::new(app_id(&b.name, p), o))
        .collect();

    // Quarantine first: if we crash before the bronze commit, the replay keeps these decisions.
    let t_write = Instant::now();
    let mut commit_time = Duration::ZERO;
    if !quarantine.is_empty() {
        quarantine.sort_by_key(|q| q.record);
        let mut qdf = frame::quarantine_frame(&b.topic, buf, &quarantine, now)
            .map_err(|e| batch_err(e.to_string()))?;
        let batches =
            bridge::to_record_batches(&mut qdf, &ctx.quarantine_arrow).map_err(batch_err)?;
        let meta = HashMap::from([("lakectl.pipeline".to_string(), serde_json::json!(b.name))]);
        let tc = Instant::now();
        table::append(&mut ctx.quarantine, batches, txns.clone(), meta)
            .await
            .map_err(lake_err)?;
        commit_time += tc.elapsed();
    }

    let batches = block_in_place(|| bridge::to_record_batches(&mut df, &ctx.bronze_arrow))
        .map_err(batch_err)?;
    let actions = table::write_files(&ctx.bronze, batches)
        .await
        .map_err(lake_err)?;
    let write_time = t_write.elapsed() - commit_time;
    m.end_offsets = end_offsets.clone();
    m.set_times(poll, decode_time, write_time, commit_time);
    let meta = HashMap::from([
        (
            WATERMARK_KEY.to_string(),
            serde_json::to_value(&ctx.wm).unwrap_or_default(),
        ),
        ("lakectl.pipeline".to_string(), serde_json::json!(b.name)),
        (
            BATCH_KEY.to_string(),
            serde_json::to_value(&m).unwrap_or_default(),
        ),
    ]);
    let tc = Instant::now();
    let op = table::append_operation(&ctx.bronze).map_err(lake_err)?;
    let version = table::commit(&mut ctx.bronze, actions, txns, meta, op)
        .await
        .map_err(lake_err)?;
    commit_time += tc.elapsed();
    m.batch_id = version;
    m.set_times(poll, decode_time, write_time, commit_time);

    // Decisions made before the crash are only needed until the replay has passed them.
    ctx.decided
        .retain(|p, (q, _)| end_offsets.get(p).is_none_or(|e| e < q));
    Ok(m)
}
