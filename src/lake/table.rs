//! The table handle: a Delta table's location with its storage options, its display name,
//! its schema and the snapshot it holds, opened once per run, with the operations the stages
//! need (append, replace, overwrite, evolve the schema, rewrite files, claim). The stages
//! assemble a commit as a [`Draft`] and never build delta-rs actions or operations.

use std::collections::{BTreeSet, HashMap};

use deltalake::arrow::array::RecordBatch;
use deltalake::kernel::{Action, Transaction};
use deltalake::DeltaTable;
use futures::TryStreamExt;
use serde_json::Value;

use super::commit::{commit, Change, Kind};
use super::delta::{
    commit_values, delta_err, discard_files, evolve_schema_action, location_of, name_of, open,
    open_existing, open_or_create_with, open_version, remove_actions, replace_schema_action,
    schema_of, txn_version, write_files, write_files_as,
};
pub use super::delta::{exists, EVOLUTION_HINT};
use super::schema::TableSchema;
use super::LakeError;
use crate::storage::Location;

/// An open Delta table: where it is, how it is named in messages, and the snapshot it holds.
#[derive(Debug, Clone)]
pub struct Table {
    delta: DeltaTable,
    loc: Location,
    name: String,
}

impl Table {
    fn new(delta: DeltaTable) -> Self {
        Self {
            loc: location_of(&delta),
            name: name_of(&delta),
            delta,
        }
    }

    /// The table at `loc` at its latest version, or None if there is none.
    pub async fn open(loc: &Location) -> Result<Option<Self>, LakeError> {
        Ok(open(loc).await?.map(Self::new))
    }

    /// The table at `loc`, or [`LakeError::NotFound`] naming what creates it.
    pub async fn open_existing(loc: &Location) -> Result<Self, LakeError> {
        open_existing(loc).await.map(Self::new)
    }

    /// The table at `loc` at `version` (time travel), or [`LakeError::NoSuchVersion`].
    pub async fn open_version(loc: &Location, version: u64) -> Result<Self, LakeError> {
        open_version(loc, version).await.map(Self::new)
    }

    /// The table at `loc`, created with `schema` (and the Delta properties `config`) if
    /// missing; an existing one evolves to `schema` when lakectl may do that by itself (new
    /// columns, safe widenings), else [`LakeError::SchemaMismatch`].
    pub async fn open_or_create(
        loc: &Location,
        schema: &TableSchema,
        name: &str,
        config: &[(&str, &str)],
    ) -> Result<Self, LakeError> {
        open_or_create_with(loc, schema, name, config)
            .await
            .map(Self::new)
    }

    /// Where it is.
    pub fn location(&self) -> &Location {
        &self.loc
    }

    /// How messages name it (its folder, or its URL without credentials).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The version of the snapshot held.
    pub fn version(&self) -> u64 {
        self.delta.version().unwrap_or(0)
    }

    /// Its schema and partitioning.
    pub fn schema(&self) -> Result<TableSchema, LakeError> {
        schema_of(&self.delta)
    }

    /// The delta-rs table, for the lake's own readers and writers.
    pub(crate) fn delta(&self) -> &DeltaTable {
        &self.delta
    }

    /// The delta-rs table itself, for the lake's own operations (vacuum).
    pub(crate) fn into_delta(self) -> DeltaTable {
        self.delta
    }

    /// The active files of the snapshot held.
    pub fn files(&self) -> Result<Vec<super::read::DataFile>, LakeError> {
        super::read::active_files(&self.delta)
    }

    /// The version last recorded for `app_id` by a `txn` action, if any.
    pub async fn txn_version(&self, app_id: &str) -> Result<Option<i64>, LakeError> {
        txn_version(&self.delta, app_id).await
    }

    /// The `commitInfo` entries `key` of the last `limit` commits that have one, newest first.
    pub async fn commit_values(&self, key: &str, limit: usize) -> Result<Vec<Value>, LakeError> {
        commit_values(&self.delta, key, limit).await
    }

    /// The commit timestamp (ms) of the snapshot's version.
    pub async fn last_commit_ms(&self) -> Option<i64> {
        let info = self
            .delta
            .history(Some(1))
            .try_collect::<Vec<_>>()
            .await
            .ok()?;
        info.first().and_then(|c| c.timestamp)
    }

    /// Brings the snapshot to the latest version.
    pub async fn reload(&mut self) -> Result<(), LakeError> {
        self.delta
            .update_incremental(None)
            .await
            .map_err(delta_err(&self.name, "reloading"))
    }

    /// Writes `batches` for `draft` (as the draft's new schema, if it has one). On failure
    /// the draft's files are deleted and the error returned.
    pub async fn write(
        &self,
        draft: &mut Draft,
        batches: Vec<RecordBatch>,
    ) -> Result<(), LakeError> {
        let written = match &draft.schema {
            Some(schema) => write_files_as(&self.delta, batches, schema).await,
            None => write_files(&self.delta, batches).await,
        };
        match written {
            Ok(adds) => {
                draft.written.extend(adds);
                Ok(())
            }
            Err(e) => {
                self.discard(draft).await;
                Err(e)
            }
        }
    }

