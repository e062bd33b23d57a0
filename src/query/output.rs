//! Writing query results: a table for people, CSV, JSON lines or Parquet for programs.

use std::io::Write;

use polars::prelude::*;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned table.
    Table,
    /// CSV with a header.
    Csv,
    /// One JSON object per row.
    Json,
    /// A Parquet file (needs --output).
    Parquet,
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
    polars_core::fmt::set_float_fmt(polars_core::fmt::FloatFmt::Full);
}

/// Writes `df` in `format` to `w`.
pub fn write(df: &mut DataFrame, format: Format, w: &mut dyn Write) -> Result<(), String> {
    match format {
        Format::Table => writeln!(w, "{df}").map_err(|e| e.to_string()),
        Format::Csv => {
            let names: Vec<String> = df
                .get_column_names()
                .iter()
                .map(|n| csv_field(&AnyValue::String(n.as_str())))
                .collect();
            writeln!(w, "{}", names.join(",")).map_err(|e| e.to_string())?;
            for i in 0..df.height() {
                let row = df.get_row(i).map_err(|e| e.to_string())?;
                let fields: Vec<String> = row.0.iter().map(csv_field).collect();
                writeln!(w, "{}", fields.join(",")).map_err(|e| e.to_string())?;
            }
            Ok(())
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
