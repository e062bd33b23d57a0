//! The delta-rs level under [`super::table::Table`]: opening and creating a delta-rs table
//! (with the schema evolution lakectl applies by itself), writing and deleting data files,
//! the actions a commit is made of, and the reads of its snapshot (schema, txns, history).

use std::collections::BTreeSet;

use deltalake::arrow::array::RecordBatch;
use deltalake::kernel::Action;
use deltalake::operations::create::CreateBuilder;
use deltalake::protocol::SaveMode;
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use deltalake::DeltaTableBuilder;
use futures::TryStreamExt;
use serde_json::Value;

use deltalake::DeltaTable;

use super::commit::{commit, Change, Kind};
use super::schema::{Column, TableSchema};
use super::LakeError;
use crate::storage::{Location, StorageOptions};

/// The location of an open table (its URL and the options it was opened with).
pub(super) fn location_of(table: &DeltaTable) -> Location {
    Location::from_url(table.table_url(), &storage_options_of(table))
}

/// The storage options `table` was opened with (what writers built beside it need).
fn storage_options_of(table: &DeltaTable) -> StorageOptions {
    let raw: std::collections::BTreeMap<String, String> = table
        .log_store()
        .config()
        .options()
        .raw
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    StorageOptions::from_map(raw)
}

pub(crate) fn delta_err(
    table: &(impl std::fmt::Display + ?Sized),
    what: &str,
) -> impl Fn(deltalake::DeltaTableError) -> LakeError {
    let table = table.to_string();
    let what = what.to_string();
    move |e| LakeError::delta(&table, &what, e)
}

/// How a table is named in messages: its folder, or its URL.
pub(super) fn name_of(table: &DeltaTable) -> String {
    crate::storage::shown(table.table_url())
}

fn builder(loc: &Location) -> Result<DeltaTableBuilder, LakeError> {
    crate::storage::register_handlers();
    Ok(DeltaTableBuilder::from_url(loc.url().clone())
        .map_err(delta_err(loc, "opening"))?
        .with_storage_options(loc.options().map()))
}

/// True if `loc` holds a Delta table.
pub async fn exists(loc: &Location) -> Result<bool, LakeError> {
    let table = builder(loc)?
        .build()
        .map_err(delta_err(loc, "reaching the store"))?;
    holds_table(loc, &table).await
}

/// True if the (unloaded) `table` at `loc` has a Delta log: a folder check for a local
/// table, a listing of `_delta_log/` on an object store.
async fn holds_table(loc: &Location, table: &DeltaTable) -> Result<bool, LakeError> {
    if let Some(p) = loc.local_path() {
        return Ok(p.join("_delta_log").is_dir());
    }
    table
        .log_store()
        .is_delta_table_location()
        .await
        .map_err(delta_err(loc, "reaching the store"))
}

/// Opens the table at `loc` at its latest version, or None if there is none. The store is
/// built once, for the check and the load.
pub(super) async fn open(loc: &Location) -> Result<Option<DeltaTable>, LakeError> {
    let mut table = builder(loc)?.build().map_err(delta_err(loc, "opening"))?;
    if !holds_table(loc, &table).await? {
        return Ok(None);
    }
    table.load().await.map_err(delta_err(loc, "opening"))?;
    Ok(Some(table))
}

/// Opens the table at `loc`, or [`LakeError::NotFound`] naming what creates it.
pub(super) async fn open_existing(loc: &Location) -> Result<DeltaTable, LakeError> {
    open(loc).await?.ok_or_else(|| LakeError::NotFound {
        table: loc.to_string(),
        hint: "run the pipeline or job that writes it first".into(),
    })
}

/// Opens the table at `loc` at `version` (time travel).
pub(super) async fn open_version(loc: &Location, version: u64) -> Result<DeltaTable, LakeError> {
    let latest = open_existing(loc).await?.version().unwrap_or(0);
    if version > latest {
        return Err(LakeError::NoSuchVersion {
            table: loc.to_string(),
            version,
            latest,
        });
    }
    open_at(loc, version).await
}

