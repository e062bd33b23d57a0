//! `lakectl serve [--addr HOST:PORT] [--token TOKEN] [--interval DURATION]`

use std::time::Duration;

use crate::metrics::Metrics;
use crate::serve::{ServeOptions, Server};
use crate::shutdown::StopFlag;

/// The HTTP flags `serve` and `schedule --http` share.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// The token every request must carry (`Authorization: Bearer TOKEN`, or open
    /// `/?token=TOKEN` once in a browser). Required to bind an address other than loopback.
    #[arg(
        long,
        env = "LAKECTL_HTTP_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// How often the served figures are checked against the tables (recomputed only when a
    /// table changed).
    #[arg(long, default_value = "2s", value_parser = super::schedule::parse_interval, value_name = "DURATION")]
    pub interval: Duration,
}

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The address to listen on.
    #[arg(
        long,
        env = "LAKECTL_HTTP_ADDR",
        default_value = "127.0.0.1:8080",
        value_name = "HOST:PORT"
    )]
    pub addr: String,
    /// Token and refresh interval.
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Binds `addr` (checking the token rule) for `serve` and `schedule --http`.
pub async fn bind(g: &super::Globals, addr: &str, http: &HttpArgs) -> anyhow::Result<Server> {
    let server = Server::bind(ServeOptions {
        addr: addr.to_string(),
        token: http.token.clone(),
        interval: http.interval,
        globals: g.clone(),
    })
    .await?;
    if let Some(a) = server.local_addr() {
        // The bound address on stderr, for whoever started it (port 0 picks one).
        eprintln!("serving the dashboard on http://{a}/ (Ctrl-C to stop)");
        tracing::info!(addr = %a, "http server listening");
    }
    Ok(server)
}

/// Serves the lake read-only until stopped.
pub async fn run(g: &super::Globals, args: &Args, stop: StopFlag) -> anyhow::Result<()> {
    // The spec is checked before anything listens: a bad spec exits 3 as everywhere.
    super::load_checked(g)?;
    let server = bind(g, &args.addr, &args.http).await?;
    server.run(Metrics::default(), stop).await;
    Ok(())
}
