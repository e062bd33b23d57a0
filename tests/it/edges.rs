//! The promises of silver jobs, the spec and the outputs at their edges: an append job across
//! compaction, full refresh and concurrent runs; an edited SQL job; job targets that try to
//! escape the lake; a secret in every output and file; text-only `${VAR}`; partition values
//! that need encoding; an abused /metrics endpoint. Against the real broker and real tables.

use std::process::Stdio;
use std::time::Duration;

use crate::common::*;

const BRONZE: &str = "bronze/ventes_stream";

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An append job: one row per sale.
const APPEND_JOB: &str = "name: ventes_log\nfrom: ventes\nwhere: montant > 0\n\
    group_by: [vente_id, client_id]\naggregate: {montant: sum(montant)}\n\
    to: silver/ventes_log\nmode: append\n";

fn assert_silver_equals_bronze(ws: &Workspace) {
    let mut bronze: Vec<String> = rows(ws.tbl(BRONZE))
        .into_iter()
        .filter(|r| r["montant"].parse::<f64>().unwrap() > 0.0)
        .map(|r| r["vente_id"].clone())
        .collect();
    let mut silver = column_strings(ws.tbl("silver/ventes_log"), "vente_id");
    bronze.sort();
    silver.sort();
    let dups = silver.windows(2).filter(|w| w[0] == w[1]).count();
    assert_eq!(dups, 0, "sales appended twice");
    assert_eq!(
        silver.len(),
        bronze.len(),
        "silver {} rows, bronze {}",
        silver.len(),
        bronze.len()
    );
    assert_eq!(silver, bronze);
}

