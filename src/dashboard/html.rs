//! The dashboard as HTML: [`render`] writes one self-contained page (inline CSS and inline
//! SVG charts, no script, no network access needed to view it); [`page`] is the page
//! `lakectl serve` answers (its CSS and script from the same server, so a
//! Content-Security-Policy can forbid everything else) and [`panels`] the part of it that
//! updates itself. No element carries a `style` attribute: the policy forbids inline styles.

use std::fmt::Write;

use super::{
    age, eur, feature_label, group, is_money, pct, Dashboard, Period, Slice, CURRENCY, PERIOD_DAYS,
};

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

/// Bar labels longer than this are cut (with `…`; the whole label is in the bar's title).
const LABEL_CHARS: usize = 30;

fn clip(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS {
        return label.to_string();
    }
    let mut s: String = label.chars().take(LABEL_CHARS - 1).collect();
    s.push('…');
    s
}

/// A horizontal bar chart: one row per (label, value, note); values are amounts when
/// `amounts`, else counts.
fn hbars(id: &str, rows: &[(String, f64, String)], color: &str, amounts: bool) -> String {
    let longest = rows
        .iter()
        .map(|r| r.0.chars().count().min(LABEL_CHARS))
        .max()
        .unwrap_or(0);
    let (w, row_h, note_w) = (600.0, 30.0, 230.0);
    let label_w = (longest as f64 * 7.0 + 14.0).clamp(80.0, 230.0);
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
            label = esc(&clip(label)),
            title = esc(&if amounts {
                eur(*value)
            } else {
                group(value.max(0.0) as u128)
            }),
            value_s = esc(&if amounts {
                format!("{CURRENCY}{}", short(*value))
            } else {
                group(value.max(0.0) as u128)
            }),
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
            m = eur(row.revenue),
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
            v = esc(&format!("{CURRENCY}{}", short(row.revenue))),
        );
    }
    let _ = write!(
        s,
        r#"<text x="{cx}" y="{y1}" text-anchor="middle" class="big">{t}</text><text x="{cx}" y="{y2}" text-anchor="middle" class="muted">revenue</text></svg>"#,
        y1 = cy + 2.0,
        y2 = cy + 20.0,
        t = esc(&format!("{CURRENCY}{}", short(total))),
    );
    s
}

/// `2026-11-05` → `5 Nov`.
fn short_day(label: &str) -> String {
    chrono::NaiveDate::parse_from_str(label, "%Y-%m-%d")
        .map(|d| d.format("%-d %b").to_string())
        .unwrap_or_else(|_| label.to_string())
}

/// The indices of at most `max` axis labels of `n` days, evenly spaced, always the first
/// and the last, none closer to the last than 60 % of the spacing (so no two overlap).
fn label_indices(n: usize, max: usize) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    let every = n.div_ceil(max.max(1)).max(1);
    let mut out: Vec<usize> = (0..n).step_by(every).collect();
    let last = n - 1;
    if let Some(&prev) = out.last() {
        if prev != last {
            if out.len() > 1 && ((last - prev) * 10 < every * 6 || out.len() >= max) {
                out.pop();
            }
            out.push(last);
        }
    }
    out
}

