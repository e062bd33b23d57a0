//! The interactive prompt of `lakectl query` (no SQL argument): SQL statements end with `;`,
//! dot-commands (`.tables`, `.schema NAME`, `.format F`, `.help`, `.quit`) take one line.
//! On a terminal it has line editing and a history file; piped input is read line by line.

use std::io::Write;
use std::path::PathBuf;

use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{Config, Editor};

use super::output::{write, Format};
use super::{execute, QueryError};
use crate::lake::catalog::{Catalog, TableKind};
use crate::lake::Table;
use crate::spec::PipelineSpec;

const HELP: &str = "\
SQL statements end with `;` and may span lines. Tables are named as in `.tables`, or
delta.`path/to/table`.
  .tables          the lake's tables, with their kind, version and rows
  .schema NAME     a table's columns and types
  .format F        output format: table, csv or json
  .help            this text
  .quit            leave (Ctrl-D works too)";

/// What one line of input asks for.
#[derive(Debug, PartialEq, Eq)]
enum Input {
    /// A complete SQL statement (without its `;`).
    Sql(String),
    /// A dot-command and its argument.
    Command(String, String),
    /// Nothing complete yet.
    More,
}

/// Accumulates lines into statements.
#[derive(Debug, Default)]
struct Reader {
    pending: String,
}

impl Reader {
    fn push(&mut self, line: &str) -> Input {
        let trimmed = line.trim();
        if self.pending.trim().is_empty() && trimmed.starts_with('.') {
            self.pending.clear();
            let mut parts = trimmed.splitn(2, char::is_whitespace);
            let cmd = parts.next().unwrap_or_default().to_string();
            let arg = parts.next().unwrap_or_default().trim().to_string();
            return Input::Command(cmd, arg);
        }
        if !self.pending.is_empty() {
            self.pending.push('\n');
        }
        self.pending.push_str(line);
        let text = self.pending.trim_end();
        if let Some(stmt) = text.strip_suffix(';') {
            let stmt = stmt.trim().to_string();
            self.pending.clear();
            if stmt.is_empty() {
                return Input::More;
            }
            return Input::Sql(stmt);
        }
        Input::More
    }

    /// The unterminated statement at end of input, if any.
    fn finish(&mut self) -> Option<String> {
        let s = std::mem::take(&mut self.pending).trim().to_string();
        (!s.is_empty()).then_some(s)
    }
}

fn history_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(base.join("lakectl").join("query_history"))
}

/// The session state: the spec, its catalog, and the output settings.
struct Session<'a> {
    spec: &'a PipelineSpec,
    catalog: &'a Catalog,
    version: Option<u64>,
    format: Format,
    failures: usize,
}

impl Session<'_> {
    async fn run_sql(&mut self, sql: &str) {
        match execute(self.spec, self.catalog, sql, self.version).await {
            Ok(mut df) => {
                let stdout = std::io::stdout();
                let mut out = stdout.lock();
                if let Err(e) = write(&mut df, self.format, &mut out) {
                    self.fail(&e);
                }
                if self.format == Format::Table {
                    let _ = writeln!(out, "({} rows)", df.height());
                }
                let _ = out.flush();
            }
            Err(e) => self.fail(&e.to_string()),
        }
    }

    fn fail(&mut self, msg: &str) {
        self.failures += 1;
        eprintln!("error: {}", crate::redact::text(msg));
    }

    /// Runs a dot-command; false means leave.
    async fn command(&mut self, cmd: &str, arg: &str) -> bool {
        match cmd {
            ".quit" | ".exit" => return false,
            ".help" => crate::outln!("{HELP}"),
            ".tables" => self.tables().await,
            ".schema" if arg.is_empty() => self.fail(".schema needs a table name"),
            ".schema" => self.schema(arg).await,
            ".format" => match arg {
                "table" => self.format = Format::Table,
                "csv" => self.format = Format::Csv,
                "json" => self.format = Format::Json,
                other => self.fail(&format!("unknown format `{other}`: use table, csv or json")),
            },
            other => self.fail(&format!("unknown command `{other}`: try .help")),
        }
        true
    }

    async fn tables(&mut self) {
        crate::outln!(
            "{:<24} {:<11} {:<34} {:>8} {:>10}",
            "name",
            "kind",
            "path",
            "version",
            "rows"
        );
        for t in self.catalog.tables() {
            let kind = match t.kind {
                TableKind::Bronze { .. } => "bronze",
                TableKind::Quarantine { .. } => "quarantine",
                TableKind::Silver { .. } => "silver",
                TableKind::Centres { .. } => "centres",
            };
            let (version, rows) = match Table::open(&self.spec.table_path(&t.path)).await {
                Ok(Some(dt)) => {
                    let rows: usize = dt
                        .files()
                        .map(|fs| fs.iter().filter_map(|f| f.rows).sum())
                        .unwrap_or(0);
                    (dt.version().to_string(), rows.to_string())
                }
                Ok(None) => ("-".into(), "not created".into()),
                Err(e) => ("-".into(), format!("unreadable: {e}")),
            };
            // Also readable by its path's last segment (`rfm_centres` for rfm_clients_centres).
            let aliases: Vec<String> = self
                .catalog
                .sql_names()
                .into_iter()
                .filter(|(n, r)| r.path == t.path && *n != t.name)
                .map(|(n, _)| n)
                .collect();
            crate::outln!(
                "{:<24} {kind:<11} {:<34} {version:>8} {rows:>10}",
                t.name,
                t.path
            );
            if !aliases.is_empty() {
                crate::outln!("  (also readable as {})", aliases.join(", "));
            }
        }
    }

    async fn schema(&mut self, name: &str) {
        let path = match self.catalog.resolve(name) {
            Some(t) => self.spec.table_path(&t.path),
            None => {
                let e = QueryError::UnknownTable {
                    name: name.into(),
                    known: self
                        .catalog
                        .sql_names()
                        .into_iter()
                        .map(|(n, _)| n)
                        .collect::<Vec<_>>()
                        .join(", "),
                };
                return self.fail(&e.to_string());
            }
        };
        let schema = Table::open_existing(&path).await.and_then(|dt| dt.schema());
        match schema {
            Ok(s) => {
                for c in &s.columns {
                    let part = if s.partition_by.contains(&c.name) {
                        "  (partition)"
                    } else {
                        ""
                    };
                    crate::outln!(
                        "  {:<24} {}{part}",
                        c.name,
                        crate::lake::schema::type_name(&c.ty)
                    );
                }
            }
            Err(e) => self.fail(&e.to_string()),
        }
    }
}

