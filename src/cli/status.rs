//! `lakectl status [--json]`

use std::time::Duration;

use crate::status::{gather, Status};

/// Arguments of `status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the pipelines, tables and jobs as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Prints where every pipeline, table and job stands.
pub async fn run(g: &super::Globals, args: &Args) -> anyhow::Result<()> {
    let (spec, checked) = super::load_checked(g)?;
    let status = gather(&spec, &checked, Duration::from_secs(5)).await;
    if args.json {
        crate::outln!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print_text(&status);
    }
    Ok(())
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn print_text(s: &Status) {
    crate::outln!("BRONZE PIPELINES");
    for p in &s.pipelines {
        crate::outln!(
            "  {} (topic {}): lag {}, watermark {}, last batch {}",
            p.name,
            p.topic,
            opt(&p.lag),
            opt(&p.watermark),
            opt(&p.last_batch)
        );
        if let Some(e) = &p.broker_error {
            crate::outln!("    broker: {e}");
        }
        for q in &p.partitions {
            crate::outln!(
                "    partition {}: committed offset {}, high watermark {}, lag {}",
                q.partition,
                opt(&q.committed_offset),
                opt(&q.high_watermark),
                opt(&q.lag)
            );
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
        crate::outln!(
            "  {:<22} → {:<28} {state}; read source version {} (now {}), last run {} ({}s ago)",
            j.name,
            j.target,
            opt(&j.source_version_read),
            opt(&j.source_version_now),
            opt(&j.last_run),
            opt(&j.age_seconds)
        );
    }
}
