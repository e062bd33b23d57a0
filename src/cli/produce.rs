//! `lakectl produce`: the sales simulator.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use tracing::debug;

use crate::kafka::producer::SalesProducer;
use crate::produce::{GeneratorOptions, RecordKind, SaleGenerator};
use crate::shutdown::StopFlag;
use crate::spec::units::parse_duration;

/// Records per second: a number, or `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// As fast as the broker takes them.
    Max,
    /// This many per second.
    PerSecond(f64),
}

fn parse_rate(s: &str) -> Result<Rate, String> {
    if s.eq_ignore_ascii_case("max") {
        return Ok(Rate::Max);
    }
    match s.parse::<f64>() {
        Ok(r) if r > 0.0 && r.is_finite() => Ok(Rate::PerSecond(r)),
        _ => Err(format!(
            "`{s}` is not a rate: give records per second (e.g. 100) or `max`"
        )),
    }
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!("`{s}` is not a fraction between 0 and 1")),
    }
}

/// Arguments of `produce`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Topic (default: the topic of the first bronze pipeline).
    #[arg(long)]
    pub topic: Option<String>,
    /// Records per second, or `max`. Default: one every 2 s, like the seeds.
    #[arg(long, default_value = "0.5", value_parser = parse_rate)]
    pub rate: Rate,
    /// Number of records (default: until Ctrl-C).
    #[arg(long)]
    pub count: Option<u64>,
    /// How many clients buy: the seeds' 20 by default; beyond them clients are generated
    /// (names, countries, segments fixed by their id), so loyalty and spend classes vary.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub clients: u32,
    /// Seed for a reproducible stream (ids, clients, products, quantities, faults).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Probability, per sale, that its client first moves to another country or switches
    /// segment; the change sticks for the rest of the run (a client dimension with history
    /// for SCD2 jobs). Default 0: clients keep the catalogue's attributes.
    #[arg(long, default_value = "0", value_parser = parse_fraction)]
    pub client_changes: f64,
    /// Fraction of late events (event time 1-3 h old, beyond the watermark).
    #[arg(long, default_value = "0", value_parser = parse_fraction)]
    pub late_fraction: f64,
    /// Fraction of malformed records (broken JSON, wrong types, missing event time).
    #[arg(long, default_value = "0", value_parser = parse_fraction)]
    pub malformed_fraction: f64,
    /// Send every record to this partition (default: keyed by client id).
    #[arg(long)]
    pub partition: Option<i32>,
    /// How long the producer waits to fill a batch (librdkafka `linger.ms`). Longer makes
    /// fewer, larger record batches for the broker to store and serve, at that much latency.
    #[arg(long, default_value = "5ms", value_parser = crate::spec::units::parse_duration)]
    pub linger: Duration,
    /// First vente_id (default: 1 with --seed, else derived from the clock so runs don't collide).
    #[arg(long)]
    pub first_id: Option<i64>,
    /// Event time of the first record (RFC 3339); default: the wall clock at each record.
    #[arg(long)]
    pub start_time: Option<DateTime<Utc>>,
    /// With --start-time: event time added per record (e.g. 1s, 250ms).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub time_step: Duration,
}

/// Runs the simulator until `--count` records or a stop signal.
pub async fn run(g: &super::Globals, args: &Args, stop: StopFlag) -> anyhow::Result<()> {
    let spec = super::load_spec(g)?;
    let topic = match &args.topic {
        Some(t) => t.clone(),
        None => spec
            .bronze
            .first()
            .map(|b| b.topic.clone())
            .context("no --topic given and no bronze pipeline in the spec")?,
    };
    // Fail early and clearly when the topic is missing.
    tokio::task::block_in_place(|| {
        crate::kafka::admin::topic_partitions(&spec.kafka, &topic, crate::kafka::admin::TIMEOUT)
    })?;
    let producer = SalesProducer::new(&spec.kafka, &topic, args.linger)?;
    let first_id = args.first_id.unwrap_or_else(|| {
        if args.seed.is_some() {
            1
        } else {
            Utc::now().timestamp_millis() * 1000
        }
    });
    let mut generator = SaleGenerator::new(GeneratorOptions {
        seed: args.seed,
        late_fraction: args.late_fraction,
        malformed_fraction: args.malformed_fraction,
        first_id,
        clients: args.clients as usize,
        client_changes: args.client_changes,
    });
    let show_bar = args.count.is_some() && crate::term::stdout_is_tty();
    let log_each = matches!(args.rate, Rate::PerSecond(r) if r <= 10.0);
    let count = args.count;
    let rate = args.rate;
    let partition = args.partition;
    let (start_time, step) = (args.start_time, args.time_step);

    let (sent, elapsed) = tokio::task::spawn_blocking(move || -> anyhow::Result<(u64, Duration)> {
        let bar = show_bar.then(|| {
            let b = ProgressBar::new(count.unwrap_or(0));
            b.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} sales {per_sec} eta {eta}").unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b
        });
        let started = Instant::now();
        let mut buf = Vec::with_capacity(512);
        let mut sent = 0u64;
        while count.is_none_or(|c| sent < c) && !stop.is_set() {
            if let Rate::PerSecond(r) = rate {
                let due = started + Duration::from_secs_f64(sent as f64 / r);
                let now = Instant::now();
                if due > now {
                    // Serve delivery reports, then sleep until the next record is due, in
                    // short steps so Ctrl-C is honoured promptly. (librdkafka's poll counts
                    // in whole milliseconds: waiting in it for less than 1 ms does not wait,
                    // which spun a core at 1,000 records/s.)
                    producer.poll(Duration::ZERO);
                    std::thread::sleep((due - now).min(Duration::from_millis(200)));
                    continue;
                }
            }
            let now = match start_time {
                Some(t) => t + step * (sent as u32),
                None => Utc::now(),
            };
            let (kind, key) = generator.next_into(now, &mut buf);
            producer.send(key.to_string().as_bytes(), &buf, partition)?;
            sent += 1;
            if log_each {
                let kind = match kind {
                    RecordKind::Valid => "sale",
                    RecordKind::Late => "late sale",
                    RecordKind::Malformed => "malformed record",
                };
                debug!("sent {kind}: {}", String::from_utf8_lossy(&buf));
            }
            if let Some(b) = &bar {
                if sent.is_multiple_of(1024) {
                    b.set_position(sent);
                }
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        producer.flush(Duration::from_secs(60))?;
        let elapsed = started.elapsed();
        let stats = producer.stats();
        let acked = stats.acked.load(std::sync::atomic::Ordering::Relaxed);
        let failed = stats.failed.load(std::sync::atomic::Ordering::Relaxed);
        crate::outln!(
            "sent {sent}, acknowledged {acked}, failed {failed} to {topic} in {:.2}s ({:.0} records/s)",
            elapsed.as_secs_f64(),
            sent as f64 / elapsed.as_secs_f64().max(1e-9)
        );
        if failed > 0 {
            let last = stats.last_error.lock().ok().and_then(|g| g.clone()).unwrap_or_default();
            anyhow::bail!("{failed} records were not delivered (last error: {last})");
        }
        Ok((sent, elapsed))
    })
    .await??;
    tracing::debug!(sent, ?elapsed, "produce done");
    Ok(())
}
