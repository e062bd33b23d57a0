//! Commits of a long-running appender (the bronze writer) that cost O(the commit's own
//! actions), however many files the table holds.
//!
//! delta-rs' `CommitBuilder` brings the table's in-memory state up to date after every
//! commit; in delta-rs 1.1 that re-processes every active file's entry and parses its
//! statistics again (about 7 µs per active file here), so a stream's commits slow down as its
//! table grows. An [`Appender`] keeps no file list. It writes the very commit delta-rs would
//! write ([`CommitData`]: commitInfo, txns, adds, after the same protocol check) at the next
//! version, with the log store's atomic put-if-absent. When another writer took that version,
//! it reads the winning commit, as delta-rs' conflict checker does for a blind append: a
//! `txn` on one of this commit's appIds (another writer claimed what this one owns), or a
//! metadata or protocol change, refuses the commit ([`LakeError::Conflict`], or
//! [`LakeError::SchemaChanged`] when the schema differs); anything else (appends to other
//! partitions, a compaction) and it tries the next version.

use std::collections::{BTreeSet, HashMap};

use deltalake::arrow::array::RecordBatch;
use deltalake::kernel::transaction::{CommitData, TransactionError, PROTOCOL};
use deltalake::kernel::{Action, StructType, Transaction};
use deltalake::logstore::object_store::ObjectStoreExt;
use deltalake::logstore::{CommitOrBytes, LogStoreRef};
use deltalake::protocol::DeltaOperation;
use deltalake::{DeltaTable, DeltaTableError};
use serde_json::Value;

use super::table::{append_operation, delta_err, location_of, name_of, write_files};
use super::LakeError;
use crate::storage::Location;

/// Appends to one table, each commit built on the one before.
#[derive(Debug)]
pub struct Appender {
    /// The table as opened: its schema, protocol, log store and options. Its in-memory state
    /// is not advanced by the commits (the appender does not need it).
    table: DeltaTable,
    log_store: LogStoreRef,
    /// The version of this appender's newest commit (or the version opened).
    version: u64,
    operation: DeltaOperation,
    name: String,
}

/// A commit's content: the adds, the txns, the commitInfo entries.
pub type Commit = (Vec<Action>, Vec<Transaction>, HashMap<String, Value>);

impl Appender {
    /// An appender on `table`, at the version it was loaded at: its first commit is refused
    /// if a commit since then conflicts with it.
    pub fn new(table: DeltaTable) -> Result<Self, LakeError> {
        let name = name_of(&table);
        let version = table.version().ok_or_else(|| LakeError::NotFound {
            table: name.clone(),
            hint: "the table is created before it is appended to".into(),
        })?;
        Ok(Self {
            operation: append_operation(&table)?,
            log_store: table.log_store(),
            table,
            version,
            name,
        })
    }

    /// The version of the newest commit.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The table's location.
    pub fn location(&self) -> Location {
        location_of(&self.table)
    }

    /// The table as opened (its state is that of [`Appender::new`]'s version).
    pub fn opened(&self) -> &DeltaTable {
        &self.table
    }

    /// Writes `batches` as Parquet files of the table; their adds, not yet committed.
    pub async fn write_files(&self, batches: Vec<RecordBatch>) -> Result<Vec<Action>, LakeError> {
        write_files(&self.table, batches).await
    }

    /// Commits `actions` with `txns` and `metadata` (in commitInfo) atomically at the next
    /// free version; returns it.
    pub async fn commit(&mut self, (actions, txns, metadata): Commit) -> Result<u64, LakeError> {
        let state = self
            .table
            .snapshot()
            .map_err(delta_err(&self.name, "committing"))?;
        PROTOCOL
            .can_commit(state, &actions, &self.operation)
            .map_err(|e| delta_err(&self.name, "committing")(e.into()))?;
        let owned: BTreeSet<String> = txns.iter().map(|t| t.app_id.clone()).collect();
        let data = CommitData::new(actions, self.operation.clone(), metadata, txns);
        let payload = self.payload(&data).await?;
        let op_id = uuid::Uuid::new_v4();
        let written = self.write_next(&payload, op_id, &owned).await;
        if written.is_err() {
            // A staged commit that will not be written is removed (a refused one included).
            if let CommitOrBytes::TmpCommit(_) = &payload {
                let next = self.version + 1;
                let _ = self
                    .log_store
                    .abort_commit_entry(next, payload, op_id)
                    .await;
            }
        }
        written
    }

