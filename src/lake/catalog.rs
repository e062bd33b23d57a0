//! The names of the lake's tables: bronze pipelines, their quarantine tables and silver job
//! targets, by spec name, by path relative to the lake, or by the path's last segment.

use deltalake::{ObjectStore as _, Path as ObjectPath};

use crate::lake::LakeError;
use crate::spec::job::JobSpec;
use crate::spec::PipelineSpec;
use crate::storage::Location;

/// What produces a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableKind {
    /// A bronze pipeline's table.
    Bronze {
        /// Pipeline name.
        pipeline: String,
    },
    /// A bronze pipeline's quarantine table.
    Quarantine {
        /// Pipeline name.
        pipeline: String,
    },
    /// A silver job's target.
    Silver {
        /// Job name.
        job: String,
    },
    /// The cluster centres a job's `cluster:` step writes.
    Centres {
        /// Job name.
        job: String,
    },
    /// A Delta table found in a lake read without a spec (`lakectl --lake L query`).
    Found,
}

/// One table of the lake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRef {
    /// Its main name (pipeline name, `<pipeline>_quarantine`, job name, `<job>_centres`).
    pub name: String,
    /// Path relative to the lake.
    pub path: String,
    /// What produces it.
    pub kind: TableKind,
}

/// Every table the spec and the jobs define.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    tables: Vec<TableRef>,
}

fn last_segment(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

impl Catalog {
    /// The catalog of `spec` and `jobs`.
    pub fn new(spec: &PipelineSpec, jobs: &[JobSpec]) -> Self {
        let mut tables = Vec::new();
        for b in &spec.bronze {
            tables.push(TableRef {
                name: b.name.clone(),
                path: b.table.clone(),
                kind: TableKind::Bronze {
                    pipeline: b.name.clone(),
                },
            });
            tables.push(TableRef {
                name: format!("{}_quarantine", b.name),
                path: b.quarantine.clone(),
                kind: TableKind::Quarantine {
                    pipeline: b.name.clone(),
                },
            });
        }
        for j in jobs {
            tables.push(TableRef {
                name: j.name.clone(),
                path: j.to.clone(),
                kind: TableKind::Silver {
                    job: j.name.clone(),
                },
            });
            if let Some(centres) = j.cluster.as_ref().and_then(|c| c.centres.clone()) {
                tables.push(TableRef {
                    name: format!("{}_centres", j.name),
                    path: centres,
                    kind: TableKind::Centres {
                        job: j.name.clone(),
                    },
                });
            }
        }
        Self { tables }
    }

    /// The Delta tables under `lake` (folders holding a `_delta_log`, at most four levels
    /// down), each named by its path's last segment: the catalog of a lake read without a spec.
    pub async fn discover(lake: &Location) -> Result<Self, LakeError> {
        const DEPTH: usize = 4;
        let store = crate::storage::object_store(lake)
            .map_err(|e| LakeError::delta(lake.to_string(), "listing the lake", e))?;
        let mut tables = Vec::new();
        let mut level: Vec<Option<ObjectPath>> = vec![None];
        for _ in 0..DEPTH {
            let mut next = Vec::new();
            for dir in &level {
                let listing = store
                    .list_with_delimiter(dir.as_ref())
                    .await
                    .map_err(|e| LakeError::store(lake.to_string(), "listing the lake", &e))?;
                let is_table = listing
                    .common_prefixes
                    .iter()
                    .any(|p| p.filename() == Some("_delta_log"));
                match dir {
                    Some(d) if is_table => tables.push(TableRef {
                        name: last_segment(d.as_ref()).to_string(),
                        path: d.to_string(),
                        kind: TableKind::Found,
                    }),
                    _ => next.extend(listing.common_prefixes.into_iter().map(Some)),
                }
            }
            level = next;
        }
        tables.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Self { tables })
    }

    /// Every table.
    pub fn tables(&self) -> &[TableRef] {
        &self.tables
    }

    /// The table a reference names: its name, its path, or its path's last segment.
    pub fn resolve(&self, reference: &str) -> Option<&TableRef> {
        let r = reference.trim().trim_end_matches('/');
        self.tables
            .iter()
            .find(|t| t.name == r)
            .or_else(|| {
                self.tables
                    .iter()
                    .find(|t| t.path.trim_end_matches('/') == r)
            })
            .or_else(|| {
                let mut m = self.tables.iter().filter(|t| last_segment(&t.path) == r);
                match (m.next(), m.next()) {
                    (Some(t), None) => Some(t),
                    _ => None,
                }
            })
    }

    /// Every name a table can be called by in SQL (names and unambiguous last segments).
    pub fn sql_names(&self) -> Vec<(String, &TableRef)> {
        let mut out: Vec<(String, &TableRef)> =
            self.tables.iter().map(|t| (t.name.clone(), t)).collect();
        for t in &self.tables {
            let seg = last_segment(&t.path).to_string();
            if !out.iter().any(|(n, _)| *n == seg) && self.resolve(&seg) == Some(t) {
                out.push((seg, t));
            }
        }
        out
    }

    /// All references a user may write, for hints.
    pub fn all_references(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .tables
            .iter()
            .flat_map(|t| [t.name.clone(), t.path.clone()])
            .collect();
        v.sort();
        v.dedup();
        v
    }
}
