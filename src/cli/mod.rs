//! The command line: one module per subcommand, each an Args struct and a `run`.

pub mod dashboard;
pub mod doctor;
pub mod history;
pub mod job_exec;
pub mod jobs;
pub mod optimize;
pub mod plan;
pub mod produce;
pub mod query;
pub mod run;
pub mod schedule;
pub mod schema;
pub mod serve;
pub mod status;
pub mod test;
pub mod topic;
pub mod vacuum;
pub mod validate;
pub mod watermark;

use std::path::PathBuf;

use crate::storage::Location;

use clap::{Parser, Subcommand, ValueEnum};

use crate::spec::{self, PipelineSpec, SpecError};

/// lakectl: a real-time sales lakehouse in one binary (Kafka → Delta Bronze → Silver).
#[derive(Debug, Parser)]
#[command(
    name = "lakectl",
    version,
    after_help = "Start here:\n  lakectl validate                       # check pipelines.yaml and jobs/\n  lakectl run bronze --until-caught-up   # Kafka → the bronze table, then stop\n  lakectl run silver                     # every job of jobs/\n  lakectl query \"SELECT count(*) FROM ventes\"\n  lakectl dashboard\n\nExit codes: 0 success; 1 runtime failure; 2 bad command line; 3 invalid spec; 4 Kafka error\n(unreachable broker, missing topic, data loss); 5 lake error (unreachable store, access\ndenied, corrupt log, missing lake or table); 6 another writer took over; 130 interrupted twice."
)]
pub struct Cli {
    /// The pipeline spec.
    #[arg(
        long,
        global = true,
        env = "LAKECTL_CONFIG",
        default_value = "pipelines.yaml"
    )]
    pub config: PathBuf,

    /// `--brokers`, `--lake`.
    #[command(flatten)]
    pub overrides: spec::Overrides,

    /// Log format (logs go to stderr; RUST_LOG sets the level).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check pipelines.yaml (and the job files): prints "ok" or every problem with file:line:col.
    #[command(
        after_help = "Examples:\n  lakectl validate\n  lakectl --config other/pipelines.yaml validate"
    )]
    Validate(validate::Args),
    /// Create or list Kafka topics.
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  lakectl topic create ventes_stream --partitions 3\n  lakectl topic list"
    )]
    Topic(topic::TopicCommand),
    /// Simulate sales into the Kafka topic.
    #[command(
        after_help = "Examples:\n  lakectl produce --rate 10                  # a live stream, Ctrl-C to stop\n  lakectl produce --count 5000 --rate max --clients 2000 --malformed-fraction 0.01"
    )]
    Produce(produce::Args),
    /// Run pipelines: `run bronze [NAME…]`, `run silver`, or `run JOB…`.
    #[command(
        after_help = "Examples:\n  lakectl run bronze --until-caught-up       # ingest what the topic holds, then stop\n  lakectl run bronze --worker 0/2           # one of two workers sharing the topic\n  lakectl run silver                        # every job, in dependency order\n  lakectl run ventes_par_pays --full-refresh"
    )]
    Run(run::Args),
    /// Where every pipeline, table and job stands: offsets, lag, watermark, sizes, freshness.
    #[command(
        after_help = "Examples:\n  lakectl status\n  lakectl status --json | jq '.pipelines[].lag'"
    )]
    Status(status::Args),
    /// SQL over the lake's Delta tables.
    #[command(
        after_help = "Examples:\n  lakectl query \"SELECT pays, round(sum(montant), 2) AS revenue FROM ventes GROUP BY pays\"\n  lakectl query \"SELECT * FROM ventes_par_pays\" --format csv --output pays.csv\n  lakectl query                             # the SQL prompt (.tables, .schema NAME, .help)"
    )]
    Query(query::Args),
    /// The sales analytics dashboard: KPIs, top clients, countries, segments, days, health.
    #[command(
        after_help = "Examples:\n  lakectl dashboard\n  lakectl dashboard --watch 5\n  lakectl dashboard --html dashboard.html"
    )]
    Dashboard(dashboard::Args),
    /// Check the setup: spec, broker, topics, lake, tables, offsets, disk. Exit 1 if a check fails.
    #[command(after_help = "Examples:\n  lakectl doctor\n  lakectl doctor --json")]
    Doctor(doctor::Args),
    /// Compact a table's small files (one commit, dataChange = false; safe while bronze runs).
    #[command(
        after_help = "Examples:\n  lakectl optimize ventes\n  lakectl optimize ventes --where \"jour = '2026-12-01'\" --target-size 64MiB"
    )]
    Optimize(optimize::Args),
    /// Delete files a table no longer references, once older than the retention.
    #[command(
        after_help = "Examples:\n  lakectl vacuum ventes --dry-run\n  lakectl vacuum ventes --retain 72h"
    )]
    Vacuum(vacuum::Args),
    /// A table's commits, newest first.
    #[command(
        after_help = "Examples:\n  lakectl history ventes --limit 5\n  lakectl history ventes_par_pays --json"
    )]
    History(history::Args),
    /// Show a silver job's Polars plan and what an incremental run would recompute.
    #[command(after_help = "Examples:\n  lakectl plan ventes_aggreges")]
    Plan(plan::Args),
    /// Print the JSON Schema of pipelines.yaml, a job file or a job-test file, for editors.
    ///
    /// The shipped YAML files point editors at the committed copies in `schemas/` with a
    /// `# yaml-language-server: $schema=…` first line (VS Code's YAML extension, Helix, Zed…).
    #[command(after_help = "Examples:\n  lakectl schema job > schemas/job.schema.json")]
    Schema(schema::Args),
    /// Run the job tests of `jobs/tests/*.yaml` in memory, through the jobs' real plans.
    ///
    /// Each test gives rows for the tables a job reads and the rows it must output; nothing
    /// touches the lake or Kafka. A failed test prints the expected rows missing from the
    /// output and the rows that came instead; any failure exits 1.
    #[command(after_help = "Examples:\n  lakectl test\n  lakectl test ventes_par_pays")]
    Test(test::Args),
    /// Run every bronze pipeline continuously and each job on its cron, until Ctrl-C/SIGTERM.
    ///
    /// Runs every bronze pipeline continuously and every job that has a `schedule` on its cron
    /// (in its `timezone`), until Ctrl-C or SIGTERM: then no new run starts, bronze finishes or
    /// abandons its batch, running jobs get `scheduler.grace_period` (30s by default) and are
    /// then stopped, and the process exits 0. A second signal exits at once (130); Delta commits
    /// are atomic, so no table is left half-written.
    ///
    /// Editing pipelines.yaml or a file of jobs/ applies the change without a restart; an
    /// invalid change is logged with file:line:col and the previous spec keeps running. Every run
    /// is recorded in the Delta table `_lakectl/runs` of the lake (`lakectl jobs` shows it).
    #[command(
        after_help = "Examples:\n  lakectl schedule\n  lakectl schedule --http 127.0.0.1:8080        # with the live dashboard and /metrics\n  lakectl schedule --http 127.0.0.1:9464 --no-bronze"
    )]
    Schedule(schedule::Args),
    /// Serve the live dashboard in the browser, its JSON and Prometheus metrics (read-only).
    ///
    /// Routes: / (the dashboard, updating itself), /api/dashboard, /api/status, /api/jobs
    /// (the JSON of `dashboard --json`, `status --json`, `jobs --json`), /api/events
    /// (server-sent events), /metrics, /healthz. It binds to loopback by default; another
    /// address needs --token.
    #[command(
        after_help = "Examples:\n  lakectl serve                              # http://127.0.0.1:8080/\n  LAKECTL_HTTP_TOKEN=$(openssl rand -hex 16) lakectl serve --addr 0.0.0.0:8080"
    )]
    Serve(serve::Args),
    /// The jobs: schedule, time zone, next three fire times, last run and its status.
    #[command(after_help = "Examples:\n  lakectl jobs\n  lakectl jobs --json")]
    Jobs(jobs::Args),
    /// Reset a bronze pipeline's event-time watermark.
    #[command(subcommand)]
    #[command(after_help = "Examples:\n  lakectl watermark reset ventes")]
    Watermark(watermark::WatermarkCommand),
    /// Run one job for the scheduler (internal: request on stdin).
    #[command(hide = true)]
    JobExec(job_exec::Args),
}

