//! The poller stage of a bronze pipeline: a thread that fills the next micro-batch from the
//! consumer while the current one is prepared, and notices partitions added to the topic.

use std::time::{Duration, Instant};

use tracing::debug;

use super::buffer::BatchBuffer;
use super::ingest::Worker;
use crate::kafka::admin::topic_partitions;
use crate::kafka::consumer::{BatchEnd, Drain};
use crate::kafka::KafkaError;
use crate::shutdown::StopFlag;

/// A polled micro-batch, handed from the poller to the preparer.
pub(super) struct Polled {
    pub(super) buf: BatchBuffer,
    pub(super) poll: Duration,
    /// Partitions with unread records when the poll ended.
    pub(super) waiting: Vec<i32>,
    pub(super) lag: Option<i64>,
}

/// How often a continuous run looks for partitions added to its topic.
pub(super) const DISCOVERY_INTERVAL: Duration = Duration::from_secs(10);

/// What the poller needs to notice partitions added to the topic.
pub(super) struct Discover {
    pub(super) kafka: crate::spec::KafkaSpec,
    pub(super) topic: String,
    pub(super) worker: Option<Worker>,
    pub(super) known: Vec<i32>,
}

impl Discover {
    /// Partitions of the topic this run should own but does not read yet.
    fn added(&self) -> Vec<i32> {
        match added_partitions(&self.kafka, &self.topic, self.worker, &self.known) {
            Ok(added) => added,
            Err(e) => {
                debug!(topic = %self.topic, error = %e, "partition discovery: no answer");
                Vec::new() // the next poll reports an unreachable broker
            }
        }
    }
}

/// The partitions of `topic` that a run over `known` (all partitions, or `worker`'s share)
/// should also read: those added to the topic since.
pub fn added_partitions(
    kafka: &crate::spec::KafkaSpec,
    topic: &str,
    worker: Option<Worker>,
    known: &[i32],
) -> Result<Vec<i32>, KafkaError> {
    let all = topic_partitions(kafka, topic, crate::kafka::admin::TIMEOUT)?;
    let mine = match worker {
        Some(w) => w.partitions(&all),
        None => all,
    };
    Ok(mine.into_iter().filter(|p| !known.contains(p)).collect())
}

pub(super) fn poll_loop(
    mut drain: Drain,
    limits: crate::spec::BatchLimits,
    record_limits: crate::spec::RecordLimits,
    until: bool,
    discover: Option<Discover>,
    stop: StopFlag,
    tx: std::sync::mpsc::SyncSender<Polled>,
) -> Result<Option<Vec<i32>>, KafkaError> {
    let mut next_discovery = Instant::now() + DISCOVERY_INTERVAL;
    // The previous batch's size: the next buffer is allocated at that size once, instead of
    // growing by doublings (each a copy of what it holds).
    let mut last = (0usize, 0usize);
    loop {
        if let Some(d) = discover
            .as_ref()
            .filter(|_| Instant::now() >= next_discovery)
        {
            next_discovery = Instant::now() + DISCOVERY_INTERVAL;
            let added = d.added();
            if !added.is_empty() {
                return Ok(Some(added));
            }
        }
        let mut buf = BatchBuffer::with_capacity(record_limits, last.0, last.1);
        let t0 = Instant::now();
        let end = drain.poll_batch(&limits, until, &mut buf, &|| stop.is_set())?;
        last = (
            (buf.ndjson.len() + buf.ndjson.len() / 8).min(limits.max_bytes + (1 << 20)),
            buf.records.len(),
        );
        if !buf.is_empty() {
            let waiting = drain
                .states()
                .iter()
                .filter(|(_, s)| !s.at_end)
                .map(|(p, _)| *p)
                .collect();
            let polled = Polled {
                buf,
                poll: t0.elapsed(),
                waiting,
                lag: drain.lag(),
            };
            if tx.send(polled).is_err() {
                return Ok(None); // the preparer stopped (it reports why)
            }
        }
        if matches!(end, BatchEnd::CaughtUp | BatchEnd::Stopped) {
            return Ok(None);
        }
    }
}
