//! Topic administration and metadata.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;

use super::config::{client_config, LakectlContext};
use super::KafkaError;
use crate::spec::KafkaSpec;

/// How long a command that writes (or serves the pipeline) waits for the broker.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// How long a read-only report (`status`, `dashboard`, `doctor`) waits for the broker: it
/// shows the lake's side at once and says the broker did not answer, instead of hanging.
pub const REPORT_TIMEOUT: Duration = Duration::from_secs(3);

/// `what`, with the wait when it is the short one of a report.
fn waited(what: &str, timeout: Duration) -> String {
    if timeout < TIMEOUT {
        format!("{what} (no answer within {}s)", timeout.as_secs())
    } else {
        what.to_string()
    }
}

/// A topic and its partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// Name.
    pub name: String,
    /// Partition ids.
    pub partitions: Vec<i32>,
}

fn client_err<'a>(
    spec: &'a KafkaSpec,
    what: &str,
) -> impl Fn(rdkafka::error::KafkaError) -> KafkaError + 'a {
    let what = what.to_string();
    move |source| KafkaError::Client {
        brokers: spec.brokers.clone(),
        what: what.clone(),
        source: Box::new(source),
    }
}

/// Creates `topic` with `partitions` partitions. Returns false if it already existed.
pub async fn create_topic(
    spec: &KafkaSpec,
    topic: &str,
    partitions: i32,
) -> Result<bool, KafkaError> {
    let admin: AdminClient<LakectlContext> = client_config(spec)
        .create_with_context(LakectlContext)
        .map_err(client_err(spec, "creating admin client"))?;
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let opts = AdminOptions::new()
        .operation_timeout(Some(TIMEOUT))
        .request_timeout(Some(TIMEOUT));
    let results = admin
        .create_topics([&new], &opts)
        .await
        .map_err(client_err(spec, "creating topic"))?;
    for r in results {
        match r {
            Ok(_) => {}
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => return Ok(false),
            Err((_, code)) => {
                return Err(KafkaError::Client {
                    brokers: spec.brokers.clone(),
                    what: format!("creating topic {topic}"),
                    source: Box::new(rdkafka::error::KafkaError::AdminOp(code)),
                })
            }
        }
    }
    Ok(true)
}

fn metadata_consumer(spec: &KafkaSpec) -> Result<BaseConsumer<LakectlContext>, KafkaError> {
    client_config(spec)
        .create_with_context(LakectlContext)
        .map_err(client_err(spec, "creating client"))
}

/// Every topic on the cluster (internal ones excluded), sorted by name; the broker gets
/// `timeout` to answer.
pub fn list_topics(spec: &KafkaSpec, timeout: Duration) -> Result<Vec<TopicInfo>, KafkaError> {
    let c = metadata_consumer(spec)?;
    let md = c
        .fetch_metadata(None, timeout)
        .map_err(client_err(spec, &waited("fetching metadata", timeout)))?;
    let mut out: Vec<TopicInfo> = md
        .topics()
        .iter()
        .filter(|t| !t.name().starts_with("__") && t.error().is_none())
        .map(|t| TopicInfo {
            name: t.name().to_string(),
            partitions: t.partitions().iter().map(|p| p.id()).collect(),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The partition ids of `topic`, or [`KafkaError::NoTopic`]; the broker gets `timeout`.
pub fn topic_partitions(
    spec: &KafkaSpec,
    topic: &str,
    timeout: Duration,
) -> Result<Vec<i32>, KafkaError> {
    let c = metadata_consumer(spec)?;
    let md = c
        .fetch_metadata(Some(topic), timeout)
        .map_err(client_err(spec, &waited("fetching metadata", timeout)))?;
    let t = md.topics().iter().find(|t| t.name() == topic);
    match t {
        Some(t) if t.error().is_none() && !t.partitions().is_empty() => {
            let mut ps: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
            ps.sort_unstable();
            Ok(ps)
        }
        _ => Err(KafkaError::NoTopic {
            topic: topic.into(),
            brokers: spec.brokers.clone(),
        }),
    }
}

/// The (earliest, next) offsets of each partition of `topic`, or [`KafkaError::NoTopic`].
pub fn watermarks(
    spec: &KafkaSpec,
    topic: &str,
) -> Result<std::collections::BTreeMap<i32, (i64, i64)>, KafkaError> {
    let c = metadata_consumer(spec)?;
    topic_partitions(spec, topic, TIMEOUT)?
        .into_iter()
        .map(|p| {
            c.fetch_watermarks(topic, p, TIMEOUT)
                .map(|w| (p, w))
                .map_err(client_err(
                    spec,
                    &format!("reading offsets of {topic}[{p}]"),
                ))
        })
        .collect()
}
