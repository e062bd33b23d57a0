//! The documented exit codes (`lakectl --help`), and which error means which: one place.
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

impl ExitCode for crate::spec::SpecError {
    fn exit_code(&self) -> u8 {
        SPEC
    }
}

impl ExitCode for crate::kafka::KafkaError {
    fn exit_code(&self) -> u8 {
        KAFKA
    }
}

impl ExitCode for crate::lake::LakeError {
    fn exit_code(&self) -> u8 {
        match self {
            Self::Conflict { .. } => TAKEN_OVER,
            _ => LAKE,
        }
    }
}

impl ExitCode for crate::bronze::BronzeError {
    fn exit_code(&self) -> u8 {
        use crate::bronze::BronzeError as E;
        match self {
            E::Kafka { source, .. } => source.exit_code(),
            E::Lake { source, .. } => source.exit_code(),
            E::OwnershipLost { .. } => TAKEN_OVER,
            E::Partitions { .. } => USAGE,
            E::Batch { .. } | E::Spec { .. } | E::Runtime { .. } => FAILURE,
        }
    }
}

impl ExitCode for crate::silver::SilverError {
    fn exit_code(&self) -> u8 {
        use crate::silver::SilverError as E;
        match self {
            E::Lake { source, .. } => source.exit_code(),
            E::NoSource { .. } => LAKE,
            E::Compute { .. } | E::Expectation { .. } => FAILURE,
        }
    }
}

impl ExitCode for crate::query::QueryError {
    fn exit_code(&self) -> u8 {
        match self {
            Self::Lake(e) => e.exit_code(),
            _ => FAILURE,
        }
    }
}

/// The exit code of an error: that of the outermost cause lakectl knows, else [`FAILURE`].
pub fn of(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        macro_rules! known {
            ($($t:ty),*) => {$(
                if let Some(x) = cause.downcast_ref::<$t>() {
                    return x.exit_code();
                }
            )*};
        }
        known!(
            crate::spec::SpecError,
            crate::kafka::KafkaError,
            crate::lake::LakeError,
            crate::bronze::BronzeError,
            crate::silver::SilverError,
            crate::query::QueryError
        );
    }
    FAILURE
}