/// Loads the table at `loc` at `version`, known to exist.
pub(super) async fn open_at(loc: &Location, version: u64) -> Result<DeltaTable, LakeError> {
    builder(loc)?
        .with_version(version)
        .load()
        .await
        .map_err(delta_err(loc, &format!("opening version {version}")))
}

/// The schema of an open table.
pub(super) fn schema_of(table: &DeltaTable) -> Result<TableSchema, LakeError> {
    let path = name_of(table);
    let snap = table
        .snapshot()
        .map_err(delta_err(&path, "reading the schema"))?;
    let schema = snap.schema();
    let columns = schema
        .fields()
        .map(|f| Column {
            name: f.name().to_string(),
            ty: f.data_type().clone(),
        })
        .collect();
    let partition_by = snap.metadata().partition_columns().to_vec();
    Ok(TableSchema {
        columns,
        partition_by,
    })
}

/// Opens the table at `path`, creating it with `schema` if missing (an existing table whose
/// schema differs evolves, or is an error listing the differences), giving a new table the Delta properties `config`
/// (e.g. `delta.logRetentionDuration`), and an existing one too when its values differ.
pub(super) async fn open_or_create_with(
    path: &Location,
    schema: &TableSchema,
    name: &str,
    config: &[(&str, &str)],
) -> Result<DeltaTable, LakeError> {
    let mut table = open_or_create_inner(path, schema, name, config).await?;
    set_properties(&mut table, config).await?;
    Ok(table)
}

/// Sets Delta table properties whose values differ, in one metadata commit.
async fn set_properties(table: &mut DeltaTable, config: &[(&str, &str)]) -> Result<(), LakeError> {
    use deltalake::kernel::MetadataExt;
    let path = name_of(table);
    let snap = table
        .snapshot()
        .map_err(delta_err(&path, "reading metadata"))?;
    let current = snap.metadata().configuration();
    let changed: Vec<(&str, &str)> = config
        .iter()
        .filter(|(k, v)| current.get(*k).map(String::as_str) != Some(*v))
        .copied()
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    let mut md = snap.metadata().clone();
    for (k, v) in &changed {
        md = md
            .add_config_key(k.to_string(), v.to_string())
            .map_err(|e| delta_err(&path, "setting table properties")(e.into()))?;
    }
    let properties = changed
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let change = Change::new(Kind::SetProperties(properties), vec![Action::Metadata(md)]);
    commit(table, change).await?;
    Ok(())
}

async fn open_or_create_inner(
    path: &Location,
    schema: &TableSchema,
    name: &str,
    config: &[(&str, &str)],
) -> Result<DeltaTable, LakeError> {
    let table = match open(path).await? {
        Some(t) => t,
        None => {
            if let Some(dir) = path.local_path() {
                std::fs::create_dir_all(&dir)
                    .map_err(|e| LakeError::store(path, "creating its folder", &e))?;
            }
            crate::storage::register_handlers();
            let created = CreateBuilder::new()
                .with_location(path.url().as_str())
                .with_storage_options(path.options().map())
                .with_table_name(name)
                .with_columns(schema.fields())
                .with_partition_columns(schema.partition_by.clone())
                .with_configuration(config.iter().map(|(k, v)| (*k, Some(*v))))
                // Another writer may create it at the same moment: keep theirs.
                .with_save_mode(SaveMode::Ignore)
                .await;
            // Losing that race surfaces as a commit conflict on version 0 (delta-rs 1.1):
            // the table exists now, which is all that was asked.
            if let Err(e) = created {
                if !exists(path).await? {
                    return Err(delta_err(path, "creating")(e));
                }
                tracing::debug!(table = %path, error = %e, "created concurrently by another writer");
            }
            open(path).await?.ok_or_else(|| LakeError::NotFound {
                table: path.to_string(),
                hint: "it was just created; is the location writable?".into(),
            })?
        }
    };
    let mut table = table;
    let actual = schema_of(&table)?;
    if let Some(diff) = schema.diff(&actual) {
        let Some(evolution) = schema.evolution(&actual) else {
            return Err(LakeError::SchemaMismatch {
                table: path.to_string(),
                diff,
                hint: EVOLUTION_HINT.into(),
            });
        };
        if evolution.widened.is_empty() {
            add_columns(&mut table, schema, &evolution.added).await?;
        } else {
            super::widen::widen_columns(&mut table, schema, &evolution).await?;
        }
    }
    Ok(table)
}

