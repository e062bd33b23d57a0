//! `lakectl dashboard`: its figures equal the silver tables read independently; the text
//! view; the HTML page rendered by headless Chromium (screenshot checked for its charts).

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::browser::{chromium, headless};
use crate::common::*;
use lakectl::dashboard::eur;
use serde_json::Value;

/// Three days of sales (some malformed) through bronze and the seed jobs (with products).
pub(crate) fn lakehouse() -> Workspace {
    let ws = Workspace::new("dash", 2);
    ws.copy_jobs(&SEED_JOBS);
    ws.copy_jobs(&["ventes_par_produit.yaml"]);
    ws.produce(
        2000,
        &[
            "--seed",
            "61",
            "--start-time",
            "2024-12-10T00:00:00Z",
            "--time-step",
            "150s",
            "--malformed-fraction",
            "0.02",
        ],
    );
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    ws.ok(&["run", "silver"]);
    ws
}

/// Sums `value` of `table` grouped by `key` (silver rows read with the parquet crate).
fn sums(ws: &Workspace, table: &str, key: &str, value: &str) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    for r in rows(ws.tbl(table)) {
        *m.entry(r[key].clone()).or_default() += num(&r, value);
    }
    m
}

fn slices(v: &Value) -> BTreeMap<String, (f64, u64)> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| {
            (
                s["label"].as_str().unwrap().to_string(),
                (s["revenue"].as_f64().unwrap(), s["count"].as_u64().unwrap()),
            )
        })
        .collect()
}

fn assert_same(what: &str, got: &BTreeMap<String, (f64, u64)>, want: &BTreeMap<String, f64>) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{what}"
    );
    for (k, w) in want {
        assert!(close(got[k].0, *w), "{what} {k}: {} vs {w}", got[k].0);
    }
}

