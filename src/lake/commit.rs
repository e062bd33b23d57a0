//! The one commit path: every write to a Delta log (bronze's appender, silver jobs,
//! compaction, widening, schema changes, claims, the run history) goes through [`write`],
//! which judges, with lakectl's own rules, each commit that won the race to a version.
//!
//! A commit is built on a snapshot (the version it read) and written with the log store's
//! atomic put-if-absent at the next version. When another writer took that version, its
//! commit (the winner) is read and judged against this one's [`Intent`]:
//! - a `txn` on one of this commit's appIds: another writer claimed what this one owns;
//! - a metadata or protocol change: the table this commit was planned for is gone
//!   ([`LakeError::SchemaChanged`] when the schema differs);
//! - a file this commit removes that the winner removed too, whatever the `dataChange` of
//!   either (the protocol's rule, and Spark's `ConcurrentDeleteDeleteException`; delta-rs
//!   1.1 only counts the winner's removes with `dataChange = true`, so two compactions of the
//!   same files both committed and every row they held was doubled);
//! - any file the winner added or removed in a partition this commit replaces, or anywhere in
//!   a table this commit overwrites;
//!
//! are conflicts: nothing is written and the error says whether the winner changed data or
//! only rewrote files ([`LakeError::Conflict`]'s `by_compaction`: then re-planning on the new
//! snapshot loses nothing). Anything else (appends elsewhere, a compaction of other files)
//! and the commit tries the next version. The check stays even if delta-rs restores the
//! protocol's rule: it is the guarantee lakectl documents, so it lives here.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use deltalake::kernel::transaction::{CommitData, TransactionError, PROTOCOL};
use deltalake::kernel::{Action, StructField, StructType, Transaction};
use deltalake::logstore::object_store::ObjectStoreExt;
use deltalake::logstore::{CommitOrBytes, LogStoreRef};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::{DeltaTable, DeltaTableError};
use serde_json::Value;

use super::delta::{delta_err, name_of, schema_of};
use super::LakeError;

/// A partition's values, as the log records them (`partitionValues`).
pub type PartitionValues = BTreeMap<String, Option<String>>;

/// What a commit does: the operation recorded in the log, and what concurrent commits it
/// must not overlap besides the files it removes.
#[derive(Debug, Clone)]
pub enum Kind {
    /// Adds files (and txns): a blind append.
    Append,
    /// Replaces the partitions that `predicate` selects: removes their files, adds new ones.
    ReplacePartitions {
        /// The partitions replaced, as SQL (recorded in the log).
        predicate: String,
    },
    /// Replaces some files by new ones (the files of the keys a dimension updates).
    ReplaceFiles,
    /// Replaces the whole table.
    Overwrite,
    /// Rewrites files into fewer, changing no data (`dataChange = false`).
    Compact {
        /// The partitions compacted, as SQL.
        predicate: Option<String>,
        /// The target file size.
        target_size: u64,
    },
    /// Rewrites every file with a new schema (a widening), in one commit with the metadata.
    Rewrite,
    /// Deletes files (the retention of a table).
    Delete {
        /// What is deleted, as SQL.
        predicate: String,
    },
    /// Adds nullable columns (a metadata action only).
    AddColumns(Vec<StructField>),
    /// Sets table properties (a metadata action only).
    SetProperties(HashMap<String, String>),
    /// Commits txns alone: a claim on what their appIds stand for.
    Claim,
}

/// What of the table, beyond the files it removes, a commit depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Only the files it removes.
    Files,
    /// The partitions of the files it adds and removes.
    Partitions,
    /// Every file of the table.
    Table,
}

impl Kind {
    /// The operation recorded in the log for this commit on a table partitioned by
    /// `partition_by`.
    pub(super) fn operation(&self, partition_by: &[String]) -> DeltaOperation {
        let partitioned = (!partition_by.is_empty()).then(|| partition_by.to_vec());
        let write = |mode, predicate| DeltaOperation::Write {
            mode,
            partition_by: partitioned.clone(),
            predicate,
        };
        match self {
            Kind::Append => write(SaveMode::Append, None),
            Kind::Claim => DeltaOperation::Write {
                mode: SaveMode::Append,
                partition_by: None,
                predicate: None,
            },
            Kind::ReplacePartitions { predicate } => {
                write(SaveMode::Overwrite, Some(predicate.clone()))
            }
            Kind::ReplaceFiles | Kind::Overwrite => write(SaveMode::Overwrite, None),
            Kind::Compact {
                predicate,
                target_size,
            } => DeltaOperation::Optimize {
                predicate: predicate.clone(),
                target_size: *target_size as i64,
            },
            Kind::Rewrite => DeltaOperation::Optimize {
                predicate: None,
                target_size: 0,
            },
            Kind::Delete { predicate } => DeltaOperation::Delete {
                predicate: Some(predicate.clone()),
            },
            Kind::AddColumns(fields) => DeltaOperation::AddColumn {
                fields: fields.clone(),
            },
            Kind::SetProperties(properties) => DeltaOperation::SetTableProperties {
                properties: properties.clone(),
            },
        }
    }

