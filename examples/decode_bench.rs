//! Decoding 1M seed payloads (20 batches of 50k) three ways, wall and CPU time, for
//! `scripts/bench.sh decode`: lakectl's decode (the tape path, with its timestamp parsing),
//! Polars' NDJSON reader alone (timestamps left as strings), and arrow-json's `Decoder`.
//!
//! Usage: decode_bench (from the repository root: it reads `pipelines.yaml`)
use std::io::Cursor;
use std::sync::Arc;
use std::time::Instant;

use arrow::datatypes::{DataType as A, Field, Schema as ASchema};
use chrono::{Duration, Utc};
use lakectl::bronze::buffer::BatchBuffer;
use lakectl::bronze::decode;
use lakectl::kafka::consumer::RecordSink;
use lakectl::produce::{GeneratorOptions, SaleGenerator};
use polars::prelude::*;

/// CPU seconds (user + system) of this process so far.
fn cpu() -> f64 {
    // SAFETY: getrusage fills the struct it is given; an all-zero rusage is a valid value.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    u.ru_utime.tv_sec as f64
        + u.ru_utime.tv_usec as f64 / 1e6
        + u.ru_stime.tv_sec as f64
        + u.ru_stime.tv_usec as f64 / 1e6
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let spec = lakectl::spec::load_pipeline(std::path::Path::new("pipelines.yaml"))?;
    let b = spec.bronze.first().ok_or("no bronze")?;
    let mut g = SaleGenerator::new(GeneratorOptions {
        seed: Some(1),
        late_fraction: 0.0,
        malformed_fraction: 0.0,
        first_id: 1,
        clients: 500,
        client_changes: 0.0,
    });
    let start = Utc::now();
    let mut bufs = Vec::new();
    let mut payload = Vec::new();
    for c in 0..20 {
        let mut buf = BatchBuffer::default();
        for i in 0..50_000i64 {
            let ts = start + Duration::milliseconds(i);
            g.next_into(ts, &mut payload);
            buf.push(
                (
                    0,
                    c * 50_000 + i,
                    Some(ts.timestamp_millis()),
                    Some(&payload[..]),
                )
                    .into(),
            );
        }
        bufs.push(buf);
    }
    let read = Arc::new(decode::read_schema(&b.schema));
    let fields: Vec<Field> = read
        .iter()
        .map(|(n, t)| {
            Field::new(
                n.as_str(),
                match t {
                    DataType::Int64 => A::Int64,
                    DataType::Int32 => A::Int32,
                    DataType::Float64 => A::Float64,
                    _ => A::Utf8,
                },
                true,
            )
        })
        .collect();
    let aschema = Arc::new(ASchema::new(fields));
    for round in 0..3 {
        let (t0, c0) = (Instant::now(), cpu());
        for buf in &bufs {
            std::hint::black_box(
                decode::decode(buf, b.format, &b.schema, &b.event_time)?
                    .df
                    .height(),
            );
        }
        let tape = (t0.elapsed().as_secs_f64(), cpu() - c0);
        let (t0, c0) = (Instant::now(), cpu());
        for buf in &bufs {
            let df = JsonReader::new(Cursor::new(&buf.ndjson[..]))
                .with_json_format(JsonFormat::JsonLines)
                .with_schema(read.clone())
                .finish()?;
            std::hint::black_box(df.height());
        }
        let pol = (t0.elapsed().as_secs_f64(), cpu() - c0);
        let (t0, c0) = (Instant::now(), cpu());
        for buf in &bufs {
            let mut dec = arrow::json::ReaderBuilder::new(aschema.clone())
                .with_batch_size(60_000)
                .build_decoder()?;
            let mut off = 0;
            while off < buf.ndjson.len() {
                let n = dec.decode(&buf.ndjson[off..])?;
                if n == 0 {
                    break;
                }
                off += n;
            }
            std::hint::black_box(dec.flush()?.map(|r| r.num_rows()));
        }
        let arr = (t0.elapsed().as_secs_f64(), cpu() - c0);
        println!("round {round} (1M records): lakectl decode (tape + timestamps) {:.3}s wall {:.3}s CPU; Polars JsonReader (strings only) {:.3}s wall {:.3}s CPU; arrow-json Decoder {:.3}s wall {:.3}s CPU", tape.0, tape.1, pol.0, pol.1, arr.0, arr.1);
    }
    Ok(())
}
