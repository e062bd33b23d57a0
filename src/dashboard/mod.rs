//! `lakectl dashboard`: the sales analytics dashboard, computed from the silver tables of the
//! shipped jobs (`ventes_aggreges`, `ventes_par_pays`, `ventes_par_segment`,
//! `ventes_par_produit`) with the same SQL engine as `lakectl query`, plus pipeline health
//! from [`crate::status`]. Rendered as text ([`text`]) or as one self-contained HTML page with
//! SVG charts ([`html`]); both take every figure and its wording from here, so the terminal
//! and the page say the same thing.

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
/// The job whose table holds one row per product and day.
pub const PRODUCTS_TABLE: &str = "ventes_par_produit";
/// The currency of `montant`.
pub const CURRENCY: &str = "€";
/// Days of the period compared with the one before it.
pub const PERIOD_DAYS: i64 = 7;

/// Headline figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Kpis {
    /// Total revenue: `montant` of the sales with a positive amount in the bronze tables
    /// (live: every commit counts).
    pub revenue: f64,
    /// Sales with a positive amount in the bronze tables.
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

/// One of the top products.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Product {
    /// `produit_id`.
    pub produit_id: i64,
    /// `produit_nom`.
    pub name: String,
    /// `categorie`.
    pub category: String,
    /// Revenue over all days.
    pub revenue: f64,
    /// Items sold (`quantite`) over all days.
    pub items: u64,
}

/// The last [`PERIOD_DAYS`] days with data against the days before them.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Period {
    /// Days in each period.
    pub days: i64,
    /// First day of the current period.
    pub from: String,
    /// Last day of the current period (the latest day with sales).
    pub to: String,
    /// Revenue of the current period.
    pub revenue: f64,
    /// Sales of the current period.
    pub transactions: u64,
    /// Revenue of the period before.
    pub previous_revenue: f64,
    /// Sales of the period before.
    pub previous_transactions: u64,
}

impl Period {
    /// The current period against the last `days` days before it, from revenue by day.
    pub fn of(by_day: &[Slice], days: i64) -> Option<Self> {
        let parse = |s: &Slice| chrono::NaiveDate::parse_from_str(&s.label, "%Y-%m-%d").ok();
        let to = by_day.iter().filter_map(parse).max()?;
        let from = to - chrono::Duration::days(days - 1);
        let before = from - chrono::Duration::days(days);
        let mut p = Self {
            days,
            from: from.to_string(),
            to: to.to_string(),
            revenue: 0.0,
            transactions: 0,
            previous_revenue: 0.0,
            previous_transactions: 0,
        };
        for s in by_day {
            match parse(s) {
                Some(d) if d >= from => {
                    p.revenue += s.revenue;
                    p.transactions += s.count;
                }
                Some(d) if d >= before => {
                    p.previous_revenue += s.revenue;
                    p.previous_transactions += s.count;
                }
                _ => {}
            }
        }
        Some(p)
    }

    /// The change of `now` against `before` as `+4.2 %`, or None without a previous figure.
    pub fn change(now: f64, before: f64) -> Option<String> {
        (before > 0.0).then(|| format!("{:+.1} %", 100.0 * (now - before) / before))
    }
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
    /// What it is, in words: how its means compare with all clients' ("recent, frequent,
    /// high spend").
    pub name: String,
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
#[derive(Debug, Clone, Default, Serialize)]
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
    /// Premium / Standard / Economy (`segment_depense` of the client-days): revenue, and
    /// client-days as the count.
    pub spend_classes: Vec<Slice>,
    /// Revenue by product category, largest first.
    pub by_category: Vec<Slice>,
    /// Top 10 products by revenue.
    pub top_products: Vec<Product>,
    /// The last days against the days before.
    pub period: Option<Period>,
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

