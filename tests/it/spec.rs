//! Spec loading: the shipped pipelines.yaml validates; broken specs give located errors.

use std::path::Path;
use std::process::Command;

use lakectl::spec::{load_pipeline, load_pipeline_str, LatePolicy, SpecError};

fn errors(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/specs")
        .join(file);
    match load_pipeline(&path) {
        Err(SpecError::Invalid(d)) => d.to_string().replace(&format!("{}", path.display()), file),
        other => panic!("{file} should be invalid, got {other:?}"),
    }
}

#[test]
fn shipped_pipelines_yaml_validates() {
    let spec = load_pipeline(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines.yaml"))
        .expect("valid");
    let b = spec.bronze("ventes").expect("ventes pipeline");
    assert_eq!(b.topic, "ventes_stream");
    assert_eq!(b.schema.len(), 11);
    assert_eq!(b.partition_by, vec!["jour"]);
    assert_eq!(b.late, LatePolicy::Quarantine);
    assert_eq!(b.batch.max_records, 50_000);
    assert_eq!(b.batch.max_bytes, 64 << 20);
    assert_eq!(b.watermark.as_secs(), 600);
    assert!(
        spec.lake.local_path().unwrap().ends_with("lake"),
        "{:?}",
        spec.lake
    );
    assert!(spec.jobs_dir.ends_with("jobs/") || spec.jobs_dir.ends_with("jobs"));
}

#[test]
fn validate_command_prints_ok_and_lists_problems() {
    let bin = env!("CARGO_BIN_EXE_lakectl");
    let ok = Command::new(bin)
        .args([
            "--config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/pipelines.yaml"),
            "validate",
        ])
        .output()
        .unwrap();
    assert!(ok.status.success());
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "ok");

    let bad = Command::new(bin)
        .args([
            "--config",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/specs/bad_values.yaml"
            ),
            "validate",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(3), "invalid spec exit code");
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("bad_values.yaml:10:17: event_time `timestmp` is not a column of the schema"),
        "{err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );

    let missing = Command::new(bin)
        .args(["--config", "/nonexistent/pipelines.yaml", "validate"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&missing.stderr)
        .contains("cannot read spec /nonexistent/pipelines.yaml"));
}

#[test]
fn unknown_keys_are_all_reported_with_suggestions() {
    let e = errors("unknown_keys.yaml");
    assert!(
        e.contains("unknown_keys.yaml:3:3: unknown key `optoins`"),
        "{e}"
    );
    assert!(e.contains("did you mean `options`?"), "{e}");
    assert!(
        e.contains("unknown_keys.yaml:12:5: unknown key `watermrk`"),
        "{e}"
    );
    assert!(e.contains("did you mean `watermark`?"), "{e}");
    assert!(e.contains("2 problems found"), "{e}");
}

#[test]
fn bad_values_are_all_reported_at_their_location() {
    let e = errors("bad_values.yaml");
    for expected in [
        "bad_values.yaml:9:61: column `montant`: unknown type `money`",
        "bad_values.yaml:10:17: event_time `timestmp` is not a column of the schema",
        "did you mean `timestamp`?",
        "bad_values.yaml:11:16: bad watermark: unknown duration unit `minutes` in `10 minutes`",
        "bad_values.yaml:12:11: `bronze[0].late`: unknown variant `later`",
        "use one of: quarantine, drop",
        "bad_values.yaml:13:20: partition column `jour` is neither a schema nor a derived column",
        "bad_values.yaml:14:26: max_records must be positive, got -5",
        "bad_values.yaml:14:41: bad max_bytes: unknown size unit `parsecs`",
        "bad_values.yaml:14:63: bad max_wait: `soon` is not a duration",
    ] {
        assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
    }
}

#[test]
fn duplicates_are_reported() {
    let e = errors("duplicates.yaml");
    assert!(
        e.contains("duplicates.yaml:11:11: duplicate bronze pipeline name `ventes`"),
        "{e}"
    );
    assert!(
        e.contains(
            "duplicates.yaml:13:12: table `bronze/t` is already written by another pipeline"
        ),
        "{e}"
    );
    assert!(
        e.contains("duplicates.yaml:16:17: event_time column `id` is long, not timestamp"),
        "{e}"
    );
}

#[test]
fn undefined_env_var_without_default() {
    let e = errors("undefined_env.yaml");
    assert!(e.contains("undefined_env.yaml:2:12: environment variable `LAKECTL_TEST_SURELY_UNDEFINED` is not set and has no default"), "{e}");
    assert!(e.contains("${NAME:-default}"), "{e}");
}

#[test]
fn yaml_syntax_error_is_located() {
    let e = errors("bad_yaml.yaml");
    assert!(e.starts_with("bad_yaml.yaml:3:"), "{e}");
    assert!(e.contains("invalid YAML"), "{e}");
}

#[test]
fn bad_derive_expressions_are_reported() {
    let e = errors("bad_derive.yaml");
    assert!(
        e.contains("bad_derive.yaml:11:20: derive `jour`: unable to parse"),
        "{e}"
    );
    assert!(
        e.contains("bad_derive.yaml:11:44: derived column `vente_id` is already a schema column"),
        "{e}"
    );
}

