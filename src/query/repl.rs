//! The interactive prompt of `lakectl query` (no SQL argument): SQL statements end with `;`,
//! dot-commands (`.tables`, `.schema NAME`, `.format F`, `.help`, `.quit`) take one line.
//! On a terminal it has line editing and a history file; piped input is read line by line.

use std::io::Write;
use std::path::PathBuf;

use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{Config, Editor};

use super::output::Format;
use super::QueryError;
use crate::lake::catalog::{Catalog, TableKind};
use crate::lake::Table;
use crate::spec::PipelineSpec;

const HELP: &str = "\
SQL statements end with `;` and may span lines. Tables are named as in `.tables`, or
delta.`path/to/table`. Tab completes tables, columns, keywords and dot-commands.
  .tables          the lake's tables, with their kind, version and rows
  .schema NAME     a table's columns and types
  .mode F          output format: table, csv or json (also .format F)
  .timer on|off    print each statement's run time
  .help            this text
  .quit            leave (Ctrl-D works too)";

/// The dot-commands, for completion.
const COMMANDS: &[&str] = &[
    ".tables", ".schema", ".mode", ".format", ".timer", ".help", ".quit", ".exit",
];

/// SQL words offered by completion (Polars SQL's common clauses and functions).
const KEYWORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP BY",
    "ORDER BY",
    "HAVING",
    "LIMIT",
    "OFFSET",
    "DISTINCT",
    "AS",
    "AND",
    "OR",
    "NOT",
    "IN",
    "IS NULL",
    "IS NOT NULL",
    "BETWEEN",
    "LIKE",
    "ILIKE",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "JOIN",
    "LEFT JOIN",
    "INNER JOIN",
    "ON",
    "USING",
    "UNION ALL",
    "WITH",
    "ASC",
    "DESC",
    "COUNT",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "ROUND",
    "CAST",
    "COALESCE",
    "DATE_TRUNC",
    "STRFTIME",
];

/// Tab completion: dot-commands at the start of a line; elsewhere tables, columns and SQL
/// keywords that begin with the word under the cursor.
struct Completion {
    /// Table names and column names, sorted, deduplicated.
    names: Vec<String>,
}

impl Completion {
    fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let before = &line[..pos];
        let start = before
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let word = &before[start..];
        if before.trim_start().starts_with('.') && !before.trim_start().contains(' ') {
            let start = before.len() - before.trim_start().len();
            let word = before.trim_start();
            let found = COMMANDS
                .iter()
                .filter(|c| c.starts_with(word))
                .map(|c| c.to_string())
                .collect();
            return (start, found);
        }
        if word.is_empty() {
            return (pos, Vec::new());
        }
        let lower = word.to_lowercase();
        let mut found: Vec<String> = self
            .names
            .iter()
            .filter(|n| n.to_lowercase().starts_with(&lower))
            .cloned()
            .collect();
        // Keywords in the case the user types them.
        let upper = word.chars().next().is_some_and(char::is_uppercase);
        found.extend(
            KEYWORDS
                .iter()
                .filter(|k| k.to_lowercase().starts_with(&lower))
                .map(|k| {
                    if upper {
                        k.to_string()
                    } else {
                        k.to_lowercase()
                    }
                }),
        );
        (start, found)
    }
}

impl rustyline::completion::Completer for Completion {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(self.candidates(line, pos))
    }
}

impl rustyline::hint::Hinter for Completion {
    type Hint = String;
}
impl rustyline::highlight::Highlighter for Completion {}
impl rustyline::validate::Validator for Completion {}
impl rustyline::Helper for Completion {}

/// The names completion offers: every SQL name of the catalog, and the columns of the
/// tables that exist.
async fn completion_names(spec: &PipelineSpec, catalog: &Catalog) -> Vec<String> {
    let mut names: Vec<String> = catalog.sql_names().into_iter().map(|(n, _)| n).collect();
    for t in catalog.tables() {
        if let Ok(Some(table)) = Table::open(&spec.table_path(&t.path)).await {
            if let Ok(schema) = table.schema() {
                names.extend(schema.columns.into_iter().map(|c| c.name));
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

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
    timer: bool,
    failures: usize,
}

impl Session<'_> {
    async fn run_sql(&mut self, sql: &str) {
        let started = std::time::Instant::now();
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        match super::run(
            self.spec,
            self.catalog,
            sql,
            self.version,
            self.format,
            &mut out,
        )
        .await
        {
            Ok(written) => {
                if self.format == Format::Table {
                    let _ = writeln!(out, "{}", written.footer());
                }
            }
            Err(e) => self.fail(&e.to_string()),
        }
        if self.timer {
            let _ = writeln!(out, "Run Time: {:.3} s", started.elapsed().as_secs_f64());
        }
        let _ = out.flush();
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
            ".format" | ".mode" => match arg {
                "table" => self.format = Format::Table,
                "csv" => self.format = Format::Csv,
                "json" => self.format = Format::Json,
                other => self.fail(&format!("unknown format `{other}`: use table, csv or json")),
            },
            ".timer" => match arg {
                "on" => self.timer = true,
                "off" => self.timer = false,
                other => self.fail(&format!("`.timer {other}`: use .timer on or .timer off")),
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
                TableKind::Found => "delta",
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
                let known: Vec<String> = self
                    .catalog
                    .sql_names()
                    .into_iter()
                    .map(|(n, _)| n)
                    .collect();
                let e = QueryError::unknown_table(name, &known);
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
    let mut editor: Editor<Completion, FileHistory> = Editor::with_config(config)?;
    if interactive {
        editor.set_helper(Some(Completion {
            names: completion_names(spec, catalog).await,
        }));
    }
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
        timer: false,
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
    fn tab_completes_commands_tables_columns_and_keywords() {
        let c = Completion {
            names: vec![
                "montant".into(),
                "pays".into(),
                "ventes".into(),
                "ventes_par_pays".into(),
            ],
        };
        assert_eq!(c.candidates(".sch", 4), (0, vec![".schema".to_string()]));
        assert_eq!(
            c.candidates("select * from ven", 17),
            (
                14,
                vec!["ventes".to_string(), "ventes_par_pays".to_string()]
            )
        );
        assert_eq!(
            c.candidates("select mon", 10),
            (7, vec!["montant".to_string()])
        );
        assert_eq!(c.candidates("SEL", 3), (0, vec!["SELECT".to_string()]));
        assert_eq!(c.candidates("sel", 3), (0, vec!["select".to_string()]));
        assert_eq!(c.candidates("select ", 7), (7, Vec::<String>::new()));
    }

    #[test]
    fn a_dot_inside_a_statement_is_sql() {
        let mut r = Reader::default();
        assert_eq!(r.push("SELECT a"), Input::More);
        assert_eq!(r.push(".5 AS x;"), Input::Sql("SELECT a\n.5 AS x".into()));
    }
}
