//! `lakectl test [JOB…]`: the job tests of `jobs/tests/*.yaml`, in memory.

use crate::silver::{self, test::run_tests, test::test_files};

/// Arguments of `test`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only these jobs' tests (default: every test file).
    pub jobs: Vec<String>,
}

/// Runs the tests; prints one line per test and a diff per failure. Exit 1 if any fails.
pub fn run(g: &super::Globals, args: &Args) -> anyhow::Result<()> {
    let (spec, checked) = super::load_checked(g)?;
    silver::run::select(&checked, &args.jobs).map_err(anyhow::Error::msg)?;
    let files = test_files(&spec.jobs_dir);
    let outcomes = run_tests(&checked, &files, &args.jobs);
    if outcomes.is_empty() {
        anyhow::bail!(
            "no job tests found in {} (see README, \"Job tests\")",
            spec.jobs_dir.join("tests").display()
        );
    }
    let mut failed = 0;
    for o in &outcomes {
        let name = if o.name.is_empty() {
            o.file.display().to_string()
        } else {
            format!("{}: {}", o.job, o.name)
        };
        match &o.failure {
            None => crate::outln!("{name} ... ok"),
            Some(why) => {
                failed += 1;
                crate::outln!("{name} ... FAILED\n  {}", why.replace('\n', "\n  "));
            }
        }
    }
    crate::outln!(
        "\n{} test(s): {} passed, {failed} failed",
        outcomes.len(),
        outcomes.len() - failed
    );
    if failed > 0 {
        anyhow::bail!("{failed} job test(s) failed");
    }
    Ok(())
}
