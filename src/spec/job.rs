//! Silver job files (`jobs/*.yaml`, one job per file): raw serde types, then validated
//! domain types. Checks that need table schemas (unknown columns, type errors) run in
//! `silver::check`, on the same located diagnostics.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use super::diag::Diagnostics;
use super::document::Document;
use super::expr::parse_expr;
use super::job_modes::{ClusterSpec, RawCluster, RawScd2, Scd2Spec};
use super::job_policy::run_policy;
pub use super::job_policy::{Concurrency, RunPolicy};
use super::source_map::join_key;

/// One job file as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawJob {
    /// The job name: letters, digits, `_`, `-`; names its `txn` appId.
    pub name: String,
    /// What the job computes, for people.
    #[serde(default)]
    pub description: Option<String>,
    /// Cron expression (5 fields, 6 with seconds first, or `@hourly`-style presets).
    #[serde(default)]
    pub schedule: Option<String>,
    /// IANA time zone of the schedule (default UTC).
    #[serde(default)]
    pub timezone: Option<String>,
    /// The source table (structured form): a pipeline, a job, or a path in the lake.
    #[serde(default)]
    pub from: Option<String>,
    /// Row filter over the source, a SQL expression.
    #[serde(default, rename = "where")]
    pub where_: Option<String>,
    /// Grouping columns.
    #[serde(default)]
    pub group_by: Vec<String>,
    /// Output column → SQL aggregate (`sum(montant)`, `count(distinct x)`, …).
    #[serde(default)]
    pub aggregate: IndexMap<String, String>,
    /// Output column → SQL expression over the aggregated columns.
    #[serde(default)]
    pub derive: IndexMap<String, String>,
    /// Filter over the output columns.
    #[serde(default)]
    pub having: Option<String>,
    /// Expectation name → check and what a violation does.
    #[serde(default)]
    pub expect: IndexMap<String, RawExpect>,
    /// A whole SQL query over tables by name, instead of the structured form.
    #[serde(default)]
    pub sql: Option<String>,
    /// A Type 2 slowly changing dimension of the source, instead of an aggregation.
    #[serde(default)]
    pub scd2: Option<RawScd2>,
    /// k-means clustering of the job's output rows (adds a cluster id column).
    #[serde(default)]
    pub cluster: Option<RawCluster>,
    /// The target table, relative to the lake.
    pub to: String,
    /// `overwrite`, `replace_partitions` or `append`.
    #[serde(default)]
    pub mode: Option<WriteMode>,
    /// Partition columns of the target.
    #[serde(default)]
    pub partition_by: Vec<String>,
    /// What a run does when the job's output columns no longer match its table.
    #[serde(default)]
    pub on_schema_change: Option<OnSchemaChange>,
    /// What the scheduler does with a run due while the previous one runs.
    #[serde(default)]
    pub concurrency: Option<Concurrency>,
    /// Attempts after a failure.
    #[serde(default, deserialize_with = "super::scalar::opt_u32")]
    #[schemars(with = "Option<super::schema::Lenient<u32>>")]
    pub retries: Option<u32>,
    /// Delay before the first retry, doubled each time.
    #[serde(default)]
    pub retry_delay: Option<String>,
    /// Cap of the retry delay.
    #[serde(default)]
    pub retry_max_delay: Option<String>,
    /// A run still going after this is stopped, nothing committed.
    #[serde(default)]
    pub timeout: Option<String>,
    /// After downtime, one run for the missed schedules.
    #[serde(default, deserialize_with = "super::scalar::opt_bool")]
    #[schemars(with = "Option<super::schema::Lenient<bool>>")]
    pub catchup: Option<bool>,
}

/// One expectation as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    /// SQL boolean over the output columns.
    pub check: String,
    /// `warn`, `drop` or `fail`.
    #[serde(default)]
    pub on_violation: Option<OnViolation>,
}

