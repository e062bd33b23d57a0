//! The lake's errors, classified where they arise: a store that cannot be reached, access
//! refused, a corrupt log, a conflict, a missing table; each knows its exit code.

use std::error::Error as StdError;

use deltalake::{DeltaTableError, ObjectStoreError};

use crate::exit::{ExitCode, LAKE, TAKEN_OVER};

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
    /// The lake itself is not there (a local lake's folder does not exist).
    #[error("no lake at {lake}\n    hint: check `lake:` in the spec, --lake or LAKECTL_LAKE; `lakectl run bronze` creates the lake")]
    NoLake {
        /// The lake's location.
        lake: String,
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
    /// The store could not be used: unreachable, access refused, or the table's log does
    /// not parse. Told apart where the error arises ([`LakeError::delta`]).
    #[error("delta table {table}: {what}: {trouble}: {detail}\n    hint: {}", trouble.hint())]
    Store {
        /// Table path.
        table: String,
        /// What was being done.
        what: String,
        /// Which kind of trouble.
        trouble: Trouble,
        /// The failed request or file, as the store reported it.
        detail: String,
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

/// Why a store could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trouble {
    /// No answer: connection refused, name not resolved, timed out.
    Unreachable,
    /// The store answered no: a permission, or credentials it does not accept.
    Denied,
    /// The table's log does not parse.
    Corrupt,
}

impl std::fmt::Display for Trouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Unreachable => "the store cannot be reached",
            Self::Denied => "access denied (permission or credentials)",
            Self::Corrupt => "the table's log is corrupt",
        })
    }
}

impl Trouble {
    /// What a user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Unreachable => "check the lake's endpoint (AWS_ENDPOINT_URL or the storage options) and the network; a write that failed committed nothing, so running again once the store answers loses nothing",
            Self::Denied => "check the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE) and that they may read and write this location; for a local lake, the folder's owner and permissions",
            Self::Corrupt => "a commit file under the table's _delta_log/ does not parse: restore it from a backup, or move the table away and rebuild it (`--full-refresh` for a job's table)",
        }
    }

    /// The trouble `e` stands for, from the first cause in its chain that tells.
    pub fn of(e: &(dyn StdError + 'static)) -> Option<Self> {
        let mut text = String::new();
        let mut cause = Some(e);
        while let Some(c) = cause {
            if let Some(t) = Self::typed(c) {
                return Some(t);
            }
            text.push_str(&c.to_string().to_lowercase());
            text.push('\n');
            cause = c.source();
        }
        Self::by_text(&text)
    }

    fn typed(c: &(dyn StdError + 'static)) -> Option<Self> {
        use std::io::ErrorKind as K;
        if let Some(os) = c.downcast_ref::<ObjectStoreError>() {
            return match os {
                ObjectStoreError::PermissionDenied { .. }
                | ObjectStoreError::Unauthenticated { .. } => Some(Self::Denied),
                _ => None,
            };
        }
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                K::PermissionDenied | K::ReadOnlyFilesystem => Some(Self::Denied),
                K::ConnectionRefused
                | K::ConnectionReset
                | K::ConnectionAborted
                | K::TimedOut
                | K::HostUnreachable
                | K::NetworkUnreachable => Some(Self::Unreachable),
                _ => None,
            };
        }
        match c.downcast_ref::<DeltaTableError>() {
            Some(
                DeltaTableError::InvalidJsonLog { .. } | DeltaTableError::SerializeLogJson { .. },
            ) => Some(Self::Corrupt),
            _ => None,
        }
    }

    /// Object stores report most failures as text (an S3 error code, a reqwest cause).
    fn by_text(t: &str) -> Option<Self> {
        const DENIED: &[&str] = &[
            "accessdenied",
            "access denied",
            "invalidaccesskeyid",
            "signaturedoesnotmatch",
            "expiredtoken",
            "invalidtoken",
            "403 forbidden",
            "status: 403",
            "status code: 403",
            "401 unauthorized",
            "permission denied",
        ];
        const UNREACHABLE: &[&str] = &[
            "connection refused",
            "tcp connect error",
            "dns error",
            "failed to lookup address",
            "connection reset",
            "operation timed out",
            "network is unreachable",
            "no route to host",
            "error sending request",
        ];
        const CORRUPT: &[&str] = &["json error", "invalid json", "whilst parsing"];
        if DENIED.iter().any(|p| t.contains(p)) {
            Some(Self::Denied)
        } else if UNREACHABLE.iter().any(|p| t.contains(p)) {
            Some(Self::Unreachable)
        } else if CORRUPT.iter().any(|p| t.contains(p)) {
            Some(Self::Corrupt)
        } else {
            None
        }
    }
}

