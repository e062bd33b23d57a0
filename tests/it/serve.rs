//! `lakectl serve` and `schedule --http`: the JSON of the commands at /api/*, the token rule,
//! the headers, hostile clients, one computation however many viewers, and the page in a real
//! browser updating itself while sales arrive.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::browser::{chromium, Page};
use crate::common::http::{get, get_with, send, Served};
use crate::common::*;
use crate::dashboard::lakehouse;

const TOKEN: &str = "t0ken-for-the-test-3f9a1c";
const SECRET: &str = "s3cr3t-Served-0x2E";

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// The figures of a dashboard JSON, without the fields that say when it was computed.
fn figures(mut d: Value) -> Value {
    let o = d.as_object_mut().unwrap();
    for k in ["generated_at", "pipelines", "jobs"] {
        o.remove(k);
    }
    d
}

#[test]
fn serve_answers_the_json_of_the_commands_with_safe_headers() {
    let ws = lakehouse();
    // A secret in the spec (a Kafka password): in no answer.
    let spec = std::fs::read_to_string(ws.config()).unwrap();
    std::fs::write(
        ws.config(),
        spec.replace(
            "  brokers: ${KAFKA_BROKERS:-127.0.0.1:19092}\n",
            "  brokers: ${KAFKA_BROKERS:-127.0.0.1:19092}\n  options: {sasl.password: \"s3cr3t-Served-0x2E\"}\n",
        ),
    )
    .unwrap();
    let s = Served::start(&ws, &["serve", "--addr", "127.0.0.1:0", "--interval", "1s"]);

    let d = get(&s.addr, "/api/dashboard");
    assert_eq!(d.status, 200, "{d:?}");
    assert_eq!(d.header("content-type"), Some("application/json"));
    let cli: Value = serde_json::from_str(&ws.ok(&["dashboard", "--json"])).unwrap();
    assert_eq!(
        figures(d.json()),
        figures(cli.clone()),
        "one schema, the same figures"
    );
    assert_eq!(
        d.json()["kpis"]["transactions"],
        cli["kpis"]["transactions"]
    );

    let st = get(&s.addr, "/api/status").json();
    let cli: Value = serde_json::from_str(&ws.ok(&["status", "--json"])).unwrap();
    assert_eq!(st["tables"], cli["tables"], "{st}");
    let jobs = get(&s.addr, "/api/jobs").json();
    let cli: Value = serde_json::from_str(&ws.ok(&["jobs", "--json"])).unwrap();
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|j| j["job"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&jobs), names(&cli));

    let page = get(&s.addr, "/");
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").expect("CSP");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert!(page
        .body
        .contains(r#"<script src="/app.js" defer></script>"#));
    assert!(!page.body.contains("<script>"), "no inline script");
    assert!(!page.body.contains(" style=\""), "no inline style");
    assert!(
        !page.body.contains("http://") && !page.body.contains("https://"),
        "self-contained"
    );
    assert!(page.body.contains("id=\"kpi-sales\""));
    let js = get(&s.addr, "/app.js");
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(js.body.contains("EventSource"));
    assert_eq!(get(&s.addr, "/app.css").status, 200);
    assert_eq!(get(&s.addr, "/healthz").body, "ok\n");
    assert_eq!(get(&s.addr, "/nowhere").status, 404);
    let post = send(
        &s.addr,
        b"POST /api/dashboard HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    );
    assert_eq!(post.status, 405, "read-only");

    // Server-sent events: the first one at once, with the snapshot's number.
    let mut ev = TcpStream::connect(&s.addr).unwrap();
    ev.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    ev.write_all(b"GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = vec![0; 4096];
    let n = ev.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(head.contains("text/event-stream"), "{head}");

    let m = get(&s.addr, "/metrics");
    assert_eq!(
        m.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(
        metric(&m.body, "lakectl_dashboard_computations_total").is_some(),
        "{}",
        m.body
    );

    for path in [
        "/",
        "/panels",
        "/api/dashboard",
        "/api/status",
        "/api/jobs",
        "/metrics",
    ] {
        let r = get(&s.addr, path);
        assert!(!r.body.contains(SECRET), "{path} shows the secret");
    }
    assert!(!s.log().contains(SECRET), "{}", s.log());
}

#[test]
fn off_loopback_it_needs_a_token_and_every_request_carries_it() {
    let ws = Workspace::new("serve_token", 1);
    ws.produce(20, &["--seed", "71"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    let out = ws.lakectl(&["serve", "--addr", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("refusing to serve on 0.0.0.0:0 without a token"),
        "{}",
        stderr(&out)
    );
    let out = ws.lakectl(&["serve", "--addr", "0.0.0.0:0", "--token", "short"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("at least 16 characters"),
        "{}",
        stderr(&out)
    );

    let mut c = ws.command(&["serve", "--addr", "0.0.0.0:0"]);
    c.env("LAKECTL_HTTP_TOKEN", TOKEN);
    let s = Served::spawn(c);
    let bearer = format!("Authorization: Bearer {TOKEN}");
    for path in [
        "/",
        "/api/dashboard",
        "/api/status",
        "/api/jobs",
        "/metrics",
        "/healthz",
        "/app.js",
    ] {
        let r = get(&s.addr, path);
        assert_eq!(r.status, 401, "{path} without the token: {r:?}");
        assert!(!r.body.contains(TOKEN));
        let r = get_with(
            &s.addr,
            path,
            &["Authorization: Bearer not-the-token-at-all"],
        );
        assert_eq!(r.status, 401, "{path} with a wrong token");
        let r = get_with(&s.addr, path, &[&bearer]);
        assert_eq!(r.status, 200, "{path} with the token: {r:?}");
        assert!(!r.body.contains(TOKEN), "{path} shows the token");
    }
    // A browser opens /?token=… once: a cookie keeps it, the address bar drops it.
    let r = get(&s.addr, &format!("/?token={TOKEN}"));
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(r.header("location"), Some("/"));
    let cookie = r.header("set-cookie").expect("cookie").to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap();
    assert_eq!(
        get_with(&s.addr, "/", &[&format!("Cookie: {pair}")]).status,
        200
    );
    assert_eq!(
        get(&s.addr, "/?token=wrong-token-of-enough-length").status,
        401
    );
    assert!(!s.log().contains(TOKEN), "{}", s.log());
}

#[test]
fn slow_and_huge_requests_are_cut_off_without_affecting_others() {
    let ws = Workspace::new("serve_abuse", 1);
    let s = Served::start(&ws, &["serve", "--addr", "127.0.0.1:0"]);
    // One byte a second, never finishing its head.
    let mut slow = TcpStream::connect(&s.addr).unwrap();
    let slow_started = Instant::now();
    let trickle = std::thread::spawn(move || {
        for b in b"GET /api/dashboard HTTP/1.1\r\nHost: x\r\nX-Slow: yes".iter() {
            if slow.write_all(&[*b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        let mut buf = Vec::new();
        let _ = slow.read_to_end(&mut buf);
        (
            slow_started.elapsed(),
            String::from_utf8_lossy(&buf).to_string(),
        )
    });
    // A 64 MB request: a head that never ends, and a body of 64 MB.
    let huge_head = std::thread::spawn({
        let addr = s.addr.clone();
        move || {
            let mut c = TcpStream::connect(&addr).unwrap();
            let chunk = vec![b'a'; 1 << 20];
            let _ = c.write_all(b"GET / HTTP/1.1\r\nX-Big: ");
            (0..64).take_while(|_| c.write_all(&chunk).is_ok()).count()
        }
    });
    let huge_body = std::thread::spawn({
        let addr = s.addr.clone();
        move || {
            let mut c = TcpStream::connect(&addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let _ = c.write_all(
                b"GET /api/status HTTP/1.1\r\nHost: x\r\nContent-Length: 67108864\r\n\r\n",
            );
            let chunk = vec![b'a'; 1 << 20];
            let sent = (0..64).take_while(|_| c.write_all(&chunk).is_ok()).count();
            let mut buf = Vec::new();
            let _ = c.read_to_end(&mut buf);
            (
                sent,
                String::from_utf8_lossy(&buf)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            )
        }
    });
    // Meanwhile everyone else is answered at once.
    for _ in 0..10 {
        let t = Instant::now();
        assert_eq!(get(&s.addr, "/healthz").status, 200);
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "waited {:?}",
            t.elapsed()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let mb = huge_head.join().unwrap();
    assert!(mb < 64, "the server read a 64 MB request head");
    let (sent, line) = huge_body.join().unwrap();
    assert!(
        sent < 64 || line.contains("413"),
        "a 64 MB body was read whole: sent {sent} MB, answer {line:?}"
    );
    let (held, answer) = trickle.join().unwrap();
    assert!(
        held < Duration::from_secs(12),
        "the slow client was held {held:?}"
    );
    assert!(
        !answer.contains("200 OK"),
        "the slow client was served: {answer}"
    );
    assert_eq!(get(&s.addr, "/healthz").status, 200);
}

#[test]
fn a_hundred_viewers_cost_one_computation_per_table_change() {
    let ws = lakehouse();
    let s = Served::start(&ws, &["serve", "--addr", "127.0.0.1:0", "--interval", "1s"]);
    let computations = |addr: &str| {
        metric(
            &get(addr, "/metrics").body,
            "lakectl_dashboard_computations_total",
        )
        .unwrap_or(0.0)
    };
    let before = computations(&s.addr);
    assert_eq!(before, 1.0, "computed once at start");
    // 100 clients polling for 5 s: hundreds of answers, the tables unchanged.
    let answered: usize = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..100)
            .map(|_| {
                sc.spawn(|| {
                    let end = Instant::now() + Duration::from_secs(5);
                    let mut n = 0;
                    while Instant::now() < end {
                        let r = get(&s.addr, "/api/dashboard");
                        assert_eq!(r.status, 200);
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert!(answered > 500, "{answered} answers");
    assert_eq!(
        computations(&s.addr),
        1.0,
        "recomputed without a table change"
    );
    // New sales through bronze: one new computation at the next interval.
    ws.produce(30, &["--seed", "72", "--first-id", "900000"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    wait_for(10, "the commit to be noticed", || {
        computations(&s.addr) >= 2.0
    });
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(computations(&s.addr), 2.0, "one computation per change");
}

/// Four weeks of sales by 500 clients with four days without any, through bronze and every
/// shipped job: the screenshot in the README shows what a user's first hour shows.
fn month_of_sales() -> Workspace {
    let ws = Workspace::new("serve_page", 2);
    ws.copy_jobs(&SEED_JOBS);
    ws.copy_jobs(&["ventes_par_produit.yaml", "rfm_clients.yaml"]);
    let now = chrono::Utc::now();
    let day = |d: i64| {
        (now - chrono::Duration::days(d))
            .format("%Y-%m-%dT08:00:00Z")
            .to_string()
    };
    for (start, first_id, seed) in [(day(28), "1", "81"), (day(10), "100000", "82")] {
        ws.produce(
            3000,
            &[
                "--seed",
                seed,
                "--clients",
                "500",
                "--start-time",
                &start,
                "--time-step",
                "200s",
                "--first-id",
                first_id,
            ],
        );
        // Each block ingested before the next: none of the older one is late.
        ws.ok(&["run", "bronze", "--until-caught-up"]);
    }
    ws.ok(&["run", "silver"]);
    ws
}

#[test]
fn the_page_updates_itself_in_a_browser_while_sales_arrive() {
    let Some(_) = chromium() else {
        eprintln!("skipped: /usr/bin/chromium is not installed (scripts/test.sh installs it)");
        return;
    };
    let ws = month_of_sales();
    let s = Served::start(
        &ws,
        &["schedule", "--http", "127.0.0.1:0", "--interval", "1s"],
    );
    let url = format!("http://{}/", s.addr);
    let mut page = Page::open(1280, 900);
    page.navigate(&url);
    // Days without sales are gaps, segments have names in words.
    let gaps = page.eval("document.querySelectorAll('#chart-days .gap').length");
    assert!(gaps.as_u64().is_some_and(|g| g >= 3), "gap days: {gaps}");
    let panels = page.eval("document.getElementById('panels').textContent");
    let panels = panels.as_str().unwrap_or_default();
    assert!(
        !panels.contains("segment 0") && panels.contains("Customer segments"),
        "{panels}"
    );
    assert!(
        panels.contains("vs the 7 days before") || panels.contains("none in the 7 before"),
        "{panels}"
    );
    let sales = |page: &mut Page| -> u64 {
        page.eval("document.getElementById('kpi-sales').textContent")
            .as_str()
            .unwrap_or_default()
            .replace(',', "")
            .parse()
            .unwrap_or(0)
    };
    let first = sales(&mut page);
    assert!(first > 0, "sales shown");
    wait_for(10, "the page to say how fresh it is", || {
        page.eval("document.getElementById('live').textContent")
            .as_str()
            .is_some_and(|t| t.starts_with("updated ") && t.ends_with(" ago"))
    });
    let version = table_version(ws.tbl("bronze/ventes_stream"));
    ws.produce(40, &["--seed", "73", "--first-id", "800000"]);
    wait_for(60, "bronze to commit the new sales", || {
        table_version(ws.tbl("bronze/ventes_stream")) > version
    });
    let committed = Instant::now();
    wait_for(10, "the sales KPI to rise without a reload", || {
        sales(&mut page) > first
    });
    let took = committed.elapsed();
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(
        page.eval("performance.getEntriesByType('navigation').length"),
        Value::from(1),
        "no reload"
    );
    page.drain();
    assert!(page.errors.is_empty(), "console errors: {:?}", page.errors);
    eprintln!("the page showed the commit {took:?} after it");

    // Screenshots at laptop and phone width, for the README.
    let dir = std::env::var_os("LAKECTL_SCREENSHOT_DIR").map(std::path::PathBuf::from);
    let shot = ws.dir.path().join("serve.png");
    page.screenshot(&shot);
    let (w, _, indigo) = crate::dashboard::count_colour(&shot, [0x4f, 0x46, 0xe5]);
    assert_eq!(w, 1280);
    assert!(indigo > 5_000, "country bars painted: {indigo} px");
    let mut phone = Page::open(420, 900);
    phone.navigate(&url);
    let phone_shot = ws.dir.path().join("serve-phone.png");
    phone.screenshot(&phone_shot);
    if let Some(dir) = &dir {
        std::fs::copy(&phone_shot, dir.join("serve-phone.png")).unwrap();
    }
    let wide = phone.eval(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 421).map(e => e.tagName + '.' + e.className + '#' + e.id).slice(0, 5).join(' ')",
    );
    let width = phone.eval("document.documentElement.scrollWidth");
    assert!(
        width.as_u64().is_some_and(|w| w <= 420),
        "no sideways scrolling at 420 px: {width}: {wide}"
    );
    phone.drain();
    assert!(
        phone.errors.is_empty(),
        "console errors: {:?}",
        phone.errors
    );
    if let Some(dir) = dir {
        std::fs::copy(&shot, dir.join("serve.png")).unwrap();
    }
}

/// The metric names the README lists.
const LISTED: [&str; 17] = [
    "lakectl_bronze_rows_per_second",
    "lakectl_bronze_lag_records",
    "lakectl_bronze_watermark_timestamp_seconds",
    "lakectl_bronze_batch_duration_seconds",
    "lakectl_bronze_rows_in_total",
    "lakectl_bronze_rows_written_total",
    "lakectl_bronze_rows_quarantined_total",
    "lakectl_bronze_batches_total",
    "lakectl_bronze_up",
    "lakectl_job_runs_total",
    "lakectl_job_failures_total",
    "lakectl_job_last_success_timestamp_seconds",
    "lakectl_job_last_duration_seconds",
    "lakectl_job_running",
    "lakectl_scheduler_jobs",
    "lakectl_http_requests_total",
    "lakectl_dashboard_computations_total",
];

#[test]
fn metrics_pass_the_prometheus_parser_and_carry_the_listed_names() {
    let ws = Workspace::new("serve_metrics", 1);
    ws.copy_jobs(&["ventes_par_pays.yaml"]);
    let job = ws.dir.path().join("jobs/ventes_par_pays.yaml");
    let yaml = std::fs::read_to_string(&job).unwrap();
    std::fs::write(
        &job,
        yaml.replace("schedule: \"*/5 * * * *\"", "schedule: \"* * * * * *\""),
    )
    .unwrap();
    ws.produce(100, &["--seed", "74"]);
    // --metrics-addr, the old name, still works.
    let s = Served::start(&ws, &["schedule", "--metrics-addr", "127.0.0.1:0"]);
    wait_for(60, "a bronze batch and a job run", || {
        let m = get(&s.addr, "/metrics").body;
        metric(&m, "lakectl_bronze_rows_in_total{pipeline=\"ventes\"}") == Some(100.0)
            && metric(
                &m,
                "lakectl_job_last_success_timestamp_seconds{job=\"ventes_par_pays\"}",
            )
            .is_some()
            && metric(&m, "lakectl_dashboard_computations_total").is_some()
    });
    let text = get(&s.addr, "/metrics").body;
    for name in LISTED {
        assert!(
            text.contains(&format!("# TYPE {name} "))
                || text.contains(&format!("# TYPE {} ", name.trim_end_matches("_total"))),
            "{name} missing:\n{text}"
        );
    }
    let file = ws.dir.path().join("metrics.txt");
    std::fs::write(&file, &text).unwrap();
    // The Prometheus project's Python client parses it (it raises on a malformed line).
    let check = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = list(text_string_to_metric_families(open(sys.argv[1]).read()))
samples = sum(len(f.samples) for f in fams)
print(len(fams), samples)
"#;
    if let Some((out, err)) = python_check(check, &[&file]) {
        let n: Vec<usize> = out
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        assert!(
            n.len() == 2 && n[0] >= LISTED.len() && n[1] > 10,
            "{out}\n{err}"
        );
    }
    // promtool, where it is installed, lints it too.
    if let Ok(out) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
    {
        assert!(
            out.status.success(),
            "promtool: {}{}",
            stdout(&out),
            stderr(&out)
        );
    }
}
