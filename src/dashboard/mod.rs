//! `lakectl dashboard`: the sales analytics dashboard, computed from the silver tables of the
//! shipped jobs (`ventes_aggreges`, `ventes_par_pays`, `ventes_par_segment`) with the same SQL
//! engine as `lakectl query`, plus pipeline health from [`crate::status`]. Rendered as text
//! ([`text`]) or as one self-contained HTML page with SVG charts ([`html`]).

pub mod html;
pub mod text;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use polars::prelude::*;
use serde::Serialize;

use crate::query::execute;
use crate::silver::CheckedJobs;
use crate::spec::PipelineSpec;

/// The job whose table holds one row per client and day.
pub const CLIENTS_TABLE: &str = "ventes_aggreges";
/// The job whose table holds one row per country and day.
pub const COUNTRIES_TABLE: &str = "ventes_par_pays";
/// The job whose table holds one row per segment and day.
pub const SEGMENTS_TABLE: &str = "ventes_par_segment";

/// Headline figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Kpis {
    /// Total revenue (sum of `revenue_total` per country).
    pub revenue: f64,
    /// Number of sales.
    pub transactions: u64,
    /// Revenue per sale.
    pub average_basket: f64,
    /// Distinct clients.
    pub clients: u64,
    /// Clients flagged `est_client_fidele` on at least one day.
    pub loyal_clients: u64,
    /// `loyal_clients / clients`.
    pub loyal_share: f64,
}

/// One labelled figure of a breakdown.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Slice {
    /// What the row is (country, segment, day, spend class).
    pub label: String,
    /// Revenue.
    pub revenue: f64,
    /// Sales (for spend classes: client-days).
    pub count: u64,
}

/// One of the top clients.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Client {
    /// `client_id`.
    pub client_id: i64,
    /// `client_nom`.
    pub name: String,
    /// Revenue over all days.
    pub revenue: f64,
    /// Purchases over all days.
    pub purchases: u64,
}

/// The customer segments a job's `cluster:` step found.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Segmentation {
    /// The job.
    pub job: String,
    /// The features clustered on.
    pub features: Vec<String>,
    /// One profile per cluster, by cluster id.
    pub clusters: Vec<ClusterProfile>,
}

/// One cluster: its size and the mean of each feature over its rows.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClusterProfile {
    /// Cluster id.
    pub id: i64,
    /// Rows (clients) in it.
    pub size: u64,
    /// Mean of each feature, in the order of [`Segmentation::features`].
    pub means: Vec<f64>,
}

/// A bronze pipeline's health.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineHealth {
    /// Pipeline name.
    pub name: String,
    /// Records in Kafka not in the lake yet.
    pub lag: Option<i64>,
    /// Event-time watermark.
    pub watermark: Option<String>,
    /// Time of the last bronze commit.
    pub last_batch: Option<String>,
    /// Seconds since that commit.
    pub freshness_seconds: Option<i64>,
    /// Quarantined rows by reason.
    pub quarantine: BTreeMap<String, u64>,
    /// Why the broker could not be asked.
    pub broker_error: Option<String>,
}

impl PipelineHealth {
    /// Quarantined rows as one line: `late 12, malformed 3`, or `none`.
    pub fn quarantine_text(&self) -> String {
        if self.quarantine.is_empty() {
            return "none".into();
        }
        self.quarantine
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Time since the last bronze commit, or `never`.
    pub fn freshness_text(&self) -> String {
        self.freshness_seconds
            .map_or("never".into(), |x| format!("{} ago", age(x)))
    }
}

/// A silver job's freshness.
#[derive(Debug, Clone, Serialize)]
pub struct JobHealth {
    /// Job name.
    pub name: String,
    /// True when its source has data it has not read.
    pub stale: Option<bool>,
    /// Seconds since its last committed run.
    pub age_seconds: Option<i64>,
}

/// Everything the dashboard shows.
#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    /// When it was computed (RFC 3339).
    pub generated_at: String,
    /// Headline figures.
    pub kpis: Kpis,
    /// Top 10 clients by revenue.
    pub top_clients: Vec<Client>,
    /// Revenue by country, largest first.
    pub by_country: Vec<Slice>,
    /// Revenue by customer segment, largest first.
    pub by_segment: Vec<Slice>,
    /// Revenue by day (`jour`), oldest first.
    pub by_day: Vec<Slice>,
    /// Premium / Standard / Economy (`segment_depense` of the client-days).
    pub spend_classes: Vec<Slice>,
    /// The segments of every job with a `cluster:` step.
    pub segmentations: Vec<Segmentation>,
    /// Bronze pipelines.
    pub pipelines: Vec<PipelineHealth>,
    /// Silver jobs.
    pub jobs: Vec<JobHealth>,
    /// Panels that could not be computed, and why.
    pub problems: Vec<String>,
}

