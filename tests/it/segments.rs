//! The seeds' further enhancements: the client dimension with history (an `scd2:` job) and
//! customer segmentation (the RFM job's `cluster:` step), against real Delta tables.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::Utc;

use crate::common::*;

const DIM: &str = "silver/dim_clients";

/// (client, pays, segment, valid_from, valid_to, is_current), sorted.
type Version = (String, String, String, String, String, String);

fn dim_rows(ws: &Workspace) -> Vec<Version> {
    let mut v: Vec<Version> = rows(ws.tbl(DIM))
        .into_iter()
        .map(|r| {
            (
                r["client_id"].clone(),
                r["pays"].clone(),
                r["segment"].clone(),
                r["valid_from"].clone(),
                r["valid_to"].clone(),
                r["is_current"].clone(),
            )
        })
        .collect();
    v.sort_by(|a, b| (a.0.parse::<i64>().ok(), &a.3).cmp(&(b.0.parse::<i64>().ok(), &b.3)));
    v
}

/// The versions an independent fold of the bronze rows gives: per client, in event-time
/// order (ties: the last in (pays, segment) order), a new version at each change.
fn expected_versions(ws: &Workspace) -> Vec<Version> {
    let mut by_client: BTreeMap<i64, Vec<(String, String, String)>> = BTreeMap::new();
    for r in rows(ws.tbl("bronze/ventes_stream")) {
        by_client
            .entry(r["client_id"].parse().unwrap())
            .or_default()
            .push((
                r["timestamp"].clone(),
                r["pays"].clone(),
                r["segment"].clone(),
            ));
    }
    let mut out = Vec::new();
    for (client, mut sales) in by_client {
        sales.sort();
        // One state per instant: the last of the tied rows.
        let mut states: Vec<(String, String, String)> = Vec::new();
        for s in sales {
            match states.last_mut() {
                Some(last) if last.0 == s.0 => *last = s,
                _ => states.push(s),
            }
        }
        let mut versions: Vec<(String, String, String)> = Vec::new();
        for s in states {
            if versions.last().is_none_or(|v| (&v.1, &v.2) != (&s.1, &s.2)) {
                versions.push(s);
            }
        }
        for (i, v) in versions.iter().enumerate() {
            let to = versions
                .get(i + 1)
                .map_or("null".to_string(), |n| n.0.clone());
            let current = if to == "null" { "true" } else { "false" };
            out.push((
                client.to_string(),
                v.1.clone(),
                v.2.clone(),
                v.0.clone(),
                to,
                current.to_string(),
            ));
        }
    }
    out
}

/// One current row per client; each client's intervals chain without gap or overlap.
fn assert_dimension_invariants(v: &[Version]) {
    let mut by: BTreeMap<&str, Vec<&Version>> = BTreeMap::new();
    for x in v {
        by.entry(x.0.as_str()).or_default().push(x);
    }
    for (client, versions) in by {
        assert_eq!(
            versions.iter().filter(|x| x.5 == "true").count(),
            1,
            "client {client}: {versions:?}"
        );
        for w in versions.windows(2) {
            assert_eq!(w[0].4, w[1].3, "client {client}: {versions:?}");
            assert!(
                w[0].3 < w[0].4,
                "client {client}: empty interval {:?}",
                w[0]
            );
        }
        assert_eq!(versions.last().unwrap().4, "null");
    }
}

