//! The `cluster:` step of a job: k-means (linfa) over some numeric output columns, each
//! standardised (z-score; a missing value counts as the column's mean) so that no feature
//! weighs more for its unit. Deterministic: k-means++ seeded from the job's `seed`, ten
//! restarts, best inertia kept; clusters are then numbered by their centres (ascending on the
//! first feature, then the next), so the same data and seed always give the same ids and a
//! re-run over slightly more data keeps the ids' meaning.

use linfa::traits::{Fit, Predict};
use linfa::DatasetBase;
use linfa_clustering::KMeans;
use ndarray::Array2;
use polars::prelude::*;
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;

use crate::spec::job_modes::ClusterSpec;

/// Column of the centres table: how many rows the cluster has.
pub const CENTRES_SIZE: &str = "size";

/// Replaces the job's centres table (`cluster.centres`) with `centres`, computed by the run
/// that committed `version` of the job's table. The clusters themselves are in that commit;
/// the centres are a convenience beside it, so a failure here is logged, not fatal (every
/// run writes them again, and the dashboard computes the profiles from the job's table).
pub async fn write_centres(
    lake: &crate::storage::Location,
    job: &crate::spec::job::JobSpec,
    c: &ClusterSpec,
    mut centres: DataFrame,
    version: u64,
) {
    use crate::lake::commit::Kind;
    use crate::lake::{bridge, Draft, Table, TableSchema};
    let Some(rel) = &c.centres else { return };
    let path = lake.join(rel);
    let result = async {
        let schema = TableSchema::from_polars(centres.schema(), &[]).map_err(|m| {
            crate::lake::LakeError::Convert {
                table: path.to_string(),
                message: m,
            }
        })?;
        // Other features (an edited job) replace the schema in the same commit.
        let mut draft = Draft::default();
        let mut t = match Table::open(&path).await? {
            Some(t) => {
                if t.schema()? != schema {
                    t.replace_schema(&mut draft, &schema)?;
                }
                t
            }
            None => {
                Table::open_or_create(&path, &schema, &format!("{}_centres", job.name), &[]).await?
            }
        };
        let batches = bridge::to_record_batches(&mut centres, &schema.arrow()).map_err(|m| {
            crate::lake::LakeError::Convert {
                table: path.to_string(),
                message: m,
            }
        })?;
        let old: std::collections::BTreeSet<String> =
            t.files()?.into_iter().map(|f| f.rel).collect();
        t.remove(&mut draft, &old)?;
        t.write(&mut draft, batches).await?;
        let meta = std::collections::HashMap::from([
            ("lakectl.job".to_string(), serde_json::json!(job.name)),
            (
                "lakectl.reason".to_string(),
                serde_json::json!(format!(
                    "centres of the clusters in version {version} of {}",
                    job.to
                )),
            ),
        ]);
        t.commit(Kind::Overwrite, draft, Vec::new(), meta).await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(job = %job.name, table = %rel, error = %e, "writing the cluster centres failed; the next run writes them again");
    }
}

/// `df` with its cluster ids when `job` has a `cluster:` step (the centres are dropped).
pub fn apply(job: &crate::spec::job::JobSpec, df: DataFrame) -> PolarsResult<DataFrame> {
    match &job.cluster {
        Some(c) => Ok(assign(df, c)?.0),
        None => Ok(df),
    }
}