/// What a user can do about a schema change lakectl does not apply by itself.
pub const EVOLUTION_HINT: &str = "only new columns and safe widenings (integer → long, float → double) are applied by themselves; restore the spec, or move the table away to start a new one";

/// The metadata action that gives `table` the schema `schema` and keeps everything else (its
/// id, partitioning, configuration): for new nullable columns, or widened ones whose files
/// are rewritten in the same commit.
pub(super) fn evolve_schema_action(
    table: &DeltaTable,
    schema: &TableSchema,
) -> Result<Action, LakeError> {
    use deltalake::kernel::MetadataExt;
    let path = name_of(table);
    let st = deltalake::kernel::StructType::try_new(schema.fields())
        .map_err(|e| delta_err(&path, "building the new schema")(e.into()))?;
    let md = table
        .snapshot()
        .map_err(delta_err(&path, "reading metadata"))?
        .metadata()
        .clone()
        .with_schema(&st)
        .map_err(|e| delta_err(&path, "building the new metadata")(e.into()))?;
    Ok(Action::Metadata(md))
}

/// Evolves `table` to `schema` by one metadata-only commit (ADD COLUMN): the table keeps its
/// id, partitioning, configuration and files; rows written before read the new columns as
/// null. Another writer doing the same at once is harmless: the loser reloads and finds the
/// columns there.
async fn add_columns(
    table: &mut DeltaTable,
    schema: &TableSchema,
    added: &[Column],
) -> Result<(), LakeError> {
    let path = name_of(table);
    let md = evolve_schema_action(table, schema)?;
    let fields: Vec<_> = added
        .iter()
        .map(|c| deltalake::kernel::StructField::nullable(c.name.clone(), c.ty.clone()))
        .collect();
    let names: Vec<&str> = added.iter().map(|c| c.name.as_str()).collect();
    match commit(table, Change::new(Kind::AddColumns(fields), vec![md])).await {
        Ok(v) => {
            tracing::info!(table = %path, version = v, columns = ?names, "schema evolved: new columns added (older rows read them as null)");
            Ok(())
        }
        Err(e) => {
            table
                .update_incremental(None)
                .await
                .map_err(delta_err(&path, "reloading"))?;
            if schema.diff(&schema_of(table)?).is_none() {
                Ok(())
            } else {
                Err(e)
            }
        }
    }
}

/// The version last recorded for `app_id` by a `txn` action, if any.
pub(super) async fn txn_version(
    table: &DeltaTable,
    app_id: &str,
) -> Result<Option<i64>, LakeError> {
    let path = name_of(table);
    let snap = table
        .snapshot()
        .map_err(delta_err(&path, "reading transactions"))?;
    snap.transaction_version(table.log_store().as_ref(), app_id)
        .await
        .map_err(delta_err(&path, "reading transactions"))
}

/// The `commitInfo` entries `key` of the last `limit` commits that have one, newest first.
pub(super) async fn commit_values(
    table: &DeltaTable,
    key: &str,
    limit: usize,
) -> Result<Vec<Value>, LakeError> {
    let path = name_of(table);
    let infos: Vec<_> = table
        .history(Some(limit))
        .try_collect()
        .await
        .map_err(delta_err(&path, "reading history"))?;
    Ok(infos
        .into_iter()
        .filter_map(|mut ci| ci.info.remove(key))
        .collect())
}

