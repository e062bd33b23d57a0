//! Writers that race on one table: two compactions while bronze appends, a silver job and a
//! compaction of its target, a slowly changing dimension and a compaction. Every command
//! exits 0 (the loser re-plans on the new snapshot) and no row is ever duplicated. Also a
//! widening rewrite racing compactions.

use std::process::{Child, Output, Stdio};
use std::time::Duration;

use crate::common::*;

const SMALL: &str = "{max_records: 20, max_bytes: 1MiB, max_wait: 200ms}";

/// `lakectl <args>` started in the background, its output captured.
fn start(ws: &Workspace, args: &[&str]) -> Child {
    ws.command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start lakectl")
}

/// Waits for `c` and asserts it exited 0.
fn finish(c: Child, what: &str) -> Output {
    let out = c.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{}\n{}",
        out.status.code(),
        stdout(&out),
        stderr(&out)
    );
    out
}

/// Both `optimize` started at once, every round, while bronze appends: each exits 0, the
/// loser of each race retries on the new snapshot (and says so), and every record is in the
/// table once, as Python `deltalake` reads it too.
#[test]
fn two_optimizes_while_bronze_appends_duplicate_nothing() {
    let ws = Workspace::with_batch("opt_opt", 2, SMALL, "");
    ws.produce(600, &["--seed", "31"]);
    let mut bronze = ws
        .command(&["run", "bronze"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start bronze");
    wait_for(60, "bronze's first commits", || {
        ws.tbl("bronze/ventes_stream").exists() && table_version(ws.tbl("bronze/ventes_stream")) > 5
    });
    let mut produced = 600;
    let mut retried = 0;
    let mut committed = 0;
    for round in 0..5 {
        ws.produce(
            400,
            &[
                "--seed",
                &(40 + round).to_string(),
                "--first-id",
                &(100_000 * (round + 1)).to_string(),
            ],
        );
        produced += 400;
        std::thread::sleep(Duration::from_millis(600));
        let a = start(&ws, &["optimize", "ventes", "--json"]);
        let b = start(&ws, &["optimize", "ventes", "--json"]);
        for out in [finish(a, "optimize a"), finish(b, "optimize b")] {
            let r: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
            if r["version"].is_u64() {
                committed += 1;
            }
            if r["attempts"].as_u64().unwrap_or(1) > 1 {
                retried += 1;
                assert!(
                    stderr(&out).contains("retrying on the new snapshot"),
                    "{}",
                    stderr(&out)
                );
            }
        }
    }
    sigterm(&mut bronze);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    assert!(committed >= 5, "{committed} compactions committed");
    assert!(retried >= 1, "no optimize ever lost a race in 5 rounds");
    assert_exactly_once(&ws, produced);
    assert_eq!(count_rows(ws.tbl("bronze/ventes_stream")), produced);
    if let Some((out, _)) = python_check(
        "import sys, deltalake; print(deltalake.DeltaTable(sys.argv[1]).to_pyarrow_table().num_rows)",
        &[&ws.table("bronze/ventes_stream")],
    ) {
        assert_eq!(out.trim(), produced.to_string(), "rows as Python reads them");
    }
}

/// A job with one row per sale (so a duplicate shows), in `mode`, partitioned by country:
/// each day of bronze (a chunk of the run) writes a file to every country, so optimize has
/// files to merge.
fn per_sale_job(name: &str, mode: &str) -> String {
    format!(
        "name: {name}\nfrom: ventes\ngroup_by: [vente_id, jour, pays]\naggregate: {{montant: sum(montant)}}\n\
         to: silver/{name}\nmode: {mode}\npartition_by: [pays]\n"
    )
}

/// The silver table holds every bronze sale once: what a full recomputation gives.
fn assert_recomputed(ws: &Workspace, table: &str, round: usize) {
    let mut bronze = column_strings(ws.tbl("bronze/ventes_stream"), "vente_id");
    let mut silver = column_strings(ws.tbl(table), "vente_id");
    bronze.sort();
    silver.sort();
    let dups = silver.windows(2).filter(|w| w[0] == w[1]).count();
    assert_eq!(dups, 0, "{table}, round {round}: {dups} rows twice");
    assert_eq!(silver, bronze, "{table}, round {round}");
}

/// A silver job and an `optimize` of its target started together, round after round, for
/// each write mode, with several files per partition (small chunks) so that optimize has
/// work: both exit 0 and the table equals a full recomputation after every round.
#[test]
fn a_job_and_an_optimize_of_its_target_at_once_duplicate_nothing() {
    let ws = Workspace::new("job_opt", 2);
    for mode in ["replace_partitions", "overwrite", "append"] {
        let name = format!("per_sale_{mode}");
        std::fs::write(
            ws.dir.path().join(format!("jobs/{name}.yaml")),
            per_sale_job(&name, mode),
        )
        .unwrap();
    }
    // The targets exist before the races (a first run creates them).
    ws.produce(
        500,
        &["--seed", "59", "--start-time", "2024-12-10T00:00:00Z"],
    );
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    for mode in ["replace_partitions", "overwrite", "append"] {
        ws.ok(&["run", &format!("per_sale_{mode}")]);
    }
    let mut retried = 0;
    for round in 0..5 {
        ws.produce(
            3000,
            &[
                "--seed",
                &(60 + round).to_string(),
                "--first-id",
                &(1_000_000 * (round + 1)).to_string(),
                "--start-time",
                "2024-12-10T00:00:00Z",
                "--time-step",
                "60s",
            ],
        );
        ws.ok(&["run", "bronze", "--until-caught-up"]);
        for mode in ["replace_partitions", "overwrite", "append"] {
            let name = format!("per_sale_{mode}");
            let table = format!("silver/{name}");
            let mut job = ws.command(&["run", &name]);
            job.env("LAKECTL_CHUNK_ROWS", "700")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let job = job.spawn().expect("start the job");
            let opt = start(&ws, &["optimize", &table, "--json"]);
            let job = finish(job, &format!("{name}, round {round}"));
            finish(opt, &format!("optimize {table}, round {round}"));
            if stderr(&job).contains("planning again on the new snapshot") {
                retried += 1;
            }
            assert_recomputed(&ws, &table, round as usize);
        }
    }
    // The races are real: runs lost to a compaction and planned again (8 of 15 here).
    assert!(retried >= 1, "no run ever lost to a compaction in 15 races");
}

/// The shipped `dim_clients` (a slowly changing dimension) and an `optimize dim_clients`
/// started together, 50 rounds: exactly one current row per client after every round.
#[test]
fn a_dimension_and_an_optimize_of_it_keep_one_current_row_per_client() {
    let ws = Workspace::new("dim_opt", 2);
    ws.copy_jobs(&["dim_clients.yaml"]);
    ws.produce(
        2000,
        &[
            "--seed",
            "70",
            "--clients",
            "300",
            "--client-changes",
            "0.05",
        ],
    );
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    ws.ok(&["run", "dim_clients"]);
    for round in 0..50 {
        ws.produce(
            60,
            &[
                "--seed",
                &(100 + round).to_string(),
                "--first-id",
                &(10_000 * (round + 1)).to_string(),
                "--clients",
                "300",
                "--client-changes",
                "0.05",
            ],
        );
        ws.ok(&["run", "bronze", "--until-caught-up"]);
        let job = start(&ws, &["run", "dim_clients"]);
        let opt = start(&ws, &["optimize", "dim_clients", "--json"]);
        finish(job, &format!("dim_clients, round {round}"));
        finish(opt, &format!("optimize dim_clients, round {round}"));
        let mut current = std::collections::BTreeMap::<String, usize>::new();
        for r in rows(ws.tbl("silver/dim_clients")) {
            if r["is_current"] == "true" {
                *current.entry(r["client_id"].clone()).or_default() += 1;
            }
        }
        let clients: std::collections::BTreeSet<String> =
            column_strings(ws.tbl("bronze/ventes_stream"), "client_id")
                .into_iter()
                .collect();
        let twice: Vec<_> = current.iter().filter(|(_, n)| **n != 1).take(5).collect();
        assert!(twice.is_empty(), "round {round}: {twice:?}");
        assert_eq!(
            current.len(),
            clients.len(),
            "round {round}: one current row per client"
        );
    }
}

/// A widening rewrite (`quantite: int` → `long`) and compactions of the same table at once:
/// whichever commits first, the other plans again; every row once, and every active file
/// of the wider type (no compaction put narrow files back).
#[test]
fn an_optimize_during_a_widening_rewrite_loses_nothing() {
    let ws = Workspace::with_batch("widen_opt", 2, SMALL, "");
    ws.produce(1500, &["--seed", "71"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    let widened = ws.dir.path().join("widened.yaml");
    let spec = std::fs::read_to_string(ws.config()).unwrap();
    std::fs::write(&widened, spec.replace("quantite: int", "quantite: long")).unwrap();
    ws.produce(200, &["--seed", "72", "--first-id", "100000"]);
    let widen = std::process::Command::new(env!("CARGO_BIN_EXE_lakectl"))
        .current_dir(ws.dir.path())
        .arg("--config")
        .arg(&widened)
        .args(["run", "bronze", "--until-caught-up"])
        .env("KAFKA_BROKERS", brokers())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the widening run");
    let optimizes: Vec<Child> = (0..3)
        .map(|i| {
            std::thread::sleep(Duration::from_millis(150 * i));
            start(&ws, &["optimize", "ventes", "--json"])
        })
        .collect();
    let w = finish(widen, "the widening run");
    let mut raced = stderr(&w).contains("widening conflicted");
    for (i, o) in optimizes.into_iter().enumerate() {
        let o = finish(o, &format!("optimize {i}"));
        raced |= stderr(&o).contains("retrying on the new snapshot");
    }
    assert!(raced, "neither the widening nor an optimize lost a race");
    assert_exactly_once(&ws, 1700);
    let check = r#"
import sys, pyarrow.parquet as pq
from deltalake import DeltaTable
t = DeltaTable(sys.argv[1])
print(t.to_pyarrow_table().num_rows, sorted({str(pq.read_schema(u.replace("file://", "")).field("quantite").type) for u in t.file_uris()}))
"#;
    if let Some((out, err)) = python_check(check, &[&ws.table("bronze/ventes_stream")]) {
        assert_eq!(out, "1700 ['int64']", "{err}");
    }
}
