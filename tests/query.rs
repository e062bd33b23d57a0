//! `lakectl query` against real tables: by name, by path, partition filter, time travel,
//! every output format, and clear errors.

mod common;

use common::*;

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
