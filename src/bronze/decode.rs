//! Decoding a batch: each payload's values go straight into typed columns ([`super::tape`]);
//! a batch that path declines is parsed by Polars' reader with the spec schema in one call,
//! and only when that fails (a batch holding bad records) is the buffer bisected to isolate
//! them, so a clean batch pays nothing and a dirty one pays O(bad × log n) parses.

use std::io::Cursor;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use polars::io::ndjson::core::parse_ndjson;
use polars::prelude::*;

use super::buffer::BatchBuffer;
use crate::spec::expr::clean_polars_error;
use crate::spec::{ColumnType, PayloadFormat};

/// Why a record went to quarantine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Not JSON, not an object, or empty.
    Malformed,
    /// JSON that does not fit the schema.
    Schema,
    /// Older than the watermark.
    Late,
    /// Dated later than now + `future_tolerance`.
    Future,
    /// Larger than `limits.max_record_bytes`.
    TooLarge,
    /// A derived column could not be computed for this record.
    Derive,
}

impl Reason {
    /// The `reason` column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Schema => "schema",
            Self::Late => "late",
            Self::Future => "future",
            Self::TooLarge => "too_large",
            Self::Derive => "derive",
        }
    }
}

/// A record rejected by decoding.
#[derive(Debug, Clone)]
pub struct Rejected {
    /// Index in `BatchBuffer::records`.
    pub record: usize,
    /// Reason.
    pub reason: Reason,
    /// Details.
    pub error: String,
}

/// The decoded batch: rows of `df` are the records listed in `rows`, in order.
pub struct Decoded {
    /// Typed rows (schema columns, timestamps as naive UTC microseconds).
    pub df: DataFrame,
    /// Record index (in the buffer) of each row of `df`.
    pub rows: Vec<usize>,
    /// Records that did not decode.
    pub rejected: Vec<Rejected>,
}

/// The schema the JSON reader uses.
pub fn read_schema(schema: &[(String, ColumnType)]) -> Schema {
    schema
        .iter()
        .map(|(n, t)| Field::new(n.as_str().into(), t.json_read()))
        .collect()
}

/// Decodes every record of `buf`, encoded as `format`, into rows of `schema`.
pub fn decode(
    buf: &BatchBuffer,
    format: PayloadFormat,
    schema: &[(String, ColumnType)],
    event_time: &str,
) -> Result<Decoded, PolarsError> {
    match format {
        PayloadFormat::Json => decode_json(buf, schema, event_time),
    }
}

/// The JSON decoder: Polars parses the whole NDJSON buffer in one call.
fn decode_json(
    buf: &BatchBuffer,
    schema: &[(String, ColumnType)],
    event_time: &str,
) -> Result<Decoded, PolarsError> {
    let read = std::sync::Arc::new(read_schema(schema));
    let mut rejected = Vec::new();
    // Line index → record index.
    let mut line_record = Vec::with_capacity(buf.lines.len());
    for (i, r) in buf.records.iter().enumerate() {
        if r.line.is_some() {
            line_record.push(i);
        }
    }
    // Refused before parsing (empty, too large, nested too deep).
    rejected.extend(buf.refused.iter().map(|r| Rejected {
        record: r.record,
        reason: r.reason,
        error: r.error.clone(),
    }));

    let (mut df, good_lines) = parse_all(buf, &read, &mut |line, err| {
        let reason = reason_of(&err);
        rejected.push(Rejected {
            record: line_record[line],
            reason,
            error: err,
        });
    })?;

    // Timestamps and dates arrive as text: parse them, rejecting what does not parse.
    let mut keep = vec![true; df.height()];
    for (name, ty) in schema {
        if !matches!(ty, ColumnType::Timestamp | ColumnType::Date) {
            continue;
        }
        let s = df.column(name)?.str()?.clone();
        let parsed = match ty {
            ColumnType::Timestamp => {
                let v: Vec<Option<i64>> = s
                    .iter()
                    .enumerate()
                    .map(|(i, x)| {
                        x.and_then(|x| match parse_timestamp_us(x) {
                            Some(us) => Some(us),
                            None => {
                                if keep[i] {
                                    keep[i] = false;
                                    rejected.push(Rejected {
                                        record: line_record[good_lines[i]],
                                        reason: Reason::Schema,
                                        error: format!(
                                            "column `{name}`: cannot parse {x:?} as a timestamp"
                                        ),
                                    });
                                }
                                None
                            }
                        })
                    })
                    .collect();
                Series::new(name.as_str().into(), v).cast(&ColumnType::Timestamp.polars())?
            }
            _ => {
                let v: Vec<Option<i32>> = s
                    .iter()
                    .enumerate()
                    .map(|(i, x)| {
                        x.and_then(|x| match NaiveDate::parse_from_str(x.trim(), "%Y-%m-%d") {
                            Ok(d) => Some(d.signed_duration_since(DateTime::UNIX_EPOCH.date_naive()).num_days() as i32),
                            Err(_) => {
                                if keep[i] {
                                    keep[i] = false;
                                    rejected.push(Rejected { record: line_record[good_lines[i]], reason: Reason::Schema, error: format!("column `{name}`: cannot parse {x:?} as a date (YYYY-MM-DD)") });
                                }
                                None
                            }
                        })
                    })
                    .collect();
                Series::new(name.as_str().into(), v).cast(&DataType::Date)?
            }
        };
        df.with_column(parsed.into_column())?;
    }
    // The event time is required.
    let et = df.column(event_time)?.as_materialized_series().clone();
    for (i, v) in et.is_null().iter().enumerate() {
        if v == Some(true) && keep[i] {
            keep[i] = false;
            rejected.push(Rejected {
                record: line_record[good_lines[i]],
                reason: Reason::Schema,
                error: format!("missing event time `{event_time}`"),
            });
        }
    }
    let rows: Vec<usize>;
    if keep.iter().all(|k| *k) {
        rows = good_lines.iter().map(|&l| line_record[l]).collect();
    } else {
        let mask = BooleanChunked::from_iter_values("keep".into(), keep.iter().copied());
        df = df.filter(&mask)?;
        rows = good_lines
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(&l, _)| line_record[l])
            .collect();
    }
    rejected.sort_by_key(|r| r.record);
    Ok(Decoded { df, rows, rejected })
}