    fn scope(&self) -> Scope {
        match self {
            Kind::ReplacePartitions { .. } => Scope::Partitions,
            Kind::Overwrite | Kind::Rewrite => Scope::Table,
            _ => Scope::Files,
        }
    }
}

/// What the winners of a commit's race are judged against.
#[derive(Debug, Clone)]
pub(super) struct Intent {
    /// The txn appIds this commit carries.
    owned: BTreeSet<String>,
    /// The files it removes (paths as in the log, percent-decoded).
    removes: BTreeSet<String>,
    /// The partitions it replaces, when it replaces partitions.
    partitions: Option<BTreeSet<PartitionValues>>,
    /// True when it replaces the whole table.
    table: bool,
    /// The schema it was planned for.
    schema: StructType,
}

impl Intent {
    /// The intent of a commit of `actions` and `txns`, of `kind`, planned for `schema`.
    pub(super) fn new(
        kind: &Kind,
        actions: &[Action],
        txns: &[Transaction],
        schema: StructType,
    ) -> Self {
        let scope = kind.scope();
        let mut removes = BTreeSet::new();
        let mut partitions = BTreeSet::new();
        for a in actions {
            match a {
                Action::Add(add) => {
                    partitions.insert(sorted(&add.partition_values));
                }
                Action::Remove(r) => {
                    removes.insert(decoded(&r.path));
                    if let Some(p) = &r.partition_values {
                        partitions.insert(sorted(p));
                    }
                }
                _ => {}
            }
        }
        Self {
            owned: txns.iter().map(|t| t.app_id.clone()).collect(),
            removes,
            partitions: (scope == Scope::Partitions).then_some(partitions),
            table: scope == Scope::Table,
            schema,
        }
    }
}

fn sorted(p: &HashMap<String, Option<String>>) -> PartitionValues {
    p.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn decoded(path: &str) -> String {
    percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned()
}

/// What a winning commit means for this one.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Nothing this commit depends on: it follows at the next version.
    Follows,
    /// The winner changed the table's schema.
    SchemaChanged,
    /// The winner overlaps this commit.
    Conflict {
        /// What both touched.
        what: String,
        /// True when the winner only rewrote files (a compaction: no data changed).
        by_compaction: bool,
    },
}

/// Judges the winning commit `bytes` (its actions, one JSON object per line) against `ours`.
pub(super) fn judge(bytes: &[u8], ours: &Intent) -> Verdict {
    let mut claimed = BTreeSet::new();
    let mut table_change = None;
    let mut removed_twice = None;
    let mut touched = None;
    let mut files = 0;
    let mut data_change = false;
    for line in bytes.split(|b| *b == b'\n') {
        let Ok(action) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        if let Some(id) = action.pointer("/txn/appId").and_then(Value::as_str) {
            if ours.owned.contains(id) {
                claimed.insert(id.to_string());
            }
        }
        if let Some(schema) = action
            .pointer("/metaData/schemaString")
            .and_then(Value::as_str)
        {
            if serde_json::from_str::<StructType>(schema).map_or(true, |s| s != ours.schema) {
                return Verdict::SchemaChanged;
            }
            table_change = Some("table (a concurrent metadata change)");
        }
        if action.get("protocol").is_some() {
            table_change = Some("table (a concurrent protocol change)");
        }
        let (file, removed) = match (action.get("add"), action.get("remove")) {
            (Some(f), _) => (f, false),
            (_, Some(f)) => (f, true),
            _ => continue,
        };
        files += 1;
        data_change |= file
            .get("dataChange")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let path = file.get("path").and_then(Value::as_str).map(decoded);
        if removed && removed_twice.is_none() {
            removed_twice = path.filter(|p| ours.removes.contains(p));
        }
        if touched.is_none() {
            let values: Option<PartitionValues> = file
                .get("partitionValues")
                .and_then(|v| serde_json::from_value(v.clone()).ok());
            touched = if ours.table {
                Some("table (a concurrent write)".to_string())
            } else {
                ours.partitions
                    .as_ref()
                    .zip(values)
                    .filter(|(ps, v)| ps.contains(v))
                    .map(|(_, v)| format!("partition {}", show(&v)))
            };
        }
    }
    if !claimed.is_empty() {
        let ids: Vec<String> = claimed.into_iter().collect();
        return Verdict::Conflict {
            what: format!("transaction ids {}", ids.join(", ")),
            by_compaction: false,
        };
    }
    if let Some(w) = table_change {
        return Verdict::Conflict {
            what: w.to_string(),
            by_compaction: false,
        };
    }
    let by_compaction = files > 0 && !data_change;
    let what = removed_twice
        .map(|p| format!("file {p} (removed by both)"))
        .or(touched);
    match what {
        Some(what) => Verdict::Conflict {
            what,
            by_compaction,
        },
        None => Verdict::Follows,
    }
}

