//! The lake on a real local S3 server (moto, started by `scripts/test.sh`): exactly-once under
//! SIGKILL, incremental silver, two workers and an optimize at once, two workers that both
//! compact, every command, other readers (Python `deltalake`, DuckDB), the store checks of
//! `doctor`, and credentials that never show. Each test has a prefix of its own in the bucket.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::common::*;

const BRONZE: &str = "bronze/ventes_stream";
const SMALL_BATCHES: &str = "{max_records: 300, max_bytes: 1MiB, max_wait: 200ms}";

#[test]
fn s3_bronze_is_exactly_once_under_sigkill() {
    let Some(ws) = Workspace::on_s3("s3crash", 3, SMALL_BATCHES, "") else {
        return;
    };
    crate::bronze::sigkill_rounds(&ws, 20_000, 5, 5);
}

#[test]
fn s3_silver_runs_incrementally() {
    let Some(ws) = crate::silver::silver_ws_s3("s3silver") else {
        return;
    };
    crate::silver::incremental_rewrites_only_the_changed_day(&ws);
}

#[test]
fn s3_partition_values_that_need_encoding_read_back_everywhere() {
    let Some(ws) = Workspace::on_s3(
        "s3encoding",
        1,
        "{max_records: 3, max_bytes: 64MiB, max_wait: 200ms}",
        "",
    ) else {
        return;
    };
    crate::edges::special_partition_values(&ws);
}

#[test]
fn s3_racing_writers_on_the_same_partitions_never_duplicate() {
    use crate::guarantees::{racing_writers, RACE_BATCH};
    racing_writers(&|| Workspace::on_s3("s3race", 3, RACE_BATCH, ""), 2, 6000);
}

#[test]
fn s3_a_stalled_writer_taken_over_stops_with_exit_6() {
    use crate::guarantees::{stalled_writer_taken_over, TAKEOVER_BATCH};
    let Some(ws) = Workspace::on_s3("s3takeover", 1, TAKEOVER_BATCH, "") else {
        return;
    };
    stalled_writer_taken_over(&ws);
}

#[test]
fn s3_schedule_runs_bronze_and_a_job_and_records_its_runs() {
    use crate::schedule::{
        assert_par_pays_matches_bronze, log_text, per_second_par_pays, runs, schedule_bg,
        with_status,
    };
    let Some(ws) = Workspace::on_s3("s3sched", 2, SMALL_BATCHES, "") else {
        return;
    };
    per_second_par_pays(
        &ws,
        "par_pays.yaml",
        "ventes_par_pays",
        "silver/ventes_par_pays",
    );
    ws.produce(1500, &["--seed", "311"]);
    let mut s = schedule_bg(&ws, &[]);
    ws.produce(1500, &["--seed", "312", "--first-id", "100000"]);
    wait_for(90, "bronze to hold the 3000 sales", || {
        ws.tbl(BRONZE).exists() && count_rows(ws.tbl(BRONZE)) == 3000
    });
    let bronze_version = table_version(ws.tbl(BRONZE));
    wait_for(60, "a job run that read the last bronze version", || {
        runs(&ws, "ventes_par_pays").iter().any(|r| {
            r["status"] == "succeeded"
                && r["source_version"].parse::<u64>().unwrap_or(0) >= bronze_version
        })
    });
    let status = sigterm(&mut s.0);
    assert!(status.success(), "exit {status:?}:\n{}", log_text(&ws));
    let r = runs(&ws, "ventes_par_pays");
    assert_eq!(with_status(&r, "failed"), 0, "{r:?}");
    assert_par_pays_matches_bronze(&ws);
    assert_exactly_once(&ws, 3000);
}