/// The reason of a record Polars' JSON reader refused, from its error text: not JSON at all
/// (or not an object, or not UTF-8) is `malformed`; JSON that does not fit the schema is
/// `schema`. The texts are Polars'; a unit test pins them, so an upgrade that changes them
/// fails there rather than silently moving records between reasons.
pub fn reason_of(err: &str) -> Reason {
    if MALFORMED_TEXTS.iter().any(|t| err.contains(t)) {
        Reason::Malformed
    } else {
        Reason::Schema
    }
}

/// Fragments of Polars' (and lakectl's own) errors for input that is not a JSON object.
const MALFORMED_TEXTS: [&str; 3] = [
    "error parsing line",
    "expected to contain JSON object",
    "invalid utf-8",
];

/// Parses every line; returns the rows of the lines that parsed and their line indices.
fn parse_all(
    buf: &BatchBuffer,
    schema: &SchemaRef,
    on_bad: &mut dyn FnMut(usize, String),
) -> Result<(DataFrame, Vec<usize>), PolarsError> {
    let n = buf.lines.len();
    if n == 0 {
        return Ok((DataFrame::empty_with_schema(schema), Vec::new()));
    }
    // Fast path: straight from the payloads' tapes into the columns.
    if let Some(df) = super::tape::decode_lines(buf, schema) {
        return Ok((df, (0..n).collect()));
    }
    // Polars' reader: the whole buffer in one parallel call.
    let whole = JsonReader::new(Cursor::new(&buf.ndjson[..]))
        .with_json_format(JsonFormat::JsonLines)
        .with_schema(schema.clone())
        .finish();
    if let Ok(df) = whole {
        if df.height() == n {
            return Ok((df, (0..n).collect()));
        }
    }
    // Slow path: bisect to isolate the bad lines.
    let mut parts = Vec::new();
    let mut good = Vec::with_capacity(n);
    bisect(buf, schema, 0, n, &mut parts, &mut good, on_bad);
    let mut df = DataFrame::empty_with_schema(schema);
    for p in parts {
        df.vstack_mut_owned(p)?;
    }
    Ok((df, good))
}

fn bisect(
    buf: &BatchBuffer,
    schema: &Schema,
    lo: usize,
    hi: usize,
    parts: &mut Vec<DataFrame>,
    good: &mut Vec<usize>,
    on_bad: &mut dyn FnMut(usize, String),
) {
    let bytes = &buf.ndjson[buf.lines[lo].0..buf.lines[hi - 1].1];
    let utf8_ok = hi - lo > 1 || std::str::from_utf8(bytes).is_ok();
    if utf8_ok {
        match parse_ndjson(bytes, Some(hi - lo), schema, false) {
            Ok(df) if df.height() == hi - lo => {
                parts.push(df);
                good.extend(lo..hi);
                return;
            }
            Ok(_) if hi - lo == 1 => return on_bad(lo, "not a JSON object".into()),
            Err(e) if hi - lo == 1 => return on_bad(lo, clean_polars_error(&e.to_string())),
            _ => {}
        }
    } else {
        return on_bad(lo, "invalid utf-8 in payload".into());
    }
    let mid = lo + (hi - lo) / 2;
    bisect(buf, schema, lo, mid, parts, good, on_bad);
    bisect(buf, schema, mid, hi, parts, good, on_bad);
}

