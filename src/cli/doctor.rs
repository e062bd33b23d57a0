//! `lakectl doctor [--json]`: setup validation; exit 1 when a check fails.

use crate::doctor::{run_checks, Check, Outcome};

/// Arguments of `doctor`.
pub type Args = super::JsonOnly;

/// Some doctor checks failed (exit code 1).
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} checks failed")]
pub struct ChecksFailed {
    /// Failed checks.
    pub failed: usize,
    /// All checks.
    pub total: usize,
}

/// Runs every check and prints ✓/✗ with the fix.
pub async fn run(g: &super::Globals, args: &Args) -> anyhow::Result<()> {
    let spec_check = "spec valid";
    let loaded = super::load_spec(g).and_then(|spec| {
        let checked = crate::silver::load_and_check(&spec)?;
        Ok((spec, checked))
    });
    let checks = match loaded {
        Ok((spec, checked)) => {
            let mut checks = vec![Check {
                name: spec_check.into(),
                outcome: Outcome::Pass,
                detail: format!(
                    "{}: {} bronze pipeline(s), {} job(s)",
                    g.config.display(),
                    spec.bronze.len(),
                    checked.jobs.len()
                ),
                fix: None,
            }];
            checks.extend(run_checks(&spec, &checked).await);
            checks
        }
        Err(e) => vec![Check {
            name: spec_check.into(),
            outcome: Outcome::Fail,
            detail: e.to_string(),
            fix: Some(format!(
                "fix the problems at the positions shown (`lakectl validate --config {}` repeats them); \
                 the other checks need a valid spec",
                g.config.display()
            )),
        }],
    };
    if args.json {
        crate::outln!("{}", serde_json::to_string_pretty(&checks)?);
    } else {
        for c in &checks {
            let mark = match c.outcome {
                Outcome::Pass => "✓",
                Outcome::Fail => "✗",
                Outcome::Skip => "–",
            };
            let mut lines = c.detail.lines();
            crate::outln!("{mark} {}: {}", c.name, lines.next().unwrap_or_default());
            for l in lines {
                crate::outln!("    {l}");
            }
            if c.outcome == Outcome::Skip {
                continue;
            }
            if let Some(f) = &c.fix {
                crate::outln!("    fix: {f}");
            }
        }
    }
    let failed = checks.iter().filter(|c| c.outcome == Outcome::Fail).count();
    if failed > 0 {
        return Err(ChecksFailed {
            failed,
            total: checks.len(),
        }
        .into());
    }
    if !args.json {
        crate::outln!("all {} checks passed", checks.len());
    }
    Ok(())
}
