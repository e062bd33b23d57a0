//! Commits of a long-running appender (the bronze writer) that cost O(the commit's own
//! actions), however many files the table holds.
//!
//! delta-rs' `CommitBuilder` brings the table's in-memory state up to date after every
//! commit; in delta-rs 1.1 that re-processes every active file's entry and parses its
//! statistics again (about 7 µs per active file here), so a stream's commits slow down as its
//! table grows. An [`Appender`] keeps no file list. It writes the very commit delta-rs would
//! write ([`CommitData`]: commitInfo, txns, adds, after the same protocol check) at the next
//! version, through the one commit path ([`super::commit`]), which judges any commit that won
//! the race: a `txn` on one of this commit's appIds (another writer claimed what this one
//! owns), or a metadata or protocol change, refuses the commit ([`LakeError::Conflict`], or
//! [`LakeError::SchemaChanged`] when the schema differs); anything else (appends to other
//! partitions, a compaction) and it tries the next version.

use std::collections::HashMap;

use deltalake::arrow::array::RecordBatch;
use deltalake::kernel::transaction::{CommitData, PROTOCOL};
use deltalake::kernel::{Action, Transaction};
use deltalake::logstore::LogStoreRef;
use deltalake::protocol::DeltaOperation;
use deltalake::DeltaTable;
use serde_json::Value;

use super::commit::{write, Intent, Kind};
use super::delta::{delta_err, location_of, name_of, schema_of, write_files};
use super::table::Draft;
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
            operation: Kind::Append.operation(&schema_of(&table)?.partition_by),
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

    /// Writes `batches` as Parquet files of the table for `draft` (not committed yet).
    pub async fn write(
        &self,
        draft: &mut Draft,
        batches: Vec<RecordBatch>,
    ) -> Result<(), LakeError> {
        draft
            .written
            .extend(write_files(&self.table, batches).await?);
        Ok(())
    }

    /// Commits the files written for `draft` with `txns` and the commitInfo entries
    /// `metadata` atomically at the next free version, through lakectl's one commit path
    /// ([`super::commit::write`]); returns it. An empty draft with txns is a claim.
    pub async fn commit(
        &mut self,
        draft: Draft,
        txns: Vec<Transaction>,
        metadata: HashMap<String, Value>,
    ) -> Result<u64, LakeError> {
        let actions: Vec<Action> = draft.written;
        let state = self
            .table
            .snapshot()
            .map_err(delta_err(&self.name, "committing"))?;
        PROTOCOL
            .can_commit(state, &actions, &self.operation)
            .map_err(|e| delta_err(&self.name, "committing")(e.into()))?;
        let intent = Intent::new(
            &Kind::Append,
            &actions,
            &txns,
            state.schema().as_ref().clone(),
        );
        let data = CommitData::new(actions, self.operation.clone(), metadata, txns);
        self.version = write(&self.log_store, &self.name, self.version, &data, &intent).await?;
        Ok(self.version)
    }
}
