//! Writing query results: a table for people, CSV, JSON lines or Parquet for programs.
//! Results stream: CSV, JSON and Parquet are written batch by batch as the streaming engine
//! produces them, and a table keeps only the rows it shows, so memory stays bounded by a
//! batch (plus what the query itself holds: a sort, a group-by's groups) whatever the result's
//! size.

use std::io::Write;

use polars::prelude::*;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned table (at most `POLARS_FMT_MAX_ROWS` rows shown, 50 by default).
    Table,
    /// CSV with a header.
    Csv,
    /// One JSON object per row.
    Json,
    /// A Parquet file (needs --output).
    Parquet,
}

/// What [`stream`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Rows of the result.
    pub rows: usize,
    /// Rows written (fewer than `rows` for a table longer than the rows shown).
    pub shown: usize,
    /// Columns of the result.
    pub columns: usize,
    /// Columns shown (fewer for a table wider than the terminal).
    pub columns_shown: usize,
}

impl Written {
    /// The line a table is followed by: `(3 rows)`, `(1 row)`, `(1200 rows, 50 shown)`,
    /// `(3 rows, 14 columns, 8 shown)`.
    pub fn footer(&self) -> String {
        let mut s = format!(
            "({} {}",
            self.rows,
            if self.rows == 1 { "row" } else { "rows" }
        );
        if self.shown < self.rows {
            s.push_str(&format!(", {} shown", self.shown));
        }
        if self.columns_shown < self.columns {
            s.push_str(&format!(
                ", {} columns, {} shown",
                self.columns, self.columns_shown
            ));
        }
        s.push(')');
        if self.shown < self.rows {
            s.push_str("; all of them with --format csv --output FILE");
        }
        s
    }
}

