//! Reading Delta tables into Polars: a LazyFrame over the active files of a snapshot, with
//! partition values taken from the log (not guessed from paths).

use std::collections::{BTreeMap, HashMap};

use deltalake::DeltaTable;
use polars::prelude::*;

use super::delta::{location_of, name_of, schema_of};
use super::schema::polars_type;
use super::table::Table;
use super::LakeError;
use crate::storage::Location;

/// The Polars schema a table is read with.
pub fn read_schema(schema: &super::TableSchema) -> Schema {
    schema
        .columns
        .iter()
        .map(|c| Field::new(c.name.as_str().into(), polars_type(&c.ty)))
        .collect()
}

/// An active data file of a table.
#[derive(Debug, Clone)]
pub struct DataFile {
    /// What a reader opens: a local path, or the object's URL.
    pub path: String,
    /// Path relative to the table root: the object's name (the log's URI form decoded once).
    pub rel: String,
    /// Partition values.
    pub partition: BTreeMap<String, Option<String>>,
    /// Rows, when the log has statistics.
    pub rows: Option<usize>,
    /// Size in bytes.
    pub size: i64,
}

/// The active files of the loaded snapshot. Refuses features Polars cannot honour.
pub(super) fn active_files(table: &DeltaTable) -> Result<Vec<DataFile>, LakeError> {
    let name = name_of(table);
    let snap = table
        .snapshot()
        .map_err(|e| LakeError::delta(&name, "listing files", e))?;
    let cfg = snap.metadata().configuration();
    if cfg
        .get("delta.columnMapping.mode")
        .is_some_and(|m| m != "none")
    {
        return Err(LakeError::Unsupported {
            table: name,
            feature: "column mapping".into(),
        });
    }
    let root = location_of(table);
    let mut out = Vec::new();
    for f in snap.log_data().iter() {
        if f.deletion_vector_descriptor().is_some() {
            return Err(LakeError::Unsupported {
                table: name,
                feature: "deletion vectors".into(),
            });
        }
        // delta-rs hands the path decoded once from the log's URI form: the object's name
        // (partition values in it are still percent-encoded, as written: `pays=x%3Dy`).
        let rel = f.path().to_string();
        out.push(DataFile {
            path: root.object(&rel),
            rel,
            partition: f.partition_values_map().into_iter().collect(),
            rows: f.num_records(),
            size: f.size(),
        });
    }
    Ok(out)
}

/// The object-store path of a table's file named `rel` (as [`DataFile::rel`]), as delta-rs
/// forms it: taken literally when it is a valid object name.
pub fn object_path(rel: &str) -> deltalake::Path {
    deltalake::Path::parse(rel).unwrap_or_else(|_| deltalake::Path::from(rel))
}

/// The first of `rels` (files of `table`, named as [`DataFile::rel`]) no longer in the store
/// (a vacuum may have deleted it), or None. Checked 16 at a time: on an object store each is
/// a request.
pub async fn first_missing<'a>(
    table: &Table,
    rels: &[&'a str],
) -> Result<Option<&'a str>, LakeError> {
    use futures::{StreamExt, TryStreamExt};
    let table = table.delta();
    let present: Vec<bool> = futures::stream::iter(rels.iter().map(|rel| file_exists(table, rel)))
        .buffered(16)
        .try_collect()
        .await?;
    Ok(rels.iter().zip(present).find(|(_, p)| !p).map(|(r, _)| *r))
}