    /// Adds to `draft` the removal of the active files whose relative path is in `rels`.
    pub fn remove(&self, draft: &mut Draft, rels: &BTreeSet<String>) -> Result<(), LakeError> {
        draft.removes.extend(remove_actions(&self.delta, rels)?);
        Ok(())
    }

    /// Gives `draft` a new schema and partitioning (the table's configuration kept): with
    /// the removal of every file, a rebuild of a table whose definition changed.
    pub fn replace_schema(&self, draft: &mut Draft, schema: &TableSchema) -> Result<(), LakeError> {
        draft.metadata = Some(replace_schema_action(&self.delta, schema)?);
        draft.schema = Some(schema.clone());
        Ok(())
    }

    /// Gives `draft` the schema `schema` (new nullable or widened columns), everything else
    /// about the table kept.
    pub fn evolve_schema(&self, draft: &mut Draft, schema: &TableSchema) -> Result<(), LakeError> {
        draft.metadata = Some(evolve_schema_action(&self.delta, schema)?);
        draft.schema = Some(schema.clone());
        Ok(())
    }

    /// Deletes the files written for `draft` (best effort): a failed run leaves nothing a
    /// reader could mistake for data (readers ignore uncommitted files; `vacuum` deletes any
    /// left).
    pub async fn discard(&self, draft: &mut Draft) {
        discard_files(&self.delta, &draft.written).await;
        draft.written.clear();
    }

    /// Commits `draft` as a change of `kind`, with `txns` and the commitInfo entries `info`,
    /// through the one commit path ([`super::commit`]); the snapshot is then at the new
    /// version. Not committed: the draft's files are deleted and the error returned.
    pub async fn commit(
        &mut self,
        kind: Kind,
        draft: Draft,
        txns: Vec<Transaction>,
        info: HashMap<String, Value>,
    ) -> Result<u64, LakeError> {
        let Draft {
            written,
            removes,
            metadata,
            ..
        } = draft;
        // A rewrite changes no data: its adds and removes say so.
        let rewrite = matches!(kind, Kind::Compact { .. } | Kind::Rewrite);
        let mut actions: Vec<Action> = metadata.into_iter().collect();
        actions.extend(written.iter().cloned().map(|a| match a {
            Action::Add(mut add) if rewrite => {
                add.data_change = false;
                Action::Add(add)
            }
            a => a,
        }));
        actions.extend(removes.into_iter().map(|a| match a {
            Action::Remove(mut r) if rewrite => {
                r.data_change = false;
                Action::Remove(r)
            }
            a => a,
        }));
        let change = Change::new(kind, actions)
            .with_txns(txns)
            .with_metadata(info);
        match commit(&mut self.delta, change).await {
            Ok(v) => Ok(v),
            Err(e) => {
                discard_files(&self.delta, &written).await;
                Err(e)
            }
        }
    }

    /// Writes `batches` and commits them in ONE commit with `txns` and the commitInfo
    /// entries `info`. Returns the new version.
    pub async fn append(
        &mut self,
        batches: Vec<RecordBatch>,
        txns: Vec<Transaction>,
        info: HashMap<String, Value>,
    ) -> Result<u64, LakeError> {
        let mut draft = Draft::default();
        self.write(&mut draft, batches).await?;
        self.commit(Kind::Append, draft, txns, info).await
    }

    /// Commits `txns` alone (no data): a claim on what those appIds stand for. Any writer
    /// whose snapshot predates the claim and whose commits carry one of those appIds then
    /// fails with [`LakeError::Conflict`]. A claim that races another commit on the same
    /// appIds fails the same way, or, with `retry`, reloads the table and claims again.
    pub async fn claim(
        &mut self,
        txns: Vec<Transaction>,
        info: HashMap<String, Value>,
        retry: bool,
    ) -> Result<u64, LakeError> {
        let mut attempt = 0;
        loop {
            let change = Change::new(Kind::Claim, Vec::new())
                .with_txns(txns.clone())
                .with_metadata(info.clone());
            match commit(&mut self.delta, change).await {
                Err(LakeError::Conflict { .. }) if retry && attempt < 20 => {
                    attempt += 1;
                    self.reload().await?;
                }
                other => return other,
            }
        }
    }

    /// An appender on this table at its version (bronze's commits, O(their own actions)).
    pub fn appender(self) -> Result<super::append::Appender, LakeError> {
        super::append::Appender::new(self.delta)
    }
}

/// A commit being assembled on one [`Table`]: the files written for it (not committed yet),
/// the files it removes, and a new schema if it changes one.
#[derive(Debug, Default)]
pub struct Draft {
    pub(super) written: Vec<Action>,
    removes: Vec<Action>,
    metadata: Option<Action>,
    schema: Option<TableSchema>,
}

impl Draft {
    /// How many files were written for it.
    pub fn files_written(&self) -> usize {
        self.written.len()
    }

    /// How many files it removes.
    pub fn files_removed(&self) -> usize {
        self.removes.len()
    }

    /// The bytes of the files written for it.
    pub fn bytes_written(&self) -> i64 {
        self.written
            .iter()
            .map(|a| match a {
                Action::Add(add) => add.size,
                _ => 0,
            })
            .sum()
    }
}