    /// Writes `payload` at the first version after this appender's that another writer did
    /// not take, or fails when a winner conflicts with it.
    async fn write_next(
        &mut self,
        payload: &CommitOrBytes,
        op_id: uuid::Uuid,
        owned: &BTreeSet<String>,
    ) -> Result<u64, LakeError> {
        loop {
            let version = self.version + 1;
            match self
                .log_store
                .write_commit_entry(version, payload.clone(), op_id)
                .await
            {
                Ok(()) => {
                    self.version = version;
                    return Ok(version);
                }
                Err(TransactionError::VersionAlreadyExists(_)) => {
                    self.check_winner(version, owned).await?;
                    tracing::debug!(table = %self.name, version, "another writer committed this version first; appending after it");
                    self.version = version;
                }
                Err(e) => return Err(delta_err(&self.name, "committing")(e.into())),
            }
        }
    }

    /// The commit as the log store takes it: the bytes for stores with conditional puts (as
    /// delta-rs does for its default and LakeFS stores), else a temporary file to rename.
    async fn payload(&self, data: &CommitData) -> Result<CommitOrBytes, LakeError> {
        let bytes = data
            .get_bytes()
            .map_err(|e| delta_err(&self.name, "serialising the commit")(e.into()))?;
        if ["LakeFSLogStore", "DefaultLogStore"].contains(&self.log_store.name().as_str()) {
            return Ok(CommitOrBytes::LogBytes(bytes));
        }
        let path = deltalake::Path::from_iter([
            "_delta_log",
            &format!("_commit_{}.json.tmp", uuid::Uuid::new_v4()),
        ]);
        let store = self.log_store.object_store(None);
        ObjectStoreExt::put(&store, &path, bytes.into())
            .await
            .map_err(|e| delta_err(&self.name, "staging the commit")(e.into()))?;
        Ok(CommitOrBytes::TmpCommit(path))
    }

    /// Another writer committed `version` first: Ok when this append can follow it.
    async fn check_winner(&self, version: u64, owned: &BTreeSet<String>) -> Result<(), LakeError> {
        let bytes = self
            .log_store
            .read_commit_entry(version)
            .await
            .map_err(delta_err(&self.name, "reading a concurrent commit"))?
            .ok_or_else(|| {
                delta_err(&self.name, "reading a concurrent commit")(DeltaTableError::Generic(
                    format!("version {version} exists but cannot be read"),
                ))
            })?;
        let ours = self
            .table
            .snapshot()
            .map_err(delta_err(&self.name, "committing"))?
            .schema();
        let schema_changed = LakeError::SchemaChanged {
            table: self.name.clone(),
        };
        match judge_winner(&bytes, owned, &ours) {
            Winner::Compatible => Ok(()),
            Winner::SchemaChanged => Err(schema_changed),
            // Refused. Say "schema changed" if any later commit changed it: then the writer
            // must restart on the new spec rather than report a takeover.
            Winner::Conflict(_) if self.schema_changes_after(version, &ours).await => {
                Err(schema_changed)
            }
            Winner::Conflict(what) => Err(LakeError::Conflict {
                table: self.name.clone(),
                what,
            }),
        }
    }

    /// True when a commit after `version` changed the schema from `ours`.
    async fn schema_changes_after(&self, version: u64, ours: &StructType) -> bool {
        let mut v = version + 1;
        while let Ok(Some(bytes)) = self.log_store.read_commit_entry(v).await {
            if judge_winner(&bytes, &BTreeSet::new(), ours) == Winner::SchemaChanged {
                return true;
            }
            v += 1;
        }
        false
    }
}

