//! Building the bronze and quarantine frames of a batch: Kafka metadata columns, the spec's
//! derived columns (SQL through Polars), and the quarantine rows.

use chrono::{DateTime, Utc};
use polars::prelude::*;

use super::buffer::BatchBuffer;
use super::decode::Reason;
use crate::spec::expr::{parse_expr, uses_now, NOW_COLUMN};
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

/// Evaluates the spec's derived columns in order (each may use the previous ones).
pub fn derive(spec: &BronzeSpec, df: DataFrame, now: DateTime<Utc>) -> PolarsResult<DataFrame> {
    if spec.derive.is_empty() {
        return Ok(df);
    }
    let uses_now = spec.derive.iter().any(|(_, e)| uses_now(e));
    let mut lf = df.lazy();
    if uses_now {
        lf = lf.with_column(
            lit(now.timestamp_micros())
                .cast(ts_type())
                .alias(NOW_COLUMN),
        );
    }
    for (name, sql) in &spec.derive {
        let e = parse_expr(sql).map_err(|e| polars_err!(ComputeError: "derive `{name}`: {e}"))?;
        lf = lf.with_column(e.alias(name.as_str()));
    }
    if uses_now {
        lf = lf.drop(by_name([NOW_COLUMN], true, false));
    }
    lf.collect()
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
    ])
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
            rec(r)
                .line
                .map(|l| String::from_utf8_lossy(buf.raw_line(l)).into_owned())
        })
        .collect();
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
    ])
}
