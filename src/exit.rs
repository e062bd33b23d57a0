//! The documented exit codes (`lakectl --help`). Each error type says which is its own, in
//! its own module ([`ExitCode`]); `cli::exit_code` finds it in an error's chain.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | runtime failure (and failed `doctor` checks) |
//! | 2 | bad command line |
//! | 3 | invalid spec |
//! | 4 | Kafka: unreachable broker, missing topic, data loss, offsets past the end |
//! | 5 | lake (Delta) error |
//! | 6 | another writer took over (partitions, or a concurrent run of the same job) |
//! | 130 | interrupted twice |

/// Runtime failure.
pub const FAILURE: u8 = 1;
/// Bad command line.
pub const USAGE: u8 = 2;
/// Invalid spec.
pub const SPEC: u8 = 3;
/// Kafka error.
pub const KAFKA: u8 = 4;
/// Lake (Delta) error.
pub const LAKE: u8 = 5;
/// Another writer took over.
pub const TAKEN_OVER: u8 = 6;
/// Interrupted twice.
pub const INTERRUPTED: u8 = 130;

/// An error that knows its exit code.
pub trait ExitCode {
    /// The documented exit code of this error.
    fn exit_code(&self) -> u8;
}