/// Revenue per calendar day as an area chart with a value axis; a day without sales is a
/// gap in the line. `w` wide (in the same units as the text), with at most `labels` dates on
/// the axis; the points of the chart whose `class` is `alt` are marked `point alt`.
fn timeline(
    id: &str,
    class: &str,
    days: &[(String, Option<&Slice>)],
    w: f64,
    labels: usize,
) -> String {
    let h = if w < 600.0 { 240.0 } else { 300.0 };
    let (left, right, top, bottom) = (58.0, 16.0, 14.0, 40.0);
    let point = if class.contains("alt") {
        "point alt"
    } else {
        "point"
    };
    let mut s = format!(
        r##"<svg id="{id}" class="chart {class}" role="img" viewBox="0 0 {w} {h}" width="100%" preserveAspectRatio="xMinYMin meet"><defs><linearGradient id="{id}-fill" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#4f46e5" stop-opacity="0.35"/><stop offset="1" stop-color="#4f46e5" stop-opacity="0.02"/></linearGradient></defs>"##
    );
    if days.is_empty() {
        s.push_str(r#"<text x="10" y="24" class="muted">no sales yet</text></svg>"#);
        return s;
    }
    let max = nice_max(
        days.iter()
            .filter_map(|d| d.1.map(|s| s.revenue))
            .fold(0.0, f64::max),
    );
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
    let base = top + ph;
    // One line (and its area) per run of consecutive days with sales.
    let mut run: Vec<(usize, f64)> = Vec::new();
    let flush = |s: &mut String, run: &mut Vec<(usize, f64)>| {
        if run.len() > 1 {
            let pts: Vec<String> = run
                .iter()
                .map(|&(i, v)| format!("{:.1},{:.1}", x(i), y(v)))
                .collect();
            let _ = write!(
                s,
                r##"<polygon points="{x0:.1},{base:.1} {pts} {xn:.1},{base:.1}" fill="url(#{id}-fill)"/><polyline class="line" points="{pts}" fill="none" stroke="#4f46e5" stroke-width="2.5" stroke-linejoin="round"/>"##,
                x0 = x(run[0].0),
                xn = x(run[run.len() - 1].0),
                pts = pts.join(" "),
            );
        }
        run.clear();
    };
    for (i, (_, d)) in days.iter().enumerate() {
        match d {
            Some(d) => run.push((i, d.revenue)),
            None => flush(&mut s, &mut run),
        }
    }
    flush(&mut s, &mut run);
    for (i, (label, d)) in days.iter().enumerate() {
        if let Some(d) = d {
            let _ = write!(
                s,
                r##"<circle class="{point}" cx="{cx:.1}" cy="{cy:.1}" r="3.5" fill="#fff" stroke="#4f46e5" stroke-width="2"><title>{label}: {m} ({n} sales)</title></circle>"##,
                cx = x(i),
                cy = y(d.revenue),
                label = esc(label),
                m = esc(&eur(d.revenue)),
                n = group(d.count as u128),
            );
        } else {
            let _ = write!(
                s,
                r#"<line class="gap" x1="{gx:.1}" x2="{gx:.1}" y1="{base:.1}" y2="{gy:.1}"><title>{label}: no sales</title></line>"#,
                gx = x(i),
                gy = base - 6.0,
                label = esc(label),
            );
        }
    }
    for i in label_indices(n, labels) {
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
            ty = h - 14.0,
            label = esc(&short_day(&days[i].0)),
        );
    }
    s.push_str("</svg>");
    s
}

