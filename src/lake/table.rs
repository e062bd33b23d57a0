//! Opening, creating and committing to Delta tables.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use deltalake::arrow::array::RecordBatch;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, Transaction};
use deltalake::operations::create::CreateBuilder;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use deltalake::DeltaTableBuilder;
use futures::TryStreamExt;
use serde_json::Value;

pub use deltalake::DeltaTable;

use super::schema::{Column, TableSchema};
use super::LakeError;

/// Handle on a table folder of the lake.
#[derive(Debug, Clone)]
pub struct Lake {
    root: PathBuf,
}

impl Lake {
    /// The lake at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Absolute folder of a table given relative to the lake.
    pub fn path(&self, rel: &str) -> PathBuf {
        let p = self.root.join(rel);
        std::path::absolute(&p).unwrap_or(p)
    }
}

fn delta_err(path: &Path, what: &str) -> impl Fn(deltalake::DeltaTableError) -> LakeError {
    let table = path.display().to_string();
    let what = what.to_string();
    move |source| LakeError::Delta {
        table: table.clone(),
        what: what.clone(),
        source: Box::new(source),
    }
}

fn table_url(path: &Path) -> Result<url::Url, LakeError> {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    url::Url::from_directory_path(&abs).map_err(|_| LakeError::Convert {
        table: path.display().to_string(),
        message: "not a valid table path".into(),
    })
}

/// True if `path` holds a Delta table.
pub fn exists(path: &Path) -> bool {
    path.join("_delta_log").is_dir()
}

/// Opens the table at `path` at its latest version, or None if there is none.
pub async fn open(path: &Path) -> Result<Option<DeltaTable>, LakeError> {
    if !exists(path) {
        return Ok(None);
    }
    let t = DeltaTableBuilder::from_url(table_url(path)?)
        .map_err(delta_err(path, "opening"))?
        .load()
        .await
        .map_err(delta_err(path, "opening"))?;
    Ok(Some(t))
}

/// Opens the table at `path`, or [`LakeError::NotFound`] naming what creates it.
pub async fn open_existing(path: &Path) -> Result<DeltaTable, LakeError> {
    open(path).await?.ok_or_else(|| LakeError::NotFound {
        table: path.display().to_string(),
        hint: "run the pipeline or job that writes it first".into(),
    })
}

/// Opens the table at `path` at `version` (time travel).
pub async fn open_version(path: &Path, version: u64) -> Result<DeltaTable, LakeError> {
    let latest = open_existing(path).await?.version().unwrap_or(0);
    if version > latest {
        return Err(LakeError::NoSuchVersion {
            table: path.display().to_string(),
            version,
            latest,
        });
    }
    DeltaTableBuilder::from_url(table_url(path)?)
        .map_err(delta_err(path, "opening"))?
        .with_version(version)
        .load()
        .await
        .map_err(delta_err(path, &format!("opening version {version}")))
}

