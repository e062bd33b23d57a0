//! `lakectl query` against real tables: by name, by path, partition filter, time travel,
//! every output format, and clear errors.

use crate::common::*;

/// Two days of sales ingested in two bronze versions: day 1 (300 sales) then day 2 (200).
fn two_days() -> Workspace {
    let ws = Workspace::new("query", 2);
    ws.produce(
        300,
        &[
            "--seed",
            "31",
            "--start-time",
            "2024-12-12T08:00:00Z",
            "--time-step",
            "60s",
        ],
    );
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    ws.produce(
        200,
        &[
            "--seed",
            "32",
            "--first-id",
            "1000",
            "--start-time",
            "2024-12-13T08:00:00Z",
            "--time-step",
            "60s",
        ],
    );
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    ws
}

fn csv(ws: &Workspace, sql: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["query", sql, "--format", "csv"];
    args.extend_from_slice(extra);
    ws.ok(&args).lines().map(str::to_string).collect()
}

#[test]
fn counts_by_name_by_path_with_partition_filter_and_time_travel() {
    let ws = two_days();
    assert_eq!(
        csv(&ws, "SELECT count(*) AS n FROM ventes", &[]),
        ["n", "500"]
    );
    assert_eq!(
        csv(&ws, "SELECT count(*) AS n FROM ventes_stream", &[]),
        ["n", "500"],
        "by the path's last segment"
    );
    assert_eq!(
        csv(
            &ws,
            "SELECT count(*) AS n FROM delta.`lake/bronze/ventes_stream` WHERE jour = '2024-12-13'",
            &[]
        ),
        ["n", "200"]
    );
    assert_eq!(
        csv(
            &ws,
            "SELECT jour, count(*) AS n FROM ventes GROUP BY jour ORDER BY jour",
            &[]
        ),
        ["jour,n", "2024-12-12,300", "2024-12-13,200"]
    );
    // Version 1 is the first bronze batch: day 1 only.
    assert_eq!(
        csv(&ws, "SELECT count(*) AS n FROM ventes", &["--version", "1"]),
        ["n", "300"]
    );
}

#[test]
fn every_output_format() {
    let ws = two_days();
    let sql = "SELECT vente_id, client_nom FROM ventes WHERE vente_id <= 3 ORDER BY vente_id";
    let lines = csv(&ws, sql, &[]);
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0], "vente_id,client_nom");
    assert!(lines[1].starts_with("1,"));

    let json = ws.ok(&["query", sql, "--format", "json"]);
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2]["vente_id"], 3);
    assert!(rows[0]["client_nom"].is_string());

    let table = ws.ok(&["query", sql]);
    assert!(
        table.contains("vente_id") && table.contains("client_nom"),
        "{table}"
    );

    let out = ws.dir.path().join("out.parquet");
    let o = ws.lakectl(&[
        "query",
        sql,
        "--format",
        "parquet",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let f = std::fs::File::open(&out).unwrap();
    let n: usize =
        deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap().num_rows())
            .sum();
    assert_eq!(n, 3);
}

