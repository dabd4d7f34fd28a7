//! `abrs sync --source SRC --destination DST [...]`: a source into a destination, incremental
//! by default (unlike `pyab sync`, which is full refresh only), with state in the default cache.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use airbyte as ab;
use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::connector_args::{destination, parse_write_strategy, select_streams};
use crate::output::thousands;

/// Arguments of `abrs sync`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The source: a connector name (`source-faker`) or a path to a local executable.
    #[arg(long, value_name = "SRC")]
    source: String,
    /// The source's config: a JSON/YAML file, or inline JSON/YAML starting with `{`
    /// (default `{}`).
    #[arg(long, value_name = "CONFIG", alias = "Sconfig")]
    source_config: Option<String>,
    /// The destination: a connector name (`destination-duckdb`), a path to a local
    /// executable, or `noop` (built in: accepts everything, keeps nothing).
    #[arg(long, value_name = "DST")]
    destination: String,
    /// The destination's config, as --source-config (default `{}`).
    #[arg(long, value_name = "CONFIG", alias = "Dconfig")]
    destination_config: Option<String>,
    /// The streams, comma-separated, or `*` for all (the default).
    #[arg(long, value_name = "A,B|*", default_value = "*")]
    streams: String,
    /// `default`: read into the default DuckDB cache, then send what the destination has not
    /// confirmed yet; `none`: pass the source's records straight through; or a DuckDB file or
    /// a `postgresql://USER[:PASSWORD]@HOST:PORT/DB?schema=S` URL (password also from
    /// PGPASSWORD or `secret_reference::NAME`).
    #[arg(
        long,
        value_name = "none|default|FILE.duckdb|URL",
        default_value = "default"
    )]
    cache: String,
    /// Where the destination's confirmed state is kept: `default` (the cache, or the default
    /// cache with --cache none), `none` (no state: every sync starts over), a DuckDB file or a
    /// PostgreSQL URL.
    #[arg(
        long,
        value_name = "default|none|FILE.duckdb|URL",
        default_value = "default"
    )]
    state_cache: String,
    /// auto (merge with a primary key, else append with a cursor, else replace), append,
    /// merge or replace: decides each stream's destination sync mode.
    #[arg(long, value_name = "STRATEGY", default_value = "auto")]
    write_strategy: String,
    /// Read and send everything again, ignoring saved state.
    #[arg(long)]
    full_refresh: bool,
    /// Install the source from this pip requirement (package spec, URL or path).
    #[arg(long, value_name = "URL", alias = "Spip-url")]
    source_pip_url: Option<String>,
    /// A declarative (YAML) manifest that defines the source (run by airbyte-cdk).
    #[arg(long, value_name = "MANIFEST.yaml")]
    source_manifest: Option<PathBuf>,
    /// Install the destination from this pip requirement.
    #[arg(long, value_name = "URL", alias = "Dpip-url")]
    destination_pip_url: Option<String>,
    /// A requirement that overrides the destination's own pins (uv `--override`); repeatable.
    #[arg(long, value_name = "REQ")]
    destination_pip_override: Vec<String>,
    /// Run the source in Docker (without IMAGE: `airbyte/<source>`).
    #[arg(long, value_name = "IMAGE", num_args = 0..=1, default_missing_value = "true")]
    source_docker_image: Option<String>,
    /// Run the destination in Docker (without IMAGE: `airbyte/<destination>`).
    #[arg(long, value_name = "IMAGE", num_args = 0..=1, default_missing_value = "true")]
    destination_docker_image: Option<String>,
    /// Run both connectors as Python: `true`, `false` (= Docker), an interpreter or a version.
    #[arg(long, value_name = "X", num_args = 0..=1, default_missing_value = "true")]
    use_python: Option<String>,
    /// Where to make the connectors' `.venv-<name>` directories.
    #[arg(long, value_name = "DIR")]
    install_root: Option<PathBuf>,
    /// Give up on a destination that reads none of its input for this many seconds
    /// (0: wait for ever).
    #[arg(long, value_name = "SECONDS", default_value = "600")]
    stall_timeout: u64,
    /// Print the result as one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

