//! Building the bronze and quarantine frames of a batch: Kafka metadata columns, the spec's
//! derived columns (SQL through Polars), and the quarantine rows.

use chrono::{DateTime, Utc};
use polars::prelude::*;

use super::buffer::BatchBuffer;
use super::decode::Reason;
use crate::spec::BronzeSpec;

/// Kafka metadata column names.
pub const KAFKA_PARTITION: &str = "_kafka_partition";
/// Kafka offset column.
pub const KAFKA_OFFSET: &str = "_kafka_offset";
/// Kafka timestamp column.
pub const KAFKA_TIMESTAMP: &str = "_kafka_timestamp";

fn ts_type() -> DataType {
    DataType::Datetime(TimeUnit::Microseconds, None)
}

/// Adds the Kafka metadata columns (for the records `rows` of `buf`) and the derived columns.
pub fn enrich(
    spec: &BronzeSpec,
    df: DataFrame,
    buf: &BatchBuffer,
    rows: &[usize],
    now: DateTime<Utc>,
) -> PolarsResult<DataFrame> {
    let mut df = df;
    if spec.kafka_metadata {
        let p: Vec<i32> = rows.iter().map(|&r| buf.records[r].partition).collect();
        let o: Vec<i64> = rows.iter().map(|&r| buf.records[r].offset).collect();
        let t: Vec<Option<i64>> = rows
            .iter()
            .map(|&r| buf.records[r].timestamp_ms.map(|ms| ms * 1000))
            .collect();
        df.with_column(Series::new(KAFKA_PARTITION.into(), p).into_column())?;
        df.with_column(Series::new(KAFKA_OFFSET.into(), o).into_column())?;
        df.with_column(
            Series::new(KAFKA_TIMESTAMP.into(), t)
                .cast(&ts_type())?
                .into_column(),
        )?;
    }
    derive(spec, df, now)
}

/// Enriched rows, their record indices, and the (record, error) pairs a derive failed on.
pub type Enriched = (DataFrame, Vec<usize>, Vec<(usize, String)>);

/// [`enrich`], isolating the records a derive fails on: when the whole batch fails, it is
/// bisected (O(bad × log n) evaluations) and each record that fails alone is returned with
/// the error, to be quarantined (`derive`). A derive cannot fail for every input: the spec
/// was evaluated on an empty frame at start, so what fails here depends on the data.
/// Returns the enriched rows, their record indices, and the failed (record, error) pairs.
pub fn enrich_isolating(
    spec: &BronzeSpec,
    df: DataFrame,
    buf: &BatchBuffer,
    rows: &[usize],
    now: DateTime<Utc>,
) -> PolarsResult<Enriched> {
    match enrich(spec, df.clone(), buf, rows, now) {
        Ok(out) => Ok((out, rows.to_vec(), Vec::new())),
        Err(_) if rows.len() > 1 => {
            let mid = rows.len() / 2;
            let (a, ra, mut fa) = enrich_isolating(spec, df.slice(0, mid), buf, &rows[..mid], now)?;
            let (b, rb, fb) = enrich_isolating(
                spec,
                df.slice(mid as i64, rows.len() - mid),
                buf,
                &rows[mid..],
                now,
            )?;
            fa.extend(fb);
            let mut out = a;
            out.vstack_mut_owned(b)?;
            Ok((out, [ra, rb].concat(), fa))
        }
        Err(e) if rows.len() == 1 => {
            let empty = enrich(spec, df.clear(), buf, &[], now)?;
            Ok((
                empty,
                Vec::new(),
                vec![(
                    rows[0],
                    crate::spec::expr::clean_polars_error(&e.to_string()),
                )],
            ))
        }
        Err(e) => Err(e),
    }
}

/// Evaluates the spec's derived columns in order (each may use the previous ones).
pub fn derive(spec: &BronzeSpec, df: DataFrame, now: DateTime<Utc>) -> PolarsResult<DataFrame> {
    if spec.derive.is_empty() {
        return Ok(df);
    }
    crate::spec::expr::with_derived(df.lazy(), &spec.derive, now)?.collect()
}

