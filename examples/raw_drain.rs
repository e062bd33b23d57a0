//! Baseline for `scripts/bench.sh bronze`: drains a topic from the beginning to the end of
//! every partition with a bare librdkafka consumer that only counts records and bytes, with
//! the same fetch settings as lakectl's consumer.
//!
//! Usage: raw_drain BROKERS TOPIC PARTITIONS

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        return Err("usage: raw_drain BROKERS TOPIC PARTITIONS".into());
    }
    let (brokers, topic, partitions) = (&args[1], &args[2], args[3].parse::<i32>()?);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.partition.eof", "true")
        .set("enable.auto.commit", "false")
        .set("group.id", "lakectl")
        .set("queued.min.messages", "100000")
        .set("queued.max.messages.kbytes", "32768")
        .set("fetch.wait.max.ms", "50")
        .set("fetch.max.bytes", "67108864")
        .set("max.partition.fetch.bytes", "16777216")
        .set("fetch.queue.backoff.ms", "10")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let start = Instant::now();
    let (mut records, mut bytes) = (0u64, 0u64);
    let mut done = HashSet::new();
    while done.len() < partitions as usize {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                records += 1;
                bytes += m.payload().map_or(0, |p| p.len() as u64);
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                done.insert(p);
            }
            Some(Err(e)) => return Err(e.into()),
            None => {}
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "raw_drain records={records} bytes={bytes} seconds={secs:.3} records_per_s={:.0}",
        records as f64 / secs
    );
    Ok(())
}
