//! The dashboard as terminal text: KPIs, bar charts drawn with block characters, health.

use std::fmt::Write;

use super::{
    age, eur, feature_label, group, is_money, pct, Dashboard, Period, Segmentation, Slice,
    CURRENCY, PERIOD_DAYS,
};

const BAR: usize = 28;
const DAYS_SHOWN: usize = 14;

/// A bar of `value / max` of `width` cells, with eighth-cell precision.
pub fn bar(value: f64, max: f64, width: usize) -> String {
    if max <= 0.0 || value <= 0.0 {
        return String::new();
    }
    let eighths = ((value / max).min(1.0) * (width * 8) as f64).round() as usize;
    let mut s = "█".repeat(eighths / 8);
    if !eighths.is_multiple_of(8) {
        s.push(['▏', '▎', '▍', '▌', '▋', '▊', '▉'][eighths % 8 - 1]);
    }
    s
}

fn breakdown(out: &mut String, title: &str, rows: &[Slice], count_label: &str) {
    let days: Vec<(String, Option<&Slice>)> =
        rows.iter().map(|r| (r.label.clone(), Some(r))).collect();
    breakdown_gaps(out, title, &days, count_label);
}

/// A breakdown whose rows may be empty (a day without sales).
fn breakdown_gaps(
    out: &mut String,
    title: &str,
    rows: &[(String, Option<&Slice>)],
    count_label: &str,
) {
    let _ = writeln!(out, "\n {title}");
    if rows.is_empty() {
        let _ = writeln!(out, "  (no data)");
        return;
    }
    let max = rows
        .iter()
        .filter_map(|r| r.1.map(|s| s.revenue))
        .fold(0.0, f64::max);
    let total: f64 = rows.iter().filter_map(|r| r.1.map(|s| s.revenue)).sum();
    for (label, r) in rows {
        let label: String = label.chars().take(20).collect();
        match r {
            Some(r) => {
                let _ = writeln!(
                    out,
                    "  {label:<20} {:>16} {:>6}  {:<w$} {} {count_label}",
                    eur(r.revenue),
                    pct(r.revenue, total),
                    bar(r.revenue, max, BAR),
                    group(r.count as u128),
                    w = BAR
                );
            }
            None => {
                let _ = writeln!(out, "  {label:<20} {:>16}", "no sales");
            }
        }
    }
}

/// A job's customer segments: size, share and the mean of each feature per cluster.
fn segments(out: &mut String, s: &Segmentation) {
    let _ = writeln!(
        out,
        "\n CUSTOMER SEGMENTS (clients grouped by {}; job {})",
        s.features
            .iter()
            .map(|f| feature_label(f))
            .collect::<Vec<_>>()
            .join(", "),
        s.job
    );
    if s.clusters.is_empty() {
        let _ = writeln!(out, "  (no data)");
        return;
    }
    let total: u64 = s.clusters.iter().map(|c| c.size).sum();
    let max = s.clusters.iter().map(|c| c.size).max().unwrap_or(0) as f64;
    for (i, f) in s.features.iter().enumerate() {
        let _ = writeln!(out, "  avg {}: column {}", feature_label(f), i + 1);
    }
    let head: Vec<String> = (1..=s.features.len())
        .map(|i| format!("{:>12}", format!("avg ({i})")))
        .collect();
    let _ = writeln!(
        out,
        "  {:<30} {:>7} {:>6}  {:<16} {}",
        "segment",
        "clients",
        "share",
        "",
        head.join(" ")
    );
    for c in &s.clusters {
        let means: Vec<String> = s
            .features
            .iter()
            .zip(&c.means)
            .map(|(f, m)| {
                let v = if is_money(f) {
                    eur(*m)
                } else {
                    format!("{m:.1}")
                };
                format!("{v:>12}")
            })
            .collect();
        let _ = writeln!(
            out,
            "  {:<30} {:>7} {:>6}  {:<16} {}",
            c.name.chars().take(30).collect::<String>(),
            group(c.size as u128),
            pct(c.size as f64, total as f64),
            bar(c.size as f64, max, 16),
            means.join(" ")
        );
    }
}

/// `last 7 days €12,345.00, +4.2 % vs the 7 days before`.
fn period_line(what: &str, now: String, change: Option<String>) -> String {
    format!(
        " {what} in the last {PERIOD_DAYS} days {now}, {}",
        change.map_or(format!("no sales in the {PERIOD_DAYS} days before"), |c| {
            format!("{c} vs the {PERIOD_DAYS} days before")
        })
    )
}

