//! Table open time with and without Delta checkpoints, for `scripts/bench.sh open`: makes
//! COMMITS tiny bronze commits (delta-rs checkpoints every 100), times opening the table, then
//! hides the checkpoints (so the whole JSON log is replayed) and times it again.
//!
//! Usage: open_bench SPEC COMMITS

use std::collections::HashMap;
use std::time::Instant;

use chrono::{Duration, Utc};
use lakectl::bronze::buffer::BatchBuffer;
use lakectl::bronze::{decode, frame};
use lakectl::kafka::consumer::RecordSink;
use lakectl::lake::{bridge, Table, TableSchema};
use lakectl::produce::{GeneratorOptions, SaleGenerator};

async fn median_open_ms(
    path: &lakectl::storage::Location,
) -> Result<f64, Box<dyn std::error::Error>> {
    let mut times = Vec::new();
    for _ in 0..7 {
        let t0 = Instant::now();
        let t = Table::open(path).await?.ok_or("no table")?;
        std::hint::black_box(t.version());
        times.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 3 {
        return Err("usage: open_bench SPEC COMMITS".into());
    }
    let spec = lakectl::spec::load_pipeline(std::path::Path::new(&a[1]))?;
    let commits: u64 = a[2].parse()?;
    let b = spec.bronze.first().ok_or("no bronze pipeline")?;
    let schema = TableSchema::from_polars(&frame::bronze_schema(b)?, &b.partition_by)?;
    let path = spec.table_path(&b.table);
    let mut t = Table::open_or_create(&path, &schema, &b.name, &[]).await?;
    let mut g = SaleGenerator::new(GeneratorOptions {
        seed: Some(7),
        late_fraction: 0.0,
        malformed_fraction: 0.0,
        first_id: 1,
        ..Default::default()
    });
    let start = Utc::now();
    let mut payload = Vec::new();
    let t0 = Instant::now();
    for c in 0..commits {
        let mut buf = BatchBuffer::default();
        for i in 0..10 {
            let ts = start + Duration::seconds((c * 10 + i) as i64);
            g.next_into(ts, &mut payload);
            let offset = (c * 10 + i) as i64;
            buf.push((0, offset, Some(ts.timestamp_millis()), Some(&payload[..])).into());
        }
        let d = decode::decode(&buf, b.format, &b.schema, &b.event_time)?;
        let mut df = frame::enrich(b, d.df, &buf, &d.rows, Utc::now())?;
        let batches = bridge::to_record_batches(&mut df, &schema.arrow())?;
        t.append(batches, vec![], HashMap::new()).await?;
        if (c + 1) % 500 == 0 {
            eprintln!("open_bench: {} commits", c + 1);
        }
    }
    let commit_ms = t0.elapsed().as_secs_f64() * 1e3 / commits as f64;
    let with = median_open_ms(&path).await?;
    // Hide the checkpoints: opening now replays every JSON commit.
    let dir = path.local_path().ok_or("open_bench needs a local lake")?;
    let log = dir.join("_delta_log");
    let hidden = dir.join("_hidden_checkpoints");
    std::fs::create_dir_all(&hidden)?;
    let mut n_ckpt = 0;
    for e in std::fs::read_dir(&log)? {
        let p = e?.path();
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name.contains(".checkpoint.") || name == "_last_checkpoint" {
            n_ckpt += usize::from(name.contains(".checkpoint."));
            std::fs::rename(&p, hidden.join(&name))?;
        }
    }
    let without = median_open_ms(&path).await?;
    println!(
        "open: {commits} commits ({commit_ms:.1} ms each), {n_ckpt} checkpoints: open {with:.1} ms with checkpoints, {without:.1} ms replaying the JSON log; ratio {:.1}x",
        without / with
    );
    Ok(())
}