    /// Sales with a positive amount and their revenue over every bronze table with a
    /// `montant` column; None when there is none, or one cannot be read (then named in
    /// `problems`).
    async fn live_totals(&mut self) -> Option<(u64, f64)> {
        let names: Vec<String> = self
            .spec
            .bronze
            .iter()
            .filter(|b| b.schema.iter().any(|(c, _)| c == "montant"))
            .map(|b| b.name.clone())
            .collect();
        if names.is_empty() {
            return None;
        }
        let (mut n, mut revenue) = (0u64, 0.0);
        for name in names {
            let sql = format!(
                "SELECT count(*) AS n, sum(montant) AS revenue FROM \"{name}\" WHERE montant > 0"
            );
            let df = self.sql("live revenue and sales", &sql).await?;
            let (c, r) = self.read(
                "live revenue and sales",
                ints(&df, "n").and_then(|c| Ok((c, floats(&df, "revenue")?))),
            )?;
            n += c.first().copied().unwrap_or(0).max(0) as u64;
            revenue += r.first().copied().unwrap_or(0.0);
        }
        Some((n, revenue))
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
    let mut d = figures(spec, checked).await;
    let status = crate::status::gather(spec, checked, kafka_timeout).await?;
    d.set_health(spec, &status, Utc::now());
    Ok(d)
}

/// The sales figures, from the silver tables (the health panels left empty: see
/// [`Dashboard::set_health`]). A panel whose table is missing or unreadable is named in
/// `problems`, the others still computed.
pub async fn figures(spec: &PipelineSpec, checked: &CheckedJobs) -> Dashboard {
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
    // Revenue and sales are live: counted in the bronze tables, which every commit updates,
    // not in the silver ones, which change when their jobs run. With the jobs up to date both
    // are the same sum.
    match cx.live_totals().await {
        Some((n, revenue)) => {
            kpis.transactions = n;
            kpis.revenue = revenue;
        }
        None => {
            kpis.revenue = by_country.iter().map(|s| s.revenue).sum();
            kpis.transactions = by_country.iter().map(|s| s.count).sum();
        }
    }
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

    let by_category = cx
        .slices_by(
            "revenue by category",
            PRODUCTS_TABLE,
            "categorie",
            "revenue DESC, categorie",
        )
        .await;
    let top_products = match cx
        .sql(
            "top products",
            &format!(
                "SELECT produit_id, produit_nom, categorie, sum(revenue_total) AS revenue, \
                 sum(items_sold) AS n FROM {PRODUCTS_TABLE} \
                 GROUP BY produit_id, produit_nom, categorie \
                 ORDER BY revenue DESC, produit_id LIMIT 10"
            ),
        )
        .await
    {
        Some(df) => {
            let r = (|| {
                let ids = ints(&df, "produit_id")?;
                let names = strings(&df, "produit_nom")?;
                let cats = strings(&df, "categorie")?;
                let rev = floats(&df, "revenue")?;
                let n = ints(&df, "n")?;
                Ok(ids
                    .into_iter()
                    .zip(names)
                    .zip(cats)
                    .zip(rev)
                    .zip(n)
                    .map(|((((produit_id, name), category), revenue), n)| Product {
                        produit_id,
                        name,
                        category,
                        revenue,
                        items: n.max(0) as u64,
                    })
                    .collect())
            })();
            cx.read("top products", r).unwrap_or_default()
        }
        None => Vec::new(),
    };

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
                    name: String::new(),
                    size: n.max(0) as u64,
                    means: cols.iter().map(|col| col[r]).collect(),
                })
                .collect::<Vec<_>>())
        })();
        if let Some(mut clusters) = cx.read(&panel, read) {
            name_segments(&c.features, &mut clusters);
            segmentations.push(Segmentation {
                job: j.name.clone(),
                features: c.features.clone(),
                clusters,
            });
        }
    }

    let period = Period::of(&by_day, PERIOD_DAYS);
    Dashboard {
        generated_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        kpis,
        top_clients,
        by_country,
        by_segment,
        by_day,
        spend_classes,
        by_category,
        top_products,
        period,
        segmentations,
        pipelines: Vec::new(),
        jobs: Vec::new(),
        problems: cx.problems,
    }
}

