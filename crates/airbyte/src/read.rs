//! `Source::read`: a connector's `read` streamed into a cache.
//!
//! The connector's stdout is decoded line by line; RECORDs go to the cache writer unparsed (the
//! writer parses each `data` once, straight into typed column buffers), STATE messages are the
//! writer's commit points (data up to there and the state in one transaction). If the connector
//! fails, what was committed stays and the rest is rolled back, so a re-run resumes from the last
//! committed state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use abrs_caches::{
    Cache, CacheWriter, CachedDataset, LoadOptions, LoadSummary, Password, WriteMethod,
    WriteStrategy,
};
use abrs_connectors::{Flow, RunSummary};
use abrs_protocol::{
    AirbyteStateMessage, ConfiguredAirbyteCatalog, Decoded, MessageType, StreamStatus,
};
use serde_json::json;

use crate::destination::join_states;
use crate::error::{Error, Result};
use crate::logs::StatsTracker;
use crate::source::{Source, StreamSelection};

/// How often, at most, the progress callback is called while records flow.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(200);

/// Options of [`Source::read`] (PyAirbyte's `read()` keyword arguments).
#[derive(Clone, Default)]
pub struct ReadOptions {
    /// The streams to read; `None` = the streams selected on the source.
    pub streams: Option<StreamSelection>,
    /// `auto` (default), `append`, `merge` or `replace`.
    pub write_strategy: WriteStrategy,
    /// Read everything again: no state is sent and streams are configured `full_refresh`.
    pub force_full_refresh: bool,
    /// Skip validating the config against the spec before reading.
    pub skip_validation: bool,
    /// Tuning of the cache load (batch size, commit batching).
    pub load_options: Option<LoadOptions>,
    /// Called with the progress of the read, at most every 200 ms and once at the end.
    pub on_progress: Option<ProgressCallback>,
    /// Called once the connector process is started, with its pid (`None` for in-process
    /// connectors): lets a program stop the connector's process group on Ctrl-C.
    pub on_connector_started: Option<ConnectorStartedCallback>,
    /// Set from another thread to stop the read (a Ctrl-C in a Python caller): the connector
    /// is stopped at its next message, what was committed stays, and the read returns
    /// [`Error::Interrupted`]. Stopping a connector that sends nothing for a while is the
    /// caller's job (its pid comes with `on_connector_started`).
    pub cancel: Option<Arc<AtomicBool>>,
}

/// Receives the pid of a started connector (see [`ReadOptions::on_connector_started`]).
pub type ConnectorStartedCallback = Arc<dyn Fn(Option<u32>) + Send + Sync>;

impl std::fmt::Debug for ReadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOptions")
            .field("streams", &self.streams)
            .field("write_strategy", &self.write_strategy)
            .field("force_full_refresh", &self.force_full_refresh)
            .field("skip_validation", &self.skip_validation)
            .finish_non_exhaustive()
    }
}

/// Receives [`ReadProgress`] updates.
pub type ProgressCallback = Arc<dyn Fn(&ReadProgress) + Send + Sync>;

/// Where a read stands.
#[derive(Debug, Clone, Default)]
pub struct ReadProgress {
    /// Time since the connector started.
    pub elapsed: Duration,
    /// Records received, per stream, in catalog order.
    pub streams: Vec<(String, u64)>,
    /// Records received in all.
    pub records: u64,
    /// Bytes of connector output read.
    pub bytes: u64,
    /// STATE messages received.
    pub states: u64,
    /// True for the last update, after everything was committed.
    pub finished: bool,
}

impl ReadProgress {
    /// Records per second so far.
    pub fn records_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.records as f64 / secs
        } else {
            0.0
        }
    }
}

/// What one stream of a read produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamReadSummary {
    /// Records received from the connector in this read.
    pub records: u64,
    /// The cache table.
    pub table: String,
    /// How the table was written.
    pub method: WriteMethod,
    /// Values that did not fit their column and were stored as NULL (see `_airbyte_meta`).
    pub nulled_values: u64,
}

