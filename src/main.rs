//! The `lakectl` binary: parse the command line, set up tracing, dispatch.

use std::process::ExitCode;

use lakectl::cli::{self, Cli, Command, LogFormat};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse_args();
    init_tracing(cli.log_format);
    lakectl::lake::quiet_caught_panics();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(lakectl::exit::FAILURE);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Not eprintln!: it panics when stderr is a closed pipe.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "error: {}",
                lakectl::redact::text(&message(&e))
            );
            ExitCode::from(cli::exit_code(&e))
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let g = cli.globals();
    let config = &g;
    match &cli.command {
        Command::Validate(a) => cli::validate::run(config, a).await?,
        Command::Topic(c) => cli::topic::run(config, c, lakectl::shutdown::install()).await?,
        Command::Produce(a) => cli::produce::run(config, a, lakectl::shutdown::install()).await?,
        Command::Run(a) => cli::run::run(config, a, lakectl::shutdown::install()).await?,
        Command::Plan(a) => cli::plan::run(config, a).await?,
        Command::Test(a) => cli::test::run(config, a)?,
        Command::Schema(a) => cli::schema::run(a)?,
        Command::Query(a) => cli::query::run(config, a).await?,
        Command::Status(a) => cli::status::run(config, a).await?,
        Command::Dashboard(a) => {
            cli::dashboard::run(config, a, lakectl::shutdown::install()).await?
        }
        Command::Doctor(a) => cli::doctor::run(config, a).await?,
        Command::Optimize(a) => cli::optimize::run(config, a).await?,
        Command::Vacuum(a) => cli::vacuum::run(config, a).await?,
        Command::History(a) => cli::history::run(config, a).await?,
        Command::Schedule(a) => cli::schedule::run(config, a, lakectl::shutdown::install()).await?,
        Command::Serve(a) => cli::serve::run(config, a, lakectl::shutdown::install()).await?,
        Command::Jobs(a) => cli::jobs::run(config, a).await?,
        Command::Watermark(c) => cli::watermark::run(config, c).await?,
        Command::JobExec(a) => cli::job_exec::run(a).await?,
    }
    Ok(())
}

fn init_tracing(format: LogFormat) {
    // deltalake warns of every binary column it keeps no statistics for (quarantine raw_bytes).
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("lakectl=info,librdkafka=warn,delta_kernel=off,deltalake_core::writer::stats=error,warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(lakectl::redact::stderr)
        .with_ansi(lakectl::term::stderr_is_tty())
        .with_target(false);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// The error and its causes, each once: lakectl's errors already quote their source, so
/// a cause is only appended when its text is not part of the message yet.
fn message(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg
}
