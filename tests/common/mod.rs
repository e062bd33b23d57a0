//! Shared helpers of the integration tests: a private spec + lake per test, the lakectl
//! binary, the real broker started by scripts/test.sh, and an independent Delta reader.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use deltalake::arrow::array::Array;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// Bootstrap servers of the test broker.
pub fn brokers() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:19092".into())
}

/// A topic name unique to this test run.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        chrono::Utc::now().timestamp_micros() % 1_000_000
    )
}

/// A private workspace: a spec for one topic, and a lake, in a temp folder.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub topic: String,
    /// The lake on the test S3 server (`s3://bucket/prefix/lake/`), or None for a local one.
    pub s3_lake: Option<url::Url>,
    /// The local lake's folder, relative to `dir` (`lake`).
    pub lake_dir: String,
}

/// The shipped pipeline, pointed at `topic`, with extra YAML for the bronze item.
pub fn spec_yaml(topic: &str, batch: &str, extra: &str) -> String {
    format!(
        r#"kafka:
  brokers: ${{KAFKA_BROKERS:-127.0.0.1:19092}}
lake: ./lake
bronze:
  - name: ventes
    topic: {topic}
    table: bronze/ventes_stream
    quarantine: bronze/ventes_quarantine
    schema: {{vente_id: long, client_id: long, produit_id: long, timestamp: timestamp,
             quantite: int, montant: double, client_nom: string, produit_nom: string,
             categorie: string, pays: string, segment: string}}
    event_time: timestamp
    watermark: 10m
    derive: {{date_ingestion: "now()", jour: "strftime(timestamp, '%Y-%m-%d')"}}
    partition_by: [jour]
    kafka_metadata: true
    batch: {batch}
{extra}silver:
  jobs: jobs/
"#
    )
}

impl Workspace {
    /// A workspace for a new topic with `partitions` partitions (created on the broker).
    pub fn new(prefix: &str, partitions: i32) -> Self {
        Self::with_batch(
            prefix,
            partitions,
            "{max_records: 50000, max_bytes: 64MiB, max_wait: 1s}",
            "",
        )
    }

    /// Same, with a custom `batch:` value and extra bronze keys.
    pub fn with_batch(prefix: &str, partitions: i32, batch: &str, extra: &str) -> Self {
        Self::create(prefix, partitions, batch, extra, None)
    }

    /// A workspace whose lake is on the test S3 server (a prefix of its own), or None when
    /// there is no test S3 server (see [`s3::endpoint`]).
    pub fn on_s3(prefix: &str, partitions: i32, batch: &str, extra: &str) -> Option<Self> {
        s3::endpoint()?;
        let lake =
            url::Url::parse(&format!("s3://{}/{}/lake/", s3::BUCKET, unique(prefix))).expect("url");
        Some(Self::create(prefix, partitions, batch, extra, Some(lake)))
    }

    /// A workspace whose local lake is the folder `lake_dir` (e.g. with spaces or accents).
    pub fn in_folder(prefix: &str, partitions: i32, batch: &str, lake_dir: &str) -> Self {
        let mut ws = Self::create(prefix, partitions, batch, "", None);
        let spec = std::fs::read_to_string(ws.config()).expect("spec");
        std::fs::write(
            ws.config(),
            spec.replace("lake: ./lake\n", &format!("lake: \"./{lake_dir}\"\n")),
        )
        .expect("write spec");
        ws.lake_dir = lake_dir.to_string();
        ws
    }

    fn create(
        prefix: &str,
        partitions: i32,
        batch: &str,
        extra: &str,
        s3_lake: Option<url::Url>,
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let topic = unique(prefix);
        let mut yaml = spec_yaml(&topic, batch, extra);
        if let Some(l) = &s3_lake {
            yaml = yaml.replace("lake: ./lake\n", &format!("lake: {l}\n"));
        }
        std::fs::write(dir.path().join("pipelines.yaml"), yaml).expect("write spec");
        std::fs::create_dir_all(dir.path().join("jobs")).expect("jobs dir");
        let ws = Self {
            dir,
            topic,
            s3_lake,
            lake_dir: "lake".into(),
        };
        let out = ws.lakectl(&[
            "topic",
            "create",
            &ws.topic.clone(),
            "--partitions",
            &partitions.to_string(),
        ]);
        assert!(
            out.status.success(),
            "topic create failed: {}",
            stderr(&out)
        );
        ws
    }

