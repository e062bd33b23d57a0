//! How the scheduler runs a job: overlapping runs, retries with backoff, timeout, catch-up
//! (the scheduling keys of a job file).

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use super::diag::Diagnostics;
use super::document::Document;
use super::job::RawJob;
use super::units::parse_duration;

/// What the scheduler does when a run is due while the previous one still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Concurrency {
    /// Skip the new run (logged, and recorded as `skipped`).
    #[default]
    Forbid,
    /// Stop the running one (nothing committed) and start the new one.
    Replace,
}

/// How the scheduler runs a job: overlap, retries, timeout, catch-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunPolicy {
    /// Overlapping runs.
    pub concurrency: Concurrency,
    /// Attempts after the first failure.
    pub retries: u32,
    /// Delay before the first retry; doubled for each next one.
    pub retry_delay: Duration,
    /// Upper bound of the retry delay.
    pub retry_max_delay: Duration,
    /// A run still going after this is stopped, nothing committed.
    pub timeout: Option<Duration>,
    /// After downtime, run once for the missed schedules (never more than once).
    pub catchup: bool,
}

impl Default for RunPolicy {
    fn default() -> Self {
        Self {
            concurrency: Concurrency::Forbid,
            retries: 0,
            retry_delay: Duration::from_secs(10),
            retry_max_delay: Duration::from_secs(300),
            timeout: None,
            catchup: false,
        }
    }
}

impl RunPolicy {
    /// The delay before retry number `n` (1-based): exponential, capped.
    pub fn backoff(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1));
        self.retry_delay
            .checked_mul(factor)
            .unwrap_or(self.retry_max_delay)
            .min(self.retry_max_delay)
    }
}

/// The scheduling keys of a job: `concurrency`, `retries`, `retry_delay`, `retry_max_delay`,
/// `timeout`, `catchup`.
pub(super) fn run_policy(doc: &Document, raw: &RawJob, diags: &mut Diagnostics) -> RunPolicy {
    let d = RunPolicy::default();
    let mut duration = |key: &str, v: &Option<String>, default: Option<Duration>| match v {
        None => default,
        Some(s) => match parse_duration(s) {
            Ok(x) if !x.is_zero() => Some(x),
            Ok(_) => {
                diags.push(doc.at(key, format!("`{key}` must be more than zero")));
                default
            }
            Err(e) => {
                diags.push(doc.at(key, format!("bad `{key}`: {e}")));
                default
            }
        },
    };
    let retry_delay = duration("retry_delay", &raw.retry_delay, Some(d.retry_delay));
    let retry_max_delay = duration(
        "retry_max_delay",
        &raw.retry_max_delay,
        Some(d.retry_max_delay.max(retry_delay.unwrap_or_default())),
    );
    let timeout = duration("timeout", &raw.timeout, None);
    let policy = RunPolicy {
        concurrency: raw.concurrency.unwrap_or_default(),
        retries: raw.retries.unwrap_or(0),
        retry_delay: retry_delay.unwrap_or(d.retry_delay),
        retry_max_delay: retry_max_delay.unwrap_or(d.retry_max_delay),
        timeout,
        catchup: raw.catchup.unwrap_or(false),
    };
    if policy.retry_max_delay < policy.retry_delay {
        diags.push(doc.at(
            "retry_max_delay",
            format!(
                "`retry_max_delay` ({}) is shorter than `retry_delay` ({})",
                raw.retry_max_delay.as_deref().unwrap_or_default(),
                raw.retry_delay.as_deref().unwrap_or("10s")
            ),
        ));
    }
    if raw.schedule.is_none() {
        for (key, set) in [
            ("concurrency", raw.concurrency.is_some()),
            ("catchup", raw.catchup.is_some()),
        ] {
            if set {
                diags.push(
                    doc.at_key(
                        key,
                        format!("`{key}` only applies to a job with a `schedule`"),
                    )
                    .with_hint("add schedule: \"*/5 * * * *\" (or remove the key)"),
                );
            }
        }
    }
    policy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_max() {
        let p = RunPolicy {
            retry_delay: Duration::from_secs(1),
            retry_max_delay: Duration::from_secs(5),
            ..Default::default()
        };
        let d: Vec<u64> = (1..=5).map(|n| p.backoff(n).as_secs()).collect();
        assert_eq!(d, vec![1, 2, 4, 5, 5]);
    }
}
