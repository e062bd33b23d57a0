//! Positions of every key and value of a YAML document, by path (`bronze[0].batch.max_wait`).
//!
//! serde_yaml gives no positions for values it deserialized successfully, so the semantic
//! checks of the spec look locations up here.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use super::diag::Loc;

/// Where a node stands: its key (for mapping entries) and its value.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodePos {
    /// Position of the key, for mapping entries.
    pub key: Option<Loc>,
    /// Position of the value.
    pub value: Loc,
}

/// Path → position index of a YAML document.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    nodes: HashMap<String, NodePos>,
}

impl SourceMap {
    /// Indexes `text`. Syntax errors are reported by the serde parse, so they are ignored here.
    pub fn build(text: &str) -> Self {
        let mut b = Builder::default();
        let mut parser = Parser::new_from_str(text);
        let _ = parser.load(&mut b, false);
        SourceMap { nodes: b.nodes }
    }

    /// Position of the value at `path`, or of its closest indexed ancestor.
    pub fn value(&self, path: &str) -> Loc {
        self.lookup(path)
            .map(|p| p.value)
            .unwrap_or(Loc { line: 1, col: 1 })
    }

    /// Position of the key at `path` (falls back to the value, then the ancestors).
    pub fn key(&self, path: &str) -> Loc {
        self.lookup(path)
            .map(|p| p.key.unwrap_or(p.value))
            .unwrap_or(Loc { line: 1, col: 1 })
    }

    fn lookup(&self, path: &str) -> Option<NodePos> {
        let mut p = path;
        loop {
            if let Some(n) = self.nodes.get(p) {
                return Some(*n);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }
}

/// Joins a path and a mapping key.
pub fn join_key(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Joins a path and a sequence index.
pub fn join_index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

enum Frame {
    Map {
        path: String,
        key: Option<(String, Loc)>,
    },
    Seq {
        path: String,
        next: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    nodes: HashMap<String, NodePos>,
}

fn loc(m: Marker) -> Loc {
    Loc {
        line: m.line(),
        col: m.col() + 1,
    }
}

impl Builder {
    /// Path for a value starting now; consumes the pending key of the parent mapping.
    /// Returns None when the event is a mapping key.
    fn value_path(&mut self, scalar: Option<&str>, at: Loc) -> Option<(String, Option<Loc>)> {
        match self.stack.last_mut() {
            None => Some((String::new(), None)),
            Some(Frame::Seq { path, next }) => {
                let p = join_index(path, *next);
                *next += 1;
                Some((p, None))
            }
            Some(Frame::Map { path, key }) => match key.take() {
                Some((k, kloc)) => Some((join_key(path, &k), Some(kloc))),
                None => {
                    *key = Some((scalar.unwrap_or("").to_string(), at));
                    None
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let at = loc(mark);
        match ev {
            Event::Scalar(s, ..) => {
                if let Some((p, key)) = self.value_path(Some(&s), at) {
                    self.nodes.insert(p, NodePos { key, value: at });
                }
            }
            Event::Alias(_) => {
                if let Some((p, key)) = self.value_path(None, at) {
                    self.nodes.insert(p, NodePos { key, value: at });
                }
            }
            Event::MappingStart(..) => {
                let (p, key) = self.value_path(None, at).unwrap_or_default();
                self.nodes.insert(p.clone(), NodePos { key, value: at });
                self.stack.push(Frame::Map { path: p, key: None });
            }
            Event::SequenceStart(..) => {
                let (p, key) = self.value_path(None, at).unwrap_or_default();
                self.nodes.insert(p.clone(), NodePos { key, value: at });
                self.stack.push(Frame::Seq { path: p, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_nested_keys_and_items() {
        let text = "kafka:\n  brokers: x\nbronze:\n  - name: a\n    batch: {max_wait: 1s}\n";
        let m = SourceMap::build(text);
        assert_eq!(m.key("kafka.brokers"), Loc { line: 2, col: 3 });
        assert_eq!(m.value("kafka.brokers"), Loc { line: 2, col: 12 });
        assert_eq!(m.key("bronze[0].name"), Loc { line: 4, col: 5 });
        assert_eq!(
            m.value("bronze[0].batch.max_wait"),
            Loc { line: 5, col: 23 }
        );
        // Unknown paths fall back to the closest ancestor.
        assert_eq!(m.value("bronze[0].batch.nope"), Loc { line: 5, col: 12 });
    }
}
