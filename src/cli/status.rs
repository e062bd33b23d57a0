//! `lakectl status [--json]`

use crate::status::{gather, Status};

/// Arguments of `status`.
pub type Args = super::JsonOnly;

/// Prints where every pipeline, table and job stands.
pub async fn run(g: &super::Globals, args: &Args) -> anyhow::Result<()> {
    let (spec, checked) = super::load_checked(g)?;
    let status = gather(&spec, &checked, crate::kafka::admin::REPORT_TIMEOUT).await?;
    super::print_report(args.json, &status, print_text)
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn print_text(s: &Status) {
    crate::outln!("BRONZE PIPELINES");
    for p in &s.pipelines {
        let (lag, watermark, last) = (opt(&p.lag), opt(&p.watermark), opt(&p.last_batch));
        crate::outln!(
            "  {} (topic {}): lag {lag}, watermark {watermark}, last batch {last}",
            p.name,
            p.topic
        );
        if let Some(e) = &p.broker_error {
            crate::outln!("    broker: {e}");
        }
        for q in &p.partitions {
            let (committed, high) = (opt(&q.committed_offset), opt(&q.high_watermark));
            crate::outln!(
                "    partition {}: committed offset {committed}, high watermark {high}, lag {}",
                q.partition,
                opt(&q.lag)
            );
            if q.offsets_past_end {
                crate::outln!("      the committed offset is past the partition's end: the topic was recreated (a restart empties the local in-memory broker), so the lake describes the old topic; start a new lake (scripts/quickstart.sh --reset, or move the lake's folder away)");
            }
        }
    }
    crate::outln!("TABLES");
    for t in &s.tables {
        match t.version {
            None => crate::outln!("  {:<22} {:<32} not created yet", t.name, t.path),
            Some(v) => {
                crate::outln!(
                    "  {:<22} {:<32} version {v}, {} rows, {} files, {:.1} MiB, last commit {}",
                    t.name,
                    t.path,
                    t.rows,
                    t.files,
                    t.bytes as f64 / (1 << 20) as f64,
                    opt(&t.last_commit)
                );
                if let Some(r) = &t.by_reason {
                    let parts: Vec<String> = r.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    crate::outln!(
                        "  {:<22} by reason: {}",
                        "",
                        if parts.is_empty() {
                            "none".into()
                        } else {
                            parts.join(", ")
                        }
                    );
                }
            }
        }
    }
    crate::outln!("SILVER JOBS");
    for j in &s.jobs {
        let state = match j.stale {
            Some(true) => "behind its source",
            Some(false) => "up to date",
            None => "-",
        };
        let (read, now) = (opt(&j.source_version_read), opt(&j.source_version_now));
        let (last, age) = (opt(&j.last_run), opt(&j.age_seconds));
        crate::outln!(
            "  {:<22} → {:<28} {state}; read source version {read} (now {now}), last run {last} ({age}s ago)",
            j.name,
            j.target
        );
    }
}
