//! SQL expressions of the spec (derive, where, checks), parsed by Polars SQL.

use polars::prelude::Expr;

/// Name of the column that holds the batch's ingestion time while `now()` is evaluated.
pub const NOW_COLUMN: &str = "__lakectl_now";

/// Parses a SQL expression into a Polars expression. `now()` means the time the batch (or
/// job run) started; it reads the [`NOW_COLUMN`] column, which the caller adds.
pub fn parse_expr(sql: &str) -> Result<Expr, String> {
    let rewritten = rewrite_now(sql);
    polars::sql::sql_expr(&rewritten).map_err(|e| clean_polars_error(&e.to_string()))
}

/// Adds the derived columns `derive` (name, SQL) to `lf`, in order (each may use the
/// previous ones); `now()` is `now`. The one evaluator of derives, for bronze batches and
/// silver jobs alike.
pub fn with_derived(
    lf: polars::prelude::LazyFrame,
    derive: &[(String, String)],
    now: chrono::DateTime<chrono::Utc>,
) -> polars::prelude::PolarsResult<polars::prelude::LazyFrame> {
    use polars::prelude::*;
    let mut lf = lf;
    let uses_now = derive.iter().any(|(_, e)| uses_now(e));
    if uses_now {
        lf = lf.with_column(
            lit(now.timestamp_micros())
                .cast(DataType::Datetime(TimeUnit::Microseconds, None))
                .alias(NOW_COLUMN),
        );
    }
    for (name, sql) in derive {
        let e = parse_expr(sql).map_err(|m| polars_err!(ComputeError: "derive `{name}`: {m}"))?;
        lf = lf.with_column(e.alias(name.as_str()));
    }
    if uses_now {
        lf = lf.drop(by_name([NOW_COLUMN], true, false));
    }
    Ok(lf)
}

/// True when the expression calls `now()`.
pub fn uses_now(sql: &str) -> bool {
    rewrite_now(sql) != sql
}

/// Replaces `now()` (any case, outside string literals) with the [`NOW_COLUMN`] column.
fn rewrite_now(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let bytes = sql.as_bytes();
    let mut i = 0;
    let mut in_str = false;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\'' {
            in_str = !in_str;
        }
        if !in_str
            && sql[i..].len() >= 5
            && sql[i..i + 3].eq_ignore_ascii_case("now")
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'))
        {
            let rest = sql[i + 3..].trim_start();
            if let Some(after) = rest.strip_prefix('(').map(str::trim_start) {
                if let Some(after) = after.strip_prefix(')') {
                    out.push_str(NOW_COLUMN);
                    i = sql.len() - after.len();
                    continue;
                }
            }
        }
        let ch = sql[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Polars errors carry a backtrace hint and a type prefix; users want the sentence.
pub fn clean_polars_error(msg: &str) -> String {
    let first = msg
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(msg)
        .trim();
    first
        .trim_start_matches("sql parser error: ")
        .trim_start_matches("SQL syntax error: ")
        .trim_start_matches("SQL interface error: ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_now_outside_strings() {
        assert_eq!(rewrite_now("now()"), NOW_COLUMN);
        assert_eq!(rewrite_now("NOW( )"), NOW_COLUMN);
        assert_eq!(rewrite_now("'now()'"), "'now()'");
        assert_eq!(rewrite_now("snow()"), "snow()");
        assert!(uses_now("date(now())"));
    }

    #[test]
    fn parses_and_rejects() {
        assert!(parse_expr("strftime(timestamp, '%Y-%m-%d')").is_ok());
        assert!(parse_expr("montant >").is_err());
    }
}
