//! lakectl: a real-time sales lakehouse in one binary.
//!
//! Modules follow the pipeline stages: [`spec`] (YAML → validated types), [`kafka`],
//! [`produce`] (the simulator), [`bronze`] (Kafka → Delta, exactly once), [`silver`] (declarative jobs), [`schedule`] (the long-running scheduler), [`lake`] (Delta
//! access and the Polars ↔ Arrow bridge), [`storage`] (where the lake lives: a folder or S3), and [`cli`] (one module per subcommand).

pub mod bronze;
pub mod cli;
pub mod dashboard;
pub mod doctor;
pub mod exit;
pub mod failpoint;
pub mod kafka;
pub mod lake;
pub mod metrics;
pub mod produce;
pub mod query;
pub mod redact;
pub mod schedule;
pub mod serve;
pub mod shutdown;
pub mod silver;
pub mod spec;
pub mod status;
pub mod storage;
pub mod term;