#[test]
fn errors_are_clear() {
    let ws = two_days();
    let o = ws.lakectl(&["query", "SELECT * FROM nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("unknown table `nope`"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("tables are ventes, ventes_quarantine"),
        "{}",
        stderr(&o)
    );

    let o = ws.lakectl(&["query", "SELEC 1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("query failed:"), "{}", stderr(&o));

    let o = ws.lakectl(&["query", "SELECT count(*) FROM ventes", "--version", "99"]);
    assert_eq!(o.status.code(), Some(5));
    assert!(
        stderr(&o).contains("has no version 99 (its versions are 0 to 2)"),
        "{}",
        stderr(&o)
    );

    let o = ws.lakectl(&["query", "SELECT 1 AS x FROM ventes", "--format", "parquet"]);
    assert!(
        stderr(&o).contains("--format parquet needs --output FILE"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("panicked"));
}

/// Runs the prompt on a pseudo-terminal (util-linux `script`) with `TERM=term` and the history
/// under `home`, typing `lines` 1.5 s apart; returns what the terminal showed.
fn in_terminal(
    ws: &Workspace,
    home: &std::path::Path,
    term: &str,
    lines: &[&str],
) -> std::process::Output {
    use std::io::Write;
    let cmd = format!(
        "{} --config {} query",
        env!("CARGO_BIN_EXE_lakectl"),
        ws.config().display()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(ws.dir.path())
        .env("KAFKA_BROKERS", brokers())
        .env("XDG_STATE_HOME", home)
        .env("TERM", term)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script (util-linux)");
    let mut stdin = child.stdin.take().unwrap();
    for line in lines {
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1500));
    }
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// Runs the prompt with `input` on stdin (a pipe); returns (success, stdout, stderr).
/// TERM=dumb, where a line editor would still print its prompts (Emacs shells, some CI).
fn prompt(ws: &Workspace, input: &str) -> (bool, String, String) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = ws
        .command(&["query"])
        .env("TERM", "dumb")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start lakectl query");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), stdout(&out), stderr(&out))
}

#[test]
fn the_prompt_runs_statements_and_dot_commands_from_stdin() {
    let ws = two_days();
    let (ok, out, err) = prompt(
        &ws,
        ".tables\n.schema ventes\nSELECT jour,\n  count(*) AS n\nFROM ventes GROUP BY jour ORDER BY jour;\n\
         .format csv\nSELECT count(*) AS n FROM delta.`lake/bronze/ventes_stream` WHERE jour = '2024-12-13';\n\
         SELECT count(*) AS total FROM ventes",
    );
    assert!(ok, "{out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ventes ") && l.contains("bronze") && l.ends_with(" 500")),
        ".tables shows the bronze table with its rows:\n{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("ventes_quarantine") && l.contains("quarantine")),
        "{out}"
    );
    assert!(
        out.contains(&format!("  {:<24} string  (partition)", "jour")),
        ".schema marks the partition column:\n{out}"
    );
    assert!(
        out.contains(&format!("  {:<24} double\n", "montant")),
        "{out}"
    );
    assert!(
        out.contains("2024-12-12") && out.contains("300") && out.contains("(2 rows)"),
        "a multi-line statement as a table:\n{out}"
    );
    let tail: Vec<&str> = lines[lines.len() - 4..].to_vec();
    assert_eq!(
        tail,
        ["n", "200", "total", "500"],
        "csv after .format; the last statement needs no `;`:\n{out}"
    );
}

#[test]
fn the_prompt_reports_errors_and_goes_on() {
    let ws = two_days();
    let (ok, out, err) = prompt(
        &ws,
        "SELECT * FROM nope;\n.schema nope\n.frobnicate\nSELEC 1;\n.format csv\nSELECT count(*) AS n FROM ventes;\n",
    );
    assert!(!ok, "piped input with failures exits 1");
    assert!(err.contains("unknown table `nope`"), "{err}");
    assert!(
        err.contains("unknown command `.frobnicate`: try .help"),
        "{err}"
    );
    assert!(err.contains("query failed:"), "{err}");
    assert!(err.contains("error: 4 statement(s) failed"), "{err}");
    assert!(
        out.ends_with("n\n500\n"),
        "the statement after the errors still ran:\n{out}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn the_prompt_in_a_terminal_keeps_a_history() {
    let ws = two_days();
    // A terminal the line editor drives, and one it cannot (TERM=dumb: no editing).
    for term in ["xterm-256color", "dumb"] {
        let home = tempfile::tempdir().unwrap();
        let out = in_terminal(
            &ws,
            home.path(),
            term,
            &["SELECT count(*) AS n FROM ventes;\r", ".quit\r"],
        );
        let text = stdout(&out);
        assert!(out.status.success(), "TERM={term}: {text}");
        assert!(
            text.contains("lakectl> "),
            "TERM={term}: the prompt is shown on a terminal:\n{text}"
        );
        assert!(text.contains("500"), "TERM={term}: {text}");
        let history = std::fs::read_to_string(home.path().join("lakectl/query_history"))
            .unwrap_or_else(|e| panic!("TERM={term}: history file written: {e}"));
        assert!(
            history.contains("SELECT count(*) AS n FROM ventes;"),
            "TERM={term}: {history}"
        );
    }
}

/// `query` only reads: a DELETE, TRUNCATE, DROP or INSERT is refused with a clear message and
/// a non-zero exit, and the table keeps every row.
#[test]
fn statements_that_would_change_a_table_are_refused() {
    let ws = Workspace::new("query_dml", 1);
    ws.produce(40, &["--seed", "5"]);
    ws.ok(&["run", "bronze", "--until-caught-up"]);
    let before = count_rows(ws.tbl("bronze/ventes_stream"));
    for sql in [
        "DELETE FROM ventes WHERE client_id = 1",
        "TRUNCATE TABLE ventes",
        "DROP TABLE ventes",
        "INSERT INTO ventes SELECT * FROM ventes",
    ] {
        let out = ws.lakectl(&["query", sql]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{sql}: {err}");
        assert!(
            err.contains("is not run: `lakectl query` only reads"),
            "{sql}: {err}"
        );
        assert!(stdout(&out).trim().is_empty(), "{sql}: {}", stdout(&out));
    }
    assert_eq!(count_rows(ws.tbl("bronze/ventes_stream")), before);
}

/// Results as a SQL user reads them: computed columns named by their text, `(1 row)`, a wide
/// table fitted to the terminal with its middle columns left out, a long one cut at the rows
/// shown with a footer saying so, and CSV with every row.
#[test]
fn results_read_like_a_sql_client() {
    let ws = two_days();
    assert_eq!(
        csv(
            &ws,
            "SELECT pays, count(*), round(sum(montant), 2) FROM ventes GROUP BY pays ORDER BY count(*) DESC LIMIT 1",
            &[]
        )[0],
        "pays,count(*),\"round(sum(montant), 2)\"",
        "aggregates named by their SQL, not `len` or `montant`"
    );

    let narrow = ws
        .command(&["query", "SELECT * FROM ventes ORDER BY vente_id LIMIT 2"])
        .env("COLUMNS", "80")
        .output()
        .unwrap();
    let text = stdout(&narrow);
    assert!(narrow.status.success(), "{}", stderr(&narrow));
    assert!(
        text.lines().all(|l| l.chars().count() <= 80),
        "every line fits 80 columns:\n{text}"
    );
    assert!(
        text.contains("vente_id") && text.contains("jour") && text.contains('…'),
        "both ends kept, the middle marked:\n{text}"
    );
    assert_eq!(
        text.lines().filter(|l| l.contains("┆")).count(),
        3,
        "a header and two rows, one line each (no wrapped cells):\n{text}"
    );
    assert!(text.contains("(2 rows, 16 columns, "), "{text}");

    let long = ws.ok(&["query", "SELECT vente_id FROM ventes"]);
    assert!(
        long.contains("(500 rows, 50 shown); all of them with --format csv --output FILE"),
        "{long}"
    );
    assert_eq!(csv(&ws, "SELECT vente_id FROM ventes", &[]).len(), 501);
}

/// With no pipelines.yaml here or above, `--lake` names the lake (its tables found by
/// listing it) and a table can be read by path; a misspelled table gets a suggestion.
#[test]
fn a_lake_is_queried_without_a_spec() {
    let ws = two_days();
    let elsewhere = tempfile::tempdir().unwrap();
    let lake = ws.dir.path().join("lake");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_lakectl"))
            .args(args)
            .current_dir(elsewhere.path())
            .env_remove("LAKECTL_CONFIG")
            .env_remove("LAKECTL_LAKE")
            .output()
            .unwrap()
    };
    let lake_arg = lake.to_str().unwrap();
    let o = run(&[
        "--lake",
        lake_arg,
        "query",
        "SELECT count(*) AS n FROM ventes_stream",
        "--format",
        "csv",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "n\n500\n");

    let by_path = format!(
        "SELECT count(*) AS n FROM delta.`{}` WHERE jour = '2024-12-13'",
        lake.join("bronze/ventes_stream").display()
    );
    let o = run(&["query", &by_path, "--format", "csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "n\n200\n");

    let o = run(&["--lake", lake_arg, "query", "SELECT * FROM ventes_strem"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("did you mean `ventes_stream`?"),
        "{}",
        stderr(&o)
    );
    let o = run(&["query", "SELECT * FROM ventes"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no pipelines.yaml here or above and no --lake"),
        "{}",
        stderr(&o)
    );
    let o = run(&["--lake", "/tmp/nope-no-lake-here", "query", "SELECT 1"]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(!std::path::Path::new("/tmp/nope-no-lake-here").exists());
}

/// On a terminal, Tab completes a table name, `.timer on` times each statement, `.mode csv`
/// switches the output.
#[test]
fn the_prompt_completes_names_and_times_statements() {
    let ws = two_days();
    let home = tempfile::tempdir().unwrap();
    let out = in_terminal(
        &ws,
        home.path(),
        "xterm-256color",
        &[
            ".timer on\r",
            ".mode csv\r",
            // `ventes_str` + Tab: the only table it can begin is ventes_stream.
            "SELECT count(*) AS completed FROM ventes_str\t;\r",
            ".quit\r",
        ],
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("unknown table"), "{text}");
    assert!(
        text.contains("completed\r\n500"),
        "csv of the completed table:\n{text}"
    );
    assert!(text.contains("Run Time: "), "{text}");
}