/// The global flags every subcommand uses to find its spec.
#[derive(Debug, Clone)]
pub struct Globals {
    /// `--config`.
    pub config: PathBuf,
    /// `--brokers`, `--lake`.
    pub overrides: spec::Overrides,
}

impl Cli {
    /// Parses the process's arguments (exits with clap's message and code 2 on a bad command
    /// line). The global flags are listed once, in `lakectl --help`: each subcommand accepts them
    /// but its help names them in one line instead of repeating them.
    pub fn parse_args() -> Self {
        use clap::{CommandFactory, FromArgMatches};
        let matches = with_globals_hidden(Self::command()).get_matches();
        match Self::from_arg_matches(&matches) {
            Ok(cli) => cli,
            Err(e) => e.exit(),
        }
    }

    /// The global flags.
    pub fn globals(&self) -> Globals {
        Globals {
            config: find_spec(&self.config),
            overrides: self.overrides.clone(),
        }
    }
}

/// Gives every subcommand (and theirs) a hidden copy of the global flags: clap then does not
/// propagate its visible one (it skips an argument a subcommand already has), values still
/// reach the top level, and the subcommand's help says where the flags are described.
fn with_globals_hidden(cmd: clap::Command) -> clap::Command {
    fn hide(sub: clap::Command, globals: &[clap::Arg], names: &str) -> clap::Command {
        let mut sub = globals
            .iter()
            .fold(sub, |sub, a| sub.arg(a.clone().hide(true)));
        let note = format!("Global options ({names}): see `lakectl --help`.");
        let after = match sub.get_after_help() {
            Some(h) => format!("{h}\n\n{note}"),
            None => note,
        };
        sub = sub.after_help(after);
        let children: Vec<String> = sub
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        for name in children {
            sub = sub.mut_subcommand(name, |c| hide(c, globals, names));
        }
        sub
    }
    let globals: Vec<clap::Arg> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    let names = globals
        .iter()
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect::<Vec<_>>()
        .join(", ");
    let subs: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    subs.into_iter().fold(cmd, |cmd, name| {
        cmd.mut_subcommand(name, |c| hide(c, &globals, &names))
    })
}

