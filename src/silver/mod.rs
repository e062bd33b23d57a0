//! Silver: declarative jobs (`jobs/*.yaml`) turned into Polars plans over the bronze (or
//! another silver) table, checked against the source schemas before anything runs, run
//! partition-wise in bounded chunks or as one streaming plan ([`exec`]), and committed
//! atomically with the source version they read.

pub mod check;
pub mod chunks;
pub mod cluster;
pub mod expect;
pub mod plan;
pub mod prepare;
pub mod run;
pub mod scd2;
pub mod test;

pub use check::{check_jobs, load_and_check, CheckedJobs};
pub use run::{run_job, JobReport, JobStatus};

/// How to run.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Recompute everything, whatever changed.
    pub full_refresh: bool,
    /// Compute and report, but commit nothing.
    pub dry_run: bool,
    /// Set by a run that found its output columns changed by a source's schema (a widened
    /// or new bronze column) rather than by an edit of the job: it runs again from scratch
    /// and rebuilds the table, under `on_schema_change: rebuild`.
    pub source_schema_changed: bool,
}

/// Errors of a silver job, naming the job.
#[derive(Debug, thiserror::Error)]
pub enum SilverError {
    /// The lake failed.
    #[error("job {job}: {source}")]
    Lake {
        /// Job name.
        job: String,
        /// The error.
        source: crate::lake::LakeError,
    },
    /// Polars failed while computing.
    #[error("job {job}: {message}")]
    Compute {
        /// Job name.
        job: String,
        /// What failed.
        message: String,
    },
    /// An expectation with `on_violation: fail` failed; nothing was committed.
    #[error("job {job}: expectation `{expectation}` failed on {rows} row(s) ({check}); nothing was committed")]
    Expectation {
        /// Job name.
        job: String,
        /// Expectation name.
        expectation: String,
        /// The check.
        check: String,
        /// Violating rows.
        rows: usize,
    },
    /// The source table does not exist yet.
    #[error("job {job}: source table {table} does not exist yet\n    hint: {hint}")]
    NoSource {
        /// Job name.
        job: String,
        /// Table.
        table: String,
        /// What creates it.
        hint: String,
    },
}

impl crate::exit::ExitCode for SilverError {
    fn exit_code(&self) -> u8 {
        use crate::exit::{FAILURE, LAKE};
        match self {
            Self::Lake { source, .. } => source.exit_code(),
            Self::NoSource { .. } => LAKE,
            Self::Compute { .. } | Self::Expectation { .. } => FAILURE,
        }
    }
}

impl SilverError {
    /// Wraps a lake error of `job`.
    pub fn lake_of(job: &str) -> impl Fn(crate::lake::LakeError) -> Self + Copy + '_ {
        move |source| Self::Lake {
            job: job.to_string(),
            source,
        }
    }

    /// Wraps a Polars error of `job`.
    pub fn compute_of(job: &str) -> impl Fn(polars::prelude::PolarsError) -> Self + Copy + '_ {
        move |e| Self::Compute {
            job: job.to_string(),
            message: e.to_string(),
        }
    }
}

/// The `txn` appId of a job: its version is the source version read (for a SQL job, the sum
/// of its sources' versions, for display; decisions use [`source_app_id`]).
pub fn app_id(job: &str) -> String {
    format!("lakectl/job/{job}")
}

/// The `txn` appId whose version is the fingerprint of the job's definition
/// ([`crate::spec::job::JobSpec::fingerprint`]).
pub fn definition_app_id(job: &str) -> String {
    format!("lakectl/job/{job}/definition")
}

/// The `txn` appId recording the version a SQL job read of one source table (its path in
/// the lake).
pub fn source_app_id(job: &str, table: &str) -> String {
    format!("lakectl/job/{job}/source/{table}")
}
