//! Silver jobs against real bronze tables: results checked against an independent fold over
//! the produced records; incremental, idempotent and crash-safe runs.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use crate::common::*;
use serde_json::Value;

pub(crate) fn silver_ws(prefix: &str) -> Workspace {
    let ws = Workspace::new(prefix, 2);
    ws.copy_jobs(&SEED_JOBS);
    ws
}

/// [`silver_ws`] with its lake on the test S3 server (None without one).
pub(crate) fn silver_ws_s3(prefix: &str) -> Option<Workspace> {
    let ws = Workspace::on_s3(
        prefix,
        2,
        "{max_records: 50000, max_bytes: 64MiB, max_wait: 1s}",
        "",
    )?;
    ws.copy_jobs(&SEED_JOBS);
    Some(ws)
}

pub(crate) fn jour(v: &Value) -> String {
    v["timestamp"].as_str().unwrap()[..10].to_string()
}

/// Expected ventes_aggreges figures of one client and day.
struct ClientDay {
    quantite: i64,
    depense: f64,
    achats: i64,
    min: f64,
    max: f64,
    produits: HashSet<i64>,
}

/// ventes_aggreges, computed with a plain fold.
fn expected_per_client(sales: &[Value]) -> BTreeMap<(i64, String), ClientDay> {
    let mut m: BTreeMap<(i64, String), ClientDay> = BTreeMap::new();
    for s in sales {
        let e = m
            .entry((s["client_id"].as_i64().unwrap(), jour(s)))
            .or_insert_with(|| ClientDay {
                quantite: 0,
                depense: 0.0,
                achats: 0,
                min: f64::MAX,
                max: f64::MIN,
                produits: HashSet::new(),
            });
        let montant = s["montant"].as_f64().unwrap();
        e.quantite += s["quantite"].as_i64().unwrap();
        e.depense += montant;
        e.achats += 1;
        e.min = e.min.min(montant);
        e.max = e.max.max(montant);
        e.produits.insert(s["produit_id"].as_i64().unwrap());
    }
    m
}

fn assert_per_client(ws: &Workspace, sales: &[Value]) {
    let expected = expected_per_client(sales);
    let got = rows(ws.tbl("silver/ventes_aggreges"));
    assert_eq!(got.len(), expected.len(), "one row per client and day");
    for r in &got {
        let key = (num(r, "client_id") as i64, r["jour"].clone());
        let e = &expected[&key];
        assert_eq!(num(r, "total_quantite") as i64, e.quantite, "{key:?}");
        assert!(
            close(num(r, "total_depense"), e.depense),
            "{key:?}: {} vs {}",
            r["total_depense"],
            e.depense
        );
        assert_eq!(num(r, "nb_achats") as i64, e.achats, "{key:?}");
        assert!(
            close(num(r, "panier_moyen"), e.depense / e.achats as f64),
            "{key:?}"
        );
        assert!(
            close(num(r, "achat_min"), e.min) && close(num(r, "achat_max"), e.max),
            "{key:?}"
        );
        assert_eq!(
            num(r, "nb_produits_distincts") as usize,
            e.produits.len(),
            "{key:?}"
        );
        assert_eq!(
            r["est_client_fidele"],
            (e.achats > 1).to_string(),
            "{key:?}"
        );
        let seg = if e.depense >= 1000.0 {
            "Premium"
        } else if e.depense >= 200.0 {
            "Standard"
        } else {
            "Economy"
        };
        assert_eq!(r["segment_depense"], seg, "{key:?}");
    }
}

/// Expected figures of one country or segment and day.
#[derive(Default)]
struct GroupDay {
    transactions: i64,
    revenue: f64,
    items: i64,
    customers: HashSet<i64>,
    countries: HashSet<String>,
}

