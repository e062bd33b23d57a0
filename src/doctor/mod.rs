//! `lakectl doctor`: setup validation. Each check passes or fails with the fix; a check whose
//! prerequisite failed is skipped. Never prints Kafka options (they may hold secrets).

mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bronze::committed_offsets;
use crate::kafka::admin::list_topics;
use crate::kafka::consumer::Drain;
use crate::kafka::KafkaError;
use crate::lake::catalog::TableKind;
use crate::lake::schema::TableSchema;
use crate::lake::Table;
use crate::silver::CheckedJobs;
use crate::spec::{DataLossPolicy, PipelineSpec};

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Fine.
    Pass,
    /// Broken: see the fix.
    Fail,
    /// Not run because a prerequisite failed.
    Skip,
}

/// One check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Result.
    pub outcome: Outcome,
    /// What was found.
    pub detail: String,
    /// How to fix it (failures only).
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            outcome: Outcome::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            outcome: Outcome::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    fn skip(name: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            outcome: Outcome::Skip,
            detail: why.into(),
            fix: None,
        }
    }
}

/// Below this much free space on the lake's disk, the disk check fails.
pub const MIN_FREE_BYTES: u64 = 1 << 30;

/// Checks that need the spec, in order; `spec_check` is the spec's own check.
pub async fn run_checks(spec: &PipelineSpec, checked: &CheckedJobs) -> Vec<Check> {
    let mut out = Vec::new();

    // Broker and topics.
    let topics = tokio::task::block_in_place(|| {
        list_topics(&spec.kafka, crate::kafka::admin::REPORT_TIMEOUT)
    });
    let broker_ok = match &topics {
        Ok(t) => {
            out.push(Check::pass(
                "broker reachable",
                format!("{} ({} topics)", spec.kafka.brokers, t.len()),
            ));
            true
        }
        Err(e) => {
            out.push(Check::fail(
                "broker reachable",
                first_line(&e.to_string()),
                format!(
                    "start the broker (scripts/broker.sh start) or point --brokers / KAFKA_BROKERS \
                     at a running one (now: {})",
                    spec.kafka.brokers
                ),
            ));
            false
        }
    };
    let mut partitions: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for b in &spec.bronze {
        let name = format!("topic {} exists", b.topic);
        match &topics {
            Ok(ts) => match ts.iter().find(|t| t.name == b.topic) {
                Some(t) => {
                    partitions.insert(b.name.clone(), t.partitions.clone());
                    out.push(Check::pass(
                        name,
                        format!("{} partitions (pipeline {})", t.partitions.len(), b.name),
                    ));
                }
                None => out.push(Check::fail(
                    name,
                    format!(
                        "pipeline {} reads it, but the broker has no such topic",
                        b.name
                    ),
                    format!("lakectl topic create {} --partitions 3", b.topic),
                )),
            },
            Err(_) => out.push(Check::skip(name, "broker unreachable")),
        }
    }

    // Lake.
    match spec.lake.local_path() {
        Some(dir) => {
            out.push(lake_writable(&dir));
            out.push(free_disk(&dir));
        }
        None => out.extend(store::checks(&spec.lake).await),
    }

    // Tables.
    for t in checked.catalog.tables() {
        let name = format!("table {} readable and compatible", t.name);
        let path = spec.table_path(&t.path);
        let expected = checked.schemas.get(&t.name);
        let partition_by: Vec<String> = match &t.kind {
            TableKind::Bronze { pipeline } => spec
                .bronze(pipeline)
                .map(|b| b.partition_by.clone())
                .unwrap_or_default(),
            TableKind::Quarantine { .. } | TableKind::Centres { .. } | TableKind::Found => {
                Vec::new()
            }
            TableKind::Silver { job } => checked
                .job(job)
                .map(|j| j.partition_by.clone())
                .unwrap_or_default(),
        };
        let producer = match &t.kind {
            TableKind::Bronze { .. } | TableKind::Quarantine { .. } => "lakectl run bronze",
            TableKind::Silver { .. } | TableKind::Centres { .. } | TableKind::Found => {
                "lakectl run silver"
            }
        };
        match Table::open(&path).await {
            Ok(None) => out.push(Check::pass(
                name,
                format!("{} not created yet ({producer} creates it)", t.path),
            )),
            Ok(Some(dt)) => {
                let actual = dt.schema();
                let diff = match (expected, &actual) {
                    (Some(e), Ok(a)) => TableSchema::from_polars(e, &partition_by)
                        .ok()
                        .and_then(|e| e.diff(a)),
                    _ => None,
                };
                match (actual, diff) {
                    (Err(e), _) => out.push(Check::fail(
                        name,
                        first_line(&e.to_string()),
                        format!("check the Delta log under {path}"),
                    )),
                    (Ok(_), Some(diff)) => out.push(Check::fail(
                        name,
                        format!("the table's schema differs from the spec:\n{diff}"),
                        match t.kind {
                            TableKind::Silver { ref job } => format!(
                                "restore the job's columns, or rebuild: lakectl run {job} --full-refresh"
                            ),
                            _ => "restore the spec's columns, or point the pipeline at a new table"
                                .into(),
                        },
                    )),
                    (Ok(_), None) => out.push(Check::pass(
                        name,
                        format!("{} version {}", t.path, dt.version()),
                    )),
                }
            }
            Err(e) => out.push(Check::fail(
                name,
                first_line(&e.to_string()),
                match &e {
                    crate::lake::LakeError::Store { trouble, .. } => trouble.hint().to_string(),
                    _ => format!("check the Delta log under {path}"),
                },
            )),
        }
    }

    // Offsets against the topic.
    for b in &spec.bronze {
        let name = format!("offsets of {} consistent with {}", b.name, b.topic);
        let Some(parts) = partitions.get(&b.name) else {
            out.push(Check::skip(
                name,
                if broker_ok {
                    "topic missing"
                } else {
                    "broker unreachable"
                },
            ));
            continue;
        };
        let bronze = Table::open(&spec.table_path(&b.table)).await.ok().flatten();
        let starts: BTreeMap<i32, Option<i64>> = committed_offsets(bronze.as_ref(), &b.name, parts)
            .await
            .into_iter()
            .map(|(p, c)| (p, c.map(|c| c + 1)))
            .collect();
        out.push(tokio::task::block_in_place(|| {
            offsets_check(spec, &b.topic, &starts, name)
        }));
    }
    out
}

