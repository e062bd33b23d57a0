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
        let e = match day_format(sql) {
            Some(e) => e,
            None => {
                parse_expr(sql).map_err(|m| polars_err!(ComputeError: "derive `{name}`: {m}"))?
            }
        };
        lf = lf.with_column(e.alias(name.as_str()));
    }
    if uses_now {
        lf = lf.drop(by_name([NOW_COLUMN], true, false));
    }
    Ok(lf)
}

/// `strftime(column, 'format')` with a format of whole days only (`%Y`, `%m`, `%d` and
/// literal text, e.g. the seeds' `jour`), computed from the timestamp's day number and
/// formatting each distinct day once: the same strings as Polars' per-row `strftime`, which
/// cost ~4 % of bronze's CPU on a batch that holds a handful of days. None for anything else.
fn day_format(sql: &str) -> Option<Expr> {
    use polars::prelude::*;
    let s = sql.trim();
    let args = s
        .get(..9)
        .filter(|p| p.eq_ignore_ascii_case("strftime("))
        .and(s.get(9..))?
        .strip_suffix(')')?;
    let (column, format) = args.split_once(',')?;
    let column = column.trim();
    let format = format.trim().strip_prefix('\'')?.strip_suffix('\'')?;
    let ident = |c: &str| {
        c.chars()
            .next()
            .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
            && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
    };
    let mut spec = format.split('%').skip(1);
    let date_only = spec.all(|part| matches!(part.chars().next(), Some('Y' | 'm' | 'd')));
    if !ident(column) || !date_only || format.contains('\'') || format.is_empty() {
        return None;
    }
    let format = format.to_string();
    Some(col(column).dt().date().map(
        move |c: Column| {
            let days = c.as_materialized_series().date()?.physical().clone();
            let mut cache: Vec<(i32, String)> = Vec::new();
            let mut out = StringChunkedBuilder::new(c.name().clone(), days.len());
            for d in days.iter() {
                let Some(d) = d else {
                    out.append_null();
                    continue;
                };
                let i = match cache.iter().position(|(k, _)| *k == d) {
                    Some(i) => i,
                    None => {
                        let date = chrono::NaiveDate::from_num_days_from_ce_opt(d + 719_163)
                            .ok_or_else(|| polars_err!(ComputeError: "day {d} out of range"))?;
                        cache.push((d, date.format(&format).to_string()));
                        cache.len() - 1
                    }
                };
                out.append_value(&cache[i].1);
            }
            Ok(out.finish().into_column())
        },
        |_, f| Ok(Field::new(f.name().clone(), DataType::String)),
    ))
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
    fn day_formats_match_polars_strftime() {
        use polars::prelude::*;
        let us: Vec<Option<i64>> = vec![
            Some(1_733_011_200_000_000), // 2024-12-01T00:00:00Z
            Some(1_733_097_599_999_999),
            None,
            Some(0),
            Some(-86_400_000_001),
            Some(1_733_011_200_000_000),
        ];
        let ts = Series::new("ts".into(), us)
            .cast(&DataType::Datetime(
                TimeUnit::Microseconds,
                Some(TimeZone::UTC),
            ))
            .unwrap();
        let df = DataFrame::new_infer_height(vec![ts.into_column()]).unwrap();
        for fmt in ["%Y-%m-%d", "%d/%m/%Y", "jour %Y%m%d"] {
            let sql = format!("strftime(ts, '{fmt}')");
            let fast = day_format(&sql).expect("fast path");
            let slow = parse_expr(&sql).unwrap();
            let got = df
                .clone()
                .lazy()
                .select([fast.alias("a"), slow.alias("b")])
                .collect()
                .unwrap();
            assert_eq!(
                got.column("a").unwrap(),
                &got.column("b").unwrap().clone().with_name("a".into()),
                "{fmt}"
            );
        }
        for other in [
            "strftime(ts, '%Y-%m-%d %H')",
            "strftime(ts, '%H:%M')",
            "strftime(upper(x), '%Y')",
            "strftime(ts, '')",
            "date(ts)",
            "strftime(",
            "é",
        ] {
            assert!(day_format(other).is_none(), "{other}");
        }
    }

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
