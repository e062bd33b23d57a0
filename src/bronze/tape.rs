//! The fast path of JSON decoding: each payload parsed by simd-json into its tape (a flat
//! list of nodes), and each value pushed straight into its column, without building a JSON
//! object per record (Polars' reader builds one per line, then looks every column up in it).
//!
//! It takes only what it can decode exactly as Polars' reader would: a flat object whose
//! schema columns hold values of their own type (an integer in a `double` column is taken as
//! a float), null or missing (null); other keys are skipped whatever they hold. For anything
//! else (a line that is not JSON, not an object, a value of another type, an integer that does
//! not fit, a key given twice) it declines the whole batch, and Polars' reader decodes it
//! (isolating bad records with their reasons), so a record's fate never depends on the path.

use polars::prelude::*;

use super::buffer::BatchBuffer;

/// One column being filled.
enum Builder {
    Long(Vec<Option<i64>>),
    Int(Vec<Option<i32>>),
    Double(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Text(StringChunkedBuilder),
}

impl Builder {
    fn new(dtype: &DataType, name: &str, rows: usize) -> Option<Self> {
        Some(match dtype {
            DataType::Int64 => Self::Long(Vec::with_capacity(rows)),
            DataType::Int32 => Self::Int(Vec::with_capacity(rows)),
            DataType::Float64 => Self::Double(Vec::with_capacity(rows)),
            DataType::Boolean => Self::Bool(Vec::with_capacity(rows)),
            DataType::String => Self::Text(StringChunkedBuilder::new(name.into(), rows)),
            _ => return None,
        })
    }

    fn push_null(&mut self) {
        match self {
            Self::Long(v) => v.push(None),
            Self::Int(v) => v.push(None),
            Self::Double(v) => v.push(None),
            Self::Bool(v) => v.push(None),
            Self::Text(b) => b.append_null(),
        }
    }

    /// Pushes `node`; false when it is not a value of this column's type.
    fn push(&mut self, node: &simd_json::Node<'_>) -> bool {
        use simd_json::{Node, StaticNode as S};
        match (self, node) {
            (b, Node::Static(S::Null)) => b.push_null(),
            (Self::Long(v), Node::Static(S::I64(x))) => v.push(Some(*x)),
            (Self::Long(v), Node::Static(S::U64(x))) => match i64::try_from(*x) {
                Ok(x) => v.push(Some(x)),
                Err(_) => return false,
            },
            (Self::Int(v), Node::Static(S::I64(x))) => match i32::try_from(*x) {
                Ok(x) => v.push(Some(x)),
                Err(_) => return false,
            },
            (Self::Int(v), Node::Static(S::U64(x))) => match i32::try_from(*x) {
                Ok(x) => v.push(Some(x)),
                Err(_) => return false,
            },
            (Self::Double(v), Node::Static(S::F64(x))) => v.push(Some(*x)),
            (Self::Double(v), Node::Static(S::I64(x))) => v.push(Some(*x as f64)),
            (Self::Double(v), Node::Static(S::U64(x))) => v.push(Some(*x as f64)),
            (Self::Bool(v), Node::Static(S::Bool(x))) => v.push(Some(*x)),
            (Self::Text(b), Node::String(s)) => b.append_value(s),
            _ => return false,
        }
        true
    }

