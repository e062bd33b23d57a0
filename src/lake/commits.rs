//! `lakectl history`: a table's commits, newest first, with lakectl's own commit metadata
//! (bronze batch figures, silver source versions) summarised.

use crate::storage::Location;

use futures::TryStreamExt;
use serde::Serialize;
use serde_json::Value;

use super::LakeError;
use super::Table;

/// One commit.
#[derive(Debug, Clone, Serialize)]
pub struct Commit {
    /// Table version.
    pub version: u64,
    /// Commit time (RFC 3339).
    pub timestamp: Option<String>,
    /// Delta operation (WRITE, OPTIMIZE, VACUUM START, …).
    pub operation: Option<String>,
    /// Its parameters (mode, predicate, target size…).
    pub parameters: serde_json::Map<String, Value>,
    /// Everything else in commitInfo (lakectl's batch metrics, delta-rs' operation metrics).
    pub info: serde_json::Map<String, Value>,
}

/// The last `limit` commits of the table at `path`, newest first.
pub async fn history(path: &Location, limit: Option<usize>) -> Result<Vec<Commit>, LakeError> {
    let t = Table::open_existing(path).await?;
    let latest = t.version();
    let infos: Vec<_> = t
        .delta()
        .history(limit)
        .try_collect()
        .await
        .map_err(|e| LakeError::delta(path, "reading history", e))?;
    Ok(infos
        .into_iter()
        .enumerate()
        .map(|(i, ci)| Commit {
            version: latest.saturating_sub(i as u64),
            timestamp: ci.timestamp.and_then(|ms| {
                chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            }),
            operation: ci.operation,
            parameters: ci
                .operation_parameters
                .unwrap_or_default()
                .into_iter()
                .collect(),
            info: ci.info.into_iter().collect(),
        })
        .collect())
}