/// Writes `batches` as Parquet files (one per partition value) and returns their add
/// actions, not yet committed.
pub(super) async fn write_files(
    table: &DeltaTable,
    batches: Vec<RecordBatch>,
) -> Result<Vec<Action>, LakeError> {
    let path = name_of(table);
    if !batches.iter().any(|b| b.num_rows() > 0) {
        return Ok(Vec::new());
    }
    let writer =
        RecordBatchWriter::for_table(table).map_err(delta_err(&path, "preparing the writer"))?;
    write_with(writer, batches, &path).await
}

/// Writes `batches` as Parquet files for `schema` (rather than the table's current schema).
pub(super) async fn write_files_as(
    table: &DeltaTable,
    batches: Vec<RecordBatch>,
    schema: &TableSchema,
) -> Result<Vec<Action>, LakeError> {
    let path = name_of(table);
    if !batches.iter().any(|b| b.num_rows() > 0) {
        return Ok(Vec::new());
    }
    let writer = RecordBatchWriter::try_new(
        table.table_url().as_str(),
        schema.arrow(),
        Some(schema.partition_by.clone()),
        Some(storage_options_of(table).map()),
    )
    .map_err(delta_err(&path, "preparing the writer"))?;
    write_with(writer, batches, &path).await
}

async fn write_with(
    mut writer: RecordBatchWriter,
    batches: Vec<RecordBatch>,
    path: &str,
) -> Result<Vec<Action>, LakeError> {
    for b in batches {
        if b.num_rows() > 0 {
            writer
                .write(b)
                .await
                .map_err(delta_err(path, "writing parquet"))?;
        }
    }
    let adds = writer
        .flush()
        .await
        .map_err(delta_err(path, "writing parquet"))?;
    Ok(adds.into_iter().map(Action::Add).collect())
}

/// Deletes the files of `adds` (add actions written but never committed), best effort: a
/// failed run leaves nothing behind that a reader could mistake for data (readers ignore
/// uncommitted files anyway; `vacuum` would delete any left).
pub(super) async fn discard_files(table: &DeltaTable, adds: &[Action]) {
    let store = table.object_store();
    for a in adds {
        if let Action::Add(add) = a {
            let path = super::read::object_path(&add.path);
            if let Err(e) =
                deltalake::logstore::object_store::ObjectStoreExt::delete(&store, &path).await
            {
                tracing::debug!(file = %add.path, error = %e, "could not delete an uncommitted file");
            }
        }
    }
}

/// Remove actions (dataChange = true) for the active files whose object name (relative to the
/// table, as [`super::read::DataFile::rel`]) is in `paths`.
pub(super) fn remove_actions(
    table: &DeltaTable,
    paths: &BTreeSet<String>,
) -> Result<Vec<Action>, LakeError> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let path = name_of(table);
    let snap = table
        .snapshot()
        .map_err(delta_err(&path, "listing files"))?;
    Ok(snap
        .log_data()
        .iter()
        .filter(|f| paths.contains(f.path().as_ref()))
        .map(|f| Action::Remove(f.remove_action(true)))
        .collect())
}

/// A metadata action giving `table` a new schema and partitioning (its configuration kept):
/// committed together with the removal of every file and the new files, it rebuilds a table
/// whose definition changed, atomically.
pub(super) fn replace_schema_action(
    table: &DeltaTable,
    schema: &TableSchema,
) -> Result<Action, LakeError> {
    let path = name_of(table);
    let snap = table
        .snapshot()
        .map_err(delta_err(&path, "reading metadata"))?;
    let config = snap.metadata().configuration().clone();
    let st = deltalake::kernel::StructType::try_new(schema.fields())
        .map_err(|e| delta_err(&path, "building the new schema")(e.into()))?;
    let md = deltalake::kernel::new_metadata(&st, &schema.partition_by, config)
        .map_err(|e| delta_err(&path, "building the new metadata")(e.into()))?;
    Ok(Action::Metadata(md))
}
