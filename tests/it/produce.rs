//! Topics and the sales simulator, against the real broker.

use crate::common::*;
use serde_json::Value;

#[test]
fn topic_create_is_idempotent_and_listed() {
    let ws = Workspace::new("topics", 3);
    // Creating it again is not an error.
    let again = ws.ok(&["topic", "create", &ws.topic, "--partitions", "3"]);
    assert!(again.contains("already exists (3 partitions)"), "{again}");
    let list = ws.ok(&["topic", "list"]);
    let line = list
        .lines()
        .find(|l| l.starts_with(&ws.topic))
        .unwrap_or_else(|| panic!("{} not in {list}", ws.topic));
    assert_eq!(line, format!("{}\t3", ws.topic));
}

#[test]
fn produced_records_read_back_with_a_plain_consumer() {
    let ws = Workspace::new("produce", 2);
    let out = ws.produce(500, &["--seed", "11"]);
    assert!(
        out.contains("sent 500, acknowledged 500, failed 0"),
        "{out}"
    );
    let recs = consume_all(&ws.topic, 2, 500);
    assert_eq!(recs.len(), 500);
    let mut ids = Vec::new();
    for (_, _, payload) in &recs {
        let v: Value = serde_json::from_slice(payload).expect("valid JSON");
        ids.push(v["vente_id"].as_i64().unwrap());
        let q = v["quantite"].as_i64().unwrap();
        assert!((1..=5).contains(&q));
        assert!(v["montant"].as_f64().unwrap() > 0.0);
        assert!(["Business", "Consumer"].contains(&v["segment"].as_str().unwrap()));
        assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
    }
    ids.sort_unstable();
    assert_eq!(
        ids,
        (1..=500).collect::<Vec<_>>(),
        "vente_id 1..=500 once each with --seed"
    );
    // Both partitions received records (keyed by client id).
    assert!(recs.iter().any(|r| r.0 == 0) && recs.iter().any(|r| r.0 == 1));
}

#[test]
fn same_seed_gives_the_same_stream() {
    let a = Workspace::new("seed_a", 1);
    let b = Workspace::new("seed_b", 1);
    let args = [
        "--seed",
        "42",
        "--start-time",
        "2024-12-12T08:00:00Z",
        "--late-fraction",
        "0.1",
        "--malformed-fraction",
        "0.1",
    ];
    a.produce(300, &args);
    b.produce(300, &args);
    let ra: Vec<Vec<u8>> = consume_all(&a.topic, 1, 300)
        .into_iter()
        .map(|r| r.2)
        .collect();
    let rb: Vec<Vec<u8>> = consume_all(&b.topic, 1, 300)
        .into_iter()
        .map(|r| r.2)
        .collect();
    assert_eq!(ra.len(), 300);
    assert_eq!(ra, rb);
    let c = Workspace::new("seed_c", 1);
    c.produce(
        300,
        &["--seed", "43", "--start-time", "2024-12-12T08:00:00Z"],
    );
    let rc: Vec<Vec<u8>> = consume_all(&c.topic, 1, 300)
        .into_iter()
        .map(|r| r.2)
        .collect();
    assert_ne!(ra, rc, "another seed gives another stream");
}

#[test]
fn late_and_malformed_fractions_are_honoured() {
    let ws = Workspace::new("fractions", 3);
    ws.produce(
        4000,
        &[
            "--seed",
            "5",
            "--late-fraction",
            "0.1",
            "--malformed-fraction",
            "0.05",
        ],
    );
    let recs = consume_all(&ws.topic, 3, 4000);
    assert_eq!(recs.len(), 4000);
    let now = chrono::Utc::now();
    let (mut late, mut bad) = (0, 0);
    for (_, _, p) in &recs {
        match classify(p, now) {
            Produced::Late => late += 1,
            Produced::Bad => bad += 1,
            Produced::Valid(_) => {}
        }
    }
    // Expected 400 late and 200 malformed; allow for sampling noise (±5 sigma).
    assert!((300..=500).contains(&late), "late = {late}");
    assert!((130..=270).contains(&bad), "malformed = {bad}");
}

#[test]
fn produce_to_a_missing_topic_is_a_clear_error() {
    let ws = Workspace::new("missing", 1);
    let out = ws.lakectl(&[
        "produce",
        "--topic",
        "surely_no_such_topic_here",
        "--count",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("topic `surely_no_such_topic_here` does not exist"),
        "{}",
        stderr(&out)
    );
}

/// kcat's daily uses: `topic send` a given record (or stdin's lines), `topic tail` the last
/// records, from the beginning, or from an offset.
#[test]
fn topic_send_and_tail_show_the_records_as_sent() {
    let ws = Workspace::new("topictail", 1);
    let out = ws.ok(&["topic", "send", "{\"a\": 1}", "--partition", "0"]);
    assert!(out.contains("sent 1 record(s)"), "{out}");
    let mut send = ws
        .command(&["topic", "send", "-", "--partition", "0"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = send.stdin.take().unwrap();
        stdin.write_all(b"{\"a\": 2}\n{\"a\": 3}\n").unwrap();
    }
    assert!(send.wait().unwrap().success());
    let all = ws.ok(&["topic", "tail", "--from-beginning", "--count", "10"]);
    assert_eq!(
        all, "0:0\t{\"a\": 1}\n0:1\t{\"a\": 2}\n0:2\t{\"a\": 3}\n",
        "{all}"
    );
    assert_eq!(
        ws.ok(&["topic", "tail", "--count", "1"]),
        "0:2\t{\"a\": 3}\n"
    );
    assert_eq!(
        ws.ok(&["topic", "tail", "--offset", "0:1", "--count", "1"]),
        "0:1\t{\"a\": 2}\n"
    );
    let bad = ws.lakectl(&["topic", "tail", "--offset", "x"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("is not PARTITION:OFFSET"),
        "{}",
        stderr(&bad)
    );
}
