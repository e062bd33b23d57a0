//! `lakectl schedule` and `lakectl jobs` against the real broker and real Delta tables:
//! per-second cron runs while bronze ingests, overlap skipped, retries then failure, timeout
//! without commit, hot reload, SIGTERM under load then an exactly-once restart, /metrics.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use chrono::{DateTime, Utc};

const RUNS: &str = "_lakectl/runs";

/// A background scheduler, killed if the test fails before stopping it (its job processes
/// die with it).
pub(crate) struct Sched(pub(crate) Child);

impl Drop for Sched {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// `lakectl schedule` in the background, its logs in `schedule.log` of the workspace.
pub(crate) fn schedule_bg(ws: &Workspace, extra: &[&str]) -> Sched {
    let mut args = vec!["schedule"];
    args.extend_from_slice(extra);
    let log = File::create(log_path(ws)).expect("log file");
    let child = ws
        .command(&args)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start schedule");
    let child = Sched(child);
    wait_for(30, "the scheduler to start", || {
        log_text(ws).contains("scheduler started")
    });
    child
}

pub(crate) fn log_path(ws: &Workspace) -> PathBuf {
    ws.dir.path().join("schedule.log")
}

pub(crate) fn log_text(ws: &Workspace) -> String {
    std::fs::read_to_string(log_path(ws)).unwrap_or_default()
}

/// The run history rows of `job` (read independently of lakectl), oldest first.
pub(crate) fn runs(ws: &Workspace, job: &str) -> Vec<BTreeMap<String, String>> {
    let t = ws.tbl(RUNS);
    if !t.exists() {
        return Vec::new();
    }
    let mut r: Vec<_> = rows(&t).into_iter().filter(|r| r["job"] == job).collect();
    r.sort_by(|a, b| a["started"].cmp(&b["started"]));
    r
}

pub(crate) fn with_status(rows: &[BTreeMap<String, String>], status: &str) -> usize {
    rows.iter().filter(|r| r["status"] == status).count()
}

fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%#z"))
        .unwrap_or_else(|e| panic!("timestamp {s}: {e}"))
        .with_timezone(&Utc)
}

/// Writes a job file into the workspace's jobs/.
pub(crate) fn write_job(ws: &Workspace, file: &str, yaml: &str) {
    std::fs::write(ws.dir.path().join("jobs").join(file), yaml).expect("write job");
}