/// What a concurrent commit means for a blind append.
#[derive(Debug, PartialEq, Eq)]
enum Winner {
    /// Nothing this append depends on: it follows at the next version.
    Compatible,
    /// It changed the table's schema.
    SchemaChanged,
    /// It claimed one of this append's txn appIds, or changed the metadata or protocol.
    Conflict(String),
}

/// Reads the winning commit's actions (one JSON object per line).
fn judge_winner(bytes: &[u8], owned: &BTreeSet<String>, ours: &StructType) -> Winner {
    let mut claimed = BTreeSet::new();
    let mut table_change = None;
    for line in bytes.split(|b| *b == b'\n') {
        let Ok(action) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        if let Some(id) = action.pointer("/txn/appId").and_then(Value::as_str) {
            if owned.contains(id) {
                claimed.insert(id.to_string());
            }
        }
        if let Some(schema) = action
            .pointer("/metaData/schemaString")
            .and_then(Value::as_str)
        {
            if serde_json::from_str::<StructType>(schema).map_or(true, |s| &s != ours) {
                return Winner::SchemaChanged;
            }
            table_change = Some("table (a concurrent metadata change)");
        }
        if action.get("protocol").is_some() {
            table_change = Some("table (a concurrent protocol change)");
        }
    }
    if !claimed.is_empty() {
        let ids: Vec<String> = claimed.into_iter().collect();
        return Winner::Conflict(format!("transaction ids {}", ids.join(", ")));
    }
    table_change.map_or(Winner::Compatible, |w| Winner::Conflict(w.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(cols: &[&str]) -> StructType {
        let fields: Vec<String> = cols
            .iter()
            .map(|c| format!(r#"{{"name":"{c}","type":"long","nullable":true,"metadata":{{}}}}"#))
            .collect();
        serde_json::from_str(&format!(
            r#"{{"type":"struct","fields":[{}]}}"#,
            fields.join(",")
        ))
        .unwrap()
    }

    fn owned(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_append_to_other_partitions_is_compatible() {
        let winner = br#"{"commitInfo":{"operation":"WRITE"}}
{"txn":{"appId":"lakectl/p/1","version":9}}
{"add":{"path":"a.parquet","partitionValues":{},"size":1,"modificationTime":1,"dataChange":true}}"#;
        let w = judge_winner(winner, &owned(&["lakectl/p/0"]), &schema(&["a"]));
        assert_eq!(w, Winner::Compatible);
    }

    #[test]
    fn a_claim_on_an_owned_app_id_is_a_conflict() {
        let winner = br#"{"commitInfo":{}}
{"txn":{"appId":"lakectl/p/0/owner","version":2}}"#;
        let w = judge_winner(winner, &owned(&["lakectl/p/0/owner"]), &schema(&["a"]));
        assert_eq!(
            w,
            Winner::Conflict("transaction ids lakectl/p/0/owner".into())
        );
    }

    #[test]
    fn a_metadata_change_is_a_conflict_or_a_schema_change() {
        let same = schema(&["a"]);
        let meta = |s: &str| {
            format!(
                r#"{{"metaData":{{"id":"x","format":{{"provider":"parquet","options":{{}}}},"schemaString":{},"partitionColumns":[],"configuration":{{}}}}}}"#,
                serde_json::to_string(s).unwrap()
            )
        };
        let same_json = serde_json::to_string(&same).unwrap();
        let w = judge_winner(meta(&same_json).as_bytes(), &owned(&[]), &same);
        assert!(matches!(w, Winner::Conflict(_)), "{w:?}");
        let wider = serde_json::to_string(&schema(&["a", "b"])).unwrap();
        let w = judge_winner(meta(&wider).as_bytes(), &owned(&[]), &same);
        assert_eq!(w, Winner::SchemaChanged);
        let w = judge_winner(
            br#"{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}"#,
            &owned(&[]),
            &same,
        );
        assert!(matches!(w, Winner::Conflict(_)), "{w:?}");
    }
}