/// One line of piped standard input, without its line ending.
fn read_plain_line() -> Result<String, ReadlineError> {
    use std::io::BufRead;
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line)? {
        0 => Err(ReadlineError::Eof),
        _ => {
            let end = line.trim_end_matches(['\n', '\r']).len();
            line.truncate(end);
            Ok(line)
        }
    }
}

/// Runs the prompt until `.quit` or end of input. Returns how many statements failed.
pub async fn run(
    spec: &PipelineSpec,
    catalog: &Catalog,
    version: Option<u64>,
    format: Format,
) -> Result<usize, ReadlineError> {
    let interactive = crate::term::stdin_is_tty();
    let config = Config::builder().build();
    let mut editor: Editor<(), FileHistory> = Editor::with_config(config)?;
    let history = history_path().filter(|_| interactive);
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    if interactive {
        crate::outln!(
            "lakectl query: SQL over the lake. `.help` for commands, `.quit` or Ctrl-D to leave."
        );
    }
    let mut session = Session {
        spec,
        catalog,
        version,
        format,
        failures: 0,
    };
    let mut reader = Reader::default();
    loop {
        let prompt = if reader.pending.is_empty() {
            "lakectl> "
        } else {
            "    ...> "
        };
        // Piped input is read as it comes: no prompt, no line editing (rustyline would
        // still print its prompts when TERM=dumb). History is added by hand, so a terminal
        // rustyline cannot drive (TERM=dumb) keeps one too.
        let line = tokio::task::block_in_place(|| {
            if interactive {
                let line = editor.readline(prompt);
                if let Ok(l) = &line {
                    let _ = editor.add_history_entry(l.as_str());
                }
                line
            } else {
                read_plain_line()
            }
        });
        match line {
            Ok(line) => match reader.push(&line) {
                Input::Sql(sql) => session.run_sql(&sql).await,
                Input::Command(cmd, arg) => {
                    if !session.command(&cmd, &arg).await {
                        break;
                    }
                }
                Input::More => {}
            },
            Err(ReadlineError::Interrupted) => {
                reader.pending.clear();
            }
            Err(ReadlineError::Eof) => {
                if let Some(sql) = reader.finish() {
                    session.run_sql(&sql).await;
                }
                break;
            }
            Err(e) => return Err(e),
        }
    }
    if let Some(h) = &history {
        if let Some(dir) = h.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = editor.save_history(h) {
            tracing::debug!(history = %h.display(), error = %e, "cannot save the query history");
        }
    }
    Ok(session.failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_end_with_semicolons_and_commands_take_a_line() {
        let mut r = Reader::default();
        assert_eq!(r.push("SELECT 1"), Input::More);
        assert_eq!(r.push("  FROM t;"), Input::Sql("SELECT 1\n  FROM t".into()));
        assert_eq!(
            r.push(".schema ventes"),
            Input::Command(".schema".into(), "ventes".into())
        );
        assert_eq!(r.push(";"), Input::More);
        assert_eq!(r.push("SELECT 2"), Input::More);
        assert_eq!(r.finish(), Some("SELECT 2".into()));
        assert_eq!(r.finish(), None);
    }

    #[test]
    fn a_dot_inside_a_statement_is_sql() {
        let mut r = Reader::default();
        assert_eq!(r.push("SELECT a"), Input::More);
        assert_eq!(r.push(".5 AS x;"), Input::Sql("SELECT a\n.5 AS x".into()));
    }
}
