//! A job spec → a Polars LazyFrame.
//!
//! The structured form becomes one SQL aggregation (Polars SQL parses `sum`, `count(*)`,
//! `count(distinct x)`, `avg`, `median`, `quantile_cont`, `first`, `last`, …), then the
//! derived columns and `having` are Polars expressions over the aggregated columns.

use chrono::{DateTime, Utc};
use polars::prelude::*;
use polars::sql::SQLContext;

use crate::spec::expr::parse_expr;

use crate::spec::job::{JobQuery, JobSpec};

/// Name the source table has inside a structured job's SQL.
pub const SOURCE: &str = "__source";

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// The aggregation query of the structured form.
pub fn aggregate_sql(
    where_: Option<&str>,
    group_by: &[String],
    aggregate: &[(String, String)],
) -> String {
    let mut cols: Vec<String> = group_by.iter().map(|g| quote(g)).collect();
    cols.extend(
        aggregate
            .iter()
            .map(|(name, e)| format!("{e} AS {}", quote(name))),
    );
    let select = if cols.is_empty() {
        "*".to_string()
    } else {
        cols.join(", ")
    };
    let mut sql = format!("SELECT {select} FROM {SOURCE}");
    if let Some(w) = where_ {
        sql.push_str(&format!(" WHERE {w}"));
    }
    if !group_by.is_empty() {
        sql.push_str(&format!(
            " GROUP BY {}",
            group_by
                .iter()
                .map(|g| quote(g))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    sql
}

/// Runs `sql` with `tables` registered by name.
pub fn run_sql(sql: &str, tables: &[(String, LazyFrame)]) -> PolarsResult<LazyFrame> {
    let mut ctx = SQLContext::new();
    for (name, lf) in tables {
        ctx.register(name, lf.clone());
    }
    ctx.execute(sql)
}

/// Adds derived columns (in order; `now()` is `now`) and applies `having`.
pub fn derive_and_filter(
    lf: LazyFrame,
    derive: &[(String, String)],
    having: Option<&str>,
    now: DateTime<Utc>,
) -> PolarsResult<LazyFrame> {
    let mut lf = crate::spec::expr::with_derived(lf, derive, now)?;
    if let Some(h) = having {
        let expr = parse_expr(h).map_err(|m| polars_err!(ComputeError: "having: {m}"))?;
        lf = lf.filter(expr);
    }
    Ok(lf)
}

/// The job's plan. `source` is the `from` table (structured form); `tables` are every table by
/// SQL name (the `sql` form); `now()` is `now` (the run's start, the same for every chunk).
pub fn build(
    job: &JobSpec,
    source: Option<LazyFrame>,
    tables: &[(String, LazyFrame)],
    now: DateTime<Utc>,
) -> PolarsResult<LazyFrame> {
    match &job.query {
        JobQuery::Sql(sql) => run_sql(sql, tables),
        JobQuery::Structured(q) => {
            let source = source
                .ok_or_else(|| polars_err!(ComputeError: "job {} has no source", job.name))?;
            let agg = run_sql(
                &aggregate_sql(q.where_.as_deref(), &q.group_by, &q.aggregate),
                &[(SOURCE.to_string(), source)],
            )?;
            derive_and_filter(agg, &q.derive, q.having.as_deref(), now)
        }
        JobQuery::Scd2 { where_, scd2 } => {
            let source = source
                .ok_or_else(|| polars_err!(ComputeError: "job {} has no source", job.name))?;
            let rows = super::scd2::source_rows(source, where_.as_deref(), scd2)?;
            super::scd2::versions(rows, scd2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_aggregation_sql() {
        let sql = aggregate_sql(
            Some("montant > 0"),
            &["pays".into()],
            &[("n".into(), "count(*)".into())],
        );
        assert_eq!(
            sql,
            "SELECT \"pays\", count(*) AS \"n\" FROM __source WHERE montant > 0 GROUP BY \"pays\""
        );
    }

    #[test]
    fn aggregates_with_polars_sql() -> PolarsResult<()> {
        let df =
            df!("pays" => ["FR", "FR", "ES"], "montant" => [10.0, 30.0, 5.0], "c" => [1i64, 2, 1])?;
        let sql = aggregate_sql(
            None,
            &["pays".into()],
            &[
                ("total".into(), "sum(montant)".into()),
                ("n".into(), "count(*)".into()),
                ("clients".into(), "count(distinct c)".into()),
            ],
        );
        let lf = run_sql(&sql, &[(SOURCE.into(), df.lazy())])?;
        let out = derive_and_filter(
            lf,
            &[("big".into(), "total >= 20".into())],
            Some("n > 1"),
            Utc::now(),
        )?
        .collect()?;
        assert_eq!(out.height(), 1);
        assert_eq!(out.column("total")?.f64()?.get(0), Some(40.0));
        assert_eq!(
            out.column("clients")?.cast(&DataType::Int64)?.i64()?.get(0),
            Some(2)
        );
        assert_eq!(out.column("big")?.bool()?.get(0), Some(true));
        Ok(())
    }
}