/// Parses an event time: RFC 3339 (with offset or `Z`), or a naive `YYYY-MM-DD[T ]HH:MM:SS[.f]`
/// taken as UTC. Returns microseconds since the epoch.
pub fn parse_timestamp_us(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::consumer::RecordSink;

    fn schema() -> Vec<(String, ColumnType)> {
        vec![
            ("id".into(), ColumnType::Long),
            ("q".into(), ColumnType::Int),
            ("ts".into(), ColumnType::Timestamp),
        ]
    }

    #[test]
    fn clean_batch_decodes_in_one_call() {
        let mut b = BatchBuffer::default();
        for i in 0..100 {
            b.push(
                (
                    0,
                    i,
                    None,
                    Some(format!(r#"{{"id":{i},"q":2,"ts":"2024-12-12T10:00:00Z"}}"#).as_bytes()),
                )
                    .into(),
            );
        }
        let d = decode(&b, PayloadFormat::Json, &schema(), "ts").unwrap();
        assert_eq!(d.df.height(), 100);
        assert!(d.rejected.is_empty());
        assert_eq!(d.rows, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn bad_records_are_isolated_with_reasons() {
        let mut b = BatchBuffer::default();
        let lines = [
            r#"{"id":1,"q":2,"ts":"2024-12-12T10:00:00Z"}"#,
            r#"{"id":2,"q":"two","ts":"2024-12-12T10:00:00Z"}"#,
            r#"{"id":3,"q":2,"ts":"2024-12-12T10:00:00"#,
            r#"{"id":4,"q":2}"#,
            r#"{"id":5,"q":2,"ts":"yesterday"}"#,
            "[1,2]",
            r#"{"id":7,"q":2,"ts":"2024-12-12 11:00:00"}"#,
        ];
        for (i, l) in lines.iter().enumerate() {
            b.push((0, i as i64, None, Some(l.as_bytes())).into());
        }
        b.push((0, 7, None, None).into());
        let d = decode(&b, PayloadFormat::Json, &schema(), "ts").unwrap();
        assert_eq!(d.rows, vec![0, 6]);
        let ids: Vec<i64> =
            d.df.column("id")
                .unwrap()
                .i64()
                .unwrap()
                .into_no_null_iter()
                .collect();
        assert_eq!(ids, vec![1, 7]);
        let got: Vec<(usize, Reason)> = d.rejected.iter().map(|r| (r.record, r.reason)).collect();
        assert_eq!(
            got,
            vec![
                (1, Reason::Schema),
                (2, Reason::Malformed),
                (3, Reason::Schema),
                (4, Reason::Schema),
                (5, Reason::Malformed),
                (7, Reason::Malformed)
            ]
        );
        assert!(
            d.rejected[3].error.contains("yesterday"),
            "{:?}",
            d.rejected[3]
        );
    }

    /// The error texts `reason_of` matches, as Polars 0.55 writes them.
    #[test]
    fn polars_error_texts_are_the_ones_matched() {
        let schema = read_schema(&schema());
        let text = |line: &str| match parse_ndjson(line.as_bytes(), Some(1), &schema, false) {
            Err(e) => clean_polars_error(&e.to_string()),
            Ok(df) => format!("parsed {} rows", df.height()),
        };
        let truncated = text(r#"{"id":3,"q":2,"ts":"2024"#);
        assert!(truncated.contains("error parsing line"), "{truncated}");
        assert_eq!(reason_of(&truncated), Reason::Malformed);
        let wrong_type = text(r#"{"id":2,"q":"two","ts":"2024-12-12T10:00:00Z"}"#);
        assert_eq!(reason_of(&wrong_type), Reason::Schema, "{wrong_type}");
        let array = text("[1,2]");
        assert_eq!(reason_of(&array), Reason::Malformed, "{array}");
        assert_eq!(reason_of("invalid utf-8 in payload"), Reason::Malformed);
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp_us("1970-01-01T00:00:01Z"), Some(1_000_000));
        assert_eq!(
            parse_timestamp_us("1970-01-01T01:00:01+01:00"),
            Some(1_000_000)
        );
        assert_eq!(parse_timestamp_us("1970-01-01 00:00:01.5"), Some(1_500_000));
        assert_eq!(parse_timestamp_us("nope"), None);
    }
}
