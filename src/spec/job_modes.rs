//! The two job forms beside aggregation: a slowly changing dimension (`scd2:`) and a
//! clustering step over a job's output (`cluster:`). Raw types as written, then validated.

use schemars::JsonSchema;
use serde::Deserialize;

use super::diag::Diagnostics;
use super::document::Document;
use super::source_map::join_key;

/// The column where a version starts (inclusive): the `order_by` value of the change.
pub const VALID_FROM: &str = "valid_from";
/// The column where a version ends (exclusive): the next version's `valid_from`; null for
/// the current version.
pub const VALID_TO: &str = "valid_to";
/// True for the one current version of each key.
pub const IS_CURRENT: &str = "is_current";

/// `scd2:` as written: a Type 2 slowly changing dimension built from the source's rows.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawScd2 {
    /// The columns that identify a member of the dimension (`[client_id]`).
    pub keys: Vec<String>,
    /// The attributes whose changes open a new version (`[pays, segment]`).
    pub track: Vec<String>,
    /// The column that orders a key's rows in time (the event time).
    pub order_by: String,
}

/// A validated `scd2:`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scd2Spec {
    /// Key columns.
    pub keys: Vec<String>,
    /// Tracked columns.
    pub track: Vec<String>,
    /// The ordering column.
    pub order_by: String,
}

impl Scd2Spec {
    /// Validates `raw` (names only; the source schema is checked with the other jobs).
    pub fn validate(raw: &RawScd2, doc: &Document, diags: &mut Diagnostics) -> Option<Self> {
        let before = diags.mark();
        for (key, list) in [("keys", &raw.keys), ("track", &raw.track)] {
            if list.is_empty() {
                diags.push(doc.at(
                    &join_key("scd2", key),
                    format!("`scd2.{key}` needs at least one column"),
                ));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for c in raw
            .keys
            .iter()
            .chain(&raw.track)
            .chain(std::iter::once(&raw.order_by))
        {
            if !seen.insert(c.as_str()) {
                diags.push(doc.at(
                    "scd2",
                    format!("column `{c}` is named twice in `scd2` (keys, track and order_by are distinct columns)"),
                ));
            }
            if [VALID_FROM, VALID_TO, IS_CURRENT].contains(&c.as_str()) {
                diags.push(doc.at(
                    "scd2",
                    format!("column `{c}` would clash with the dimension's own `{c}` column"),
                ));
            }
        }
        diags.none_since(before).then(|| Self {
            keys: raw.keys.clone(),
            track: raw.track.clone(),
            order_by: raw.order_by.clone(),
        })
    }
}

/// `cluster:` as written: k-means over some numeric output columns of the job.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    /// The numeric output columns to cluster on (each standardised first).
    pub features: Vec<String>,
    /// Number of clusters (default 4).
    #[serde(default, deserialize_with = "super::scalar::opt_u32")]
    #[schemars(with = "Option<super::schema::Lenient<u32>>")]
    pub k: Option<u32>,
    /// RNG seed: the same data and seed give the same clusters.
    #[serde(default, deserialize_with = "super::scalar::opt_u32")]
    #[schemars(with = "Option<super::schema::Lenient<u32>>")]
    pub seed: Option<u32>,
    /// The output column holding each row's cluster (default `cluster`).
    #[serde(default)]
    pub column: Option<String>,
    /// A table (relative to the lake) where each run writes the cluster centres.
    #[serde(default)]
    pub centres: Option<String>,
}

/// A validated `cluster:`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSpec {
    /// Feature columns.
    pub features: Vec<String>,
    /// Number of clusters.
    pub k: usize,
    /// RNG seed.
    pub seed: u64,
    /// The cluster id column.
    pub column: String,
    /// The centres table, relative to the lake.
    pub centres: Option<String>,
}

impl ClusterSpec {
    /// Validates `raw` (the feature columns are checked against the job's output later).
    pub fn validate(raw: &RawCluster, doc: &Document, diags: &mut Diagnostics) -> Option<Self> {
        let before = diags.mark();
        if raw.features.is_empty() {
            diags.push(doc.at(
                "cluster.features",
                "`cluster.features` needs at least one column",
            ));
        }
        let k = raw.k.unwrap_or(4);
        if !(2..=1000).contains(&k) {
            diags.push(doc.at(
                "cluster.k",
                format!("`cluster.k` must be between 2 and 1000, not {k}"),
            ));
        }
        let centres = match &raw.centres {
            Some(c) => match super::pipeline::lake_relative(c) {
                Ok(c) => Some(c),
                Err(e) => {
                    diags.push(doc.at("cluster.centres", format!("`cluster.centres`: {e}")));
                    None
                }
            },
            None => None,
        };
        diags.none_since(before).then(|| Self {
            features: raw.features.clone(),
            k: k as usize,
            seed: u64::from(raw.seed.unwrap_or(42)),
            column: raw.column.clone().unwrap_or_else(|| "cluster".into()),
            centres,
        })
    }
}