#[test]
fn env_substitution_and_relative_paths() {
    // Only this test sets these variables.
    std::env::set_var("LAKECTL_TEST_BROKERS", "kafka-1:9093,kafka-2:9093");
    let text = "kafka:\n  brokers: ${LAKECTL_TEST_BROKERS}\n  options: {client.id: '${LAKECTL_TEST_CLIENT:-lakectl-test}'}\nlake: ${LAKECTL_TEST_LAKE_UNSET:-data/lake}\n";
    let spec = load_pipeline_str(Path::new("/srv/conf/pipelines.yaml"), text).expect("valid");
    assert_eq!(spec.kafka.brokers, "kafka-1:9093,kafka-2:9093");
    assert_eq!(
        spec.kafka.options.get("client.id").map(String::as_str),
        Some("lakectl-test")
    );
    assert_eq!(
        spec.lake.local_path().unwrap(),
        Path::new("/srv/conf/data/lake")
    );
    assert_eq!(spec.jobs_dir, Path::new("/srv/conf/jobs/"));
}

/// The committed JSON Schemas, checked by the reference validator (Python `jsonschema`, which
/// `scripts/test.sh` installs and names in LAKECTL_TEST_PYTHON): the shipped YAML files
/// validate, misspelled keys and unknown enum values are rejected.
#[test]
fn the_json_schemas_accept_the_shipped_files_and_reject_misspelled_keys() {
    let Some(python) = crate::common::test_python() else {
        return;
    };
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(python)
        .arg(repo.join("scripts/check_schemas.py"))
        .arg(repo)
        .output()
        .expect("run the schema check");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("ok: a job's groupby (misspelled) is rejected"),
        "{text}"
    );
    assert_eq!(text.matches("ok: ").count(), text.lines().count(), "{text}");
}

#[test]
fn storage_options_and_lake_urls_are_checked_with_positions() {
    let spec = |body: &str| {
        let text = format!("kafka:\n  brokers: k:9092\n{body}");
        load_pipeline_str(Path::new("/srv/p.yaml"), &text)
    };
    let ok = spec("lake: s3://bucket/lake\nstorage:\n  endpoint: http://127.0.0.1:9000\n  allow_http: true\n  aws_virtual_hosted_style_request: false\n")
        .expect("valid");
    assert!(ok.lake.is_remote());
    assert_eq!(ok.lake.to_string(), "s3://bucket/lake");
    assert_eq!(
        ok.lake.options().get("aws_endpoint"),
        Some("http://127.0.0.1:9000")
    );
    assert_eq!(ok.lake.options().get("aws_allow_http"), Some("true"));
    let err = |body: &str| match spec(body) {
        Err(SpecError::Invalid(d)) => d.to_string(),
        other => panic!("expected diagnostics, got {other:?}"),
    };
    let e = err("lake: s3://bucket/lake\nstorage:\n  endpont: http://x\n");
    assert!(e.contains("p.yaml:5:3"), "{e}");
    assert!(
        e.contains("unknown storage option `endpont`") && e.contains("did you mean `endpoint`?"),
        "{e}"
    );
    let e = err("lake: ./lake\nstorage:\n  region: eu-west-3\n");
    assert!(e.contains("`lake` is a local folder"), "{e}");
    let e = err("lake: gs://bucket/lake\n");
    assert!(
        e.contains("p.yaml:3:7") && e.contains("unsupported storage scheme"),
        "{e}"
    );
    let e = err("lake: s3://AKIAKEY:v3ry-s3cret@bucket/lake\n");
    assert!(
        e.contains("carries credentials") && !e.contains("v3ry-s3cret"),
        "{e}"
    );
}

/// Run from a folder below the spec's (here `jobs/`), lakectl finds `../pipelines.yaml`, and
/// the spec's paths stay relative to the spec's own folder.
#[test]
fn the_spec_is_found_in_a_parent_folder() {
    use crate::common::{brokers, stderr, stdout, Workspace};
    let ws = Workspace::new("specup", 1);
    ws.copy_jobs(&["ventes_par_pays.yaml"]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lakectl"))
        .current_dir(ws.dir.path().join("jobs"))
        .env_remove("LAKECTL_CONFIG")
        .env("KAFKA_BROKERS", brokers())
        .arg("validate")
        .output()
        .expect("run lakectl");
    let text = stdout(&out) + &stderr(&out);
    assert!(out.status.success(), "{text}");
    assert!(stdout(&out).starts_with("ok"), "{text}");
}

/// Every command's `--help` ends with examples, and the top-level help says where to start
/// and what the exit codes mean.
#[test]
fn every_command_has_examples_in_its_help() {
    let help = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_lakectl"))
            .args(args)
            .arg("--help")
            .output()
            .expect("run lakectl");
        assert!(out.status.success(), "{args:?}");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let top = help(&[]);
    assert!(
        top.contains("Start here:") && top.contains("Exit codes:"),
        "{top}"
    );
    for cmd in [
        "validate",
        "topic",
        "produce",
        "run",
        "status",
        "query",
        "dashboard",
        "doctor",
        "optimize",
        "vacuum",
        "history",
        "plan",
        "schema",
        "test",
        "schedule",
        "jobs",
        "watermark",
    ] {
        let h = help(&[cmd]);
        assert!(h.contains("Examples:\n  lakectl "), "{cmd}:\n{h}");
    }
}