#[test]
fn s3_a_table_on_s3_is_read_by_url_from_a_local_lake_with_the_aws_environment() {
    let Some(remote) = Workspace::on_s3("s3remote", 1, SMALL_BATCHES, "") else {
        return;
    };
    remote.produce(300, &["--seed", "41"]);
    remote.ok(&["run", "bronze", "--until-caught-up"]);
    let url = format!("{}{BRONZE}", remote.s3_lake.clone().expect("lake"));
    let local = Workspace::new("s3local", 1);
    let run = |args: &[&str]| {
        let out = local.command(args).envs(s3::env()).output().expect("run");
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out)
    };
    let sql = format!("SELECT count(*) AS n FROM delta.`{url}`");
    let q = run(&["query", &sql, "--format", "csv"]);
    assert!(q.contains("n\n300\n"), "{q}");
    let h = run(&["history", &url]);
    assert!(h.contains("WRITE"), "{h}");
}

/// Starts lakectl in the background (killed if the test fails), its stderr in `log`.
fn spawn(ws: &Workspace, args: &[&str], log: &Path) -> crate::schedule::Sched {
    crate::schedule::Sched(
        ws.command(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).expect("log file"))
            .spawn()
            .expect("spawn lakectl"),
    )
}

#[test]
fn s3_two_workers_and_an_optimize_at_once_lose_and_duplicate_nothing() {
    let Some(ws) = Workspace::on_s3("s3workers", 4, SMALL_BATCHES, "") else {
        return;
    };
    ws.produce(5000, &["--seed", "91", "--malformed-fraction", "0.02"]);
    let logs: Vec<_> = (0..2)
        .map(|i| ws.dir.path().join(format!("worker{i}.log")))
        .collect();
    let mut workers: Vec<_> = (0..2)
        .map(|i| {
            spawn(
                &ws,
                &["run", "bronze", "--worker", &format!("{i}/2")],
                &logs[i],
            )
        })
        .collect();
    wait_for(120, "both workers committed", || {
        ws.tbl(BRONZE).exists() && table_version(ws.tbl(BRONZE)) >= 4
    });
    // Compactions while both workers commit, and more records meanwhile.
    let mut compacted = 0;
    for round in 0..5 {
        let out = ws.ok(&["optimize", "ventes", "--target-size", "8MiB"]);
        if out.contains(": version ") {
            compacted += 1;
        }
        if round == 1 {
            ws.produce(2000, &["--seed", "92", "--first-id", "100000"]);
        }
        std::thread::sleep(Duration::from_millis(700));
    }
    for (w, log) in workers.iter_mut().zip(&logs) {
        let status = sigterm(&mut w.0);
        let log = std::fs::read_to_string(log).unwrap_or_default();
        assert!(status.success(), "a worker failed ({status}):\n{log}");
        assert!(!log.contains("ERROR"), "{log}");
    }
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    assert_exactly_once(&ws, 7000);
    assert!(
        compacted >= 1,
        "no optimize compacted anything: the race was not run"
    );
    let history = ws.ok(&["history", "ventes", "--limit", "1000"]);
    assert!(history.contains("OPTIMIZE"), "{history}");
}

