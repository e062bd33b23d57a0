//! Operating a table for months: optimize (identical rows, far fewer files, also while bronze
//! appends), vacuum (only unreferenced files older than the retention), history, checkpoints,
//! several bronze workers killed at random, and secrets never printed.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::common::*;
use rand::{Rng, SeedableRng};

const SMALL: &str = "{max_records: 20, max_bytes: 1MiB, max_wait: 200ms}";

fn sorted_rows(ws: &Workspace, table: &str) -> Vec<BTreeMap<String, String>> {
    let mut r = rows(ws.tbl(table));
    r.sort();
    r
}

fn files_in(ws: &Workspace, table: &str, jour: Option<&str>) -> usize {
    files(ws.tbl(table))
        .into_iter()
        .filter(|(p, _)| {
            jour.is_none_or(|j| p.get("jour").cloned().flatten().as_deref() == Some(j))
        })
        .count()
}

/// Two days of sales ingested in many small batches.
fn small_batches(prefix: &str) -> Workspace {
    let ws = Workspace::with_batch(prefix, 2, SMALL, "");
    ws.produce(
        800,
        &[
            "--seed",
            "81",
            "--start-time",
            "2024-12-10T12:00:00Z",
            "--time-step",
            "200s",
        ],
    );
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    ws
}

