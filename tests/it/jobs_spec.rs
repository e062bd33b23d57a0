//! Job validation: every shipped job validates; each broken fixture gives located errors.

use std::path::Path;

use lakectl::silver::load_and_check;
use lakectl::spec::{load_pipeline, load_pipeline_str, SpecError};

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The diagnostics of the job folder `dir` (file paths shortened to their names).
fn errors_in(dir: &Path) -> String {
    let spec_path = manifest().join("tests/fixtures/pipelines.yaml");
    let text = std::fs::read_to_string(&spec_path).unwrap().replace(
        "${LAKECTL_TEST_JOBS:-jobs/bad_columns}",
        &dir.display().to_string(),
    );
    let spec = load_pipeline_str(&spec_path, &text).expect("fixture spec is valid");
    match load_and_check(&spec) {
        Err(SpecError::Invalid(d)) => d.to_string().replace(&format!("{}/", dir.display()), ""),
        other => panic!("{} should be invalid, got {other:?}", dir.display()),
    }
}

fn errors(case: &str) -> String {
    errors_in(&manifest().join("tests/fixtures/jobs").join(case))
}

#[test]
fn shipped_jobs_validate() {
    let spec = load_pipeline(&manifest().join("pipelines.yaml")).expect("valid spec");
    let checked = load_and_check(&spec).expect("shipped jobs are valid");
    let names: Vec<&str> = checked.jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "dim_clients",
            "rfm_clients",
            "ventes_aggreges",
            "ventes_par_pays",
            "ventes_par_produit",
            "ventes_par_segment"
        ]
    );
    let s = &checked.schemas["ventes_aggreges"];
    for c in [
        "client_id",
        "total_depense",
        "nb_achats",
        "panier_moyen",
        "nb_produits_distincts",
        "est_client_fidele",
        "segment_depense",
        "jour",
    ] {
        assert!(s.get(c).is_some(), "ventes_aggreges lacks {c}");
    }
    let p = checked.job("ventes_aggreges").unwrap().policy;
    assert_eq!(p.retries, 2);
    assert_eq!(p.timeout, Some(std::time::Duration::from_secs(600)));
    assert_eq!(
        spec.scheduler.grace_period,
        std::time::Duration::from_secs(30)
    );
    // The fixture spec itself (default jobs folder is broken on purpose) parses.
    assert!(load_pipeline(&manifest().join("tests/fixtures/pipelines.yaml")).is_ok());
}

#[test]
fn unknown_columns_and_type_errors() {
    let e = errors("bad_columns");
    for expected in [
        "job.yaml:3:8: `where`:",
        "did you mean `montant`?",
        "job.yaml:4:23: unknown column `jur` in group_by (source `ventes`)",
        "did you mean `jour`?",
        "job.yaml:6:10: `aggregate.total`: sum() needs a numeric column, but `client_nom` is str",
        "job.yaml:8:6: `aggregate.m`:",
    ] {
        assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
    }
}

#[test]
fn derive_having_expect_and_partitions_over_missing_columns() {
    let e = errors("derive_missing");
    for expected in [
        "job.yaml:7:9: `derive.flag`:",
        "did you mean `n`?",
        "job.yaml:8:9: `having`:",
        "job.yaml:10:17: `expect.sane.check` must be a boolean expression",
        "job.yaml:12:16: partition column `jour` is not an output column of the job",
    ] {
        assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
    }
}

#[test]
fn cycles_are_rejected() {
    let e = errors("cycle");
    assert!(
        e.contains("a.yaml:2:7: jobs read each other in a cycle"),
        "{e}"
    );
    assert!(
        e.contains("b.yaml:2:7: jobs read each other in a cycle"),
        "{e}"
    );
}

