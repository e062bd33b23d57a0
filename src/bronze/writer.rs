//! The writer stage of a bronze pipeline: commits prepared batches strictly in order,
//! quarantine first, then ONE bronze commit with the files, the offsets, the owner txns and
//! the watermark state; keeps both tables' checkpoints off the commit path.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use tracing::info;

use super::metrics::BatchMetrics;
use super::prepare::PreparedBatch;
use super::{BronzeError, PipelineSummary, BATCH_KEY, WATERMARK_KEY};
use crate::lake::append::Appender;
use crate::lake::upkeep::Upkeep;
use crate::lake::{Draft, LakeError, Table};
use crate::spec::BronzeSpec;

pub(super) async fn write_loop(
    b: BronzeSpec,
    mut claim: super::ownership::Claim,
    bronze: Table,
    quarantine: Table,
    mut rx: tokio::sync::mpsc::Receiver<PreparedBatch>,
    pb: Option<ProgressBar>,
    on_batch: Option<super::metrics::BatchObserver>,
) -> Result<(PipelineSummary, Option<u64>), BronzeError> {
    let mut summary = PipelineSummary {
        pipeline: b.name.clone(),
        ..Default::default()
    };
    let lake_err = |source| BronzeError::Lake {
        pipeline: b.name.clone(),
        source,
    };
    let mut bronze = bronze.appender().map_err(lake_err)?;
    let mut quarantine = quarantine.appender().map_err(lake_err)?;
    let mut last_commit: Option<Instant> = None;
    let mut upkeep = (Upkeep::new(&bronze), Upkeep::new(&quarantine));
    while let Some(p) = rx.recv().await {
        let mut m = commit_batch(&b, &mut claim, &mut bronze, &mut quarantine, p).await?;
        upkeep.0.after_commit(&bronze).await;
        upkeep.1.after_commit(&quarantine).await;
        // Stages overlap, so the rate is over the wall time since the previous commit.
        if let Some(t) = last_commit {
            m.rows_per_s = (m.rows_in as f64 / t.elapsed().as_secs_f64().max(1e-6)) as u64;
        }
        last_commit = Some(Instant::now());
        if let Some(o) = &on_batch {
            (o.0)(&b.name, &m);
        }
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
    upkeep.0.finish().await;
    upkeep.1.finish().await;
    Ok((summary, Some(bronze.version())))
}

/// Writes a prepared batch: quarantine first, then ONE bronze commit with the files, the txns
/// and the watermark state.
async fn commit_batch(
    b: &BronzeSpec,
    claim: &mut super::ownership::Claim,
    bronze: &mut Appender,
    quarantine: &mut Appender,
    p: PreparedBatch,
) -> Result<BatchMetrics, BronzeError> {
    let p_parts: Vec<i32> = p.metrics.end_offsets.keys().copied().collect();
    let lake_err = |source| match source {
        LakeError::Conflict { table, .. } => BronzeError::OwnershipLost {
            pipeline: b.name.clone(),
            table,
            partitions: p_parts.clone(),
        },
        source => BronzeError::Lake {
            pipeline: b.name.clone(),
            source,
        },
    };
    let mut m = p.metrics;
    let t_write = Instant::now();
    let mut commit_time = Duration::ZERO;
    if p.quarantine.is_empty() {
        // The first batch claims the quarantine table even when it quarantines nothing.
        let tc = Instant::now();
        claim.quarantine(quarantine).await.map_err(lake_err)?;
        commit_time += tc.elapsed();
    } else {
        let meta = HashMap::from([("lakectl.pipeline".to_string(), serde_json::json!(b.name))]);
        let tc = Instant::now();
        let mut draft = Draft::default();
        quarantine
            .write(&mut draft, p.quarantine)
            .await
            .map_err(lake_err)?;
        quarantine
            .commit(draft, p.txns.clone(), meta)
            .await
            .map_err(lake_err)?;
        crate::failpoint::hit(crate::failpoint::AFTER_QUARANTINE_COMMIT);
        commit_time += tc.elapsed();
    }
    let mut draft = Draft::default();
    bronze.write(&mut draft, p.bronze).await.map_err(lake_err)?;
    let write_time = t_write.elapsed() - commit_time;
    let poll = Duration::from_secs_f64(m.poll_ms / 1e3);
    let decode = Duration::from_secs_f64(m.decode_ms / 1e3);
    m.set_times(poll, decode, write_time, commit_time);
    let meta = HashMap::from([
        (WATERMARK_KEY.to_string(), p.watermark_state),
        ("lakectl.pipeline".to_string(), serde_json::json!(b.name)),
        ("lakectl.offsets".to_string(), serde_json::json!(p.offsets)),
        (
            BATCH_KEY.to_string(),
            serde_json::to_value(&m).map_err(|e| BronzeError::Runtime {
                pipeline: b.name.clone(),
                message: format!("serialising the batch metrics: {e}"),
            })?,
        ),
    ]);
    let tc = Instant::now();
    // Refused: taken over (exit 6), or another writer changed the schema (a writer on the
    // edited spec widened or added a column): then this one must restart on the new spec.
    let version = bronze.commit(draft, p.txns, meta).await.map_err(lake_err)?;
    crate::failpoint::hit(crate::failpoint::AFTER_BRONZE_COMMIT);
    claim.made();
    commit_time += tc.elapsed();
    m.batch_id = version;
    m.set_times(poll, decode, write_time, commit_time);
    Ok(m)
}
