//! `lakectl query "SQL"`

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};

use crate::lake::catalog::Catalog;
use crate::query::output::{init_display, Format};
use crate::spec::pipeline::KafkaSpec;
use crate::spec::PipelineSpec;
use crate::storage::{Location, StorageOptions};

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

/// The spec of a query run where no `pipelines.yaml` is: the lake `--lake` names (its
/// tables found by listing it), else the working folder, for tables read by path. S3
/// credentials come from the `AWS_*` environment.
fn without_spec(g: &super::Globals) -> anyhow::Result<PipelineSpec> {
    let cwd = std::env::current_dir().context("cannot read the working folder")?;
    let lake = g.overrides.lake.as_deref().unwrap_or(".");
    let lake = Location::parse(lake, &cwd, StorageOptions::resolve(&Default::default()))
        .map_err(|e| anyhow::anyhow!("--lake (env LAKECTL_LAKE): {e}"))?;
    if g.overrides.lake.is_some() {
        crate::lake::require_lake(&lake)?;
    }
    Ok(PipelineSpec {
        file: cwd.join("pipelines.yaml"),
        kafka: KafkaSpec {
            brokers: g.overrides.brokers.clone().unwrap_or_default(),
            options: Default::default(),
        },
        lake,
        bronze: Vec::new(),
        jobs_dir: cwd.join("jobs"),
        scheduler: Default::default(),
    })
}

/// Runs the query and prints the result. Without a `pipelines.yaml` (here or above), it reads
/// the lake `--lake` names, or tables given by path.
pub async fn run(g: &super::Globals, args: &Args) -> anyhow::Result<()> {
    let (spec, catalog) = match super::load_checked(g) {
        Ok((spec, checked)) => (spec, checked.catalog),
        // No spec here or above: the lake --lake names, or tables by path only.
        Err(_) if !g.config.exists() => {
            let spec = without_spec(g)?;
            let catalog = match g.overrides.lake {
                Some(_) => Catalog::discover(&spec.lake).await?,
                None => Catalog::default(),
            };
            (spec, catalog)
        }
        Err(e) => return Err(e),
    };
    if args.sql.is_none() && (args.output.is_some() || args.format == Format::Parquet) {
        bail!("--output and --format parquet need a query argument (the prompt prints to the terminal)");
    }
    if args.format == Format::Parquet && args.output.is_none() {
        bail!("--format parquet needs --output FILE");
    }
    init_display();
    let Some(sql) = &args.sql else {
        let failures = crate::query::repl::run(&spec, &catalog, args.version, args.format)
            .await
            .context("the interactive prompt failed")?;
        if failures > 0 && !crate::term::stdin_is_tty() {
            bail!("{failures} statement(s) failed");
        }
        return Ok(());
    };
    match &args.output {
        Some(p) => {
            let f = std::fs::File::create(p)
                .with_context(|| format!("cannot create {}", p.display()))?;
            let mut f = std::io::BufWriter::new(f);
            let written =
                crate::query::run(&spec, &catalog, sql, args.version, args.format, &mut f).await?;
            f.flush()
                .with_context(|| format!("cannot write {}", p.display()))?;
            eprintln!("{} rows written to {}", written.rows, p.display());
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let written =
                crate::query::run(&spec, &catalog, sql, args.version, args.format, &mut out)
                    .await?;
            if args.format == Format::Table
                && (written.shown < written.rows || written.columns_shown < written.columns)
            {
                writeln!(out, "{}", written.footer())?;
            }
            out.flush()?;
        }
    }
    Ok(())
}