fn show(v: &PartitionValues) -> String {
    let parts: Vec<String> = v
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("null")))
        .collect();
    parts.join("/")
}

/// Writes `data` at the first version after `read` that no other writer took, judging every
/// winner in between against `intent`; returns the version written. Nothing is written when
/// a winner conflicts (a staged commit file is removed).
pub(super) async fn write(
    log_store: &LogStoreRef,
    name: &str,
    read: u64,
    data: &CommitData,
    intent: &Intent,
) -> Result<u64, LakeError> {
    let payload = payload(log_store, name, data).await?;
    let op_id = uuid::Uuid::new_v4();
    let mut version = read + 1;
    let written = loop {
        match log_store
            .write_commit_entry(version, payload.clone(), op_id)
            .await
        {
            Ok(()) => break Ok(version),
            Err(TransactionError::VersionAlreadyExists(_)) => {
                if let Err(e) = check_winner(log_store, name, version, intent).await {
                    break Err(e);
                }
                tracing::debug!(table = %name, version, "another writer committed this version first; committing after it");
                version += 1;
            }
            Err(e) => break Err(delta_err(name, "committing")(e.into())),
        }
    };
    if written.is_err() {
        if let CommitOrBytes::TmpCommit(_) = &payload {
            let _ = log_store.abort_commit_entry(version, payload, op_id).await;
        }
    }
    written
}

/// The commit as the log store takes it: the bytes for stores with conditional puts (as
/// delta-rs does for its default and LakeFS stores), else a temporary file to rename.
async fn payload(
    log_store: &LogStoreRef,
    name: &str,
    data: &CommitData,
) -> Result<CommitOrBytes, LakeError> {
    let bytes = data
        .get_bytes()
        .map_err(|e| delta_err(name, "serialising the commit")(e.into()))?;
    if ["LakeFSLogStore", "DefaultLogStore"].contains(&log_store.name().as_str()) {
        return Ok(CommitOrBytes::LogBytes(bytes));
    }
    let path = deltalake::Path::from_iter([
        "_delta_log",
        &format!("_commit_{}.json.tmp", uuid::Uuid::new_v4()),
    ]);
    let store = log_store.object_store(None);
    ObjectStoreExt::put(&store, &path, bytes.into())
        .await
        .map_err(|e| delta_err(name, "staging the commit")(e.into()))?;
    Ok(CommitOrBytes::TmpCommit(path))
}

/// Another writer committed `version` first: Ok when this commit can follow it.
async fn check_winner(
    log_store: &LogStoreRef,
    name: &str,
    version: u64,
    intent: &Intent,
) -> Result<(), LakeError> {
    let bytes = log_store
        .read_commit_entry(version)
        .await
        .map_err(delta_err(name, "reading a concurrent commit"))?
        .ok_or_else(|| {
            delta_err(name, "reading a concurrent commit")(DeltaTableError::Generic(format!(
                "version {version} exists but cannot be read"
            )))
        })?;
    let schema_changed = LakeError::SchemaChanged {
        table: name.to_string(),
    };
    match judge(&bytes, intent) {
        Verdict::Follows => Ok(()),
        Verdict::SchemaChanged => Err(schema_changed),
        // Refused. Say "schema changed" if any later commit changed it: then the writer
        // must restart on the new spec rather than report a takeover.
        Verdict::Conflict { .. } if schema_changes_after(log_store, version, intent).await => {
            Err(schema_changed)
        }
        Verdict::Conflict {
            what,
            by_compaction,
        } => Err(LakeError::Conflict {
            table: name.to_string(),
            what,
            by_compaction,
        }),
    }
}

