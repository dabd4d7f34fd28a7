//! `abrs benchmark [--source CONNECTOR] [--num-records 5e5] [--streams '*'] [--cache FILE.duckdb]
//! [--destination none] [--config CONFIG] [--json]`: measure a read (as `pyab benchmark`).
//!
//! Without `--source`, the built-in synthetic source (`abrs benchmark-source`, see
//! [`super::benchmark_source`]) runs as a real subprocess speaking the Airbyte protocol, so the
//! path measured is the one every connector takes. By default the records are loaded into a
//! fresh temporary DuckDB file (or `--cache`) with `Source::read`; with `--destination none`
//! there is no cache: every line is decoded (RECORD envelopes parsed, each record's `data`
//! checked to be a well-formed JSON object, other messages fully parsed) and dropped, which
//! measures the read path alone.
//!
//! The report goes to stderr (or, with `--json`, one JSON object to stdout): records, time,
//! records/s, MB of connector output and MB/s, peak memory of abrs (VmHWM) and of its children
//! (the connector), and the phases that can be seen from outside the loader.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::output::thousands;
use ab::connectors::{ConnectorError, Flow, PathExecutor};
use ab::protocol::{Decoded, MessageType};
use airbyte as ab;
use anyhow::{Context, Result, anyhow};
use serde_json::{Value, json};

use super::benchmark_source;
use crate::connector_args::{RunArgs, parse_write_strategy, select_streams};

/// The name the built-in source runs under (its log file is named after it).
const BUILTIN_NAME: &str = "source-abrs-benchmark";
/// Records the built-in source emits by default (`pyab benchmark --num-records 5e5`).
const DEFAULT_RECORDS: u64 = 500_000;
/// Interval of the plain progress lines on stderr.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Arguments of `abrs benchmark`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The source to measure: a connector name or a path to an executable (default: the
    /// built-in synthetic source, stream `bench`, run as a subprocess).
    #[arg(long, value_name = "CONNECTOR")]
    source: Option<String>,
    /// Records the built-in source emits: `500000`, `5e5` or `1_000_000` (default 5e5). With
    /// --source, the source's config decides.
    #[arg(long, value_name = "N", value_parser = parse_count)]
    num_records: Option<u64>,
    /// The streams to read, comma-separated, or `*` for all.
    #[arg(long, value_name = "A,B|*", default_value = "*")]
    streams: String,
    /// The DuckDB file to load into (default: a fresh temporary file, removed afterwards).
    #[arg(long, value_name = "FILE.duckdb", conflicts_with = "destination")]
    cache: Option<PathBuf>,
    /// `none`: no cache; decode every message and drop it (measures the read path alone).
    /// `noop`: the built-in no-op destination, a second process fed through a pipe; or any
    /// destination connector (name or path), written to straight from the source (no cache,
    /// no state, as `pyab benchmark`).
    #[arg(long, value_name = "none|noop|DST")]
    destination: Option<String>,
    /// The destination's config (with --destination DST): a JSON/YAML file or inline JSON/YAML.
    #[arg(long, value_name = "CONFIG")]
    destination_config: Option<String>,
    /// The source's config: a JSON/YAML file or inline JSON/YAML starting with `{`. For the
    /// built-in source: `{"num_records": N, "seed": S}` (--num-records wins).
    #[arg(long, short = 'c', value_name = "CONFIG")]
    config: Option<String>,
    /// auto (merge with a primary key, else append), append, merge or replace.
    #[arg(long, value_name = "STRATEGY", default_value = "auto")]
    write_strategy: String,
    /// Print the result as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    run: RunArgs,
}

/// Parses a record count: `500000`, `1_000_000`, `5e5`, `2.5e6` (a whole, non-negative number).
pub fn parse_count(text: &str) -> std::result::Result<u64, String> {
    let bad = || {
        format!(
            "`{text}` is not a number of records; use a whole number such as 500000, 5e5 or 1_000_000"
        )
    };
    let cleaned: String = text.trim().chars().filter(|c| *c != '_').collect();
    if cleaned.is_empty() {
        return Err(bad());
    }
    if cleaned.bytes().all(|b| b.is_ascii_digit()) {
        return cleaned.parse::<u64>().map_err(|_| bad());
    }
    // Only plain decimal/scientific notation: no `inf`, `nan` or hex.
    if !cleaned
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return Err(bad());
    }
    let value: f64 = cleaned.parse().map_err(|_| bad())?;
    if value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value < 9.0e18 {
        Ok(value as u64)
    } else {
        Err(bad())
    }
}

