//! The `calsync` binary: CLI, configuration, logging, and the web server.
use app::ssr::cli::{self, Cli, Command, Failure};
use clap::Parser;
use std::process::ExitCode;

// Reading a big feed allocates and frees hundreds of thousands of small strings and touches
// tens of megabytes once: mimalloc does both with less work than glibc's malloc (measured in
// README "Benchmarks").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_sessions=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().flatten_event(true).with_current_span(true).init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match server::config::Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("calsync: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(config.log_json);
    server::domain::integrations::set_max_per_user(config.max_calendars_per_user);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let result: Result<(), Failure> = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve { addr: None, sandbox: false }) {
            Command::Serve { addr, sandbox } => {
                // `make demo` runs through cargo-leptos, which passes no arguments.
                let sandbox = sandbox || std::env::var("CALSYNC_SANDBOX").is_ok_and(|v| v.trim() == "1");
                app::ssr::serve::serve(config, addr, sandbox).await.map_err(|message| Failure { code: 1, message })
            }
            Command::Sandbox { addr, demo } => cli::run_sandbox(addr, demo).await,
            Command::Migrate => cli::run_migrate(config).await,
            Command::User(cmd) => cli::run_user(config, cmd).await,
            Command::Token(cmd) => cli::run_token(config, cmd).await,
            Command::Keys(cmd) => cli::run_keys(config, cmd).await,
            Command::Ical(cmd) => cli::run_ical(config, cmd).await,
            Command::Sync { integration, allow_mass_delete, .. } => cli::run_sync(config, integration, allow_mass_delete).await,
        }
    });
    // Whatever a feed reader on a blocking thread is still doing (bounded by its deadline), the
    // process does not wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("calsync: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
