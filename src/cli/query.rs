//! `lakectl query "SQL"`

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};

use crate::query::output::{write, Format};

/// Arguments of `query`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The SQL query. Tables by name (`ventes`, `ventes_quarantine`, job names) or by path:
    /// delta.`lake/bronze/ventes_stream`.
    pub sql: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write to this file instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Read the tables as of this Delta version (time travel).
    #[arg(long)]
    pub version: Option<u64>,
}

/// Runs the query and prints the result.
pub async fn run(g: &super::Globals, args: &Args) -> anyhow::Result<()> {
    let spec = super::load_spec(g)?;
    let checked = crate::silver::load_and_check(&spec)?;
    if args.format == Format::Parquet && args.output.is_none() {
        bail!("--format parquet needs --output FILE");
    }
    // Table display defaults, unless the user set Polars' own variables.
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
    let mut df = crate::query::execute(&spec, &checked.catalog, &args.sql, args.version).await?;
    match &args.output {
        Some(p) => {
            let mut f = std::fs::File::create(p)
                .with_context(|| format!("cannot create {}", p.display()))?;
            write(&mut df, args.format, &mut f).map_err(anyhow::Error::msg)?;
            f.flush()?;
            eprintln!("{} rows written to {}", df.height(), p.display());
        }
        None => {
            let stdout = std::io::stdout();
            write(&mut df, args.format, &mut stdout.lock()).map_err(anyhow::Error::msg)?;
        }
    }
    Ok(())
}
