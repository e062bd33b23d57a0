//! Option maps of `pipelines.yaml` (`kafka.options`, `storage:`): scalar values as text,
//! secrets registered before any message can show them, and the storage keys checked.

use std::collections::BTreeMap;

use super::diag::{did_you_mean, Diagnostics};
use super::document::Document;
use super::source_map::join_key;
use crate::storage::STORAGE_KEYS;

/// The scalar values of an options map (`kafka.options`, `storage`) as strings; secret
/// values are registered first, so no message can show them.
pub(super) fn option_values(
    doc: &Document,
    at: &str,
    raw: &BTreeMap<String, serde_yaml::Value>,
    diags: &mut Diagnostics,
) -> BTreeMap<String, String> {
    for (k, v) in raw {
        if let (true, serde_yaml::Value::String(s)) = (crate::redact::is_secret_key(k), v) {
            crate::redact::register(s);
        }
    }
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        let path = join_key(at, k);
        match v {
            serde_yaml::Value::String(s) => {
                out.insert(k.clone(), s.clone());
            }
            serde_yaml::Value::Number(n) => {
                out.insert(k.clone(), n.to_string());
            }
            serde_yaml::Value::Bool(b) => {
                out.insert(k.clone(), b.to_string());
            }
            _ => diags.push(doc.at(
                &path,
                format!("`{path}` must be a string, number or boolean"),
            )),
        }
    }
    out
}

/// Every `storage:` key is one of [`STORAGE_KEYS`] or an object_store `aws_*` key; the others
/// are reported with a did-you-mean.
pub(super) fn check_storage_keys(
    doc: &Document,
    storage: &BTreeMap<String, String>,
    diags: &mut Diagnostics,
) {
    for k in storage.keys() {
        if !STORAGE_KEYS.iter().any(|(name, _)| name == k) && !k.starts_with("aws_") {
            let path = join_key("storage", k);
            let mut d = doc.at_key(&path, format!("unknown storage option `{k}`"));
            d = match did_you_mean(k, STORAGE_KEYS.iter().map(|(n, _)| *n)) {
                Some(m) => d.with_hint(format!("did you mean `{m}`?")),
                None => d.with_hint(format!(
                    "storage options are {} (or an object_store `aws_*` key)",
                    STORAGE_KEYS
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            };
            diags.push(d);
        }
    }
}
