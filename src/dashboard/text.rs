//! The dashboard as terminal text: KPIs, bar charts drawn with block characters, health.

use std::fmt::Write;

use super::{age, group, money, pct, Dashboard, Segmentation, Slice};

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
    let _ = writeln!(out, "\n {title}");
    if rows.is_empty() {
        let _ = writeln!(out, "  (no data)");
        return;
    }
    let max = rows.iter().map(|r| r.revenue).fold(0.0, f64::max);
    let total: f64 = rows.iter().map(|r| r.revenue).sum();
    for r in rows {
        let _ = writeln!(
            out,
            "  {:<14} {:>15} {:>6}  {:<w$} {} {count_label}",
            r.label,
            money(r.revenue),
            pct(r.revenue, total),
            bar(r.revenue, max, BAR),
            group(r.count as u128),
            w = BAR
        );
    }
}

/// A job's customer segments: size, share and the mean of each feature per cluster.
fn segments(out: &mut String, s: &Segmentation) {
    let _ = writeln!(
        out,
        "\n CUSTOMER SEGMENTS ({}, k-means on {})",
        s.job,
        s.features.join(", ")
    );
    if s.clusters.is_empty() {
        let _ = writeln!(out, "  (no data)");
        return;
    }
    let total: u64 = s.clusters.iter().map(|c| c.size).sum();
    let max = s.clusters.iter().map(|c| c.size).max().unwrap_or(0) as f64;
    let head: Vec<String> = s.features.iter().map(|f| format!("{f:>14}")).collect();
    let _ = writeln!(
        out,
        "  {:<9} {:>7} {:>6}  {:<16} {}",
        "segment",
        "clients",
        "share",
        "",
        head.join(" ")
    );
    for c in &s.clusters {
        let means: Vec<String> = c
            .means
            .iter()
            .map(|m| format!("{:>14}", money(*m)))
            .collect();
        let _ = writeln!(
            out,
            "  {:<9} {:>7} {:>6}  {:<16} {}",
            c.id,
            group(c.size as u128),
            pct(c.size as f64, total as f64),
            bar(c.size as f64, max, 16),
            means.join(" ")
        );
    }
}

/// Renders the dashboard for a terminal.
pub fn render(d: &Dashboard) -> String {
    let mut out = String::new();
    let rule = "═".repeat(78);
    let _ = writeln!(out, "{rule}");
    let _ = writeln!(
        out,
        " SALES ANALYTICS DASHBOARD{:>52}",
        format!("updated {}", d.generated_at)
    );
    let _ = writeln!(out, "{rule}");
    let k = &d.kpis;
    let _ = writeln!(
        out,
        " Revenue {}   Transactions {}   Average basket {}",
        money(k.revenue),
        group(k.transactions as u128),
        money(k.average_basket)
    );
    let classes_total: u64 = d.spend_classes.iter().map(|s| s.count).sum();
    let split: Vec<String> = ["Premium", "Standard", "Economy"]
        .iter()
        .map(|c| {
            let n = d
                .spend_classes
                .iter()
                .find(|s| s.label == *c)
                .map_or(0, |s| s.count);
            format!("{c} {}", pct(n as f64, classes_total as f64))
        })
        .collect();
    let _ = writeln!(
        out,
        " Clients {}   Loyal {} ({})   {}",
        group(k.clients as u128),
        group(k.loyal_clients as u128),
        pct(k.loyal_clients as f64, k.clients as f64),
        split.join(" · ")
    );

    let _ = writeln!(out, "\n TOP 10 CLIENTS BY REVENUE");
    if d.top_clients.is_empty() {
        let _ = writeln!(out, "  (no data)");
    }
    let max = d.top_clients.first().map_or(0.0, |c| c.revenue);
    for (i, c) in d.top_clients.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {:>2}. {:<18} #{:<6} {:>13}  {:<w$} {} purchases",
            i + 1,
            c.name,
            c.client_id,
            money(c.revenue),
            bar(c.revenue, max, BAR - 6),
            c.purchases,
            w = BAR - 6
        );
    }
    breakdown(&mut out, "REVENUE BY COUNTRY", &d.by_country, "sales");
    breakdown(&mut out, "REVENUE BY SEGMENT", &d.by_segment, "sales");
    breakdown(
        &mut out,
        "SPEND CLASSES (client-days, by total spend)",
        &d.spend_classes,
        "client-days",
    );
    for s in &d.segmentations {
        segments(&mut out, s);
    }
    let skip = d.by_day.len().saturating_sub(DAYS_SHOWN);
    let title = if skip > 0 {
        format!("REVENUE BY DAY (last {DAYS_SHOWN} of {})", d.by_day.len())
    } else {
        "REVENUE BY DAY".to_string()
    };
    breakdown(&mut out, &title, &d.by_day[skip..], "sales");

    let _ = writeln!(out, "\n PIPELINE HEALTH");
    for p in &d.pipelines {
        let _ = writeln!(
            out,
            "  bronze {:<12} last batch {}   lag {}   watermark {}   quarantine {}",
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
