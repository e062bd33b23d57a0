//! `lakectl history TABLE [--limit N] [--json]`

use serde_json::Value;

use crate::lake::commits::history;

/// Arguments of `history`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The table: a name (`ventes`, a job), a path relative to the lake, or a table folder.
    pub table: String,
    /// Show at most N commits (newest first).
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Prints the table's commits, newest first.
pub async fn run(g: &super::Globals, args: &Args) -> anyhow::Result<()> {
    let path = super::table_of(g, &args.table).await?;
    let commits = history(&path, Some(args.limit)).await?;
    if args.json {
        crate::outln!("{}", serde_json::to_string_pretty(&commits)?);
        return Ok(());
    }
    crate::outln!(
        "{:>8}  {:<24}  {:<14}  details",
        "version",
        "time",
        "operation"
    );
    for c in &commits {
        // In a stable order, whatever order delta-rs wrote them in.
        let parameters: std::collections::BTreeMap<_, _> = c.parameters.iter().collect();
        let mut details: Vec<String> = parameters
            .into_iter()
            .filter(|(_, v)| !v.is_null() && v.as_str() != Some("null"))
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    v.as_str().map_or_else(|| v.to_string(), str::to_string)
                )
            })
            .collect();
        if let Some(b) = c.info.get(crate::bronze::BATCH_KEY) {
            // (Its batch is the commit's version: the figures are written before it is known.)
            for k in ["rows_in", "rows_written", "quarantined"] {
                if let Some(v) = b.get(k) {
                    details.push(format!("{k}={v}"));
                }
            }
        }
        if let Some(Value::String(why)) = c.info.get("lakectl.reason") {
            if !why.is_empty() {
                details.push(format!("why=\"{why}\""));
            }
        }
        crate::outln!(
            "{:>8}  {:<24}  {:<14}  {}",
            c.version,
            c.timestamp.as_deref().unwrap_or("-"),
            c.operation.as_deref().unwrap_or("-"),
            details.join(" ")
        );
    }
    Ok(())
}
