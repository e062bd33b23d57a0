//! Kafka access through librdkafka: client settings, topic administration, the bounded-drain
//! consumer (explicit partition assignment) and a fast producer.

pub mod admin;
pub mod config;
pub mod consumer;
pub mod producer;

/// Kafka errors, with the context a user needs to act on them.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// The broker could not be reached or answered with an error.
    #[error("kafka ({brokers}): {what}: {source}\n    hint: is the broker running? `scripts/broker.sh status`; brokers come from kafka.brokers (env KAFKA_BROKERS)")]
    Client {
        /// Bootstrap servers.
        brokers: String,
        /// What was being done.
        what: String,
        /// librdkafka's error.
        source: Box<rdkafka::error::KafkaError>,
    },
    /// The topic does not exist.
    #[error("topic `{topic}` does not exist on {brokers}\n    hint: create it with `lakectl topic create {topic}`")]
    NoTopic {
        /// Topic.
        topic: String,
        /// Bootstrap servers.
        brokers: String,
    },
    /// Records between the stored offset and the earliest retained one are gone.
    #[error("data loss on {topic}[{partition}]: the next offset to read is {expected} but the earliest offset still in Kafka is {earliest} ({} records lost to retention)\n    hint: set `on_data_loss: skip` on the pipeline to resume at {earliest} and accept the gap", earliest - expected)]
    DataLoss {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The offset lakectl needed.
        expected: i64,
        /// The earliest offset available.
        earliest: i64,
    },
    /// The next offset to read is past the end of the partition: the topic was deleted and
    /// recreated (or the spec points at another cluster). Reading on would silently skip
    /// the new topic's first records, so lakectl stops (Spark's failOnDataLoss).
    #[error("offsets of {topic}[{partition}] are past its end: the next offset to read is {next} but the partition ends at {end}; the topic was deleted and recreated, or points at another cluster, so the offsets stored in the table do not describe it (the local broker of scripts/broker.sh keeps its topics in memory: a restart empties them)\n    hint: start a new lake (move the lake's folder away, or `scripts/quickstart.sh --reset`), point the pipeline at a new table, or restore the topic")]
    OffsetAhead {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The offset lakectl would read next.
        next: i64,
        /// The partition's high watermark.
        end: i64,
    },
    /// A record could not be delivered.
    #[error("delivery to {topic} failed: {source}")]
    Delivery {
        /// Topic.
        topic: String,
        /// librdkafka's error.
        source: Box<rdkafka::error::KafkaError>,
    },
}

impl crate::exit::ExitCode for KafkaError {
    fn exit_code(&self) -> u8 {
        crate::exit::KAFKA
    }
}
