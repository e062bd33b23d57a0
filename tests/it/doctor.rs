//! `lakectl doctor`: passes on a healthy setup, fails with the right check and fix when the
//! broker is down, when the lake's table no longer matches the spec, and when the table's
//! offsets are ahead of the topic.

use crate::common::*;

fn doctor(ws: &Workspace, brokers: Option<&str>) -> (bool, String) {
    let mut c = ws.command(&["doctor"]);
    if let Some(b) = brokers {
        c.env("KAFKA_BROKERS", b);
    }
    let out = c.output().expect("run lakectl");
    (out.status.success(), stdout(&out) + &stderr(&out))
}

#[test]
fn passes_when_everything_is_up() {
    let ws = Workspace::new("doctor_ok", 2);
    ws.copy_jobs(&["ventes_par_pays.yaml"]);
    ws.produce(200, &["--seed", "71"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    let (ok, out) = doctor(&ws, None);
    assert!(ok, "{out}");
    for line in [
        "✓ spec valid",
        "✓ broker reachable",
        &format!("✓ topic {} exists: 2 partitions", ws.topic),
        "✓ lake writable",
        "✓ free disk",
        "✓ table ventes readable and compatible",
        "✓ table ventes_par_pays readable and compatible: silver/ventes_par_pays not created yet",
        "none ahead of the topic, lag 0",
        "all 9 checks passed",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(!out.contains('✗'), "{out}");
}

#[test]
fn fails_with_the_fix_when_the_broker_is_down() {
    let ws = Workspace::new("doctor_down", 1);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    // Nothing listens on port 1.
    let (ok, out) = doctor(&ws, Some("127.0.0.1:1"));
    assert!(!ok, "{out}");
    assert!(out.contains("✗ broker reachable"), "{out}");
    assert!(
        out.contains("fix: start the broker (scripts/broker.sh start)"),
        "{out}"
    );
    assert!(
        out.contains(&format!("– topic {} exists: broker unreachable", ws.topic)),
        "{out}"
    );
    assert!(out.contains("✓ lake writable"), "{out}");
    assert!(out.contains("error: 1 of"), "{out}");

    // And passes once it points at the running broker.
    let (ok, out) = doctor(&ws, None);
    assert!(ok, "{out}");
}

#[test]
fn fails_on_an_incompatible_table_and_offsets_ahead_of_the_topic() {
    let ws = Workspace::new("doctor_bad", 1);
    ws.produce(100, &["--seed", "72"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);

    // The spec now reads an empty new topic into the same table: offsets are ahead of it.
    let fresh = unique("doctor_fresh");
    ws.ok(&["topic", "create", &fresh, "--partitions", "1"]);
    let spec = std::fs::read_to_string(ws.config()).unwrap();
    std::fs::write(ws.config(), spec.replace(&ws.topic, &fresh)).unwrap();
    let (ok, out) = doctor(&ws, None);
    assert!(!ok, "{out}");
    assert!(
        out.contains("✗ offsets of ventes consistent with")
            && out.contains("partition 0: committed up to 99 but the topic ends at 0"),
        "{out}"
    );

    // A column's type changed in the spec: the table is incompatible.
    let spec = std::fs::read_to_string(ws.config()).unwrap();
    std::fs::write(
        ws.config(),
        spec.replace("quantite: int", "quantite: double"),
    )
    .unwrap();
    let (ok, out) = doctor(&ws, None);
    assert!(!ok, "{out}");
    assert!(
        out.contains("✗ table ventes readable and compatible"),
        "{out}"
    );
    assert!(
        out.contains("column `quantite` is integer in the table but double in the spec"),
        "{out}"
    );
}

#[test]
fn an_invalid_spec_is_located_and_nothing_else_runs() {
    let ws = Workspace::new("doctor_spec", 1);
    let spec = std::fs::read_to_string(ws.config()).unwrap();
    std::fs::write(
        ws.config(),
        spec.replace("watermark: 10m", "watermark: ten"),
    )
    .unwrap();
    let (ok, out) = doctor(&ws, None);
    assert!(!ok, "{out}");
    assert!(out.contains("✗ spec valid"), "{out}");
    assert!(out.contains("pipelines.yaml:"), "located: {out}");
    assert!(!out.contains("broker reachable"), "{out}");
}