/// True when the file `rel` of `table` is still in the store.
async fn file_exists(table: &DeltaTable, rel: &str) -> Result<bool, LakeError> {
    use deltalake::logstore::object_store::{Error, ObjectStoreExt};
    match table.object_store().head(&object_path(rel)).await {
        Ok(_) => Ok(true),
        Err(Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(LakeError::store(
            name_of(table),
            &format!("checking file {rel}"),
            &e,
        )),
    }
}

/// The options Polars reaches an object-store table with (None for a local one).
pub fn cloud_options(loc: &Location) -> PolarsResult<Option<cloud::CloudOptions>> {
    if !loc.is_remote() {
        return Ok(None);
    }
    let scheme = CloudScheme::from_path(loc.url().as_str());
    cloud::CloudOptions::from_untyped_config(scheme, loc.options().map()).map(Some)
}

/// True when the file's path starts with `col=value/` for each partition column, in order,
/// with the values the log records (so a hive scan reads the same partition values).
fn hive_consistent(f: &DataFile, partition_by: &[String]) -> bool {
    let mut segments = f.rel.split('/');
    partition_by.iter().all(|c| {
        let expected = match f.partition.get(c) {
            Some(Some(v)) => format!("{c}={v}"),
            _ => return false,
        };
        segments.next() == Some(expected.as_str())
    })
}

/// A LazyFrame over the loaded snapshot of `table`, restricted to the files that pass `keep`
/// (file pruning, e.g. on partition values). Columns are in table order.
pub fn scan(table: &Table, keep: &dyn Fn(&DataFile) -> bool) -> Result<LazyFrame, LakeError> {
    let files: Vec<DataFile> = table.files()?.into_iter().filter(|f| keep(f)).collect();
    scan_files(table, files)
}

/// A LazyFrame over the given active files of `table`.
pub fn scan_files(table: &Table, files: Vec<DataFile>) -> Result<LazyFrame, LakeError> {
    scan_delta_files(table.delta(), files)
}

/// [`scan_files`] for the lake's own passes over a delta-rs table.
pub(super) fn scan_delta_files(
    table: &DeltaTable,
    files: Vec<DataFile>,
) -> Result<LazyFrame, LakeError> {
    let name = name_of(table);
    let schema = schema_of(table)?;
    let pl_schema = read_schema(&schema);
    let order: Vec<Expr> = schema
        .columns
        .iter()
        .map(|c| col(c.name.as_str()))
        .collect();

    if files.is_empty() {
        return Ok(DataFrame::empty_with_schema(&pl_schema).lazy());
    }
    let polars_err = |source| LakeError::Polars {
        table: name.clone(),
        source: Box::new(source),
    };
    // Hive-style paths that agree with the log (what delta-rs and Spark write): one scan.
    // (It is also the only shape on which Polars 0.55's `len()` works: over a union of scans
    // it fails with "casting from UInt32 to UInt128".)
    if !schema.partition_by.is_empty()
        && files
            .iter()
            .all(|f| hive_consistent(f, &schema.partition_by))
    {
        let root = location_of(table);
        let hive: Schema = schema
            .partition_by
            .iter()
            .map(|p| {
                Field::new(
                    p.as_str().into(),
                    pl_schema
                        .get(p.as_str())
                        .cloned()
                        .unwrap_or(DataType::String),
                )
            })
            .collect();
        let paths: Vec<PlRefPath> = files.into_iter().map(|f| PlRefPath::new(f.path)).collect();
        // The files' columns, typed as the table says; the scan appends the hive columns.
        let file_schema: Schema = pl_schema
            .iter()
            .filter(|(n, _)| !schema.partition_by.iter().any(|p| p.as_str() == n.as_str()))
            .map(|(n, t)| Field::new(n.clone(), t.clone()))
            .collect();
        let scanned: Vec<String> = file_schema
            .iter_names()
            .chain(hive.iter_names())
            .map(|n| n.to_string())
            .collect();
        let args = ScanArgsParquet {
            hive_options: HiveOptions {
                enabled: Some(true),
                hive_start_idx: root.prefix().len(),
                schema: Some(std::sync::Arc::new(hive)),
                try_parse_dates: false,
            },
            schema: Some(std::sync::Arc::new(file_schema)),
            allow_missing_columns: true,
            cloud_options: cloud_options(&root).map_err(polars_err)?,
            glob: false,
            ..Default::default()
        };
        let lf = LazyFrame::scan_parquet_files(paths.into(), args).map_err(polars_err)?;
        // No `select` when the scan already yields the table's order (partition columns
        // last, as in bronze): a Select between the scan and a group-by keyed by a partition
        // column stops Polars from splitting the group-by per partition.
        let in_order = scanned
            .iter()
            .map(String::as_str)
            .eq(schema.columns.iter().map(|c| c.name.as_str()));
        return Ok(if in_order { lf } else { lf.select(order) });
    }
    let mut groups: BTreeMap<Vec<(String, Option<String>)>, Vec<PlRefPath>> = BTreeMap::new();
    for f in files {
        let key: Vec<_> = f.partition.into_iter().collect();
        groups.entry(key).or_default().push(PlRefPath::new(f.path));
    }
    if groups.is_empty() {
        return Ok(DataFrame::empty_with_schema(&pl_schema).lazy());
    }
    let cloud = cloud_options(&location_of(table)).map_err(polars_err)?;
    let mut frames = Vec::with_capacity(groups.len());
    for (values, paths) in groups {
        let args = ScanArgsParquet {
            hive_options: HiveOptions {
                enabled: Some(false),
                ..Default::default()
            },
            allow_missing_columns: true,
            cloud_options: cloud.clone(),
            glob: false,
            ..Default::default()
        };
        let mut lf = LazyFrame::scan_parquet_files(paths.into(), args).map_err(|source| {
            LakeError::Polars {
                table: name.clone(),
                source: Box::new(source),
            }
        })?;
        let parts: HashMap<_, _> = values.into_iter().collect();
        let lits: Vec<Expr> = schema
            .partition_by
            .iter()
            .map(|p| {
                let dt = pl_schema
                    .get(p.as_str())
                    .cloned()
                    .unwrap_or(DataType::String);
                match parts.get(p).cloned().flatten() {
                    Some(v) => lit(v).cast(dt).alias(p.as_str()),
                    None => lit(NULL).cast(dt).alias(p.as_str()),
                }
            })
            .collect();
        if !lits.is_empty() {
            lf = lf.with_columns(lits);
        }
        frames.push(lf.select(order.clone()));
    }
    if frames.len() == 1 {
        return Ok(frames.remove(0));
    }
    concat(
        frames,
        UnionArgs {
            rechunk: false,
            parallel: true,
            ..Default::default()
        },
    )
    .map_err(|source| LakeError::Polars {
        table: name,
        source: Box::new(source),
    })
}
