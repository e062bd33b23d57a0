//! A parsed YAML spec file: its text, positions, env-substituted value, and a deserializer
//! that reports every problem at once (step one of spec loading: raw serde types).

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;
use serde_yaml::Value;

use super::diag::{did_you_mean, Diagnostic, Diagnostics, Loc};
use super::env::substitute_tree;
use super::source_map::{join_index, join_key, SourceMap};

/// One YAML file of the spec, parsed and env-substituted, with its source positions.
#[derive(Debug, Clone)]
pub struct Document {
    /// The file it came from.
    pub file: PathBuf,
    /// Positions of keys and values.
    pub map: SourceMap,
    /// The value, after `${VAR}` substitution.
    pub value: Value,
}

impl Document {
    /// Parses `text` (from `file`); syntax errors and undefined variables are diagnostics.
    pub fn parse(file: &Path, text: &str, diags: &mut Diagnostics) -> Option<Document> {
        let mut value: Value = match serde_yaml::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                let loc = e
                    .location()
                    .map(|l| Loc {
                        line: l.line(),
                        col: l.column(),
                    })
                    .unwrap_or(Loc { line: 1, col: 1 });
                let msg = e.to_string();
                let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
                diags.push(Diagnostic::new(file, loc, format!("invalid YAML: {msg}")));
                return None;
            }
        };
        let map = SourceMap::build(text);
        let lookup = |name: &str| std::env::var(name).ok();
        substitute_tree(&mut value, "", &lookup, &mut |path, msg| {
            diags.push(
                Diagnostic::new(file, map.value(path), msg)
                    .with_hint("export the variable, or give a default: ${NAME:-default}"),
            )
        });
        Some(Document {
            file: file.to_path_buf(),
            map,
            value,
        })
    }

    /// A diagnostic located at the value of `path`.
    pub fn at(&self, path: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(&self.file, self.map.value(path), message)
    }

    /// A diagnostic located at the key of `path`.
    pub fn at_key(&self, path: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(&self.file, self.map.key(path), message)
    }

    /// Deserializes the value at `path` into `T`, recording every problem in `diags`.
    ///
    /// serde stops at the first error, so on each one the offending key is removed and the
    /// deserialization retried: unknown keys, wrong types and bad values all get reported in
    /// one pass. Returns `T` when the value could be repaired into one (the caller's semantic
    /// checks can then still find more problems), None when a required key is missing.
    pub fn deserialize<T: DeserializeOwned>(
        &self,
        value: &Value,
        path: &str,
        diags: &mut Diagnostics,
    ) -> Option<T> {
        let mut value = value.clone();
        let mut removed: Vec<String> = Vec::new();
        for _ in 0..256 {
            let err = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
                Ok(t) => return Some(t),
                Err(e) => e,
            };
            let segments: Vec<Segment> = err.path().iter().cloned().collect();
            let msg = err.inner().to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            if let Some(field) = backticked(&msg, "unknown field `") {
                // The path may or may not end with the unknown key itself.
                let mut container = segments.clone();
                if matches!(container.last(), Some(Segment::Map { key }) if key == &field) {
                    container.pop();
                }
                let expected = expected_list(&msg);
                let cpath = full_path(path, &container);
                let mut d =
                    self.at_key(&join_key(&cpath, &field), format!("unknown key `{field}`"));
                d = match did_you_mean(&field, expected.iter().map(String::as_str)) {
                    Some(s) => d.with_hint(format!("did you mean `{s}`?")),
                    None if !expected.is_empty() => {
                        d.with_hint(format!("expected one of: {}", expected.join(", ")))
                    }
                    None => d,
                };
                diags.push(d);
                if !remove_at(&mut value, &container, Some(&field)) {
                    return None;
                }
                continue;
            }
            if let Some(field) = backticked(&msg, "missing field `") {
                let cpath = full_path(path, &segments);
                if !removed.contains(&join_key(&cpath, &field)) {
                    diags.push(self.at(&cpath, format!("missing required key `{field}`")));
                }
                return None;
            }
            let epath = full_path(path, &segments);
            let mut d = self.at(&epath, format!("`{}`: {}", display_path(&epath), msg));
            if let Some(h) = type_hint(&msg) {
                d = d.with_hint(h);
            }
            diags.push(d);
            if segments.is_empty() || !remove_at(&mut value, &segments, None) {
                return None;
            }
            removed.push(epath);
        }
        None
    }
}

