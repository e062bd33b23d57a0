//! `lakectl job-exec` (hidden): runs one job for the scheduler, reading the request (the spec
//! texts the scheduler validated) as JSON on stdin and printing the outcome as JSON on stdout.

use std::io::Read;

/// Arguments of `job-exec` (none: everything comes on stdin).
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the job the scheduler sent.
pub async fn run(_args: &Args) -> anyhow::Result<()> {
    let mut body = String::new();
    std::io::stdin().read_to_string(&mut body)?;
    let req: crate::schedule::child::ExecRequest = serde_json::from_str(&body)
        .map_err(|e| anyhow::anyhow!("job-exec is run by `lakectl schedule`; bad request: {e}"))?;
    let out = crate::schedule::child::execute(req).await?;
    crate::outln!("{}", serde_json::to_string(&out)?);
    Ok(())
}
