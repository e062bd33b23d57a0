//! What changed in a table between two versions, read from its Delta log: the partitions
//! whose data changed and the files added. Drives incremental silver runs.

use std::collections::{BTreeMap, BTreeSet};

use super::Table;

use serde_json::Value;

/// Partition values of the given columns, in order.
pub type PartitionKey = Vec<Option<String>>;

/// A partition key as text: its values joined by `/`, a null as `null`.
pub fn key_text(k: &PartitionKey) -> String {
    k.iter()
        .map(|x| x.as_deref().unwrap_or("null"))
        .collect::<Vec<_>>()
        .join("/")
}

/// A file a commit added as new data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedFile {
    /// Path relative to the table root (decoded).
    pub rel: String,
    /// Partition values.
    pub partition: BTreeMap<String, Option<String>>,
    /// Rows, from the file's statistics.
    pub rows: Option<usize>,
    /// Size in bytes.
    pub size: i64,
}

/// Changes between two versions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Partitions (values of the requested columns) with data added or removed.
    pub partitions: BTreeSet<PartitionKey>,
    /// Files added with `dataChange = true` (new data; a compaction's files are not), in
    /// log order. They may no longer be active (a later optimize compacted them): they hold
    /// the new rows all the same until a vacuum deletes them.
    pub added_files: Vec<AddedFile>,
    /// Commits read.
    pub commits: u64,
}

/// Reads commits `from..=to` of `table`'s log, in order (through its log store: a local folder
/// or an object store). None when the log cannot say (a commit is gone, or a commit changed the
/// table's metadata): the caller recomputes fully.
pub async fn between(table: &Table, from: u64, to: u64, columns: &[String]) -> Option<Changes> {
    use futures::StreamExt;
    let table = table.delta();
    let log = table.log_store();
    let mut out = Changes::default();
    // In order, 16 reads in flight: on an object store each commit is a request.
    let mut commits =
        futures::stream::iter((from..=to).map(|v| log.read_commit_entry(v))).buffered(16);
    while let Some(read) = commits.next().await {
        let bytes = read.ok()??;
        let text = std::str::from_utf8(&bytes).ok()?;
        out.commits += 1;
        read_commit(text, columns, &mut out)?;
    }
    Some(out)
}

/// Adds one commit's (newline-delimited JSON) data changes to `out`; None if it changed the
/// table's metadata or cannot be parsed.
fn read_commit(text: &str, columns: &[String], out: &mut Changes) -> Option<()> {
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let action: Value = serde_json::from_str(line).ok()?;
        if action.get("metaData").is_some() {
            return None;
        }
        for kind in ["add", "remove"] {
            let Some(a) = action.get(kind) else { continue };
            if a.get("dataChange").and_then(Value::as_bool) == Some(false) {
                continue;
            }
            let pv: BTreeMap<String, Option<String>> = a
                .get("partitionValues")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string)))
                        .collect()
                })
                .unwrap_or_default();
            out.partitions.insert(
                columns
                    .iter()
                    .map(|c| pv.get(c).cloned().flatten())
                    .collect(),
            );
            if kind == "add" {
                let path = a.get("path").and_then(Value::as_str)?;
                let rows = a
                    .get("stats")
                    .and_then(Value::as_str)
                    .and_then(|s| serde_json::from_str::<Value>(s).ok())
                    .and_then(|s| s.get("numRecords").and_then(Value::as_u64))
                    .map(|n| n as usize);
                out.added_files.push(AddedFile {
                    rel: percent_encoding::percent_decode_str(path)
                        .decode_utf8_lossy()
                        .into_owned(),
                    partition: pv,
                    rows,
                    size: a.get("size").and_then(Value::as_i64).unwrap_or(0),
                });
            }
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_lists_new_data_and_skips_compactions() {
        let text = concat!(
            r#"{"commitInfo":{"operation":"WRITE"}}"#,
            "\n",
            r#"{"add":{"path":"pays=x%253Dy/a.parquet","partitionValues":{"pays":"x=y"},"size":10,"dataChange":true,"stats":"{\"numRecords\":3}"}}"#,
            "\n",
            r#"{"add":{"path":"pays=FR/b.parquet","partitionValues":{"pays":"FR"},"size":5,"dataChange":false}}"#,
            "\n",
            r#"{"remove":{"path":"pays=DE/c.parquet","partitionValues":{"pays":"DE"},"dataChange":true}}"#,
            "\n",
        );
        let mut out = Changes::default();
        read_commit(text, &["pays".to_string()], &mut out).unwrap();
        assert_eq!(out.added_files.len(), 1);
        // The log's URI form decoded once: the object's name, hive-escaped as written.
        assert_eq!(out.added_files[0].rel, "pays=x%3Dy/a.parquet");
        assert_eq!(out.added_files[0].rows, Some(3));
        let keys: Vec<String> = out.partitions.iter().map(key_text).collect();
        assert_eq!(keys, ["DE", "x=y"]);
        let md = r#"{"metaData":{"id":"x"}}"#;
        assert!(read_commit(md, &[], &mut Changes::default()).is_none());
    }
}