/// What was measured.
struct Measurement {
    source: String,
    builtin: bool,
    destination: String,
    cache: Option<PathBuf>,
    cache_kept: bool,
    write_strategy: Option<String>,
    streams: BTreeMap<String, u64>,
    records: u64,
    cache_rows: Option<u64>,
    states: u64,
    commits: Option<u64>,
    bytes: u64,
    unparsable_lines: u64,
    /// Connector start to the end (last commit, or EOF without a cache).
    read: Duration,
    /// Everything, set-up included.
    total: Duration,
    /// Before the connector's `read` started: spec, discover, config validation, cache open.
    setup: Duration,
    /// The connector running, until EOF and exit (decode, parse and load run meanwhile).
    connector: Duration,
    /// After the connector's EOF: final flush, merge and commit (cache only).
    finish: Option<Duration>,
    /// The cache loader's own measurements (cache only).
    load: Option<ab::LoadTimings>,
}

impl Measurement {
    fn records_per_second(&self) -> f64 {
        per_second(self.records as f64, self.read)
    }

    fn mb(&self) -> f64 {
        self.bytes as f64 / 1e6
    }

    fn to_json(&self, memory: &Memory) -> Value {
        json!({
            "source": self.source,
            "builtin_source": self.builtin,
            "destination": self.destination,
            "cache": self.cache.as_ref().map(|p| p.display().to_string()),
            "cache_kept": self.cache_kept,
            "write_strategy": self.write_strategy,
            "streams": self.streams,
            "records": self.records,
            "cache_rows": self.cache_rows,
            "states": self.states,
            "commits": self.commits,
            "bytes": self.bytes,
            "mb": round3(self.mb()),
            "unparsable_lines": self.unparsable_lines,
            "read_seconds": round3(self.read.as_secs_f64()),
            "records_per_second": self.records_per_second().round(),
            "mb_per_second": round3(per_second(self.mb(), self.read)),
            "total_seconds": round3(self.total.as_secs_f64()),
            "phases": {
                "setup_seconds": round3(self.setup.as_secs_f64()),
                "connector_seconds": round3(self.connector.as_secs_f64()),
                "finish_seconds": self.finish.map(|d| round3(d.as_secs_f64())),
                "parse_cpu_seconds": self.load.as_ref().and_then(|l| l.parse_cpu).map(secs),
                "waited_for_database_seconds":
                    self.load.as_ref().map(|l| secs(l.waited_for_database)),
                "insert_seconds": self.load.as_ref().map(|l| secs(l.insert)),
                "commit_seconds": self.load.as_ref().map(|l| secs(l.commit)),
                "database_cpu_seconds": self.load.as_ref().and_then(|l| l.database_cpu).map(secs),
            },
            "peak_rss_mb": memory.own_kib.map(kib_to_mb),
            "connector_peak_rss_mb": memory.children_kib.map(kib_to_mb),
        })
    }

