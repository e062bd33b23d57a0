//! An independent Delta reader for the tests: delta-rs for the snapshot and file list, the
//! parquet crate for the rows, from a local folder or the test S3 server.

use std::path::{Path, PathBuf};

use deltalake::arrow::array::RecordBatch;
use deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::s3;

/// A table of a test lake: a local folder, or a prefix on the test S3 server.
#[derive(Debug, Clone)]
pub enum Tbl {
    /// A local folder.
    Local(PathBuf),
    /// An `s3://` URL (ending with `/`).
    S3(url::Url),
}

impl From<&Path> for Tbl {
    fn from(p: &Path) -> Self {
        Tbl::Local(p.to_path_buf())
    }
}
impl From<&PathBuf> for Tbl {
    fn from(p: &PathBuf) -> Self {
        Tbl::Local(p.clone())
    }
}
impl From<PathBuf> for Tbl {
    fn from(p: PathBuf) -> Self {
        Tbl::Local(p)
    }
}
impl From<&Tbl> for Tbl {
    fn from(t: &Tbl) -> Self {
        t.clone()
    }
}

impl Tbl {
    fn options(&self) -> std::collections::HashMap<String, String> {
        match self {
            Tbl::Local(_) => Default::default(),
            Tbl::S3(_) => s3::options(),
        }
    }

    fn url(&self) -> url::Url {
        match self {
            Tbl::Local(p) => url::Url::from_directory_path(p).expect("url"),
            Tbl::S3(u) => u.clone(),
        }
    }

    /// True when a Delta table is there.
    pub fn exists(&self) -> bool {
        match self {
            Tbl::Local(p) => p.join("_delta_log").exists(),
            Tbl::S3(_) => block_on(async {
                deltalake::DeltaTableBuilder::from_url(self.url())
                    .expect("builder")
                    .with_storage_options(self.options())
                    .build_storage()
                    .expect("store")
                    .is_delta_table_location()
                    .await
                    .expect("list")
            }),
        }
    }
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt")
        .block_on(f)
}

/// Opens the Delta table `t` with delta-rs and hands it to `f`.
pub fn with_table<T>(t: impl Into<Tbl>, f: impl FnOnce(&deltalake::DeltaTable) -> T) -> T {
    let t = t.into();
    deltalake::aws::register_handlers(None);
    let table = block_on(async {
        deltalake::DeltaTableBuilder::from_url(t.url())
            .expect("builder")
            .with_storage_options(t.options())
            .load()
            .await
            .expect("open table")
    });
    f(&table)
}

/// Data files of a table's snapshot: (partition values, the file's bytes' reader).
pub(crate) fn snapshot_files(
    t: impl Into<Tbl>,
) -> Vec<(
    std::collections::HashMap<String, Option<String>>,
    String,
    bytes::Bytes,
)> {
    let t = t.into();
    with_table(&t, |table| {
        let snap = table.snapshot().expect("snapshot");
        let store = table.object_store();
        snap.log_data()
            .iter()
            .map(|f| {
                // The path delta-rs gives is the object's name (the log's URI form decoded once).
                let name = f.path().to_string();
                let shown = match &t {
                    Tbl::Local(p) => p.join(&name).display().to_string(),
                    Tbl::S3(u) => format!("{u}{name}"),
                };
                let bytes = block_on(async {
                    use deltalake::logstore::object_store::ObjectStoreExt;
                    store
                        .get(&f.object_store_path())
                        .await
                        .expect("get parquet")
                        .bytes()
                        .await
                        .expect("parquet bytes")
                });
                (f.partition_values_map(), shown, bytes)
            })
            .collect()
    })
}

/// Reads every row of the Delta table `t` with delta-rs (snapshot, file list, partition
/// values) and the parquet crate: independent of lakectl's own Polars reader.
pub fn read_delta(t: impl Into<Tbl>) -> Vec<RecordBatch> {
    snapshot_files(t)
        .into_iter()
        .flat_map(|(_, _, bytes)| parquet_batches(bytes))
        .collect()
}

pub(crate) fn parquet_batches(bytes: bytes::Bytes) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(bytes)
        .expect("parquet")
        .build()
        .expect("reader")
        .map(|b| b.expect("batch"))
        .collect()
}