#[test]
fn optimize_keeps_every_row_with_far_fewer_files() {
    let ws = small_batches("opt");
    let before = sorted_rows(&ws, "bronze/ventes_stream");
    assert_eq!(before.len(), 800);
    let files_before = files_in(&ws, "bronze/ventes_stream", None);
    assert!(files_before >= 40, "{files_before} files");

    // Only one day first: the other is untouched.
    let day1 = files_in(&ws, "bronze/ventes_stream", Some("2024-12-11"));
    let out = ws.ok(&["optimize", "ventes", "--where", "jour = '2024-12-10'"]);
    assert!(out.contains("in 1 of 1 partition(s)"), "{out}");
    assert_eq!(files_in(&ws, "bronze/ventes_stream", Some("2024-12-10")), 1);
    assert_eq!(
        files_in(&ws, "bronze/ventes_stream", Some("2024-12-11")),
        day1
    );

    // 800 sales × 200 s from noon on the 10th: three days, one already compact.
    let out = ws.ok(&["optimize", "ventes", "--target-size", "64MiB"]);
    assert!(out.contains("in 2 of 3 partition(s)"), "{out}");
    assert_eq!(files_in(&ws, "bronze/ventes_stream", None), 3);
    assert_eq!(
        sorted_rows(&ws, "bronze/ventes_stream"),
        before,
        "row-level identical"
    );
    // lakectl's own reader agrees.
    assert_eq!(
        ws.ok(&[
            "query",
            "SELECT count(*) AS n, count(DISTINCT vente_id) AS d FROM ventes",
            "--format",
            "csv"
        ]),
        "n,d\n800,800\n"
    );

    // Nothing left to do: no commit.
    let v = table_version(ws.tbl("bronze/ventes_stream"));
    let out = ws.ok(&["optimize", "ventes"]);
    assert!(out.contains("nothing to compact"), "{out}");
    assert_eq!(table_version(ws.tbl("bronze/ventes_stream")), v);

    // The log says no data changed, and history shows it.
    let log = std::fs::read_to_string(
        ws.table("bronze/ventes_stream")
            .join(format!("_delta_log/{v:020}.json")),
    )
    .unwrap();
    assert!(
        log.contains("\"dataChange\":false") && !log.contains("\"dataChange\":true"),
        "{log}"
    );
    let h = ws.ok(&["history", "ventes", "--limit", "3"]);
    let lines: Vec<&str> = h.lines().collect();
    assert!(lines[1].contains("OPTIMIZE"), "{h}");
    assert!(
        lines[2].contains("OPTIMIZE") && lines[2].contains("jour = '2024-12-10'"),
        "{h}"
    );
    assert!(
        lines[3].contains("WRITE") && lines[3].contains("rows_in="),
        "{h}"
    );

    // Bad filters are clear errors.
    let o = ws.lakectl(&["optimize", "ventes", "--where", "montant > 3"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("may only use the partition columns (jour)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn vacuum_deletes_only_unreferenced_files_older_than_the_retention() {
    let ws = small_batches("vac");
    ws.ok(&["optimize", "ventes"]);
    let table = ws.table("bronze/ventes_stream");
    let active: BTreeSet<String> = files(&table).into_iter().map(|(_, f)| f).collect();
    let on_disk = |dir: &std::path::Path| -> BTreeSet<String> {
        let mut v = BTreeSet::new();
        for day in std::fs::read_dir(dir).unwrap() {
            let day = day.unwrap().path();
            if day.is_dir() && !day.ends_with("_delta_log") {
                for f in std::fs::read_dir(&day).unwrap() {
                    v.insert(f.unwrap().path().display().to_string());
                }
            }
        }
        v
    };
    let all = on_disk(&table);
    let removed = all.len() - active.len();
    assert!(removed >= 40, "{removed}");

    // An orphan two hours old (a writer killed after writing its file, before committing).
    let orphan = table.join("jour=2024-12-10/part-orphan.parquet");
    std::fs::write(&orphan, b"not committed").unwrap();
    assert!(std::process::Command::new("touch")
        .args(["-d", "2 hours ago"])
        .arg(&orphan)
        .status()
        .unwrap()
        .success());

    // The default retention (7 days) cannot be shortened by accident.
    let o = ws.lakectl(&["vacuum", "ventes", "--retain", "1h"]);
    assert!(!o.status.success(), "{}", stderr(&o));

    // 1 hour: only the old orphan goes; the files optimize just removed are younger.
    let dry = ws.ok(&[
        "vacuum",
        "ventes",
        "--retain",
        "1h",
        "--allow-short-retention",
        "--dry-run",
    ]);
    assert_eq!(dry.trim(), "jour=2024-12-10/part-orphan.parquet", "{dry}");
    assert!(orphan.exists(), "a dry run deletes nothing");
    ws.ok(&[
        "vacuum",
        "ventes",
        "--retain",
        "1h",
        "--allow-short-retention",
    ]);
    assert!(!orphan.exists());
    assert_eq!(on_disk(&table).len(), all.len());

    // 0 hours: every unreferenced file goes, every active one stays, the rows are intact.
    let out = ws.ok(&[
        "vacuum",
        "ventes",
        "--retain",
        "0s",
        "--allow-short-retention",
    ]);
    assert_eq!(out.lines().count(), removed, "{out}");
    assert_eq!(on_disk(&table), active);
    assert_eq!(count_rows(&table), 800);
}

/// `lakectl run bronze` in the background (continuous).
fn bronze_bg(ws: &Workspace, extra: &[&str]) -> Child {
    let mut args = vec!["run", "bronze"];
    args.extend_from_slice(extra);
    ws.command(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start bronze")
}

#[test]
fn optimize_while_bronze_appends_loses_nothing() {
    let ws = Workspace::with_batch("opt_live", 2, SMALL, "");
    ws.produce(400, &["--seed", "82"]);
    let mut bronze = bronze_bg(&ws, &[]);
    let mut optimized = 0;
    for i in 0..6 {
        ws.produce(
            300,
            &[
                "--seed",
                &(90 + i).to_string(),
                "--first-id",
                &(10_000 * (i + 1)).to_string(),
            ],
        );
        std::thread::sleep(Duration::from_millis(400));
        if table_version(ws.tbl("bronze/ventes_stream")) > 0 {
            let out = ws.ok(&["optimize", "ventes", "--json"]);
            let r: serde_json::Value = serde_json::from_str(&out).unwrap();
            if r["version"].is_u64() {
                optimized += 1;
            }
        }
    }
    sigterm(&mut bronze);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    assert!(
        optimized >= 3,
        "optimize committed {optimized} times during the run"
    );
    assert_exactly_once(&ws, 400 + 6 * 300);
    assert_eq!(count_rows(ws.tbl("bronze/ventes_stream")), 2200);
    // The history interleaves appends and compactions.
    let h = ws.ok(&["history", "ventes", "--limit", "1000", "--json"]);
    let h: serde_json::Value = serde_json::from_str(&h).unwrap();
    let ops: BTreeSet<&str> = h
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["operation"].as_str())
        .collect();
    assert!(ops.contains("OPTIMIZE") && ops.contains("WRITE"), "{ops:?}");
}

#[test]
fn two_workers_killed_at_random_end_exactly_once() {
    let ws = Workspace::with_batch(
        "workers",
        4,
        "{max_records: 100, max_bytes: 1MiB, max_wait: 200ms}",
        "",
    );
    ws.produce(6000, &["--seed", "83", "--malformed-fraction", "0.02"]);
    let mut rng = rand::rngs::SmallRng::seed_from_u64(83);
    let mut workers: Vec<Child> = (0..2)
        .map(|i| bronze_bg(&ws, &["--worker", &format!("{i}/2")]))
        .collect();
    for round in 0..8 {
        std::thread::sleep(Duration::from_millis(rng.random_range(300..1500)));
        let i = rng.random_range(0..2);
        workers[i].kill().unwrap(); // SIGKILL: no chance to finish the batch
        workers[i].wait().unwrap();
        if round == 4 {
            ws.produce(2000, &["--seed", "84", "--first-id", "100000"]);
        }
        workers[i] = bronze_bg(&ws, &["--worker", &format!("{i}/2")]);
    }
    for w in &mut workers {
        w.kill().unwrap();
        w.wait().unwrap();
    }
    // Both finish their partitions, concurrently.
    let finish: Vec<Child> = (0..2)
        .map(|i| {
            ws.command(&[
                "run",
                "bronze",
                "--until-caught-up",
                "--worker",
                &format!("{i}/2"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for f in finish {
        let o = f.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert_exactly_once(&ws, 8000);
    let status: serde_json::Value = serde_json::from_str(&ws.ok(&["status", "--json"])).unwrap();
    assert_eq!(status["pipelines"][0]["lag"], 0, "{status}");
}

#[test]
fn checkpoints_are_written_every_100_commits() {
    let ws = Workspace::with_batch(
        "ckpt",
        1,
        "{max_records: 2, max_bytes: 1MiB, max_wait: 100ms}",
        "",
    );
    ws.produce(230, &["--seed", "85"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    let log = ws.table("bronze/ventes_stream/_delta_log");
    assert!(table_version(ws.tbl("bronze/ventes_stream")) >= 115);
    assert!(
        log.join(format!("{:020}.checkpoint.parquet", 99)).exists(),
        "the 100th commit (version 99) writes one"
    );
    assert!(log.join("_last_checkpoint").exists());
    assert_eq!(count_rows(ws.tbl("bronze/ventes_stream")), 230);
}

#[test]
fn a_sasl_password_is_never_printed() {
    let secret = "s3cr3t-Pa55word-never-shown";
    let ws = Workspace::with_batch(
        "sasl",
        1,
        "{max_records: 100, max_bytes: 1MiB, max_wait: 200ms}",
        "",
    );
    let spec = std::fs::read_to_string(ws.config()).unwrap().replace(
        "kafka:\n  brokers: ${KAFKA_BROKERS:-127.0.0.1:19092}\n",
        "kafka:\n  brokers: ${KAFKA_BROKERS:-127.0.0.1:19092}\n  options:\n    security.protocol: SASL_PLAINTEXT\n    sasl.mechanism: SCRAM-SHA-256\n    sasl.username: lakectl\n    sasl.password: ${LAKECTL_SASL_PASSWORD}\n    socket.connection.setup.timeout.ms: 3000\n",
    );
    std::fs::write(ws.config(), spec).unwrap();
    let mut outputs = Vec::new();
    for args in [
        vec!["validate"],
        vec!["status"],
        vec!["status", "--json"],
        vec!["doctor"],
        vec!["run", "bronze", "--until-caught-up"],
        vec!["produce", "--count", "5", "--rate", "max"],
        vec!["topic", "list"],
        vec!["dashboard"],
    ] {
        let o = ws
            .command(&args)
            .env("LAKECTL_SASL_PASSWORD", secret)
            .env("RUST_LOG", "debug")
            .output()
            .unwrap();
        outputs.push((args, stdout(&o) + &stderr(&o)));
    }
    for (args, out) in &outputs {
        assert!(
            !out.contains(secret),
            "lakectl {args:?} printed the password:\n{out}"
        );
    }
    // The commands really tried to authenticate (the broker does not speak SASL here).
    let doctor = &outputs[3].1;
    assert!(doctor.contains("✗ broker reachable"), "{doctor}");
}

#[test]
fn the_spec_can_ask_a_running_pipeline_to_compact_itself() {
    let ws = Workspace::with_batch(
        "opt_spec",
        2,
        SMALL,
        "    optimize: {every: 1s, target_size: 64MiB}\n",
    );
    let mut bronze = bronze_bg(&ws, &[]);
    for i in 0..5 {
        ws.produce(
            200,
            &[
                "--seed",
                &(100 + i).to_string(),
                "--first-id",
                &(10_000 * i).to_string(),
            ],
        );
        std::thread::sleep(Duration::from_millis(800));
    }
    std::thread::sleep(Duration::from_millis(1500));
    sigterm(&mut bronze);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    let optimizes = bronze_commits(&ws, "OPTIMIZE");
    assert!(optimizes >= 2, "periodic optimize ran {optimizes} times");
    assert_exactly_once(&ws, 1000);
}
