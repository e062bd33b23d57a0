//! Bronze's promises at their edges, tried as an adversary would: several writers on one
//! topic at once, a stalled writer taken over, hostile records, a watermark moved by a record
//! dated in the future, a recreated topic, partitions added. Against the real broker and real
//! Delta tables (the jobs', spec's and outputs' edges are in `edges.rs`).

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use crate::common::*;

const BRONZE: &str = "bronze/ventes_stream";
const QUARANTINE: &str = "bronze/ventes_quarantine";

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Quarantine rows keyed by offset (partition 0): (reason, error, raw_bytes as hex).
fn quarantine_by_offset(ws: &Workspace) -> BTreeMap<i64, BTreeMap<String, String>> {
    rows(ws.tbl(QUARANTINE))
        .into_iter()
        .map(|r| (r["offset"].parse().unwrap(), r))
        .collect()
}

/// The exact `raw_bytes` of each quarantined record, read with the parquet crate.
fn quarantine_raw_bytes(ws: &Workspace) -> BTreeMap<i64, Vec<u8>> {
    use deltalake::arrow::array::{Array, BinaryArray, Int64Array};
    let mut out = BTreeMap::new();
    for b in read_delta(ws.tbl(QUARANTINE)) {
        let o = b
            .column_by_name("offset")
            .unwrap()
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .clone();
        let raw = b.column_by_name("raw_bytes").expect("raw_bytes column");
        let raw =
            deltalake::arrow::compute::cast(raw, &deltalake::arrow::datatypes::DataType::Binary)
                .unwrap();
        let raw = raw.as_any().downcast_ref::<BinaryArray>().unwrap();
        for i in 0..b.num_rows() {
            out.insert(o.value(i), raw.value(i).to_vec());
        }
    }
    out
}

/// Small batches make many commits, so the writers' commits interleave.
pub(crate) const RACE_BATCH: &str = "{max_records: 300, max_bytes: 64MiB, max_wait: 200ms}";

#[test]
fn concurrent_bronze_writers_never_duplicate() {
    racing_writers(
        &|| Some(Workspace::with_batch("writers", 3, RACE_BATCH, "")),
        3,
        12_000,
    );
}