/// The rows of `df` with their cluster id (column `c.column`, Int32), and the centres: one
/// row per cluster with its id, its size and each feature's centre in the feature's unit.
pub fn assign(df: DataFrame, c: &ClusterSpec) -> PolarsResult<(DataFrame, DataFrame)> {
    let n = df.height();
    let f = c.features.len();
    let mut raw: Vec<Vec<Option<f64>>> = Vec::with_capacity(f);
    for name in &c.features {
        let s = df
            .column(name)?
            .as_materialized_series()
            .cast(&DataType::Float64)?;
        raw.push(
            s.f64()?
                .iter()
                .map(|v| v.filter(|x| x.is_finite()))
                .collect(),
        );
    }
    // The rows' order (a group_by's output order varies from run to run) must not change
    // the result: statistics are summed in sorted order, and k-means sees the rows sorted by
    // their features (equal rows are the same point, so their order does not matter).
    let sorted_sum = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.iter().sum::<f64>()
    };
    let mut means = vec![0.0; f];
    for (j, col) in raw.iter().enumerate() {
        let present: Vec<f64> = col.iter().flatten().copied().collect();
        let count = present.len();
        means[j] = if count == 0 {
            0.0
        } else {
            sorted_sum(present) / count as f64
        };
    }
    let value = |i: usize, j: usize| raw[j][i].unwrap_or(means[j]);
    let mut stds = vec![1.0; f];
    for (j, std) in stds.iter_mut().enumerate() {
        let sq: Vec<f64> = (0..n).map(|i| (value(i, j) - means[j]).powi(2)).collect();
        let s = (sorted_sum(sq) / n.max(1) as f64).sqrt();
        if s > 0.0 && s.is_finite() {
            *std = s;
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        (0..f)
            .map(|j| value(a, j).total_cmp(&value(b, j)))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut data = Array2::<f64>::zeros((n, f));
    for (r, &i) in order.iter().enumerate() {
        for j in 0..f {
            data[[r, j]] = (value(i, j) - means[j]) / stds[j];
        }
    }
    // Fewer rows than clusters: one cluster per row.
    let k = c.k.min(n);
    let (labels, centres) = if k == 0 {
        (Vec::new(), Array2::<f64>::zeros((0, f)))
    } else {
        let model = KMeans::params_with_rng(k, Xoshiro256Plus::seed_from_u64(c.seed))
            .n_runs(10)
            .max_n_iterations(300)
            .tolerance(1e-6)
            .fit(&DatasetBase::from(data.clone()))
            .map_err(|e| polars_err!(ComputeError: "cluster: k-means failed: {e}"))?;
        let by_rank = model.predict(&data).to_vec();
        let mut labels = vec![0usize; n];
        for (r, &i) in order.iter().enumerate() {
            labels[i] = by_rank[r];
        }
        (labels, model.centroids().clone())
    };
    // The centres, in the features' units: the means of their members (exact, whatever
    // the tolerance k-means stopped at; a cluster left empty keeps k-means' centre).
    let mut sums = Array2::<f64>::zeros((centres.nrows(), f));
    let mut counts = vec![0usize; centres.nrows()];
    for &i in &order {
        let l = labels[i];
        counts[l] += 1;
        for j in 0..f {
            sums[[l, j]] += value(i, j);
        }
    }
    let unit = |i: usize, j: usize| match counts[i] {
        0 => centres[[i, j]] * stds[j] + means[j],
        n => sums[[i, j]] / n as f64,
    };
    // Number the clusters by their centres.
    let mut ranks: Vec<usize> = (0..centres.nrows()).collect();
    ranks.sort_by(|&a, &b| {
        (0..f)
            .map(|j| unit(a, j).total_cmp(&unit(b, j)))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut id_of = vec![0i32; ranks.len()];
    for (new, &old) in ranks.iter().enumerate() {
        id_of[old] = new as i32;
    }
    let ids: Vec<i32> = labels.iter().map(|&l| id_of[l]).collect();
    let mut sizes = vec![0u64; ranks.len()];
    for &l in &labels {
        sizes[id_of[l] as usize] += 1;
    }
    let mut out = df;
    out.with_column(Column::new(c.column.as_str().into(), ids))?;
    let mut cols = vec![
        Column::new(
            c.column.as_str().into(),
            (0..ranks.len() as i32).collect::<Vec<_>>(),
        ),
        Column::new(CENTRES_SIZE.into(), sizes),
    ];
    for (j, name) in c.features.iter().enumerate() {
        let v: Vec<f64> = ranks.iter().map(|&old| unit(old, j)).collect();
        cols.push(Column::new(name.as_str().into(), v));
    }
    Ok((out, DataFrame::new_infer_height(cols)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(k: usize, seed: u64) -> ClusterSpec {
        ClusterSpec {
            features: vec!["a".into(), "b".into()],
            k,
            seed,
            column: "cluster".into(),
            centres: None,
        }
    }

    #[test]
    fn separated_groups_get_the_same_ids_for_a_seed_ordered_by_centre() {
        // Three blobs, far apart, listed in shuffled order.
        let a = [100.0, 1.0, 50.0, 101.0, 2.0, 51.0, 99.0, 0.5, 49.0];
        let b = [10.0, 1.0, 5.0, 11.0, 2.0, 5.5, 9.0, 1.5, 4.5];
        let df = df!("a" => a, "b" => b).unwrap();
        let (out, centres) = assign(df.clone(), &spec(3, 7)).unwrap();
        let ids: Vec<i32> = out
            .column("cluster")
            .unwrap()
            .i32()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(ids, [2, 0, 1, 2, 0, 1, 2, 0, 1]);
        let sizes: Vec<u64> = centres
            .column(CENTRES_SIZE)
            .unwrap()
            .u64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(sizes, [3, 3, 3]);
        let ca: Vec<f64> = centres
            .column("a")
            .unwrap()
            .f64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert!(
            (ca[0] - 1.1666).abs() < 1e-3 && (ca[2] - 100.0).abs() < 1e-9,
            "{ca:?}"
        );
        // Same data, same seed: the same result, bit for bit.
        let (again, c2) = assign(df.clone(), &spec(3, 7)).unwrap();
        assert!(again.equals(&out) && c2.equals(&centres));
        // Other seeds find the same separated groups with the same ids (centres equal up to
        // float rounding: another initialisation sums in another order).
        for seed in [8, 9, 1234] {
            let (other, c3) = assign(df.clone(), &spec(3, seed)).unwrap();
            assert!(other.equals(&out), "seed {seed}: {other}");
            let a = |d: &DataFrame| -> Vec<f64> {
                d.column("a")
                    .unwrap()
                    .f64()
                    .unwrap()
                    .into_no_null_iter()
                    .collect()
            };
            for (x, y) in a(&c3).iter().zip(a(&centres)) {
                assert!((x - y).abs() < 1e-9, "seed {seed}: {c3} vs {centres}");
            }
        }
    }

    #[test]
    fn the_rows_order_does_not_change_the_clusters() {
        // 300 points with overlapping groups, where a different start could end elsewhere.
        let mut x = 12345u64;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as f64 / (1u64 << 31) as f64
        };
        let (a, b): (Vec<f64>, Vec<f64>) = (0..300).map(|_| (next() * 10.0, next() * 3.0)).unzip();
        let df = df!("a" => a, "b" => b).unwrap();
        let ids = |d: &DataFrame| -> Vec<i32> {
            d.column("cluster")
                .unwrap()
                .i32()
                .unwrap()
                .into_no_null_iter()
                .collect()
        };
        let (out, centres) = assign(df.clone(), &spec(5, 3)).unwrap();
        let (rev, rev_centres) = assign(df.reverse(), &spec(5, 3)).unwrap();
        let mut back = ids(&rev);
        back.reverse();
        assert_eq!(ids(&out), back);
        assert!(centres.equals(&rev_centres), "{centres} {rev_centres}");
    }

    #[test]
    fn fewer_rows_than_clusters_and_missing_values() {
        let df = df!("a" => [Some(1.0), None], "b" => [Some(2.0), Some(3.0)]).unwrap();
        let (out, centres) = assign(df, &spec(4, 1)).unwrap();
        assert_eq!(out.height(), 2);
        assert_eq!(centres.height(), 2);
        let empty = df!("a" => Vec::<f64>::new(), "b" => Vec::<f64>::new()).unwrap();
        let (out, centres) = assign(empty, &spec(4, 1)).unwrap();
        assert_eq!((out.height(), centres.height()), (0, 0));
    }
}
