//! `lakectl query`: Polars SQL over the lake's Delta tables, by spec name (bronze pipelines,
//! `<pipeline>_quarantine`, silver jobs, or a table path's last segment) or by path in the
//! seeds' form ``delta.`lake/bronze/ventes_stream` ``.

pub mod naming;
pub mod output;
pub mod repl;

use crate::storage::Location;

use polars::prelude::*;

use crate::lake::catalog::Catalog;
use crate::lake::read::scan;
use crate::lake::{LakeError, Table};
use crate::silver::plan::run_sql;
use crate::spec::expr::clean_polars_error;
use crate::spec::PipelineSpec;

/// Errors of a query.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// A table the query names is unknown.
    #[error("unknown table `{name}`\n    hint: {}", unknown_hint(.known, .suggestion.as_deref()))]
    UnknownTable {
        /// The name.
        name: String,
        /// The known names, comma-separated (empty without a spec or lake).
        known: String,
        /// The known name closest to `name`, if one is close.
        suggestion: Option<String>,
    },
    /// A statement that would change a table (DML, DDL): `query` only reads.
    #[error("`{keyword}` is not run: `lakectl query` only reads the lake\n    hint: tables change through the pipeline (`run`, `schedule`) and its maintenance (`optimize`, `vacuum`); a SELECT shows what a change would keep")]
    ReadOnly {
        /// The statement's first keyword.
        keyword: String,
    },
    /// The SQL is invalid or failed.
    #[error("query failed: {0}")]
    Sql(String),
    /// A table could not be read.
    #[error(transparent)]
    Lake(#[from] LakeError),
}

fn unknown_hint(known: &str, suggestion: Option<&str>) -> String {
    match (suggestion, known.is_empty()) {
        (Some(s), _) => format!("did you mean `{s}`? Tables are {known}"),
        (None, false) => format!(
            "tables are {known}; or use delta.`path/to/table` (or delta.`s3://bucket/table`)"
        ),
        (None, true) => "no pipelines.yaml here or above and no --lake: read a lake with \
             `lakectl --lake PATH query …`, or a table by path: delta.`path/to/table`"
            .into(),
    }
}

impl QueryError {
    /// The error for `name`, unknown among `known`, with the closest known name if any.
    pub fn unknown_table(name: &str, known: &[String]) -> Self {
        let refs: Vec<&str> = known.iter().map(String::as_str).collect();
        Self::UnknownTable {
            name: name.to_string(),
            known: known.join(", "),
            suggestion: crate::spec::diag::did_you_mean(name, refs).map(str::to_string),
        }
    }
}

impl crate::exit::ExitCode for QueryError {
    fn exit_code(&self) -> u8 {
        match self {
            Self::Lake(e) => e.exit_code(),
            _ => crate::exit::FAILURE,
        }
    }
}

