//! The bounded-drain consumer: partitions assigned explicitly at offsets lakectl stores in
//! the Delta log (no consumer-group rebalancing), polled into micro-batches bounded by
//! records, bytes and time, with end-of-partition tracked from fetch responses.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError as RdError;
use rdkafka::message::Message;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use tracing::{debug, warn};

use super::config::{client_config, LakectlContext};
use super::KafkaError;
use crate::spec::{BatchLimits, DataLossPolicy, KafkaSpec};

/// One record as polled, borrowed from librdkafka's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Its partition.
    pub partition: i32,
    /// Its offset in the partition.
    pub offset: i64,
    /// Its Kafka timestamp (ms since the epoch), when it has one.
    pub timestamp_ms: Option<i64>,
    /// Its value; None for a tombstone.
    pub payload: Option<&'a [u8]>,
}

/// A record from (partition, offset, timestamp, payload).
impl<'a> From<(i32, i64, Option<i64>, Option<&'a [u8]>)> for Record<'a> {
    fn from(
        (partition, offset, timestamp_ms, payload): (i32, i64, Option<i64>, Option<&'a [u8]>),
    ) -> Self {
        Record {
            partition,
            offset,
            timestamp_ms,
            payload,
        }
    }
}

/// Receives the records of a batch, in poll order.
pub trait RecordSink {
    /// One record.
    fn push(&mut self, record: Record<'_>);
}

/// Why a batch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchEnd {
    /// `max_records` or `max_bytes` reached.
    Full,
    /// `max_wait` elapsed.
    Timeout,
    /// Every partition reached its end (only with `until_caught_up`).
    CaughtUp,
    /// The stop flag was raised.
    Stopped,
}

/// Per-partition progress.
#[derive(Debug, Clone, Copy)]
pub struct PartitionState {
    /// Next offset to read.
    pub next: i64,
    /// End of partition seen since start.
    pub at_end: bool,
}

/// A record polled past the batch's byte limit, kept for the next batch.
struct Pending {
    partition: i32,
    offset: i64,
    ts: Option<i64>,
    payload: Option<Vec<u8>>,
}

/// A consumer of one topic, assigned explicitly.
pub struct Drain {
    consumer: BaseConsumer<LakectlContext>,
    topic: String,
    brokers: String,
    states: BTreeMap<i32, PartitionState>,
    pending: Option<Pending>,
}

