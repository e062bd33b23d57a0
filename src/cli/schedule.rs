//! `lakectl schedule [--http HOST:PORT]`

use std::time::Duration;

use crate::metrics::Metrics;
use crate::schedule::{self as sched, ScheduleOptions};
use crate::shutdown::StopFlag;

/// Arguments of `schedule`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Serve the dashboard, its JSON and Prometheus metrics (/metrics) on this address while
    /// the pipeline runs, as `lakectl serve` does (e.g. 127.0.0.1:8080).
    #[arg(
        long,
        visible_alias = "metrics-addr",
        env = "LAKECTL_HTTP_ADDR",
        value_name = "HOST:PORT"
    )]
    pub http: Option<String>,
    /// Token and refresh interval of the server.
    #[command(flatten)]
    pub http_opts: super::serve::HttpArgs,
    /// Run the jobs only, not the bronze pipelines.
    #[arg(long)]
    pub no_bronze: bool,
    /// How often the spec files are checked for changes.
    #[arg(long, default_value = "1s", value_parser = parse_interval, value_name = "DURATION")]
    pub reload_interval: Duration,
}

/// A duration flag: `500ms`, `2s`, `1m`; more than zero.
pub fn parse_interval(s: &str) -> Result<Duration, String> {
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
    // LAKECTL_METRICS_ADDR, the variable of `--metrics-addr`, keeps working.
    let addr = args.http.clone().or_else(|| {
        std::env::var("LAKECTL_METRICS_ADDR")
            .ok()
            .filter(|a| !a.is_empty())
    });
    let server = match &addr {
        Some(addr) => {
            super::load_checked(g)?;
            Some(super::serve::bind(g, addr, &args.http_opts).await?)
        }
        None => None,
    };
    let opts = ScheduleOptions {
        config: g.config.clone(),
        overrides: g.overrides.clone(),
        reload_interval: args.reload_interval,
        bronze: !args.no_bronze,
        metrics: metrics.clone(),
    };
    let web = server.map(|s| tokio::spawn(s.run(metrics, stop.clone())));
    let result = sched::run(opts, stop.clone()).await;
    if let Some(web) = web {
        // The server ends with the scheduler.
        stop.set();
        let _ = web.await;
    }
    match result {
        Ok(()) => Ok(()),
        // Keep the spec error itself in the chain: it sets exit code 3.
        Err(sched::ScheduleError::Spec(e)) => Err(e.into()),
    }
}
