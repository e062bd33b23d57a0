//! Delta Lake access: open or create tables, commit atomically with `txn` actions, list
//! active files, read tables into Polars, and the zero-copy Polars → Arrow bridge.

pub mod append;
pub mod bridge;
pub mod catalog;
pub mod changes;
pub mod commit;
pub mod history;
pub mod optimize;
pub mod read;
pub mod schema;
pub mod table;
pub mod upkeep;
pub mod vacuum;
pub mod widen;

pub use schema::{Column, TableSchema};
pub use table::DeltaTable;

/// Errors of the lake layer, with the table they concern.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    /// delta-rs failed.
    #[error("delta table {table}: {what}: {source}")]
    Delta {
        /// Table path.
        table: String,
        /// What was being done.
        what: String,
        /// delta-rs error.
        source: Box<deltalake::DeltaTableError>,
    },
    /// The table exists but its schema differs from what the spec produces.
    #[error(
        "delta table {table}: its schema no longer matches the spec:\n{diff}\n    hint: {hint}"
    )]
    SchemaMismatch {
        /// Table path.
        table: String,
        /// One line per differing column.
        diff: String,
        /// How to get out of it.
        hint: String,
    },
    /// The table uses a feature lakectl cannot read correctly.
    #[error("delta table {table}: uses {feature}, which lakectl cannot read correctly")]
    Unsupported {
        /// Table path.
        table: String,
        /// The feature.
        feature: String,
    },
    /// Time travel to a version the table does not have.
    #[error("delta table {table} has no version {version} (its versions are 0 to {latest})")]
    NoSuchVersion {
        /// Table path.
        table: String,
        /// The version asked for.
        version: u64,
        /// The latest version.
        latest: u64,
    },
    /// No table at that path.
    #[error("no delta table at {table}\n    hint: {hint}")]
    NotFound {
        /// Table path.
        table: String,
        /// What creates it.
        hint: String,
    },
    /// Converting data between Polars and Arrow failed.
    #[error("table {table}: converting data: {message}")]
    Convert {
        /// Table path.
        table: String,
        /// What went wrong.
        message: String,
    },
    /// Another writer committed, since this writer's snapshot, something this commit depends
    /// on (the same `txn` appId, a file both remove, the partitions or table this commit
    /// replaces; see [`commit`]): this commit wrote nothing.
    #[error("delta table {table}: another writer committed to the same {what} since this writer read the table; nothing was written\n    hint: run one writer per Kafka partition (`--worker I/N` splits a topic) and one run of a job at a time")]
    Conflict {
        /// Table path.
        table: String,
        /// What both writers claimed (partitions, a job, a file).
        what: String,
        /// True when the other writer only rewrote files (a compaction): no data changed,
        /// so planning the commit again on the new snapshot loses nothing.
        by_compaction: bool,
    },
    /// Another writer changed the table's schema (a new or widened column) since this
    /// writer read it: this commit was refused and wrote nothing. (A commit refused for a
    /// metadata change is a [`LakeError::Conflict`]; the writer that sees the schema
    /// differ after reloading says this instead.)
    #[error("delta table {table}: another writer changed the table's schema since this writer read it (a new or widened column); nothing was written\n    hint: run again: the next run reads the new schema")]
    SchemaChanged {
        /// Table path.
        table: String,
    },
    /// Polars failed while reading.
    #[error("table {table}: {source}")]
    Polars {
        /// Table path.
        table: String,
        /// Polars error.
        source: Box<polars::prelude::PolarsError>,
    },
}