/// Replaces every ``delta.`path` `` by a generated table name; returns the paths.
fn extract_delta_paths(sql: &str) -> (String, Vec<(String, String)>) {
    let mut out = String::with_capacity(sql.len());
    let mut paths = Vec::new();
    let mut rest = sql;
    while let Some(i) = rest.to_ascii_lowercase().find("delta.`") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 7..];
        match after.find('`') {
            Some(end) => {
                let name = format!("__delta_{}", paths.len());
                paths.push((name.clone(), after[..end].to_string()));
                out.push_str(&name);
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    (out, paths)
}

/// Refuses a statement that would change a table: Polars' SQL context accepts `DELETE`,
/// `TRUNCATE`, `DROP` or `CREATE TABLE` on its in-memory frames and prints a result, while the
/// Delta table stays as it was, which would read as done.
fn refuse_changes(sql: &str) -> Result<(), QueryError> {
    const CHANGES: &[&str] = &[
        "INSERT", "UPDATE", "DELETE", "TRUNCATE", "DROP", "CREATE", "ALTER", "MERGE", "REPLACE",
        "COPY", "UPSERT", "GRANT", "REVOKE",
    ];
    {
        let mut rest = sql.trim_start();
        // Leading comments and parentheses.
        loop {
            if let Some(r) = rest.strip_prefix("--") {
                rest = r.split_once('\n').map_or("", |(_, r)| r).trim_start();
            } else if let Some(r) = rest.strip_prefix("/*") {
                rest = r.split_once("*/").map_or("", |(_, r)| r).trim_start();
            } else if let Some(r) = rest.strip_prefix('(') {
                rest = r.trim_start();
            } else {
                break;
            }
        }
        let keyword: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect::<String>()
            .to_ascii_uppercase();
        if CHANGES.contains(&keyword.as_str()) {
            return Err(QueryError::ReadOnly { keyword });
        }
    }
    Ok(())
}

/// Runs `sql` over the lake (tables at `version` if given: time travel) and returns the result,
/// collected in memory: for lakectl's own queries (the dashboard's), whose results are small.
pub async fn execute(
    spec: &PipelineSpec,
    catalog: &Catalog,
    sql: &str,
    version: Option<u64>,
) -> Result<DataFrame, QueryError> {
    let lf = plan(spec, catalog, sql, version).await?;
    tokio::task::block_in_place(|| lf.collect())
        .map_err(|e| QueryError::Sql(clean_polars_error(&e.to_string())))
}

/// A user's query, planned and run on the streaming engine, its result written to `w` in
/// `format` as it comes (bounded memory; see [`output`]). Unnamed computed columns are named
/// by their SQL text ([`naming`]).
pub async fn run(
    spec: &PipelineSpec,
    catalog: &Catalog,
    sql: &str,
    version: Option<u64>,
    format: output::Format,
    w: &mut dyn std::io::Write,
) -> Result<output::Written, QueryError> {
    let lf = plan(spec, catalog, &naming::name_expressions(sql), version).await?;
    let width = output::table_width();
    tokio::task::block_in_place(|| output::stream(lf, format, w, Some(width)))
        .map_err(|e| QueryError::Sql(clean_polars_error(&e)))
}

/// The plan of `sql` over the lake's tables (at `version` if given: time travel).
async fn plan(
    spec: &PipelineSpec,
    catalog: &Catalog,
    sql: &str,
    version: Option<u64>,
) -> Result<LazyFrame, QueryError> {
    refuse_changes(sql)?;
    let (sql, delta_paths) = extract_delta_paths(sql);
    let names = polars::sql::extract_table_identifiers(&sql, false, true)
        .map_err(|e| QueryError::Sql(clean_polars_error(&e.to_string())))?;
    let sql_names = catalog.sql_names();
    let mut tables: Vec<(String, LazyFrame)> = Vec::new();
    for name in names {
        let path: Location = if let Some((_, p)) = delta_paths.iter().find(|(n, _)| *n == name) {
            spec.location(p)
                .map_err(|e| QueryError::Sql(format!("delta.`{p}`: {e}")))?
        } else if let Some(t) = sql_names
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .or_else(|| catalog.resolve(&name))
        {
            // A lake table: the lake must be there (a mistyped --lake is not an empty lake).
            crate::lake::require_lake(&spec.lake)?;
            spec.table_path(&t.path)
        } else {
            let known: Vec<String> = sql_names.iter().map(|(n, _)| n.clone()).collect();
            return Err(QueryError::unknown_table(&name, &known));
        };
        let t = match version {
            Some(v) => Table::open_version(&path, v).await?,
            None => Table::open_existing(&path).await?,
        };
        tables.push((name, scan(&t, &|_| true)?));
    }
    run_sql(&sql, &tables).map_err(|e| QueryError::Sql(clean_polars_error(&e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_that_would_change_a_table_are_refused() {
        for sql in [
            "DELETE FROM ventes WHERE client_id = 1",
            "  truncate table ventes",
            "-- a comment\nDROP TABLE ventes",
            "/* x */ (INSERT INTO ventes SELECT * FROM ventes)",
            "CREATE TABLE t AS SELECT 1",
        ] {
            assert!(
                matches!(refuse_changes(sql), Err(QueryError::ReadOnly { .. })),
                "{sql}"
            );
        }
        for sql in [
            "SELECT 'a; drop table x' AS s",
            "WITH d AS (SELECT 1) SELECT * FROM d",
            "select deleted from t",
        ] {
            assert!(refuse_changes(sql).is_ok(), "{sql}");
        }
    }

    #[test]
    fn delta_paths_become_table_names() {
        let (sql, paths) =
            extract_delta_paths("SELECT * FROM delta.`lake/bronze/x` WHERE jour = '2024'");
        assert_eq!(sql, "SELECT * FROM __delta_0 WHERE jour = '2024'");
        assert_eq!(
            paths,
            vec![("__delta_0".to_string(), "lake/bronze/x".to_string())]
        );
    }
}
