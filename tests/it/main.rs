//! The integration tests, as ONE test binary: each binary links polars + deltalake +
//! rdkafka, so one binary instead of one per file saves a link per file on every build.
//! Tests run against the real broker that `scripts/test.sh` starts and real Delta tables in
//! temporary folders; helpers shared by every module are in `tests/common/`.

// The helpers are `pub` for every test module of this one crate (the library's
// `unreachable_pub` lint has nothing to say about a test binary).
#![allow(unreachable_pub)]

#[path = "../common/mod.rs"]
mod common;

mod bronze;
mod build;
mod dashboard;
mod doctor;
mod edges;
mod evolution;
mod guarantees;
mod jobs_spec;
mod maintenance;
mod newcomer;
mod produce;
mod query;
mod races;
mod s3;
mod schedule;
mod segments;
mod serve;
mod silver;
mod silver_exec;
mod spec;
mod status;
