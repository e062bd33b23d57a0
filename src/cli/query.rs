//! `lakectl query "SQL"`

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};

use crate::query::output::{init_display, write, Format};

/// Arguments of `query`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The SQL query. Tables by name (`ventes`, `ventes_quarantine`, job names) or by path:
    /// delta.`lake/bronze/ventes_stream`. Without it: an interactive prompt (`.help` lists its
    /// commands); piped input is run statement by statement and exits 1 if one failed.
    pub sql: Option<String>,
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
    let (spec, checked) = super::load_checked(g)?;
    if args.sql.is_none() && (args.output.is_some() || args.format == Format::Parquet) {
        bail!("--output and --format parquet need a query argument (the prompt prints to the terminal)");
    }
    if args.format == Format::Parquet && args.output.is_none() {
        bail!("--format parquet needs --output FILE");
    }
    init_display();
    let Some(sql) = &args.sql else {
        let failures = crate::query::repl::run(&spec, &checked.catalog, args.version, args.format)
            .await
            .context("the interactive prompt failed")?;
        if failures > 0 && !crate::term::stdin_is_tty() {
            bail!("{failures} statement(s) failed");
        }
        return Ok(());
    };
    let mut df = crate::query::execute(&spec, &checked.catalog, sql, args.version).await?;
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
