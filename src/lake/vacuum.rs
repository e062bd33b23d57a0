//! `lakectl vacuum`: deletes the files no version newer than the retention still needs —
//! files removed from the table (by optimize, silver rewrites) and files no commit ever added
//! (left by a writer killed mid-batch) — once they are older than the retention.

use crate::storage::Location;

use deltalake::operations::vacuum::VacuumMode;
use serde::Serialize;

use super::LakeError;
use super::Table;

/// What a vacuum did (or would do, on a dry run).
#[derive(Debug, Clone, Serialize)]
pub struct VacuumReport {
    /// Nothing was deleted.
    pub dry_run: bool,
    /// Files deleted (or that would be), relative to the table.
    pub files: Vec<String>,
}

/// Vacuums the table at `path`, keeping everything younger than `retain`. A retention
/// shorter than the table's `delta.deletedFileRetentionDuration` (7 days by default) is
/// refused unless `allow_short` (readers of older versions would lose their files).
pub async fn vacuum(
    path: &Location,
    retain: std::time::Duration,
    dry_run: bool,
    allow_short: bool,
) -> Result<VacuumReport, LakeError> {
    let t = Table::open_existing(path).await?;
    let retain = chrono::Duration::from_std(retain).unwrap_or(chrono::Duration::MAX);
    let (_, metrics) = t
        .into_delta()
        .vacuum()
        .with_mode(VacuumMode::Full)
        .with_retention_period(retain)
        .with_enforce_retention_duration(!allow_short)
        .with_dry_run(dry_run)
        .await
        .map_err(|e| LakeError::delta(path, "vacuuming", e))?;
    let mut files = metrics.files_deleted;
    files.sort();
    Ok(VacuumReport { dry_run, files })
}