/// The result of [`Source::read`]: the streams read, with their data in the cache.
///
/// ```no_run
/// # fn f(result: airbyte::ReadResult) -> airbyte::Result<()> {
/// for name in result.stream_names() {
///     println!("{name}: {} rows", result.get(name)?.len()?);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ReadResult {
    source_name: String,
    processed_records: u64,
    streams: BTreeMap<String, StreamReadSummary>,
    cache: Cache,
    load: LoadSummary,
    run: RunSummary,
    elapsed: Duration,
    catalog: ConfiguredAirbyteCatalog,
}

impl ReadResult {
    /// The configured catalog the source was read with.
    pub fn configured_catalog(&self) -> &ConfiguredAirbyteCatalog {
        &self.catalog
    }

    /// The source's name.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// Records read from the connector (over all streams).
    pub fn processed_records(&self) -> u64 {
        self.processed_records
    }

    /// The streams of this read (selected streams, including empty ones).
    pub fn stream_names(&self) -> impl Iterator<Item = &str> {
        self.streams.keys().map(String::as_str)
    }

    /// Per-stream summaries.
    pub fn streams(&self) -> &BTreeMap<String, StreamReadSummary> {
        &self.streams
    }

    /// Number of streams.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// True when no stream was read.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// Whether `stream` is part of this result. Exact names first, then case-insensitively
    /// (PyAirbyte's lookup is case-sensitive only, which surprises users: §6.14).
    pub fn contains(&self, stream: &str) -> bool {
        self.resolve(stream).is_some()
    }

    fn resolve(&self, stream: &str) -> Option<&str> {
        if let Some((k, _)) = self.streams.get_key_value(stream) {
            return Some(k);
        }
        self.streams
            .keys()
            .find(|k| k.eq_ignore_ascii_case(stream))
            .map(String::as_str)
    }

    /// The cached data of one stream.
    pub fn get(&self, stream: &str) -> Result<CachedDataset> {
        let name = self.resolve(stream).ok_or_else(|| Error::StreamNotFound {
            name: self.source_name.clone(),
            stream: stream.to_string(),
            available: self.streams.keys().cloned().collect(),
        })?;
        Ok(self.cache.dataset(name)?)
    }

    /// The cache the data was written to.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// What the cache loader did (methods, commits, states).
    pub fn load_summary(&self) -> &LoadSummary {
        &self.load
    }

    /// What the connector run did (bytes, unparsable lines, messages by type).
    pub fn run_summary(&self) -> &RunSummary {
        &self.run
    }

    /// Wall time of the read.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }
}

/// The read loop's error: the connector's (wrapped with the source name afterwards) or the
/// cache writer's.
enum PumpError {
    Connector(abrs_connectors::ConnectorError),
    Cache(abrs_caches::CacheError),
    /// [`ReadOptions::cancel`] was set.
    Cancelled,
}

impl From<abrs_connectors::ConnectorError> for PumpError {
    fn from(e: abrs_connectors::ConnectorError) -> Self {
        Self::Connector(e)
    }
}

impl From<abrs_caches::CacheError> for PumpError {
    fn from(e: abrs_caches::CacheError) -> Self {
        Self::Cache(e)
    }
}

/// Per-stream counters kept on the hot path: the last stream is remembered so that a run of
/// records of one stream costs one string comparison each. They also feed the run's
/// [`StatsTracker`] (`airbyte-stats.log`) without a call per record: a stream's first record is
/// timed, the rest are handed over in one count when the stream ends.
pub(crate) struct Counters {
    pub(crate) names: Vec<String>,
    pub(crate) counts: Vec<u64>,
    bytes: Vec<u64>,
    /// Records and bytes of each stream already handed to `stats`.
    tallied: Vec<(u64, u64)>,
    ended: Vec<bool>,
    last: usize,
    pub(crate) records: u64,
    pub(crate) states: u64,
    pub(crate) stats: StatsTracker,
}