impl Drain {
    /// Assigns `starts` (partition → next offset to read, None = from the beginning).
    /// Checks each stored offset against the earliest retained one first.
    pub fn open(
        spec: &KafkaSpec,
        topic: &str,
        starts: &BTreeMap<i32, Option<i64>>,
        on_data_loss: DataLossPolicy,
    ) -> Result<Self, KafkaError> {
        let mut cfg = client_config(spec);
        cfg.set("enable.partition.eof", "true")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "error")
            .set("group.id", "lakectl")
            .set("queued.min.messages", "100000")
            .set("queued.max.messages.kbytes", "32768")
            .set("fetch.wait.max.ms", "50")
            .set("fetch.max.bytes", "67108864")
            .set("max.partition.fetch.bytes", "16777216")
            // A fetch response is bounded by fetch.max.bytes, except when one record alone is
            // larger: librdkafka then refuses the response unless this allows it, and the
            // pipeline could never get past that record. Let it through, so the record is
            // quarantined as `too_large` (limits.max_record_bytes) instead.
            .set("receive.message.max.bytes", "1073741824");
        // When the prefetch queue is full (the bounds above: memory stays bounded while a
        // batch is written), librdkafka postpones the partition's next fetch by this much,
        // 1 s by default: a backlog drain stalled for a second every few batches (seen as
        // poll=960ms in the batch metrics, 3 s of a 4.3 s drain of 1M records). A user's
        // `kafka.options` value wins.
        if !spec.options.contains_key("fetch.queue.backoff.ms") {
            cfg.set("fetch.queue.backoff.ms", "10");
        }
        let consumer: BaseConsumer<LakectlContext> = cfg
            .create_with_context(LakectlContext)
            .map_err(|source| KafkaError::Client {
                brokers: spec.brokers.clone(),
                what: "creating consumer".into(),
                source: Box::new(source),
            })?;
        let mut tpl = TopicPartitionList::new();
        let mut states = BTreeMap::new();
        for (&p, &next) in starts {
            let (low, _high) = consumer
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .map_err(|source| KafkaError::Client {
                    brokers: spec.brokers.clone(),
                    what: format!("reading offsets of {topic}[{p}]"),
                    source: Box::new(source),
                })?;
            let start = match resume_offset(next, low, on_data_loss) {
                Ok(start) => start,
                Err(expected) => {
                    return Err(KafkaError::DataLoss {
                        topic: topic.into(),
                        partition: p,
                        expected,
                        earliest: low,
                    });
                }
            };
            if let Some(n) = next.filter(|n| *n < start) {
                warn!(
                    topic,
                    partition = p,
                    expected = n,
                    earliest = low,
                    lost = low - n,
                    "data lost to retention; skipping the gap (on_data_loss: skip)"
                );
            }
            tpl.add_partition_offset(topic, p, Offset::Offset(start))
                .map_err(|source| KafkaError::Client {
                    brokers: spec.brokers.clone(),
                    what: "assigning".into(),
                    source: Box::new(source),
                })?;
            states.insert(
                p,
                PartitionState {
                    next: start,
                    at_end: false,
                },
            );
        }
        consumer.assign(&tpl).map_err(|source| KafkaError::Client {
            brokers: spec.brokers.clone(),
            what: format!("assigning partitions of {topic}"),
            source: Box::new(source),
        })?;
        debug!(topic, ?states, "assigned");
        Ok(Self {
            consumer,
            topic: topic.into(),
            brokers: spec.brokers.clone(),
            states,
            pending: None,
        })
    }

    /// Progress of every assigned partition.
    pub fn states(&self) -> &BTreeMap<i32, PartitionState> {
        &self.states
    }

    /// Each assigned partition's high watermark as librdkafka learned it from fetch
    /// responses (no broker round trip, and right on brokers whose ListOffsets is not).
    /// None until every partition has reported one.
    pub fn high_watermarks(&self) -> Option<BTreeMap<i32, i64>> {
        let topic = std::ffi::CString::new(self.topic.as_str()).ok()?;
        let mut out = BTreeMap::new();
        for &p in self.states.keys() {
            let (mut low, mut high) = (-1i64, -1i64);
            // SAFETY: the client pointer is valid for the consumer's lifetime, `topic` is a
            // NUL-terminated string, and librdkafka only writes the two out-parameters.
            let err = unsafe {
                rdkafka::bindings::rd_kafka_get_watermark_offsets(
                    self.consumer.client().native_ptr(),
                    topic.as_ptr(),
                    p,
                    &mut low,
                    &mut high,
                )
            };
            if err != rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || high < 0
            {
                return None;
            }
            out.insert(p, high);
        }
        Some(out)
    }

    /// Records not yet consumed, from [`Self::high_watermarks`].
    pub fn lag(&self) -> Option<i64> {
        let highs = self.high_watermarks()?;
        Some(
            self.states
                .iter()
                .map(|(p, s)| (highs[p] - s.next).max(0))
                .sum(),
        )
    }

    /// Fetches until every partition's high watermark is known (or `timeout`), discarding
    /// the records: for reporting lag without consuming for real.
    pub fn probe_high_watermarks(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<BTreeMap<i32, i64>>, KafkaError> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(h) = self.high_watermarks() {
                return Ok(Some(h));
            }
            match self.consumer.poll(Duration::from_millis(50)) {
                None | Some(Ok(_)) | Some(Err(RdError::PartitionEOF(_))) => {}
                Some(Err(e)) => return Err(self.classify(e)),
            }
        }
        Ok(self.high_watermarks())
    }

    /// True when every assigned partition has reached its end since start.
    pub fn all_at_end(&self) -> bool {
        self.pending.is_none() && self.states.values().all(|s| s.at_end)
    }

    /// Polls one micro-batch into `sink`. Stops at the limits, at `max_wait`, when
    /// `until_caught_up` and every partition is at its end, or when `stop()` says so.
    pub fn poll_batch(
        &mut self,
        limits: &BatchLimits,
        until_caught_up: bool,
        sink: &mut dyn RecordSink,
        stop: &dyn Fn() -> bool,
    ) -> Result<BatchEnd, KafkaError> {
        let deadline = Instant::now() + limits.max_wait;
        let mut records = 0usize;
        let mut bytes = 0usize;
        if let Some(p) = self.pending.take() {
            records += 1;
            bytes += p.payload.as_ref().map_or(0, Vec::len);
            let r = (p.partition, p.offset, p.ts, p.payload.as_deref()).into();
            accept(&mut self.states, r, sink);
        }
        // The clock and the stop flag are checked every 256 records (and whenever the queue is
        // empty): reading the clock per record showed in profiles.
        let mut since_check = 0u32;
        let mut wait = Duration::ZERO;
        loop {
            if records >= limits.max_records || bytes >= limits.max_bytes {
                return Ok(BatchEnd::Full);
            }
            if since_check == 0 {
                self.check_ends()?;
                if until_caught_up && self.all_at_end() {
                    return Ok(BatchEnd::CaughtUp);
                }
                if stop() {
                    return Ok(BatchEnd::Stopped);
                }
                let now = Instant::now();
                if now >= deadline {
                    return Ok(BatchEnd::Timeout);
                }
                wait = (deadline - now).min(Duration::from_millis(100));
                since_check = 256;
            }
            since_check -= 1;
            match self.consumer.poll(wait) {
                None => since_check = 0,
                Some(Ok(m)) => {
                    let len = m.payload().map_or(0, <[u8]>::len);
                    let ts = m.timestamp().to_millis();
                    if records > 0 && bytes + len > limits.max_bytes {
                        self.pending = Some(Pending {
                            partition: m.partition(),
                            offset: m.offset(),
                            ts,
                            payload: m.payload().map(<[u8]>::to_vec),
                        });
                        return Ok(BatchEnd::Full);
                    }
                    records += 1;
                    bytes += len;
                    let r = (m.partition(), m.offset(), ts, m.payload()).into();
                    accept(&mut self.states, r, sink);
                }
                Some(Err(RdError::PartitionEOF(p))) => {
                    if let Some(s) = self.states.get_mut(&p) {
                        s.at_end = true;
                    }
                    since_check = 0;
                }
                Some(Err(e)) => return Err(self.classify(e)),
            }
        }
    }

    /// Compares each partition's position with the high watermark the last fetch reported:
    /// a position past it means the topic is not the one the offsets were stored for (an
    /// error); a position at it is the end of the partition, even from a broker that never
    /// reports end-of-partition events.
    fn check_ends(&mut self) -> Result<(), KafkaError> {
        let Some(highs) = self.high_watermarks() else {
            return Ok(());
        };
        for (p, s) in self.states.iter_mut() {
            let Some(&end) = highs.get(p) else { continue };
            if s.next > end {
                return Err(KafkaError::OffsetAhead {
                    topic: self.topic.clone(),
                    partition: *p,
                    next: s.next,
                    end,
                });
            }
            if s.next == end && self.pending.as_ref().is_none_or(|x| x.partition != *p) {
                s.at_end = true;
            }
        }
        Ok(())
    }

    fn classify(&self, e: RdError) -> KafkaError {
        let code = e.rdkafka_error_code();
        if matches!(
            code,
            Some(RDKafkaErrorCode::OffsetOutOfRange) | Some(RDKafkaErrorCode::AutoOffsetReset)
        ) {
            // Find which partition: the one whose next offset is below the earliest retained.
            for (&p, s) in &self.states {
                if let Ok((low, _)) =
                    self.consumer
                        .fetch_watermarks(&self.topic, p, Duration::from_secs(5))
                {
                    if s.next < low {
                        return KafkaError::DataLoss {
                            topic: self.topic.clone(),
                            partition: p,
                            expected: s.next,
                            earliest: low,
                        };
                    }
                }
            }
        }
        KafkaError::Client {
            brokers: self.brokers.clone(),
            what: format!("consuming {}", self.topic),
            source: Box::new(e),
        }
    }
}