/// The page's style sheet (inline in [`render`], served as `/app.css` by `lakectl serve`).
pub const CSS: &str = r#"
*{box-sizing:border-box}body{margin:0;font-family:-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Helvetica,Arial,sans-serif;background:#f4f6fb;color:#1e293b}
header{background:linear-gradient(120deg,#312e81,#4f46e5 60%,#0ea5e9);color:#fff;padding:24px 40px}
header h1{margin:0;font-size:24px;letter-spacing:.06em}header p{margin:6px 0 0;opacity:.9;font-size:14px}
#live{font-weight:600}#live.stale{color:#fecaca}
main{padding:24px 40px 40px;max-width:1280px;margin:0 auto}
.kpis{display:grid;grid-template-columns:repeat(3,1fr);gap:16px;margin-bottom:20px}.narrow-only{display:none}
.card{background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(15,23,42,.08),0 4px 14px rgba(15,23,42,.04);padding:18px 20px;min-width:0}
.kpi .name{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:#64748b}
.kpi .val{font-size:23px;font-weight:700;margin-top:6px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}.kpi .sub{font-size:12px;color:#64748b;margin-top:4px}
.up{color:#059669;font-weight:600}.down{color:#dc2626;font-weight:600}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:20px;margin-bottom:20px}.wide{margin-bottom:20px}
h2{font-size:15px;margin:0 0 12px;color:#334155;letter-spacing:.02em}h2 small{font-weight:400;color:#64748b}
h3{font-size:13px;margin:18px 0 8px;color:#475569;text-transform:uppercase;letter-spacing:.08em}
svg text{font-size:13px;fill:#334155}svg .muted{fill:#94a3b8;font-size:12px}svg .value{font-weight:600}
svg .big{font-size:22px;font-weight:700;fill:#1e293b}svg .grid{stroke:#e2e8f0;stroke-width:1}svg .gap{stroke:#cbd5e1;stroke-width:2;stroke-dasharray:2 2}
.split{display:block;margin-top:8px}
table{width:100%;border-collapse:collapse;font-size:13px}th{text-align:left;color:#64748b;font-weight:600;border-bottom:1px solid #e2e8f0;padding:6px 8px}
td{padding:6px 8px;border-bottom:1px solid #f1f5f9;overflow-wrap:anywhere}td.n{text-align:right;white-space:nowrap}.ok{color:#059669;font-weight:600}.bad{color:#dc2626;font-weight:600}
.notice{background:#fff7ed;border:1px solid #fed7aa;color:#9a3412;border-radius:10px;padding:10px 16px;margin-bottom:20px;font-size:13px}.notice ul{margin:4px 0 0;padding-left:18px}
.engineer{border-top:2px dashed #cbd5e1;margin-top:28px;padding-top:8px}
footer{color:#94a3b8;font-size:12px;text-align:center;padding:0 12px 24px}
@media (max-width:700px){.wide-only{display:none}.narrow-only{display:block}header{padding:16px 16px}header h1{font-size:19px}main{padding:14px 12px 28px}
.kpis{grid-template-columns:1fr 1fr;gap:10px}.grid2{grid-template-columns:1fr;gap:14px}.card{padding:14px 14px}
.kpi .val{font-size:19px}table{font-size:12px}th,td{padding:5px 4px}}
"#;

/// A KPI card; its value's element id is `kpi-` and the name's first word (`kpi-sales`).
fn kpi(out: &mut String, name: &str, value: &str, sub: &str) {
    let id = name
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_lowercase();
    let _ = write!(
        out,
        r#"<div class="card kpi"><div class="name">{}</div><div class="val" id="kpi-{id}">{}</div><div class="sub">{}</div></div>"#,
        esc(name),
        esc(value),
        sub
    );
}

/// `+4.2 % vs the 7 days before`, coloured, or a plain note without a previous figure.
fn change(now: f64, before: f64) -> String {
    match Period::change(now, before) {
        Some(c) => format!(
            r#"<span class="{}">{}</span> vs the {PERIOD_DAYS} days before"#,
            if now >= before { "up" } else { "down" },
            esc(&c)
        ),
        None => format!("none in the {PERIOD_DAYS} before"),
    }
}

/// The Premium / Standard / Economy shares as one stacked bar.
fn split_bar(shares: &[(&str, f64)]) -> String {
    let mut s = String::from(
        r#"<svg class="split" viewBox="0 0 100 6" width="100%" height="12" preserveAspectRatio="none">"#,
    );
    let mut x = 0.0;
    for (i, (c, share)) in shares.iter().enumerate() {
        let _ = write!(
            s,
            r#"<rect x="{x:.2}" y="0" width="{w:.2}" height="6" fill="{}"><title>{c}: {p:.1} % of revenue</title></rect>"#,
            PALETTE[i],
            w = share * 100.0,
            p = share * 100.0
        );
        x += share * 100.0;
    }
    s.push_str("</svg>");
    s
}

/// What the reader must know before reading the figures: missing panels and figures that
/// lag behind the latest sales.
fn notices(d: &Dashboard) -> String {
    let mut items: Vec<String> = Vec::new();
    let behind: Vec<&super::JobHealth> = d.jobs.iter().filter(|j| j.stale == Some(true)).collect();
    if !behind.is_empty() {
        let names: Vec<String> = behind
            .iter()
            .map(|j| format!("<b>{}</b>", esc(&j.name)))
            .collect();
        let oldest = behind.iter().filter_map(|j| j.age_seconds).max();
        items.push(format!(
            "Figures from {} do not count the latest sales yet{}: they catch up at the jobs' next run. Revenue and sales at the top are live.",
            names.join(", "),
            oldest.map_or(String::new(), |a| format!(" (computed up to {} ago)", age(a)))
        ));
    }
    for p in &d.problems {
        items.push(format!(
            "Not shown: {}",
            esc(p.lines().next().unwrap_or_default())
        ));
    }
    if items.is_empty() {
        return String::new();
    }
    format!(
        r#"<section class="notice" id="notices"><b>Read with care</b><ul>{}</ul></section>"#,
        items
            .iter()
            .map(|i| format!("<li>{i}</li>"))
            .collect::<String>()
    )
}

/// The updating part of the page: notices, KPIs, charts, the engineer's panel.
pub fn panels(d: &Dashboard) -> String {
    let k = &d.kpis;
    let mut out = String::with_capacity(48 * 1024);
    out.push_str(&notices(d));
    out.push_str(r#"<section class="kpis">"#);
    let (rev_sub, tx_sub) = match &d.period {
        Some(p) => (
            format!(
                "{} in the last {PERIOD_DAYS} days; {}",
                esc(&eur(p.revenue)),
                change(p.revenue, p.previous_revenue)
            ),
            format!(
                "{} in the last {PERIOD_DAYS} days; {}",
                group(p.transactions as u128),
                change(p.transactions as f64, p.previous_transactions as f64)
            ),
        ),
        None => ("all days".into(), "all days".into()),
    };
    kpi(&mut out, "Revenue", &eur(k.revenue), &rev_sub);
    kpi(&mut out, "Sales", &group(k.transactions as u128), &tx_sub);
    kpi(
        &mut out,
        "Average basket",
        &eur(k.average_basket),
        "revenue per sale",
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
            "{} clients bought more than once in a day",
            group(k.loyal_clients as u128)
        ),
    );
    let shares = d.spend_shares();
    let others: Vec<String> = shares[1..]
        .iter()
        .map(|(c, s)| format!("{c} {:.0} %", s * 100.0))
        .collect();
    kpi(
        &mut out,
        "Premium share of revenue",
        &format!("{:.1} %", shares[0].1 * 100.0),
        &format!("{}{}", esc(&others.join(" · ")), split_bar(&shares)),
    );
    out.push_str("</section>");

    let _ = write!(
        out,
        r#"<section class="card wide"><h2>Revenue per day <small>({CURRENCY}; a gap is a day without sales)</small></h2>{}</section>"#,
        {
            let days = d.calendar();
            timeline("chart-days", "wide-only", &days, 1160.0, 10)
                + &timeline("chart-days-narrow", "narrow-only alt", &days, 420.0, 4)
        }
    );
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
    let _ = write!(
        out,
        r#"<section class="grid2"><div class="card"><h2>Revenue by country</h2>{}</div><div class="card"><h2>Revenue by customer type</h2>{}</div></section>"#,
        hbars("chart-country", &countries, PALETTE[0], true),
        donut("chart-segment", &d.by_segment),
    );
    let cat_total: f64 = d.by_category.iter().map(|s| s.revenue).sum();
    let categories: Vec<(String, f64, String)> = d
        .by_category
        .iter()
        .map(|s| {
            (
                s.label.clone(),
                s.revenue,
                format!(
                    "{} · {} sales",
                    pct(s.revenue, cat_total),
                    group(s.count as u128)
                ),
            )
        })
        .collect();
    let products: Vec<(String, f64, String)> = d
        .top_products
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.revenue,
                format!("{} · {} sold", p.category, group(p.items as u128)),
            )
        })
        .collect();
    let _ = write!(
        out,
        r#"<section class="grid2"><div class="card"><h2>Revenue by product category</h2>{}</div><div class="card"><h2>Top 10 products by revenue</h2>{}</div></section>"#,
        hbars("chart-category", &categories, PALETTE[5], true),
        hbars("chart-products", &products, PALETTE[1], true),
    );
    let clients: Vec<(String, f64, String)> = d
        .top_clients
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                c.revenue,
                format!("#{} · {} purchases", c.client_id, c.purchases),
            )
        })
        .collect();
    let _ = write!(
        out,
        r#"<section class="grid2"><div class="card"><h2>Top 10 clients by revenue</h2>{}</div><div class="card"><h2>Spend classes <small>(client-days by spend)</small></h2>{}</div></section>"#,
        hbars("chart-clients", &clients, PALETTE[2], true),
        spend_table(d),
    );
    for s in &d.segmentations {
        out.push_str(&segments(s));
    }
    let _ = write!(
        out,
        r#"<section class="engineer"><h3>For the data team</h3><div class="card"><h2>Pipeline health</h2>{}</div></section>"#,
        health(d)
    );
    out
}

/// The spend classes: revenue, share of revenue, client-days.
fn spend_table(d: &Dashboard) -> String {
    let mut t = String::from(
        r#"<table><thead><tr><th>class</th><th class="n">revenue</th><th class="n">share of revenue</th><th class="n">client-days</th></tr></thead><tbody>"#,
    );
    for (c, share) in d.spend_shares() {
        let (rev, n) = d
            .spend_classes
            .iter()
            .find(|s| s.label == c)
            .map_or((0.0, 0), |s| (s.revenue, s.count));
        let _ = write!(
            t,
            r#"<tr><td>{c}</td><td class="n">{}</td><td class="n">{:.1} %</td><td class="n">{}</td></tr>"#,
            esc(&eur(rev)),
            share * 100.0,
            group(n as u128)
        );
    }
    t.push_str("</tbody></table>");
    t
}

/// Renders the dashboard as a self-contained HTML page (`dashboard --html`).
pub fn render(d: &Dashboard) -> String {
    format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Sales dashboard</title><style>{CSS}</style></head><body><header><h1>Sales dashboard</h1><p>Computed by lakectl from the lake's silver tables · amounts in {CURRENCY} · as of {}</p></header><main>{}</main><footer>lakectl dashboard · written {} · run <code>lakectl serve</code> for a page that updates itself</footer></body></html>"#,
        esc(&d.generated_at),
        panels(d),
        esc(&d.generated_at)
    )
}

/// The page `lakectl serve` answers at `/`: the same panels, its style sheet and script from
/// the server (`/app.css`, `/app.js`), and the line that says how fresh it is.
pub fn page(d: &Dashboard) -> String {
    format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Sales dashboard</title><link rel="icon" href="/favicon.ico" type="image/svg+xml"><link rel="stylesheet" href="/app.css"><script src="/app.js" defer></script></head><body><header><h1>Sales dashboard</h1><p>Live from the lake's silver tables · amounts in {CURRENCY} · <span id="live" data-generated="{g}">updated at {g}</span></p></header><main id="panels">{}</main><footer>lakectl serve · the page updates itself when new sales are committed</footer></body></html>"#,
        panels(d),
        g = esc(&d.generated_at),
    )
}

/// A job's customer segments: a bar of each cluster's size, named by what it is, and its
/// profile (the mean of each feature, in words) in a table.
fn segments(s: &super::Segmentation) -> String {
    let total: u64 = s.clusters.iter().map(|c| c.size).sum();
    let bars: Vec<(String, f64, String)> = s
        .clusters
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                c.size as f64,
                format!("clients · {} of all", pct(c.size as f64, total as f64)),
            )
        })
        .collect();
    let mut table = String::from("<table><thead><tr><th>segment</th><th class=\"n\">clients</th>");
    for f in &s.features {
        let _ = write!(table, "<th class=\"n\">avg {}</th>", esc(&feature_label(f)));
    }
    table.push_str("</tr></thead><tbody>");
    for c in &s.clusters {
        let _ = write!(
            table,
            "<tr><td>{}</td><td class=\"n\">{}</td>",
            esc(&c.name),
            group(c.size as u128)
        );
        for (f, m) in s.features.iter().zip(&c.means) {
            let v = if is_money(f) {
                eur(*m)
            } else {
                format!("{m:.1}")
            };
            let _ = write!(table, "<td class=\"n\">{}</td>", esc(&v));
        }
        table.push_str("</tr>");
    }
    table.push_str("</tbody></table>");
    format!(
        r#"<section class="grid2"><div class="card"><h2>Customer segments <small>(clients grouped by recency, frequency and spend; job {})</small></h2>{}</div><div class="card"><h2>What each segment looks like</h2>{table}</div></section>"#,
        esc(&s.job),
        hbars(
            &format!("chart-segments-{}", esc(&s.job)),
            &bars,
            PALETTE[3 % PALETTE.len()],
            false
        ),
    )
}

fn health(d: &Dashboard) -> String {
    let mut s = String::from(
        "<table><tr><th>Pipeline / job</th><th>Last commit</th><th class=\"n\">Lag</th><th>Details</th></tr>",
    );
    for p in &d.pipelines {
        let lag_class = if p.lag == Some(0) { "ok" } else { "bad" };
        let _ = write!(
            s,
            r#"<tr><td>bronze <b>{}</b></td><td>{}</td><td class="n {lag_class}">{}</td><td>watermark {}<br>quarantine: {}{}</td></tr>"#,
            esc(&p.name),
            esc(&p.freshness_text()),
            p.lag.map_or("?".into(), |l| format!(
                "{} records",
                group(l.max(0) as u128)
            )),
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

    #[test]
    fn axis_labels_never_crowd_the_last_one() {
        assert_eq!(label_indices(4, 6), [0, 1, 2, 3]);
        assert_eq!(label_indices(29, 6), [0, 5, 10, 15, 20, 28]);
        assert_eq!(label_indices(26, 6), [0, 5, 10, 15, 20, 25]);
        assert_eq!(label_indices(1, 6), [0]);
        assert_eq!(short_day("2026-11-05"), "5 Nov");
    }
}
