//! `lakectl topic create|list`

use anyhow::Context;

use crate::kafka::admin;

/// Topic subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum TopicCommand {
    /// Create a topic (an existing topic is not an error).
    Create {
        /// Topic name (default: the topic of the first bronze pipeline).
        name: Option<String>,
        /// Number of partitions.
        #[arg(long, default_value_t = 3)]
        partitions: i32,
    },
    /// List topics with their partition counts.
    List,
}

/// Runs a topic subcommand.
pub async fn run(g: &super::Globals, cmd: &TopicCommand) -> anyhow::Result<()> {
    let spec = super::load_spec(g)?;
    match cmd {
        TopicCommand::Create { name, partitions } => {
            if *partitions < 1 {
                anyhow::bail!("--partitions must be at least 1");
            }
            let name = match name {
                Some(n) => n.clone(),
                None => spec
                    .bronze
                    .first()
                    .map(|b| b.topic.clone())
                    .context("no topic given and no bronze pipeline in the spec")?,
            };
            let created = admin::create_topic(&spec.kafka, &name, *partitions).await?;
            if created {
                crate::outln!("created topic {name} ({partitions} partitions)");
            } else {
                let parts =
                    tokio::task::block_in_place(|| admin::topic_partitions(&spec.kafka, &name))?;
                crate::outln!("topic {name} already exists ({} partitions)", parts.len());
            }
        }
        TopicCommand::List => {
            let topics = tokio::task::block_in_place(|| admin::list_topics(&spec.kafka))?;
            for t in topics {
                crate::outln!("{}\t{}", t.name, t.partitions.len());
            }
        }
    }
    Ok(())
}