/// The text that says what failed: the object store's own report (the request, its
/// retries, the cause) rather than a wrapper's name for it ("Failed to parse parquet"
/// for a PUT that got no answer).
fn detail_of(e: &(dyn StdError + 'static)) -> String {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<ObjectStoreError>() || c.is::<std::io::Error>() {
            return with_causes(c);
        }
        cause = c.source();
    }
    with_causes(e)
}

/// `e` and the causes below it that its text does not already quote.
fn with_causes(e: &(dyn StdError + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let t = c.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        cause = c.source();
    }
    text
}

impl LakeError {
    /// A delta-rs error while doing `what` to `table`, classified.
    pub fn delta(table: impl std::fmt::Display, what: &str, e: DeltaTableError) -> Self {
        match Trouble::of(&e) {
            Some(trouble) => Self::Store {
                table: table.to_string(),
                what: what.to_string(),
                trouble,
                detail: detail_of(&e),
            },
            None => Self::Delta {
                table: table.to_string(),
                what: what.to_string(),
                source: Box::new(e),
            },
        }
    }

    /// A store (or file system) error while doing `what` to `table`, classified.
    pub fn store(table: impl std::fmt::Display, what: &str, e: &(dyn StdError + 'static)) -> Self {
        match Trouble::of(e) {
            Some(trouble) => Self::Store {
                table: table.to_string(),
                what: what.to_string(),
                trouble,
                detail: detail_of(e),
            },
            // Not one lakectl tells apart (a full disk, a name the store refuses): as it was.
            None => Self::Delta {
                table: table.to_string(),
                what: what.to_string(),
                source: Box::new(DeltaTableError::Generic(with_causes(e))),
            },
        }
    }
}

impl ExitCode for LakeError {
    fn exit_code(&self) -> u8 {
        match self {
            Self::Conflict { .. } => TAKEN_OVER,
            _ => LAKE,
        }
    }
}

/// Keeps out of the terminal the one panic delta-rs catches itself: object_store's
/// `BufWriter::abort` ("Already shut down") when an upload failed at its completion.
/// delta-rs then reports the failed upload, which lakectl shows classified; any other
/// panic is printed as before.
pub fn quiet_caught_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str));
        let in_object_store = info.location().is_some_and(|l| {
            l.file().contains("object_store") && l.file().ends_with("buffered.rs")
        });
        if in_object_store && msg == Some("Already shut down") {
            tracing::debug!("an upload failed at its completion; delta-rs reports it");
            return;
        }
        default(info);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn troubles_are_told_apart_by_type_and_by_the_store_text() {
        let io = |k| DeltaTableError::Io {
            source: std::io::Error::new(k, "x"),
        };
        assert_eq!(
            Trouble::of(&io(std::io::ErrorKind::PermissionDenied)),
            Some(Trouble::Denied)
        );
        assert_eq!(
            Trouble::of(&io(std::io::ErrorKind::ConnectionRefused)),
            Some(Trouble::Unreachable)
        );
        assert_eq!(Trouble::of(&io(std::io::ErrorKind::Other)), None);
        let generic = |m: &str| DeltaTableError::Generic(m.to_string());
        assert_eq!(
            Trouble::of(&generic("Error performing GET http://h/b in 2s, after 10 retries - HTTP error: error sending request: client error (Connect): tcp connect error: Connection refused (os error 111)")),
            Some(Trouble::Unreachable)
        );
        assert_eq!(
            Trouble::of(&generic(
                "Client error with status 403 Forbidden: <Code>SignatureDoesNotMatch</Code>"
            )),
            Some(Trouble::Denied)
        );
        assert_eq!(
            Trouble::of(&generic(
                "Json error: Encountered unexpected 'o' whilst parsing literal"
            )),
            Some(Trouble::Corrupt)
        );
        assert_eq!(Trouble::of(&generic("version 3 already exists")), None);
    }

    #[test]
    fn a_failed_put_is_reported_as_the_request_not_as_parquet() {
        let os = ObjectStoreError::Generic {
            store: "S3",
            source:
                "Error performing PUT http://h/b/f.parquet: tcp connect error: Connection refused"
                    .into(),
        };
        let e = DeltaTableError::Parquet {
            source: deltalake::parquet::errors::ParquetError::External(Box::new(os)),
        };
        let l = LakeError::delta("t", "writing parquet", e);
        let shown = l.to_string();
        assert!(
            matches!(
                l,
                LakeError::Store {
                    trouble: Trouble::Unreachable,
                    ..
                }
            ),
            "{shown}"
        );
        assert!(shown.contains("Error performing PUT"), "{shown}");
        assert!(!shown.contains("Failed to parse parquet"), "{shown}");
    }
}