impl Counters {
    pub(crate) fn new(names: Vec<String>) -> Self {
        let n = names.len();
        Self {
            names,
            counts: vec![0; n],
            bytes: vec![0; n],
            tallied: vec![(0, 0); n],
            ended: vec![false; n],
            last: 0,
            records: 0,
            states: 0,
            stats: StatsTracker::new(),
        }
    }

    fn index(&mut self, stream: &str) -> usize {
        if self.names.get(self.last).is_some_and(|n| n == stream) {
            return self.last;
        }
        let i = match self.names.iter().position(|n| n == stream) {
            Some(i) => i,
            None => {
                self.names.push(stream.to_string());
                self.counts.push(0);
                self.bytes.push(0);
                self.tallied.push((0, 0));
                self.ended.push(false);
                self.names.len() - 1
            }
        };
        self.last = i;
        i
    }

    /// One record of `stream`, `bytes` long.
    pub(crate) fn add(&mut self, stream: &str, bytes: u64) {
        self.add_many(stream, 1, bytes);
    }

    /// `n` records of `stream`, `bytes` long in all.
    pub(crate) fn add_many(&mut self, stream: &str, n: u64, bytes: u64) {
        if n == 0 {
            return;
        }
        self.records += n;
        let i = self.index(stream);
        self.counts[i] += n;
        self.bytes[i] += bytes;
        if self.tallied[i].0 == 0 {
            // The first record of the stream: its time is kept.
            self.stats.records(stream, n, bytes);
            self.tallied[i] = (self.counts[i], self.bytes[i]);
        }
    }

    /// A stream started (its STARTED status).
    pub(crate) fn stream_started(&mut self, stream: &str) {
        self.stats.stream_started(stream);
    }

    /// A stream ended (its COMPLETE status): its counts go to the stats.
    pub(crate) fn stream_ended(&mut self, stream: &str) {
        let i = self.index(stream);
        self.tally(i);
        self.ended[i] = true;
        self.stats.stream_ended(stream);
    }

    fn tally(&mut self, i: usize) {
        let (n, b) = self.tallied[i];
        let (count, bytes) = (self.counts[i], self.bytes[i]);
        if count > n {
            self.stats.records(&self.names[i], count - n, bytes - b);
            self.tallied[i] = (count, bytes);
        }
    }

    /// The end of the run: every stream's counts go to the stats; streams that sent records
    /// but no COMPLETE end now.
    pub(crate) fn finish_stats(&mut self) {
        for i in 0..self.names.len() {
            self.tally(i);
            if !self.ended[i] && self.counts[i] > 0 {
                self.ended[i] = true;
                self.stats.stream_ended(&self.names[i]);
            }
        }
    }

    fn snapshot(&self, elapsed: Duration, bytes: u64, finished: bool) -> ReadProgress {
        ReadProgress {
            elapsed,
            streams: self
                .names
                .iter()
                .cloned()
                .zip(self.counts.iter().copied())
                .collect(),
            records: self.records,
            bytes,
            states: self.states,
            finished,
        }
    }
}

/// PyAirbyte's class name of a cache, as its stats and job descriptions show it.
pub(crate) fn cache_class_name(cache: &Cache) -> &'static str {
    match cache {
        Cache::DuckDb(_) => "DuckDBCache",
        Cache::Postgres(_) => "PostgresCache",
    }
}

