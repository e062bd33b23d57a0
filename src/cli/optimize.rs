//! `lakectl optimize TABLE [--where "jour = '…'"] [--target-size 128MiB]`

use crate::lake::optimize::{optimize, OptimizeOptions};
use crate::spec::units::parse_size;

/// Arguments of `optimize`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The table: a name (`ventes`, a job), a path relative to the lake, or a table folder.
    pub table: String,
    /// Only compact the partitions matching this SQL condition on partition columns.
    #[arg(long = "where", value_name = "CONDITION")]
    pub filter: Option<String>,
    /// Target file size: small files are merged up to it (e.g. 128MiB, 1GiB).
    #[arg(long, default_value = "128MiB", value_parser = parse_size)]
    pub target_size: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Compacts the table's small files in one commit that changes no data.
pub async fn run(g: &super::Globals, args: &Args) -> anyhow::Result<()> {
    let path = super::table_of(g, &args.table).await?;
    let opts = OptimizeOptions {
        target_size: args.target_size,
        filter: args.filter.clone(),
        ..Default::default()
    };
    let r = optimize(&path, &opts).await?;
    if args.json {
        crate::outln!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    match r.version {
        None => crate::outln!(
            "{}: nothing to compact ({} partition(s) considered, {} files)",
            args.table, r.partitions, r.files_after
        ),
        Some(v) => crate::outln!(
            "{}: version {v}: {} files ({:.1} MiB) → {} files ({:.1} MiB) in {} of {} partition(s); {} active files now{}",
            args.table,
            r.files_removed,
            r.bytes_removed as f64 / (1 << 20) as f64,
            r.files_added,
            r.bytes_added as f64 / (1 << 20) as f64,
            r.partitions_compacted,
            r.partitions,
            r.files_after,
            if r.attempts > 1 {
                format!(" ({} attempts: concurrent commits)", r.attempts)
            } else {
                String::new()
            }
        ),
    }
    Ok(())
}
