//! Job tests (`lakectl test`): YAML files in `<jobs>/tests/` give rows for each source table
//! and the rows a job must output. Each test runs in memory through the job's real plan (the
//! same [`super::plan::build`] and expectations as a run) and, when it fails, says which
//! expected rows are missing and which rows came instead.
//!
//! ```yaml
//! job: ventes_aggreges
//! tests:
//!   one_purchase:
//!     description: a client with one purchase is not loyal
//!     given:
//!       bronze/ventes_stream:            # a table the job reads, by any of its names
//!         - {client_id: 1, montant: 50.0, jour: "2024-12-10"}   # other columns: null
//!     expect:                            # compared on the columns named here, in any order
//!       - {client_id: 1, nb_achats: 1, est_client_fidele: false}
//! ```

use std::io::Cursor;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use polars::prelude::*;
use serde_json::Value;

use super::check::CheckedJobs;
use super::expect::Checks;
use super::plan::build;
use crate::spec::job::{JobQuery, JobSpec};
use crate::spec::job_test::{RawTest, RawTestFile, Row};
use crate::spec::source_map::SourceMap;

/// The result of one test (or of a test file that could not be read).
#[derive(Debug, Clone)]
pub struct TestOutcome {
    /// The test file.
    pub file: PathBuf,
    /// The job.
    pub job: String,
    /// The test's name (empty for a file that could not be read).
    pub name: String,
    /// Why it failed; None when it passed.
    pub failure: Option<String>,
}

/// The test files of `jobs_dir` (`<jobs_dir>/tests/*.yaml`), sorted.
pub fn test_files(jobs_dir: &Path) -> Vec<PathBuf> {
    crate::spec::job::yaml_files(&jobs_dir.join("tests"))
}

/// Runs the tests of `files` for the jobs named in `jobs` (empty: every job).
pub fn run_tests(checked: &CheckedJobs, files: &[PathBuf], jobs: &[String]) -> Vec<TestOutcome> {
    let mut out = Vec::new();
    for file in files {
        let failed = |job: String, failure: String| TestOutcome {
            file: file.clone(),
            job,
            name: String::new(),
            failure: Some(failure),
        };
        let text = std::fs::read_to_string(file).map_err(|e| e.to_string());
        let parsed = text.as_deref().map_err(Clone::clone).and_then(|text| {
            serde_yaml::from_str::<RawTestFile>(text).map_err(|e| match e.location() {
                Some(l) => {
                    let suffix = format!(" at line {} column {}", l.line(), l.column());
                    let msg = e.to_string();
                    let msg = msg.strip_suffix(&suffix).unwrap_or(&msg).to_string();
                    format!("{}:{}:{}: {msg}", file.display(), l.line(), l.column())
                }
                None => format!("{}: {e}", file.display()),
            })
        });
        let raw = match parsed {
            Ok(r) => r,
            Err(e) => {
                out.push(failed(String::new(), e));
                continue;
            }
        };
        if !jobs.is_empty() && !jobs.contains(&raw.job) {
            continue;
        }
        let Some(job) = checked.job(&raw.job) else {
            out.push(failed(
                raw.job.clone(),
                format!("{}: no job `{}`", file.display(), raw.job),
            ));
            continue;
        };
        let map = SourceMap::build(text.as_deref().unwrap_or_default());
        for (name, test) in &raw.tests {
            let at = |path: &str| {
                let l = map.key(&format!("tests.{name}.{path}"));
                format!("{}:{}:{}", file.display(), l.line, l.col)
            };
            out.push(TestOutcome {
                file: file.clone(),
                job: job.name.clone(),
                name: name.clone(),
                failure: run_one(checked, job, test, &at).err(),
            });
        }
    }
    out
}

/// Where a path of the test stands in its file (`file:line:col`), from `given.<table>[i].col`.
type At<'a> = &'a dyn Fn(&str) -> String;

/// A frame of `rows` with exactly `schema`'s columns (missing ones null). An unknown column or
/// a value the column's type cannot take is reported at its row and column in the file.
fn frame(rows: &[Row], schema: &Schema, reference: &str, at: At<'_>) -> Result<DataFrame, String> {
    let row_path = |i: usize| format!("given.{reference}[{i}]");
    for (i, r) in rows.iter().enumerate() {
        if let Some(c) = r.keys().find(|c| schema.get(c.as_str()).is_none()) {
            return Err(format!(
                "{}: given `{reference}` row {}: no column `{c}` in that table",
                at(&format!("{}.{c}", row_path(i))),
                i + 1
            ));
        }
    }
    if rows.is_empty() {
        return Ok(DataFrame::empty_with_schema(schema));
    }
    let read = |rows: &[&Row]| -> Result<DataFrame, String> {
        let mut ndjson = Vec::new();
        for r in rows {
            serde_json::to_writer(&mut ndjson, r).map_err(|e| e.to_string())?;
            ndjson.push(b'\n');
        }
        JsonReader::new(Cursor::new(ndjson))
            .with_json_format(JsonFormat::JsonLines)
            .with_schema(std::sync::Arc::new(schema.clone()))
            .finish()
            .map_err(|e| crate::spec::expr::clean_polars_error(&e.to_string()))
    };
    let all: Vec<&Row> = rows.iter().collect();
    read(&all).map_err(|e| {
        // Find the value that failed: the first row that fails alone, then its first column.
        for (i, r) in rows.iter().enumerate() {
            if read(&[r]).is_err() {
                for (c, v) in r {
                    let one: Row = [(c.clone(), v.clone())].into_iter().collect();
                    if let Err(e) = read(&[&one]) {
                        let ty = schema
                            .get(c.as_str())
                            .map(|t| match crate::lake::schema::delta_type(t) {
                                Ok(d) => crate::lake::schema::type_name(&d),
                                Err(_) => t.to_string(),
                            })
                            .unwrap_or_default();
                        return format!(
                            "{}: given `{reference}` row {}: `{c}: {v}` is not a {ty} value ({e})",
                            at(&format!("{}.{c}", row_path(i))),
                            i + 1
                        );
                    }
                }
                return format!(
                    "{}: given `{reference}` row {}: {e}",
                    at(&row_path(i)),
                    i + 1
                );
            }
        }
        format!(
            "{}: given `{reference}`: {e}",
            at(&format!("given.{reference}"))
        )
    })
}