/// The schema of an open table.
pub fn schema_of(table: &DeltaTable) -> Result<TableSchema, LakeError> {
    let path = table.table_url().to_string();
    let snap = table
        .snapshot()
        .map_err(delta_err(Path::new(&path), "reading the schema"))?;
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

/// Opens the table at `path`, creating it with `schema` if missing. An existing table whose
/// schema differs is an error listing the differences.
pub async fn open_or_create(
    path: &Path,
    schema: &TableSchema,
    name: &str,
) -> Result<DeltaTable, LakeError> {
    open_or_create_with(path, schema, name, &[]).await
}

/// [`open_or_create`], giving a new table the Delta properties `config`
/// (e.g. `delta.logRetentionDuration`).
pub async fn open_or_create_with(
    path: &Path,
    schema: &TableSchema,
    name: &str,
    config: &[(&str, &str)],
) -> Result<DeltaTable, LakeError> {
    let table = match open(path).await? {
        Some(t) => t,
        None => {
            std::fs::create_dir_all(path).map_err(|e| LakeError::Convert {
                table: path.display().to_string(),
                message: format!("cannot create the folder: {e}"),
            })?;
            let loc = table_url(path)?.to_string();
            CreateBuilder::new()
                .with_location(loc)
                .with_table_name(name)
                .with_columns(schema.fields())
                .with_partition_columns(schema.partition_by.clone())
                .with_configuration(config.iter().map(|(k, v)| (*k, Some(*v))))
                // Another worker may create it at the same moment: keep theirs.
                .with_save_mode(SaveMode::Ignore)
                .await
                .map_err(delta_err(path, "creating"))?;
            open(path).await?.ok_or_else(|| LakeError::NotFound {
                table: path.display().to_string(),
                hint: "it was just created; is the folder writable?".into(),
            })?
        }
    };
    let actual = schema_of(&table)?;
    if let Some(diff) = schema.diff(&actual) {
        return Err(LakeError::SchemaMismatch {
            table: path.display().to_string(),
            diff,
            hint: "restore the spec, or move the table away to start a new one".into(),
        });
    }
    Ok(table)
}

/// The version last recorded for `app_id` by a `txn` action, if any.
pub async fn txn_version(table: &DeltaTable, app_id: &str) -> Result<Option<i64>, LakeError> {
    let path = table.table_url().to_string();
    let snap = table
        .snapshot()
        .map_err(delta_err(Path::new(&path), "reading transactions"))?;
    snap.transaction_version(table.log_store().as_ref(), app_id)
        .await
        .map_err(delta_err(Path::new(&path), "reading transactions"))
}

/// The `commitInfo` entries `key` of the last `limit` commits that have one, newest first.
pub async fn commit_values(
    table: &DeltaTable,
    key: &str,
    limit: usize,
) -> Result<Vec<Value>, LakeError> {
    let path = table.table_url().to_string();
    let infos: Vec<_> = table
        .history(Some(limit))
        .try_collect()
        .await
        .map_err(delta_err(Path::new(&path), "reading history"))?;
    Ok(infos
        .into_iter()
        .filter_map(|mut ci| ci.info.remove(key))
        .collect())
}

/// Writes `batches` as Parquet files (one per partition value) and returns their add
/// actions, not yet committed.
pub async fn write_files(
    table: &DeltaTable,
    batches: Vec<RecordBatch>,
) -> Result<Vec<Action>, LakeError> {
    let path = PathBuf::from(table.table_url().path());
    if !batches.iter().any(|b| b.num_rows() > 0) {
        return Ok(Vec::new());
    }
    let writer =
        RecordBatchWriter::for_table(table).map_err(delta_err(&path, "preparing the writer"))?;
    write_with(writer, batches, &path).await
}

/// Writes `batches` as Parquet files for `schema` (rather than the table's current schema).
pub async fn write_files_as(
    table: &DeltaTable,
    batches: Vec<RecordBatch>,
    schema: &TableSchema,
) -> Result<Vec<Action>, LakeError> {
    let path = PathBuf::from(table.table_url().path());
    if !batches.iter().any(|b| b.num_rows() > 0) {
        return Ok(Vec::new());
    }
    let writer = RecordBatchWriter::try_new(
        table.table_url().as_str(),
        schema.arrow(),
        Some(schema.partition_by.clone()),
        None,
    )
    .map_err(delta_err(&path, "preparing the writer"))?;
    write_with(writer, batches, &path).await
}

async fn write_with(
    mut writer: RecordBatchWriter,
    batches: Vec<RecordBatch>,
    path: &Path,
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

/// The operation recorded for an append.
pub fn append_operation(table: &DeltaTable) -> Result<DeltaOperation, LakeError> {
    let partition_by = schema_of(table)?.partition_by;
    Ok(DeltaOperation::Write {
        mode: SaveMode::Append,
        partition_by: (!partition_by.is_empty()).then_some(partition_by),
        predicate: None,
    })
}

/// Writes `batches` and commits them in ONE Delta commit together with `txns` and
/// `metadata` (in commitInfo). Returns the new version.
pub async fn append(
    table: &mut DeltaTable,
    batches: Vec<RecordBatch>,
    txns: Vec<Transaction>,
    metadata: HashMap<String, Value>,
) -> Result<u64, LakeError> {
    let actions = write_files(table, batches).await?;
    let op = append_operation(table)?;
    commit(table, actions, txns, metadata, op).await
}

/// Commits `actions` plus `txns` atomically, with `metadata` in commitInfo.
pub async fn commit(
    table: &mut DeltaTable,
    actions: Vec<Action>,
    txns: Vec<Transaction>,
    metadata: HashMap<String, Value>,
    op: DeltaOperation,
) -> Result<u64, LakeError> {
    let path = PathBuf::from(table.table_url().path());
    let props = CommitProperties::default()
        .with_metadata(metadata)
        .with_application_transactions(txns)
        .with_create_checkpoint(true);
    let snapshot = table.snapshot().map_err(delta_err(&path, "committing"))?;
    let finalized = CommitBuilder::from(props)
        .with_actions(actions)
        .build(Some(snapshot), table.log_store(), op)
        .await
        .map_err(delta_err(&path, "committing"))?;
    // The commit returns the new snapshot: no need to read the log again.
    let version = finalized.version();
    table.state = Some(finalized.snapshot());
    Ok(version)
}

/// Remove actions (dataChange = true) for the active files whose log path (decoded) is in `paths`.
pub fn remove_actions(
    table: &DeltaTable,
    paths: &std::collections::BTreeSet<String>,
) -> Result<Vec<Action>, LakeError> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let path = PathBuf::from(table.table_url().path());
    let snap = table
        .snapshot()
        .map_err(delta_err(&path, "listing files"))?;
    Ok(snap
        .log_data()
        .iter()
        .filter(|f| {
            paths.contains(
                percent_encoding::percent_decode_str(&f.path())
                    .decode_utf8_lossy()
                    .as_ref(),
            )
        })
        .map(|f| Action::Remove(f.remove_action(true)))
        .collect())
}

/// A metadata action giving `table` a new schema and partitioning (its configuration kept):
/// committed together with the removal of every file and the new files, it rebuilds a table
/// whose definition changed, atomically.
pub fn replace_schema_action(
    table: &DeltaTable,
    schema: &TableSchema,
) -> Result<Action, LakeError> {
    let path = PathBuf::from(table.table_url().path());
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
