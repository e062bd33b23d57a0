//! The conflict judgement over synthetic winning commits: (this commit's kind × the winner's
//! kind) → outcome.

use super::*;
use deltalake::kernel::{Add, Remove};

fn schema(cols: &[&str]) -> StructType {
    let fields: Vec<String> = cols
        .iter()
        .map(|c| format!(r#"{{"name":"{c}","type":"long","nullable":true,"metadata":{{}}}}"#))
        .collect();
    serde_json::from_str(&format!(
        r#"{{"type":"struct","fields":[{}]}}"#,
        fields.join(",")
    ))
    .unwrap()
}

fn jour(d: &str) -> HashMap<String, Option<String>> {
    HashMap::from([("jour".to_string(), Some(d.to_string()))])
}

fn add(path: &str, day: &str) -> Action {
    Action::Add(Add {
        path: path.into(),
        partition_values: jour(day),
        size: 1,
        modification_time: 1,
        data_change: true,
        ..Default::default()
    })
}

fn remove(path: &str, day: &str) -> Action {
    Action::Remove(Remove {
        path: path.into(),
        partition_values: Some(jour(day)),
        data_change: true,
        ..Default::default()
    })
}

/// This commit: a kind, with the actions such a commit has (files of day 1).
fn ours(kind: &str) -> Intent {
    let owned = [Transaction::new("lakectl/job/j", 3)];
    let (k, actions, txns): (Kind, Vec<Action>, &[Transaction]) = match kind {
        "append" => (Kind::Append, vec![add("jour=1/new", "1")], &owned),
        "replace" => (
            Kind::ReplacePartitions {
                predicate: "jour IN ('1')".into(),
            },
            vec![add("jour=1/new", "1"), remove("jour=1/a", "1")],
            &owned,
        ),
        "overwrite" => (
            Kind::Overwrite,
            vec![add("new", "1"), remove("jour=1/a", "1")],
            &owned,
        ),
        "compaction" => (
            Kind::Compact {
                predicate: None,
                target_size: 1,
            },
            vec![
                add("jour=1/c", "1"),
                remove("jour=1/a", "1"),
                remove("jour=1/b", "1"),
            ],
            &[],
        ),
        "widening" => (
            Kind::Rewrite,
            vec![add("jour=1/w", "1"), remove("jour=1/a", "1")],
            &[],
        ),
        "schema" => (Kind::AddColumns(Vec::new()), Vec::new(), &[]),
        "claim" => (Kind::Claim, Vec::new(), &owned),
        other => panic!("{other}"),
    };
    Intent::new(&k, &actions, txns, schema(&["a"]))
}

fn file(kind: &str, path: &str, day: &str, data_change: bool) -> String {
    format!(
        r#"{{"{kind}":{{"path":"{path}","partitionValues":{{"jour":"{day}"}},"size":1,"modificationTime":1,"dataChange":{data_change}}}}}"#
    )
}

/// A winning commit of `kind`.
fn winner(kind: &str) -> String {
    let info = r#"{"commitInfo":{}}"#.to_string();
    let lines: Vec<String> = match kind {
        // Bronze appends to day 2, and to day 1.
        "append elsewhere" => vec![file("add", "jour=2/x", "2", true)],
        "append here" => vec![file("add", "jour=1/x", "1", true)],
        // Another compaction of the same files, and of other files of day 1.
        "compaction of the same files" => vec![
            file("add", "jour=1/d", "1", false),
            file("remove", "jour=1/a", "1", false),
        ],
        "compaction of other files" => vec![
            file("add", "jour=1/d", "1", false),
            file("remove", "jour=1/z", "1", false),
        ],
        "compaction elsewhere" => vec![
            file("add", "jour=2/d", "2", false),
            file("remove", "jour=2/z", "2", false),
        ],
        "replace of the same files" => vec![
            file("add", "jour=1/y", "1", true),
            file("remove", "jour=1/a", "1", true),
        ],
        "schema change" => vec![format!(
            r#"{{"metaData":{{"id":"x","format":{{"provider":"parquet","options":{{}}}},"schemaString":{},"partitionColumns":[],"configuration":{{}}}}}}"#,
            serde_json::to_string(&serde_json::to_string(&schema(&["a", "b"])).unwrap()).unwrap()
        )],
        "claim" => vec![r#"{"txn":{"appId":"lakectl/job/j","version":4}}"#.to_string()],
        "other claim" => vec![r#"{"txn":{"appId":"lakectl/job/k","version":4}}"#.to_string()],
        other => panic!("{other}"),
    };
    std::iter::once(info)
        .chain(lines)
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Outcome {
    Follows,
    SchemaChanged,
    /// Lost to data.
    Conflict,
    /// Lost to a compaction: re-plan.
    Replan,
}

fn outcome(v: Verdict) -> Outcome {
    match v {
        Verdict::Follows => Outcome::Follows,
        Verdict::SchemaChanged => Outcome::SchemaChanged,
        Verdict::Conflict {
            by_compaction: true,
            ..
        } => Outcome::Replan,
        Verdict::Conflict { .. } => Outcome::Conflict,
    }
}

#[test]
fn every_kind_of_commit_against_every_kind_of_winner() {
    use Outcome::*;
    let winners = [
        "append elsewhere",
        "append here",
        "compaction of the same files",
        "compaction of other files",
        "compaction elsewhere",
        "replace of the same files",
        "schema change",
        "claim",
        "other claim",
    ];
    #[rustfmt::skip]
    let table: [(&str, [Outcome; 9]); 7] = [
        //               elsewhere here     same     other    elsewh.  replace  schema         claim     other claim
        ("append",     [Follows, Follows, Follows, Follows, Follows, Follows, SchemaChanged, Conflict, Follows]),
        ("replace",    [Follows, Conflict, Replan, Replan, Follows, Conflict, SchemaChanged, Conflict, Follows]),
        ("overwrite",  [Conflict, Conflict, Replan, Replan, Replan, Conflict, SchemaChanged, Conflict, Follows]),
        ("compaction", [Follows, Follows, Replan, Follows, Follows, Conflict, SchemaChanged, Follows, Follows]),
        ("widening",   [Conflict, Conflict, Replan, Replan, Replan, Conflict, SchemaChanged, Follows, Follows]),
        ("schema",     [Follows, Follows, Follows, Follows, Follows, Follows, SchemaChanged, Follows, Follows]),
        ("claim",      [Follows, Follows, Follows, Follows, Follows, Follows, SchemaChanged, Conflict, Follows]),
    ];
    let mut wrong = Vec::new();
    for (kind, expected) in table {
        let intent = ours(kind);
        for (w, want) in winners.iter().zip(expected) {
            let got = outcome(judge(winner(w).as_bytes(), &intent));
            if got != want {
                wrong.push(format!("{kind} × {w}: {got:?}, expected {want:?}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_file_removed_twice_conflicts_whatever_its_data_change_and_encoding() {
    // Two compactions of the same files, both `dataChange = false` (delta-rs lets this pass).
    let intent = ours("compaction");
    let w = [
        r#"{"commitInfo":{}}"#.to_string(),
        file("remove", "jour%3D1/b", "1", false),
    ]
    .join("\n");
    assert_eq!(
        judge(w.as_bytes(), &intent),
        Verdict::Conflict {
            what: "file jour=1/b (removed by both)".into(),
            by_compaction: true
        }
    );
}

#[test]
fn a_metadata_change_with_the_same_schema_is_a_conflict() {
    let same = serde_json::to_string(&schema(&["a"])).unwrap();
    let meta = format!(
        r#"{{"metaData":{{"id":"x","format":{{"provider":"parquet","options":{{}}}},"schemaString":{},"partitionColumns":[],"configuration":{{}}}}}}"#,
        serde_json::to_string(&same).unwrap()
    );
    assert!(matches!(
        judge(meta.as_bytes(), &ours("append")),
        Verdict::Conflict {
            by_compaction: false,
            ..
        }
    ));
    let protocol = br#"{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}"#;
    assert!(matches!(
        judge(protocol, &ours("append")),
        Verdict::Conflict { .. }
    ));
}