    /// The spec file.
    pub fn config(&self) -> PathBuf {
        self.dir.path().join("pipelines.yaml")
    }

    /// A table of the (local) lake.
    pub fn table(&self, rel: &str) -> PathBuf {
        assert!(
            self.s3_lake.is_none(),
            "table() is for local lakes: use tbl()"
        );
        self.dir.path().join(&self.lake_dir).join(rel)
    }

    /// A table of the lake, local or on S3.
    pub fn tbl(&self, rel: &str) -> Tbl {
        match &self.s3_lake {
            Some(l) => Tbl::S3(
                l.join(&format!("{}/", rel.trim_end_matches('/')))
                    .expect("url"),
            ),
            None => Tbl::Local(self.dir.path().join(&self.lake_dir).join(rel)),
        }
    }

    /// A `lakectl` command for this workspace (not started).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_lakectl"));
        c.current_dir(self.dir.path())
            .arg("--config")
            .arg(self.config())
            .args(args)
            .env("KAFKA_BROKERS", brokers())
            .env("RUST_LOG", "lakectl=info,warn");
        if self.s3_lake.is_some() {
            c.envs(s3::env());
        }
        c
    }

    /// Runs lakectl to completion.
    pub fn lakectl(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run lakectl")
    }

    /// Runs lakectl and asserts success.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.lakectl(args);
        assert!(
            out.status.success(),
            "lakectl {args:?} failed:\n{}\n{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    /// Copies shipped job files (names from `jobs/`) into this workspace's `jobs/`.
    pub fn copy_jobs(&self, names: &[&str]) {
        for f in names {
            std::fs::copy(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs").join(f),
                self.dir.path().join("jobs").join(f),
            )
            .unwrap_or_else(|e| panic!("copy job {f}: {e}"));
        }
    }

    /// Produces `n` sales with extra produce flags.
    pub fn produce(&self, n: u64, extra: &[&str]) -> String {
        let n = n.to_string();
        let mut args = vec!["produce", "--rate", "max", "--count", n.as_str()];
        args.extend_from_slice(extra);
        self.ok(&args)
    }
}

pub mod browser;
pub mod delta;
pub mod http;
pub mod proxy;
pub mod s3;

use delta::{parquet_batches, snapshot_files};
pub use delta::{read_delta, with_table, Tbl};

/// The three job files shipped in `jobs/`.
pub const SEED_JOBS: [&str; 3] = [
    "ventes_aggreges.yaml",
    "ventes_par_pays.yaml",
    "ventes_par_segment.yaml",
];

/// Equal up to float rounding.
pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

/// A numeric column of a row read by [`rows`].
pub fn num(row: &BTreeMap<String, String>, k: &str) -> f64 {
    row.get(k)
        .unwrap_or_else(|| panic!("no column {k} in {row:?}"))
        .parse()
        .unwrap_or_else(|e| panic!("column {k} of {row:?}: {e}"))
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every record of `topic` read with a plain rdkafka consumer: (partition, offset, payload).
pub fn consume_all(topic: &str, partitions: i32, expect: usize) -> Vec<(i32, i64, Vec<u8>)> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("enable.partition.eof", "true")
        .set("group.id", "lakectl-tests")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("tpl");
    }
    c.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let mut eof = std::collections::HashSet::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while (eof.len() < partitions as usize || out.len() < expect)
        && std::time::Instant::now() < deadline
    {
        match c.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => out.push((
                m.partition(),
                m.offset(),
                m.payload().unwrap_or_default().to_vec(),
            )),
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                eof.insert(p);
            }
            Some(Err(e)) => panic!("consume error: {e}"),
            None => {}
        }
    }
    out
}

/// One column of a Delta table, as strings (nulls as "null"), via [`read_delta`].
pub fn column_strings(t: impl Into<Tbl>, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for b in read_delta(t) {
        let Some(c) = b.column_by_name(name) else {
            continue;
        };
        let c = deltalake::arrow::compute::cast(c, &deltalake::arrow::datatypes::DataType::Utf8)
            .expect("cast");
        let s = c
            .as_any()
            .downcast_ref::<deltalake::arrow::array::StringArray>()
            .expect("strings");
        for i in 0..s.len() {
            out.push(if s.is_null(i) {
                "null".into()
            } else {
                s.value(i).to_string()
            });
        }
    }
    out
}

/// Row count of a Delta table (0 if it does not exist).
pub fn count_rows(t: impl Into<Tbl>) -> usize {
    let t = t.into();
    if !t.exists() {
        return 0;
    }
    read_delta(t).iter().map(|b| b.num_rows()).sum()
}