fn assert_per_group(ws: &Workspace, sales: &[Value], table: &str, by: &str) {
    let mut m: BTreeMap<(String, String), GroupDay> = BTreeMap::new();
    for s in sales {
        let e = m
            .entry((s[by].as_str().unwrap().to_string(), jour(s)))
            .or_default();
        e.transactions += 1;
        e.revenue += s["montant"].as_f64().unwrap();
        e.items += s["quantite"].as_i64().unwrap();
        e.customers.insert(s["client_id"].as_i64().unwrap());
        e.countries.insert(s["pays"].as_str().unwrap().to_string());
    }
    let got = rows(ws.tbl(table));
    assert_eq!(got.len(), m.len(), "{table}: one row per {by} and day");
    for r in &got {
        let key = (r[by].clone(), r["jour"].clone());
        let e = &m[&key];
        assert_eq!(
            num(r, "total_transactions") as i64,
            e.transactions,
            "{table} {key:?}"
        );
        assert!(close(num(r, "revenue_total"), e.revenue), "{table} {key:?}");
        assert!(
            close(
                num(r, "transaction_moyenne"),
                e.revenue / e.transactions as f64
            ),
            "{table} {key:?}"
        );
        assert_eq!(
            num(r, "unique_customers") as usize,
            e.customers.len(),
            "{table} {key:?}"
        );
        if by == "pays" {
            assert_eq!(num(r, "items_sold") as i64, e.items, "{table} {key:?}");
        } else {
            assert_eq!(
                num(r, "countries_count") as usize,
                e.countries.len(),
                "{table} {key:?}"
            );
        }
    }
}

pub(crate) fn assert_all_three(ws: &Workspace, sales: &[Value]) {
    assert_per_client(ws, sales);
    assert_per_group(ws, sales, "silver/ventes_par_pays", "pays");
    assert_per_group(ws, sales, "silver/ventes_par_segment", "segment");
}

/// Produces `n` sales over ~4 days from 2024-12-10, ingests them, returns the valid ones.
pub(crate) fn seed_days(ws: &Workspace, n: u64) -> Vec<Value> {
    ws.produce(
        n,
        &[
            "--seed",
            "21",
            "--start-time",
            "2024-12-10T00:00:00Z",
            "--time-step",
            "120s",
        ],
    );
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    valid_sales(&ws.topic, 2, n as usize)
}

/// Produces `n` more sales from `start`, 10 s apart (ids from 100000), and ingests them.
fn more_sales(ws: &Workspace, n: u64, seed: &str, start: &str) {
    ws.produce(
        n,
        &[
            "--seed",
            seed,
            "--first-id",
            "100000",
            "--start-time",
            start,
            "--time-step",
            "10s",
        ],
    );
    ws.ok(&["run", "bronze", "--until-caught-up"]);
}

/// The files of one `jour` partition, from [`files`].
fn day_files(v: &[(BTreeMap<String, Option<String>>, String)], d: &str) -> Vec<String> {
    v.iter()
        .filter(|(p, _)| p["jour"].as_deref() == Some(d))
        .map(|(_, f)| f.clone())
        .collect()
}

#[test]
fn seed_jobs_match_an_independent_fold_and_rerun_is_a_noop() {
    let ws = silver_ws("silver_ok");
    let sales = seed_days(&ws, 3000);
    assert_eq!(sales.len(), 3000);
    let out = ws.ok(&["run", "silver"]);
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.contains("ventes_aggreges: committed version"), "{out}");
    assert!(out.contains("recomputed everything (first run)"), "{out}");
    assert!(
        out.contains("expectations [non_negative_revenue: ok, at_least_one_purchase: ok]"),
        "{out}"
    );
    assert_all_three(&ws, &sales);
    let days: BTreeSet<String> = rows(ws.tbl("silver/ventes_par_pays"))
        .into_iter()
        .map(|r| r["jour"].clone())
        .collect();
    assert_eq!(days.len(), 5, "{days:?}");

    // No new bronze data: nothing to do, nothing committed.
    let versions: Vec<u64> = ["ventes_aggreges", "ventes_par_pays", "ventes_par_segment"]
        .iter()
        .map(|t| table_version(ws.tbl(&format!("silver/{t}"))))
        .collect();
    let out = ws.ok(&["run", "silver"]);
    assert_eq!(out.matches(": up to date;").count(), 3, "{out}");
    let after: Vec<u64> = ["ventes_aggreges", "ventes_par_pays", "ventes_par_segment"]
        .iter()
        .map(|t| table_version(ws.tbl(&format!("silver/{t}"))))
        .collect();
    assert_eq!(versions, after);
}