fn display_path(p: &str) -> &str {
    if p.is_empty() {
        "(document)"
    } else {
        p
    }
}

fn full_path(base: &str, segments: &[Segment]) -> String {
    let mut p = base.to_string();
    for s in segments {
        match s {
            Segment::Seq { index } => p = join_index(&p, *index),
            Segment::Map { key } | Segment::Enum { variant: key } => p = join_key(&p, key),
            Segment::Unknown => {}
        }
    }
    p
}

fn backticked(msg: &str, prefix: &str) -> Option<String> {
    let rest = &msg[msg.find(prefix)? + prefix.len()..];
    Some(rest[..rest.find('`')?].to_string())
}

fn expected_list(msg: &str) -> Vec<String> {
    let Some(i) = msg.find("expected") else {
        return vec![];
    };
    msg[i..]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn type_hint(msg: &str) -> Option<String> {
    if msg.contains("unknown variant") {
        let exp = expected_list(msg);
        return (!exp.is_empty()).then(|| format!("use one of: {}", exp.join(", ")));
    }
    None
}

/// Removes the entry at `segments` (or the key `field` inside it). False if nothing changed.
fn remove_at(value: &mut Value, segments: &[Segment], field: Option<&str>) -> bool {
    let mut cur = value;
    let (last, parents) = match field {
        Some(_) => (None, segments),
        None => match segments.split_last() {
            Some((l, p)) => (Some(l), p),
            None => return false,
        },
    };
    for s in parents {
        cur = match (s, cur) {
            (Segment::Seq { index }, Value::Sequence(v)) => match v.get_mut(*index) {
                Some(x) => x,
                None => return false,
            },
            (Segment::Map { key }, Value::Mapping(m)) => match m.get_mut(key.as_str()) {
                Some(x) => x,
                None => return false,
            },
            (Segment::Enum { .. }, c) => c,
            _ => return false,
        };
    }
    match (field, last, cur) {
        (Some(f), _, Value::Mapping(m)) => m.remove(f).is_some(),
        (None, Some(Segment::Map { key }), Value::Mapping(m)) => m.remove(key.as_str()).is_some(),
        (None, Some(Segment::Seq { index }), Value::Sequence(v)) if *index < v.len() => {
            v.remove(*index);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        #[serde(default)]
        n: u32,
        name: String,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        items: Vec<Inner>,
    }

    #[test]
    fn reports_every_problem_with_locations() {
        let text = "items:\n  - name: a\n    nme: b\n  - name: c\n    n: lots\n    extra: 1\n";
        let mut diags = Diagnostics::default();
        let doc = Document::parse(Path::new("t.yaml"), text, &mut diags).unwrap();
        let out: Option<Outer> = doc.deserialize(&doc.value, "", &mut diags);
        assert!(out.is_some(), "repaired value still deserializes");
        let s = diags.sorted().to_string();
        assert!(s.contains("t.yaml:3:5: unknown key `nme`"), "{s}");
        assert!(s.contains("did you mean `name`?"), "{s}");
        assert!(s.contains("t.yaml:5:8: `items[1].n`: invalid type"), "{s}");
        assert!(s.contains("t.yaml:6:5: unknown key `extra`"), "{s}");
    }

    #[test]
    fn syntax_errors_are_located() {
        let mut diags = Diagnostics::default();
        assert!(Document::parse(Path::new("b.yaml"), "a: [1, 2\nb: 3\n", &mut diags).is_none());
        assert!(diags.to_string().starts_with("b.yaml:"), "{diags}");
        assert!(diags.to_string().contains("invalid YAML"), "{diags}");
    }
}