/// The spec file `config` names. The default `pipelines.yaml`, when the current folder has
/// none, is looked for in its parents, nearest first (as git finds `.git`): a command run from
/// `jobs/` finds `../pipelines.yaml`. Paths in the spec are relative to its own folder.
fn find_spec(config: &std::path::Path) -> PathBuf {
    if config != std::path::Path::new("pipelines.yaml") || config.exists() {
        return config.to_path_buf();
    }
    let Ok(cwd) = std::env::current_dir() else {
        return config.to_path_buf();
    };
    cwd.ancestors()
        .skip(1)
        .map(|d| d.join(config))
        .find(|p| p.is_file())
        .unwrap_or_else(|| config.to_path_buf())
}

/// The arguments of a report command whose only option is `--json` (`status`, `jobs`,
/// `doctor`).
#[derive(Debug, clap::Args)]
pub struct JsonOnly {
    /// Print the report as one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Prints `value` as pretty JSON on stdout when `json`, else runs `text`.
pub fn print_report<T: serde::Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce(&T),
) -> anyhow::Result<()> {
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(value)?);
    } else {
        text(value);
    }
    Ok(())
}

/// Loads the spec named by `--config`, with `--brokers` and `--lake` applied.
pub fn load_spec(g: &Globals) -> Result<PipelineSpec, SpecError> {
    spec::load_pipeline(&g.config)?.with_overrides(&g.overrides)
}

/// Loads the spec and checks every job against it: what most commands start with.
pub fn load_checked(g: &Globals) -> anyhow::Result<(PipelineSpec, crate::silver::CheckedJobs)> {
    let spec = load_spec(g)?;
    let checked = crate::silver::load_and_check(&spec)?;
    Ok((spec, checked))
}

/// Loads the spec and the jobs, then resolves `reference` with [`table_path`]: what the
/// commands on one table (`history`, `optimize`, `vacuum`) start with.
pub async fn table_of(g: &Globals, reference: &str) -> anyhow::Result<Location> {
    let (spec, checked) = load_checked(g)?;
    table_path(&spec, &checked, reference).await
}

/// The location of the table `reference` names: a catalog name (pipeline,
/// `<pipeline>_quarantine`, job), a path relative to the lake, a path's last segment, or a
/// Delta table's folder or URL (reached with the lake's storage options).
pub async fn table_path(
    spec: &PipelineSpec,
    checked: &crate::silver::CheckedJobs,
    reference: &str,
) -> anyhow::Result<Location> {
    if let Some(t) = checked.catalog.resolve(reference) {
        return Ok(spec.table_path(&t.path));
    }
    if let Ok(loc) = spec.location(reference) {
        if crate::lake::table::exists(&loc).await? {
            return Ok(loc);
        }
    }
    let known: Vec<String> = checked
        .catalog
        .sql_names()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    anyhow::bail!(
        "unknown table `{reference}`\n    hint: tables are {}; or give a Delta table's folder or URL",
        known.join(", ")
    )
}

/// The exit code of an error: that of the outermost cause lakectl knows, else
/// [`crate::exit::FAILURE`]. Each stage's error type knows its own code.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    use crate::exit::ExitCode as _;
    for cause in e.chain() {
        macro_rules! known {
            ($($t:ty),*) => {$(
                if let Some(x) = cause.downcast_ref::<$t>() {
                    return x.exit_code();
                }
            )*};
        }
        known!(
            crate::spec::SpecError,
            crate::kafka::KafkaError,
            crate::lake::LakeError,
            crate::bronze::BronzeError,
            crate::silver::SilverError,
            crate::query::QueryError,
            crate::serve::ServeError
        );
    }
    crate::exit::FAILURE
}
