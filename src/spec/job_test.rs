//! Job-test files (`jobs/tests/*.yaml`, run by `lakectl test`): the raw serde types. Running
//! them is `silver::test`'s.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

/// One row: column → value.
pub type Row = serde_json::Map<String, serde_json::Value>;

/// A test file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTestFile {
    /// The job under test.
    pub job: String,
    /// Test name → test.
    pub tests: IndexMap<String, RawTest>,
}

/// One test.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTest {
    /// What it shows.
    #[serde(default)]
    pub description: Option<String>,
    /// Source table (any name of a table the job reads) → its rows; columns not named are null.
    pub given: IndexMap<String, Vec<Row>>,
    /// The job's output rows, compared on the columns they name, in any order.
    pub expect: Vec<Row>,
}