fn csv_field(v: &AnyValue<'_>) -> String {
    let s = match v {
        AnyValue::Null => return String::new(),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        other => other.to_string(),
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Sets lakectl's table display defaults (rows, widths, no dtype row), unless the user set
/// Polars' own `POLARS_FMT_*` variables. Call once, before any thread reads them.
pub fn init_display() {
    for (k, v) in [
        ("POLARS_FMT_MAX_ROWS", "50"),
        ("POLARS_FMT_MAX_COLS", "20"),
        ("POLARS_FMT_STR_LEN", "40"),
        ("POLARS_FMT_TABLE_HIDE_DATAFRAME_SHAPE_INFORMATION", "1"),
        ("POLARS_FMT_TABLE_HIDE_COLUMN_DATA_TYPES", "1"),
        ("POLARS_FMT_TABLE_ROUNDED_CORNERS", "1"),
    ] {
        if std::env::var_os(k).is_none() {
            std::env::set_var(k, v);
        }
    }
    // The width tables are fitted to (columns left out, see `fit_width`), and Polars' own,
    // so that it does not wrap cells of what was fitted.
    if std::env::var_os("POLARS_TABLE_WIDTH").is_none() {
        std::env::set_var("POLARS_TABLE_WIDTH", table_width().to_string());
    }
    polars_core::fmt::set_float_fmt(polars_core::fmt::FloatFmt::Full);
}

/// The width tables are fitted to: the terminal's (or `COLUMNS`), 120 when stdout is not a
/// terminal.
pub fn table_width() -> usize {
    crate::term::stdout_width().unwrap_or(120)
}

/// The rows a table shows (`POLARS_FMT_MAX_ROWS`).
fn table_rows() -> usize {
    std::env::var("POLARS_FMT_MAX_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

fn csv_header(df: &DataFrame, w: &mut dyn Write) -> Result<(), String> {
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| csv_field(&AnyValue::String(n.as_str())))
        .collect();
    writeln!(w, "{}", names.join(",")).map_err(|e| e.to_string())
}

fn csv_rows(df: &DataFrame, w: &mut dyn Write) -> Result<(), String> {
    for i in 0..df.height() {
        let row = df.get_row(i).map_err(|e| e.to_string())?;
        let fields: Vec<String> = row.0.iter().map(csv_field).collect();
        writeln!(w, "{}", fields.join(",")).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Writes `df` in `format` to `w` (a whole frame already in memory).
pub fn write(df: &mut DataFrame, format: Format, w: &mut dyn Write) -> Result<(), String> {
    match format {
        Format::Table => writeln!(w, "{df}").map_err(|e| e.to_string()),
        Format::Csv => {
            csv_header(df, w)?;
            csv_rows(df, w)
        }
        Format::Json => JsonWriter::new(w)
            .with_json_format(JsonFormat::JsonLines)
            .finish(df)
            .map_err(|e| e.to_string()),
        Format::Parquet => ParquetWriter::new(w)
            .finish(df)
            .map(|_| ())
            .map_err(|e| e.to_string()),
    }
}

/// Runs `lf` on the streaming engine and writes its result in `format` to `w` as it comes
/// (see the module's notes on memory). A table is fitted to `width` columns of text, if given,
/// by leaving out middle columns (as DuckDB's client does).
pub fn stream(
    lf: LazyFrame,
    format: Format,
    w: &mut dyn Write,
    width: Option<usize>,
) -> Result<Written, String> {
    let schema = lf.clone().collect_schema().map_err(|e| e.to_string())?;
    let columns = schema.len();
    let batches = lf
        .collect_batches(Engine::Streaming, true, None, false)
        .map_err(|e| e.to_string())?;
    let mut rows = 0usize;
    let mut written = Written {
        rows: 0,
        shown: 0,
        columns,
        columns_shown: columns,
    };
    match format {
        Format::Table => {
            let limit = table_rows();
            let mut kept = DataFrame::empty_with_schema(&schema);
            for batch in batches {
                let batch = batch.map_err(|e| e.to_string())?;
                rows += batch.height();
                if kept.height() < limit {
                    let take = batch.head(Some(limit - kept.height()));
                    kept.vstack_mut_owned(take).map_err(|e| e.to_string())?;
                }
            }
            written.shown = kept.height();
            let fitted = match width {
                Some(width) => fit_width(&kept, width),
                None => kept,
            };
            written.columns_shown = fitted.width().min(columns);
            if written.columns_shown < columns {
                // The `…` column does not count.
                written.columns_shown -= 1;
            }
            writeln!(w, "{fitted}").map_err(|e| e.to_string())?;
        }
        Format::Csv => {
            csv_header(&DataFrame::empty_with_schema(&schema), w)?;
            for batch in batches {
                let batch = batch.map_err(|e| e.to_string())?;
                rows += batch.height();
                csv_rows(&batch, w)?;
            }
            written.shown = rows;
        }
        Format::Json => {
            for batch in batches {
                let mut batch = batch.map_err(|e| e.to_string())?;
                rows += batch.height();
                JsonWriter::new(&mut *w)
                    .with_json_format(JsonFormat::JsonLines)
                    .finish(&mut batch)
                    .map_err(|e| e.to_string())?;
            }
            written.shown = rows;
        }
        Format::Parquet => {
            let mut writer = ParquetWriter::new(&mut *w)
                .batched(&schema)
                .map_err(|e| e.to_string())?;
            for batch in batches {
                let batch = batch.map_err(|e| e.to_string())?;
                rows += batch.height();
                writer.write_batch(&batch).map_err(|e| e.to_string())?;
            }
            writer.finish().map_err(|e| e.to_string())?;
            written.shown = rows;
        }
    }
    written.rows = rows;
    Ok(written)
}

/// The printed width of each column of `df`: its name or its longest value (cut at
/// `POLARS_FMT_STR_LEN`, 40 by default), plus the separator.
fn column_widths(df: &DataFrame) -> Vec<usize> {
    let cap = std::env::var("POLARS_FMT_STR_LEN")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40usize);
    df.columns()
        .iter()
        .map(|c| {
            let values = (0..c.len())
                .filter_map(|i| c.get(i).ok())
                .map(|v| match v {
                    AnyValue::String(s) => s.chars().count(),
                    other => other.to_string().chars().count(),
                })
                .max()
                .unwrap_or(0);
            values.min(cap + 1).max(c.name().chars().count()) + 3
        })
        .collect()
}

/// `df` with middle columns left out, and a `…` column in their place, when its table would
/// be wider than `width`; as it came otherwise.
fn fit_width(df: &DataFrame, width: usize) -> DataFrame {
    let widths = column_widths(df);
    if widths.iter().sum::<usize>() < width || df.width() < 3 {
        return df.clone();
    }
    // Columns from both ends, left first, while they fit beside the `…` column.
    let budget = width.saturating_sub(1 + 4);
    let (mut left, mut right) = (0usize, 0usize);
    let mut used = 0;
    loop {
        let take_left = left <= right;
        let i = if take_left {
            left
        } else {
            df.width() - 1 - right
        };
        if left + right >= df.width() || used + widths[i] > budget {
            break;
        }
        used += widths[i];
        if take_left {
            left += 1;
        } else {
            right += 1;
        }
    }
    let left = left.max(1);
    let cols = df.columns();
    let mut kept: Vec<Column> = cols[..left].to_vec();
    kept.push(Column::new("…".into(), vec!["…"; df.height()]));
    kept.extend_from_slice(&cols[df.width() - right..]);
    DataFrame::new_infer_height(kept).unwrap_or_else(|_| df.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wide(columns: usize) -> DataFrame {
        let cols: Vec<Column> = (0..columns)
            .map(|i| Column::new(format!("column_{i:02}").into(), ["some value", "x"]))
            .collect();
        DataFrame::new_infer_height(cols).unwrap()
    }

    #[test]
    fn a_wide_table_keeps_both_ends_and_marks_the_gap() {
        let df = wide(20);
        let fitted = fit_width(&df, 80);
        let names: Vec<&str> = fitted
            .get_column_names()
            .iter()
            .map(|n| n.as_str())
            .collect();
        assert!(names.len() < 20, "{names:?}");
        assert_eq!(names[0], "column_00");
        assert_eq!(*names.last().unwrap(), "column_19");
        assert!(names.contains(&"…"), "{names:?}");
        let text = format!("{fitted}");
        assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
    }

    #[test]
    fn a_table_that_fits_is_left_alone() {
        let df = wide(3);
        assert_eq!(fit_width(&df, 200), df);
    }

    #[test]
    fn footers_say_what_was_left_out() {
        let w = Written {
            rows: 1,
            shown: 1,
            columns: 3,
            columns_shown: 3,
        };
        assert_eq!(w.footer(), "(1 row)");
        let w = Written {
            rows: 1200,
            shown: 50,
            columns: 14,
            columns_shown: 8,
        };
        assert_eq!(
            w.footer(),
            "(1200 rows, 50 shown, 14 columns, 8 shown); all of them with --format csv --output FILE"
        );
    }
}
