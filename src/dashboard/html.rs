//! The dashboard as one self-contained HTML page: inline CSS and inline SVG charts, no
//! script and no network access needed to view it.

use std::fmt::Write;

use super::{age, group, money, pct, Dashboard, Slice};

const PALETTE: [&str; 10] = [
    "#4f46e5", "#0ea5e9", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#ec4899", "#14b8a6",
    "#64748b", "#84cc16",
];

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A compact amount for axis labels: 1.2k, 3.4M.
fn short(v: f64) -> String {
    match v.abs() {
        a if a >= 1e9 => format!("{:.1}G", v / 1e9),
        a if a >= 1e6 => format!("{:.1}M", v / 1e6),
        a if a >= 1e3 => format!("{:.1}k", v / 1e3),
        _ => format!("{v:.0}"),
    }
}

/// A round upper bound for an axis: 1, 2, 2.5 or 5 times a power of ten.
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * p >= v {
            return m * p;
        }
    }
    10.0 * p
}

/// A horizontal bar chart: one row per (label, value, note).
fn hbars(id: &str, rows: &[(String, f64, String)], color: &str) -> String {
    let (w, row_h, label_w, note_w) = (560.0, 30.0, 150.0, 215.0);
    let h = row_h * rows.len().max(1) as f64 + 10.0;
    let max = rows.iter().map(|r| r.1).fold(0.0, f64::max);
    let area = w - label_w - note_w;
    let mut s = format!(
        r#"<svg id="{id}" class="chart" role="img" viewBox="0 0 {w} {h}" width="100%" preserveAspectRatio="xMinYMin meet">"#
    );
    if rows.is_empty() {
        s.push_str(r#"<text x="10" y="24" class="muted">no data</text>"#);
    }
    for (i, (label, value, note)) in rows.iter().enumerate() {
        let y = 5.0 + i as f64 * row_h;
        let bw = if max > 0.0 {
            (value / max * area).max(2.0)
        } else {
            0.0
        };
        let _ = write!(
            s,
            r#"<text x="{lx}" y="{ty}" class="label" text-anchor="end">{label}</text><rect class="bar" x="{label_w}" y="{by}" width="{bw:.1}" height="{bh}" rx="4" fill="{color}"><title>{label}: {title}</title></rect><text x="{vx:.1}" y="{ty}" class="value">{value_s}<tspan class="muted"> {note}</tspan></text>"#,
            lx = label_w - 8.0,
            ty = y + row_h / 2.0 + 4.0,
            by = y + 5.0,
            bh = row_h - 10.0,
            vx = label_w + bw + 6.0,
            label = esc(label),
            title = esc(&money(*value)),
            value_s = esc(&short(*value)),
            note = esc(note),
        );
    }
    s.push_str("</svg>");
    s
}

/// A donut of the slices' revenue with a legend.
fn donut(id: &str, rows: &[Slice]) -> String {
    let total: f64 = rows.iter().map(|r| r.revenue.max(0.0)).sum();
    let (cx, cy, r, sw) = (110.0, 110.0, 80.0, 36.0);
    let circ = 2.0 * std::f64::consts::PI * r;
    let legend_h = 26.0 * rows.len() as f64 + 20.0;
    let h = f64::max(220.0, legend_h);
    let mut s = format!(
        r#"<svg id="{id}" class="chart" role="img" viewBox="0 0 560 {h}" width="100%" preserveAspectRatio="xMinYMin meet">"#
    );
    if total <= 0.0 {
        s.push_str(r#"<text x="10" y="24" class="muted">no data</text></svg>"#);
        return s;
    }
    let _ = write!(
        s,
        r##"<circle cx="{cx}" cy="{cy}" r="{r}" fill="none" stroke="#eef2f7" stroke-width="{sw}"/>"##
    );
    let mut start = 0.0;
    for (i, row) in rows.iter().enumerate() {
        let frac = row.revenue.max(0.0) / total;
        let _ = write!(
            s,
            r#"<circle class="slice" cx="{cx}" cy="{cy}" r="{r}" fill="none" stroke="{c}" stroke-width="{sw}" stroke-dasharray="{len:.2} {circ:.2}" transform="rotate({rot:.2} {cx} {cy})"><title>{label}: {m} ({p:.1}%)</title></circle>"#,
            c = PALETTE[i % PALETTE.len()],
            len = frac * circ,
            rot = start * 360.0 - 90.0,
            label = esc(&row.label),
            m = money(row.revenue),
            p = frac * 100.0,
        );
        start += frac;
        let ly = 30.0 + i as f64 * 26.0;
        let _ = write!(
            s,
            r#"<rect x="250" y="{ry}" width="14" height="14" rx="3" fill="{c}"/><text x="272" y="{ty}" class="label">{label}</text><text x="545" y="{ty}" class="value" text-anchor="end">{p:.1}% · {v}</text>"#,
            ry = ly - 11.0,
            ty = ly,
            c = PALETTE[i % PALETTE.len()],
            label = esc(&row.label),
            p = frac * 100.0,
            v = esc(&short(row.revenue)),
        );
    }
    let _ = write!(
        s,
        r#"<text x="{cx}" y="{y1}" text-anchor="middle" class="big">{t}</text><text x="{cx}" y="{y2}" text-anchor="middle" class="muted">revenue</text></svg>"#,
        y1 = cy + 2.0,
        y2 = cy + 20.0,
        t = esc(&short(total)),
    );
    s
}

/// Revenue per day as an area chart with a value axis.
fn timeline(id: &str, days: &[Slice]) -> String {
    let (w, h) = (1160.0, 300.0);
    let (left, right, top, bottom) = (64.0, 20.0, 16.0, 44.0);
    let mut s = format!(
        r##"<svg id="{id}" class="chart" role="img" viewBox="0 0 {w} {h}" width="100%" preserveAspectRatio="xMinYMin meet"><defs><linearGradient id="{id}-fill" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#4f46e5" stop-opacity="0.35"/><stop offset="1" stop-color="#4f46e5" stop-opacity="0.02"/></linearGradient></defs>"##
    );
    if days.is_empty() {
        s.push_str(r#"<text x="10" y="24" class="muted">no data</text></svg>"#);
        return s;
    }
    let max = nice_max(days.iter().map(|d| d.revenue).fold(0.0, f64::max));
    let (pw, ph) = (w - left - right, h - top - bottom);
    for t in 0..=4 {
        let v = max * t as f64 / 4.0;
        let y = top + ph - ph * t as f64 / 4.0;
        let _ = write!(
            s,
            r#"<line x1="{left}" x2="{x2}" y1="{y:.1}" y2="{y:.1}" class="grid"/><text x="{lx}" y="{ty:.1}" text-anchor="end" class="muted">{v}</text>"#,
            x2 = w - right,
            lx = left - 8.0,
            ty = y + 4.0,
            v = esc(&short(v)),
        );
    }
    let n = days.len();
    let x = |i: usize| {
        if n == 1 {
            left + pw / 2.0
        } else {
            left + pw * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| top + ph - ph * (v.max(0.0) / max);
    let points: Vec<String> = days
        .iter()
        .enumerate()
        .map(|(i, d)| format!("{:.1},{:.1}", x(i), y(d.revenue)))
        .collect();
    if n > 1 {
        let _ = write!(
            s,
            r##"<polygon points="{x0:.1},{base:.1} {pts} {xn:.1},{base:.1}" fill="url(#{id}-fill)"/><polyline class="line" points="{pts}" fill="none" stroke="#4f46e5" stroke-width="2.5" stroke-linejoin="round"/>"##,
            x0 = x(0),
            xn = x(n - 1),
            base = top + ph,
            pts = points.join(" "),
        );
    }
    let every = n.div_ceil(12).max(1);
    for (i, d) in days.iter().enumerate() {
        let _ = write!(
            s,
            r##"<circle class="point" cx="{cx:.1}" cy="{cy:.1}" r="3.5" fill="#fff" stroke="#4f46e5" stroke-width="2"><title>{label}: {m} ({n} sales)</title></circle>"##,
            cx = x(i),
            cy = y(d.revenue),
            label = esc(&d.label),
            m = money(d.revenue),
            n = group(d.count as u128),
        );
        if i % every == 0 || i == n - 1 {
            let anchor = match i {
                _ if n == 1 => "middle",
                0 => "start",
                i if i == n - 1 => "end",
                _ => "middle",
            };
            let _ = write!(
                s,
                r#"<text x="{tx:.1}" y="{ty}" text-anchor="{anchor}" class="muted">{label}</text>"#,
                tx = x(i),
                ty = h - 16.0,
                label = esc(&d.label),
            );
        }
    }
    s.push_str("</svg>");
    s
}

const CSS: &str = r#"
*{box-sizing:border-box}body{margin:0;font-family:-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Helvetica,Arial,sans-serif;background:#f4f6fb;color:#1e293b}
header{background:linear-gradient(120deg,#312e81,#4f46e5 60%,#0ea5e9);color:#fff;padding:28px 40px}
header h1{margin:0;font-size:26px;letter-spacing:.08em}header p{margin:6px 0 0;opacity:.85;font-size:14px}
main{padding:24px 40px 40px;max-width:1280px;margin:0 auto}
.kpis{display:grid;grid-template-columns:repeat(6,1fr);gap:16px;margin-bottom:24px}
.card{background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(15,23,42,.08),0 4px 14px rgba(15,23,42,.04);padding:18px 20px}
.kpi .name{font-size:12px;text-transform:uppercase;letter-spacing:.08em;color:#64748b}
.kpi .val{font-size:24px;font-weight:700;margin-top:6px;white-space:nowrap}.kpi .sub{font-size:12px;color:#64748b;margin-top:4px}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:20px;margin-bottom:20px}
h2{font-size:15px;margin:0 0 12px;color:#334155;letter-spacing:.03em}
svg text{font-size:13px;fill:#334155}svg .muted{fill:#94a3b8;font-size:12px}svg .value{font-weight:600}
svg .big{font-size:22px;font-weight:700;fill:#1e293b}svg .grid{stroke:#e2e8f0;stroke-width:1}
table{width:100%;border-collapse:collapse;font-size:13px}th{text-align:left;color:#64748b;font-weight:600;border-bottom:1px solid #e2e8f0;padding:6px 8px}
td{padding:6px 8px;border-bottom:1px solid #f1f5f9}.ok{color:#059669;font-weight:600}.bad{color:#dc2626;font-weight:600}
.split{display:flex;height:14px;border-radius:7px;overflow:hidden;margin-top:10px}
footer{color:#94a3b8;font-size:12px;text-align:center;padding:0 0 24px}
"#;

fn kpi(out: &mut String, name: &str, value: &str, sub: &str) {
    let _ = write!(
        out,
        r#"<div class="card kpi"><div class="name">{}</div><div class="val">{}</div><div class="sub">{}</div></div>"#,
        esc(name),
        esc(value),
        sub
    );
}

/// Renders the dashboard as a self-contained HTML page.
pub fn render(d: &Dashboard) -> String {
    let k = &d.kpis;
    let mut out = String::with_capacity(32 * 1024);
    let _ = write!(
        out,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Sales analytics dashboard</title><style>{CSS}</style></head><body><header><h1>SALES ANALYTICS DASHBOARD</h1><p>Computed by lakectl from the silver Delta tables · {}</p></header><main><section class="kpis">"#,
        esc(&d.generated_at)
    );
    kpi(&mut out, "Revenue", &money(k.revenue), "all days");
    kpi(
        &mut out,
        "Transactions",
        &group(k.transactions as u128),
        "sales with montant &gt; 0",
    );
    kpi(
        &mut out,
        "Average basket",
        &money(k.average_basket),
        "revenue / sales",
    );
    kpi(
        &mut out,
        "Clients",
        &group(k.clients as u128),
        "distinct buyers",
    );
    kpi(
        &mut out,
        "Loyal clients",
        &pct(k.loyal_clients as f64, k.clients as f64),
        &format!(
            "{} with &gt; 1 purchase in a day",
            group(k.loyal_clients as u128)
        ),
    );
    let classes_total: u64 = d.spend_classes.iter().map(|s| s.count).sum();
    let mut split = String::from(r#"<div class="split">"#);
    let mut legend = Vec::new();
    for (i, c) in ["Premium", "Standard", "Economy"].iter().enumerate() {
        let n = d
            .spend_classes
            .iter()
            .find(|s| s.label == *c)
            .map_or(0, |s| s.count);
        let share = if classes_total > 0 {
            100.0 * n as f64 / classes_total as f64
        } else {
            0.0
        };
        let _ = write!(
            split,
            r#"<div title="{c}: {share:.1}%" style="width:{share:.2}%;background:{}"></div>"#,
            PALETTE[i]
        );
        legend.push(format!("{c} {share:.0}%"));
    }
    split.push_str("</div>");
    kpi(
        &mut out,
        "Spend classes",
        &legend.first().cloned().unwrap_or_default(),
        &format!("{}{split}", esc(&legend[1..].join(" · "))),
    );
    out.push_str("</section>");

    let countries: Vec<(String, f64, String)> = d
        .by_country
        .iter()
        .map(|s| {
            (
                s.label.clone(),
                s.revenue,
                format!(
                    "{} · {} sales",
                    pct(s.revenue, k.revenue),
                    group(s.count as u128)
                ),
            )
        })
        .collect();
    let clients: Vec<(String, f64, String)> = d
        .top_clients
        .iter()
        .map(|c| {
            (
                format!("{} #{}", c.name, c.client_id),
                c.revenue,
                format!("{} purchases", c.purchases),
            )
        })
        .collect();
    let _ = write!(
        out,
        r#"<section class="grid2"><div class="card"><h2>Revenue by country</h2>{}</div><div class="card"><h2>Revenue by customer segment</h2>{}</div></section>"#,
        hbars("chart-country", &countries, PALETTE[0]),
        donut("chart-segment", &d.by_segment),
    );
    let _ = write!(
        out,
        r#"<section class="card" style="margin-bottom:20px"><h2>Revenue over time (by jour)</h2>{}</section>"#,
        timeline("chart-days", &d.by_day)
    );
    let _ = write!(
        out,
        r#"<section class="grid2"><div class="card"><h2>Top 10 clients by revenue</h2>{}</div><div class="card"><h2>Pipeline health</h2>{}</div></section>"#,
        hbars("chart-clients", &clients, PALETTE[2]),
        health(d)
    );
    for s in &d.segmentations {
        out.push_str(&segments(s));
    }
    let _ = write!(
        out,
        r#"</main><footer>lakectl dashboard · sources: ventes_aggreges, ventes_par_pays, ventes_par_segment · generated {}</footer></body></html>"#,
        esc(&d.generated_at)
    );
    out
}

/// A job's customer segments: a bar of each cluster's size, and its profile (the mean of
/// each feature) in a table.
fn segments(s: &super::Segmentation) -> String {
    let total: u64 = s.clusters.iter().map(|c| c.size).sum();
    let bars: Vec<(String, f64, String)> = s
        .clusters
        .iter()
        .map(|c| {
            (
                format!("segment {}", c.id),
                c.size as f64,
                format!(
                    "{} clients · {}",
                    group(c.size as u128),
                    pct(c.size as f64, total as f64)
                ),
            )
        })
        .collect();
    let mut table = String::from("<table><thead><tr><th>segment</th><th>clients</th>");
    for f in &s.features {
        let _ = write!(table, "<th>avg {}</th>", esc(f));
    }
    table.push_str("</tr></thead><tbody>");
    for c in &s.clusters {
        let _ = write!(
            table,
            "<tr><td>{}</td><td>{}</td>",
            c.id,
            group(c.size as u128)
        );
        for m in &c.means {
            let _ = write!(table, "<td>{}</td>", money(*m));
        }
        table.push_str("</tr>");
    }
    table.push_str("</tbody></table>");
    format!(
        r#"<section class="grid2" style="margin-top:20px"><div class="card"><h2>Customer segments · {} (k-means on {})</h2>{}</div><div class="card"><h2>Segment profiles</h2>{table}</div></section>"#,
        esc(&s.job),
        esc(&s.features.join(", ")),
        hbars(
            &format!("chart-segments-{}", esc(&s.job)),
            &bars,
            PALETTE[3 % PALETTE.len()]
        ),
    )
}

fn health(d: &Dashboard) -> String {
    let mut s = String::from(
        "<table><tr><th>Pipeline / job</th><th>Freshness</th><th>Lag</th><th>Details</th></tr>",
    );
    for p in &d.pipelines {
        let lag_class = if p.lag == Some(0) { "ok" } else { "bad" };
        let _ = write!(
            s,
            r#"<tr><td>bronze <b>{}</b></td><td>{}</td><td class="{lag_class}">{}</td><td>watermark {}<br>quarantine: {}{}</td></tr>"#,
            esc(&p.name),
            p.freshness_text(),
            p.lag.map_or("?".into(), |l| group(l.max(0) as u128)),
            esc(p.watermark.as_deref().unwrap_or("-")),
            esc(&p.quarantine_text()),
            p.broker_error.as_ref().map_or(String::new(), |e| format!(
                "<br><span class=\"bad\">broker: {}</span>",
                esc(e)
            )),
        );
    }
    for j in &d.jobs {
        let (class, state) = match j.stale {
            Some(true) => ("bad", "behind its source"),
            Some(false) => ("ok", "up to date"),
            None => ("bad", "not run yet"),
        };
        let _ = write!(
            s,
            r#"<tr><td>job <b>{}</b></td><td>{}</td><td></td><td class="{class}">{state}</td></tr>"#,
            esc(&j.name),
            j.age_seconds
                .map_or("-".into(), |x| format!("{} ago", age(x))),
        );
    }
    s.push_str("</table>");
    if !d.problems.is_empty() {
        s.push_str("<h2 style=\"margin-top:16px\">Not shown</h2><ul>");
        for p in &d.problems {
            let _ = write!(s, "<li>{}</li>", esc(p.lines().next().unwrap_or_default()));
        }
        s.push_str("</ul>");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_axes_are_round() {
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.3), 10.0);
        assert_eq!(nice_max(180_000.0), 200_000.0);
        assert_eq!(nice_max(2_400.0), 2_500.0);
        assert_eq!(short(1_234_567.0), "1.2M");
    }
}
