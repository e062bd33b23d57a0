//! `lakectl schedule [--metrics-addr HOST:PORT]`

use std::time::Duration;

use crate::schedule::prometheus::{self, Metrics};
use crate::schedule::{self as sched, ScheduleOptions};
use crate::shutdown::StopFlag;

/// Arguments of `schedule`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Serve Prometheus metrics on this address, at /metrics (e.g. 127.0.0.1:9464).
    #[arg(long, env = "LAKECTL_METRICS_ADDR", value_name = "HOST:PORT")]
    pub metrics_addr: Option<String>,
    /// Run the jobs only, not the bronze pipelines.
    #[arg(long)]
    pub no_bronze: bool,
    /// How often the spec files are checked for changes.
    #[arg(long, default_value = "1s", value_parser = parse_interval, value_name = "DURATION")]
    pub reload_interval: Duration,
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    crate::spec::units::parse_duration(s).and_then(|d| {
        if d.is_zero() {
            Err("must be more than zero".into())
        } else {
            Ok(d)
        }
    })
}

/// Runs the scheduler until stopped.
pub async fn run(g: &super::Globals, args: &Args, stop: StopFlag) -> anyhow::Result<()> {
    let metrics = Metrics::default();
    if let Some(addr) = &args.metrics_addr {
        let bound = prometheus::serve(addr, metrics.clone()).map_err(|source| {
            sched::ScheduleError::Metrics {
                addr: addr.clone(),
                source,
            }
        })?;
        tracing::info!("metrics on http://{bound}/metrics");
    }
    let opts = ScheduleOptions {
        config: g.config.clone(),
        overrides: g.overrides.clone(),
        reload_interval: args.reload_interval,
        bronze: !args.no_bronze,
        metrics,
    };
    match sched::run(opts, stop).await {
        Ok(()) => Ok(()),
        // Keep the spec error itself in the chain: it sets exit code 3.
        Err(sched::ScheduleError::Spec(e)) => Err(e.into()),
        Err(e) => Err(e.into()),
    }
}
