//! `lakectl vacuum TABLE [--retain 168h] [--dry-run]`

use std::time::Duration;

use crate::lake::vacuum::vacuum;
use crate::spec::units::parse_duration;

/// Arguments of `vacuum`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The table: a name (`ventes`, a job), a path relative to the lake, or a table folder.
    pub table: String,
    /// Keep files younger than this (time travel to versions within it keeps working).
    #[arg(long, default_value = "168h", value_parser = parse_duration)]
    pub retain: Duration,
    /// List what would be deleted; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Allow a retention shorter than the table's delta.deletedFileRetentionDuration (7 days
    /// by default): readers of older versions may lose their files.
    #[arg(long)]
    pub allow_short_retention: bool,
}

/// Deletes files no longer referenced and older than the retention.
pub async fn run(g: &super::Globals, args: &Args) -> anyhow::Result<()> {
    let path = super::table_of(g, &args.table).await?;
    let r = vacuum(&path, args.retain, args.dry_run, args.allow_short_retention).await?;
    for f in &r.files {
        crate::outln!("{f}");
    }
    eprintln!(
        "{}: {} {} file(s) not referenced and older than {}",
        args.table,
        if r.dry_run { "would delete" } else { "deleted" },
        r.files.len(),
        crate::spec::units::fmt_duration(args.retain)
    );
    Ok(())
}