#[test]
fn incremental_run_rewrites_only_the_changed_day() {
    incremental_rewrites_only_the_changed_day(&silver_ws("silver_incr"));
}

/// A job run after new sales for one day recomputes and rewrites that day only, and gives
/// what a full refresh gives (a workspace with the seed jobs, local or on S3).
pub(crate) fn incremental_rewrites_only_the_changed_day(ws: &Workspace) {
    // 2000 sales × 120 s from 2024-12-10: the last one is at 2024-12-12T18:38.
    assert_eq!(seed_days(ws, 2000).len(), 2000);
    ws.ok(&["run", "silver"]);
    let before = files(ws.tbl("silver/ventes_aggreges"));

    // New sales for the last day only, after the watermark.
    ws.produce(
        300,
        &[
            "--seed",
            "22",
            "--first-id",
            "100000",
            "--start-time",
            "2024-12-12T19:00:00Z",
            "--time-step",
            "10s",
        ],
    );
    let out = ws.ok(&["run", "bronze", "--until-caught-up"]);
    assert!(out.contains("300 written, 0 quarantined"), "{out}");
    let sales = valid_sales(&ws.topic, 2, 2300);
    assert_eq!(sales.len(), 2300);
    let plan = ws.ok(&["plan", "ventes_aggreges"]);
    assert!(
        plan.contains("recomputes 1 partition(s) of [\"jour\"]: 2024-12-12"),
        "{plan}"
    );
    let out = ws.ok(&["run", "ventes_aggreges"]);
    assert!(
        out.contains("recomputed 1 partition(s): 2024-12-12"),
        "{out}"
    );

    let after = files(ws.tbl("silver/ventes_aggreges"));
    let day = day_files;
    for d in ["2024-12-10", "2024-12-11", "2024-12-13", "2024-12-14"] {
        assert_eq!(
            day(&before, d),
            day(&after, d),
            "partition {d} must be untouched"
        );
    }
    assert_ne!(
        day(&before, "2024-12-12"),
        day(&after, "2024-12-12"),
        "the changed day is rewritten"
    );
    assert_per_client(ws, &sales);

    // The incremental result equals a full refresh (floats up to summation order).
    let key = |r: &BTreeMap<String, String>| (r["client_id"].clone(), r["jour"].clone());
    let incremental: BTreeMap<_, _> = rows(ws.tbl("silver/ventes_aggreges"))
        .into_iter()
        .map(|r| (key(&r), r))
        .collect();
    ws.ok(&["run", "ventes_aggreges", "--full-refresh"]);
    let full: BTreeMap<_, _> = rows(ws.tbl("silver/ventes_aggreges"))
        .into_iter()
        .map(|r| (key(&r), r))
        .collect();
    assert_eq!(incremental.len(), full.len());
    for (k, a) in &incremental {
        let b = &full[k];
        assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
        for (c, va) in a {
            let vb = &b[c];
            match (va.parse::<f64>(), vb.parse::<f64>()) {
                (Ok(x), Ok(y)) => assert!(close(x, y), "{k:?} {c}: {va} vs {vb}"),
                _ => assert_eq!(va, vb, "{k:?} {c}"),
            }
        }
    }
}

#[test]
fn a_killed_job_leaves_the_previous_version_and_the_next_run_completes() {
    let ws = silver_ws("silver_kill");
    let first = seed_days(&ws, 3000);
    ws.ok(&["run", "ventes_par_pays"]);
    ws.produce(
        20_000,
        &[
            "--seed",
            "23",
            "--first-id",
            "100000",
            "--start-time",
            "2024-12-14T06:00:00Z",
            "--time-step",
            "1s",
        ],
    );
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    let all = valid_sales(&ws.topic, 2, 23_000);
    for delay in [5u64, 40, 120] {
        kill_after(
            ws.command(&["run", "ventes_par_pays", "--full-refresh"]),
            Duration::from_millis(delay),
        );
        // Whatever the moment, the table is the old result or the new one, never a mix.
        let total: f64 = rows(ws.tbl("silver/ventes_par_pays"))
            .iter()
            .map(|r| num(r, "revenue_total"))
            .sum();
        let old: f64 = first.iter().map(|s| s["montant"].as_f64().unwrap()).sum();
        let new: f64 = all.iter().map(|s| s["montant"].as_f64().unwrap()).sum();
        assert!(
            close(total, old) || close(total, new),
            "after a kill at {delay} ms: revenue {total}, expected {old} or {new}"
        );
    }
    ws.ok(&["run", "ventes_par_pays"]);
    assert_per_group(&ws, &all, "silver/ventes_par_pays", "pays");
}