/// The password of a PostgreSQL cache given as `secret_reference::NAME` (or the CLI's
/// `SECRET:NAME`), replaced by the secret from [`crate::get_secret`]; any other cache as it
/// is. [`Source::read`] and [`crate::Destination::write`] do this themselves.
///
/// ```
/// use airbyte as ab;
/// // SAFETY of the example: single-threaded doctest.
/// unsafe { std::env::set_var("DOC_PG_PASSWORD", "pw") };
/// let cache = ab::Cache::from_spec(
///     "postgresql://me:secret_reference::DOC_PG_PASSWORD@db:5432/analytics", None)?;
/// let cache = ab::hydrate_cache(cache)?;
/// assert_eq!(cache.as_postgres().and_then(|c| c.password()).map(|p| p.expose()), Some("pw"));
/// # Ok::<(), ab::Error>(())
/// ```
pub fn hydrate_cache(cache: impl Into<Cache>) -> Result<Cache> {
    let cache = cache.into();
    let Cache::Postgres(pg) = &cache else {
        return Ok(cache);
    };
    let Some(password) = pg.password() else {
        return Ok(cache);
    };
    let p = password.expose();
    let name = p
        .strip_prefix(crate::secrets::SECRET_REFERENCE_PREFIX)
        .or_else(|| p.strip_prefix("SECRET:"));
    Ok(match name {
        Some(name) => {
            let secret = crate::secrets::get_secret(name)?;
            Cache::Postgres(pg.clone().with_password(Password::new(secret.into_inner())))
        }
        None => cache,
    })
}

impl Source {
    /// Reads the selected streams into `cache`, of any backend (PyAirbyte's `Source.read`):
    /// a [`DuckDbCache`](abrs_caches::DuckDbCache), a
    /// [`PostgresCache`](abrs_caches::PostgresCache) or a [`Cache`], by value or by reference.
    ///
    /// State from earlier reads of this source in this cache is handed to the connector (unless
    /// `force_full_refresh`), and new state is committed together with the data it covers.
    ///
    /// ```no_run
    /// use airbyte as ab;
    /// let mut source = ab::get_source("source-faker", Some(serde_json::json!({"count": 100})),
    ///     ab::SourceOptions::default())?;
    /// source.select_all_streams()?;
    /// let result = source.read(&ab::default_cache(), ab::ReadOptions::default())?;
    /// assert!(result.contains("users"));
    /// # Ok::<(), ab::Error>(())
    /// ```
    pub fn read(&self, cache: impl Into<Cache>, options: ReadOptions) -> Result<ReadResult> {
        self.read_joined(&cache.into(), options, Vec::new())
    }

    /// [`Source::read`], with `secondary` state for the streams the cache has no state of
    /// (PyAirbyte's `JoinedStateProvider`: a destination's confirmed state).
    pub(crate) fn read_joined(
        &self,
        cache: &Cache,
        options: ReadOptions,
        secondary: Vec<AirbyteStateMessage>,
    ) -> Result<ReadResult> {
        let cache = &hydrate_cache(cache)?;
        let selection = match options.streams.clone() {
            Some(sel) => Some(sel),
            None if self.get_selected_streams().is_empty() => {
                return Err(Error::NoStreamsSelected {
                    name: self.name().to_string(),
                    available: self.get_available_streams().unwrap_or_default(),
                });
            }
            None => None,
        };
        if !options.skip_validation {
            self.validate_config(None)?;
        }
        let catalog = self.get_configured_catalog(selection, options.force_full_refresh)?;
        if catalog.streams.is_empty() {
            return Err(Error::NoStreamsSelected {
                name: self.name().to_string(),
                available: self.get_available_streams().unwrap_or_default(),
            });
        }
        if options.write_strategy == WriteStrategy::Replace && !options.force_full_refresh {
            tracing::warn!(
                "write strategy `replace` without a full refresh: the tables will hold only what \
                 this incremental read returns (PyAirbyteDataLossWarning)"
            );
        }

        // Everything that can fail on user input is checked before the connector starts.
        let writer = cache.begin_load(
            self.name(),
            &catalog,
            options.write_strategy,
            options.load_options.clone().unwrap_or_default(),
        )?;
        let state = if options.force_full_refresh {
            None
        } else {
            let messages = join_states(cache.state_messages(self.name())?, secondary);
            Some(serde_json::Value::Array(
                messages
                    .iter()
                    .filter_map(|m| serde_json::to_value(m).ok())
                    .collect(),
            ))
        };
        let invocation = self.read_invocation(catalog.clone(), state)?;
        let process = self.execute(invocation)?;
        if let Some(cb) = &options.on_connector_started {
            cb(process.pid());
        }

        let names = catalog
            .streams
            .iter()
            .map(|s| s.stream.name.clone())
            .collect();
        self.pump(process, writer, names, cache, &options, catalog)
    }

