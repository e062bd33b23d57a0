//! The editor schema: JSON Schemas (draft 2020-12) of `pipelines.yaml`, job files and job-test
//! files, generated from the raw spec types (`lakectl schema`), committed in `schemas/` and
//! referenced by the shipped YAML files (`# yaml-language-server: $schema=…`), so editors
//! complete and check keys. A test keeps the committed files equal to the generated ones.

use schemars::JsonSchema;

/// A value, or a string standing for one: a `${VAR}` reference, or a size such as `64MiB`.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum Lenient<T> {
    /// The value itself.
    Value(T),
    /// `${VAR}`, `${VAR:-default}`, or a unit string.
    Text(String),
}

/// Which file a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaKind {
    /// `pipelines.yaml`.
    Pipelines,
    /// A job file (`jobs/*.yaml`).
    Job,
    /// A job-test file (`jobs/tests/*.yaml`).
    JobTest,
}

impl SchemaKind {
    /// Every kind.
    pub const ALL: [SchemaKind; 3] = [Self::Pipelines, Self::Job, Self::JobTest];

    /// The committed file's name in `schemas/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Pipelines => "pipelines.schema.json",
            Self::Job => "job.schema.json",
            Self::JobTest => "job-test.schema.json",
        }
    }

    /// The schema, pretty-printed, with a final newline.
    pub fn json(self) -> String {
        let schema = match self {
            Self::Pipelines => schemars::schema_for!(super::raw::RawPipelineFile),
            Self::Job => schemars::schema_for!(super::job::RawJob),
            Self::JobTest => schemars::schema_for!(super::job_test::RawTestFile),
        };
        let mut text = serde_json::to_string_pretty(&schema)
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_schemas_are_the_generated_ones() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
        for kind in SchemaKind::ALL {
            let committed = std::fs::read_to_string(dir.join(kind.file_name())).unwrap_or_default();
            assert!(
                committed == kind.json(),
                "schemas/{} is out of date: run `lakectl schema {} > schemas/{}`",
                kind.file_name(),
                match kind {
                    SchemaKind::Pipelines => "pipelines",
                    SchemaKind::Job => "job",
                    SchemaKind::JobTest => "job-test",
                },
                kind.file_name()
            );
        }
    }

    #[test]
    fn unknown_keys_are_closed_and_lenient_values_open() {
        let job: serde_json::Value =
            serde_json::from_str(&SchemaKind::Job.json()).unwrap_or_default();
        assert_eq!(job["additionalProperties"], serde_json::json!(false));
        assert!(job["properties"]["group_by"].is_object());
        let p: serde_json::Value =
            serde_json::from_str(&SchemaKind::Pipelines.json()).unwrap_or_default();
        assert_eq!(p["additionalProperties"], serde_json::json!(false));
        assert!(p["properties"]["bronze"]["items"]["$ref"]
            .as_str()
            .is_some_and(|r| r.ends_with("RawBronze")));
    }
}