/// Latest version of a Delta table.
pub fn table_version(t: impl Into<Tbl>) -> u64 {
    with_table(t, |t| t.version().unwrap_or(0))
}

/// Counts of each value of a column.
pub fn value_counts(t: impl Into<Tbl>, name: &str) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for v in column_strings(t, name) {
        *m.entry(v).or_default() += 1;
    }
    m
}

/// Every row of a Delta table as column → string (partition columns included, from the log).
pub fn rows(t: impl Into<Tbl>) -> Vec<BTreeMap<String, String>> {
    use deltalake::arrow::array::StringArray;
    use deltalake::arrow::datatypes::DataType;
    let mut out = Vec::new();
    for (parts, _, bytes) in snapshot_files(t) {
        for b in parquet_batches(bytes) {
            let cols: Vec<(String, StringArray)> = b
                .schema()
                .fields()
                .iter()
                .zip(b.columns())
                .map(|(f, c)| {
                    let s = deltalake::arrow::compute::cast(c, &DataType::Utf8).expect("cast");
                    (
                        f.name().clone(),
                        s.as_any()
                            .downcast_ref::<StringArray>()
                            .expect("str")
                            .clone(),
                    )
                })
                .collect();
            for i in 0..b.num_rows() {
                let mut row: BTreeMap<String, String> = parts
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone().unwrap_or_else(|| "null".into())))
                    .collect();
                for (n, c) in &cols {
                    row.insert(
                        n.clone(),
                        if c.is_null(i) {
                            "null".into()
                        } else {
                            c.value(i).to_string()
                        },
                    );
                }
                out.push(row);
            }
        }
    }
    out
}

/// Active files of a Delta table with their partition values: (partition values, path).
pub fn files(t: impl Into<Tbl>) -> Vec<(BTreeMap<String, Option<String>>, String)> {
    let mut v: Vec<_> = snapshot_files(t)
        .into_iter()
        .map(|(p, f, _)| (p.into_iter().collect(), f))
        .collect();
    v.sort();
    v
}

/// What a produced record is, judged independently of lakectl.
pub enum Produced {
    /// A well-formed sale with a recent event time.
    Valid(serde_json::Value),
    /// A well-formed sale whose event time is more than 50 minutes before `now`.
    Late,
    /// Not JSON, a wrong type, or no event time.
    Bad,
}

/// Classifies one payload.
pub fn classify(payload: &[u8], now: chrono::DateTime<chrono::Utc>) -> Produced {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(payload) else {
        return Produced::Bad;
    };
    let ts = v["timestamp"]
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
    match ts {
        Some(_) if !v["quantite"].is_i64() => Produced::Bad,
        Some(ts) if now.signed_duration_since(ts) > chrono::Duration::minutes(50) => Produced::Late,
        Some(_) => Produced::Valid(v),
        None => Produced::Bad,
    }
}

/// The well-formed sales of a topic (late or not), as JSON.
pub fn valid_sales(topic: &str, partitions: i32, expect: usize) -> Vec<serde_json::Value> {
    consume_all(topic, partitions, expect)
        .into_iter()
        .filter_map(|(_, _, p)| serde_json::from_slice::<serde_json::Value>(&p).ok())
        .filter(|v| {
            v["quantite"].is_i64()
                && v["timestamp"]
                    .as_str()
                    .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok())
        })
        .collect()
}

/// Sends SIGTERM to `child` and waits (30 s at most) for it to exit; returns its status.
pub fn sigterm(child: &mut std::process::Child) -> std::process::ExitStatus {
    signal_and_wait(child, "TERM", 1)
}

/// Sends `sig` (`TERM`, `INT`) to `child` `times` times, 300 ms apart, and waits (30 s at
/// most) for it to exit; returns its status.
pub fn signal_and_wait(
    child: &mut std::process::Child,
    sig: &str,
    times: usize,
) -> std::process::ExitStatus {
    for i in 0..times {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(300));
        }
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &child.id().to_string()])
            .status();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if let Some(s) = child.try_wait().expect("wait") {
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("lakectl did not stop within 30 s of SIG{sig} ×{times}");
}

/// How many commits of the pipeline's bronze table (`history ventes`) are `operation`.
pub fn bronze_commits(ws: &Workspace, operation: &str) -> usize {
    let h: serde_json::Value =
        serde_json::from_str(&ws.ok(&["history", "ventes", "--limit", "1000", "--json"]))
            .expect("history json");
    h.as_array()
        .expect("history rows")
        .iter()
        .filter(|c| c["operation"] == operation)
        .count()
}