    fn finish(self, name: &str) -> Column {
        let name: PlSmallStr = name.into();
        match self {
            Self::Long(v) => Int64Chunked::from_iter_options(name, v.into_iter()).into_column(),
            Self::Int(v) => Int32Chunked::from_iter_options(name, v.into_iter()).into_column(),
            Self::Double(v) => Float64Chunked::from_iter_options(name, v.into_iter()).into_column(),
            Self::Bool(v) => BooleanChunked::from_iter_options(name, v.into_iter()).into_column(),
            Self::Text(b) => b.finish().into_column(),
        }
    }
}

/// Decodes every line of `buf` into a frame of `schema`, or None when a line needs Polars'
/// reader (see the module's notes).
pub(super) fn decode_lines(buf: &BatchBuffer, schema: &Schema) -> Option<DataFrame> {
    let n = buf.lines.len();
    // (Asked once: on Linux the answer reads the cgroup's CPU quota from files.)
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let threads =
        *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |t| t.get().min(4)));
    if n < 4096 || threads == 1 {
        return decode_range(buf, schema, 0, n);
    }
    let step = n.div_ceil(threads);
    let parts: Vec<Option<DataFrame>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .step_by(step)
            .map(|lo| s.spawn(move || decode_range(buf, schema, lo, (lo + step).min(n))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().ok().flatten())
            .collect()
    });
    let mut parts = parts.into_iter();
    let mut df = parts.next()??;
    for p in parts {
        df.vstack_mut_owned(p?).ok()?;
    }
    Some(df)
}