#[test]
fn append_job_every_row_once_across_optimize_full_refresh_and_concurrent_runs() {
    let ws = Workspace::with_batch(
        "append",
        2,
        "{max_records: 200, max_bytes: 64MiB, max_wait: 200ms}",
        "",
    );
    std::fs::write(ws.dir.path().join("jobs/ventes_log.yaml"), APPEND_JOB).unwrap();
    ws.produce(1000, &["--seed", "91"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    ws.ok(&["run", "ventes_log"]);
    assert_silver_equals_bronze(&ws);

    // New data, then a compaction of bronze before the job runs: the compacted files are
    // not new data, and the new rows are read once from the files the log added.
    ws.produce(1000, &["--seed", "92", "--first-id", "500000"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    ws.ok(&["optimize", "ventes"]);
    let out = ws.ok(&["run", "ventes_log"]);
    assert!(out.contains("appended from"), "{out}");
    assert_silver_equals_bronze(&ws);

    // A full refresh replaces the table.
    ws.ok(&["run", "ventes_log", "--full-refresh"]);
    assert_silver_equals_bronze(&ws);

    // Two runs at once: one commits, the other finds it done or is refused (exit 6).
    for round in 0..3u64 {
        ws.produce(
            300,
            &[
                "--seed",
                &(93 + round).to_string(),
                "--first-id",
                &((round + 1) * 1_000_000).to_string(),
            ],
        );
        ws.ok(&["run", "bronze", "--until-caught-up"]);
        let runs: Vec<_> = (0..2)
            .map(|_| {
                ws.command(&["run", "ventes_log"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        let outs: Vec<_> = runs
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        for o in &outs {
            assert!(
                matches!(o.status.code(), Some(0) | Some(6)),
                "{:?}: {}",
                o.status,
                stderr(o)
            );
        }
        assert_silver_equals_bronze(&ws);
    }
}

#[test]
fn an_edited_sql_job_is_recomputed_not_up_to_date() {
    let ws = Workspace::new("sqledit", 1);
    ws.produce(300, &["--seed", "95"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    let job = ws.dir.path().join("jobs/par_pays.yaml");
    std::fs::write(
        &job,
        "name: par_pays\nsql: SELECT pays, count(*) AS n FROM ventes GROUP BY pays\nto: silver/par_pays\n",
    )
    .unwrap();
    ws.ok(&["run", "par_pays"]);
    let out = ws.ok(&["run", "par_pays"]);
    assert!(out.contains("up to date"), "{out}");
    std::fs::write(
        &job,
        "name: par_pays\nsql: SELECT pays, count(*) AS n FROM ventes WHERE montant > 100000 GROUP BY pays\nto: silver/par_pays\n",
    )
    .unwrap();
    let out = ws.ok(&["run", "par_pays"]);
    assert!(out.contains("definition changed"), "{out}");
    let n: usize = column_strings(ws.tbl("silver/par_pays"), "n")
        .iter()
        .map(|s| s.parse::<usize>().unwrap())
        .sum();
    let expected = rows(ws.tbl(BRONZE))
        .iter()
        .filter(|r| r["montant"].parse::<f64>().unwrap() > 100000.0)
        .count();
    assert_eq!(n, expected);
}

#[test]
fn job_targets_cannot_escape_the_lake_or_overwrite_bronze() {
    let ws = Workspace::new("targets", 1);
    for (to, expect) in [
        ("./bronze/ventes_stream", "is a bronze table"),
        ("../../outside", "leaves the lake"),
        ("/tmp/abs", "relative to the lake"),
        ("_lakectl/runs", "reserved"),
    ] {
        std::fs::write(
            ws.dir.path().join("jobs/evil.yaml"),
            format!("name: evil\nsql: SELECT * FROM ventes\nto: {to}\n"),
        )
        .unwrap();
        let out = ws.lakectl(&["validate"]);
        let msg = stdout(&out) + &stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{to}: {msg}");
        assert!(
            msg.contains("evil.yaml:") && msg.contains(expect),
            "{to}: {msg}"
        );
    }
    for (sql, expect) in [
        ("DROP TABLE ventes", "must be one query"),
        ("DELETE FROM ventes", "must be one query"),
    ] {
        std::fs::write(
            ws.dir.path().join("jobs/evil.yaml"),
            format!("name: evil\nsql: {sql}\nto: silver/evil\n"),
        )
        .unwrap();
        let out = ws.lakectl(&["validate"]);
        assert!((stdout(&out) + &stderr(&out)).contains(expect), "{sql}");
    }
    std::fs::write(
        ws.dir.path().join("jobs/evil.yaml"),
        "name: evil\nschedule: \"0 0 30 2 *\"\nsql: SELECT * FROM ventes\nto: silver/evil\n",
    )
    .unwrap();
    let out = ws.lakectl(&["validate"]);
    assert!((stdout(&out) + &stderr(&out)).contains("never fires"));
}

#[test]
fn a_secret_from_the_environment_appears_in_no_output_and_no_file() {
    const SECRET: &str = "s3cr3t-Hunter2-0x1F";
    let ws = Workspace::new("secrets", 1);
    // The secret is a Kafka option given through the environment; a second one has a
    // value librdkafka rejects, so its error text (which quotes values) is shown too.
    let spec = std::fs::read_to_string(ws.config()).unwrap();
    let with_secret = spec.replace(
        "  brokers: ${KAFKA_BROKERS:-127.0.0.1:19092}\n",
        "  brokers: ${KAFKA_BROKERS:-127.0.0.1:19092}\n  options: {sasl.password: \"${LAKECTL_TEST_SECRET}\"}\n",
    );
    std::fs::write(ws.config(), &with_secret).unwrap();
    ws.copy_jobs(&SEED_JOBS);
    let html = ws.dir.path().join("dash.html");
    let run = |args: &[&str]| {
        let out = ws
            .command(args)
            .env("LAKECTL_TEST_SECRET", SECRET)
            .env("RUST_LOG", "debug")
            .output()
            .expect("run");
        let all = stdout(&out) + &stderr(&out);
        assert!(
            !all.contains(SECRET),
            "lakectl {args:?} showed the secret:\n{all}"
        );
        all
    };
    for args in [
        vec!["validate"],
        vec!["produce", "--rate", "max", "--count", "300", "--seed", "97"],
        vec!["run", "bronze", "--until-caught-up"],
        vec!["run", "silver"],
        vec!["status"],
        vec!["status", "--json"],
        vec!["doctor"],
        vec!["doctor", "--json"],
        vec!["topic", "list"],
        vec!["jobs"],
        vec!["history", "ventes"],
        vec!["dashboard"],
        vec!["dashboard", "--html", html.to_str().unwrap()],
        vec!["query", "SELECT count(*) FROM ventes"],
    ] {
        run(&args);
    }
    // A value librdkafka rejects, whose error quotes it.
    let bad = with_secret.replace(
        "options: {sasl.password: \"${LAKECTL_TEST_SECRET}\"}",
        "options: {sasl.password: \"${LAKECTL_TEST_SECRET}\", sasl.oauthbearer.token.endpoint.url: \"${LAKECTL_TEST_SECRET}\", sasl.oauthbearer.client.secret: \"${LAKECTL_TEST_SECRET}\", enable.ssl.certificate.verification: \"${LAKECTL_TEST_SECRET}\"}",
    );
    std::fs::write(ws.config(), bad).unwrap();
    for args in [
        vec!["run", "bronze", "--until-caught-up"],
        vec!["status"],
        vec!["doctor"],
        vec!["topic", "list"],
        vec!["dashboard", "--html", html.to_str().unwrap()],
    ] {
        run(&args);
    }
    // No file of the workspace (lake, logs, the HTML page) holds it.
    let mut stack = vec![ws.dir.path().to_path_buf()];
    let mut files = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files += 1;
                let bytes = std::fs::read(&p).unwrap();
                assert!(
                    !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
                    "{} holds the secret",
                    p.display()
                );
            }
        }
    }
    assert!(files > 20, "the lake was written ({files} files)");
}

#[test]
fn env_substitution_gives_text_not_yaml() {
    let ws = Workspace::with_batch(
        "envtext",
        1,
        "{max_records: \"${LAKECTL_TEST_MAXREC:-100}\", max_bytes: 64MiB, max_wait: 200ms}",
        "",
    );
    // A number given through the environment is read as a number where one is expected…
    let out = ws
        .command(&["validate"])
        .env("LAKECTL_TEST_MAXREC", "250")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // …and text that YAML would turn into a number is refused there, not turned into 31.
    let out = ws
        .command(&["validate"])
        .env("LAKECTL_TEST_MAXREC", "0x1F")
        .output()
        .unwrap();
    let msg = stdout(&out) + &stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{msg}");
    assert!(msg.contains("`0x1F` is not a whole number"), "{msg}");
}

#[test]
fn partition_values_that_need_encoding_read_back_everywhere() {
    // A lake folder with a space, accents and a `#` (a URL's fragment mark).
    let ws = Workspace::in_folder(
        "encoding",
        1,
        "{max_records: 3, max_bytes: 64MiB, max_wait: 200ms}",
        "mon lac/été #1",
    );
    special_partition_values(&ws);
}

/// Partition values that need percent-encoding (`=`, `/`, `%`, spaces, accents, `?&#`) are
/// written, compacted, read by SQL, by a silver job and by delta-rs, and replaced one by one.
pub(crate) fn special_partition_values(ws: &Workspace) {
    let spec = std::fs::read_to_string(ws.config()).unwrap();
    std::fs::write(
        ws.config(),
        spec.replace("partition_by: [jour]", "partition_by: [pays]"),
    )
    .unwrap();
    std::fs::write(
        ws.dir.path().join("jobs/par_pays.yaml"),
        "name: par_pays\nfrom: ventes\ngroup_by: [pays]\naggregate: {n: count(*)}\n\
         to: silver/par_pays\nmode: replace_partitions\npartition_by: [pays]\n",
    )
    .unwrap();
    let values = ["x=y", "Hans Müller", "a/b", "50%", "é è", "q?&#", "France"];
    let now = now_rfc3339();
    let payloads: Vec<_> = values
        .iter()
        .enumerate()
        .map(|(i, p)| Some(sale(i as i64, &now, serde_json::json!({ "pays": p }))))
        .collect();
    send_raw(&ws.topic, 0, &payloads);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    // Compacted, then read by lakectl's SQL, by a silver job, and by delta-rs + parquet.
    ws.ok(&["optimize", "ventes", "--target-size", "1MiB"]);
    let out = ws.ok(&[
        "query",
        "SELECT pays, count(*) AS n FROM ventes GROUP BY pays ORDER BY pays",
        "--format",
        "csv",
    ]);
    for v in values {
        assert!(
            out.contains(&format!("{v},1")) || out.contains(&format!("\"{v}\",1")),
            "{v} in {out}"
        );
    }
    ws.ok(&["run", "par_pays"]);
    let mut got = column_strings(ws.tbl("silver/par_pays"), "n");
    got.sort();
    assert_eq!(got, vec!["1"; values.len()]);
    let mut pays: Vec<String> = rows(ws.tbl(BRONZE))
        .into_iter()
        .map(|r| r["pays"].clone())
        .collect();
    pays.sort();
    let mut want: Vec<String> = values.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(pays, want);
    // A second wave replaces exactly the changed partitions.
    send_raw(
        &ws.topic,
        0,
        &[Some(sale(100, &now, serde_json::json!({ "pays": "x=y" })))],
    );
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    let out = ws.ok(&["run", "par_pays"]);
    assert!(out.contains("recomputed 1 partition(s): x=y"), "{out}");
    let n: usize = column_strings(ws.tbl("silver/par_pays"), "n")
        .iter()
        .map(|s| s.parse::<usize>().unwrap())
        .sum();
    assert_eq!(n, values.len() + 1);
}

#[test]
fn metrics_survive_slow_and_huge_requests() {
    use crate::schedule::{free_port, scrape};
    use std::io::{Read, Write};
    let ws = Workspace::new("metrics_abuse", 1);
    let addr = format!("127.0.0.1:{}", free_port());
    let mut s = ws
        .command(&["schedule", "--no-bronze", "--metrics-addr", &addr])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    wait_for(30, "metrics served", || {
        std::net::TcpStream::connect(&addr).is_ok()
    });
    // A client that starts a request and never finishes it…
    let mut slow = std::net::TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /metr").unwrap();
    // …and one that sends a request line of 64 MB.
    let huge = std::thread::spawn({
        let addr = addr.clone();
        move || {
            let mut c = std::net::TcpStream::connect(&addr).unwrap();
            let chunk = vec![b'a'; 1 << 20];
            let _ = c.write_all(b"GET /");
            // The server stops reading after its limit and closes: writing then fails.
            (0..64).take_while(|_| c.write_all(&chunk).is_ok()).count()
        }
    });
    // Scrapes are answered meanwhile, at once.
    for _ in 0..3 {
        let t = std::time::Instant::now();
        assert!(scrape(&addr).contains("lakectl_"), "metrics body");
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "a scrape waited {:?}",
            t.elapsed()
        );
    }
    let written_mb = huge.join().unwrap();
    assert!(written_mb < 64, "the server read a 64 MB request line");
    // The slow client is cut off after the request deadline.
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = Vec::new();
    let t = std::time::Instant::now();
    let _ = slow.read_to_end(&mut buf);
    assert!(
        t.elapsed() < Duration::from_secs(9),
        "the slow request was held open"
    );
    let rss_kb: u64 = std::fs::read_to_string(format!("/proc/{}/status", s.id()))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    assert!(rss_kb < 300 * 1024, "memory grew to {rss_kb} KiB");
    assert!(sigterm(&mut s).success());
}

#[test]
fn shipped_job_tests_pass_and_a_broken_job_fails_with_a_diff() {
    let ws = Workspace::new("job_tests", 1);
    ws.copy_jobs(&SEED_JOBS);
    ws.copy_jobs(&["dim_clients.yaml", "rfm_clients.yaml"]);
    let tests = ws.dir.path().join("jobs/tests");
    std::fs::create_dir_all(&tests).unwrap();
    for f in std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs/tests"))
        .unwrap()
    {
        let f = f.unwrap().path();
        std::fs::copy(&f, tests.join(f.file_name().unwrap())).unwrap();
    }
    let out = ws.ok(&["test"]);
    assert!(
        out.contains("ventes_aggreges: spend_thresholds ... ok"),
        "{out}"
    );
    assert!(out.contains("10 test(s): 10 passed, 0 failed"), "{out}");

    // The Premium threshold broken on purpose: the boundary test fails, with the diff.
    let job = ws.dir.path().join("jobs/ventes_aggreges.yaml");
    let text = std::fs::read_to_string(&job).unwrap();
    std::fs::write(
        &job,
        text.replace("total_depense >= 1000", "total_depense > 1000"),
    )
    .unwrap();
    let out = ws.lakectl(&["test", "ventes_aggreges"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("ventes_aggreges: spend_thresholds ... FAILED"),
        "{text}"
    );
    assert!(
        text.contains("ventes_aggreges: one_purchase_is_not_loyal ... ok"),
        "{text}"
    );
    assert!(
        text.contains("- expected, not in the output: {client_id: 2, total_depense: 1000.0")
            && text.contains("segment_depense: \"Standard\""),
        "{text}"
    );
    assert!(text.contains("4 test(s): 3 passed, 1 failed"), "{text}");
    assert!(
        !text.contains("ventes_par_pays"),
        "only the named job's tests run: {text}"
    );

    // A misspelled key in a test file is reported with file:line:col, and fails the run.
    std::fs::write(
        tests.join("bad.yaml"),
        "job: ventes_par_pays\ntests:\n  t:\n    given: {ventes: []}\n    expected: []\n",
    )
    .unwrap();
    let out = ws.lakectl(&["test", "ventes_par_pays"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("bad.yaml:5:5: tests.t: unknown field `expected`, expected one of `description`, `given`, `expect`\n"),
        "{}",
        stdout(&out)
    );

    // A value its column cannot take, an unknown column, an unknown table: each at its place.
    std::fs::write(
        tests.join("bad.yaml"),
        "job: ventes_par_pays\ntests:\n  value:\n    given:\n      ventes:\n        - {pays: France, montant: 1.0}\n        - {pays: France, montant: dix}\n    expect: []\n  \
         column:\n    given:\n      ventes:\n        - {pays: France, montnt: 1.0}\n    expect: []\n  \
         table:\n    given:\n      vente: []\n    expect: []\n",
    )
    .unwrap();
    let out = ws.lakectl(&["test", "ventes_par_pays"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    for line in [
        "bad.yaml:7:26: given `ventes` row 2: `montant: \"dix\"` is not a double value",
        "bad.yaml:12:26: given `ventes` row 1: no column `montnt` in that table",
        "bad.yaml:16:7: given `vente`: no such table",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
}

#[test]
fn validate_shows_a_pending_bronze_column_and_refuses_a_breaking_change() {
    let ws = Workspace::new("validate_evolve", 1);
    ws.produce(50, &["--seed", "41"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    let spec = std::fs::read_to_string(ws.config()).unwrap();

    std::fs::write(
        ws.config(),
        spec.replace("segment: string}", "segment: string, remise: double}"),
    )
    .unwrap();
    let out = ws.ok(&["validate"]);
    assert!(
        out.contains("ok\npipeline ventes: pending schema change, applied by the next run as one metadata commit (older rows read null): ADD COLUMN remise double"),
        "{out}"
    );
    // Validating changed nothing: the next run applies it.
    assert!(column_strings(ws.tbl("bronze/ventes_stream"), "remise").is_empty());

    std::fs::write(
        ws.config(),
        spec.replace("quantite: int", "quantite: string"),
    )
    .unwrap();
    let out = ws.lakectl(&["validate"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(!stdout(&out).contains("ok"), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("column `quantite` is integer in the table but string in the spec")
            && err.contains("the next run will refuse this change before consuming anything"),
        "{err}"
    );
}

/// Table paths with spaces, `#`, `?` and accents are created where the spec says and found
/// there again by `validate`, `run`, `query` and `optimize`; a `%` (which delta-rs reads back
/// as an escape) is refused by `validate` at its line and column, before anything runs.
#[test]
fn table_paths_that_need_encoding_round_trip_and_a_percent_is_refused() {
    let ws = Workspace::new("tablepaths", 1);
    let spec = std::fs::read_to_string(ws.config()).unwrap();
    std::fs::write(
        ws.config(),
        spec.replace(
            "table: bronze/ventes_stream",
            "table: \"bronze/ventes #1?é\"",
        )
        .replace(
            "quarantine: bronze/ventes_quarantine",
            "quarantine: \"bronze/mis à part\"",
        ),
    )
    .unwrap();
    let job = ws.dir.path().join("jobs/par_pays.yaml");
    std::fs::write(
        &job,
        "name: par_pays\nfrom: ventes\ngroup_by: [pays]\naggregate: {n: count(*)}\n\
         to: \"silver/par pays ?#ü\"\nmode: overwrite\n",
    )
    .unwrap();
    ws.produce(300, &["--seed", "31", "--malformed-fraction", "0.05"]);
    ws.ok(&["validate"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    ws.ok(&["run", "par_pays"]);
    for (table, optimize) in [
        ("bronze/ventes #1?é", "ventes"),
        ("silver/par pays ?#ü", "par_pays"),
    ] {
        assert!(ws.table(table).join("_delta_log").is_dir(), "{table}");
        ws.ok(&["optimize", optimize]);
    }
    assert!(ws.table("bronze/mis à part").join("_delta_log").is_dir());
    ws.ok(&["validate"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    let q = |sql: &str| ws.ok(&["query", sql, "--format", "csv"]);
    let bronze: usize = q("SELECT count(*) AS n FROM ventes")
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let quarantined: usize = q("SELECT count(*) AS n FROM ventes_quarantine")
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(bronze + quarantined, 300);
    let per_country: usize = q("SELECT sum(n) AS n FROM par_pays")
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(per_country, bronze);
    assert_eq!(count_rows(ws.tbl("bronze/ventes #1?é")), bronze);

    // `%`: refused where it is written.
    std::fs::write(
        &job,
        "name: par_pays\nfrom: ventes\ngroup_by: [pays]\naggregate: {n: count(*)}\n\
         to: silver/par%20pays\nmode: overwrite\n",
    )
    .unwrap();
    let out = ws.lakectl(&["validate"]);
    let err = stdout(&out) + &stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("jobs/par_pays.yaml:5:5"), "{err}");
    assert!(err.contains("contains `%`"), "{err}");
    assert!(!ws.table("silver/par%20pays").exists() && !ws.table("silver/par pays").exists());
}