fn run_one(checked: &CheckedJobs, job: &JobSpec, test: &RawTest, at: At<'_>) -> Result<(), String> {
    // Every `given` table, by its catalog name.
    let mut given: IndexMap<String, (&str, &Vec<Row>)> = IndexMap::new();
    for (reference, rows) in &test.given {
        let t = checked.catalog.resolve(reference).ok_or_else(|| {
            format!(
                "{}: given `{reference}`: no such table",
                at(&format!("given.{reference}"))
            )
        })?;
        given.insert(t.name.clone(), (reference.as_str(), rows));
    }
    let table_frame = |name: &str| -> Result<LazyFrame, String> {
        let schema = checked
            .schemas
            .get(name)
            .ok_or_else(|| format!("no schema for table `{name}`"))?;
        let (reference, rows): (&str, &[Row]) = given
            .get(name)
            .map_or((name, &[]), |(r, rows)| (*r, rows.as_slice()));
        Ok(frame(rows, schema, reference, at)?.lazy())
    };
    let now = chrono::Utc::now();
    let lf = match &job.query {
        JobQuery::Structured(_) | JobQuery::Scd2 { .. } => {
            let from = job.from.as_deref().unwrap_or_default();
            let src = checked
                .catalog
                .resolve(from)
                .ok_or_else(|| format!("unknown source `{from}`"))?;
            if let Some((r, _)) = given.iter().find(|(n, _)| **n != src.name).map(|(_, v)| v) {
                return Err(format!(
                    "given `{r}`: the job reads only `{from}`; give its rows under that name"
                ));
            }
            build(job, Some(table_frame(&src.name)?), &[], now)
        }
        JobQuery::Sql(_) => {
            let tables = checked
                .catalog
                .sql_names()
                .into_iter()
                .map(|(n, t)| Ok((n, table_frame(&t.name)?)))
                .collect::<Result<Vec<_>, String>>()?;
            build(job, None, &tables, now)
        }
    }
    .map_err(|e| crate::spec::expr::clean_polars_error(&e.to_string()))?;
    let df = lf
        .collect()
        .and_then(|df| super::cluster::apply(job, df))
        .map_err(|e| crate::spec::expr::clean_polars_error(&e.to_string()))?;
    let mut checks = Checks::new(job).map_err(|e| e.to_string())?;
    let df = checks
        .apply(df)
        .map_err(|e| crate::spec::expr::clean_polars_error(&e.to_string()))?;
    if let Some((name, check)) = &checks.failed {
        return Err(format!(
            "expectation `{name}` ({check}, on_violation: fail) failed: a real run would commit nothing"
        ));
    }
    compare(&df, &test.expect)
}

/// A cell as JSON, for comparing and printing.
fn json_of(v: &AnyValue) -> Value {
    match v {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(*b),
        AnyValue::String(s) => Value::String(s.to_string()),
        AnyValue::StringOwned(s) => Value::String(s.to_string()),
        AnyValue::Int8(_)
        | AnyValue::Int16(_)
        | AnyValue::Int32(_)
        | AnyValue::Int64(_)
        | AnyValue::UInt8(_)
        | AnyValue::UInt16(_)
        | AnyValue::UInt32(_)
        | AnyValue::UInt64(_) => v
            .extract::<i64>()
            .map_or_else(|| Value::String(v.to_string()), Value::from),
        AnyValue::Float32(_) | AnyValue::Float64(_) => v
            .extract::<f64>()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(v.to_string()), Value::Number),
        // Times as the given rows write them: RFC 3339 in UTC (`2024-12-10T10:00:00Z`).
        AnyValue::Datetime(t, unit, _) | AnyValue::DatetimeOwned(t, unit, _) => {
            let micros = match unit {
                TimeUnit::Nanoseconds => t.div_euclid(1000),
                TimeUnit::Microseconds => *t,
                TimeUnit::Milliseconds => t.saturating_mul(1000),
            };
            chrono::DateTime::from_timestamp_micros(micros).map_or_else(
                || Value::String(v.to_string()),
                |d| Value::String(d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            )
        }
        other => Value::String(other.to_string().trim_matches('"').to_string()),
    }
}