    fn print(&self, memory: &Memory) {
        let target = match (&self.cache, self.destination.as_str()) {
            (None, "none") => "no destination (decode only)".to_string(),
            (None, dest) => format!("destination {dest} (no cache, straight through)"),
            (Some(path), _) => format!(
                "DuckDB {}{} (write strategy {})",
                path.display(),
                if self.cache_kept { "" } else { ", temporary" },
                self.write_strategy.as_deref().unwrap_or("auto")
            ),
        };
        eprintln!("Benchmark: {} -> {target}", self.source);
        let rows = match self.cache_rows {
            Some(n) if self.cache.is_none() => {
                format!(" (committed by the destination: {})", thousands(n))
            }
            Some(n) => format!(" (rows in the cache: {})", thousands(n)),
            None => String::new(),
        };
        eprintln!("  records      {}{rows}", thousands(self.records));
        let span = if self.finish.is_some() {
            "connector start to last commit"
        } else {
            "connector start to end of output"
        };
        eprintln!(
            "  read         {:.2} s, {} records/s ({span})",
            self.read.as_secs_f64(),
            thousands(self.records_per_second().round() as u64)
        );
        // A write does not count the bytes it passes on.
        if self.bytes > 0 {
            eprintln!(
                "  data         {:.1} MB of connector output, {:.1} MB/s",
                self.mb(),
                per_second(self.mb(), self.read)
            );
        }
        eprintln!(
            "  total        {:.2} s, set-up included",
            self.total.as_secs_f64()
        );
        match self.finish {
            Some(finish) => eprintln!(
                "  phases       set-up (spec, discover, cache open) {:.2} s, connector running \
                 {:.2} s, final flush/merge/commit {:.2} s",
                self.setup.as_secs_f64(),
                self.connector.as_secs_f64(),
                finish.as_secs_f64()
            ),
            None => eprintln!(
                "  phases       set-up (spec, discover) {:.2} s, connector running {:.2} s",
                self.setup.as_secs_f64(),
                self.connector.as_secs_f64()
            ),
        }
        eprintln!(
            "  peak memory  abrs {}, connector {}",
            memory
                .own_kib
                .map_or("unknown".into(), |k| format!("{:.1} MB", kib_to_mb(k))),
            memory
                .children_kib
                .map_or("unknown".into(), |k| format!("{:.1} MB", kib_to_mb(k)))
        );
        if self.states > 0 || self.commits.is_some() {
            let commits = self
                .commits
                .map_or(String::new(), |c| format!(", {c} commit(s)"));
            eprintln!("  state        {} STATE message(s){commits}", self.states);
        }
        if self.unparsable_lines > 0 {
            eprintln!(
                "  note         {} line(s) were not protocol messages (see the connector log)",
                self.unparsable_lines
            );
        }
        if let Some(load) = &self.load {
            let cpu = |d: Option<Duration>| {
                d.map_or("unknown".into(), |d| format!("{:.2} s", d.as_secs_f64()))
            };
            eprintln!(
                "  parse        {} CPU (decode, parse into columns, Arrow batches), waited {:.2} s \
                 for the database",
                cpu(load.parse_cpu),
                load.waited_for_database.as_secs_f64()
            );
            eprintln!(
                "  load         inserts {:.2} s, commits {:.2} s, {} CPU (database thread; runs \
                 alongside parsing)",
                load.insert.as_secs_f64(),
                load.commit.as_secs_f64(),
                cpu(load.database_cpu)
            );
        }
    }
}

fn secs(d: Duration) -> f64 {
    round3(d.as_secs_f64())
}

/// Peak resident memory, in KiB: this process's, and the connector's (sampled).
struct Memory {
    own_kib: Option<u64>,
    children_kib: Option<u64>,
}

impl Memory {
    fn now(children_kib: Option<u64>) -> Self {
        Self {
            own_kib: own_peak_rss_kib(),
            children_kib,
        }
    }
}