/// How a job writes its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    /// Recompute everything every run; replace the whole table.
    Overwrite,
    /// Recompute only the partitions whose source data changed; replace exactly those.
    ReplacePartitions,
    /// Append what the new source data gives.
    Append,
}

/// What a run does when a job's output columns no longer match its table (its YAML was
/// edited, or a source's schema evolved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnSchemaChange {
    /// Recompute everything and replace the table, new schema included, in one commit
    /// (the default: a scheduled pipeline keeps running after an edit).
    #[default]
    Rebuild,
    /// Add the new columns to the table (a schema change that only adds columns) and go on
    /// incrementally: rows computed before read them as null (dbt's `append_new_columns`).
    AppendNewColumns,
    /// Refuse to run until `lakectl run JOB --full-refresh` rebuilds it.
    Fail,
}

/// What a failed expectation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnViolation {
    /// Log the violating row count; write everything.
    #[default]
    Warn,
    /// Remove the violating rows.
    Drop,
    /// Fail the run; nothing is committed.
    Fail,
}

/// A data quality check.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// Name.
    pub name: String,
    /// SQL boolean over the output columns.
    pub check: String,
    /// On violation.
    pub on_violation: OnViolation,
}

/// A structured job: filter, group, aggregate, derive, filter again.
#[derive(Debug, Clone)]
pub struct Aggregation {
    /// Row filter over the source.
    pub where_: Option<String>,
    /// Grouping columns.
    pub group_by: Vec<String>,
    /// Output name → SQL aggregate.
    pub aggregate: Vec<(String, String)>,
    /// Output name → SQL expression over the aggregated columns.
    pub derive: Vec<(String, String)>,
    /// Filter over the output columns.
    pub having: Option<String>,
}

/// The computation of a job.
#[derive(Debug, Clone)]
pub enum JobQuery {
    /// The structured form.
    Structured(Aggregation),
    /// A whole SQL query over named tables.
    Sql(String),
    /// A Type 2 slowly changing dimension of the `from` table.
    Scd2 {
        /// Row filter over the source.
        where_: Option<String>,
        /// Keys, tracked columns, ordering.
        scd2: Scd2Spec,
    },
}

/// A validated job.
#[derive(Debug, Clone)]
pub struct JobSpec {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Cron expression as written.
    pub schedule: Option<String>,
    /// The parsed schedule.
    pub cron: Option<cron::Schedule>,
    /// IANA time zone of the schedule (UTC by default).
    pub timezone: chrono_tz::Tz,
    /// Source table reference (structured form).
    pub from: Option<String>,
    /// The computation.
    pub query: JobQuery,
    /// Expectations.
    pub expect: Vec<Expectation>,
    /// Target table reference.
    pub to: String,
    /// Write mode.
    pub mode: WriteMode,
    /// Target partition columns.
    pub partition_by: Vec<String>,
    /// What a run does when the output columns changed.
    pub on_schema_change: OnSchemaChange,
    /// k-means over the output rows.
    pub cluster: Option<ClusterSpec>,
    /// How the scheduler runs it.
    pub policy: RunPolicy,
    /// The job file, for located diagnostics.
    pub doc: Document,
}

impl JobSpec {
    /// The job file.
    pub fn file(&self) -> &Path {
        &self.doc.file
    }

    /// A fingerprint of what the job computes and how it writes (source, query, expectations,
    /// mode, partitioning, target; not its schedule or description), stored with each commit
    /// so that an edited job is recomputed rather than reported up to date. FNV-1a 64 over a
    /// canonical text, as a non-negative i64 (a `txn` version).
    pub fn fingerprint(&self) -> i64 {
        let canonical = format!(
            "{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}{}",
            self.from,
            self.query,
            self.expect
                .iter()
                .map(|e| (&e.name, &e.check, e.on_violation))
                .collect::<Vec<_>>(),
            self.mode,
            self.partition_by,
            self.to,
            // (Absent from the text when unset: older jobs keep their fingerprint.)
            self.cluster
                .as_ref()
                .map_or(String::new(), |c| format!("\u{1f}{c:?}"))
        );
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in canonical.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        (h & i64::MAX as u64) as i64
    }
}