#[test]
fn figures_equal_the_silver_tables() {
    let ws = lakehouse();
    let d: Value = serde_json::from_str(&ws.ok(&["dashboard", "--json"])).expect("JSON");
    assert_eq!(d["problems"], serde_json::json!([]), "{d}");

    let by_country = sums(&ws, "silver/ventes_par_pays", "pays", "revenue_total");
    assert_same("by country", &slices(&d["by_country"]), &by_country);
    let by_day = sums(&ws, "silver/ventes_par_pays", "jour", "revenue_total");
    assert_same("by day", &slices(&d["by_day"]), &by_day);
    assert_eq!(by_day.len(), 4, "{by_day:?}");
    let by_segment = sums(&ws, "silver/ventes_par_segment", "segment", "revenue_total");
    assert_same("by segment", &slices(&d["by_segment"]), &by_segment);
    let classes = sums(
        &ws,
        "silver/ventes_aggreges",
        "segment_depense",
        "total_depense",
    );
    assert_same("spend classes", &slices(&d["spend_classes"]), &classes);
    let by_category = sums(
        &ws,
        "silver/ventes_par_produit",
        "categorie",
        "revenue_total",
    );
    assert_same("by category", &slices(&d["by_category"]), &by_category);
    let per_product = sums(
        &ws,
        "silver/ventes_par_produit",
        "produit_nom",
        "revenue_total",
    );
    let mut products: Vec<(&String, &f64)> = per_product.iter().collect();
    products.sort_by(|a, b| b.1.total_cmp(a.1));
    let top = d["top_products"].as_array().unwrap();
    assert_eq!(top.len(), 10, "{top:?}");
    for (got, want) in top.iter().zip(&products) {
        assert_eq!(got["name"].as_str().unwrap(), want.0.as_str());
        assert!(close(got["revenue"].as_f64().unwrap(), *want.1), "{got}");
    }
    // The period: the last 7 days with data against the 7 before, from revenue by day.
    let p = &d["period"];
    let last = by_day.keys().max().unwrap();
    assert_eq!(p["to"].as_str().unwrap(), last.as_str(), "{p}");
    let in_period: f64 = by_day
        .iter()
        .filter(|(k, _)| k.as_str() >= p["from"].as_str().unwrap())
        .map(|(_, v)| v)
        .sum();
    assert!(close(p["revenue"].as_f64().unwrap(), in_period), "{p}");

    // KPIs.
    let k = &d["kpis"];
    let revenue: f64 = by_country.values().sum();
    let tx: f64 = sums(&ws, "silver/ventes_par_pays", "pays", "total_transactions")
        .values()
        .sum();
    assert!(close(k["revenue"].as_f64().unwrap(), revenue), "{k}");
    assert_eq!(k["transactions"].as_f64().unwrap(), tx, "{k}");
    assert!(
        close(k["average_basket"].as_f64().unwrap(), revenue / tx),
        "{k}"
    );
    let clients = rows(ws.tbl("silver/ventes_aggreges"));
    let mut loyal: BTreeMap<String, bool> = BTreeMap::new();
    for r in &clients {
        *loyal.entry(r["client_id"].clone()).or_default() |= r["est_client_fidele"] == "true";
    }
    assert_eq!(k["clients"].as_u64().unwrap() as usize, loyal.len(), "{k}");
    let n_loyal = loyal.values().filter(|l| **l).count();
    assert_eq!(
        k["loyal_clients"].as_u64().unwrap() as usize,
        n_loyal,
        "{k}"
    );
    assert!(n_loyal > 0, "{k}");

    // Top 10 clients.
    let mut per_client: BTreeMap<String, f64> = BTreeMap::new();
    for r in &clients {
        *per_client.entry(r["client_id"].clone()).or_default() += num(r, "total_depense");
    }
    let mut ranked: Vec<(String, f64)> = per_client.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    let top = d["top_clients"].as_array().unwrap();
    assert_eq!(top.len(), 10);
    for (got, want) in top.iter().zip(&ranked) {
        assert_eq!(got["client_id"].as_i64().unwrap().to_string(), want.0);
        assert!(close(got["revenue"].as_f64().unwrap(), want.1), "{got}");
    }

    // Health: nothing left in Kafka, the malformed records counted.
    let p = &d["pipelines"][0];
    assert_eq!(p["lag"], 0, "{p}");
    let malformed = value_counts(ws.tbl("bronze/ventes_quarantine"), "reason");
    assert!(
        malformed.get("malformed").is_some_and(|n| *n > 0),
        "{malformed:?}"
    );
    for (reason, n) in &malformed {
        assert_eq!(
            p["quarantine"][reason].as_u64().unwrap() as usize,
            *n,
            "{p}"
        );
    }
    assert_eq!(d["jobs"].as_array().unwrap().len(), 4);
    assert!(d["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|j| j["stale"] == false));

    // The text view shows the same figures.
    let text = ws.ok(&["dashboard"]);
    assert!(text.contains("SALES DASHBOARD (amounts in €)"), "{text}");
    let first = &top[0];
    assert!(text.contains(first["name"].as_str().unwrap()), "{text}");
    assert!(
        text.contains(&eur(revenue)),
        "{text}\nrevenue {}",
        eur(revenue)
    );
    for section in [
        "TOP 10 CLIENTS BY REVENUE",
        "REVENUE BY COUNTRY",
        "REVENUE BY CUSTOMER TYPE",
        "REVENUE BY PRODUCT CATEGORY",
        "TOP 10 PRODUCTS BY REVENUE",
        "REVENUE BY DAY",
        "PIPELINE HEALTH",
    ] {
        assert!(text.contains(section), "{section} missing:\n{text}");
    }
    assert!(!text.contains("NOT SHOWN"), "{text}");
}

#[test]
fn missing_silver_tables_are_named_not_fatal() {
    let ws = Workspace::new("dash_empty", 1);
    ws.produce(50, &["--seed", "62"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    let out = ws.ok(&["dashboard"]);
    assert!(out.contains("NOT SHOWN"), "{out}");
    assert!(out.contains("unknown table `ventes_par_pays`"), "{out}");
    assert!(out.contains("bronze ventes"), "{out}");
}

/// Pixels of exactly this colour (the inside of bars and slices is never anti-aliased).
pub(crate) fn count_colour(png_path: &Path, rgb: [u8; 3]) -> (u32, u32, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).expect("screenshot"),
    ));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("png frame");
    let step = info.color_type.samples();
    let n = buf[..info.buffer_size()]
        .chunks(step)
        .filter(|p| p[..3] == rgb)
        .count();
    (info.width, info.height, n)
}

#[test]
fn html_page_renders_its_charts_in_headless_chromium() {
    let ws = lakehouse();
    let html = ws.dir.path().join("dashboard.html");
    ws.ok(&["dashboard", "--html", html.to_str().unwrap()]);
    let page = std::fs::read_to_string(&html).unwrap();
    for id in [
        "chart-country",
        "chart-segment",
        "chart-days",
        "chart-clients",
    ] {
        assert!(page.contains(&format!("<svg id=\"{id}\"")), "{id} missing");
    }
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "self-contained"
    );

    let Some(_) = chromium() else {
        eprintln!("skipped the Chromium half: /usr/bin/chromium is not installed (scripts/test.sh installs it)");
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    // The DOM Chromium built from the page: every chart with its marks.
    let dom = headless(profile.path())
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("run chromium");
    assert!(dom.status.success(), "{}", stderr(&dom));
    let dom = stdout(&dom);
    let countries = sums(&ws, "silver/ventes_par_pays", "pays", "revenue_total").len();
    let categories = sums(
        &ws,
        "silver/ventes_par_produit",
        "categorie",
        "revenue_total",
    )
    .len();
    assert_eq!(
        dom.matches("class=\"bar\"").count(),
        countries + categories + 10 + 10,
        "country, category, product and client bars"
    );
    let segments = sums(&ws, "silver/ventes_par_segment", "segment", "revenue_total").len();
    assert_eq!(
        dom.matches("class=\"slice\"").count(),
        segments,
        "one slice per segment"
    );
    assert_eq!(
        dom.matches("class=\"point\"").count(),
        4,
        "one point per day"
    );

    // The screenshot: the bars and the slices are really painted.
    let png = ws.dir.path().join("dashboard.png");
    let shot = headless(profile.path())
        .arg("--window-size=1280,2000")
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("run chromium");
    assert!(shot.status.success(), "{}", stderr(&shot));
    let (w, h, indigo) = count_colour(&png, [0x4f, 0x46, 0xe5]);
    assert_eq!((w, h), (1280, 2000));
    let (_, _, green) = count_colour(&png, [0x10, 0xb9, 0x81]);
    assert!(
        indigo > 5_000,
        "country bars and the first segment slice: {indigo} px"
    );
    assert!(green > 5_000, "client bars: {green} px");
    if let Some(dir) = std::env::var_os("LAKECTL_SCREENSHOT_DIR") {
        std::fs::copy(&png, Path::new(&dir).join("dashboard.png")).unwrap();
    }
}
