//! `lakectl validate`

/// Arguments of `validate` (none besides the global `--config`).
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Validates pipelines.yaml and every job file; prints "ok" on success.
pub fn run(g: &super::Globals, _args: &Args) -> anyhow::Result<()> {
    let spec = super::load_spec(g)?;
    let jobs = crate::silver::load_and_check(&spec)?;
    tracing::debug!(
        pipelines = spec.bronze.len(),
        jobs = jobs.jobs.len(),
        "spec valid"
    );
    crate::outln!("ok");
    Ok(())
}
