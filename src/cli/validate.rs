//! `lakectl validate`

use crate::lake::{LakeError, Table, TableSchema};

/// Arguments of `validate` (none besides the global `--config`).
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Validates pipelines.yaml and every job file; prints "ok" on success, then any pending
/// bronze schema change (a new column the next run adds) or refuses a breaking one.
pub async fn run(g: &super::Globals, _args: &Args) -> anyhow::Result<()> {
    let (spec, jobs) = super::load_checked(g)?;
    tracing::debug!(
        pipelines = spec.bronze.len(),
        jobs = jobs.jobs.len(),
        "spec valid"
    );
    let mut pending = Vec::new();
    let lake = &spec.lake;
    for b in &spec.bronze {
        let path = lake.join(&b.table);
        let Some(t) = Table::open(&path).await? else {
            continue;
        };
        let wanted = crate::bronze::frame::bronze_schema(b)
            .map_err(|e| e.to_string())
            .and_then(|s| TableSchema::from_polars(&s, &b.partition_by))
            .map_err(anyhow::Error::msg)?;
        let actual = t.schema()?;
        let Some(diff) = wanted.diff(&actual) else {
            continue;
        };
        match wanted.evolution(&actual) {
            Some(e) if e.widened.is_empty() => pending.push(format!(
                "pipeline {}: pending schema change, applied by the next run as one metadata commit (older rows read null): {e}",
                b.name
            )),
            Some(e) => pending.push(format!(
                "pipeline {}: pending schema change, applied by the next run in one commit that rewrites the table's {} file(s) with the wider types (the same data, history and offsets): {e}",
                b.name,
                t.files()?.len()
            )),
            None => {
                return Err(LakeError::SchemaMismatch {
                    table: path.to_string(),
                    diff,
                    hint: format!(
                        "pipeline {}: the next run will refuse this change before consuming anything; {}",
                        b.name,
                        crate::lake::table::EVOLUTION_HINT
                    ),
                }
                .into())
            }
        }
    }
    crate::outln!("ok");
    for p in pending {
        crate::outln!("{p}");
    }
    Ok(())
}