    fn pump(
        &self,
        process: abrs_connectors::ConnectorProcess,
        mut writer: CacheWriter,
        names: Vec<String>,
        cache: &Cache,
        options: &ReadOptions,
        catalog: ConfiguredAirbyteCatalog,
    ) -> Result<ReadResult> {
        let started = Instant::now();
        let mut counters = Counters::new(names);
        let mut last_progress = Instant::now();
        let mut bytes: u64 = 0;
        let progress = options.on_progress.clone();
        let cancel = options.cancel.clone();

        let outcome = process.for_each(|decoded: Decoded<'_>| -> Result<Flow, PumpError> {
            if cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed)) {
                return Err(PumpError::Cancelled);
            }
            match decoded {
                Decoded::Record(record) => {
                    let len = record.data.get().len() as u64;
                    counters.add(&record.stream, len);
                    bytes += len;
                    writer.record(&record)?;
                    // Checking the clock every 256 records keeps it off the hot path (~20 ns each).
                    if counters.records.is_multiple_of(256)
                        && let Some(cb) = &progress
                        && last_progress.elapsed() >= PROGRESS_INTERVAL
                    {
                        last_progress = Instant::now();
                        cb(&counters.snapshot(started.elapsed(), bytes, false));
                    }
                }
                Decoded::Message(message) => {
                    if message.r#type == MessageType::State
                        && let Some(state) = &message.state
                    {
                        counters.states += 1;
                        writer.state(state)?;
                    } else if let Some(status) = message
                        .trace
                        .as_ref()
                        .and_then(|t| t.stream_status.as_ref())
                    {
                        let name = &status.stream_descriptor.name;
                        match status.status {
                            StreamStatus::Started => counters.stream_started(name),
                            StreamStatus::Complete => counters.stream_ended(name),
                            _ => {}
                        }
                    }
                }
                Decoded::Blank => {}
            }
            Ok(Flow::Continue)
        });

        let run = match outcome {
            Ok(run) => run,
            Err(e) => {
                let e = match e {
                    PumpError::Connector(c) => Error::from_connector(self.name(), c),
                    PumpError::Cache(c) => Error::from(c),
                    PumpError::Cancelled => Error::Interrupted {
                        name: self.name().to_string(),
                    },
                };
                // Dropping the writer rolls back what was not committed; committed data and
                // state stay, so a re-run resumes from there.
                drop(writer);
                return Err(e);
            }
        };
        let load = writer.finish()?;
        let elapsed = started.elapsed();
        counters.finish_stats();
        counters.stats.log(
            "read",
            json!({
                "description": format!("{} -> {}", self.name(), cache_class_name(cache)),
                "source": {"name": self.name()},
                "cache": {"type": cache_class_name(cache)},
            }),
        );
        if let Some(cb) = &progress {
            cb(&counters.snapshot(elapsed, run.bytes, true));
        }
        let streams = load
            .streams
            .iter()
            .map(|(name, s)| {
                (
                    name.clone(),
                    StreamReadSummary {
                        records: s.records,
                        table: s.table.clone(),
                        method: s.method,
                        nulled_values: s.nulled_values,
                    },
                )
            })
            .collect();
        Ok(ReadResult {
            source_name: self.name().to_string(),
            processed_records: counters.records,
            streams,
            cache: cache.clone(),
            load,
            run,
            elapsed,
            catalog,
        })
    }
}
