//! Changing the pipeline by editing YAML while `lakectl schedule` runs: bronze evolves its
//! table in place, a job rebuilds, other readers see the evolved tables.

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
            count_rows(&ws.table("bronze/ventes_stream")),
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
    assert_eq!(count_rows(&ws.table("bronze/ventes_quarantine")), 0);
    let hist = ws.ok(&["history", "remises", "--limit", "1"]);
    assert!(hist.contains("output columns changed"), "{hist}");
    assert!(sigterm(&mut s.0).success());

    // Other readers see the evolved tables: Python `deltalake`, and DuckDB over its Arrow.
    let Some(python) = test_python() else { return };
    let check = r#"
import sys, duckdb
from deltalake import DeltaTable
b = DeltaTable(sys.argv[1]).to_pyarrow_table()
s = DeltaTable(sys.argv[2]).to_pyarrow_table()
con = duckdb.connect()
print(con.execute("select count(*), count(remise), sum(remise) from b").fetchone(),
      con.execute("select sum(n), sum(total_remise) from s").fetchone())
sys.stdout.flush()
import os; os._exit(0)
"#;
    let out = std::process::Command::new(python)
        .args(["-c", check])
        .arg(&bronze)
        .arg(ws.table("silver/remises"))
        .output()
        .expect("run python");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.trim(),
        "(80, 30, 45.0) (80, 45.0)",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