/// This process's peak resident set (VmHWM).
fn own_peak_rss_kib() -> Option<u64> {
    vm_hwm_kib(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// Samples the peak resident set (VmHWM) of this process's children while a benchmark runs.
///
/// `getrusage(RUSAGE_CHILDREN)` would be simpler but is wrong here: a forked child counts the
/// parent's pages until it execs, and `ru_maxrss` keeps that, so it reports abrs's own size.
/// For the same reason a child is only sampled from its second sighting on (50 ms later, long
/// after its exec). VmHWM is a high-water mark, so sampling misses at most the child's last
/// 50 ms.
struct ChildMemoryWatcher {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<u64>>,
}

impl ChildMemoryWatcher {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("abrs-memory-watch".into())
            .spawn(move || {
                let mut seen = HashSet::new();
                let mut peak = 0;
                loop {
                    peak = peak.max(children_peak_rss_kib(&mut seen));
                    if flag.load(Ordering::Relaxed) {
                        return peak;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
            .ok();
        Self { stop, handle }
    }

    /// Stops sampling; the largest VmHWM seen, if any child was sampled.
    fn finish(mut self) -> Option<u64> {
        self.stop.store(true, Ordering::Relaxed);
        let peak = self.handle.take()?.join().ok()?;
        (peak > 0).then_some(peak)
    }
}

impl Drop for ChildMemoryWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The largest VmHWM among the children of this process's threads that were already in
/// `seen` (0 if none); new children are added to `seen`.
fn children_peak_rss_kib(seen: &mut HashSet<String>) -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    let mut peak = 0;
    for task in tasks.flatten() {
        let Ok(children) = std::fs::read_to_string(task.path().join("children")) else {
            continue;
        };
        for pid in children.split_ascii_whitespace() {
            if seen.insert(pid.to_string()) {
                continue;
            }
            let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
                continue;
            };
            peak = peak.max(vm_hwm_kib(&status).unwrap_or(0));
        }
    }
    peak
}

fn vm_hwm_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn kib_to_mb(kib: u64) -> f64 {
    round3(kib as f64 * 1024.0 / 1e6)
}

fn per_second(amount: f64, d: Duration) -> f64 {
    let secs = d.as_secs_f64();
    if secs > 0.0 { amount / secs } else { 0.0 }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Runs `abrs benchmark`.
pub fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    let strategy = parse_write_strategy(&args.write_strategy)?;
    let mut source = make_source(&args)?;
    select_streams(&mut source, &args.streams)?;
    let builtin = args.source.is_none();
    let target = match args.destination.as_deref() {
        None => None,
        Some(d) if d.eq_ignore_ascii_case("none") => Some(None),
        Some(d) => {
            let config = match &args.destination_config {
                Some(text) => Some(crate::connector_args::load_config(text)?),
                None => None,
            };
            Some(Some(crate::connector_args::destination(
                d,
                config,
                ab::DestinationOptions::default(),
            )?))
        }
    };
    let watcher = ChildMemoryWatcher::start();
    let mut m = match target {
        Some(None) => read_to_null(&source, started)?,
        Some(Some(destination)) => write_to_destination(&source, &destination, strategy, started)?,
        None => read_to_cache(&source, &args, strategy, started)?,
    };
    m.builtin = builtin;
    let memory = Memory::now(watcher.finish());
    if args.json {
        println!("{}", m.to_json(&memory));
    } else {
        m.print(&memory);
    }
    Ok(())
}

/// The source to measure: `--source`, or the built-in one (this executable, run as
/// `abrs benchmark-source …`).
fn make_source(args: &Args) -> Result<ab::Source> {
    let user_config = match &args.config {
        Some(text) => Some(crate::connector_args::load_config(text)?),
        None => None,
    };
    if let Some(name) = &args.source {
        if args.num_records.is_some() {
            eprintln!(
                "Note: --num-records applies to the built-in source only; {name}'s config decides \
                 how many records it emits."
            );
        }
        let config = user_config.unwrap_or_else(|| json!({}));
        return Ok(ab::get_source(name, Some(config), args.run.to_options())?);
    }
    let run = &args.run;
    if run.pip_url.is_some()
        || run.manifest.is_some()
        || run.docker_image.is_some()
        || run.use_python.is_some()
        || run.version.is_some()
        || run.use_host_network
        || run.install_root.is_some()
    {
        return Err(ab::Error::input(
            "the options on how to run a connector need --source",
            "give --source CONNECTOR, or leave them out to use the built-in benchmark source",
        )
        .into());
    }
    let mut config = match user_config {
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Err(ab::Error::input(
                "the built-in benchmark source's config must be a JSON object",
                r#"use e.g. {"num_records": 500000, "seed": 42}"#,
            )
            .into());
        }
        None => serde_json::Map::new(),
    };
    if let Some(n) = args.num_records {
        config.insert("num_records".into(), n.into());
    } else {
        config
            .entry("num_records")
            .or_insert_with(|| DEFAULT_RECORDS.into());
    }
    let config = Value::Object(config);
    if let Err(message) = benchmark_source::BenchConfig::from_value(&config) {
        return Err(ab::Error::input(
            format!("invalid config for the built-in benchmark source: {message}"),
            r#"use e.g. {"num_records": 500000, "seed": 42}"#,
        )
        .into());
    }
    let exe = std::env::current_exe()
        .context("finding the abrs executable, which runs the built-in benchmark source")?;
    let exe = exe.to_str().ok_or_else(|| {
        anyhow!(
            "the abrs executable's path ({}) is not UTF-8, so it cannot run the built-in \
             benchmark source; move it to a UTF-8 path",
            exe.display()
        )
    })?;
    let executor = PathExecutor::new(BUILTIN_NAME, exe)
        .map_err(|e| ab::Error::from_connector(BUILTIN_NAME, e))?
        .with_args(["benchmark-source"]);
    let mut source = ab::Source::from_executor(BUILTIN_NAME, Arc::new(executor));
    source.set_config(config, false)?;
    Ok(source)
}

/// Plain progress lines on stderr every [`PROGRESS_EVERY`].
struct Progress {
    last: Instant,
}

impl Progress {
    fn new() -> Self {
        Self {
            last: Instant::now(),
        }
    }

    fn tick(&mut self, records: u64, elapsed: Duration) {
        if self.last.elapsed() >= PROGRESS_EVERY {
            self.last = Instant::now();
            eprintln!(
                "benchmark: {} records, {} records/s",
                thousands(records),
                thousands(per_second(records as f64, elapsed).round() as u64)
            );
        }
    }
}

fn read_to_cache(
    source: &ab::Source,
    args: &Args,
    strategy: ab::WriteStrategy,
    started: Instant,
) -> Result<Measurement> {
    let (path, temp_dir) = match &args.cache {
        Some(path) => (path.clone(), None),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("abrs-benchmark-")
                .tempdir()
                .context("creating a temporary directory for the benchmark cache")?;
            (dir.path().join("benchmark.duckdb"), Some(dir))
        }
    };
    let cache = ab::DuckDbCache::new(&path);
    let progress = Arc::new(Mutex::new(Progress::new()));
    let on_progress: ab::ProgressCallback = Arc::new(move |p: &ab::ReadProgress| {
        if !p.finished {
            progress
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .tick(p.records, p.elapsed);
        }
    });
    let options = ab::ReadOptions {
        write_strategy: strategy,
        // As `pyab benchmark`: no state in, every record read each time.
        force_full_refresh: true,
        on_progress: Some(on_progress),
        ..Default::default()
    };
    let result = source.read(&cache, options)?;
    let total = started.elapsed();
    let read = result.elapsed();
    let run = result.run_summary();
    let load = result.load_summary();
    let mut cache_rows = 0;
    for name in result.stream_names() {
        cache_rows += result
            .get(name)?
            .len()
            .with_context(|| format!("counting the rows of stream `{name}` in the cache"))?;
    }
    let streams = result
        .streams()
        .iter()
        .map(|(name, s)| (name.clone(), s.records))
        .collect();
    let measurement = Measurement {
        source: source.name().to_string(),
        builtin: false,
        destination: "duckdb".to_string(),
        cache: Some(path),
        cache_kept: temp_dir.is_none(),
        write_strategy: Some(args.write_strategy.clone()),
        streams,
        records: result.processed_records(),
        cache_rows: Some(cache_rows),
        states: load.states,
        commits: Some(load.commits),
        bytes: run.bytes,
        unparsable_lines: run.unparsable_lines,
        read,
        total,
        setup: total.saturating_sub(read),
        connector: run.elapsed.min(read),
        finish: Some(read.saturating_sub(run.elapsed)),
        load: Some(load.timings.clone()),
    };
    drop(result);
    drop(temp_dir);
    Ok(measurement)
}

/// A write straight from the source to a destination, as `pyab benchmark --destination`: no
/// cache, no state, every record.
fn write_to_destination(
    source: &ab::Source,
    destination: &ab::Destination,
    strategy: ab::WriteStrategy,
    started: Instant,
) -> Result<Measurement> {
    let progress = Arc::new(Mutex::new(Progress::new()));
    let on_progress: ab::WriteProgressCallback = Arc::new(move |p: &ab::WriteProgress| {
        if !p.finished {
            progress
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .tick(p.records_sent, p.elapsed);
        }
    });
    let result = destination.write(
        source,
        ab::WriteOptions {
            cache: ab::CacheChoice::None,
            state_cache: ab::CacheChoice::None,
            write_strategy: strategy,
            force_full_refresh: true,
            on_progress: Some(on_progress),
            ..Default::default()
        },
    )?;
    let total = started.elapsed();
    let read = result.elapsed();
    let states = result.streams().values().map(|s| s.states_confirmed).sum();
    Ok(Measurement {
        source: source.name().to_string(),
        builtin: false,
        destination: destination.name().to_string(),
        cache: None,
        cache_kept: false,
        write_strategy: Some(strategy.to_string()),
        streams: result
            .streams()
            .iter()
            .map(|(name, s)| (name.clone(), s.records_sent))
            .collect(),
        records: result.processed_records(),
        cache_rows: result.committed_records(),
        states,
        commits: None,
        bytes: 0,
        unparsable_lines: 0,
        read,
        total,
        setup: total.saturating_sub(read),
        connector: read,
        finish: None,
        load: None,
    })
}

/// Records per stream, remembering the last stream so a run of one stream costs one compare.
#[derive(Default)]
struct StreamCounts {
    names: Vec<(String, u64)>,
    last: usize,
}

impl StreamCounts {
    fn add(&mut self, stream: &str) {
        if let Some((name, n)) = self.names.get_mut(self.last)
            && name == stream
        {
            *n += 1;
            return;
        }
        match self.names.iter().position(|(name, _)| name == stream) {
            Some(i) => {
                self.last = i;
                self.names[i].1 += 1;
            }
            None => {
                self.names.push((stream.to_string(), 1));
                self.last = self.names.len() - 1;
            }
        }
    }
}

fn read_to_null(source: &ab::Source, started: Instant) -> Result<Measurement> {
    let catalog = source.get_configured_catalog(None, true)?;
    let invocation = source.read_invocation(catalog, None)?;
    let read_started = Instant::now();
    let process = source.execute(invocation)?;
    let mut counts = StreamCounts::default();
    let mut records: u64 = 0;
    let mut states: u64 = 0;
    let mut progress = Progress::new();
    // `decode_line` (inside `for_each`) has already parsed the envelope and checked that each
    // record's `data` is a well-formed JSON object; nothing else is done with it.
    let run = process
        .for_each(
            |decoded: Decoded<'_>| -> std::result::Result<Flow, ConnectorError> {
                match decoded {
                    Decoded::Record(record) => {
                        records += 1;
                        counts.add(&record.stream);
                        if records.is_multiple_of(65_536) {
                            progress.tick(records, read_started.elapsed());
                        }
                    }
                    Decoded::Message(message) if message.r#type == MessageType::State => {
                        states += 1;
                    }
                    Decoded::Message(_) | Decoded::Blank => {}
                }
                Ok(Flow::Continue)
            },
        )
        .map_err(|e| ab::Error::from_connector(source.name(), e))?;
    let read = read_started.elapsed();
    let total = started.elapsed();
    Ok(Measurement {
        source: source.name().to_string(),
        builtin: false,
        destination: "none".to_string(),
        cache: None,
        cache_kept: false,
        write_strategy: None,
        streams: counts.names.into_iter().collect(),
        records,
        cache_rows: None,
        states,
        commits: None,
        bytes: run.bytes,
        unparsable_lines: run.unparsable_lines,
        read,
        total,
        setup: total.saturating_sub(read),
        connector: run.elapsed,
        finish: None,
        load: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(parse_count("500000"), Ok(500_000));
        assert_eq!(parse_count("5e5"), Ok(500_000));
        assert_eq!(parse_count("1_000_000"), Ok(1_000_000));
        assert_eq!(parse_count("2.5e6"), Ok(2_500_000));
        assert_eq!(parse_count("1E6"), Ok(1_000_000));
        assert_eq!(parse_count("0"), Ok(0));
        for bad in [
            "", "_", "abc", "-5", "1.5", "inf", "nan", "1e30", "0x10", "5e-1",
        ] {
            assert!(parse_count(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stream_counts() {
        let mut c = StreamCounts::default();
        for s in ["a", "a", "b", "a", "b", "b"] {
            c.add(s);
        }
        assert_eq!(c.names, vec![("a".to_string(), 3), ("b".to_string(), 3)]);
    }
}