/// Renders the dashboard for a terminal.
pub fn render(d: &Dashboard) -> String {
    let mut out = String::new();
    let rule = "═".repeat(78);
    let _ = writeln!(out, "{rule}");
    let _ = writeln!(
        out,
        " SALES DASHBOARD (amounts in {CURRENCY}){:>46}",
        format!("as of {}", d.generated_at)
    );
    let _ = writeln!(out, "{rule}");
    let stale: Vec<&str> = d
        .jobs
        .iter()
        .filter(|j| j.stale == Some(true))
        .map(|j| j.name.as_str())
        .collect();
    if !stale.is_empty() {
        let _ = writeln!(
            out,
            " ! figures from {} are behind the latest sales (lakectl run silver updates them)",
            stale.join(", ")
        );
    }
    let k = &d.kpis;
    let _ = writeln!(
        out,
        " Revenue {}   Sales {}   Average basket {}",
        eur(k.revenue),
        group(k.transactions as u128),
        eur(k.average_basket)
    );
    if let Some(p) = &d.period {
        let _ = writeln!(
            out,
            "{}",
            period_line(
                "Revenue",
                eur(p.revenue),
                Period::change(p.revenue, p.previous_revenue)
            )
        );
        let _ = writeln!(
            out,
            "{}",
            period_line(
                "Sales",
                group(p.transactions as u128),
                Period::change(p.transactions as f64, p.previous_transactions as f64)
            )
        );
    }
    let split: Vec<String> = d
        .spend_shares()
        .iter()
        .map(|(c, s)| format!("{c} {:.1} %", s * 100.0))
        .collect();
    let _ = writeln!(
        out,
        " Clients {}   Loyal {} ({}, bought more than once in a day)",
        group(k.clients as u128),
        group(k.loyal_clients as u128),
        pct(k.loyal_clients as f64, k.clients as f64),
    );
    let _ = writeln!(
        out,
        " Share of revenue by spend class: {}",
        split.join(" · ")
    );

    let skip = d.calendar().len().saturating_sub(DAYS_SHOWN);
    let calendar = d.calendar();
    let title = if skip > 0 {
        format!(
            "REVENUE BY DAY (last {DAYS_SHOWN} of {} days)",
            calendar.len()
        )
    } else {
        "REVENUE BY DAY".to_string()
    };
    breakdown_gaps(&mut out, &title, &calendar[skip..], "sales");
    breakdown(&mut out, "REVENUE BY COUNTRY", &d.by_country, "sales");
    breakdown(&mut out, "REVENUE BY CUSTOMER TYPE", &d.by_segment, "sales");
    breakdown(
        &mut out,
        "REVENUE BY PRODUCT CATEGORY",
        &d.by_category,
        "sales",
    );

    let _ = writeln!(out, "\n TOP 10 PRODUCTS BY REVENUE");
    if d.top_products.is_empty() {
        let _ = writeln!(out, "  (no data)");
    }
    let max = d.top_products.first().map_or(0.0, |p| p.revenue);
    for (i, p) in d.top_products.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {:>2}. {:<24} {:<14} {:>14}  {:<w$} {} sold",
            i + 1,
            p.name.chars().take(24).collect::<String>(),
            p.category.chars().take(14).collect::<String>(),
            eur(p.revenue),
            bar(p.revenue, max, BAR - 10),
            group(p.items as u128),
            w = BAR - 10
        );
    }

    let _ = writeln!(out, "\n TOP 10 CLIENTS BY REVENUE");
    if d.top_clients.is_empty() {
        let _ = writeln!(out, "  (no data)");
    }
    let max = d.top_clients.first().map_or(0.0, |c| c.revenue);
    for (i, c) in d.top_clients.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {:>2}. {:<18} #{:<6} {:>14}  {:<w$} {} purchases",
            i + 1,
            c.name,
            c.client_id,
            eur(c.revenue),
            bar(c.revenue, max, BAR - 6),
            c.purchases,
            w = BAR - 6
        );
    }
    breakdown(
        &mut out,
        "SPEND CLASSES (client-days by spend; share of revenue)",
        &d.spend_classes,
        "client-days",
    );
    for s in &d.segmentations {
        segments(&mut out, s);
    }

    let _ = writeln!(out, "\n{}", "─".repeat(78));
    let _ = writeln!(out, " FOR THE DATA TEAM: PIPELINE HEALTH");
    for p in &d.pipelines {
        let _ = writeln!(
            out,
            "  bronze {:<12} last commit {}   lag {}   watermark {}   quarantine {}",
            p.name,
            p.freshness_text(),
            p.lag.map_or("?".into(), |l| group(l.max(0) as u128)),
            p.watermark.as_deref().unwrap_or("-"),
            p.quarantine_text()
        );
        if let Some(e) = &p.broker_error {
            let _ = writeln!(out, "  {:<19} broker: {e}", "");
        }
    }
    for j in &d.jobs {
        let state = match j.stale {
            Some(true) => "behind its source",
            Some(false) => "up to date",
            None => "not run yet",
        };
        let _ = writeln!(
            out,
            "  job    {:<20} {state}{}",
            j.name,
            j.age_seconds
                .map_or(String::new(), |s| format!(", last run {} ago", age(s)))
        );
    }
    if !d.problems.is_empty() {
        let _ = writeln!(out, "\n NOT SHOWN");
        for p in &d.problems {
            let _ = writeln!(out, "  {}", p.lines().next().unwrap_or_default());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_with_eighths() {
        assert_eq!(bar(1.0, 1.0, 4), "████");
        assert_eq!(bar(0.5, 1.0, 4), "██");
        assert_eq!(bar(1.0 / 32.0, 1.0, 4), "▏");
        assert_eq!(bar(0.0, 1.0, 4), "");
        assert_eq!(bar(1.0, 0.0, 4), "");
    }
}