/// Where to resume a partition: the stored next offset, or the earliest retained one when
/// there is none. A stored offset below the earliest retained one is data lost to retention:
/// an error carrying the expected offset, unless the policy skips the gap.
pub fn resume_offset(next: Option<i64>, earliest: i64, policy: DataLossPolicy) -> Result<i64, i64> {
    match next {
        None => Ok(earliest.max(0)),
        Some(n) if n < earliest => match policy {
            DataLossPolicy::Fail => Err(n),
            DataLossPolicy::Skip => Ok(earliest),
        },
        Some(n) => Ok(n),
    }
}

fn accept(states: &mut BTreeMap<i32, PartitionState>, r: Record<'_>, sink: &mut dyn RecordSink) {
    if let Some(s) = states.get_mut(&r.partition) {
        s.next = r.offset + 1;
    }
    sink.push(r);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_offsets_and_retention_gaps() {
        assert_eq!(resume_offset(None, 0, DataLossPolicy::Fail), Ok(0));
        assert_eq!(resume_offset(None, 40, DataLossPolicy::Fail), Ok(40));
        assert_eq!(resume_offset(Some(100), 40, DataLossPolicy::Fail), Ok(100));
        assert_eq!(
            resume_offset(Some(100), 150, DataLossPolicy::Fail),
            Err(100)
        );
        assert_eq!(resume_offset(Some(100), 150, DataLossPolicy::Skip), Ok(150));
    }

    #[test]
    fn data_loss_error_names_the_partition_and_the_gap() {
        let e = KafkaError::DataLoss {
            topic: "t".into(),
            partition: 2,
            expected: 100,
            earliest: 150,
        };
        let msg = e.to_string();
        assert!(msg.starts_with("data loss on t[2]: the next offset to read is 100 but the earliest offset still in Kafka is 150 (50 records lost to retention)"), "{msg}");
        assert!(msg.contains("on_data_loss: skip"), "{msg}");
    }
}