#[test]
fn the_client_dimension_is_incremental_idempotent_and_places_late_changes() {
    let ws = Workspace::new("scd2", 1);
    ws.copy_jobs(&["dim_clients.yaml"]);
    let base = Utc::now() - chrono::Duration::hours(1);
    let at = |s: i64| (base + chrono::Duration::seconds(s)).to_rfc3339();
    let sale_of = |id: i64, client: i64, s: i64, pays: &str, segment: &str| {
        Some(sale(
            id,
            &at(s),
            serde_json::json!({"client_id": client, "pays": pays, "segment": segment}),
        ))
    };
    send_raw(
        &ws.topic,
        0,
        &[
            sale_of(1, 1, 0, "France", "Consumer"),
            sale_of(2, 1, 60, "France", "Consumer"),
            sale_of(3, 1, 300, "Espagne", "Consumer"),
            sale_of(4, 2, 0, "Italie", "Business"),
            sale_of(5, 3, 120, "Suisse", "Consumer"),
            // Two states at the same instant: the last in (pays, segment) order wins.
            sale_of(6, 3, 200, "Suisse", "Business"),
            sale_of(7, 3, 200, "Autriche", "Business"),
        ],
    );
    // Ten more clients who never change: the dimension is larger than what later batches touch.
    let others: Vec<_> = (10..20)
        .map(|c| sale_of(100 + c, c, c, "Suisse", "Consumer"))
        .collect();
    send_raw(&ws.topic, 0, &others);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    ws.ok(&["run", "dim_clients"]);
    assert_eq!(dim_rows(&ws), expected_versions(&ws));
    assert_eq!(dim_rows(&ws).len(), 15);

    // Nothing new: up to date, no commit.
    let v = table_version(ws.tbl(DIM));
    let out = ws.ok(&["run", "dim_clients"]);
    assert!(out.contains("up to date"), "{out}");
    assert_eq!(table_version(ws.tbl(DIM)), v);

    // A late change of client 1 (between two known states) and a new client.
    send_raw(
        &ws.topic,
        0,
        &[
            sale_of(8, 1, 180, "Belgique", "Consumer"),
            sale_of(9, 4, 400, "Portugal", "Consumer"),
        ],
    );
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    let plan = ws.ok(&["plan", "dim_clients"]);
    assert!(
        plan.contains(
            "hold 2 key(s) whose versions are recomputed from the whole source; rewrites 1 file(s)"
        ),
        "{plan}"
    );
    ws.ok(&["run", "dim_clients"]);
    let v1 = dim_rows(&ws);
    assert_eq!(v1, expected_versions(&ws));
    let client1: Vec<&str> = v1
        .iter()
        .filter(|x| x.0 == "1")
        .map(|x| x.1.as_str())
        .collect();
    assert_eq!(client1, ["France", "Belgique", "Espagne"]);
    assert_dimension_invariants(&v1);

    // A new client only: no file of the dimension holds it, none is rewritten.
    send_raw(&ws.topic, 0, &[sale_of(10, 5, 450, "Pologne", "Business")]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    let before: BTreeSet<String> = files(ws.tbl(DIM)).into_iter().map(|f| f.1).collect();
    ws.ok(&["run", "dim_clients"]);
    let after: BTreeSet<String> = files(ws.tbl(DIM)).into_iter().map(|f| f.1).collect();
    assert!(before.is_subset(&after) && after.len() == before.len() + 1);
    // Client 5 changes: only its file is rewritten; the file of clients 1-4 stays.
    send_raw(&ws.topic, 0, &[sale_of(11, 5, 500, "Pologne", "Consumer")]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    ws.ok(&["run", "dim_clients"]);
    let last: BTreeSet<String> = files(ws.tbl(DIM)).into_iter().map(|f| f.1).collect();
    assert_eq!(
        before.intersection(&last).count(),
        before.len(),
        "{before:?} {last:?}"
    );
    let hist = ws.ok(&["history", "dim_clients", "--limit", "1"]);
    assert!(
        hist.contains("versions of 1 key(s) recomputed, 1 file(s) rewritten"),
        "{hist}"
    );
    let incremental = dim_rows(&ws);
    assert_eq!(incremental, expected_versions(&ws));
    assert_dimension_invariants(&incremental);

    // A run killed at any moment leaves the dimension as it was; the next run completes it.
    send_raw(&ws.topic, 0, &[sale_of(12, 2, 600, "France", "Business")]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    for delay in [5u64, 30, 80] {
        kill_after(
            ws.command(&["run", "dim_clients"]),
            Duration::from_millis(delay),
        );
        let now = dim_rows(&ws);
        assert!(
            now == incremental || now == expected_versions(&ws),
            "after a kill at {delay} ms: {now:?}"
        );
        assert_dimension_invariants(&now);
    }
    ws.ok(&["run", "dim_clients"]);
    assert_eq!(dim_rows(&ws), expected_versions(&ws));

    // New sales of most clients: recomputing everything is cheaper than selecting them.
    let most: Vec<_> = (10..20)
        .map(|c| sale_of(200 + c, c, 700, "Suisse", "Business"))
        .collect();
    send_raw(&ws.topic, 0, &most);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    let plan = ws.ok(&["plan", "dim_clients"]);
    assert!(
        plan.contains("recomputes everything (most of the dimension's keys are in the new data)"),
        "{plan}"
    );
    ws.ok(&["run", "dim_clients"]);
    assert_eq!(dim_rows(&ws), expected_versions(&ws));
    assert_dimension_invariants(&dim_rows(&ws));

    // A full rebuild gives the same dimension as the incremental runs.
    let incremental = dim_rows(&ws);
    ws.ok(&["run", "dim_clients", "--full-refresh"]);
    assert_eq!(dim_rows(&ws), incremental);

    // Revenue attributed to the segment the client was in at the time of each sale.
    let out = ws.ok(&[
        "query",
        "SELECT d.segment, count(*) AS n FROM ventes v JOIN dim_clients d ON v.client_id = d.client_id \
         WHERE v.timestamp >= d.valid_from AND (d.valid_to IS NULL OR v.timestamp < d.valid_to) \
         GROUP BY d.segment ORDER BY segment",
        "--format",
        "csv",
    ]);
    // Sales 4, 6, 7 (client 3 at its tie: Autriche Business), 10, 12 and the ten other
    // clients' second sales were made as Business; their first ones as Consumer.
    assert_eq!(out.trim(), "segment,n\nBusiness,15\nConsumer,17", "{out}");

    let check = r#"
import sys, duckdb
from deltalake import DeltaTable
d = DeltaTable(sys.argv[1]).to_pyarrow_table()
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
print(con.execute("select count(*), count(distinct client_id), sum(case when is_current then 1 else 0 end) from d").fetchone())
sys.stdout.flush()
import os; os._exit(0)
"#;
    let Some((out, err)) = python_check(check, &[&ws.table(DIM)]) else {
        return;
    };
    let n = expected_versions(&ws).len();
    assert_eq!(out, format!("({n}, 15, 15)"), "{err}");
}

#[test]
fn customer_segments_are_deterministic_for_a_seed_and_shown_by_the_dashboard() {
    let ws = Workspace::new("rfm", 2);
    ws.copy_jobs(&["rfm_clients.yaml"]);
    ws.produce(3000, &["--seed", "71", "--clients", "300"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    ws.ok(&["run", "rfm_clients"]);
    let assignment = |ws: &Workspace| -> BTreeMap<String, String> {
        rows(ws.tbl("silver/rfm_clients"))
            .into_iter()
            .map(|r| (r["client_id"].clone(), r["segment_rfm"].clone()))
            .collect()
    };
    let first = assignment(&ws);
    assert_eq!(first.len(), 300);
    let ids: BTreeSet<&String> = first.values().collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    let centres = rows(ws.tbl("silver/rfm_centres"));
    assert_eq!(centres.len(), 4);
    // The centres table's sizes are the segments' sizes.
    let mut sizes: BTreeMap<String, usize> = BTreeMap::new();
    for s in first.values() {
        *sizes.entry(s.clone()).or_default() += 1;
    }
    for c in &centres {
        assert_eq!(
            c["size"].parse::<usize>().unwrap(),
            sizes[&c["segment_rfm"]],
            "{centres:?}"
        );
    }
    // Rebuilt from scratch with the same seed: the same segments, the same ids.
    ws.ok(&["run", "rfm_clients", "--full-refresh"]);
    assert_eq!(assignment(&ws), first);

    let out = ws.ok(&["dashboard"]);
    assert!(
        out.contains(
            "CUSTOMER SEGMENTS (clients grouped by days since last purchase, purchases, total spend (€); job rfm_clients)"
        ),
        "{out}"
    );
    // Each segment named by what it is, the same in the JSON, the text and the page.
    let d: serde_json::Value = serde_json::from_str(&ws.ok(&["dashboard", "--json"])).unwrap();
    let names: Vec<String> = d["segmentations"][0]["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    let words = [
        "recent",
        "lapsed",
        "frequent",
        "occasional",
        "high spend",
        "low spend",
        "typical",
    ];
    for n in &names {
        assert!(words.iter().any(|w| n.contains(w)), "{n}");
        assert!(out.contains(n.as_str()), "{n} not in the text:\n{out}");
    }
    let html = ws.dir.path().join("d.html");
    ws.ok(&["dashboard", "--html", html.to_str().unwrap()]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("job rfm_clients"), "html");
    assert!(!page.contains("segment 0"), "html");
    for n in &names {
        assert!(
            page.contains(&lakectl::dashboard::html::esc(n)),
            "{n} not on the page"
        );
    }
}

#[test]
fn the_segmentation_and_the_dimension_run_on_their_cron_with_the_others() {
    let ws = Workspace::new("segments_sched", 1);
    // The shipped jobs, on a per-second cron (the shipped files say every 5 minutes).
    for f in [
        "rfm_clients.yaml",
        "dim_clients.yaml",
        "ventes_par_pays.yaml",
    ] {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("jobs")
                .join(f),
        )
        .unwrap()
        .replace("schedule: \"*/5 * * * *\"", "schedule: \"* * * * * *\"");
        crate::schedule::write_job(&ws, f, &text);
    }
    // One sale a second (at full speed many would share a millisecond, and a client's
    // changes within one instant make a single version).
    let start = (Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    ws.produce(
        500,
        &[
            "--seed",
            "81",
            "--clients",
            "50",
            "--client-changes",
            "0.2",
            "--start-time",
            &start,
            "--time-step",
            "1s",
        ],
    );
    let mut s = crate::schedule::schedule_bg(&ws, &[]);
    wait_for(90, "the three jobs to have read all 500 sales", || {
        let done = |t: &str, c: &str| {
            let t = ws.table(t);
            t.join("_delta_log").exists() && !rows(&t).is_empty() && rows(&t)[0].contains_key(c)
        };
        count_rows(ws.tbl("bronze/ventes_stream")) == 500
            && done("silver/rfm_clients", "segment_rfm")
            && done("silver/dim_clients", "is_current")
            && done("silver/ventes_par_pays", "revenue_total")
            && rows(ws.tbl("silver/rfm_clients"))
                .iter()
                .map(|r| num(r, "frequence"))
                .sum::<f64>()
                == 500.0
            && rows(ws.tbl("silver/ventes_par_pays"))
                .iter()
                .map(|r| num(r, "total_transactions"))
                .sum::<f64>()
                == 500.0
            // (The dimension as of the whole bronze table, not an earlier version of it.)
            && dim_rows(&ws) == expected_versions(&ws)
    });
    assert!(sigterm(&mut s.0).success());
    let dim = dim_rows(&ws);
    assert!(
        dim.len() > 50,
        "client changes give history: {} versions",
        dim.len()
    );
    assert_dimension_invariants(&dim);
    let out = ws.ok(&["dashboard"]);
    assert!(
        out.contains("CUSTOMER SEGMENTS (clients grouped by"),
        "{out}"
    );
    assert!(out.contains("job rfm_clients)"), "{out}");
}
