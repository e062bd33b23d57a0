//! librdkafka client settings built from the spec's `kafka:` section.

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError as RdError;
use rdkafka::{ClientConfig, ClientContext};

use crate::spec::KafkaSpec;

pub use crate::redact::is_secret_key;

/// A client configuration with `bootstrap.servers` and the spec's pass-through options.
pub fn client_config(spec: &KafkaSpec) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", &spec.brokers);
    // Fail fast on an unreachable broker instead of retrying forever.
    cfg.set("socket.connection.setup.timeout.ms", "10000");
    for (k, v) in &spec.options {
        cfg.set(k, v);
    }
    cfg.set_log_level(RDKafkaLogLevel::Warning);
    cfg
}

/// Client context routing librdkafka's logs and errors through `tracing`. End of partition
/// is expected (lakectl asks for it), so it is not reported as an error.
#[derive(Debug, Clone, Copy, Default)]
pub struct LakectlContext;

impl ClientContext for LakectlContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(target: "librdkafka", "{fac}: {log_message}")
            }
            RDKafkaLogLevel::Warning => {
                tracing::warn!(target: "librdkafka", "{fac}: {log_message}")
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", "{fac}: {log_message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", "{fac}: {log_message}"),
        }
    }

    fn error(&self, error: RdError, reason: &str) {
        if matches!(error, RdError::PartitionEOF(_))
            || error.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::PartitionEOF)
        {
            return;
        }
        tracing::warn!(target: "librdkafka", "{error}: {reason}");
    }
}

impl ConsumerContext for LakectlContext {}

/// The options as `key=value` for display, secrets masked.
pub fn redacted_options(spec: &KafkaSpec) -> Vec<String> {
    spec.options
        .iter()
        .map(|(k, v)| {
            if is_secret_key(k) {
                format!("{k}=****")
            } else {
                format!("{k}={v}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked() {
        let spec = KafkaSpec {
            brokers: "b:9092".into(),
            options: [
                ("sasl.password".to_string(), "hunter2".to_string()),
                ("security.protocol".to_string(), "SASL_SSL".to_string()),
            ]
            .into(),
        };
        let shown = redacted_options(&spec).join(" ");
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains("security.protocol=SASL_SSL"));
    }
}
