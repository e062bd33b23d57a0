//! How a job's plan is executed. A structured job grouped by a partition column of its source
//! (the seeds' `jour`) runs partition-wise: the same plan over bounded chunks of whole source
//! partitions, one after the other, so memory is bounded by a chunk, not by the table. A chunk
//! within the bound runs on Polars' in-memory engine (faster and smaller there); a single
//! partition larger than the bound runs on the streaming engine (smaller there). Any other
//! job runs as one plan on the streaming engine. Figures: BENCHMARKS.md, "Silver".

use std::collections::BTreeMap;

use polars::prelude::Engine;

use super::prepare::partition_key;
use crate::lake::changes::PartitionKey;
use crate::lake::read::DataFile;
use crate::lake::TableSchema;
use crate::spec::job::{JobQuery, JobSpec};

/// Source rows a chunk aims at: whole partitions are added to a chunk until it holds this
/// many (a partition larger than this is a chunk of its own, streamed).
pub const CHUNK_ROWS: u64 = 1_000_000;

/// Environment variable that overrides [`CHUNK_ROWS`] (smaller: less memory, more passes).
pub const CHUNK_ROWS_ENV: &str = "LAKECTL_CHUNK_ROWS";

/// The chunk bound in force: [`CHUNK_ROWS_ENV`] when set to a positive number.
pub fn chunk_rows() -> u64 {
    std::env::var(CHUNK_ROWS_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(CHUNK_ROWS)
}

/// How a run executes its plan (shown by `lakectl plan`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Execution {
    /// The plan runs once per chunk of whole source partitions, on the in-memory engine.
    PartitionWise {
        /// The source partition columns the job groups by: no group spans two chunks.
        columns: Vec<String>,
        /// Source partitions read.
        partitions: usize,
        /// Chunks they were cut into.
        chunks: usize,
        /// Chunks of one partition over the bound, run on the streaming engine.
        streamed: usize,
        /// The chunk bound in force.
        max_chunk_rows: u64,
        /// Source rows of the largest chunk (from file statistics).
        largest_chunk_rows: u64,
    },
    /// One plan over every file read, on the streaming engine.
    Streaming(&'static str),
}

/// The files of one chunk and the engine its plan runs on.
#[derive(Debug)]
pub struct Chunk {
    /// Active source files, whole partitions.
    pub files: Vec<DataFile>,
    /// Polars engine.
    pub engine: Engine,
}

impl Execution {
    /// One human line: what runs how, and why.
    pub fn explain(&self) -> String {
        match self {
            Execution::PartitionWise {
                columns,
                partitions,
                chunks,
                streamed,
                max_chunk_rows,
                largest_chunk_rows,
            } => format!(
                "partition-wise: the job groups by the source's partition column(s) {columns:?}, \
                 so its {partitions} source partition(s) run as {chunks} chunk(s) of whole \
                 partitions (≤ {max_chunk_rows} rows when partitions allow; largest {largest_chunk_rows}), \
                 one after the other, {} on the in-memory engine{}: memory is bounded by a \
                 chunk, and all outputs go into one commit",
                chunks - streamed,
                if *streamed > 0 {
                    format!(
                        ", {streamed} (a single partition over the bound each) on the streaming engine"
                    )
                } else {
                    String::new()
                }
            ),
            Execution::Streaming(why) => {
                format!("one plan over all files on the streaming engine ({why})")
            }
        }
    }
}

/// The partition columns of `source` that `job` groups by, in the source's order: groups
/// never span two values of them, so the job may run per partition. Empty when it may not.
pub fn partition_keys(job: &JobSpec, source: &TableSchema) -> Vec<String> {
    match &job.query {
        // Clustering needs every row at once.
        JobQuery::Structured(_) if job.cluster.is_some() => Vec::new(),
        JobQuery::Structured(q) => source
            .partition_by
            .iter()
            .filter(|p| q.group_by.contains(p))
            .cloned()
            .collect(),
        JobQuery::Sql(_) | JobQuery::Scd2 { .. } => Vec::new(),
    }
}

fn rows_of(f: &DataFile) -> u64 {
    // Without statistics, an estimate from the size (the seeds' rows are ~28 bytes of Parquet).
    f.rows
        .map(|r| r as u64)
        .unwrap_or((f.size.max(0) as u64) / 28)
}

/// Cuts `files` into chunks of whole partitions (by the values of `keys`), in partition
/// order, each holding at most `max_rows` source rows, except a partition larger than that,
/// which is a chunk of its own. Always at least one chunk (empty when there are no files),
/// so a run always has a plan and an output schema.
pub fn chunk_files(files: Vec<DataFile>, keys: &[String], max_rows: u64) -> Vec<Vec<DataFile>> {
    chunk_partitions(by_partition(files, keys), max_rows)
}

/// `files` grouped by their values of `keys`, in key order.
fn by_partition(files: Vec<DataFile>, keys: &[String]) -> BTreeMap<PartitionKey, Vec<DataFile>> {
    let mut partitions: BTreeMap<PartitionKey, Vec<DataFile>> = BTreeMap::new();
    for f in files {
        partitions
            .entry(partition_key(&f, keys))
            .or_default()
            .push(f);
    }
    partitions
}

/// [`chunk_files`] over files already grouped by partition.
fn chunk_partitions(
    partitions: BTreeMap<PartitionKey, Vec<DataFile>>,
    max_rows: u64,
) -> Vec<Vec<DataFile>> {
    let mut chunks: Vec<Vec<DataFile>> = Vec::new();
    let mut rows = 0;
    for (_, files) in partitions {
        let r = files.iter().map(rows_of).sum::<u64>();
        if chunks.is_empty() || (rows > 0 && rows + r > max_rows) {
            chunks.push(Vec::new());
            rows = 0;
        }
        rows += r;
        if let Some(last) = chunks.last_mut() {
            last.extend(files);
        }
    }
    if chunks.is_empty() {
        chunks.push(Vec::new());
    }
    chunks
}

/// Decides how a run executes, and cuts its files into chunks accordingly.
pub fn plan_execution(
    job: &JobSpec,
    source: &TableSchema,
    files: Vec<DataFile>,
) -> (Execution, Vec<Chunk>) {
    let keys = partition_keys(job, source);
    if keys.is_empty() {
        let why = match &job.query {
            JobQuery::Sql(_) => "a SQL job is run as written",
            JobQuery::Scd2 { .. } => "an scd2 job orders each key's rows over the whole source",
            JobQuery::Structured(_) if job.cluster.is_some() => {
                "k-means clusters all the output rows at once"
            }
            JobQuery::Structured(_) if source.partition_by.is_empty() => {
                "the source table is not partitioned"
            }
            JobQuery::Structured(_) => "the job does not group by a partition column of its source",
        };
        return (
            Execution::Streaming(why),
            vec![Chunk {
                files,
                engine: Engine::Streaming,
            }],
        );
    }
    let grouped = by_partition(files, &keys);
    let partitions = grouped.len();
    let max = chunk_rows();
    let chunks: Vec<Chunk> = chunk_partitions(grouped, max)
        .into_iter()
        .map(|files| {
            let rows: u64 = files.iter().map(rows_of).sum();
            Chunk {
                engine: if rows > max {
                    Engine::Streaming
                } else {
                    Engine::InMemory
                },
                files,
            }
        })
        .collect();
    let largest_chunk_rows = chunks
        .iter()
        .map(|c| c.files.iter().map(rows_of).sum::<u64>())
        .max()
        .unwrap_or(0);
    (
        Execution::PartitionWise {
            columns: keys,
            partitions,
            chunks: chunks.len(),
            streamed: chunks
                .iter()
                .filter(|c| matches!(c.engine, Engine::Streaming))
                .count(),
            max_chunk_rows: max,
            largest_chunk_rows,
        },
        chunks,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(jour: &str, rows: usize) -> DataFile {
        DataFile {
            path: format!("/t/jour={jour}/f.parquet"),
            rel: format!("jour={jour}/f.parquet"),
            partition: [("jour".to_string(), Some(jour.to_string()))].into(),
            rows: Some(rows),
            size: 1,
        }
    }

    #[test]
    fn chunks_hold_whole_partitions_up_to_the_bound() {
        let files = vec![
            file("2024-01-02", 60),
            file("2024-01-01", 50),
            file("2024-01-01", 50),
            file("2024-01-03", 500),
            file("2024-01-04", 10),
            file("2024-01-05", 90),
        ];
        let chunks = chunk_files(files, &["jour".into()], 100);
        let days: Vec<Vec<&str>> = chunks
            .iter()
            .map(|c| {
                c.iter()
                    .map(|f| f.rel.split('/').next().unwrap_or(""))
                    .collect()
            })
            .collect();
        assert_eq!(
            days,
            vec![
                vec!["jour=2024-01-01", "jour=2024-01-01"],
                vec!["jour=2024-01-02"],
                vec!["jour=2024-01-03"],
                vec!["jour=2024-01-04", "jour=2024-01-05"],
            ]
        );
    }

    #[test]
    fn no_files_is_one_empty_chunk() {
        assert_eq!(chunk_files(Vec::new(), &["jour".into()], 100).len(), 1);
    }
}
