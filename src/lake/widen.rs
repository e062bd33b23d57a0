//! Safe type widenings (integer → long, float → double) of an existing table.
//!
//! Delta's `typeWidening` table feature makes a widening metadata-only, but delta-rs 1.1 can
//! neither write nor read a table that has it (its own tests use it as the example of an
//! unsupported reader feature), so Python `deltalake` and lakectl itself could no longer read
//! the table. Instead, lakectl rewrites the table's files with the wider type in ONE commit
//! that also changes the schema, `dataChange = false` on every add and remove (as optimize
//! does) so incremental readers see no new data. The table keeps its id, its history and its
//! `txn` versions (the Kafka offsets). The cost is a read and a write of the table, once.

use std::collections::{BTreeSet, HashMap};

use deltalake::kernel::Action;
use deltalake::DeltaTable;
use tracing::{info, warn};

use super::bridge::to_record_batches;
use super::commit::{commit, Change, Kind};
use super::delta::{self as table, delta_err, schema_of};
use super::read::{active_files, scan_delta_files};
use super::schema::{Evolution, TableSchema};
use super::LakeError;

/// Attempts when a concurrent commit lands while the files are rewritten.
const ATTEMPTS: usize = 5;

/// Gives `table` the schema `schema`, which widens some of its columns (and may add some):
/// every file is rewritten with the wider types and committed with the new schema at once.
/// Another writer committing meanwhile makes the pass start again on the new snapshot (its
/// files were written with the old types, so they are rewritten too); one that widened the
/// same way first leaves nothing to do.
pub async fn widen_columns(
    table: &mut DeltaTable,
    schema: &TableSchema,
    evolution: &Evolution,
) -> Result<(), LakeError> {
    let path = super::delta::name_of(table);
    for attempt in 1..=ATTEMPTS {
        if attempt > 1 {
            table
                .update_incremental(None)
                .await
                .map_err(delta_err(&path, "reloading"))?;
            if schema.diff(&schema_of(table)?).is_none() {
                return Ok(());
            }
        }
        let (actions, rels) = rewrite(table, schema).await?;
        let reason = format!(
            "{evolution}: {} file(s) rewritten with the wider types",
            rels.len()
        );
        let mut all = vec![table::evolve_schema_action(table, schema)?];
        all.extend(actions.iter().cloned());
        for a in table::remove_actions(table, &rels)? {
            if let Action::Remove(mut r) = a {
                r.data_change = false;
                all.push(Action::Remove(r));
            }
        }
        let metadata = HashMap::from([("lakectl.reason".to_string(), serde_json::json!(reason))]);
        // A concurrent append would slip past the rewrite: the one commit path refuses a
        // rewrite of the whole table after any other commit's files, and this starts again.
        match commit(
            table,
            Change::new(Kind::Rewrite, all).with_metadata(metadata),
        )
        .await
        {
            Ok(version) => {
                info!(table = %path, version, %evolution, files = rels.len(), "schema evolved: columns widened, files rewritten");
                return Ok(());
            }
            Err(e) => {
                table::discard_files(table, &actions).await;
                if attempt == ATTEMPTS || !matches!(e, LakeError::Conflict { .. }) {
                    return Err(e);
                }
                warn!(table = %path, attempt, error = %e, "widening conflicted with a concurrent commit; starting again on the new snapshot");
            }
        }
    }
    unreachable!("the last attempt returns")
}

/// Rewrites every active file of `table` with `schema`'s types, one output per input file
/// (memory stays bounded by the largest file). Returns the add actions (`dataChange =
/// false`, not committed) and the files they replace.
async fn rewrite(
    table: &DeltaTable,
    schema: &TableSchema,
) -> Result<(Vec<Action>, BTreeSet<String>), LakeError> {
    let path = super::delta::name_of(table);
    let target = schema.arrow();
    let files = active_files(table)?;
    let mut adds = Vec::new();
    for f in &files {
        let written = async {
            let mut df = tokio::task::block_in_place(|| {
                scan_delta_files(table, vec![f.clone()])?
                    .collect()
                    .map_err(|e| LakeError::Polars {
                        table: path.to_string(),
                        source: Box::new(e),
                    })
            })?;
            let batches =
                to_record_batches(&mut df, &target).map_err(|message| LakeError::Convert {
                    table: path.to_string(),
                    message: format!("{}: {message}", f.rel),
                })?;
            table::write_files_as(table, batches, schema).await
        }
        .await;
        match written {
            Ok(actions) => adds.extend(actions.into_iter().map(|a| match a {
                Action::Add(mut add) => {
                    add.data_change = false;
                    Action::Add(add)
                }
                other => other,
            })),
            Err(e) => {
                table::discard_files(table, &adds).await;
                return Err(e);
            }
        }
    }
    Ok((adds, files.into_iter().map(|f| f.rel).collect()))
}
