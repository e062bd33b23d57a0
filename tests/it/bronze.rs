//! Bronze against the real broker, asserting on the Delta tables read back with an
//! independent reader (delta-rs snapshot + the parquet crate).

use std::collections::{BTreeMap, HashSet};
use std::process::Stdio;
use std::time::Duration;

use crate::common::*;
use rand::{Rng, SeedableRng};

const BRONZE: &str = "bronze/ventes_stream";
const QUARANTINE: &str = "bronze/ventes_quarantine";

/// vente_ids in bronze; asserts there is no duplicate.
fn bronze_ids(ws: &Workspace) -> HashSet<i64> {
    let ids = column_strings(ws.tbl(BRONZE), "vente_id");
    let set: HashSet<i64> = ids.iter().map(|s| s.parse().unwrap()).collect();
    assert_eq!(set.len(), ids.len(), "duplicate vente_id in bronze");
    set
}

#[test]
fn end_to_end_with_quarantine_and_partitions() {
    let ws = Workspace::new("e2e", 3);
    // A first wave sets the watermark (a batch is judged by the batches before it).
    ws.produce(100, &["--seed", "100", "--first-id", "1000000"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    ws.produce(
        3000,
        &[
            "--seed",
            "1",
            "--late-fraction",
            "0.05",
            "--malformed-fraction",
            "0.03",
        ],
    );
    let out = ws.ok(&["run", "bronze", "--until-caught-up"]);
    assert!(out.contains("3000 consumed"), "{out}");

    // Classify what was produced, independently.
    let recs = consume_all(&ws.topic, 3, 3100);
    let now = chrono::Utc::now();
    let (mut valid, mut late, mut bad) = (HashSet::new(), 0usize, 0usize);
    for (_, _, p) in &recs {
        match classify(p, now) {
            Produced::Valid(v) => {
                valid.insert(v["vente_id"].as_i64().unwrap());
            }
            Produced::Late => late += 1,
            Produced::Bad => bad += 1,
        }
    }
    assert_eq!(
        bronze_ids(&ws),
        valid,
        "bronze holds exactly the valid, on-time sales"
    );
    let reasons = value_counts(ws.tbl(QUARANTINE), "reason");
    assert_eq!(
        reasons.get("late").copied().unwrap_or(0),
        late,
        "{reasons:?}"
    );
    assert_eq!(
        reasons.get("malformed").copied().unwrap_or(0)
            + reasons.get("schema").copied().unwrap_or(0),
        bad,
        "{reasons:?}"
    );
    assert!(
        reasons.contains_key("malformed") && reasons.contains_key("schema"),
        "{reasons:?}"
    );
    assert_exactly_once(&ws, 3100);

    // Quarantine keeps the raw bytes and the error.
    let raws = column_strings(ws.tbl(QUARANTINE), "raw");
    let errs = column_strings(ws.tbl(QUARANTINE), "error");
    assert!(
        raws.iter().any(|r| r.contains("???")),
        "raw payloads are kept"
    );
    assert!(errs.iter().all(|e| e != "null" && !e.is_empty()));

    // Partitioned by jour: the folders exist and hold today's sales.
    let today = now.format("%Y-%m-%d").to_string();
    assert!(
        ws.table(BRONZE).join(format!("jour={today}")).is_dir(),
        "jour={today} partition missing"
    );
    // Derived and metadata columns are filled.
    assert!(column_strings(ws.tbl(BRONZE), "date_ingestion")
        .iter()
        .all(|v| v != "null"));
    assert!(column_strings(ws.tbl(BRONZE), "_kafka_timestamp")
        .iter()
        .all(|v| v != "null"));
}

#[test]
fn restart_resumes_mid_partition_and_idle_run_commits_nothing() {
    let ws = Workspace::with_batch(
        "resume",
        2,
        "{max_records: 100, max_bytes: 1MiB, max_wait: 500ms}",
        "",
    );
    ws.produce(1000, &["--seed", "2"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    assert_eq!(bronze_ids(&ws).len(), 1000);
    let v1 = table_version(ws.tbl(BRONZE));

    // No new data: nothing is consumed and nothing is committed.
    let out = ws.ok(&["run", "bronze", "--until-caught-up"]);
    assert!(out.contains("0 batches, 0 consumed"), "{out}");
    assert_eq!(
        table_version(ws.tbl(BRONZE)),
        v1,
        "an idle run must not commit"
    );

    // New data: the next run starts where the last one stopped.
    ws.produce(500, &["--first-id", "1001"]);
    let out = ws.ok(&["run", "bronze", "--until-caught-up"]);
    assert!(out.contains("500 consumed"), "{out}");
    assert_eq!(bronze_ids(&ws), (1..=1500).collect::<HashSet<i64>>());
    assert_exactly_once(&ws, 1500);
}

#[test]
fn exactly_once_under_sigkill() {
    let ws = Workspace::with_batch(
        "crash",
        3,
        "{max_records: 700, max_bytes: 1MiB, max_wait: 200ms}",
        "",
    );
    // Enough that none of the six kills comes after the backlog is drained.
    sigkill_rounds(&ws, 120_000, 6, 6);
}

/// Produces `total` records (2 % late, 2 % malformed), then `rounds` times starts a
/// continuous bronze run and SIGKILLs it at a random moment 0-200 ms after its first commit
/// of the round (its first batch line), so the kill lands while it ingests, whatever its
/// start-up costs (on S3 that grows with the table); at least `min_mid_ingest` kills must
/// land mid-ingest. A final run catches up; every record is then in bronze or quarantine
/// exactly once.
pub(crate) fn sigkill_rounds(ws: &Workspace, total: u64, rounds: u32, min_mid_ingest: u32) {
    ws.produce(
        total,
        &[
            "--seed",
            "3",
            "--late-fraction",
            "0.02",
            "--malformed-fraction",
            "0.02",
        ],
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut mid_ingest = 0;
    for round in 0..rounds {
        let before = count_rows(ws.tbl(BRONZE));
        let log = ws.dir.path().join(format!("sigkill-{round}.log"));
        let mut child = ws
            .command(&["run", "bronze"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains(" batch ")
            && child.try_wait().unwrap().is_none()
            && started.elapsed() < Duration::from_secs(60)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..200)));
        let still_running = child.try_wait().unwrap().is_none();
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        let after = count_rows(ws.tbl(BRONZE));
        eprintln!("round {round}: killed; bronze rows {before} -> {after}");
        // The kill landed while the process ran and bronze was partly ingested.
        use std::os::unix::process::ExitStatusExt;
        if still_running && status.signal() == Some(9) && after > before && after < total as usize {
            mid_ingest += 1;
        }
    }
    assert!(
        mid_ingest >= min_mid_ingest,
        "only {mid_ingest} of {rounds} kills landed mid-ingest: the test proves nothing"
    );
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    assert_exactly_once(ws, total as usize);
}

/// A workspace with 300 records (10% malformed) in one partition, read in batches of 100 by
/// a run that aborts at `failpoint` (as a crash would). Returns it after the crash.
fn crashed_at(prefix: &str, seed: &str, failpoint: &str) -> Workspace {
    let ws = Workspace::with_batch(
        prefix,
        1,
        "{max_records: 100, max_bytes: 1MiB, max_wait: 200ms}",
        "",
    );
    ws.produce(300, &["--seed", seed, "--malformed-fraction", "0.1"]);
    let out = ws
        .command(&["run", "bronze", "--until-caught-up"])
        .env("LAKECTL_FAILPOINT", failpoint)
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    let name = failpoint.split(':').next().unwrap();
    assert_eq!(
        out.status.signal(),
        Some(6),
        "aborted at the failpoint: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains(&format!("failpoint {name}")),
        "{}",
        stderr(&out)
    );
    ws
}

/// A crash right after a batch's quarantine commit, before its bronze commit: the records it
/// quarantined stay quarantined, the others are written once on restart.
#[test]
fn a_crash_between_the_quarantine_and_bronze_commits_loses_and_duplicates_nothing() {
    let ws = crashed_at("fp_between", "41", "bronze.after-quarantine-commit:2");
    // At the crash: the second batch is in quarantine, not in bronze.
    let bronze_rows = count_rows(ws.tbl(BRONZE));
    let quarantined: Vec<i64> = column_strings(ws.tbl(QUARANTINE), "offset")
        .iter()
        .map(|o| o.parse().unwrap())
        .collect();
    assert!(
        bronze_rows <= 100,
        "bronze holds only the first batch: {bronze_rows}"
    );
    assert!(
        quarantined.iter().any(|o| (100..200).contains(o)),
        "the second batch's quarantine commit is there: {quarantined:?}"
    );
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    assert_exactly_once(&ws, 300);
}

/// A crash right after a batch's bronze commit: nothing of that batch is lost (its
/// quarantined records were committed before) nor written again.
#[test]
fn a_crash_right_after_a_bronze_commit_loses_and_duplicates_nothing() {
    let ws = crashed_at("fp_after", "42", "bronze.after-bronze-commit:2");
    // Two batches fully committed (both tables), the third not at all.
    let seen = count_rows(ws.tbl(BRONZE)) + count_rows(ws.tbl(QUARANTINE));
    assert_eq!(seen, 200, "the first two batches, each once");
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    assert_exactly_once(&ws, 300);
}

#[test]
fn watermark_survives_a_restart() {
    let ws = Workspace::new("wm_restart", 1);
    ws.produce(
        200,
        &["--seed", "4", "--start-time", "2024-12-12T12:00:00Z"],
    );
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    // 30 min older than the last event time: older than the 10 min watermark.
    ws.produce(
        100,
        &[
            "--seed",
            "5",
            "--first-id",
            "1000",
            "--start-time",
            "2024-12-12T11:30:00Z",
        ],
    );
    let out = ws.ok(&["run", "bronze", "--until-caught-up"]);
    assert!(out.contains("100 quarantined (late=100)"), "{out}");
    assert_eq!(bronze_ids(&ws).len(), 200);
    assert_eq!(
        value_counts(ws.tbl(QUARANTINE), "reason"),
        BTreeMap::from([("late".to_string(), 100)])
    );
    assert_exactly_once(&ws, 300);
}

#[test]
fn lagging_partition_loses_nothing_to_lateness() {
    let ws = Workspace::with_batch(
        "wm_lag",
        2,
        "{max_records: 100, max_bytes: 1MiB, max_wait: 500ms}",
        "",
    );
    // Partition 0 is a day ahead of partition 1: a global max watermark would make all of
    // partition 1 late; per-partition watermarks must not.
    ws.produce(
        600,
        &[
            "--seed",
            "6",
            "--partition",
            "0",
            "--start-time",
            "2024-12-13T10:00:00Z",
        ],
    );
    ws.produce(
        600,
        &[
            "--seed",
            "7",
            "--partition",
            "1",
            "--first-id",
            "10000",
            "--start-time",
            "2024-12-12T10:00:00Z",
        ],
    );
    let out = ws.ok(&["run", "bronze", "--until-caught-up"]);
    assert!(out.contains("1200 written, 0 quarantined"), "{out}");
    assert!(
        ws.table(BRONZE).join("jour=2024-12-12").is_dir()
            && ws.table(BRONZE).join("jour=2024-12-13").is_dir()
    );
    assert_exactly_once(&ws, 1200);
}

#[test]
fn late_drop_policy_counts_dropped_rows() {
    let ws = Workspace::with_batch(
        "wm_drop",
        1,
        "{max_records: 50000, max_bytes: 64MiB, max_wait: 1s}",
        "    late: drop\n",
    );
    ws.produce(
        100,
        &["--seed", "8", "--start-time", "2024-12-12T12:00:00Z"],
    );
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    ws.produce(
        40,
        &[
            "--seed",
            "9",
            "--first-id",
            "500",
            "--start-time",
            "2024-12-12T10:00:00Z",
        ],
    );
    let out = ws.ok(&["run", "bronze", "--until-caught-up"]);
    assert!(out.contains("40 late dropped"), "{out}");
    assert_eq!(count_rows(ws.tbl(QUARANTINE)), 0);
    assert_eq!(bronze_ids(&ws).len(), 100);
}

#[test]
fn empty_topic_does_not_hang() {
    let ws = Workspace::new("empty", 3);
    let out = ws.ok(&["run", "bronze", "--until-caught-up"]);
    assert!(out.contains("0 batches, 0 consumed"), "{out}");
}

#[test]
fn schema_change_is_reported_with_the_differing_columns() {
    let ws = Workspace::new("schema_change", 1);
    ws.produce(10, &["--seed", "10"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    let spec = std::fs::read_to_string(ws.config())
        .unwrap()
        .replace("quantite: int", "quantite: double");
    std::fs::write(ws.config(), spec).unwrap();
    let out = ws.lakectl(&["run", "bronze", "--until-caught-up"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("schema no longer matches the spec"), "{err}");
    assert!(
        err.contains("column `quantite` is integer in the table but double in the spec"),
        "{err}"
    );
}

#[test]
fn unreachable_broker_is_a_clear_error() {
    let ws = Workspace::new("unreachable", 1);
    let out = ws
        .command(&["run", "bronze", "--until-caught-up"])
        .env("KAFKA_BROKERS", "127.0.0.1:1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is the broker running?"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn sigint_finishes_the_current_batch_and_exits_zero() {
    let ws = Workspace::with_batch(
        "sigint",
        2,
        "{max_records: 500, max_bytes: 1MiB, max_wait: 200ms}",
        "",
    );
    ws.produce(5000, &["--seed", "11"]);
    let mut child = ws
        .command(&["run", "bronze"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    ws.produce(1000, &["--seed", "12", "--first-id", "100000"]);
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "lakectl did not stop after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(0), "a graceful stop exits 0");
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert!(
        out.contains("ventes:") && out.contains("consumed"),
        "the summary is printed: {out}"
    );
    // Whatever was committed is whole; the rest is picked up by the next run.
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    assert_exactly_once(&ws, 6000);
}

/// `run bronze` and `schedule` whose stdout and stderr are pipes nobody reads any more
/// (`| head`, a log shipper that restarted), then SIGTERM or SIGINT, once or twice: each
/// stops within the grace period (0 after one signal; 130, or 0 if already stopped, after two), every time, and what
/// bronze wrote is exactly once. (The stop used to wait on a log line that could not be
/// written: the signal task panicked before it set the stop flag.)
#[test]
fn runs_with_closed_output_pipes_still_stop_on_signals() {
    let ws = Workspace::with_batch(
        "closed_pipes",
        1,
        "{max_records: 50, max_bytes: 1MiB, max_wait: 200ms}",
        "",
    );
    let mut produced = 0;
    let mut round = 0;
    for cmd in [&["run", "bronze"][..], &["schedule"]] {
        for (sig, times) in [("TERM", 1), ("INT", 1), ("TERM", 2), ("INT", 2)] {
            round += 1;
            ws.produce(
                100,
                &[
                    "--seed",
                    &(20 + round).to_string(),
                    "--first-id",
                    &(10_000 * round).to_string(),
                ],
            );
            produced += 100;
            let mut c = ws
                .command(cmd)
                .env("RUST_LOG", "lakectl=debug")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start lakectl");
            // The readers go away; lakectl keeps logging into closed pipes.
            drop(c.stdout.take());
            drop(c.stderr.take());
            std::thread::sleep(std::time::Duration::from_millis(1500));
            let status = signal_and_wait(&mut c, sig, times);
            // After two signals: 130, or 0 when the first had already stopped it.
            let ok: &[i32] = if times == 1 { &[0] } else { &[0, 130] };
            assert!(
                status.code().is_some_and(|c| ok.contains(&c)),
                "{cmd:?}, SIG{sig} ×{times}: {status}"
            );
        }
    }
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    assert_exactly_once(&ws, produced);
}
