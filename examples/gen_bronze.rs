//! Builds a bronze table directly (no Kafka) for `scripts/bench.sh silver`: simulated sales
//! go through lakectl's own decode/derive/bridge path into the spec's bronze table.
//!
//! Usage: gen_bronze SPEC ROWS START_RFC3339 DAYS [FIRST_ID]
//! (`GEN_CLIENTS`, default 2000: how many clients buy, as `lakectl produce --clients`;
//! `GEN_CLIENT_CHANGES`, default 0: as `lakectl produce --client-changes`.)

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use lakectl::bronze::buffer::BatchBuffer;
use lakectl::bronze::{decode, frame};
use lakectl::kafka::consumer::RecordSink;
use lakectl::lake::{bridge, Table, TableSchema};
use lakectl::produce::{GeneratorOptions, SaleGenerator};

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 5 {
        return Err("usage: gen_bronze SPEC ROWS START_RFC3339 DAYS [FIRST_ID]".into());
    }
    let spec = lakectl::spec::load_pipeline(std::path::Path::new(&a[1]))?;
    let rows: u64 = a[2].parse()?;
    let start: DateTime<Utc> = a[3].parse()?;
    let days: f64 = a[4].parse()?;
    let first_id: i64 = a.get(5).map(|s| s.parse()).transpose()?.unwrap_or(1);
    let b = spec.bronze.first().ok_or("no bronze pipeline")?;
    let schema = TableSchema::from_polars(&frame::bronze_schema(b)?, &b.partition_by)?;
    let mut t = Table::open_or_create(&spec.table_path(&b.table), &schema, &b.name, &[]).await?;
    let mut g = SaleGenerator::new(GeneratorOptions {
        seed: Some(first_id as u64),
        late_fraction: 0.0,
        malformed_fraction: 0.0,
        first_id,
        clients: std::env::var("GEN_CLIENTS")
            .ok()
            .map(|c| c.parse())
            .transpose()?
            .unwrap_or(2000),
        client_changes: std::env::var("GEN_CLIENT_CHANGES")
            .ok()
            .map(|c| c.parse())
            .transpose()?
            .unwrap_or(0.0),
    });
    let step_us = (days * 86_400e6 / rows as f64) as i64;
    let chunk = 1_000_000u64;
    let mut done = 0u64;
    let mut payload = Vec::new();
    while done < rows {
        let n = chunk.min(rows - done);
        let mut buf = BatchBuffer::default();
        for i in 0..n {
            let ts = start + Duration::microseconds(step_us * (done + i) as i64);
            g.next_into(ts, &mut payload);
            let offset = (done + i) as i64;
            buf.push((0, offset, Some(ts.timestamp_millis()), Some(&payload[..])).into());
        }
        let d = decode::decode(&buf, b.format, &b.schema, &b.event_time)?;
        let mut df = frame::enrich(b, d.df, &buf, &d.rows, Utc::now())?;
        let batches = bridge::to_record_batches(&mut df, &schema.arrow())?;
        t.append(batches, vec![], HashMap::new()).await?;
        done += n;
        eprintln!("gen_bronze: {done}/{rows} rows");
    }
    println!("gen_bronze: wrote {rows} rows, version {}", t.version());
    Ok(())
}
