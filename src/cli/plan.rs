//! `lakectl plan JOB`: the Polars plan of a job and what an incremental run would recompute.

use crate::silver::{self, run::plan_job, run::Scope, RunOptions};

/// Arguments of `plan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job.
    pub job: String,
    /// Plan a full refresh instead of an incremental run.
    #[arg(long)]
    pub full_refresh: bool,
}

/// Prints the plan; writes nothing.
pub async fn run(g: &super::Globals, args: &Args) -> anyhow::Result<()> {
    let (spec, checked) = super::load_checked(g)?;
    let job = silver::run::select(&checked, std::slice::from_ref(&args.job))
        .map_err(anyhow::Error::msg)?[0];
    let silver::run::JobPlan {
        plan,
        scope,
        execution,
        source_version: version,
    } = plan_job(
        &spec,
        &checked,
        job,
        &RunOptions {
            full_refresh: args.full_refresh,
            dry_run: true,
            ..Default::default()
        },
    )
    .await?;
    crate::outln!(
        "job {} ({} → {}), source version {version}",
        job.name,
        job.from.as_deref().unwrap_or("sql"),
        job.to
    );
    match scope {
        None => crate::outln!("incremental run: up to date, nothing to recompute"),
        Some(Scope::Full(why)) => crate::outln!("incremental run: recomputes everything ({why})"),
        Some(Scope::Partitions(p)) if p.is_empty() => {
            crate::outln!("incremental run: no partition changed")
        }
        Some(Scope::Partitions(p)) => {
            let keys: Vec<String> = p.iter().map(crate::lake::changes::key_text).collect();
            crate::outln!(
                "incremental run: recomputes {} partition(s) of {:?}: {}",
                keys.len(),
                job.partition_by,
                keys.join(", ")
            );
        }
        Some(Scope::NewFiles(files)) => {
            let n = files.len();
            crate::outln!("incremental run: appends the result over {n} new source file(s)")
        }
        Some(Scope::Keys {
            new_files,
            keys,
            rewrite,
        }) => crate::outln!(
            "incremental run: {new_files} new source file(s) hold {keys} key(s) whose versions are recomputed from the whole source; rewrites {} file(s) of the dimension that hold them",
            rewrite.len()
        ),
    }
    if let Some(e) = execution {
        crate::outln!("execution: {}", e.explain());
    }
    crate::outln!("\n{plan}");
    Ok(())
}