fn decode_range(buf: &BatchBuffer, schema: &Schema, lo: usize, hi: usize) -> Option<DataFrame> {
    let names: Vec<&str> = schema.iter_names().map(|n| n.as_str()).collect();
    if names.len() > 64 {
        return None;
    }
    let mut cols: Vec<Builder> = schema
        .iter()
        .map(|(name, dtype)| Builder::new(dtype, name, hi - lo))
        .collect::<Option<_>>()?;
    let mut scratch = Vec::new();
    let mut buffers = simd_json::Buffers::default();
    // Keys usually come in the same order on every line: try the column after the last one.
    let mut guess = 0usize;
    for &(start, end) in &buf.lines[lo..hi] {
        scratch.clear();
        scratch.extend_from_slice(&buf.ndjson[start..end]);
        let tape = simd_json::to_tape_with_buffers(&mut scratch, &mut buffers).ok()?;
        let nodes = &tape.0;
        let simd_json::Node::Object { len, .. } = nodes.first()? else {
            return None;
        };
        let mut seen = 0u64;
        let mut i = 1;
        for _ in 0..*len {
            let simd_json::Node::String(key) = nodes.get(i)? else {
                return None;
            };
            let value = nodes.get(i + 1)?;
            let col = if names.get(guess) == Some(key) {
                Some(guess)
            } else {
                names.iter().position(|n| n == key)
            };
            if let Some(c) = col {
                if seen & (1 << c) != 0 || !cols[c].push(value) {
                    return None;
                }
                seen |= 1 << c;
                guess = c + 1;
            }
            i += 1 + match value {
                simd_json::Node::Object { count, .. } | simd_json::Node::Array { count, .. } => {
                    count + 1
                }
                _ => 1,
            };
        }
        for (c, b) in cols.iter_mut().enumerate() {
            if seen & (1 << c) == 0 {
                b.push_null();
            }
        }
    }
    let columns: Vec<Column> = cols
        .into_iter()
        .zip(&names)
        .map(|(b, name)| b.finish(name))
        .collect();
    DataFrame::new(hi - lo, columns).ok()
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::bronze::decode::read_schema;
    use crate::kafka::consumer::RecordSink;
    use crate::spec::ColumnType;

    fn schema() -> Schema {
        read_schema(&[
            ("id".into(), ColumnType::Long),
            ("q".into(), ColumnType::Int),
            ("m".into(), ColumnType::Double),
            ("ok".into(), ColumnType::Boolean),
            ("s".into(), ColumnType::String),
            ("ts".into(), ColumnType::Timestamp),
        ])
    }

    fn buffer(lines: &[&str]) -> BatchBuffer {
        let mut b = BatchBuffer::default();
        for (i, l) in lines.iter().enumerate() {
            b.push((0, i as i64, None, Some(l.as_bytes())).into());
        }
        b
    }

    /// What Polars' reader makes of the buffer (None when it refuses a line).
    fn polars(buf: &BatchBuffer, schema: &Schema) -> Option<DataFrame> {
        JsonReader::new(Cursor::new(&buf.ndjson[..]))
            .with_json_format(JsonFormat::JsonLines)
            .with_schema(Arc::new(schema.clone()))
            .finish()
            .ok()
            .filter(|df| df.height() == buf.lines.len())
    }

    const TAKEN: [&str; 20] = [
        r#"{"id":1,"q":2,"m":3.5,"ok":true,"s":"x","ts":"2024-01-01T00:00:00Z"}"#,
        r#"{"id":null,"q":null,"m":null,"ok":null,"s":null,"ts":null}"#,
        r#"{}"#,
        r#"{"m":3}"#,
        r#"{"m":-0.0}"#,
        r#"{"m":1e308}"#,
        r#"{"m":-12345678901234}"#,
        r#"{"id":9223372036854775807}"#,
        r#"{"id":-9223372036854775808}"#,
        r#"{"s":"é\u00e9\n\"q\\\"\t"}"#,
        r#"{"extra":{"a":[1,2,{"b":3}]},"id":5}"#,
        r#"{"extra":[],"s":"y","more":{"x":{}}}"#,
        r#"{"ts":"not a time"}"#,
        r#"{"S":"case","ID":7}"#,
        r#"  {"id":1}  "#,
        r#"{"q":-2147483648}"#,
        r#"{"q":2147483647,"ok":false}"#,
        r#"{"ts":"2024-01-01","s":"a","ok":true,"m":1.0,"q":1,"id":1}"#,
        r#"{"é":1,"id":2}"#,
        r#"{"s":""}"#,
    ];

    #[test]
    fn every_line_it_takes_decodes_as_polars_decodes_it() {
        for l in TAKEN {
            let b = buffer(&[l]);
            let fast = decode_lines(&b, &schema()).unwrap_or_else(|| panic!("declined {l}"));
            let slow = polars(&b, &schema()).unwrap_or_else(|| panic!("Polars refused {l}"));
            assert!(
                fast.equals_missing(&slow),
                "{l}:\n{fast}\nvs Polars:\n{slow}"
            );
        }
        let b = buffer(&TAKEN);
        let fast = decode_lines(&b, &schema()).expect("a batch of lines it takes");
        assert!(fast.equals_missing(&polars(&b, &schema()).expect("Polars")));
    }

    #[test]
    fn what_it_cannot_decode_exactly_goes_to_polars() {
        for l in [
            r#"{"id":1.5}"#,
            r#"{"id":"1"}"#,
            r#"{"id":9223372036854775808}"#,
            r#"{"q":3000000000}"#,
            r#"{"m":"1.5"}"#,
            r#"{"ok":1}"#,
            r#"{"s":1}"#,
            r#"{"s":{"a":1}}"#,
            r#"{"s":["a"]}"#,
            r#"{"id":1,"id":2}"#,
            r#"[1]"#,
            r#""text""#,
            r#"{"id":1"#,
            r#"not json"#,
        ] {
            let b = buffer(&[r#"{"id":1}"#, l]);
            assert!(decode_lines(&b, &schema()).is_none(), "took {l}");
        }
    }

    #[test]
    fn a_seed_batch_decodes_as_polars_decodes_it_on_every_thread() {
        use crate::produce::{GeneratorOptions, SaleGenerator};
        let mut g = SaleGenerator::new(GeneratorOptions {
            seed: Some(3),
            late_fraction: 0.0,
            malformed_fraction: 0.0,
            first_id: 1,
            clients: 300,
            client_changes: 0.1,
        });
        let start = chrono::Utc::now();
        let mut b = BatchBuffer::default();
        let mut payload = Vec::new();
        for i in 0..20_000i64 {
            g.next_into(start + chrono::Duration::milliseconds(i), &mut payload);
            b.push((0, i, None, Some(&payload[..])).into());
        }
        // The seeds' schema, from the repository's own spec.
        let spec = crate::spec::load_pipeline(std::path::Path::new("pipelines.yaml")).unwrap();
        let seeds = read_schema(&spec.bronze[0].schema);
        let fast = decode_lines(&b, &seeds).expect("a clean seed batch");
        assert_eq!(fast.height(), 20_000);
        assert!(fast.equals_missing(&polars(&b, &seeds).expect("Polars")));
    }
}