#[test]
fn a_new_job_file_runs_without_recompiling() {
    let ws = silver_ws("silver_newjob");
    let sales = seed_days(&ws, 1500);
    std::fs::write(
        ws.dir.path().join("jobs/revenue_par_categorie.yaml"),
        "name: revenue_par_categorie\nfrom: ventes\ngroup_by: [categorie, jour]\naggregate:\n  revenue: sum(montant)\n  ventes: count(*)\n  panier_median: median(montant)\nhaving: ventes > 0\nto: silver/revenue_par_categorie\npartition_by: [jour]\n",
    )
    .unwrap();
    assert_eq!(ws.ok(&["validate"]).trim(), "ok");
    let out = ws.ok(&["run", "revenue_par_categorie"]);
    assert!(
        out.contains("revenue_par_categorie: committed version"),
        "{out}"
    );
    let mut m: BTreeMap<(String, String), (f64, i64)> = BTreeMap::new();
    for s in &sales {
        let e = m
            .entry((s["categorie"].as_str().unwrap().to_string(), jour(s)))
            .or_default();
        e.0 += s["montant"].as_f64().unwrap();
        e.1 += 1;
    }
    let got = rows(ws.tbl("silver/revenue_par_categorie"));
    assert_eq!(got.len(), m.len());
    for r in got {
        let (rev, n) = m[&(r["categorie"].clone(), r["jour"].clone())];
        assert!(close(num(&r, "revenue"), rev));
        assert_eq!(num(&r, "ventes") as i64, n);
    }
}

#[test]
fn a_failing_expectation_commits_nothing() {
    let ws = silver_ws("silver_expect");
    seed_days(&ws, 300);
    std::fs::write(
        ws.dir.path().join("jobs/strict.yaml"),
        "name: strict\nfrom: ventes\ngroup_by: [pays]\naggregate: {n: count(*)}\nexpect:\n  impossible: {check: n > 1000000, on_violation: fail}\nto: silver/strict\n",
    )
    .unwrap();
    let out = ws.lakectl(&["run", "strict"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("expectation `impossible` failed on"),
        "{}",
        stderr(&out)
    );
    assert!(!ws
        .table("silver/strict")
        .join("_delta_log")
        .join("00000000000000000001.json")
        .exists());
    assert_eq!(count_rows(ws.tbl("silver/strict")), 0);
}

#[test]
fn append_mode_appends_only_what_new_source_files_give() {
    let ws = silver_ws("silver_append");
    seed_days(&ws, 1000);
    std::fs::write(
        ws.dir.path().join("jobs/grosses_ventes.yaml"),
        "name: grosses_ventes\nfrom: ventes\nwhere: montant >= 1000\nto: silver/grosses_ventes\nmode: append\n",
    )
    .unwrap();
    ws.ok(&["run", "grosses_ventes"]);
    more_sales(&ws, 500, "24", "2024-12-13T12:00:00Z");
    let out = ws.ok(&["run", "grosses_ventes"]);
    assert!(out.contains("appended from 1 new file(s)"), "{out}");
    let out = ws.ok(&["run", "grosses_ventes"]);
    assert!(out.contains("grosses_ventes: up to date;"), "{out}");

    let expected: BTreeSet<i64> = valid_sales(&ws.topic, 2, 1500)
        .iter()
        .filter(|s| s["montant"].as_f64().unwrap() >= 1000.0)
        .map(|s| s["vente_id"].as_i64().unwrap())
        .collect();
    let got: Vec<i64> = column_strings(ws.tbl("silver/grosses_ventes"), "vente_id")
        .iter()
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(got.len(), expected.len(), "no duplicate after appending");
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), expected);
}

