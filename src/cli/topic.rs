//! `lakectl topic create|list|tail|send`: the topic administration and kcat's daily uses
//! (look at the records of a topic, send one given record).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::Duration;

use anyhow::Context;

use crate::kafka::admin;
use crate::kafka::consumer::{Drain, Record, RecordSink};
use crate::kafka::producer::SalesProducer;
use crate::spec::{BatchLimits, DataLossPolicy, PipelineSpec};

/// Topic subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum TopicCommand {
    /// Create a topic (an existing topic is not an error).
    Create {
        /// Topic name (default: the topic of the first bronze pipeline).
        name: Option<String>,
        /// Number of partitions.
        #[arg(long, default_value_t = 3)]
        partitions: i32,
    },
    /// List topics with their partition counts.
    List,
    /// Print a topic's records as `partition:offset<TAB>payload`, one per line: by default the
    /// last `--count` of each partition (like `tail`), then stop, or keep printing new ones
    /// with `--follow`. Payloads that are not UTF-8 are printed as hex (`0x…`).
    #[command(
        after_help = "Examples:\n  lakectl topic tail                           # the last 10 records of each partition\n  lakectl topic tail ventes_stream --from-beginning --count 100\n  lakectl topic tail --offset 2:1500 --count 5\n  lakectl topic tail --follow"
    )]
    Tail {
        /// Topic name (default: the topic of the first bronze pipeline).
        topic: Option<String>,
        /// Start at each partition's first record.
        #[arg(long, conflicts_with = "offset")]
        from_beginning: bool,
        /// Start at offset O of partition P only (`P:O`).
        #[arg(long, value_name = "P:O")]
        offset: Option<String>,
        /// Records to print in all (without --follow, per partition from the end).
        #[arg(long, default_value_t = 10)]
        count: usize,
        /// Keep printing records as they arrive, until Ctrl-C.
        #[arg(long)]
        follow: bool,
    },
    /// Send one record with the given payload (or each line of stdin with `-`).
    #[command(
        after_help = "Examples:\n  lakectl topic send '{\"vente_id\": 1, \"client_id\": 3}'\n  lakectl topic send - --partition 0 < records.jsonl"
    )]
    Send {
        /// The payload, or `-` for one record per line of stdin.
        payload: String,
        /// Topic name (default: the topic of the first bronze pipeline).
        #[arg(long)]
        topic: Option<String>,
        /// Partition (default: by key).
        #[arg(long)]
        partition: Option<i32>,
        /// Record key.
        #[arg(long, default_value = "")]
        key: String,
    },
}

/// The topic named, or the first bronze pipeline's.
fn topic_of(spec: &PipelineSpec, name: &Option<String>) -> anyhow::Result<String> {
    match name {
        Some(n) => Ok(n.clone()),
        None => spec
            .bronze
            .first()
            .map(|b| b.topic.clone())
            .context("no topic given and no bronze pipeline in the spec"),
    }
}

/// Prints each record as `partition:offset<TAB>payload`, up to a count.
struct Printer {
    left: usize,
}

impl RecordSink for Printer {
    fn push(&mut self, r: Record<'_>) {
        if self.left == 0 {
            return;
        }
        self.left -= 1;
        let payload = match r.payload {
            None => "(tombstone)".to_string(),
            Some(b) => match std::str::from_utf8(b) {
                Ok(s) => s.to_string(),
                Err(_) => format!(
                    "0x{}",
                    b.iter().map(|x| format!("{x:02x}")).collect::<String>()
                ),
            },
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}:{}\t{payload}", r.partition, r.offset);
    }
}