fn strings(df: &DataFrame, name: &str) -> PolarsResult<Vec<String>> {
    let c = df.column(name)?.cast(&DataType::String)?;
    Ok(c.str()?
        .iter()
        .map(|v| v.unwrap_or("(null)").to_string())
        .collect())
}

fn floats(df: &DataFrame, name: &str) -> PolarsResult<Vec<f64>> {
    let c = df.column(name)?.cast(&DataType::Float64)?;
    Ok(c.f64()?.iter().map(|v| v.unwrap_or(0.0)).collect())
}

fn ints(df: &DataFrame, name: &str) -> PolarsResult<Vec<i64>> {
    let c = df.column(name)?.cast(&DataType::Int64)?;
    Ok(c.i64()?.iter().map(|v| v.unwrap_or(0)).collect())
}

fn slices(df: &DataFrame, label: &str) -> PolarsResult<Vec<Slice>> {
    let l = strings(df, label)?;
    let r = floats(df, "revenue")?;
    let n = ints(df, "n")?;
    Ok(l.into_iter()
        .zip(r)
        .zip(n)
        .map(|((label, revenue), n)| Slice {
            label,
            revenue,
            count: n.max(0) as u64,
        })
        .collect())
}

struct Ctx<'a> {
    spec: &'a PipelineSpec,
    checked: &'a CheckedJobs,
    problems: Vec<String>,
}

impl Ctx<'_> {
    /// Runs `sql`; on failure records why under `panel` and returns None.
    async fn sql(&mut self, panel: &str, sql: &str) -> Option<DataFrame> {
        match execute(self.spec, &self.checked.catalog, sql, None).await {
            Ok(df) => Some(df),
            Err(e) => {
                self.problems.push(format!("{panel}: {e}"));
                None
            }
        }
    }

    fn read<T>(&mut self, panel: &str, r: PolarsResult<T>) -> Option<T> {
        r.map_err(|e| self.problems.push(format!("{panel}: {e}")))
            .ok()
    }

    /// Revenue and transactions of `table` per value of `label`, in `order`: one panel.
    async fn slices_by(
        &mut self,
        panel: &str,
        table: &str,
        label: &str,
        order: &str,
    ) -> Vec<Slice> {
        let sql = format!(
            "SELECT {label}, sum(revenue_total) AS revenue, sum(total_transactions) AS n \
             FROM {table} GROUP BY {label} ORDER BY {order}"
        );
        match self.sql(panel, &sql).await {
            Some(df) => self.read(panel, slices(&df, label)).unwrap_or_default(),
            None => Vec::new(),
        }
    }
}

