//! `abrs`: the airbyte-rs command line.
//!
//! Exit codes: 0 success; 1 a connector or its data failed (check failed, connector error,
//! invalid config, install failure); 2 usage (bad arguments, unknown stream, unreadable
//! `--config`, missing executable). Data goes to stdout; progress, logs and errors go to stderr,
//! errors as one paragraph saying what failed, why, and what to do.

mod commands;
mod connector_args;
mod interrupt;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// airbyte-rs: run Airbyte connectors (PyAirbyte in Rust).
#[derive(Debug, Parser)]
#[command(name = "abrs", version, about, long_about = None, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a connector's spec (what its config accepts).
    Spec(commands::spec::Args),
    /// Check that a config works (the connector's `check`).
    Check(commands::check::Args),
    /// List the streams a source offers (the connector's `discover`).
    Discover(commands::discover::Args),
    /// Print one stream's records, one JSON object per line on stdout.
    Records(commands::records::Args),
    /// Install a connector (Python connectors into `.venv-<name>`).
    Install(commands::install::Args),
    /// Print one stream's records as documents for LLM pipelines (Markdown or JSON lines),
    /// from a connector or a cache (PyAirbyte's `get_documents` / `to_documents`).
    Documents(commands::documents::Args),
    /// Print the spec (YAML, on stderr); with --config, validate it and run check
    /// (as `pyab validate`).
    Validate(commands::validate::Args),
    /// Read streams into a cache (DuckDB by default), with incremental state.
    Read(commands::read::Args),
    /// Run SQL over a cache and print the result.
    Query(commands::query::Args),
    /// Move a source's streams into a destination, incrementally, with the destination's
    /// confirmed state kept in the cache (as `pyab sync`, which is full refresh only).
    Sync(commands::sync::Args),
    /// Send PyAirbyte's smoke-test scenarios to a destination and report per scenario what it
    /// accepted (as `pyab destination-smoke-test`).
    DestinationSmokeTest(commands::destination_smoke_test::Args),
    /// Measure a read: the built-in synthetic source (or --source) into a temporary DuckDB
    /// file, or into nothing with --destination none (as `pyab benchmark`).
    Benchmark(commands::benchmark::Args),
    /// The built-in synthetic source used by `abrs benchmark` (an Airbyte connector).
    #[command(hide = true)]
    BenchmarkSource(commands::benchmark_source::Args),
    /// The built-in no-op destination (`--destination noop`), as an Airbyte connector.
    #[command(hide = true)]
    NoopDestination(commands::noop_destination::Args),
    /// Tools for people who write manifests (as the Connector Builder): `resolve`.
    Manifest(commands::manifest::Args),
    /// List the connectors of the registry (bundled, so it works offline) and how each installs.
    Connectors(commands::connectors::Args),
    /// Print everything the registry says of one connector.
    ConnectorInfo(commands::connector_info::Args),
    /// Run a declarative manifest natively, speaking the protocol on stdout exactly like the
    /// CDK's `source-declarative-manifest` (a drop-in for it).
    #[command(alias = "declarative")]
    SourceDeclarativeManifest(commands::source_declarative_manifest::Args),
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Spec(args) => commands::spec::run(args),
        Command::Check(args) => commands::check::run(args),
        Command::Discover(args) => commands::discover::run(args),
        Command::Records(args) => commands::records::run(args),
        Command::Install(args) => commands::install::run(args),
        Command::Documents(args) => commands::documents::run(args),
        Command::Validate(args) => commands::validate::run(args),
        Command::Read(args) => commands::read::run(args),
        Command::Query(args) => commands::query::run(args),
        Command::Sync(args) => commands::sync::run(args),
        Command::DestinationSmokeTest(args) => commands::destination_smoke_test::run(args),
        Command::Benchmark(args) => commands::benchmark::run(args),
        Command::BenchmarkSource(args) => commands::benchmark_source::run(args),
        Command::NoopDestination(args) => commands::noop_destination::run(args),
        Command::Manifest(args) => commands::manifest::run(args),
        Command::Connectors(args) => commands::connectors::run(args),
        Command::ConnectorInfo(args) => commands::connector_info::run(args),
        Command::SourceDeclarativeManifest(args) => {
            commands::source_declarative_manifest::run(args)
        }
    }
}

fn init_logging() {
    use tracing_subscriber::prelude::*;
    use tracing_subscriber::{EnvFilter, fmt};
    let stderr_filter = EnvFilter::try_from_env("ABRS_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    let stderr = fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .with_filter(stderr_filter);
    // The global log file (PyAirbyte's layout) gets our own info-level events.
    let file_filter = airbyte::logs::GlobalLogLayer::default_filter();
    tracing_subscriber::registry()
        .with(stderr)
        .with(airbyte::logs::GlobalLogLayer::from_env().with_filter(file_filter))
        .init();
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help/--version print to stdout and succeed; real parse errors are usage (2).
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            output::print_error(&err);
            ExitCode::from(output::exit_code(&err))
        }
    }
}
