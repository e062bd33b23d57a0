//! `lakectl optimize`: compacts each partition's small files into files near a target size,
//! in ONE commit that changes no data (`dataChange = false` on every add and remove), so
//! streaming readers skip it. Safe beside a running bronze writer: appends never conflict with
//! it; if a concurrent commit removed a file it compacts (another compaction, a job's
//! replace), the commit is refused ([`super::commit`]) and the whole pass is planned again on
//! the new snapshot.

use crate::storage::Location;
use std::collections::BTreeMap;

use polars::prelude::*;
use serde::Serialize;
use tracing::{info, warn};

use super::bridge::to_record_batches;
use super::commit::Kind;
use super::read::{scan_files, DataFile};
use super::table::{Draft, Table};
use super::LakeError;
use crate::spec::expr::parse_expr;

/// What to compact.
#[derive(Debug, Clone)]
pub struct OptimizeOptions {
    /// Files at or above this size are left alone; bins are filled up to it.
    pub target_size: u64,
    /// A SQL predicate over partition columns: only matching partitions are compacted.
    pub filter: Option<String>,
    /// Attempts when a concurrent commit removed a file being compacted.
    pub max_attempts: usize,
}

impl Default for OptimizeOptions {
    fn default() -> Self {
        Self {
            target_size: 128 << 20,
            filter: None,
            max_attempts: 5,
        }
    }
}

/// What a pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OptimizeReport {
    /// The commit's version (None: nothing to compact).
    pub version: Option<u64>,
    /// Partitions considered (after the filter).
    pub partitions: usize,
    /// Partitions that were compacted.
    pub partitions_compacted: usize,
    /// Files removed.
    pub files_removed: usize,
    /// Files added.
    pub files_added: usize,
    /// Bytes removed.
    pub bytes_removed: i64,
    /// Bytes added.
    pub bytes_added: i64,
    /// Active files after the pass.
    pub files_after: usize,
    /// Attempts made (more than 1 after conflicts).
    pub attempts: usize,
}

type PartitionKey = BTreeMap<String, Option<String>>;

/// Groups `files` into bins of at most `target` bytes; only bins of 2+ files are worth
/// rewriting. Small files first, so the most files are merged.
pub fn plan_bins(files: &[DataFile], target: u64) -> Vec<Vec<DataFile>> {
    let mut small: Vec<&DataFile> = files
        .iter()
        .filter(|f| (f.size.max(0) as u64) < target)
        .collect();
    small.sort_by_key(|f| (f.size, f.rel.clone()));
    let mut bins: Vec<Vec<DataFile>> = Vec::new();
    let mut current: Vec<DataFile> = Vec::new();
    let mut size = 0u64;
    for f in small {
        let s = f.size.max(0) as u64;
        if !current.is_empty() && size + s > target {
            bins.push(std::mem::take(&mut current));
            size = 0;
        }
        current.push(f.clone());
        size += s;
    }
    bins.push(current);
    bins.retain(|b| b.len() >= 2);
    bins
}

/// The partitions of `files` that satisfy `filter` (a SQL predicate over partition columns).
fn select_partitions(
    table_path: &Location,
    files: &[DataFile],
    partition_by: &[String],
    filter: Option<&str>,
) -> Result<Vec<PartitionKey>, LakeError> {
    let mut keys: Vec<PartitionKey> = files.iter().map(|f| f.partition.clone()).collect();
    keys.sort();
    keys.dedup();
    let Some(filter) = filter else {
        return Ok(keys);
    };
    let bad = |message: String| LakeError::Convert {
        table: table_path.to_string(),
        message,
    };
    if partition_by.is_empty() {
        return Err(bad(
            "--where needs a partitioned table; this one has no partition columns".into(),
        ));
    }
    let expr = parse_expr(filter).map_err(|e| bad(format!("--where `{filter}`: {e}")))?;
    let columns: Vec<Column> = partition_by
        .iter()
        .map(|c| {
            let values: Vec<Option<String>> =
                keys.iter().map(|k| k.get(c).cloned().flatten()).collect();
            Column::new(c.as_str().into(), values)
        })
        .collect();
    let df = DataFrame::new_infer_height(columns)
        .and_then(|df| df.lazy().select([expr.alias("keep")]).collect())
        .map_err(|e| {
            bad(format!(
                "--where `{filter}` may only use the partition columns ({}): {e}",
                partition_by.join(", ")
            ))
        })?;
    let keep = df
        .column("keep")
        .and_then(|c| c.bool().cloned())
        .map_err(|e| bad(format!("--where `{filter}` is not a condition: {e}")))?;
    Ok(keys
        .into_iter()
        .zip(keep.iter())
        .filter_map(|(k, keep)| keep.unwrap_or(false).then_some(k))
        .collect())
}