/// Parses a cron expression: standard 5 fields, 6 with seconds first, or `@hourly`-style presets.
pub fn parse_cron(expr: &str) -> Result<cron::Schedule, String> {
    let e = expr.trim();
    let fields = e.split_whitespace().count();
    let full = if e.starts_with('@') || fields >= 6 {
        e.to_string()
    } else if fields == 5 {
        format!("0 {e}")
    } else {
        return Err(format!("`{e}` has {fields} fields; cron needs 5 (min hour day month weekday), 6 with seconds first, or a preset such as @hourly"));
    };
    let schedule =
        cron::Schedule::from_str(&full).map_err(|err| format!("invalid cron `{e}`: {err}"))?;
    // The cron crate looks up to the year 2100: an expression with no fire time by then
    // (`0 0 30 2 *`, February 30th) never fires.
    if schedule.upcoming(chrono::Utc).next().is_none() {
        return Err(format!("cron `{e}` never fires (no such date)"));
    }
    Ok(schedule)
}

/// The `*.yaml`/`*.yml` files of `dir` (not its subfolders), sorted; none when it is missing.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    files
}

/// Reads every `*.yaml`/`*.yml` of `dir` (sorted), as (file, text). A missing folder holds
/// no job; an unreadable file is a diagnostic.
pub fn read_job_files(dir: &Path, diags: &mut Diagnostics) -> Vec<(PathBuf, String)> {
    yaml_files(dir)
        .into_iter()
        .filter_map(|f| match std::fs::read_to_string(&f) {
            Ok(text) => Some((f, text)),
            Err(e) => {
                diags.push(super::diag::Diagnostic::new(
                    &f,
                    Default::default(),
                    format!("cannot read job file: {e}"),
                ));
                None
            }
        })
        .collect()
}

/// Parses and validates job files given as (file, text).
pub fn parse_jobs(files: &[(PathBuf, String)], diags: &mut Diagnostics) -> Vec<JobSpec> {
    let mut jobs = Vec::new();
    for (f, text) in files {
        if let Some(j) = Document::parse(f, text, diags).and_then(|d| validate_job(d, diags)) {
            jobs.push(j);
        }
    }
    jobs
}

