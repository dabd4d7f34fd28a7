//! `abrs read CONNECTOR --config CONFIG [--streams A,B|'*'] [--cache FILE.duckdb|URL]
//! [--write-strategy auto|append|merge|replace] [--full-refresh]`: load a source into a cache.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::output::thousands;
use airbyte as ab;
use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::connector_args::{ConnectorArgs, parse_write_strategy, select_streams};

/// Arguments of `abrs read`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    connector: ConnectorArgs,
    /// The connector config: a path to a JSON or YAML file, or inline JSON/YAML starting with
    /// `{` (default: `{}`).
    #[arg(long, short = 'c', value_name = "CONFIG")]
    config: Option<String>,
    /// The streams to read, comma-separated, or `*` for all (the default).
    #[arg(long, value_name = "A,B|*", default_value = "*")]
    streams: String,
    /// The cache to load into: a DuckDB file, or a PostgreSQL database as
    /// `postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?schema=S&table_prefix=P]` (password
    /// also from PGPASSWORD; PASSWORD may be `secret_reference::NAME`; schema default
    /// `airbyte_raw`). Default: the default cache,
    /// `<AIRBYTE_CACHE_ROOT or .cache>/default_cache/default_cache.duckdb`.
    #[arg(long, value_name = "FILE.duckdb|URL")]
    cache: Option<String>,
    /// A prefix for the cache's table names (caches with different prefixes share a file);
    /// overrides a URL's `table_prefix`.
    #[arg(long, value_name = "PREFIX", default_value = "")]
    table_prefix: String,
    /// auto (merge with a primary key, else append with a cursor, else replace), append,
    /// merge or replace.
    #[arg(long, value_name = "STRATEGY", default_value = "auto")]
    write_strategy: String,
    /// Read everything again: no state is sent to the connector.
    #[arg(long)]
    full_refresh: bool,
    /// Do not validate the config against the connector's spec first (saves one `spec` run).
    #[arg(long)]
    skip_validation: bool,
}

/// Runs `abrs read`.
pub fn run(args: Args) -> Result<()> {
    let strategy = parse_write_strategy(&args.write_strategy)?;
    let config = match &args.config {
        Some(text) => crate::connector_args::load_config(text)?,
        None => serde_json::json!({}),
    };
    let mut source = args.connector.source(Some(config))?;
    select_streams(&mut source, &args.streams)?;
    let cache = parse_cache(args.cache.as_deref(), &args.table_prefix)?;

    let reporter = Reporter::new();
    let on_progress: ab::ProgressCallback = {
        let reporter = Arc::clone(&reporter);
        Arc::new(move |p: &ab::ReadProgress| reporter.update(p))
    };
    // Connectors run in their own process group, so Ctrl-C reaches only us: stop them too.
    let guard = Arc::new(Mutex::new(None));
    let on_connector_started: ab::ConnectorStartedCallback = {
        let guard = Arc::clone(&guard);
        Arc::new(move |pid| {
            *guard.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(crate::interrupt::guard_connector(pid));
        })
    };
    let options = ab::ReadOptions {
        on_connector_started: Some(on_connector_started),
        write_strategy: strategy,
        force_full_refresh: args.full_refresh,
        skip_validation: args.skip_validation,
        on_progress: Some(on_progress),
        ..Default::default()
    };
    let result = source.read(&cache, options);
    guard.lock().unwrap_or_else(PoisonError::into_inner).take();
    reporter.finish();
    let result = result?;
    print_summary(&result, &cache);
    Ok(())
}

/// Progress on stderr: a live line on a terminal, plain lines every 10 s otherwise (or when `CI`
/// or `NO_LIVE_PROGRESS` is set, as PyAirbyte does).
struct Reporter {
    bar: Option<ProgressBar>,
    last_plain: Mutex<Instant>,
}

const PLAIN_INTERVAL: Duration = Duration::from_secs(10);

fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

impl Reporter {
    fn new() -> Arc<Self> {
        let live =
            std::io::stderr().is_terminal() && !env_set("CI") && !env_set("NO_LIVE_PROGRESS");
        let bar = live.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message("starting the connector");
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Arc::new(Self {
            bar,
            last_plain: Mutex::new(Instant::now()),
        })
    }

    fn update(&self, p: &ab::ReadProgress) {
        let line = progress_line(p);
        match &self.bar {
            Some(bar) => bar.set_message(line),
            None if !p.finished => {
                let mut last = self
                    .last_plain
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if last.elapsed() >= PLAIN_INTERVAL {
                    *last = Instant::now();
                    eprintln!("read: {line}");
                }
            }
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn progress_line(p: &ab::ReadProgress) -> String {
    let streams: Vec<String> = p
        .streams
        .iter()
        .map(|(name, n)| format!("{name} {}", thousands(*n)))
        .collect();
    format!(
        "{} records, {:.0} records/s, {:.1} MB [{}] ({:.1} s)",
        thousands(p.records),
        p.records_per_second(),
        p.bytes as f64 / 1e6,
        streams.join(", "),
        p.elapsed.as_secs_f64()
    )
}

/// `PGPASSWORD`, when set and not empty: the password of a PostgreSQL URL without one.
pub(crate) fn pg_password() -> Option<ab::Password> {
    std::env::var("PGPASSWORD")
        .ok()
        .filter(|p| !p.is_empty())
        .map(ab::Password::new)
}

/// The cache of a `--cache` value (a DuckDB file or a PostgreSQL URL; none: the default
/// cache) with `--table-prefix` (when not empty, it overrides a URL's `table_prefix`). A URL
/// without a password takes `PGPASSWORD`.
pub(crate) fn parse_cache(spec: Option<&str>, table_prefix: &str) -> Result<ab::Cache> {
    let cache = match spec {
        None => ab::Cache::DuckDb(ab::default_cache()),
        Some(spec) => {
            ab::hydrate_cache(ab::Cache::from_spec(spec, pg_password()).map_err(ab::Error::from)?)?
        }
    };
    Ok(match cache {
        ab::Cache::DuckDb(c) => ab::Cache::DuckDb(c.with_table_prefix(table_prefix)),
        ab::Cache::Postgres(c) if !table_prefix.is_empty() => {
            ab::Cache::Postgres(c.with_table_prefix(table_prefix))
        }
        other => other,
    })
}

fn print_summary(result: &ab::ReadResult, cache: &ab::Cache) {
    let secs = result.elapsed().as_secs_f64();
    let rate = if secs > 0.0 {
        result.processed_records() as f64 / secs
    } else {
        0.0
    };
    let width = result
        .stream_names()
        .map(str::len)
        .max()
        .unwrap_or(6)
        .max(6);
    eprintln!(
        "{:<width$}  {:>12}  {:<8}  {:>7}  table",
        "stream", "records", "method", "nulled"
    );
    for (name, s) in result.streams() {
        eprintln!(
            "{:<width$}  {:>12}  {:<8}  {:>7}  {}",
            name,
            thousands(s.records),
            s.method.as_str(),
            thousands(s.nulled_values),
            s.table
        );
    }
    let load = result.load_summary();
    eprintln!(
        "Completed `{} -> {}` sync: {} records in {:.2} s ({:.0} records/s), {} stream(s), {} state \
         message(s), {} commit(s).",
        result.source_name(),
        cache.describe(),
        thousands(result.processed_records()),
        secs,
        rate,
        result.len(),
        load.states,
        load.commits
    );
}