impl Dashboard {
    /// Fills the pipeline and job panels from `status`, as of `now`.
    pub fn set_health(
        &mut self,
        spec: &PipelineSpec,
        status: &crate::status::Status,
        now: DateTime<Utc>,
    ) {
        let age = |t: &Option<String>| {
            t.as_deref()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| (now - t.with_timezone(&Utc)).num_seconds())
        };
        self.pipelines = status
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
        self.jobs = status
            .jobs
            .iter()
            .map(|j| JobHealth {
                name: j.name.clone(),
                stale: j.stale,
                age_seconds: j.age_seconds,
            })
            .collect();
        self.generated_at = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    }

    /// Spend classes in their order (Premium, Standard, Economy), each with its share of
    /// the classes' revenue: the one definition the terminal and the page show.
    pub fn spend_shares(&self) -> Vec<(&'static str, f64)> {
        let total: f64 = self.spend_classes.iter().map(|s| s.revenue).sum();
        ["Premium", "Standard", "Economy"]
            .iter()
            .map(|c| {
                let r = self
                    .spend_classes
                    .iter()
                    .find(|s| s.label == *c)
                    .map_or(0.0, |s| s.revenue);
                (*c, if total > 0.0 { r / total } else { 0.0 })
            })
            .collect()
    }

    /// Every calendar day from the first to the last day with sales, each with its figures
    /// or None (a day without sales: a gap, not a line bridged over it).
    pub fn calendar(&self) -> Vec<(String, Option<&Slice>)> {
        let parse = |s: &Slice| chrono::NaiveDate::parse_from_str(&s.label, "%Y-%m-%d").ok();
        let dated: BTreeMap<chrono::NaiveDate, &Slice> = self
            .by_day
            .iter()
            .filter_map(|s| Some((parse(s)?, s)))
            .collect();
        let (Some((&first, _)), Some((&last, _))) =
            (dated.first_key_value(), dated.last_key_value())
        else {
            return self
                .by_day
                .iter()
                .map(|s| (s.label.clone(), Some(s)))
                .collect();
        };
        first
            .iter_days()
            .take_while(|d| *d <= last)
            .map(|d| (d.to_string(), dated.get(&d).copied()))
            .collect()
    }
}

/// A feature in words: `recence_jours` → "days since last purchase".
pub fn feature_label(feature: &str) -> String {
    match feature {
        "recence_jours" => "days since last purchase".into(),
        "frequence" => "purchases".into(),
        "montant_total" => format!("total spend ({CURRENCY})"),
        f => f.replace('_', " "),
    }
}

/// Whether a feature is money (shown with the currency).
pub fn is_money(feature: &str) -> bool {
    feature.starts_with("montant") || feature.contains("depense") || feature.contains("revenue")
}

/// Names each cluster by how its means compare with the mean of all rows: a mean over 15 %
/// above or below it gives a word ("recent" / "lapsed", "frequent" / "occasional", "high
/// spend" / "low spend", or "high X" / "low X"); a cluster near the mean on every feature is
/// "typical". Two clusters that would share a name get their id added.
pub fn name_segments(features: &[String], clusters: &mut [ClusterProfile]) {
    let total: u64 = clusters.iter().map(|c| c.size).sum();
    if total == 0 {
        return;
    }
    let overall: Vec<f64> = (0..features.len())
        .map(|i| {
            clusters
                .iter()
                .map(|c| c.means.get(i).copied().unwrap_or(0.0) * c.size as f64)
                .sum::<f64>()
                / total as f64
        })
        .collect();
    for c in clusters.iter_mut() {
        let words: Vec<String> = features
            .iter()
            .zip(&c.means)
            .zip(&overall)
            .filter_map(|((f, &m), &all)| {
                let high = if all.abs() < f64::EPSILON {
                    return None;
                } else if m > all * 1.15 {
                    true
                } else if m < all * 0.85 {
                    false
                } else {
                    return None;
                };
                let (hi, lo) = if f.starts_with("recence") {
                    ("lapsed", "recent")
                } else if f.starts_with("frequence") || f.starts_with("nb_") {
                    ("frequent", "occasional")
                } else if is_money(f) {
                    ("high spend", "low spend")
                } else {
                    return Some(format!(
                        "{} {}",
                        if high { "high" } else { "low" },
                        feature_label(f)
                    ));
                };
                Some(if high { hi } else { lo }.to_string())
            })
            .collect();
        c.name = if words.is_empty() {
            "typical".into()
        } else {
            words.join(", ")
        };
    }
    let names: Vec<String> = clusters.iter().map(|c| c.name.clone()).collect();
    for c in clusters.iter_mut() {
        if names.iter().filter(|n| **n == c.name).count() > 1 {
            c.name = format!("{} ({})", c.name, c.id);
        }
    }
}

