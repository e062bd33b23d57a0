//! `lakectl watermark reset [PIPELINE…]`

use crate::bronze::metrics::fmt_us;
use crate::bronze::ownership::reset_watermark;

/// Watermark subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum WatermarkCommand {
    /// Forget a pipeline's persisted event-time watermark (e.g. after records dated in the
    /// future moved it): the next run starts without one and rebuilds it from what it reads.
    /// A writer still running stops at its next commit (`lakectl schedule` restarts it).
    Reset {
        /// Bronze pipelines (default: all).
        pipelines: Vec<String>,
    },
}

/// Runs a watermark subcommand.
pub async fn run(g: &super::Globals, cmd: &WatermarkCommand) -> anyhow::Result<()> {
    let spec = super::load_spec(g)?;
    let WatermarkCommand::Reset { pipelines } = cmd;
    for name in pipelines {
        if spec.bronze(name).is_none() {
            let known: Vec<&str> = spec.bronze.iter().map(|b| b.name.as_str()).collect();
            anyhow::bail!(
                "no bronze pipeline `{name}` (pipelines: {})",
                known.join(", ")
            );
        }
    }
    for b in spec
        .bronze
        .iter()
        .filter(|b| pipelines.is_empty() || pipelines.contains(&b.name))
    {
        let r = reset_watermark(&spec, b).await?;
        let before: Vec<String> = r
            .before
            .max_event_us
            .iter()
            .map(|(p, us)| format!("{p}:{}", fmt_us(*us)))
            .collect();
        crate::outln!(
            "{}: watermark reset at bronze version {} (per-partition max event times were [{}])",
            r.pipeline,
            r.version.map_or("-".into(), |v| v.to_string()),
            before.join(" ")
        );
    }
    Ok(())
}
