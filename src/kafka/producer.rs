//! A fast producer with counted delivery reports.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;

use super::config::client_config;
use super::KafkaError;
use crate::spec::KafkaSpec;

/// Delivery counters, shared with the librdkafka callback.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    /// Records acknowledged by the broker.
    pub acked: AtomicU64,
    /// Records that failed.
    pub failed: AtomicU64,
    /// Last delivery error seen.
    pub last_error: std::sync::Mutex<Option<String>>,
}

/// Context counting delivery reports.
pub struct CountingContext {
    stats: Arc<DeliveryStats>,
}

impl ClientContext for CountingContext {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        super::config::LakectlContext.log(level, fac, log_message)
    }
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        super::config::LakectlContext.error(error, reason)
    }
}

impl ProducerContext for CountingContext {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.stats.acked.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut g) = self.stats.last_error.lock() {
                    *g = Some(e.to_string());
                }
            }
        }
    }
}

/// A producer to one topic.
pub struct SalesProducer {
    inner: BaseProducer<CountingContext>,
    topic: String,
    stats: Arc<DeliveryStats>,
}

impl SalesProducer {
    /// Connects, tuned for throughput (batching for up to `linger`, no compression).
    pub fn new(spec: &KafkaSpec, topic: &str, linger: Duration) -> Result<Self, KafkaError> {
        let stats = Arc::new(DeliveryStats::default());
        let mut cfg = client_config(spec);
        cfg.set("linger.ms", linger.as_millis().to_string())
            .set("batch.num.messages", "10000")
            .set("batch.size", "1000000")
            .set("queue.buffering.max.messages", "1000000")
            .set("queue.buffering.max.kbytes", "1048576")
            .set("message.timeout.ms", "30000");
        let inner = cfg
            .create_with_context(CountingContext {
                stats: stats.clone(),
            })
            .map_err(|source| KafkaError::Client {
                brokers: spec.brokers.clone(),
                what: "creating producer".into(),
                source: Box::new(source),
            })?;
        Ok(Self {
            inner,
            topic: topic.into(),
            stats,
        })
    }

    /// The delivery counters.
    pub fn stats(&self) -> &DeliveryStats {
        &self.stats
    }

    /// Queues one record, waiting for room when the local queue is full.
    pub fn send(
        &self,
        key: &[u8],
        payload: &[u8],
        partition: Option<i32>,
    ) -> Result<(), KafkaError> {
        loop {
            let mut rec = BaseRecord::to(&self.topic).key(key).payload(payload);
            if let Some(p) = partition {
                rec = rec.partition(p);
            }
            match self.inner.send(rec) {
                Ok(()) => {
                    // Serve delivery callbacks without blocking.
                    self.inner.poll(Duration::ZERO);
                    return Ok(());
                }
                Err((e, _))
                    if e.rdkafka_error_code()
                        == Some(rdkafka::types::RDKafkaErrorCode::QueueFull) =>
                {
                    self.inner.poll(Duration::from_millis(5));
                }
                Err((source, _)) => {
                    return Err(KafkaError::Delivery {
                        topic: self.topic.clone(),
                        source: Box::new(source),
                    })
                }
            }
        }
    }

    /// Serves delivery callbacks for up to `wait`.
    pub fn poll(&self, wait: Duration) {
        self.inner.poll(wait);
    }

    /// Waits until every queued record is acknowledged or failed (up to `timeout`).
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.inner
            .flush(timeout)
            .map_err(|source| KafkaError::Delivery {
                topic: self.topic.clone(),
                source: Box::new(source),
            })
    }
}
