//! Delta Lake access: open or create tables, commit atomically with `txn` actions, list
//! active files, read tables into Polars, and the zero-copy Polars → Arrow bridge.

pub mod append;
pub mod bridge;
pub mod catalog;
pub mod changes;
pub mod commit;
pub mod commits;
mod delta;
mod error;
pub mod optimize;
pub mod read;
pub mod schema;
pub mod table;
pub mod upkeep;
pub mod vacuum;
pub mod widen;

pub use error::{quiet_caught_panics, LakeError, Trouble};

/// For the commands that only read: the lake at `lake` exists ([`LakeError::NoLake`] if a
/// local lake's folder does not; an object-store prefix has no such thing as a folder).
pub fn require_lake(lake: &crate::storage::Location) -> Result<(), LakeError> {
    match lake.local_path() {
        Some(p) if !p.is_dir() => Err(LakeError::NoLake {
            lake: lake.to_string(),
        }),
        _ => Ok(()),
    }
}
pub use schema::{Column, TableSchema};
pub use table::{Draft, Table};
