//! What changed in a table between two versions, read from its Delta log: the partitions
//! whose data changed and the files added. Drives incremental silver runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

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

/// Reads commits `from..=to` of the table at `root`. None when the log cannot say (a commit
/// file is gone, or a commit changed the table's metadata): the caller recomputes fully.
pub fn between(root: &Path, from: u64, to: u64, columns: &[String]) -> Option<Changes> {
    let mut out = Changes::default();
    for v in from..=to {
        let file = root.join("_delta_log").join(format!("{v:020}.json"));
        let text = std::fs::read_to_string(&file).ok()?;
        out.commits += 1;
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
    }
    Some(out)
}
