//! `lakectl status`: real lag after producing more than was ingested, table figures,
//! quarantine reasons, job freshness, and a broker that is down.

use crate::common::*;
use serde_json::Value;

fn status(ws: &Workspace) -> Value {
    serde_json::from_str(&ws.ok(&["status", "--json"])).expect("status --json is JSON")
}

#[test]
fn reports_lag_tables_quarantine_and_job_freshness() {
    let ws = Workspace::new("status", 2);
    ws.copy_jobs(&["ventes_par_pays.yaml"]);
    ws.produce(100, &["--seed", "41"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    ws.produce(
        500,
        &[
            "--seed",
            "42",
            "--first-id",
            "1000",
            "--malformed-fraction",
            "0.1",
        ],
    );
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    ws.ok(&["run", "silver"]);
    ws.produce(300, &["--seed", "43", "--first-id", "5000"]);

    let s = status(&ws);
    let p = &s["pipelines"][0];
    assert_eq!(p["lag"], 300, "{p}");
    let parts = p["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    for q in parts {
        assert_eq!(
            q["lag"].as_i64().unwrap(),
            q["high_watermark"].as_i64().unwrap() - q["committed_offset"].as_i64().unwrap() - 1,
            "{q}"
        );
    }
    assert!(
        p["watermark"].is_string() && p["last_batch"].is_string(),
        "{p}"
    );

    let table = |name: &str| {
        s["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .cloned()
            .unwrap()
    };
    let quarantined = table("ventes_quarantine");
    let bad: u64 = quarantined["by_reason"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!(bad > 0, "{quarantined}");
    assert_eq!(table("ventes")["rows"].as_u64().unwrap() + bad, 600);
    assert_eq!(table("ventes")["version"], 2);

    let job = &s["jobs"][0];
    assert_eq!(job["name"], "ventes_par_pays");
    assert_eq!(job["stale"], false, "{job}");
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    let s = status(&ws);
    assert_eq!(s["pipelines"][0]["lag"], 0);
    assert_eq!(
        s["jobs"][0]["stale"], true,
        "new bronze data the job has not read"
    );

    let text = ws.ok(&["status"]);
    assert!(
        text.contains("BRONZE PIPELINES")
            && text.contains("lag 0")
            && text.contains("behind its source"),
        "{text}"
    );
}

#[test]
fn a_broker_that_is_down_is_reported_and_the_lake_still_shown() {
    let ws = Workspace::new("status_down", 1);
    ws.produce(50, &["--seed", "44"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    let out = ws
        .command(&["status", "--json"])
        .env("KAFKA_BROKERS", "127.0.0.1:1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        s["pipelines"][0]["broker_error"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1:1"),
        "{s}"
    );
    assert_eq!(s["tables"][0]["rows"], 50);
}

/// A table whose log cannot be read (here a corrupt commit file) is not "not created yet":
/// `status` and `dashboard` name the table and fail with the lake's exit code (5), no panic;
/// every command says the log is corrupt and where to look.
#[test]
fn an_unreadable_table_is_an_error_not_an_empty_lake() {
    let ws = Workspace::new("status_corrupt", 1);
    ws.produce(50, &["--seed", "7"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    let log = ws.table("bronze/ventes_stream").join("_delta_log");
    let last = std::fs::read_dir(&log)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .max()
        .expect("a commit file");
    std::fs::write(&last, b"{\"add\": not json\n").unwrap();
    for args in [&["status", "--json"][..], &["dashboard", "--json"]] {
        let out = ws.lakectl(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(5), "{args:?}: {err}");
        assert!(err.contains("ventes_stream"), "{args:?}: {err}");
        assert!(
            err.contains("the table's log is corrupt"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(stdout(&out).trim().is_empty(), "{args:?}: {}", stdout(&out));
    }
    // The other commands say the same.
    for (args, code) in [
        (&["doctor"][..], 1),
        (&["run", "bronze", "--until-caught-up"], 5),
        (&["query", "SELECT count(*) FROM ventes"], 5),
        (&["optimize", "ventes"], 5),
    ] {
        let out = ws.lakectl(args);
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert_eq!(out.status.code(), Some(code), "{args:?}: {text}");
        assert!(
            text.contains("the table's log is corrupt"),
            "{args:?}: {text}"
        );
        assert!(text.contains("_delta_log"), "{args:?}: {text}");
        assert!(!text.contains("panicked"), "{args:?}: {text}");
    }
}

/// A mistyped `--lake` is not a new, empty lake: the commands that only read say there is no
/// lake there, exit non-zero, and create nothing.
#[test]
fn a_lake_that_does_not_exist_is_said_to_be_missing_and_never_created() {
    let ws = Workspace::new("nolake", 1);
    ws.produce(20, &["--seed", "3"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    let nope = ws.dir.path().join("nope");
    let lake = nope.to_str().unwrap();
    for (args, code) in [
        (&["status"][..], 5),
        (&["status", "--json"], 5),
        (&["dashboard"], 5),
        (&["query", "SELECT count(*) FROM ventes"], 5),
        (&["doctor"], 1),
    ] {
        let out = ws.lakectl(&[&["--lake", lake][..], args].concat());
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert_eq!(out.status.code(), Some(code), "{args:?}: {text}");
        assert!(
            text.contains(&format!("no lake at {lake}")),
            "{args:?}: {text}"
        );
        assert!(!nope.exists(), "{args:?} created {lake}");
    }
}

/// A lake whose offsets are past the topic's end (the topic was recreated, or emptied by a
/// restart of the in-memory broker) is not "lag 0": `status` marks the partition, and its lag
/// is unknown.
#[test]
fn offsets_past_the_topic_end_are_marked_not_shown_as_caught_up() {
    let ws = Workspace::new("pastend", 1);
    ws.produce(50, &["--seed", "8"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    // The same lake, now reading a new topic with fewer records than it has ingested.
    let new_topic = unique("pastend_new");
    ws.ok(&["topic", "create", &new_topic, "--partitions", "1"]);
    let spec = std::fs::read_to_string(ws.config()).unwrap();
    std::fs::write(ws.config(), spec.replace(&ws.topic, &new_topic)).unwrap();
    ws.produce(10, &["--seed", "9"]);
    let s = status(&ws);
    let p = &s["pipelines"][0]["partitions"][0];
    assert_eq!(p["offsets_past_end"], true, "{s}");
    assert!(p["lag"].is_null(), "{s}");
    assert!(s["pipelines"][0]["lag"].is_null(), "{s}");
    let text = ws.ok(&["status"]);
    assert!(text.contains("past the partition's end"), "{text}");
}
