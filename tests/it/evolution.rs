//! Changing the pipeline by editing YAML while `lakectl schedule` runs: bronze evolves its
//! table in place, a job rebuilds, other readers see the evolved tables.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::common::*;
use crate::schedule::{log_text, schedule_bg, write_job};

#[test]
fn editing_yaml_while_scheduled_evolves_bronze_and_a_job_without_a_restart() {
    let ws = Workspace::new("sched_evolve", 1);
    let now = Utc::now() - chrono::Duration::minutes(2);
    let at = |i: i64| (now + chrono::Duration::milliseconds(i)).to_rfc3339();
    let old: Vec<Option<Vec<u8>>> = (1..=50)
        .map(|i| Some(sale(i, &at(i), serde_json::json!({}))))
        .collect();
    send_raw(&ws.topic, 0, &old);
    write_job(
        &ws,
        "remises.yaml",
        "name: remises\nschedule: \"* * * * * *\"\nfrom: ventes\ngroup_by: [pays, jour]\naggregate: {n: count(*), revenue: sum(montant)}\nto: silver/remises\npartition_by: [jour]\n",
    );
    let mut s = schedule_bg(&ws, &[]);
    let total = |col: &str| -> f64 {
        let t = ws.table("silver/remises");
        if !t.join("_delta_log").exists() {
            return 0.0;
        }
        // A column the table does not have yet counts as 0.
        rows(&t)
            .iter()
            .map(|r| {
                r.get(col)
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(0.0)
            })
            .sum()
    };
    wait_for(60, "the job to see the first 50 sales", || {
        total("n") == 50.0
    });
    let bronze = ws.table("bronze/ventes_stream");
    let table_id = |t: &std::path::Path| {
        with_table(t, |d| {
            d.snapshot()
                .map(|s| s.metadata().id().to_string())
                .unwrap_or_default()
        })
    };
    let id = table_id(&bronze);

    // Producers start sending `remise`; the user adds it to the bronze schema…
    let spec = std::fs::read_to_string(ws.config()).unwrap();
    std::fs::write(
        ws.config(),
        spec.replace("segment: string}", "segment: string, remise: double}"),
    )
    .unwrap();
    // Applied when the restarted pipeline has evolved the table (records sent before that
    // are read with the old schema, which ignores the field: the order a user follows too).
    wait_for(30, "bronze to add the column to its table", || {
        with_table(&bronze, |d| {
            d.snapshot()
                .map(|s| s.schema().field("remise").is_some())
                .unwrap_or(false)
        })
    });
    let new: Vec<Option<Vec<u8>>> = (51..=80)
        .map(|i| Some(sale(i, &at(i), serde_json::json!({"remise": 1.5}))))
        .collect();
    send_raw(&ws.topic, 0, &new);
    // …and an aggregate over it to the job.
    write_job(
        &ws,
        "remises.yaml",
        "name: remises\nschedule: \"* * * * * *\"\nfrom: ventes\ngroup_by: [pays, jour]\naggregate: {n: count(*), revenue: sum(montant), total_remise: sum(remise)}\nto: silver/remises\npartition_by: [jour]\n",
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(total("n") == 80.0 && (total("total_remise") - 45.0).abs() < 1e-9) {
        assert!(
            Instant::now() < deadline,
            "the job did not aggregate the new column over all 80 sales: n={} total_remise={}, bronze rows {}\nscheduler log:\n{}",
            total("n"),
            total("total_remise"),
            count_rows(ws.tbl("bronze/ventes_stream")),
            log_text(&ws)
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Bronze evolved in place (same table, history kept); old rows read null; nothing lost
    // or duplicated; no restart, no manual step.
    assert_eq!(table_id(&bronze), id);
    // (Files written before the change have no `remise` at all: readers fill in null.)
    assert_eq!(count_rows(&bronze), 80);
    let remise = column_strings(&bronze, "remise");
    assert_eq!(
        remise.iter().filter(|v| v.as_str() == "1.5").count(),
        30,
        "{remise:?}"
    );
    assert!(
        remise.iter().all(|v| v == "1.5" || v == "null"),
        "{remise:?}"
    );
    let ids: std::collections::BTreeSet<String> =
        column_strings(&bronze, "vente_id").into_iter().collect();
    assert_eq!(ids.len(), 80);
    assert_eq!(count_rows(ws.tbl("bronze/ventes_quarantine")), 0);
    // Not `--limit 1`: a later scheduled run may have committed since.
    let hist = ws.ok(&["history", "remises", "--limit", "100"]);
    assert!(hist.contains("output columns changed"), "{hist}");
    assert!(sigterm(&mut s.0).success());

    // Other readers see the evolved tables: Python `deltalake`, and DuckDB over its Arrow.
    let check = r#"
import sys, duckdb
from deltalake import DeltaTable
b = DeltaTable(sys.argv[1]).to_pyarrow_table()
s = DeltaTable(sys.argv[2]).to_pyarrow_table()
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
print(con.execute("select count(*), count(remise), sum(remise) from b").fetchone(),
      con.execute("select sum(n), sum(total_remise) from s").fetchone())
sys.stdout.flush()
import os; os._exit(0)
"#;
    let remises = ws.table("silver/remises");
    let Some((out, err)) = python_check(check, &[&bronze, &remises]) else {
        return;
    };
    assert_eq!(out, "(80, 30, 45.0) (80, 45.0)", "{err}");
}

#[test]
fn widening_a_bronze_column_rewrites_the_table_once_keeping_data_offsets_and_history() {
    let ws = Workspace::new("widen", 2);
    ws.produce(200, &["--seed", "51"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    write_job(
        &ws,
        "qty.yaml",
        "name: qty\nfrom: ventes\ngroup_by: [pays]\naggregate: {n: count(*), q: sum(quantite)}\nto: silver/qty\n",
    );
    ws.ok(&["run", "qty"]);
    let bronze = ws.table("bronze/ventes_stream");
    let before: BTreeMap<String, String> = rows(&bronze)
        .into_iter()
        .map(|r| (r["vente_id"].clone(), r["quantite"].clone()))
        .collect();
    let meta = |t: &std::path::Path| {
        with_table(t, |d| {
            let s = d.snapshot().expect("snapshot");
            (
                s.metadata().id().to_string(),
                format!(
                    "{:?}",
                    s.schema().field("quantite").expect("quantite").data_type()
                ),
            )
        })
    };
    let (id, ty) = meta(&bronze);
    assert!(ty.contains("Integer"), "{ty}");

    let spec = std::fs::read_to_string(ws.config()).unwrap();
    std::fs::write(ws.config(), spec.replace("quantite: int", "quantite: long")).unwrap();
    let out = ws.ok(&["validate"]);
    assert!(
        out.contains("pending schema change, applied by the next run in one commit that rewrites the table's")
            && out.contains("ALTER COLUMN quantite integer → long"),
        "{out}"
    );
    assert!(
        meta(&bronze).1.contains("Integer"),
        "validate changed nothing"
    );

    // The next run widens first, then ingests the new records with the wider type.
    ws.produce(100, &["--seed", "52", "--first-id", "1000"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    let (id_after, ty_after) = meta(&bronze);
    assert_eq!(id_after, id, "the same table");
    assert!(ty_after.contains("Long"), "{ty_after}");
    // Every record once (the offsets in the table survived the rewrite), old values intact.
    assert_exactly_once(&ws, 300);
    let after: BTreeMap<String, String> = rows(&bronze)
        .into_iter()
        .map(|r| (r["vente_id"].clone(), r["quantite"].clone()))
        .collect();
    for (k, v) in &before {
        assert_eq!(after.get(k), Some(v), "vente_id {k}");
    }
    // Run again: nothing new, the widening is not repeated.
    let version = table_version(&bronze);
    let out = ws.ok(&["run", "bronze", "--until-caught-up"]);
    assert!(out.contains("0 consumed"), "{out}");
    assert_eq!(table_version(&bronze), version);
    let hist = ws.ok(&["history", "ventes"]);
    assert!(
        hist.contains("ALTER COLUMN quantite integer → long")
            && hist.contains("file(s) rewritten with the wider types"),
        "{hist}"
    );

    // The incremental job sees the rewrite as no new data: its totals match bronze.
    ws.ok(&["run", "qty"]);
    let total = |t: &std::path::Path, c: &str| rows(t).iter().map(|r| num(r, c)).sum::<f64>();
    assert_eq!(total(&ws.table("silver/qty"), "n"), 300.0);
    assert_eq!(
        total(&ws.table("silver/qty"), "q"),
        total(&bronze, "quantite")
    );
    let hist = ws.ok(&["history", "qty", "--limit", "1"]);
    assert!(
        hist.contains("a source's schema changed the job's output; output columns changed (- column `q` is integer in the table but long in the spec): table rebuilt"),
        "{hist}"
    );

    let check = r#"
import sys, duckdb
from deltalake import DeltaTable
b = DeltaTable(sys.argv[1]).to_pyarrow_table()
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
print(b.schema.field("quantite").type, con.execute("select count(*), count(distinct vente_id), sum(quantite) from b").fetchone())
sys.stdout.flush()
import os; os._exit(0)
"#;
    let Some((out, err)) = python_check(check, &[&bronze]) else {
        return;
    };
    assert_eq!(
        out,
        format!("int64 (300, 300, {})", total(&bronze, "quantite") as i64),
        "{err}"
    );
}

#[test]
fn a_worker_widening_the_table_under_another_loses_nothing_and_leaves_no_narrow_file() {
    let ws = Workspace::new("widen_race", 2);
    ws.produce(200, &["--seed", "61"]);
    let log = ws.dir.path().join("a.log");
    // (Killed when the test fails before it stops.)
    let mut a = crate::schedule::Sched(
        ws.command(&["run", "bronze", "--worker", "0/2"])
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start worker 0"),
    );
    let bronze = ws.table("bronze/ventes_stream");
    wait_for(60, "worker 0 to commit its partition", || {
        bronze.join("_delta_log").exists() && count_rows(&bronze) > 0
    });

    // Worker 1 runs with the edited spec: it widens the table while worker 0 keeps writing
    // with the old one.
    let widened = ws.dir.path().join("widened.yaml");
    let spec = std::fs::read_to_string(ws.config()).unwrap();
    std::fs::write(&widened, spec.replace("quantite: int", "quantite: long")).unwrap();
    let with_widened = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_lakectl"))
            .current_dir(ws.dir.path())
            .arg("--config")
            .arg(&widened)
            .args(args)
            .env("KAFKA_BROKERS", brokers())
            .output()
            .expect("run lakectl")
    };
    let out = with_widened(&["run", "bronze", "--worker", "1/2", "--until-caught-up"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Worker 0's next commit is refused (the schema changed under it): it stops, having
    // written nothing of that batch.
    ws.produce(100, &["--seed", "62", "--first-id", "1000"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = a.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "worker 0 did not stop after the widening:\n{}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default(),
            ws.ok(&["history", "ventes"])
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let a_log = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(5), "{a_log}");
    assert!(
        a_log.contains("another writer changed the table's schema"),
        "{a_log}"
    );

    // Restarted with the edited spec, it finishes: every record once.
    for w in ["0/2", "1/2"] {
        let out = with_widened(&["run", "bronze", "--worker", w, "--until-caught-up"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert_exactly_once(&ws, 300);

    // And every active file holds the wide type (none of worker 0's slipped past the rewrite).
    let check = r#"
import sys, pyarrow.parquet as pq
from deltalake import DeltaTable
t = DeltaTable(sys.argv[1])
print(sorted({str(pq.read_schema(u.replace("file://", "")).field("quantite").type) for u in t.file_uris()}))
"#;
    let Some((out, err)) = python_check(check, &[&bronze]) else {
        return;
    };
    assert_eq!(out, "['int64']", "{err}");
}