async fn tail(
    spec: &PipelineSpec,
    topic: &str,
    from_beginning: bool,
    offset: Option<&str>,
    count: usize,
    follow: bool,
    stop: &crate::shutdown::StopFlag,
) -> anyhow::Result<()> {
    // Each partition's ends, as fetch responses report them (what bronze's lag uses too;
    // a ListOffsets answer can lag behind on some brokers).
    let marks = tokio::task::block_in_place(|| -> anyhow::Result<BTreeMap<i32, (i64, i64)>> {
        let lows = admin::watermarks(&spec.kafka, topic)?;
        let all = lows.keys().map(|p| (*p, None)).collect();
        let mut probe = Drain::open(&spec.kafka, topic, &all, DataLossPolicy::Skip)?;
        let highs = probe
            .probe_high_watermarks(Duration::from_secs(10))?
            .context("the broker did not report the partitions' ends in time")?;
        Ok(lows
            .into_iter()
            .map(|(p, (low, high))| (p, (low, highs.get(&p).copied().unwrap_or(high))))
            .collect())
    })?;
    let starts: BTreeMap<i32, Option<i64>> = match offset {
        Some(po) => {
            let (p, o) = po
                .split_once(':')
                .and_then(|(p, o)| Some((p.parse::<i32>().ok()?, o.parse::<i64>().ok()?)))
                .with_context(|| {
                    format!("--offset `{po}` is not PARTITION:OFFSET (e.g. 2:1500)")
                })?;
            if !marks.contains_key(&p) {
                anyhow::bail!(
                    "{topic} has no partition {p} (partitions: {:?})",
                    marks.keys().collect::<Vec<_>>()
                );
            }
            BTreeMap::from([(p, Some(o))])
        }
        None if from_beginning => marks.keys().map(|p| (*p, None)).collect(),
        None => marks
            .iter()
            .map(|(p, (low, high))| (*p, Some((high - count as i64).max(*low))))
            .collect(),
    };
    let total = if offset.is_some() || from_beginning || follow {
        count
    } else {
        count * marks.len()
    };
    let mut printer = Printer { left: total };
    let limits = BatchLimits {
        max_records: 10_000,
        max_bytes: 64 << 20,
        max_wait: Duration::from_millis(200),
    };
    tokio::task::block_in_place(|| -> anyhow::Result<()> {
        let mut drain = Drain::open(&spec.kafka, topic, &starts, DataLossPolicy::Skip)?;
        while printer.left > 0 && !stop.is_set() {
            drain.poll_batch(&limits, !follow, &mut printer, &|| stop.is_set())?;
            if !follow && drain.all_at_end() {
                break;
            }
        }
        Ok(())
    })
}

/// Runs a topic subcommand.
pub async fn run(
    g: &super::Globals,
    cmd: &TopicCommand,
    stop: crate::shutdown::StopFlag,
) -> anyhow::Result<()> {
    let spec = super::load_spec(g)?;
    match cmd {
        TopicCommand::Create { name, partitions } => {
            if *partitions < 1 {
                anyhow::bail!("--partitions must be at least 1");
            }
            let name = topic_of(&spec, name)?;
            let created = admin::create_topic(&spec.kafka, &name, *partitions).await?;
            if created {
                crate::outln!("created topic {name} ({partitions} partitions)");
            } else {
                let parts = tokio::task::block_in_place(|| {
                    admin::topic_partitions(&spec.kafka, &name, admin::TIMEOUT)
                })?;
                crate::outln!("topic {name} already exists ({} partitions)", parts.len());
            }
        }
        TopicCommand::List => {
            let topics =
                tokio::task::block_in_place(|| admin::list_topics(&spec.kafka, admin::TIMEOUT))?;
            for t in topics {
                crate::outln!("{}\t{}", t.name, t.partitions.len());
            }
        }
        TopicCommand::Tail {
            topic,
            from_beginning,
            offset,
            count,
            follow,
        } => {
            let topic = topic_of(&spec, topic)?;
            tail(
                &spec,
                &topic,
                *from_beginning,
                offset.as_deref(),
                *count,
                *follow,
                &stop,
            )
            .await?;
        }
        TopicCommand::Send {
            payload,
            topic,
            partition,
            key,
        } => {
            let topic = topic_of(&spec, topic)?;
            tokio::task::block_in_place(|| {
                admin::topic_partitions(&spec.kafka, &topic, admin::TIMEOUT)
            })?;
            let producer = SalesProducer::new(&spec.kafka, &topic, Duration::ZERO)?;
            let payloads: Vec<String> = if payload == "-" {
                std::io::stdin()
                    .lines()
                    .collect::<Result<_, _>>()
                    .context("reading stdin")?
            } else {
                vec![payload.clone()]
            };
            for p in &payloads {
                producer.send(key.as_bytes(), p.as_bytes(), *partition)?;
            }
            producer.flush(Duration::from_secs(30))?;
            let stats = producer.stats();
            let failed = stats.failed.load(std::sync::atomic::Ordering::Relaxed);
            if failed > 0 {
                let why = stats.last_error.lock().ok().and_then(|e| e.clone());
                anyhow::bail!(
                    "{failed} of {} record(s) were not delivered to {topic}: {}",
                    payloads.len(),
                    why.unwrap_or_default()
                );
            }
            crate::outln!("sent {} record(s) to {topic}", payloads.len());
        }
    }
    Ok(())
}