/// Straight through, records pass from pipe to pipe in a few reused 256 KB buffers. glibc's
/// defaults only spread those over more memory: one malloc arena per thread (up to 8 per core),
/// and a threshold for `mmap`ed blocks that rises after the first free, after which such
/// buffers stay in the heaps when freed. Two arenas and a fixed 128 KB threshold keep a
/// straight-through sync 1–2 MB smaller and steadier (docs/PERFORMANCE.md); reads into a cache
/// keep the defaults, which DuckDB's loading threads use.
fn lean_malloc() {
    // SAFETY: called before this command starts any thread; mallopt only sets tunables.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

fn cache_choice(text: &str) -> Result<ab::CacheChoice> {
    Ok(match text.trim() {
        "" | "default" => ab::CacheChoice::Default,
        "none" | "false" => ab::CacheChoice::None,
        spec => ab::Cache::from_spec(spec, crate::commands::read::pg_password())
            .map_err(ab::Error::from)?
            .into(),
    })
}

/// Runs `abrs sync`.
pub fn run(args: Args) -> Result<()> {
    if matches!(args.cache.trim(), "none" | "false") {
        lean_malloc();
    }
    let strategy = parse_write_strategy(&args.write_strategy)?;
    let use_python = args.use_python.as_deref().map(ab::UsePython::parse);
    let load = |c: &Option<String>| -> Result<serde_json::Value> {
        Ok(match c {
            Some(text) => crate::connector_args::load_config(text)?,
            None => json!({}),
        })
    };
    let source_options = ab::SourceOptions {
        pip_url: args.source_pip_url.clone(),
        docker_image: args.source_docker_image.clone(),
        use_python: use_python.clone(),
        install_root: args.install_root.clone(),
        source_manifest: args.source_manifest.clone().map(ab::SourceManifest::Path),
        ..Default::default()
    };
    let spinner = crate::output::spinner(format!("Preparing connector {}", args.source));
    let source = ab::get_source(
        &args.source,
        Some(load(&args.source_config)?),
        source_options,
    );
    spinner.finish_and_clear();
    let mut source = source?;
    select_streams(&mut source, &args.streams)?;
    let destination = destination(
        &args.destination,
        Some(load(&args.destination_config)?),
        ab::DestinationOptions {
            pip_url: args.destination_pip_url.clone(),
            pip_overrides: args.destination_pip_override.clone(),
            docker_image: args.destination_docker_image.clone(),
            use_python,
            install_root: args.install_root.clone(),
            ..Default::default()
        },
    )?;

    let bar = if std::io::stderr().is_terminal() && !args.json {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Some(bar)
    } else {
        None
    };
    let on_progress: Option<ab::WriteProgressCallback> = bar.clone().map(|bar| {
        Arc::new(move |p: &ab::WriteProgress| {
            bar.set_message(format!(
                "{} records sent, {} states confirmed",
                thousands(p.records_sent),
                p.states_confirmed
            ));
        }) as ab::WriteProgressCallback
    });
    // Connectors run in their own process groups, so Ctrl-C reaches only us: the first one
    // stops the source, and the write ends as after a source failure (the destination is told
    // the streams are incomplete and commits what it had); a second one ends abrs at once.
    let guard = Arc::new(std::sync::Mutex::new(None));
    let on_source_started: ab::ConnectorStartedCallback = {
        let guard = Arc::clone(&guard);
        Arc::new(move |pid| {
            *guard
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some(crate::interrupt::guard_sync_source(pid));
        })
    };
    let result = destination.write(
        &source,
        ab::WriteOptions {
            streams: None,
            cache: cache_choice(&args.cache)?,
            state_cache: cache_choice(&args.state_cache)?,
            write_strategy: strategy,
            force_full_refresh: args.full_refresh,
            stall_timeout: (args.stall_timeout > 0)
                .then(|| Duration::from_secs(args.stall_timeout)),
            on_progress,
            on_source_started: Some(on_source_started),
        },
    );
    drop(guard);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let result = result?;
    if args.json {
        println!("{}", result_json(&result));
        return Ok(());
    }
    let committed = match result.committed_records() {
        Some(n) => format!("{} committed", thousands(n)),
        None => "the destination reports no committed counts".to_string(),
    };
    eprintln!(
        "Synced `{}` to `{}`: {} records sent ({committed}) in {:.2} s.",
        result.source_name(),
        result.destination_name(),
        thousands(result.processed_records()),
        result.elapsed().as_secs_f64()
    );
    for (name, s) in result.streams() {
        let committed = s
            .records_committed
            .map(|n| format!(", {} committed", thousands(n)))
            .unwrap_or_default();
        eprintln!(
            "  {name}: {} sent{committed}, {} state(s) confirmed",
            thousands(s.records_sent),
            s.states_confirmed
        );
    }
    for w in result.warnings() {
        eprintln!("Warning: {w}");
    }
    Ok(())
}

fn result_json(result: &ab::WriteResult) -> serde_json::Value {
    let streams: serde_json::Map<String, serde_json::Value> = result
        .streams()
        .iter()
        .map(|(name, s)| {
            (
                name.clone(),
                json!({
                    "records_sent": s.records_sent,
                    "records_committed": s.records_committed,
                    "states_confirmed": s.states_confirmed,
                }),
            )
        })
        .collect();
    json!({
        "source": result.source_name(),
        "destination": result.destination_name(),
        "records_sent": result.processed_records(),
        "records_committed": result.committed_records(),
        "streams": streams,
        "seconds": result.elapsed().as_secs_f64(),
        "warnings": result.warnings(),
        "log_file": result.log_file().map(|p| p.display().to_string()),
    })
}