#[test]
fn an_edited_job_rebuilds_its_table_by_itself() {
    let ws = silver_ws("silver_edit");
    let sales = seed_days(&ws, 800);
    ws.ok(&["run", "ventes_par_segment"]);
    // The user adds an aggregate to the job file.
    let file = ws.dir.path().join("jobs/ventes_par_segment.yaml");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "  countries_count: count(distinct pays)\n",
        "  countries_count: count(distinct pays)\n  items_sold: sum(quantite)\n",
    );
    std::fs::write(&file, text).unwrap();
    more_sales(&ws, 100, "25", "2024-12-11T03:00:00Z");

    // The edit is seen (the job's definition fingerprint changed): the next run rebuilds the
    // table with the new column in one commit, without a manual step.
    let out = ws.ok(&["run", "ventes_par_segment"]);
    assert!(
        out.contains("recomputed everything (the job's definition changed since the last run)"),
        "{out}"
    );
    // `history` says why.
    let hist = ws.ok(&["history", "ventes_par_segment", "--limit", "1"]);
    assert!(
        hist.contains(
            "why=\"the job's definition changed since the last run; output columns changed ("
        ) && hist.contains("items_sold")
            && hist.contains("table rebuilt\""),
        "{hist}"
    );
    let out = ws.ok(&["run", "ventes_par_segment"]);
    assert!(out.contains("ventes_par_segment: up to date;"), "{out}");

    // `on_schema_change: fail`: the next edit that changes the output is refused, nothing is
    // committed, until an explicit --full-refresh.
    let version = table_version(ws.tbl("silver/ventes_par_segment"));
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "  items_sold: sum(quantite)\n",
        "  items_sold: sum(quantite)\n  max_sale: max(montant)\n",
    ) + "on_schema_change: fail\n";
    std::fs::write(&file, text).unwrap();
    let out = ws.lakectl(&["run", "ventes_par_segment"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("it says `on_schema_change: fail`: rebuild the table with `lakectl run ventes_par_segment --full-refresh`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(table_version(ws.tbl("silver/ventes_par_segment")), version);
    // --full-refresh does the same on demand.
    let out = ws.ok(&["run", "ventes_par_segment", "--full-refresh"]);
    assert!(
        out.contains("recomputed everything (--full-refresh)"),
        "{out}"
    );
    let all = valid_sales(&ws.topic, 2, 900);
    assert_eq!(all.len(), sales.len() + 100);
    assert_per_group(&ws, &all, "silver/ventes_par_segment", "segment");
    let items: f64 = rows(ws.tbl("silver/ventes_par_segment"))
        .iter()
        .map(|r| num(r, "items_sold"))
        .sum();
    assert_eq!(
        items as i64,
        all.iter()
            .map(|s| s["quantite"].as_i64().unwrap())
            .sum::<i64>()
    );
}

#[test]
fn drop_and_warn_expectations() {
    let ws = silver_ws("silver_expect_dw");
    let sales = seed_days(&ws, 600);
    std::fs::write(
        ws.dir.path().join("jobs/par_pays_jour.yaml"),
        "name: par_pays_jour\nfrom: ventes\ngroup_by: [pays, jour]\naggregate: {n: count(*), revenue: sum(montant)}\nexpect:\n  big_only: {check: n >= 40, on_violation: drop}\n  huge: {check: revenue > 1000000, on_violation: warn}\nto: silver/par_pays_jour\n",
    )
    .unwrap();
    let mut groups: BTreeMap<(String, String), i64> = BTreeMap::new();
    for s in &sales {
        *groups
            .entry((s["pays"].as_str().unwrap().to_string(), jour(s)))
            .or_default() += 1;
    }
    let small = groups.values().filter(|n| **n < 40).count();
    assert!(
        small > 0 && small < groups.len(),
        "the fixture needs both small and big groups: {groups:?}"
    );
    let out = ws.ok(&["run", "par_pays_jour"]);
    assert!(
        out.contains(&format!("big_only: {small} violation(s), drop")),
        "{out}"
    );
    // Every kept group is below a million: all of them violate `huge`, which only warns.
    assert!(
        out.contains(&format!(
            "huge: {} violation(s), warn",
            groups.len() - small
        )),
        "{out}"
    );
    let got = rows(ws.tbl("silver/par_pays_jour"));
    assert_eq!(
        got.len(),
        groups.len() - small,
        "dropped rows are not written"
    );
    assert!(got.iter().all(|r| num(r, "n") >= 40.0));
}

#[test]
fn append_new_columns_adds_a_column_and_recomputes_only_what_changed() {
    let ws = silver_ws("silver_append_cols");
    // 2000 sales × 120 s from 2024-12-10: days 10, 11, 12.
    let first = seed_days(&ws, 2000);
    assert_eq!(first.len(), 2000);
    ws.ok(&["run", "ventes_par_pays"]);
    let table = ws.table("silver/ventes_par_pays");
    let id = |t: &std::path::Path| {
        with_table(t, |d| {
            d.snapshot()
                .map(|s| s.metadata().id().to_string())
                .unwrap_or_default()
        })
    };
    let id_before = id(&table);
    let before = files(&table);

    // An aggregate added under `on_schema_change: append_new_columns`, and new sales on the
    // last day only.
    let file = ws.dir.path().join("jobs/ventes_par_pays.yaml");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "  unique_customers: count(distinct client_id)\n",
        "  unique_customers: count(distinct client_id)\n  max_sale: max(montant)\n",
    ) + "on_schema_change: append_new_columns\n";
    std::fs::write(&file, text).unwrap();
    more_sales(&ws, 200, "26", "2024-12-12T19:00:00Z");
    let out = ws.ok(&["run", "ventes_par_pays"]);
    assert!(
        out.contains("recomputed 1 partition(s): 2024-12-12"),
        "{out}"
    );

    // Same table; the other days' files untouched, their rows read the new column as null;
    // the recomputed day has it.
    assert_eq!(id(&table), id_before);
    let after = files(&table);
    let day = day_files;
    assert_eq!(day(&before, "2024-12-10"), day(&after, "2024-12-10"));
    assert_ne!(day(&before, "2024-12-12"), day(&after, "2024-12-12"));
    let rows = rows(&table);
    for r in &rows {
        let has = r
            .get("max_sale")
            .is_some_and(|v| v != "null" && !v.is_empty());
        assert_eq!(has, r["jour"] == "2024-12-12", "{r:?}");
    }
    let hist = ws.ok(&["history", "ventes_par_pays", "--limit", "1"]);
    assert!(
        hist.contains("output columns added (")
            && hist.contains("max_sale")
            && hist.contains("appended to the table, 1 changed partition(s) recomputed"),
        "{hist}"
    );

    // A change that does more than add columns is refused under that policy.
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("  max_sale: max(montant)\n", "");
    std::fs::write(&file, text).unwrap();
    let out = ws.lakectl(&["run", "ventes_par_pays"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("only adds columns"),
        "{}",
        stderr(&out)
    );
}

/// A job may be named `bronze` or `silver`: `run silver NAME…` runs those jobs by name.
#[test]
fn jobs_named_bronze_and_silver_run_by_name() {
    let ws = Workspace::new("jobnames", 1);
    for name in ["bronze", "silver"] {
        std::fs::write(
            ws.dir.path().join(format!("jobs/{name}.yaml")),
            format!(
                "name: {name}\nfrom: ventes\ngroup_by: [pays]\naggregate: {{n: count(*)}}\n\
                 to: silver/{name}_par_pays\nmode: overwrite\n"
            ),
        )
        .unwrap();
    }
    ws.produce(60, &["--seed", "4"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    let out = ws.ok(&["run", "silver", "bronze"]);
    assert!(out.contains("bronze: committed version"), "{out}");
    assert!(
        !ws.table("silver/silver_par_pays").exists(),
        "only the job named"
    );
    ws.ok(&["run", "silver", "silver"]);
    let n: usize = ws
        .ok(&["query", "SELECT sum(n) AS n FROM silver", "--format", "csv"])
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(n, count_rows(ws.tbl("bronze/ventes_stream")));
}
