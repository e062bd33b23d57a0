//! `lakectl schema KIND`: the JSON Schema of a spec file, for editors.

use crate::spec::schema::SchemaKind;

/// Arguments of `schema`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which file: `pipelines`, `job` or `job-test`.
    #[arg(value_enum)]
    pub kind: SchemaKind,
}

/// Prints the schema (the committed copies are in `schemas/`).
pub fn run(args: &Args) -> anyhow::Result<()> {
    crate::out!("{}", args.kind.json());
    Ok(())
}