/// An amount with the currency: `€1,234,567.89`.
pub fn eur(v: f64) -> String {
    let m = money(v);
    match m.strip_prefix('-') {
        Some(m) => format!("-{CURRENCY}{m}"),
        None => format!("{CURRENCY}{m}"),
    }
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

    fn day(label: &str, revenue: f64, count: u64) -> Slice {
        Slice {
            label: label.into(),
            revenue,
            count,
        }
    }

    #[test]
    fn segments_are_named_by_how_they_differ_from_all_clients() {
        let features: Vec<String> = ["recence_jours", "frequence", "montant_total"]
            .map(String::from)
            .to_vec();
        let c = |id, size, means: [f64; 3]| ClusterProfile {
            id,
            name: String::new(),
            size,
            means: means.to_vec(),
        };
        let mut cs = vec![
            c(0, 100, [2.0, 8.0, 5000.0]),
            c(1, 100, [30.0, 1.0, 100.0]),
            c(2, 100, [16.0, 4.5, 2550.0]),
            c(3, 100, [16.0, 4.5, 2550.0]),
        ];
        name_segments(&features, &mut cs);
        assert_eq!(cs[0].name, "recent, frequent, high spend");
        assert_eq!(cs[1].name, "lapsed, occasional, low spend");
        // Near the mean on every feature, twice: told apart by their id.
        assert_eq!(cs[2].name, "typical (2)");
        assert_eq!(cs[3].name, "typical (3)");
    }

    #[test]
    fn the_period_is_the_last_days_with_data_against_the_days_before() {
        let days = [
            day("2026-11-01", 5.0, 1),
            day("2026-11-20", 10.0, 2),
            day("2026-11-24", 1.0, 1),
            day("2026-11-26", 20.0, 4),
            day("2026-12-02", 30.0, 3),
        ];
        let p = Period::of(&days, 7).unwrap();
        assert_eq!(
            (p.from.as_str(), p.to.as_str()),
            ("2026-11-26", "2026-12-02")
        );
        assert_eq!((p.revenue, p.transactions), (50.0, 7));
        assert_eq!((p.previous_revenue, p.previous_transactions), (11.0, 3));
        assert_eq!(Period::change(50.0, 40.0).as_deref(), Some("+25.0 %"));
        assert_eq!(Period::change(50.0, 0.0), None);
        assert_eq!(Period::of(&[], 7), None);
    }

    #[test]
    fn the_calendar_has_every_day_and_gaps_for_days_without_sales() {
        let d = Dashboard {
            by_day: vec![day("2026-11-29", 1.0, 1), day("2026-12-02", 2.0, 1)],
            ..Default::default()
        };
        let cal = d.calendar();
        let labels: Vec<&str> = cal.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(
            labels,
            ["2026-11-29", "2026-11-30", "2026-12-01", "2026-12-02"]
        );
        let gaps: Vec<bool> = cal.iter().map(|(_, s)| s.is_none()).collect();
        assert_eq!(gaps, [false, true, true, false]);
        assert_eq!(eur(-1234.5), "-€1,234.50");
    }

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