/// The bronze table's columns, in the order written: schema, Kafka metadata, derived.
pub fn bronze_schema(spec: &BronzeSpec) -> PolarsResult<Schema> {
    let mut df = DataFrame::empty_with_schema(
        &spec
            .schema
            .iter()
            .map(|(n, t)| Field::new(n.as_str().into(), t.polars()))
            .collect(),
    );
    if spec.kafka_metadata {
        df.with_column(Series::new_empty(KAFKA_PARTITION.into(), &DataType::Int32).into_column())?;
        df.with_column(Series::new_empty(KAFKA_OFFSET.into(), &DataType::Int64).into_column())?;
        df.with_column(Series::new_empty(KAFKA_TIMESTAMP.into(), &ts_type()).into_column())?;
    }
    let out = derive(spec, df, Utc::now())?;
    Ok(out.schema().as_ref().clone())
}

/// One quarantined record.
#[derive(Debug, Clone)]
pub struct QuarantineRow {
    /// Record index in the buffer.
    pub record: usize,
    /// Reason.
    pub reason: Reason,
    /// Details.
    pub error: String,
}

/// The quarantine table's columns.
pub fn quarantine_schema() -> Schema {
    Schema::from_iter([
        Field::new("topic".into(), DataType::String),
        Field::new("partition".into(), DataType::Int32),
        Field::new("offset".into(), DataType::Int64),
        Field::new("kafka_timestamp".into(), ts_type()),
        Field::new("raw".into(), DataType::String),
        Field::new("reason".into(), DataType::String),
        Field::new("error".into(), DataType::String),
        Field::new("quarantined_at".into(), ts_type()),
        Field::new("raw_bytes".into(), DataType::Binary),
    ])
}

/// The `raw` text of a quarantined payload: the payload as UTF-8 (invalid sequences
/// replaced), cut after 64 KiB for a payload over the size limit. `raw_bytes` holds the
/// exact bytes.
fn raw_text(payload: &[u8], max_record_bytes: usize) -> String {
    const SHOWN: usize = 64 << 10;
    if payload.len() > max_record_bytes && payload.len() > SHOWN {
        let mut t = String::from_utf8_lossy(&payload[..SHOWN]).into_owned();
        t.push('…');
        t
    } else {
        String::from_utf8_lossy(payload).into_owned()
    }
}

/// The quarantine frame for `rows`.
pub fn quarantine_frame(
    topic: &str,
    buf: &BatchBuffer,
    rows: &[QuarantineRow],
    now: DateTime<Utc>,
) -> PolarsResult<DataFrame> {
    let n = rows.len();
    let rec = |r: &QuarantineRow| buf.records[r.record];
    let raw: Vec<Option<String>> = rows
        .iter()
        .map(|r| {
            buf.payload(r.record)
                .map(|p| raw_text(p, buf.limits.max_record_bytes))
        })
        .collect();
    let raw_bytes: Vec<Option<&[u8]>> = rows.iter().map(|r| buf.payload(r.record)).collect();
    DataFrame::new_infer_height(vec![
        Series::new("topic".into(), vec![topic; n]).into_column(),
        Series::new(
            "partition".into(),
            rows.iter().map(|r| rec(r).partition).collect::<Vec<_>>(),
        )
        .into_column(),
        Series::new(
            "offset".into(),
            rows.iter().map(|r| rec(r).offset).collect::<Vec<_>>(),
        )
        .into_column(),
        Series::new(
            "kafka_timestamp".into(),
            rows.iter()
                .map(|r| rec(r).timestamp_ms.map(|t| t * 1000))
                .collect::<Vec<_>>(),
        )
        .cast(&ts_type())?
        .into_column(),
        Series::new("raw".into(), raw).into_column(),
        Series::new(
            "reason".into(),
            rows.iter().map(|r| r.reason.as_str()).collect::<Vec<_>>(),
        )
        .into_column(),
        Series::new(
            "error".into(),
            rows.iter().map(|r| r.error.as_str()).collect::<Vec<_>>(),
        )
        .into_column(),
        Series::new("quarantined_at".into(), vec![now.timestamp_micros(); n])
            .cast(&ts_type())?
            .into_column(),
        Series::new("raw_bytes".into(), raw_bytes).into_column(),
    ])
}