/// Two `--worker`s on one S3 table, each compacting it every second (`optimize: {every}`),
/// while records keep arriving: the two compactions race each other and both workers'
/// appends, and every record is in the table once.
#[test]
fn s3_two_workers_that_both_compact_duplicate_nothing() {
    let Some(ws) = Workspace::on_s3(
        "s3compact",
        4,
        "{max_records: 100, max_bytes: 1MiB, max_wait: 200ms}",
        "    optimize: {every: 1s, target_size: 64MiB}\n",
    ) else {
        return;
    };
    ws.produce(2000, &["--seed", "93"]);
    let logs: Vec<_> = (0..2)
        .map(|i| ws.dir.path().join(format!("worker{i}.log")))
        .collect();
    let mut workers: Vec<_> = (0..2)
        .map(|i| {
            spawn(
                &ws,
                &["run", "bronze", "--worker", &format!("{i}/2")],
                &logs[i],
            )
        })
        .collect();
    let mut produced = 2000;
    for round in 0..8 {
        std::thread::sleep(Duration::from_millis(1200));
        ws.produce(
            1000,
            &[
                "--seed",
                &(94 + round).to_string(),
                "--first-id",
                &(100_000 * (round + 1)).to_string(),
            ],
        );
        produced += 1000;
    }
    // The workers compact on their own clock: wait for it (a loaded machine is slower), not
    // a fixed time.
    wait_for(120, "a compaction by the workers", || {
        bronze_commits(&ws, "OPTIMIZE") >= 2
    });
    let mut compactions = String::new();
    for (w, log) in workers.iter_mut().zip(&logs) {
        let status = sigterm(&mut w.0);
        let log = std::fs::read_to_string(log).unwrap_or_default();
        assert!(status.success(), "a worker failed ({status}):\n{log}");
        assert!(!log.contains("ERROR"), "{log}");
        compactions.extend(
            log.lines()
                .filter(|l| l.contains("optimize"))
                .map(|l| format!("{l}\n")),
        );
    }
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    assert_exactly_once(&ws, produced);
    // The compactions ran (7-8 per run on an idle machine).
    let optimizes = bronze_commits(&ws, "OPTIMIZE");
    assert!(
        optimizes >= 2,
        "the workers compacted {optimizes} times:\n{compactions}"
    );
}

/// Runs `args` with debug logs; asserts success; returns stdout + stderr.
fn run_debug(ws: &Workspace, args: &[&str]) -> String {
    let out = ws
        .command(args)
        .env("RUST_LOG", "debug")
        .output()
        .expect("run lakectl");
    let text = format!("{}\n{}", stdout(&out), stderr(&out));
    assert!(out.status.success(), "lakectl {args:?} failed:\n{text}");
    text
}

#[test]
fn s3_every_command_works_and_no_credential_is_ever_shown() {
    let Some(ws) = Workspace::on_s3("s3cmds", 2, SMALL_BATCHES, "") else {
        return;
    };
    ws.copy_jobs(&SEED_JOBS);
    ws.produce(1500, &["--seed", "5", "--malformed-fraction", "0.02"]);
    let lake = ws.s3_lake.clone().expect("s3 lake");
    let mut outputs = vec![
        run_debug(&ws, &["validate"]),
        run_debug(&ws, &["run", "bronze", "--until-caught-up"]),
        run_debug(&ws, &["run", "silver"]),
    ];
    let bronze_rows = count_rows(ws.tbl(BRONZE));
    assert!(bronze_rows > 1400, "{bronze_rows}");
    let q = run_debug(
        &ws,
        &[
            "query",
            "SELECT count(*) AS n FROM ventes",
            "--format",
            "csv",
        ],
    );
    assert!(q.contains(&format!("n\n{bronze_rows}\n")), "{q}");
    // A table named by its URL.
    let by_url = format!(
        "SELECT count(*) AS n FROM delta.`{}bronze/ventes_stream`",
        lake
    );
    let q2 = run_debug(&ws, &["query", &by_url, "--format", "csv"]);
    assert!(q2.contains(&format!("n\n{bronze_rows}\n")), "{q2}");
    let status = run_debug(&ws, &["status", "--json"]);
    assert!(
        status.contains("\"lag\": 0") || status.contains("\"lag\":0"),
        "{status}"
    );
    let hist = run_debug(&ws, &["history", "ventes"]);
    assert!(hist.contains("WRITE"), "{hist}");
    let opt = run_debug(&ws, &["optimize", "ventes"]);
    let vac = run_debug(&ws, &["vacuum", "ventes", "--dry-run"]);
    let dash = run_debug(&ws, &["dashboard"]);
    assert!(dash.contains("ventes"), "{dash}");
    let jobs = run_debug(&ws, &["jobs"]);
    let doctor = run_debug(&ws, &["doctor"]);
    assert!(
        doctor.contains("lake reachable") && doctor.contains("conditional writes"),
        "{doctor}"
    );
    outputs.extend([q, q2, status, hist, opt, vac, dash, jobs, doctor]);
    // A failure that quotes its options: a store that cannot be reached.
    let failed = ws
        .command(&["status"])
        .env("RUST_LOG", "debug")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        .output()
        .expect("run");
    outputs.push(format!("{}\n{}", stdout(&failed), stderr(&failed)));
    let doctor_down = ws
        .command(&["doctor"])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        .output()
        .expect("run");
    let down = format!("{}\n{}", stdout(&doctor_down), stderr(&doctor_down));
    assert!(!doctor_down.status.success(), "{down}");
    assert!(down.contains("scripts/s3.sh start"), "{down}");
    outputs.push(down);
    for o in &outputs {
        assert!(
            !o.contains(s3::SECRET_ACCESS_KEY),
            "the secret key was shown:\n{o}"
        );
    }
    // Nor in any commit of any table.
    for t in [BRONZE, "bronze/ventes_quarantine", "silver/ventes_aggreges"] {
        let infos = with_table(ws.tbl(t), |d| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use futures::TryStreamExt;
                d.history(None).try_collect::<Vec<_>>().await.unwrap()
            })
        });
        let text = serde_json::to_string(&infos).unwrap();
        assert!(!text.contains(s3::SECRET_ACCESS_KEY), "{t}: {text}");
        assert!(!text.contains(s3::ACCESS_KEY_ID), "{t}: {text}");
    }
}