fn same(expected: &Value, got: &Value) -> bool {
    match (expected, got) {
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
            _ => a == b,
        },
        (Value::String(a), Value::String(b)) => a == b,
        (a, b) if a.is_null() || b.is_null() => a.is_null() && b.is_null(),
        (Value::Bool(a), Value::Bool(b)) => a == b,
        // Values compare with their types: an expected "1" (a string) is not an integer 1.
        (a, b) => a == b,
    }
}

fn show(row: &Row) -> String {
    let cells: Vec<String> = row.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!("{{{}}}", cells.join(", "))
}

/// Compares `df` with `expected` on the columns `expected` names, as multisets of rows.
fn compare(df: &DataFrame, expected: &[Row]) -> Result<(), String> {
    let mut columns: Vec<&str> = Vec::new();
    for r in expected {
        for k in r.keys() {
            if !columns.contains(&k.as_str()) {
                columns.push(k);
            }
        }
    }
    if let Some(c) = columns.iter().find(|c| df.schema().get(c).is_none()) {
        let have: Vec<&str> = df.get_column_names().iter().map(|n| n.as_str()).collect();
        return Err(format!(
            "the output has no column `{c}` (it has: {})",
            have.join(", ")
        ));
    }
    let mut got: Vec<Row> = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let mut row = Row::new();
        for c in &columns {
            let v = df
                .column(c)
                .and_then(|s| s.get(i))
                .map_err(|e| e.to_string())?;
            row.insert(c.to_string(), json_of(&v));
        }
        got.push(row);
    }
    let mut unmatched: Vec<bool> = vec![true; got.len()];
    let mut missing = Vec::new();
    for e in expected {
        let hit = got.iter().enumerate().position(|(i, g)| {
            unmatched[i]
                && e.iter()
                    .all(|(k, v)| g.get(k).is_some_and(|gv| same(v, gv)))
        });
        match hit {
            Some(i) => unmatched[i] = false,
            None => missing.push(e),
        }
    }
    let extra: Vec<&Row> = got
        .iter()
        .zip(&unmatched)
        .filter(|(_, u)| **u)
        .map(|(g, _)| g)
        .collect();
    if missing.is_empty() && extra.is_empty() {
        return Ok(());
    }
    let mut msg = format!(
        "expected {} row(s), got {}; compared on: {}",
        expected.len(),
        got.len(),
        columns.join(", ")
    );
    for m in missing {
        msg.push_str(&format!("\n  - expected, not in the output: {}", show(m)));
    }
    for x in extra {
        msg.push_str(&format!("\n  + in the output, not expected: {}", show(x)));
    }
    Err(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(v: Value) -> Row {
        match v {
            Value::Object(m) => m,
            _ => Row::new(),
        }
    }

    #[test]
    fn values_compare_with_their_types() {
        use serde_json::json;
        assert!(same(&json!(1), &json!(1.0)));
        assert!(!same(&json!("1"), &json!(1)));
        assert!(!same(&json!(1), &json!("1")));
        assert!(!same(&json!("true"), &json!(true)));
        assert!(same(&json!(null), &json!(null)));
        assert!(same(&json!("2026-01-01"), &json!("2026-01-01")));
    }

    #[test]
    fn compares_as_multisets_on_the_named_columns() -> PolarsResult<()> {
        let df = df!("k" => ["a", "b"], "n" => [1i64, 2], "x" => [0.1 + 0.2, 5.0])?;
        let ok = [
            row(serde_json::json!({"k": "b", "n": 2})),
            row(serde_json::json!({"k": "a", "x": 0.3})),
        ];
        assert_eq!(compare(&df, &ok), Ok(()));
        let bad = [row(serde_json::json!({"k": "a", "n": 3}))];
        let Err(msg) = compare(&df, &bad) else {
            panic!("a wrong value must fail")
        };
        assert!(
            msg.contains("- expected, not in the output: {k: \"a\", n: 3}"),
            "{msg}"
        );
        assert!(
            msg.contains("+ in the output, not expected: {k: \"a\", n: 1}"),
            "{msg}"
        );
        assert!(
            msg.contains("+ in the output, not expected: {k: \"b\", n: 2}"),
            "{msg}"
        );
        let Err(msg) = compare(&df, &[row(serde_json::json!({"nope": 1}))]) else {
            panic!("an unknown column must fail")
        };
        assert!(msg.contains("no column `nope`"), "{msg}");
        // Times compare in the form the given rows use.
        let t = df!("t" => [1_733_824_800_000_000i64])?
            .lazy()
            .select([col("t").cast(DataType::Datetime(
                TimeUnit::Microseconds,
                Some(TimeZone::UTC),
            ))])
            .collect()?;
        let at = [row(serde_json::json!({"t": "2024-12-10T10:00:00Z"}))];
        assert_eq!(compare(&t, &at), Ok(()));
        Ok(())
    }
}
