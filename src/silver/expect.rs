//! A job's expectations (`expect:`), evaluated chunk by chunk with their violations summed,
//! for runs and job tests alike.

use polars::prelude::*;

use super::SilverError;
use crate::spec::job::{JobSpec, OnViolation};

/// Result of one expectation.
#[derive(Debug, Clone)]
pub struct ExpectationResult {
    /// Name.
    pub name: String,
    /// Violating rows.
    pub violations: usize,
    /// What was done about them.
    pub action: OnViolation,
}

/// The job's expectations, evaluated chunk by chunk with their violations summed (runs and
/// job tests alike).
pub(crate) struct Checks<'a> {
    job: &'a JobSpec,
    exprs: Vec<Expr>,
    violations: Vec<usize>,
    /// The first `fail` expectation violated: (name, check).
    pub(crate) failed: Option<(String, String)>,
}

impl<'a> Checks<'a> {
    /// The job's expectations, parsed.
    pub(crate) fn new(job: &'a JobSpec) -> Result<Self, SilverError> {
        let exprs = job
            .expect
            .iter()
            .map(|x| {
                crate::spec::expr::parse_expr(&x.check).map_err(|m| SilverError::Compute {
                    job: job.name.clone(),
                    message: m,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            job,
            violations: vec![0; exprs.len()],
            exprs,
            failed: None,
        })
    }

    /// Counts each expectation's violations in `df`; returns `df` without the rows that a
    /// `drop` expectation rejects.
    pub(crate) fn apply(&mut self, mut df: DataFrame) -> PolarsResult<DataFrame> {
        for (i, x) in self.job.expect.iter().enumerate() {
            let ok = df
                .clone()
                .lazy()
                .select([self.exprs[i].clone().fill_null(lit(false)).alias("__ok")])
                .collect()?;
            let ok = ok.column("__ok")?.bool()?.clone();
            let violations = ok.iter().filter(|v| *v != Some(true)).count();
            self.violations[i] += violations;
            if violations == 0 {
                continue;
            }
            match x.on_violation {
                OnViolation::Fail => {
                    if self.failed.is_none() {
                        self.failed = Some((x.name.clone(), x.check.clone()));
                    }
                }
                OnViolation::Drop => df = df.filter(&ok.fill_null_with_values(false)?)?,
                OnViolation::Warn => {}
            }
        }
        Ok(df)
    }

    /// Each expectation with its violations over every chunk so far.
    pub(crate) fn results(&self) -> Vec<ExpectationResult> {
        self.job
            .expect
            .iter()
            .zip(&self.violations)
            .map(|(x, &violations)| ExpectationResult {
                name: x.name.clone(),
                violations,
                action: x.on_violation,
            })
            .collect()
    }
}