/// `rounds` times, in a new workspace from `make` (3 partitions): two or three bronze
/// writers on the same partitions at once; each ends done (0) or taken over (6), and every
/// record is then in bronze or quarantine exactly once. At least one writer must have been
/// refused over the rounds (else they never raced).
pub(crate) fn racing_writers(make: &dyn Fn() -> Option<Workspace>, rounds: usize, n: u64) {
    let mut refused = 0;
    for round in 0..rounds {
        let Some(ws) = make() else { return };
        ws.produce(
            n,
            &[
                "--seed",
                &(500 + round).to_string(),
                "--late-fraction",
                "0.02",
                "--malformed-fraction",
                "0.02",
            ],
        );
        // Two or three writers started at once, one of them continuous (as `schedule` is).
        let writers = 2 + round % 2;
        let logs: Vec<_> = (0..writers)
            .map(|i| ws.dir.path().join(format!("writer{i}.log")))
            .collect();
        let mut children: Vec<_> = (0..writers)
            .map(|i| {
                let mut args = vec!["run", "bronze"];
                if i > 0 {
                    args.push("--until-caught-up");
                }
                ws.command(&args)
                    .stdout(Stdio::null())
                    .stderr(std::fs::File::create(&logs[i]).unwrap())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        // The continuous one runs until the others are done.
        let mut codes = Vec::new();
        for c in children.iter_mut().skip(1) {
            codes.push(c.wait().expect("wait").code());
        }
        std::thread::sleep(Duration::from_secs(2));
        let continuous = sigterm(&mut children[0]);
        codes.push(continuous.code());
        for (c, log) in codes
            .iter()
            .zip(logs.iter().skip(1).chain(logs.iter().take(1)))
        {
            assert!(
                matches!(c, Some(0) | Some(6)),
                "round {round}: a writer ended with {c:?} (0 = done, 6 = taken over):\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        refused += codes.iter().filter(|c| **c == Some(6)).count();
        // Whatever is left is drained by one writer.
        ws.ok(&["run", "bronze", "--until-caught-up"]);
        assert_exactly_once(&ws, n as usize);
    }
    assert!(
        refused > 0,
        "the writers never raced (no writer was refused)"
    );
}

fn signal(child: &std::process::Child, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(ok.success());
}

/// Batches of the takeover test.
pub(crate) const TAKEOVER_BATCH: &str = "{max_records: 50, max_bytes: 64MiB, max_wait: 100ms}";

#[test]
fn a_stalled_writer_taken_over_stops_with_exit_6_and_writes_nothing_more() {
    stalled_writer_taken_over(&Workspace::with_batch("takeover", 1, TAKEOVER_BATCH, ""));
}

/// A writer stalled (SIGSTOP) while a second one takes its partition over wakes up with new
/// records to write, is refused, stops with exit code 6 and writes nothing more (a workspace
/// with one partition and [`TAKEOVER_BATCH`]).
pub(crate) fn stalled_writer_taken_over(ws: &Workspace) {
    ws.produce(200, &["--seed", "61"]);
    let log = ws.dir.path().join("first.log");
    let mut first = ws
        .command(&["run", "bronze"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn");
    wait_for(30, "the first writer committed", || {
        count_rows(ws.tbl(BRONZE)) == 200
    });
    // The first writer stalls (a long GC pause, a frozen VM); a second one takes over.
    signal(&first, "-STOP");
    ws.produce(200, &["--seed", "62", "--first-id", "100000"]);
    let out = ws.ok(&["run", "bronze", "--until-caught-up"]);
    assert!(out.contains("200 consumed"), "{out}");
    // The first one wakes up with stale offsets and new records to write: refused.
    ws.produce(200, &["--seed", "63", "--first-id", "200000"]);
    signal(&first, "-CONT");
    let status = (0..300)
        .find_map(|_| {
            std::thread::sleep(Duration::from_millis(100));
            first.try_wait().expect("wait")
        })
        .unwrap_or_else(|| {
            let _ = first.kill();
            panic!("the stalled writer kept running after being taken over")
        });
    let err = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(6), "{err}");
    assert!(err.contains("taken over by another writer"), "{err}");
    assert_eq!(count_rows(ws.tbl(BRONZE)), 400, "it wrote nothing more");
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    assert_exactly_once(ws, 600);
}

#[test]
fn hostile_records_go_to_quarantine_and_bronze_goes_on() {
    // A derive that fails for one value (a strict cast), and a small size limit.
    let ws = Workspace::with_batch(
        "hostile",
        1,
        "{max_records: 50000, max_bytes: 64MiB, max_wait: 500ms}",
        "    limits: {max_record_bytes: 4MiB}\n",
    );
    let spec = std::fs::read_to_string(ws.config()).unwrap();
    std::fs::write(
        ws.config(),
        spec.replace(
            "jour: \"strftime(timestamp, '%Y-%m-%d')\"}",
            "jour: \"strftime(timestamp, '%Y-%m-%d')\", remise: \"CAST(produit_nom AS INT)\"}",
        ),
    )
    .unwrap();
    let now = now_rfc3339();
    let ok = |id: i64| Some(sale(id, &now, serde_json::json!({"produit_nom": "7"})));
    let deep = format!("{{\"vente_id\":{}1{}}}", "[".repeat(8000), "]".repeat(8000)).into_bytes();
    let mut not_utf8 = sale(3, &now, serde_json::json!({"produit_nom": "7"}));
    not_utf8.splice(20..20, [0xff, 0xfe, 0x80]);
    let huge = sale(
        4,
        &now,
        serde_json::json!({"client_nom": "x".repeat(6 << 20), "produit_nom": "7"}),
    );
    let far_future = sale(
        5,
        "9999-12-31T23:59:59Z",
        serde_json::json!({"produit_nom": "7"}),
    );
    let bad_derive = sale(6, &now, serde_json::json!({"produit_nom": "Laptop"}));
    let payloads = vec![
        ok(1),
        Some(deep.clone()),
        ok(2),
        Some(not_utf8.clone()),
        Some(huge.clone()),
        Some(far_future.clone()),
        Some(bad_derive.clone()),
        ok(7),
    ];
    // `lakectl schedule` (bronze continuously) sees the hostile records live.
    let mut child = ws
        .command(&["schedule"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    send_raw(&ws.topic, 0, &payloads);
    wait_for(60, "the hostile batch committed", || {
        count_rows(ws.tbl(BRONZE)) >= 3
    });
    // Records after them, dated now, are not late: the year-9999 record moved nothing.
    send_raw(&ws.topic, 0, &[ok(8), ok(9)]);
    wait_for(60, "the records after them", || {
        count_rows(ws.tbl(BRONZE)) >= 5
    });
    assert!(child.try_wait().unwrap().is_none(), "the scheduler stopped");
    assert!(sigterm(&mut child).success());

    let ids: Vec<String> = column_strings(ws.tbl(BRONZE), "vente_id");
    let mut ids: Vec<i64> = ids.iter().map(|s| s.parse().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, vec![1, 2, 7, 8, 9]);
    let q = quarantine_by_offset(&ws);
    let reason = |o: i64| q[&o]["reason"].clone();
    assert_eq!(reason(1), "malformed", "{:?}", q[&1]["error"]);
    assert!(q[&1]["error"].contains("max_depth"), "{:?}", q[&1]["error"]);
    assert_eq!(reason(3), "malformed", "{:?}", q[&3]["error"]);
    assert_eq!(reason(4), "too_large");
    assert!(
        q[&4]["error"].contains("max_record_bytes"),
        "{:?}",
        q[&4]["error"]
    );
    assert_eq!(reason(5), "future");
    assert_eq!(reason(6), "derive", "{:?}", q[&6]["error"]);
    assert_eq!(q.len(), 5);
    // The exact bytes are kept, non-UTF-8 and huge ones included.
    let raw = quarantine_raw_bytes(&ws);
    assert_eq!(raw[&1], deep);
    assert_eq!(raw[&3], not_utf8);
    assert_eq!(raw[&4], huge);
    assert_eq!(raw[&5], far_future);
    assert_exactly_once(&ws, 10);
}

#[test]
fn a_watermark_moved_by_the_future_can_be_reset() {
    // With a tolerance of ~30 years, a record dated 2050 is accepted and moves the watermark.
    let ws = Workspace::with_batch(
        "wmreset",
        1,
        "{max_records: 50000, max_bytes: 64MiB, max_wait: 200ms}",
        "    future_tolerance: 11000d\n",
    );
    let now = now_rfc3339();
    send_raw(
        &ws.topic,
        0,
        &[Some(sale(1, "2050-01-01T00:00:00Z", serde_json::json!({})))],
    );
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    send_raw(&ws.topic, 0, &[Some(sale(2, &now, serde_json::json!({})))]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    assert_eq!(value_counts(ws.tbl(QUARANTINE), "reason")["late"], 1);

    let out = ws.ok(&["watermark", "reset", "ventes"]);
    assert!(out.contains("ventes: watermark reset"), "{out}");
    assert!(out.contains("0:2050-01-01"), "{out}");
    send_raw(&ws.topic, 0, &[Some(sale(3, &now, serde_json::json!({})))]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    let ids = column_strings(ws.tbl(BRONZE), "vente_id");
    assert!(
        ids.contains(&"3".to_string()),
        "after the reset, a record of now is on time: {ids:?}"
    );
    assert_exactly_once(&ws, 3);
}

#[test]
fn a_recreated_topic_fails_loudly_instead_of_hanging_or_skipping() {
    let ws = Workspace::new("recreated", 1);
    ws.produce(100, &["--seed", "81"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    // The spec now reads a new topic (as after delete + create) with fewer records.
    let fresh = unique("recreated_new");
    ws.ok(&["topic", "create", &fresh, "--partitions", "1"]);
    let spec = std::fs::read_to_string(ws.config()).unwrap();
    std::fs::write(ws.config(), spec.replace(&ws.topic, &fresh)).unwrap();
    send_raw(
        &fresh,
        0,
        &[Some(sale(1, &now_rfc3339(), serde_json::json!({})))],
    );
    let started = std::time::Instant::now();
    let out = ws
        .command(&["run", "bronze", "--until-caught-up"])
        .output()
        .expect("run");
    assert!(started.elapsed() < Duration::from_secs(60), "it hung");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains("past its end") && err.contains("recreated"),
        "{err}"
    );
    assert_eq!(
        count_rows(ws.tbl(BRONZE)),
        100,
        "nothing was skipped or added"
    );
}

/// Partitions added to a topic are found by the discovery a continuous run makes every 10 s
/// (then it restarts over them, claiming them as at any start). The test broker (Tansu 0.6)
/// has no CreatePartitions, and deleting a topic under a running librdkafka consumer crashes
/// librdkafka on Tansu's metadata answer, so the discovery is checked against a topic that
/// has more partitions than the run knew of.
#[test]
fn partitions_added_to_the_topic_are_discovered() {
    use lakectl::bronze::ingest::{added_partitions, Worker};
    let ws = Workspace::new("grow", 4);
    let kafka = lakectl::spec::load_pipeline(&ws.config()).unwrap().kafka;
    let kafka = lakectl::spec::KafkaSpec {
        brokers: brokers(),
        ..kafka
    };
    assert_eq!(
        added_partitions(&kafka, &ws.topic, None, &[0]).unwrap(),
        vec![1, 2, 3]
    );
    assert_eq!(
        added_partitions(&kafka, &ws.topic, None, &[0, 1, 2, 3]).unwrap(),
        Vec::<i32>::new()
    );
    let w: Worker = "1/2".parse().unwrap();
    assert_eq!(
        added_partitions(&kafka, &ws.topic, Some(w), &[1]).unwrap(),
        vec![3]
    );
}
