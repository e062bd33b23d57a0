//! `lakectl dashboard [--watch SECONDS] [--html FILE] [--json]`

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::dashboard::{gather, html, text};
use crate::shutdown::StopFlag;

/// Arguments of `dashboard`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Redraw every SECONDS seconds, in place, until Ctrl-C (with --html: rewrite the file).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub watch: Option<u64>,
    /// Write a self-contained HTML page with charts to FILE instead of printing text.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Print the dashboard's figures as JSON.
    #[arg(long, conflicts_with = "html")]
    pub json: bool,
}

/// Shows the sales analytics dashboard.
pub async fn run(g: &super::Globals, args: &Args, stop: StopFlag) -> anyhow::Result<()> {
    let (spec, checked) = super::load_checked(g)?;
    loop {
        let d = gather(&spec, &checked, crate::kafka::admin::REPORT_TIMEOUT).await?;
        if let Some(path) = &args.html {
            let tmp = path.with_extension("html.tmp");
            std::fs::write(&tmp, crate::redact::text(&html::render(&d)).as_bytes())
                .and_then(|_| std::fs::rename(&tmp, path))
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "dashboard written to {} ({})",
                path.display(),
                d.generated_at
            );
        } else if args.json {
            crate::outln!("{}", serde_json::to_string_pretty(&d)?);
        } else {
            let mut out = std::io::stdout().lock();
            if args.watch.is_some() && crate::term::stdout_is_tty() {
                // Home the cursor and clear the screen: redraw in place.
                write!(out, "\x1b[H\x1b[2J")?;
            }
            write!(out, "{}", crate::redact::text(&text::render(&d)))?;
            if let Some(s) = args.watch {
                writeln!(out, "\n refreshing every {s}s, Ctrl-C to stop")?;
            }
            out.flush()?;
        }
        let Some(secs) = args.watch else {
            return Ok(());
        };
        if stop.sleep(Duration::from_secs(secs)).await {
            return Ok(());
        }
    }
}