/// Validates one job document (structure and expressions; schemas are checked later).
pub fn validate_job(doc: Document, diags: &mut Diagnostics) -> Option<JobSpec> {
    let raw: RawJob = doc.deserialize(&doc.value, "", diags)?;
    let before = diags.mark();
    let name_ok = !raw.name.is_empty()
        && raw
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !name_ok {
        diags.push(doc.at(
            "name",
            format!(
                "job name `{}` must be letters, digits, `_` or `-`",
                raw.name
            ),
        ));
    }
    let cron = match &raw.schedule {
        Some(s) => parse_cron(s)
            .map_err(|e| diags.push(doc.at("schedule", e)))
            .ok(),
        None => None,
    };
    let timezone = match &raw.timezone {
        Some(tz) => tz
            .parse::<chrono_tz::Tz>()
            .map_err(|_| {
                diags.push(
                    doc.at("timezone", format!("unknown time zone `{tz}`"))
                        .with_hint("use an IANA name such as Europe/Paris or UTC"),
                )
            })
            .unwrap_or(chrono_tz::UTC),
        None => chrono_tz::UTC,
    };
    let check_expr = |diags: &mut Diagnostics, path: &str, sql: &str| {
        if let Err(e) = parse_expr(sql) {
            diags.push(doc.at(path, format!("`{path}`: {e}")));
        }
    };
    let structured_keys = |raw: &RawJob| {
        [
            ("where", raw.where_.is_some()),
            ("group_by", !raw.group_by.is_empty()),
            ("aggregate", !raw.aggregate.is_empty()),
            ("derive", !raw.derive.is_empty()),
            ("having", raw.having.is_some()),
        ]
    };
    let query = match (&raw.sql, &raw.scd2) {
        (Some(_), Some(_)) => {
            diags.push(doc.at_key("scd2", "`scd2` cannot be combined with `sql`"));
            JobQuery::Sql(String::new())
        }
        (None, Some(s)) => {
            for (key, set) in structured_keys(&raw) {
                if set && key != "where" {
                    diags.push(
                        doc.at_key(key, format!("`{key}` cannot be combined with `scd2`"))
                            .with_hint("an scd2 job keeps every version of its keys' tracked columns; aggregate in another job that reads it"),
                    );
                }
            }
            for (key, set) in [
                ("mode", raw.mode.is_some()),
                ("partition_by", !raw.partition_by.is_empty()),
                ("cluster", raw.cluster.is_some()),
                ("expect", !raw.expect.is_empty()),
            ] {
                if set {
                    diags.push(doc.at_key(key, format!("`{key}` cannot be combined with `scd2`")).with_hint("an scd2 job rewrites the files of the keys that changed; it has no mode, partitions, clustering or expectations"));
                }
            }
            if raw.from.is_none() {
                diags.push(doc.at("scd2", "an scd2 job needs `from` (the source table)"));
            }
            if let Some(w) = &raw.where_ {
                check_expr(diags, "where", w);
            }
            match Scd2Spec::validate(s, &doc, diags) {
                Some(scd2) => JobQuery::Scd2 {
                    where_: raw.where_.clone(),
                    scd2,
                },
                None => JobQuery::Sql(String::new()),
            }
        }
        (Some(sql), None) => {
            for (key, set) in structured_keys(&raw) {
                if set {
                    diags.push(doc.at_key(key, format!("`{key}` cannot be combined with `sql`")).with_hint("put everything in the SQL query, or drop `sql` and use the structured form"));
                }
            }
            if let Err(e) = sqlparse_check(sql) {
                diags.push(doc.at("sql", format!("`sql`: {e}")));
            }
            JobQuery::Sql(sql.clone())
        }
        (None, None) => {
            if raw.from.is_none() {
                diags.push(doc.at(
                    "name",
                    "a job needs `from` (the source table) or a whole `sql` query",
                ));
            }
            if let Some(w) = &raw.where_ {
                check_expr(diags, "where", w);
            }
            for (k, v) in &raw.derive {
                check_expr(diags, &join_key("derive", k), v);
            }
            if let Some(h) = &raw.having {
                check_expr(diags, "having", h);
            }
            for (k, v) in &raw.aggregate {
                if v.trim().is_empty() {
                    diags.push(doc.at(
                        &join_key("aggregate", k),
                        format!("aggregate `{k}` is empty"),
                    ));
                }
            }
            JobQuery::Structured(Aggregation {
                where_: raw.where_.clone(),
                group_by: raw.group_by.clone(),
                aggregate: raw.aggregate.clone().into_iter().collect(),
                derive: raw.derive.clone().into_iter().collect(),
                having: raw.having.clone(),
            })
        }
    };
    let mut expect = Vec::new();
    for (name, e) in &raw.expect {
        check_expr(
            diags,
            &join_key(&join_key("expect", name), "check"),
            &e.check,
        );
        expect.push(Expectation {
            name: name.clone(),
            check: e.check.clone(),
            on_violation: e.on_violation.unwrap_or_default(),
        });
    }
    let mode = if raw.scd2.is_some() {
        // The scope of an scd2 run is what was appended to its source since the last one.
        WriteMode::Append
    } else {
        raw.mode.unwrap_or(if raw.partition_by.is_empty() {
            WriteMode::Overwrite
        } else {
            WriteMode::ReplacePartitions
        })
    };
    let cluster = raw
        .cluster
        .as_ref()
        .and_then(|c| ClusterSpec::validate(c, &doc, diags));
    if raw.cluster.is_some() && raw.scd2.is_none() && mode != WriteMode::Overwrite {
        diags.push(
            doc.at_key(
                "cluster",
                "`cluster` needs `mode: overwrite` (every run clusters all the rows)",
            )
            .with_hint(
                "remove `mode` and `partition_by`, or move the clustering to a job of its own",
            ),
        );
    }
    if mode == WriteMode::ReplacePartitions && raw.partition_by.is_empty() {
        diags.push(
            doc.at("mode", "`mode: replace_partitions` needs `partition_by`")
                .with_hint("add partition_by: [jour], or use mode: overwrite"),
        );
    }
    let to = match super::pipeline::lake_relative(&raw.to) {
        Ok(t) => t,
        Err(e) => {
            diags.push(doc.at("to", format!("`to`: {e}")));
            String::new()
        }
    };
    let policy = run_policy(&doc, &raw, diags);
    diags.none_since(before).then(|| JobSpec {
        name: raw.name,
        description: raw.description,
        schedule: raw.schedule,
        cron,
        timezone,
        from: raw.from,
        query,
        expect,
        to,
        mode,
        partition_by: raw.partition_by,
        on_schema_change: raw.on_schema_change.unwrap_or_default(),
        cluster,
        policy,
        doc,
    })
}