/// Computes the dashboard (the broker is asked for lag, at most `kafka_timeout`).
pub async fn gather(
    spec: &PipelineSpec,
    checked: &CheckedJobs,
    kafka_timeout: Duration,
) -> Result<Dashboard, crate::lake::LakeError> {
    crate::lake::require_lake(&spec.lake)?;
    let mut cx = Ctx {
        spec,
        checked,
        problems: Vec::new(),
    };
    let mut kpis = Kpis::default();

    let by_country = cx
        .slices_by(
            "revenue by country",
            COUNTRIES_TABLE,
            "pays",
            "revenue DESC, pays",
        )
        .await;
    kpis.revenue = by_country.iter().map(|s| s.revenue).sum();
    kpis.transactions = by_country.iter().map(|s| s.count).sum();
    kpis.average_basket = if kpis.transactions > 0 {
        kpis.revenue / kpis.transactions as f64
    } else {
        0.0
    };

    let by_day = cx
        .slices_by("revenue by day", COUNTRIES_TABLE, "jour", "jour")
        .await;

    let by_segment = cx
        .slices_by(
            "segments",
            SEGMENTS_TABLE,
            "segment",
            "revenue DESC, segment",
        )
        .await;

    let top_clients = match cx
        .sql(
            "top clients",
            &format!(
                "SELECT client_id, client_nom, sum(total_depense) AS revenue, \
                 sum(nb_achats) AS n FROM {CLIENTS_TABLE} GROUP BY client_id, client_nom \
                 ORDER BY revenue DESC, client_id LIMIT 10"
            ),
        )
        .await
    {
        Some(df) => {
            let r = (|| {
                let ids = ints(&df, "client_id")?;
                let names = strings(&df, "client_nom")?;
                let rev = floats(&df, "revenue")?;
                let n = ints(&df, "n")?;
                Ok(ids
                    .into_iter()
                    .zip(names)
                    .zip(rev)
                    .zip(n)
                    .map(|(((client_id, name), revenue), n)| Client {
                        client_id,
                        name,
                        revenue,
                        purchases: n.max(0) as u64,
                    })
                    .collect())
            })();
            cx.read("top clients", r).unwrap_or_default()
        }
        None => Vec::new(),
    };

    if let Some(df) = cx
        .sql(
            "loyal clients",
            &format!(
                "SELECT client_id, max(CAST(est_client_fidele AS INT)) AS loyal \
                 FROM {CLIENTS_TABLE} GROUP BY client_id"
            ),
        )
        .await
    {
        if let Some(loyal) = cx.read("loyal clients", ints(&df, "loyal")) {
            kpis.clients = loyal.len() as u64;
            kpis.loyal_clients = loyal.iter().filter(|&&l| l > 0).count() as u64;
            kpis.loyal_share = if kpis.clients > 0 {
                kpis.loyal_clients as f64 / kpis.clients as f64
            } else {
                0.0
            };
        }
    }

    let spend_classes = match cx
        .sql(
            "spend classes",
            &format!(
                "SELECT segment_depense, sum(total_depense) AS revenue, count(*) AS n \
                 FROM {CLIENTS_TABLE} GROUP BY segment_depense ORDER BY revenue DESC"
            ),
        )
        .await
    {
        Some(df) => cx
            .read("spend classes", slices(&df, "segment_depense"))
            .unwrap_or_default(),
        None => Vec::new(),
    };

    let mut segmentations = Vec::new();
    for j in &checked.jobs {
        let Some(c) = &j.cluster else { continue };
        let panel = format!("segments of {}", j.name);
        let means: Vec<String> = c
            .features
            .iter()
            .enumerate()
            .map(|(i, f)| format!("avg(CAST(\"{f}\" AS DOUBLE)) AS f{i}"))
            .collect();
        let sql = format!(
            "SELECT \"{col}\" AS id, count(*) AS n, {} FROM {} GROUP BY \"{col}\" ORDER BY id",
            means.join(", "),
            j.name,
            col = c.column
        );
        let Some(df) = cx.sql(&panel, &sql).await else {
            continue;
        };
        let read = (|| {
            let ids = ints(&df, "id")?;
            let sizes = ints(&df, "n")?;
            let cols = (0..c.features.len())
                .map(|i| floats(&df, &format!("f{i}")))
                .collect::<PolarsResult<Vec<_>>>()?;
            Ok(ids
                .iter()
                .zip(sizes)
                .enumerate()
                .map(|(r, (&id, n))| ClusterProfile {
                    id,
                    size: n.max(0) as u64,
                    means: cols.iter().map(|col| col[r]).collect(),
                })
                .collect())
        })();
        if let Some(clusters) = cx.read(&panel, read) {
            segmentations.push(Segmentation {
                job: j.name.clone(),
                features: c.features.clone(),
                clusters,
            });
        }
    }

    let status = crate::status::gather(spec, checked, kafka_timeout).await?;
    let now = Utc::now();
    let age = |t: &Option<String>| {
        t.as_deref()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| (now - t.with_timezone(&Utc)).num_seconds())
    };
    let pipelines = status
        .pipelines
        .iter()
        .map(|p| {
            let quarantine = spec
                .bronze(&p.name)
                .and_then(|b| status.tables.iter().find(|t| t.path == b.quarantine))
                .and_then(|t| t.by_reason.clone())
                .unwrap_or_default();
            PipelineHealth {
                name: p.name.clone(),
                lag: p.lag,
                watermark: p.watermark.clone(),
                freshness_seconds: age(&p.last_batch),
                last_batch: p.last_batch.clone(),
                quarantine,
                broker_error: p.broker_error.clone(),
            }
        })
        .collect();
    let jobs = status
        .jobs
        .iter()
        .map(|j| JobHealth {
            name: j.name.clone(),
            stale: j.stale,
            age_seconds: j.age_seconds,
        })
        .collect();

    Ok(Dashboard {
        generated_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        kpis,
        top_clients,
        by_country,
        by_segment,
        by_day,
        spend_classes,
        segmentations,
        pipelines,
        jobs,
        problems: cx.problems,
    })
}

/// `1234567.891` → `1,234,567.89`.
pub fn money(v: f64) -> String {
    let neg = v < 0.0;
    let cents = (v.abs() * 100.0).round() as u128;
    let (units, cents) = (cents / 100, cents % 100);
    format!("{}{}.{cents:02}", if neg { "-" } else { "" }, group(units))
}

/// `1234567` → `1,234,567`.
pub fn group(n: u128) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `part / whole` as `12.3%`, or `-` when `whole` is zero.
pub fn pct(part: f64, whole: f64) -> String {
    if whole > 0.0 {
        format!("{:.1}%", 100.0 * part / whole)
    } else {
        "-".into()
    }
}

/// Seconds as `42s`, `5m`, `3h`, `2d`.
pub fn age(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(money(1_234_567.891), "1,234,567.89");
        assert_eq!(money(0.5), "0.50");
        assert_eq!(money(-999.999), "-1,000.00");
        assert_eq!(group(100), "100");
        assert_eq!(group(1000), "1,000");
        assert_eq!(age(59), "59s");
        assert_eq!(age(3600), "60m");
        assert_eq!(age(90_000), "25h");
    }
}