#[test]
fn duplicates_bad_cron_unknown_keys_tables_and_zones() {
    let e = errors("dupes");
    for expected in [
        "one.yaml:2:11: invalid cron `61 * * * *`",
        "two.yaml:2:1: unknown key `shedule`",
        "did you mean `schedule`?",
        "two.yaml:3:11: unknown time zone `Mars/Olympus`",
        "two.yaml:7:7: `mode`: unknown variant `sometimes`",
    ] {
        assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
    }
    // `mode` was invalid, so two.yaml stops there; fix it and the cross-file checks show.
    let dir = tempfile::tempdir().unwrap();
    for f in ["one.yaml", "two.yaml"] {
        let t = std::fs::read_to_string(manifest().join("tests/fixtures/jobs/dupes").join(f))
            .unwrap()
            .replace("mode: sometimes\n", "")
            .replace("shedule", "schedule")
            .replace("61 * * * *", "@daily")
            .replace("Mars/Olympus", "Europe/Paris");
        std::fs::write(dir.path().join(f), t).unwrap();
    }
    let spec_text = std::fs::read_to_string(manifest().join("tests/fixtures/pipelines.yaml"))
        .unwrap()
        .replace(
            "${LAKECTL_TEST_JOBS:-jobs/bad_columns}",
            &dir.path().display().to_string(),
        );
    let spec = load_pipeline_str(
        &manifest().join("tests/fixtures/pipelines.yaml"),
        &spec_text,
    )
    .unwrap();
    let e = match load_and_check(&spec) {
        Err(SpecError::Invalid(d)) => d.to_string(),
        other => panic!("expected errors, got {other:?}"),
    };
    assert!(e.contains("two.yaml:1:7: duplicate job name `same`"), "{e}");
    assert!(
        e.contains("two.yaml:7:5: table `silver/same` is also the target of job `same`"),
        "{e}"
    );
    assert!(
        e.contains("two.yaml:4:7: unknown table `silver/nope`"),
        "{e}"
    );
}

#[test]
fn scheduling_keys_are_checked() {
    let e = errors("bad_policy");
    for expected in [
        "a.yaml:7:14: `concurrency`: unknown variant `sometimes`",
        "b.yaml:2:1: `catchup` only applies to a job with a `schedule`",
        "b.yaml:3:10: bad `timeout`:",
    ] {
        assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
    }
    // `a` fails on `concurrency` at the serde step; the value checks are seen once it is fixed.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(manifest().join("tests/fixtures/jobs/bad_policy/a.yaml"))
        .unwrap()
        .replace("concurrency: sometimes\n", "");
    std::fs::write(dir.path().join("a.yaml"), text).unwrap();
    let e = errors_in(dir.path());
    for expected in [
        "a.yaml:3:10: `timeout` must be more than zero",
        "a.yaml:6:18: `retry_max_delay` (10s) is shorter than `retry_delay` (1m)",
    ] {
        assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
    }
}

#[test]
fn scd2_and_cluster_mistakes_are_located() {
    let e = errors("bad_modes");
    for expected in [
        "grouped.yaml:3:1: `group_by` cannot be combined with `scd2`",
        "dim.yaml:4:10: unknown column `client_idd` in scd2 (source `ventes`)",
        "did you mean `client_id`?",
        "dim.yaml:6:13: `scd2.order_by` must be a time or a number, but `client_nom` is str",
        "rfm.yaml:7:6: `cluster.k` must be between 2 and 1000, not 1",
        "centres.yaml:7:12: `bronze/ventes_stream` is already a table of the lake",
        "daily.yaml:5:1: `cluster` needs `mode: overwrite`",
    ] {
        assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
    }
}

#[test]
fn cluster_features_must_be_numeric_output_columns() {
    // (Spec-level mistakes above stop before the column checks; these run on a valid spec.)
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rfm.yaml"),
        "name: rfm\nfrom: ventes\ngroup_by: [client_id]\naggregate: {n: count(*), nom: first(client_nom)}\ncluster:\n  features: [n, total, nom]\nto: silver/rfm\n",
    )
    .unwrap();
    let e = errors_in(dir.path());
    for expected in [
        "rfm.yaml:6:17: `total` is not an output column of the job",
        "rfm.yaml:6:24: cluster feature `nom` must be numeric, but it is str",
    ] {
        assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
    }
}