/// True when a commit after `version` changed the schema from the one `intent` was planned
/// for.
async fn schema_changes_after(log_store: &LogStoreRef, version: u64, intent: &Intent) -> bool {
    let schema_only = Intent {
        owned: BTreeSet::new(),
        removes: BTreeSet::new(),
        partitions: None,
        table: false,
        schema: intent.schema.clone(),
    };
    let mut v = version + 1;
    while let Ok(Some(bytes)) = log_store.read_commit_entry(v).await {
        if judge(&bytes, &schema_only) == Verdict::SchemaChanged {
            return true;
        }
        v += 1;
    }
    false
}

/// One commit: its actions, txns, commitInfo entries and kind.
#[derive(Debug)]
pub struct Change {
    /// Adds, removes, metadata.
    pub actions: Vec<Action>,
    /// Txns committed with them.
    pub txns: Vec<Transaction>,
    /// Entries of the commitInfo.
    pub metadata: HashMap<String, Value>,
    /// What the commit does.
    pub kind: Kind,
}

impl Change {
    /// A change of `kind` made of `actions` alone.
    pub fn new(kind: Kind, actions: Vec<Action>) -> Self {
        Self {
            actions,
            txns: Vec::new(),
            metadata: HashMap::new(),
            kind,
        }
    }

    /// With `txns` committed atomically with the actions.
    pub fn with_txns(mut self, txns: Vec<Transaction>) -> Self {
        self.txns = txns;
        self
    }

    /// With `metadata` in the commitInfo.
    pub fn with_metadata(mut self, metadata: HashMap<String, Value>) -> Self {
        self.metadata = metadata;
        self
    }
}

/// Commits `change` on `table`'s snapshot through [`write`], then brings `table` to the new
/// version, and writes a checkpoint (and cleans the expired log) when the commit is a
/// multiple of `delta.checkpointInterval`, as delta-rs does after its commits: this suits
/// occasional writers (jobs, maintenance). A long-running writer appends through an
/// [`Appender`](super::append::Appender), whose commits cost O(their own actions).
pub async fn commit(table: &mut DeltaTable, change: Change) -> Result<u64, LakeError> {
    use deltalake::table::config::TablePropertiesExt;
    let name = name_of(table);
    let partition_by = schema_of(table)?.partition_by;
    let snapshot = table.snapshot().map_err(delta_err(&name, "committing"))?;
    let read = snapshot.version();
    let op = change.kind.operation(&partition_by);
    PROTOCOL
        .can_commit(snapshot, &change.actions, &op)
        .map_err(|e| delta_err(&name, "committing")(e.into()))?;
    let intent = Intent::new(
        &change.kind,
        &change.actions,
        &change.txns,
        snapshot.schema().as_ref().clone(),
    );
    let interval = snapshot.table_config().checkpoint_interval().get();
    let data = CommitData::new(change.actions, op, change.metadata, change.txns);
    let version = write(&table.log_store(), &name, read, &data, &intent).await?;
    table
        .update_incremental(Some(version))
        .await
        .map_err(delta_err(&name, "reading the new version"))?;
    if (version + 1).is_multiple_of(interval) {
        // The commit is in; a failed checkpoint only makes reads slower until the next one.
        if let Err(e) = checkpoint(table).await {
            tracing::warn!(table = %name, version, error = %e, "checkpoint failed; the next one is written at the next interval");
        }
    }
    Ok(version)
}

/// Writes the checkpoint of `table`'s version and deletes the log expired under
/// `delta.logRetentionDuration` (when the table enables it).
pub(super) async fn checkpoint(table: &DeltaTable) -> Result<(), LakeError> {
    use deltalake::table::config::TablePropertiesExt;
    let name = name_of(table);
    deltalake::protocol::checkpoints::create_checkpoint(table, None)
        .await
        .map_err(delta_err(&name, "writing a checkpoint"))?;
    let cleanup = table
        .snapshot()
        .map(|s| s.table_config().enable_expired_log_cleanup())
        .unwrap_or(false);
    if cleanup {
        let removed = deltalake::protocol::checkpoints::cleanup_metadata(table, None)
            .await
            .map_err(delta_err(&name, "cleaning the expired log"))?;
        tracing::debug!(table = %name, removed, "checkpoint written, expired log cleaned");
    }
    Ok(())
}

#[cfg(test)]
#[path = "commit_tests.rs"]
mod tests;