fn offsets_check(
    spec: &PipelineSpec,
    topic: &str,
    starts: &BTreeMap<i32, Option<i64>>,
    name: String,
) -> Check {
    let mut drain = match Drain::open(&spec.kafka, topic, starts, DataLossPolicy::Fail) {
        Ok(d) => d,
        Err(e @ KafkaError::DataLoss { .. }) => {
            return Check::fail(
                name,
                first_line(&e.to_string()),
                "the records were deleted by retention before bronze read them: accept the gap \
                 with `on_data_loss: skip` in the pipeline, or replay them into the topic",
            )
        }
        Err(e) => return Check::fail(name, first_line(&e.to_string()), "check the broker's logs"),
    };
    let highs = match drain.probe_high_watermarks(crate::kafka::admin::REPORT_TIMEOUT) {
        Ok(Some(h)) => h,
        Ok(None) => {
            return Check::fail(
                name,
                "the broker did not report high watermarks in time",
                "retry; check the broker's load and logs",
            )
        }
        Err(e) => return Check::fail(name, first_line(&e.to_string()), "check the broker's logs"),
    };
    let mut ahead = Vec::new();
    let mut lag = 0;
    for (&p, &next) in starts {
        let next = next.unwrap_or(0);
        let hw = highs.get(&p).copied().unwrap_or(0);
        if next > hw {
            ahead.push(format!(
                "partition {p}: committed up to {} but the topic ends at {hw}",
                next - 1
            ));
        } else {
            lag += hw - next;
        }
    }
    if ahead.is_empty() {
        Check::pass(
            name,
            format!(
                "{} partitions, none ahead of the topic, lag {lag}",
                starts.len()
            ),
        )
    } else {
        Check::fail(
            name,
            format!("the table is ahead of the topic ({})", ahead.join("; ")),
            "the topic was recreated or points at another cluster: point the pipeline at a new \
             table, or restore the topic",
        )
    }
}

/// The nearest existing folder at or above `p`.
fn existing_ancestor(p: &Path) -> PathBuf {
    let mut cur = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    while !cur.exists() {
        match cur.parent() {
            Some(parent) => cur = parent.to_path_buf(),
            None => break,
        }
    }
    cur
}

fn lake_writable(lake: &Path) -> Check {
    let name = "lake writable";
    // A lake is created by the commands that write it, never by a check: a mistyped --lake
    // must not turn into a new, empty lake that passes.
    if !lake.is_dir() {
        return Check::fail(
            name,
            format!("no lake at {}", lake.display()),
            "check `lake:` in the spec, --lake or LAKECTL_LAKE; `lakectl run bronze` creates the lake",
        );
    }
    let probe = lake.join(format!(".lakectl-doctor-{}", std::process::id()));
    let r = std::fs::write(&probe, b"ok").and_then(|_| std::fs::remove_file(&probe));
    match r {
        Ok(()) => Check::pass(name, lake.display().to_string()),
        Err(e) => Check::fail(
            name,
            format!("{}: {e}", lake.display()),
            "fix the folder's permissions, or set `lake:` / --lake / LAKECTL_LAKE to a writable folder",
        ),
    }
}

/// Free bytes on the file system holding `p`.
pub fn free_bytes(p: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a valid NUL-terminated path and `st` is a writable statvfs.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it filled `st`.
    let st = unsafe { st.assume_init() };
    // The field types differ between platforms (u32 on some).
    #[allow(clippy::unnecessary_cast)]
    Ok(st.f_bavail as u64 * st.f_frsize as u64)
}

fn free_disk(lake: &Path) -> Check {
    let name = "free disk";
    let at = existing_ancestor(lake);
    match free_bytes(&at) {
        Ok(b) if b >= MIN_FREE_BYTES => Check::pass(
            name,
            format!(
                "{:.1} GiB free at {}",
                b as f64 / (1u64 << 30) as f64,
                at.display()
            ),
        ),
        Ok(b) => Check::fail(
            name,
            format!(
                "only {:.0} MiB free at {}",
                b as f64 / (1u64 << 20) as f64,
                at.display()
            ),
            "free space, run `lakectl vacuum` on large tables, or move the lake",
        ),
        Err(e) => Check::fail(
            name,
            format!("{}: {e}", at.display()),
            "check the lake path",
        ),
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_is_read_from_an_existing_ancestor() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("a/b/c");
        assert_eq!(existing_ancestor(&missing), dir.path());
        assert!(free_bytes(dir.path()).expect("statvfs") > 0);
        assert_eq!(free_disk(&missing).name, "free disk");
    }

    #[test]
    fn an_unwritable_lake_fails_with_the_fix() {
        let c = lake_writable(Path::new("/proc/lakectl-cannot-write-here"));
        assert_eq!(c.outcome, Outcome::Fail);
        assert!(c.fix.unwrap().contains("LAKECTL_LAKE"));
    }
}