/// Checks that `sql` parses as one SELECT statement.
fn sqlparse_check(sql: &str) -> Result<(), String> {
    let code = strip_sql_comments(sql);
    let first = code
        .trim_start()
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '(')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if !(first == "select" || first == "with" || first.starts_with('(')) {
        return Err(format!(
            "a job's `sql` must be one query (SELECT or WITH …), not `{}`",
            code.split_whitespace().next().unwrap_or("")
        ));
    }
    if code.trim().trim_end_matches(';').contains(';') {
        return Err("a job's `sql` must be one statement (no `;` between statements)".into());
    }
    polars::sql::extract_table_identifiers(sql, false, false)
        .map(|_| ())
        .map_err(|e| super::expr::clean_polars_error(&e.to_string()))
}

/// `sql` with its comments and the contents of its string literals blanked (so a `;` or a
/// keyword inside them is not mistaken for code).
fn strip_sql_comments(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut it = sql.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '-' if it.peek() == Some(&'-') => {
                for c in it.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                out.push(' ');
            }
            '/' if it.peek() == Some(&'*') => {
                it.next();
                let mut prev = ' ';
                for c in it.by_ref() {
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
                out.push(' ');
            }
            '\'' | '"' => {
                out.push(c);
                for d in it.by_ref() {
                    if d == c {
                        break;
                    }
                }
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_query_is_a_job() {
        assert!(sqlparse_check("SELECT 1 AS x FROM t").is_ok());
        assert!(sqlparse_check("-- c\nWITH a AS (SELECT * FROM t) SELECT * FROM a;").is_ok());
        assert!(sqlparse_check("SELECT ';' AS s FROM t").is_ok());
        for bad in [
            "DROP TABLE t",
            "DELETE FROM t",
            "SHOW TABLES",
            "/* x */ INSERT INTO t VALUES (1)",
        ] {
            let e = sqlparse_check(bad).unwrap_err();
            assert!(e.contains("must be one query"), "{bad}: {e}");
        }
        let e = sqlparse_check("SELECT 1 FROM t; DROP TABLE t").unwrap_err();
        assert!(e.contains("one statement"), "{e}");
    }

    #[test]
    fn cron_forms() {
        assert!(parse_cron("0 0 30 2 *")
            .unwrap_err()
            .contains("never fires"));
        assert!(parse_cron("0 0 29 2 *").is_ok());
        assert!(parse_cron("*/5 * * * *").is_ok());
        assert!(parse_cron("*/2 * * * * *").is_ok());
        assert!(parse_cron("@hourly").is_ok());
        assert!(parse_cron("61 * * * *").is_err());
        assert!(parse_cron("* *").unwrap_err().contains("has 2 fields"));
    }
}
