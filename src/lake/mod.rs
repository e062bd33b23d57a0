//! Delta Lake access: open or create tables, commit atomically with `txn` actions, list
//! active files, read tables into Polars, and the zero-copy Polars → Arrow bridge.

pub mod append;
pub mod bridge;
pub mod catalog;
pub mod changes;
pub mod commit;
mod error;
pub mod history;
pub mod optimize;
pub mod read;
pub mod schema;
pub mod table;
pub mod upkeep;
pub mod vacuum;
pub mod widen;

pub use error::{quiet_caught_panics, LakeError, Trouble};
pub use schema::{Column, TableSchema};
pub use table::DeltaTable;
