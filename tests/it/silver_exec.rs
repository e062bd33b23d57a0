//! How silver jobs execute: partition-wise chunks (their plan, a run cut into one chunk per
//! day checked against the fold, a late failing chunk leaving nothing behind).

use std::collections::BTreeSet;

use crate::common::*;
use crate::silver::{assert_all_three, jour, seed_days, silver_ws};

/// Runs lakectl with partition-wise chunks of one partition each, to completion.
fn chunked(ws: &Workspace, args: &[&str]) -> std::process::Output {
    ws.command(args)
        .env("LAKECTL_CHUNK_ROWS", "1")
        .output()
        .expect("run lakectl")
}

#[test]
fn plan_shows_partition_wise_execution_and_polars_pushdowns() {
    let ws = silver_ws("silver_plan");
    seed_days(&ws, 2000); // three days
    let plan = ws.ok(&["plan", "ventes_aggreges"]);
    assert!(
        plan.contains("execution: partition-wise: the job groups by the source's partition column(s) [\"jour\"]"),
        "{plan}"
    );
    // No select between the scan and the group-by: Polars splits the group-by per partition
    // (a UNION of one aggregation per `jour`), reads only the columns the job uses, and
    // filters in the scan.
    assert!(plan.contains("UNION") && plan.contains("PLAN 1:"), "{plan}");
    assert!(plan.contains("PROJECT 8/"), "{plan}");
    assert!(
        plan.contains("SELECTION:") && plan.contains("(col(\"montant\") > 0.0)"),
        "{plan}"
    );
    for job in ["ventes_par_pays", "ventes_par_segment"] {
        let plan = ws.ok(&["plan", job]);
        assert!(plan.contains("execution: partition-wise"), "{plan}");
        assert!(
            plan.contains("UNION") && plan.contains("SELECTION:"),
            "{plan}"
        );
    }
    // A job that does not group by `jour` runs as one streaming plan, and says why.
    std::fs::write(
        ws.dir.path().join("jobs/par_pays.yaml"),
        "name: par_pays\nfrom: ventes\ngroup_by: [pays]\naggregate: {n: count(*)}\nto: silver/par_pays\n",
    )
    .unwrap();
    let plan = ws.ok(&["plan", "par_pays"]);
    assert!(
        plan.contains("execution: one plan over all files on the streaming engine (the job does not group by a partition column of its source)"),
        "{plan}"
    );
}

#[test]
fn chunked_runs_match_the_fold_and_a_late_failing_chunk_leaves_nothing() {
    let ws = silver_ws("silver_chunks");
    let sales = seed_days(&ws, 3000);
    let plan = stdout(&chunked(&ws, &["plan", "ventes_aggreges"]));
    assert!(
        plan.contains("its 5 source partition(s) run as 5 chunk(s)"),
        "{plan}"
    );
    let out = chunked(&ws, &["run", "silver"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_all_three(&ws, &sales);
    // One commit per job, whatever the number of chunks.
    assert_eq!(table_version(ws.tbl("silver/ventes_aggreges")), 1);

    // A `fail` expectation violated only by the last days' groups: the chunks before them
    // were written, then deleted; the count covers every chunk.
    std::fs::write(
        ws.dir.path().join("jobs/strict_days.yaml"),
        "name: strict_days\nfrom: ventes\ngroup_by: [pays, jour]\naggregate: {n: count(*)}\nexpect:\n  early_only: {check: \"jour < '2024-12-12'\", on_violation: fail}\nto: silver/strict_days\n",
    )
    .unwrap();
    let late: BTreeSet<(String, String)> = sales
        .iter()
        .filter(|s| jour(s).as_str() >= "2024-12-12" && s["montant"].as_f64().is_some())
        .map(|s| (s["pays"].as_str().unwrap_or("").to_string(), jour(s)))
        .collect();
    assert!(!late.is_empty());
    let out = chunked(&ws, &["run", "strict_days"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "expectation `early_only` failed on {} row(s)",
            late.len()
        )),
        "{}",
        stderr(&out)
    );
    let table = ws.table("silver/strict_days");
    assert_eq!(count_rows(&table), 0);
    let mut parquet = Vec::new();
    let mut dirs = vec![table.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                dirs.push(e.path());
            } else if e.path().extension().is_some_and(|x| x == "parquet") {
                parquet.push(e.path());
            }
        }
    }
    assert!(parquet.is_empty(), "uncommitted files left: {parquet:?}");
}