/// Compacts the table at `path`. Returns what was done.
pub async fn optimize(
    path: &Location,
    opts: &OptimizeOptions,
) -> Result<OptimizeReport, LakeError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match optimize_once(path, opts).await {
            Ok(mut r) => {
                r.attempts = attempt;
                return Ok(r);
            }
            Err(e @ LakeError::Conflict { .. }) if attempt < opts.max_attempts => {
                warn!(table = %path, attempt, error = %e, "optimize conflicted with a concurrent commit; retrying on the new snapshot");
            }
            Err(e) => return Err(e),
        }
    }
}

async fn optimize_once(
    path: &Location,
    opts: &OptimizeOptions,
) -> Result<OptimizeReport, LakeError> {
    let mut t = Table::open_existing(path).await?;
    let schema = t.schema()?;
    let files = t.files()?;
    let keys = select_partitions(path, &files, &schema.partition_by, opts.filter.as_deref())?;
    let mut report = OptimizeReport {
        partitions: keys.len(),
        ..Default::default()
    };
    let mut by_partition: BTreeMap<PartitionKey, Vec<DataFile>> = BTreeMap::new();
    for f in files.iter() {
        by_partition
            .entry(f.partition.clone())
            .or_default()
            .push(f.clone());
    }
    let arrow_schema = schema.arrow();
    let mut draft = Draft::default();
    let mut removed = std::collections::BTreeSet::new();
    for key in &keys {
        let bins = plan_bins(
            by_partition.get(key).map_or(&[][..], |v| v),
            opts.target_size,
        );
        if bins.is_empty() {
            continue;
        }
        report.partitions_compacted += 1;
        for bin in bins {
            let mut df = tokio::task::block_in_place(|| {
                scan_files(&t, bin.clone())?
                    .collect()
                    .map_err(|e| LakeError::Polars {
                        table: path.to_string(),
                        source: Box::new(e),
                    })
            })?;
            let batches = to_record_batches(&mut df, &arrow_schema).map_err(|message| {
                LakeError::Convert {
                    table: path.to_string(),
                    message,
                }
            })?;
            t.write(&mut draft, batches).await?;
            for f in &bin {
                report.files_removed += 1;
                report.bytes_removed += f.size;
                removed.insert(f.rel.clone());
            }
        }
    }
    if removed.is_empty() {
        report.files_after = files.len();
        return Ok(report);
    }
    report.files_added = draft.files_written();
    report.bytes_added = draft.bytes_written();
    t.remove(&mut draft, &removed)?;
    let kind = Kind::Compact {
        predicate: opts.filter.clone(),
        target_size: opts.target_size,
    };
    // Not committed: the compacted copies are deleted by `commit`.
    let version = t
        .commit(kind, draft, Vec::new(), Default::default())
        .await?;
    report.version = Some(version);
    report.files_after = t.files()?.len();
    info!(
        table = %path,
        version,
        removed = report.files_removed,
        added = report.files_added,
        "optimized"
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, size: i64) -> DataFile {
        DataFile {
            path: name.into(),
            rel: name.into(),
            partition: BTreeMap::new(),
            rows: None,
            size,
        }
    }

    #[test]
    fn bins_fill_up_to_the_target_and_skip_big_and_lonely_files() {
        let files = [
            file("a", 10),
            file("b", 20),
            file("c", 30),
            file("d", 45),
            file("big", 100),
        ];
        let bins = plan_bins(&files, 60);
        let names: Vec<Vec<&str>> = bins
            .iter()
            .map(|b| b.iter().map(|f| f.rel.as_str()).collect())
            .collect();
        // a+b+c = 60 fits; d alone is not worth rewriting; big is already big enough.
        assert_eq!(names, vec![vec!["a", "b", "c"]]);
        assert!(plan_bins(&[file("x", 5)], 60).is_empty());
    }
}