/// Every (partition, offset) of the topic is in bronze or quarantine exactly once, and
/// `produced` records in all.
pub fn assert_exactly_once(ws: &Workspace, produced: usize) {
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for t in ["bronze/ventes_stream", "bronze/ventes_quarantine"] {
        let (p, o) = if t.ends_with("quarantine") {
            ("partition", "offset")
        } else {
            ("_kafka_partition", "_kafka_offset")
        };
        if !ws.tbl(t).exists() {
            continue;
        }
        for r in rows(ws.tbl(t)) {
            *seen.entry((r[p].clone(), r[o].clone())).or_default() += 1;
        }
    }
    let dups: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(dups.is_empty(), "duplicates: {dups:?}");
    assert_eq!(seen.len(), produced, "every record once");
    // And no sale twice in bronze (the simulator's vente_ids are unique).
    if ws.tbl("bronze/ventes_stream").exists() {
        let ids = column_strings(ws.tbl("bronze/ventes_stream"), "vente_id");
        let set: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(set.len(), ids.len(), "duplicate vente_id in bronze");
    }
}

/// Sends `payloads` (None = tombstone) to one partition of `topic` as they are, waiting for
/// each delivery. Large payloads are allowed (up to 200 MB).
pub fn send_raw(topic: &str, partition: i32, payloads: &[Option<Vec<u8>>]) {
    use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
    let p: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("message.max.bytes", "200000000")
        .set("linger.ms", "0")
        .create()
        .expect("producer");
    for pl in payloads {
        let mut rec: BaseRecord<'_, (), [u8]> = BaseRecord::to(topic).partition(partition);
        if let Some(pl) = pl {
            rec = rec.payload(pl.as_slice());
        }
        p.send(rec).map_err(|(e, _)| e).expect("send");
        p.flush(Duration::from_secs(60)).expect("flush");
    }
}

/// A sale as the simulator writes it, with `overrides` applied (JSON fields).
pub fn sale(id: i64, ts: &str, overrides: serde_json::Value) -> Vec<u8> {
    let mut v = serde_json::json!({
        "vente_id": id, "client_id": 1 + id % 7, "produit_id": 1 + id % 5, "timestamp": ts,
        "quantite": 1, "montant": 10.5, "client_nom": "Ana Souza", "produit_nom": "Laptop",
        "categorie": "Informatique", "pays": "France", "segment": "Particulier"
    });
    if let (Some(m), Some(o)) = (v.as_object_mut(), overrides.as_object()) {
        for (k, x) in o {
            m.insert(k.clone(), x.clone());
        }
    }
    serde_json::to_vec(&v).expect("json")
}

/// Polls `cond` every 100 ms until it holds; panics with `what` after `secs` seconds.
pub fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out after {secs} s waiting for: {what}");
}

/// Starts `c` (its output thrown away), lets it run for `delay`, then SIGKILLs and reaps it.
pub fn kill_after(mut c: Command, delay: std::time::Duration) {
    let mut child = c
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(delay);
    child.kill().expect("kill");
    child.wait().expect("wait");
}

/// Runs `script` (`python -c`) with `args` on the test Python: its stdout (trimmed) and
/// stderr, or None when there is no test Python (see [`test_python`]).
pub fn python_check(script: &str, args: &[&Path]) -> Option<(String, String)> {
    let out = Command::new(test_python()?)
        .args(["-c", script])
        .args(args)
        .output()
        .expect("run python");
    Some((
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    ))
}

/// The Python that `scripts/test.sh` prepares (LAKECTL_TEST_PYTHON: jsonschema, PyYAML,
/// deltalake, duckdb), for checks with independent readers. None when it is not set; a
/// failure when LAKECTL_REQUIRE_PYTHON says it must be.
pub fn test_python() -> Option<String> {
    match std::env::var("LAKECTL_TEST_PYTHON") {
        Ok(p) => Some(p),
        Err(_) => {
            assert!(
                std::env::var("LAKECTL_REQUIRE_PYTHON").is_err(),
                "LAKECTL_REQUIRE_PYTHON is set but LAKECTL_TEST_PYTHON is not"
            );
            eprintln!("skipped: LAKECTL_TEST_PYTHON is not set (scripts/test.sh sets it)");
            None
        }
    }
}