#[test]
fn s3_doctor_checks_conditional_writes_and_says_what_to_do() {
    let Some(ws) = Workspace::on_s3("s3doctor", 1, SMALL_BATCHES, "") else {
        return;
    };
    let out = ws.lakectl(&["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let check = |r: &serde_json::Value, name: &str| {
        r.as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no check {name} in {r}"))
    };
    assert_eq!(
        check(&report, "lake reachable")["outcome"],
        "pass",
        "{report}"
    );
    assert_eq!(
        check(&report, "store honours conditional writes")["outcome"],
        "pass",
        "{report}"
    );
    // A store configured without conditional puts: commits would fail; doctor says why.
    let spec = std::fs::read_to_string(ws.config()).unwrap();
    std::fs::write(
        ws.config(),
        spec.replacen(
            "bronze:",
            "storage:\n  conditional_put: disabled\nbronze:",
            1,
        ),
    )
    .unwrap();
    let out = ws.lakectl(&["doctor", "--json"]);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let c = check(&report, "store honours conditional writes");
    assert_eq!(c["outcome"], "fail", "{report}");
    assert!(
        c["fix"].as_str().unwrap().contains("conditional_put"),
        "{report}"
    );
}

#[test]
fn s3_tables_are_read_by_python_deltalake_and_duckdb() {
    let Some(ws) = Workspace::on_s3("s3readers", 2, SMALL_BATCHES, "") else {
        return;
    };
    ws.copy_jobs(&SEED_JOBS);
    ws.produce(1200, &["--seed", "17"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    ws.ok(&["run", "silver"]);
    let lake = ws.s3_lake.clone().expect("lake").to_string();
    let endpoint = s3::endpoint().expect("endpoint");
    for t in [BRONZE, "silver/ventes_par_pays"] {
        let expected = count_rows(ws.tbl(t));
        let url = format!("{lake}{t}");
        let Some((out, err)) = python_check(
            READERS,
            &[
                Path::new(&url),
                Path::new(&endpoint),
                Path::new(s3::ACCESS_KEY_ID),
                Path::new(s3::SECRET_ACCESS_KEY),
            ],
        ) else {
            return;
        };
        assert_eq!(
            out,
            format!("deltalake {expected}\nduckdb {expected}"),
            "{t}: {err}"
        );
    }
}

/// Counts a table's rows with Python `deltalake`, then with DuckDB (its httpfs and delta
/// extensions from PyPI), both from the S3 server. Args: url endpoint key secret.
const READERS: &str = r#"
import sys, os, glob
url, endpoint, key, secret = sys.argv[1:5]
from deltalake import DeltaTable
opts = {"AWS_ENDPOINT_URL": endpoint, "AWS_ALLOW_HTTP": "true", "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}
print("deltalake", DeltaTable(url, storage_options=opts).to_pyarrow_table().num_rows)
import duckdb, duckdb_extension_httpfs, duckdb_extension_delta
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
for m in (duckdb_extension_httpfs, duckdb_extension_delta):
    (ext,) = glob.glob(os.path.join(os.path.dirname(m.__file__), "extensions", "*", "*.duckdb_extension"))
    con.execute(f"LOAD '{ext}'")
host = endpoint.split("://", 1)[1]
con.execute(f"CREATE SECRET (TYPE S3, KEY_ID '{key}', SECRET '{secret}', REGION 'us-east-1', "
            f"ENDPOINT '{host}', URL_STYLE 'path', USE_SSL false)")
print("duckdb", con.execute(f"SELECT count(*) FROM delta_scan('{url}')").fetchone()[0])
"#;

/// The store goes away while `run bronze` writes, then stays away for every command: each
/// says the store cannot be reached, with a non-zero exit, no panic text and no secret;
/// once it is back, one more run loses and doubles nothing.
#[test]
fn s3_an_outage_is_reported_as_one_and_loses_nothing() {
    let Some(ws) = Workspace::on_s3("s3outage", 2, SMALL_BATCHES, "") else {
        return;
    };
    let proxy = crate::common::proxy::Proxy::start(&crate::common::s3::endpoint().unwrap());
    let via = |args: &[&str]| {
        let mut c = ws.command(args);
        c.env("AWS_ENDPOINT_URL", proxy.url());
        c
    };
    let said = |what: &str, out: &std::process::Output| {
        let text = format!("{}\n{}", stdout(out), stderr(out));
        assert!(!out.status.success(), "{what} succeeded:\n{text}");
        assert!(
            text.contains("the store cannot be reached"),
            "{what}:\n{text}"
        );
        for bad in [
            "panicked",
            "Already shut down",
            "Failed to parse parquet",
            crate::common::s3::SECRET_ACCESS_KEY,
        ] {
            assert!(!text.contains(bad), "{what} shows {bad:?}:\n{text}");
        }
        text
    };
    ws.produce(3000, &["--seed", "11"]);
    assert!(via(&["run", "bronze", "--until-caught-up"])
        .status()
        .unwrap()
        .success());
    let before = bronze_commits(&ws, "WRITE");

    // The store goes while a run writes.
    let producer = ws
        .command(&[
            "produce",
            "--count",
            "20000",
            "--rate",
            "4000",
            "--seed",
            "12",
            "--first-id",
            "100000",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("producer");
    let run = via(&["run", "bronze"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run bronze");
    wait_for(60, "a commit of the running bronze", || {
        bronze_commits(&ws, "WRITE") > before + 1
    });
    proxy.cut();
    let out = run.wait_with_output().expect("run bronze");
    said("run bronze during the outage", &out);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));

    // Every command while it is gone.
    for (args, code) in [
        (&["status", "--json"][..], 5),
        (&["dashboard"], 5),
        (&["doctor"], 1),
        (&["query", "SELECT count(*) AS n FROM ventes"], 5),
        (&["run", "bronze", "--until-caught-up"], 5),
    ] {
        let out = via(args).output().expect("lakectl");
        said(&format!("{args:?}"), &out);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
    }

    // Back: the records that arrived meanwhile are ingested once.
    proxy.restore();
    let mut producer = producer;
    assert!(producer.wait().unwrap().success());
    assert!(via(&["run", "bronze", "--until-caught-up"])
        .status()
        .unwrap()
        .success());
    assert_exactly_once(&ws, 23_000);
}