/// The shipped per-country job, on a per-second cron.
pub(crate) fn per_second_par_pays(ws: &Workspace, file: &str, name: &str, to: &str) {
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs/ventes_par_pays.yaml"),
    )
    .unwrap();
    let yaml = shipped
        .lines()
        .map(|l| {
            if l.starts_with("schedule:") {
                "schedule: \"* * * * * *\"".to_string()
            } else if l.starts_with("name:") {
                format!("name: {name}")
            } else if l.starts_with("to:") {
                format!("to: {to}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    write_job(ws, file, &yaml);
}

fn add_to_spec(ws: &Workspace, yaml: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(ws.config())
        .unwrap();
    f.write_all(yaml.as_bytes()).unwrap();
}

/// GET /metrics over plain HTTP.
pub(crate) fn scrape(addr: &str) -> String {
    let r = crate::common::http::get(addr, "/metrics");
    assert_eq!(r.status, 200, "{r:?}");
    r.body
}

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Revenue and transactions per (pays, jour) computed from bronze, independently of lakectl.
fn bronze_per_country(ws: &Workspace) -> BTreeMap<(String, String), (f64, f64)> {
    let mut m: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
    for r in rows(ws.tbl("bronze/ventes_stream")) {
        if num(&r, "montant") > 0.0 {
            let e = m.entry((r["pays"].clone(), r["jour"].clone())).or_default();
            e.0 += 1.0;
            e.1 += num(&r, "montant");
        }
    }
    m
}

/// `silver/ventes_par_pays` holds the transactions and revenue of bronze, per country and day.
pub(crate) fn assert_par_pays_matches_bronze(ws: &Workspace) {
    let expected = bronze_per_country(ws);
    let silver = rows(ws.tbl("silver/ventes_par_pays"));
    assert_eq!(silver.len(), expected.len());
    for row in &silver {
        let (n, rev) = expected[&(row["pays"].clone(), row["jour"].clone())];
        assert_eq!(num(row, "total_transactions"), n, "{row:?}");
        assert!(close(num(row, "revenue_total"), rev), "{row:?}");
    }
}

#[test]
fn a_per_second_job_runs_every_second_while_bronze_ingests_and_metrics_are_served() {
    let ws = Workspace::new("sched_cron", 2);
    per_second_par_pays(
        &ws,
        "par_pays.yaml",
        "ventes_par_pays",
        "silver/ventes_par_pays",
    );
    ws.produce(2000, &["--seed", "301"]);
    let addr = format!("127.0.0.1:{}", free_port());
    let started = Instant::now();
    let mut s = schedule_bg(&ws, &["--metrics-addr", &addr]);
    // More sales while it runs: bronze ingests continuously.
    std::thread::sleep(Duration::from_secs(2));
    ws.produce(2000, &["--seed", "302", "--first-id", "100000"]);
    wait_for(60, "bronze to hold the 4000 sales", || {
        ws.table("bronze/ventes_stream").join("_delta_log").exists()
            && count_rows(ws.tbl("bronze/ventes_stream")) == 4000
    });
    let bronze_version = table_version(ws.tbl("bronze/ventes_stream"));
    wait_for(30, "a job run that read the last bronze version", || {
        runs(&ws, "ventes_par_pays").iter().any(|r| {
            r["status"] == "succeeded"
                && r["source_version"].parse::<u64>().unwrap_or(0) >= bronze_version
        })
    });
    std::thread::sleep(Duration::from_secs(2));

    // /metrics while it runs.
    let m = scrape(&addr);
    assert_eq!(
        metric(&m, "lakectl_bronze_rows_in_total{pipeline=\"ventes\"}"),
        Some(4000.0),
        "{m}"
    );
    assert_eq!(
        metric(&m, "lakectl_bronze_lag_records{pipeline=\"ventes\"}"),
        Some(0.0)
    );
    assert_eq!(
        metric(&m, "lakectl_bronze_up{pipeline=\"ventes\"}"),
        Some(1.0)
    );
    assert!(metric(
        &m,
        "lakectl_bronze_watermark_timestamp_seconds{pipeline=\"ventes\"}"
    )
    .is_some());
    assert!(metric(
        &m,
        "lakectl_bronze_batch_duration_seconds{pipeline=\"ventes\"}"
    )
    .is_some());
    let ok_runs = metric(
        &m,
        "lakectl_job_runs_total{job=\"ventes_par_pays\",status=\"succeeded\"}",
    )
    .unwrap_or(0.0);
    assert!(ok_runs >= 3.0, "{m}");
    let last_ok = metric(
        &m,
        "lakectl_job_last_success_timestamp_seconds{job=\"ventes_par_pays\"}",
    )
    .expect("last success");
    assert!((Utc::now().timestamp() as f64 - last_ok).abs() < 10.0);
    assert!(m.contains("# TYPE lakectl_job_failures_total counter"));

    let elapsed = started.elapsed().as_secs_f64();
    let status = sigterm(&mut s.0);
    assert!(status.success(), "exit {status:?}:\n{}", log_text(&ws));

    // One run per second: consecutive whole seconds, as many as the seconds it ran.
    let r = runs(&ws, "ventes_par_pays");
    let fires: Vec<i64> = r
        .iter()
        .map(|r| ts(&r["scheduled_for"]).timestamp())
        .collect();
    assert!(
        fires.windows(2).all(|w| w[1] == w[0] + 1),
        "fire times not one per second: {fires:?}"
    );
    let n = fires.len() as f64;
    assert!(
        n >= elapsed - 3.0 && n <= elapsed + 1.0,
        "{n} runs in {elapsed:.1} s"
    );
    assert_eq!(with_status(&r, "failed"), 0, "{r:?}");

    // The silver table matches the data.
    assert_par_pays_matches_bronze(&ws);

    // `lakectl jobs` shows the schedule, the next three fire times and the last run.
    let j: serde_json::Value = serde_json::from_str(&ws.ok(&["jobs", "--json"])).unwrap();
    let job = &j.as_array().unwrap()[0];
    assert_eq!(job["job"], "ventes_par_pays");
    assert_eq!(job["schedule"], "* * * * * *");
    assert_eq!(job["timezone"], "UTC");
    let next: Vec<i64> = job["next"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| ts(t.as_str().unwrap()).timestamp())
        .collect();
    assert_eq!(next.len(), 3);
    assert!(next.windows(2).all(|w| w[1] == w[0] + 1), "{next:?}");
    assert_eq!(job["last_run"]["status"], "succeeded");
    let text = ws.ok(&["jobs"]);
    assert!(
        text.contains("ventes_par_pays  schedule \"* * * * * *\" (UTC)"),
        "{text}"
    );
    assert!(text.contains("succeeded"), "{text}");
}

/// A job whose computation takes far longer than the test: a three-way self-join on the
/// country (10 values), about 2×10^9 joined rows for 6,000 sales: over a minute on 2 cores
/// (3,000 sales took 11 s), with a flat memory use (streaming engine).
const ENDLESS_SQL: &str = "sql: |\n  SELECT a.pays, count(*) AS n\n  FROM ventes a JOIN ventes b ON a.pays = b.pays JOIN ventes c ON b.pays = c.pays\n  GROUP BY a.pays\n";

/// A workspace whose bronze holds the 6,000 sales [`ENDLESS_SQL`] needs, with a 1 s grace
/// period so that a stop does not wait for an endless run for 30 s.
fn endless_workspace(prefix: &str, seed: &str) -> Workspace {
    let ws = Workspace::new(prefix, 1);
    ws.produce(6000, &["--seed", seed]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    add_to_spec(&ws, "scheduler:\n  grace_period: 1s\n");
    ws
}

#[test]
fn an_overlapping_run_is_skipped_and_a_timeout_stops_a_run_without_commit() {
    let ws = endless_workspace("sched_overlap", "303");
    write_job(
        &ws,
        "lent.yaml",
        &format!("name: lent\nschedule: \"* * * * * *\"\n{ENDLESS_SQL}to: silver/lent\n"),
    );
    write_job(
        &ws,
        "borne.yaml",
        &format!(
            "name: borne\nschedule: \"*/2 * * * * *\"\ntimeout: 1s\n{ENDLESS_SQL}to: silver/borne\n"
        ),
    );
    let mut s = schedule_bg(&ws, &["--no-bronze"]);
    wait_for(30, "two skipped runs and two timeouts", || {
        let (l, b) = (runs(&ws, "lent"), runs(&ws, "borne"));
        with_status(&l, "skipped") >= 2 && with_status(&b, "timed_out") >= 2
    });
    let t0 = Instant::now();
    let status = sigterm(&mut s.0);
    assert!(status.success(), "exit {status:?}:\n{}", log_text(&ws));
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "the 1 s grace period was not honoured"
    );

    // `lent`: one run, never overlapped, stopped at shutdown after the grace period.
    let l = runs(&ws, "lent");
    let ran: Vec<_> = l.iter().filter(|r| r["status"] != "skipped").collect();
    assert_eq!(ran.len(), 1, "{l:?}");
    assert_eq!(ran[0]["status"], "cancelled");
    assert!(with_status(&l, "skipped") >= 2);
    assert!(l
        .iter()
        .filter(|r| r["status"] == "skipped")
        .all(|r| r["detail"].contains("concurrency: forbid")));
    assert!(log_text(&ws).contains("this run is skipped (concurrency: forbid)"));

    // `borne`: each run stopped by its 1 s timeout.
    let b = runs(&ws, "borne");
    assert!(
        b.iter()
            .all(|r| ["timed_out", "cancelled"].contains(&r["status"].as_str())),
        "{b:?}"
    );
    for r in b.iter().filter(|r| r["status"] == "timed_out") {
        let ms: i64 = r["duration_ms"].parse().unwrap();
        assert!((900..5000).contains(&ms), "{r:?}");
        assert!(r["error"].contains("timed out after 1"), "{r:?}");
    }
    // Nothing was committed by either.
    for t in ["silver/lent", "silver/borne"] {
        assert!(!ws.table(t).join("_delta_log").exists(), "{t} has a commit");
    }
}

#[test]
fn concurrency_replace_stops_the_running_run_for_the_new_one() {
    let ws = endless_workspace("sched_replace", "307");
    write_job(
        &ws,
        "remplace.yaml",
        &format!(
            "name: remplace\nschedule: \"*/2 * * * * *\"\nconcurrency: replace\n{ENDLESS_SQL}to: silver/remplace\n"
        ),
    );
    let mut s = schedule_bg(&ws, &["--no-bronze"]);
    wait_for(30, "two replaced runs", || {
        with_status(&runs(&ws, "remplace"), "cancelled") >= 2
    });
    assert!(sigterm(&mut s.0).success());
    let r = runs(&ws, "remplace");
    assert_eq!(with_status(&r, "skipped"), 0, "{r:?}");
    // Each run ends before the next starts: the old one was stopped for the new one.
    for w in r.windows(2) {
        assert!(ts(&w[0]["ended"]) <= ts(&w[1]["started"]), "{w:?}");
    }
    assert!(log_text(&ws).contains("stopping it (concurrency: replace)"));
    assert!(!ws.table("silver/remplace").join("_delta_log").exists());
}

#[test]
fn after_downtime_one_catch_up_run_only_when_asked() {
    let ws = Workspace::new("sched_catchup", 1);
    ws.produce(200, &["--seed", "308"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    for (name, catchup) in [("rattrape", "true"), ("oublie", "false")] {
        write_job(
            &ws,
            &format!("{name}.yaml"),
            &format!(
                "name: {name}\nschedule: \"*/2 * * * * *\"\ncatchup: {catchup}\n\
                 from: ventes\ngroup_by: [pays]\naggregate: {{n: count(*)}}\nto: silver/{name}\n"
            ),
        );
    }
    let mut s = schedule_bg(&ws, &["--no-bronze"]);
    wait_for(30, "a run of each job", || {
        !runs(&ws, "rattrape").is_empty() && !runs(&ws, "oublie").is_empty()
    });
    assert!(sigterm(&mut s.0).success());
    // Down for 7 s: three or four fire times missed.
    std::thread::sleep(Duration::from_secs(7));
    let before = (runs(&ws, "rattrape").len(), runs(&ws, "oublie").len());
    let restart = Utc::now();
    let mut s = schedule_bg(&ws, &["--no-bronze"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(sigterm(&mut s.0).success());
    let r = runs(&ws, "rattrape");
    let catchup: Vec<_> = r.iter().filter(|x| x["trigger"] == "catchup").collect();
    assert_eq!(catchup.len(), 1, "{r:?}");
    assert!(ts(&catchup[0]["started"]) >= restart);
    // Not a storm: besides the catch-up run, at most the one regular fire of the 1.5 s.
    assert!(r.len() - before.0 <= 2, "{r:?}");
    let o = runs(&ws, "oublie");
    assert!(o.iter().all(|x| x["trigger"] == "schedule"), "{o:?}");
    assert!(o.len() - before.1 <= 1, "{o:?}");
    assert!(log_text(&ws).contains("not run (catchup: false)"));
}

#[test]
fn a_failing_job_is_retried_with_backoff_then_marked_failed() {
    let ws = Workspace::new("sched_retry", 1);
    ws.produce(300, &["--seed", "304"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    write_job(
        &ws,
        "echec.yaml",
        "name: echec\nschedule: \"*/5 * * * * *\"\nretries: 2\nretry_delay: 300ms\n\
         from: ventes\ngroup_by: [pays]\naggregate: {revenue: sum(montant)}\n\
         expect:\n  impossible: {check: revenue < 0, on_violation: fail}\nto: silver/echec\n",
    );
    // A manual run is recorded too.
    let out = ws.lakectl(&["run", "echec"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let manual = runs(&ws, "echec");
    assert_eq!(manual.len(), 1);
    assert_eq!(
        (manual[0]["trigger"].as_str(), manual[0]["status"].as_str()),
        ("manual", "failed")
    );
    let mut s = schedule_bg(&ws, &["--no-bronze"]);
    wait_for(30, "a scheduled run marked failed", || {
        with_status(&runs(&ws, "echec"), "failed") >= 2
    });
    assert!(sigterm(&mut s.0).success());
    let r = runs(&ws, "echec");
    let failed = r
        .iter()
        .find(|r| r["status"] == "failed" && r["trigger"] == "schedule")
        .unwrap();
    let run: Vec<_> = r
        .iter()
        .filter(|x| x["run_id"] == failed["run_id"])
        .collect();
    let statuses: Vec<(&str, &str)> = run
        .iter()
        .map(|x| (x["attempt"].as_str(), x["status"].as_str()))
        .collect();
    assert_eq!(
        statuses,
        vec![("1", "retrying"), ("2", "retrying"), ("3", "failed")]
    );
    for x in &run {
        assert!(
            x["error"].contains("expectation `impossible` failed"),
            "{x:?}"
        );
    }
    // Exponential backoff: 300 ms, then 600 ms between attempts.
    let gap = |a: usize| (ts(&run[a + 1]["started"]) - ts(&run[a]["ended"])).num_milliseconds();
    assert!(gap(0) >= 300 && gap(1) >= 600, "gaps {} {}", gap(0), gap(1));
    assert!(!ws.table("silver/echec").join("_delta_log").exists());
    let j: serde_json::Value = serde_json::from_str(&ws.ok(&["jobs", "--json"])).unwrap();
    assert_eq!(j[0]["last_run"]["status"], "failed");
}

#[test]
fn hot_reload_starts_a_new_job_and_rejects_a_broken_one() {
    let ws = Workspace::new("sched_reload", 1);
    ws.produce(500, &["--seed", "305"]);
    let mut s = schedule_bg(&ws, &[]);
    assert!(runs(&ws, "nouveau").is_empty());

    // A new job file: it runs on its schedule, without a restart.
    per_second_par_pays(&ws, "nouveau.yaml", "nouveau", "silver/nouveau");
    wait_for(30, "the new job to run twice", || {
        with_status(&runs(&ws, "nouveau"), "succeeded") >= 2
    });
    assert!(log_text(&ws).contains("spec reloaded"));

    // A broken job file: rejected with its location; the running jobs go on.
    write_job(
        &ws,
        "casse.yaml",
        "name: casse\nschedule: \"* * * * * *\"\nfrom: ventes\ngroup_by: [pays_inconnu]\naggregate: {n: count(*)}\nto: silver/casse\n",
    );
    wait_for(15, "the broken file to be rejected", || {
        log_text(&ws).contains("spec change rejected")
    });
    let log = log_text(&ws);
    assert!(log.contains("casse.yaml:4:"), "{log}");
    assert!(log.contains("pays_inconnu"), "{log}");
    let before = runs(&ws, "nouveau").len();
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        runs(&ws, "nouveau").len() >= before + 2,
        "the running job stopped after a broken change"
    );
    assert!(runs(&ws, "casse").is_empty());
    // Reported once, not at every check.
    assert_eq!(log_text(&ws).matches("spec change rejected").count(), 1);

    // Both files removed: the job stops being scheduled.
    std::fs::remove_file(ws.dir.path().join("jobs/casse.yaml")).unwrap();
    std::fs::remove_file(ws.dir.path().join("jobs/nouveau.yaml")).unwrap();
    wait_for(15, "the removal to apply", || {
        log_text(&ws).contains("removed from the spec: no more runs")
    });
    std::thread::sleep(Duration::from_millis(1500));
    let n = runs(&ws, "nouveau").len();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(runs(&ws, "nouveau").len(), n);
    assert!(sigterm(&mut s.0).success());
}

#[test]
fn sigterm_under_load_leaves_tables_consistent_and_a_restart_is_exactly_once() {
    let ws = Workspace::with_batch(
        "sched_term",
        3,
        "{max_records: 300, max_bytes: 64MiB, max_wait: 200ms}",
        "",
    );
    ws.copy_jobs(&SEED_JOBS);
    per_second_par_pays(
        &ws,
        "ventes_par_pays.yaml",
        "ventes_par_pays",
        "silver/ventes_par_pays",
    );
    let mut s = schedule_bg(&ws, &[]);
    let mut producer = ws
        .command(&[
            "produce",
            "--rate",
            "4000",
            "--count",
            "16000",
            "--seed",
            "306",
            "--late-fraction",
            "0.02",
            "--malformed-fraction",
            "0.02",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(30, "bronze to be ingesting", || {
        ws.table("bronze/ventes_stream").join("_delta_log").exists()
            && table_version(ws.tbl("bronze/ventes_stream")) >= 3
    });
    std::thread::sleep(Duration::from_millis(700));
    let status = sigterm(&mut s.0);
    assert!(status.success(), "exit {status:?}:\n{}", log_text(&ws));
    assert!(log_text(&ws).contains("scheduler stopped"));
    // Consistent right after the stop: no record twice, and silver readable at its version.
    let bronze_now = count_rows(ws.tbl("bronze/ventes_stream"));
    assert!(bronze_now > 0 && bronze_now < 16000, "{bronze_now}");
    let mut seen = std::collections::BTreeSet::new();
    for r in rows(ws.tbl("bronze/ventes_stream")) {
        assert!(seen.insert((r["_kafka_partition"].clone(), r["_kafka_offset"].clone())));
    }
    if ws
        .table("silver/ventes_par_pays")
        .join("_delta_log")
        .exists()
    {
        rows(ws.tbl("silver/ventes_par_pays"));
    }
    assert!(producer.wait().unwrap().success());

    // Restart: it resumes from the committed offsets, exactly once.
    let mut s = schedule_bg(&ws, &[]);
    wait_for(
        90,
        "bronze and quarantine to hold the 16000 records",
        || {
            let q = ws.table("bronze/ventes_quarantine");
            let nq = if q.join("_delta_log").exists() {
                count_rows(&q)
            } else {
                0
            };
            count_rows(ws.tbl("bronze/ventes_stream")) + nq == 16000
        },
    );
    let v = table_version(ws.tbl("bronze/ventes_stream"));
    wait_for(30, "a job run over the complete bronze table", || {
        runs(&ws, "ventes_par_pays").iter().any(|r| {
            r["status"] == "succeeded" && r["source_version"].parse::<u64>().unwrap_or(0) >= v
        })
    });
    assert!(sigterm(&mut s.0).success());
    assert_exactly_once(&ws, 16000);
    let expected = bronze_per_country(&ws);
    let silver = rows(ws.tbl("silver/ventes_par_pays"));
    assert_eq!(silver.len(), expected.len());
    for row in &silver {
        let (n, _) = expected[&(row["pays"].clone(), row["jour"].clone())];
        assert_eq!(num(row, "total_transactions"), n, "{row:?}");
    }
}
