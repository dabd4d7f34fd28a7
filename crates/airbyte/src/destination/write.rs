//! `Destination::write`: feeding a destination from a source or a cache, and keeping what it
//! confirms.
//!
//! Two threads: this one feeds the destination's stdin (the source's lines as they are, or the
//! cache's rows as RECORD messages), and a second one reads the destination's output, matches
//! its STATE echoes against the states sent (`echo.rs`) and stores each confirmed one in the
//! state cache as it arrives. The stdin pipe is the only buffer between the two processes, so a
//! slow destination slows the source and memory stays flat.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use abrs_caches::{DestinationStreamProgress, DuckDbCache, ReplayOptions, StateProvider};
use abrs_connectors::{ConnectorError, ConnectorStdin, Flow, Invocation, RunSummary, StdinSource};
use abrs_protocol::{
    AirbyteMessage, AirbyteStateMessage, AirbyteStreamStatusTraceMessage, AirbyteTraceMessage,
    ConfiguredAirbyteCatalog, Decoded, MessageType, StateType, StreamDescriptor, StreamStatus,
    TraceType,
};
use serde_json::Value;

use super::Destination;
use super::catalog::{StreamPlan, plan_catalog};
use super::echo::{Echo, EchoTracker, ReplayMark, state_key};
use super::joined_state::without_streams;
use crate::error::{Error, Result};
use crate::read::{Counters, ReadOptions, ReadResult};
use crate::source::{Source, StreamSelection};
use abrs_caches::{WriteStrategy, default_cache};

/// How long a destination may read none of its input before the write gives up on it.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(600);
/// Bytes buffered in front of the destination's stdin (flushed at every STATE and status).
const FEED_BUFFER: usize = 256 * 1024;
/// How often, at most, the progress callback is called.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(200);

/// Which cache a write uses: PyAirbyte's `cache=None | False | <cache>`.
// Made once per write; boxing the cache would only make the options clumsier to write.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Default)]
pub enum CacheChoice {
    /// The default DuckDB cache (`.cache/default_cache/default_cache.duckdb`).
    #[default]
    Default,
    /// No cache.
    None,
    /// This cache.
    Given(DuckDbCache),
}

impl CacheChoice {
    fn resolve(&self) -> Option<DuckDbCache> {
        match self {
            Self::Default => Some(default_cache()),
            Self::None => None,
            Self::Given(c) => Some(c.clone()),
        }
    }
}

/// What [`Destination::write`] writes: a source (read now) or a read's result (replayed from
/// its cache).
#[derive(Debug, Clone, Copy)]
pub enum WriteSource<'a> {
    /// Read this source now.
    Source(&'a Source),
    /// Replay these cached streams.
    ReadResult(&'a ReadResult),
}

impl<'a> From<&'a Source> for WriteSource<'a> {
    fn from(s: &'a Source) -> Self {
        Self::Source(s)
    }
}

impl<'a> From<&'a ReadResult> for WriteSource<'a> {
    fn from(r: &'a ReadResult) -> Self {
        Self::ReadResult(r)
    }
}

/// Where a write stands.
#[derive(Debug, Clone, Default)]
pub struct WriteProgress {
    /// Time since the write started.
    pub elapsed: Duration,
    /// Records sent to the destination.
    pub records_sent: u64,
    /// STATE messages the destination confirmed.
    pub states_confirmed: u64,
    /// True for the last update.
    pub finished: bool,
}

/// Receives [`WriteProgress`] updates.
pub type WriteProgressCallback = Arc<dyn Fn(&WriteProgress) + Send + Sync>;

/// Options of [`Destination::write`] (PyAirbyte's keyword arguments, plus a stall timeout).
#[derive(Clone)]
pub struct WriteOptions {
    /// The streams to write; `None` = the source's selected streams, or all of them when none
    /// is selected (as PyAirbyte). Ignored for a read result: its streams are written.
    pub streams: Option<StreamSelection>,
    /// `Default`: read into the default cache, then replay from it; `None`: stream the source
    /// straight through; `Given`: that cache. A read result always uses its own cache.
    pub cache: CacheChoice,
    /// Where destination state (what the destination confirmed) is kept: `Default` = the
    /// cache, or the default cache without one; `None` keeps no state (every write starts over).
    pub state_cache: CacheChoice,
    /// `auto` (merge with a primary key, else append with a cursor, else replace), `append`,
    /// `merge` or `replace`: decides each stream's `destination_sync_mode`.
    pub write_strategy: WriteStrategy,
    /// Read and send everything, ignoring saved state.
    pub force_full_refresh: bool,
    /// Give up on a destination that reads none of its input for this long (default 10
    /// minutes; `None` waits for ever). Time it spends after its input ended (committing) is
    /// not limited.
    pub stall_timeout: Option<Duration>,
    /// Called with the progress, at most every 200 ms and once at the end.
    pub on_progress: Option<WriteProgressCallback>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            streams: None,
            cache: CacheChoice::Default,
            state_cache: CacheChoice::Default,
            write_strategy: WriteStrategy::Auto,
            force_full_refresh: false,
            stall_timeout: Some(DEFAULT_STALL_TIMEOUT),
            on_progress: None,
        }
    }
}

impl std::fmt::Debug for WriteOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteOptions")
            .field("streams", &self.streams)
            .field("cache", &self.cache)
            .field("state_cache", &self.state_cache)
            .field("write_strategy", &self.write_strategy)
            .field("force_full_refresh", &self.force_full_refresh)
            .field("stall_timeout", &self.stall_timeout)
            .finish_non_exhaustive()
    }
}

/// What one stream of a write did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamWriteSummary {
    /// Records sent to the destination.
    pub records_sent: u64,
    /// Records the destination said it committed (`destinationStats.recordCount` of its
    /// STATE echoes); `None` when it sends no such counts.
    pub records_committed: Option<u64>,
    /// STATE messages of this stream the destination confirmed.
    pub states_confirmed: u64,
}

/// The result of [`Destination::write`].
#[derive(Debug)]
pub struct WriteResult {
    destination_name: String,
    source_name: String,
    streams: BTreeMap<String, StreamWriteSummary>,
    processed_records: u64,
    committed_records: Option<u64>,
    state: StateProvider,
    log_file: Option<PathBuf>,
    elapsed: Duration,
    warnings: Vec<String>,
    read_result: Option<ReadResult>,
}

impl WriteResult {
    /// The destination's name.
    pub fn destination_name(&self) -> &str {
        &self.destination_name
    }

    /// The source's name.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// Records sent to the destination (PyAirbyte's `processed_records`).
    pub fn processed_records(&self) -> u64 {
        self.processed_records
    }

    /// Records the destination confirmed as committed, when it reports counts.
    pub fn committed_records(&self) -> Option<u64> {
        self.committed_records
    }

    /// Per-stream counts, for every stream of the write.
    pub fn streams(&self) -> &BTreeMap<String, StreamWriteSummary> {
        &self.streams
    }

    /// The states the destination confirmed in this write, newest per stream (PyAirbyte's
    /// `get_state_provider()`).
    pub fn get_state_provider(&self) -> &StateProvider {
        &self.state
    }

    /// The destination's log file.
    pub fn log_file(&self) -> Option<&Path> {
        self.log_file.as_deref()
    }

    /// Wall time of the write (the read into the cache included).
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Things that did not fail the write but deserve a look (echoes of unknown states,
    /// counts that do not add up).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The read into the cache that preceded the write, when there was one.
    pub fn read_result(&self) -> Option<&ReadResult> {
        self.read_result.as_ref()
    }
}

/// Where confirmed states go.
#[derive(Clone)]
struct StateStore {
    cache: DuckDbCache,
    destination: String,
    source: String,
}

/// What the two threads share.
struct Shared {
    tracker: EchoTracker,
    progress: BTreeMap<String, DestinationStreamProgress>,
    latest: BTreeMap<String, AirbyteStateMessage>,
    committed: HashMap<String, u64>,
    committed_unattributed: u64,
    stats_seen: bool,
    confirmed_by_stream: HashMap<String, u64>,
    confirmed: u64,
    warnings: Vec<String>,
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why feeding the destination stopped early.
enum FeedError {
    /// The source failed.
    Source(ConnectorError),
    /// The destination stopped taking input (gone, or stalled).
    Destination(io::Error),
    /// Something else (the cache during a replay, a bad option).
    Other(Error),
}

impl From<ConnectorError> for FeedError {
    fn from(e: ConnectorError) -> Self {
        Self::Source(e)
    }
}

/// Why the destination's side failed.
enum ConsumeError {
    Connector(ConnectorError),
    Store(Error),
}

impl From<ConnectorError> for ConsumeError {
    fn from(e: ConnectorError) -> Self {
        Self::Connector(e)
    }
}

/// The buffered stdin of the destination, remembering the first write error (so that an error
/// reported by the cache's replay can be told apart from the destination going away).
struct Feed {
    out: BufWriter<Tap>,
    complete: HashSet<String>,
}

struct Tap {
    inner: ConnectorStdin,
    failed: Option<io::ErrorKind>,
}

impl Write for Tap {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).inspect_err(|e| {
            self.failed.get_or_insert(e.kind());
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Feed {
    fn new(stdin: ConnectorStdin) -> Self {
        Self {
            out: BufWriter::with_capacity(
                FEED_BUFFER,
                Tap {
                    inner: stdin,
                    failed: None,
                },
            ),
            complete: HashSet::new(),
        }
    }

    fn line(&mut self, line: &[u8]) -> io::Result<()> {
        self.out.write_all(line)?;
        self.out.write_all(b"\n")
    }

    fn message(&mut self, message: &AirbyteMessage) -> io::Result<()> {
        self.line(message.to_line().as_bytes())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn status(&mut self, stream: &str, status: StreamStatus) -> io::Result<()> {
        if status == StreamStatus::Complete {
            self.complete.insert(stream.to_string());
        }
        self.message(&status_message(stream, status))
    }

    /// The destination's write error, when the feed failed because of it.
    fn destination_error(&self) -> Option<io::ErrorKind> {
        self.out.get_ref().failed
    }
}

fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

fn status_message(stream: &str, status: StreamStatus) -> AirbyteMessage {
    AirbyteMessage::trace(AirbyteTraceMessage {
        r#type: TraceType::StreamStatus,
        emitted_at: now_ms(),
        error: None,
        estimate: None,
        stream_status: Some(AirbyteStreamStatusTraceMessage {
            stream_descriptor: StreamDescriptor::new(stream),
            status,
            reasons: None,
            extra: Default::default(),
        }),
        analytics: None,
        extra: Default::default(),
    })
}

fn feed_io(e: io::Error) -> FeedError {
    FeedError::Destination(e)
}

/// Reads the destination's output, storing each confirmed state as it arrives.
fn consume(
    process: abrs_connectors::ConnectorProcess,
    shared: Arc<Mutex<Shared>>,
    store: Option<StateStore>,
) -> std::result::Result<RunSummary, ConsumeError> {
    process.for_each(|decoded| -> std::result::Result<Flow, ConsumeError> {
        if let Decoded::Message(m) = decoded
            && m.r#type == MessageType::State
            && let Some(state) = m.state
        {
            on_echo(&shared, store.as_ref(), state).map_err(ConsumeError::Store)?;
        }
        Ok(Flow::Continue)
    })
}

fn on_echo(
    shared: &Mutex<Shared>,
    store: Option<&StateStore>,
    state: AirbyteStateMessage,
) -> Result<()> {
    let mut s = lock(shared);
    let verdict = s.tracker.echoed(&state);
    if verdict == Echo::Unknown {
        let text = format!(
            "the destination echoed a state that was never sent ({}); it was ignored",
            state_key(&state)
        );
        tracing::warn!("{text}");
        if s.warnings.len() < 20 {
            s.warnings.push(text);
        }
        return Ok(());
    }
    // Counts of stale echoes are real commits too.
    let stream = state
        .stream
        .as_ref()
        .filter(|_| state.kind() == StateType::Stream)
        .map(|st| st.stream_descriptor.name.clone());
    if let Some(n) = state
        .destination_stats
        .as_ref()
        .and_then(|d| d.record_count)
    {
        s.stats_seen = true;
        let n = n.max(0.0) as u64;
        match &stream {
            Some(name) => *s.committed.entry(name.clone()).or_default() += n,
            None => s.committed_unattributed += n,
        }
    }
    let Echo::Confirmed(marks) = verdict else {
        return Ok(());
    };
    if let Some(store) = store {
        store
            .cache
            .write_destination_state(&store.destination, &store.source, &state)?;
        for mark in marks {
            let progress = s.progress.entry(mark.stream.clone()).or_default();
            progress.replayed_table = Some(mark.table);
            progress.replayed_through = mark.through;
            let progress = progress.clone();
            store.cache.set_destination_progress(
                &store.destination,
                &store.source,
                &mark.stream,
                &progress,
            )?;
        }
    }
    s.confirmed += 1;
    let names: Vec<String> = match (&stream, &state.global) {
        (Some(name), _) => vec![name.clone()],
        (None, Some(g)) => g
            .stream_states
            .iter()
            .map(|st| st.stream_descriptor.name.clone())
            .collect(),
        _ => Vec::new(),
    };
    for name in names {
        *s.confirmed_by_stream.entry(name).or_default() += 1;
    }
    s.latest.insert(state_key(&state), state);
    Ok(())
}

/// Progress reports from the feeding thread.
struct Reporter {
    callback: Option<WriteProgressCallback>,
    started: Instant,
    last: Instant,
}

impl Reporter {
    fn maybe(&mut self, records: u64, shared: &Mutex<Shared>) {
        if let Some(cb) = &self.callback
            && self.last.elapsed() >= PROGRESS_INTERVAL
        {
            self.last = Instant::now();
            cb(&WriteProgress {
                elapsed: self.started.elapsed(),
                records_sent: records,
                states_confirmed: lock(shared).confirmed,
                finished: false,
            });
        }
    }
}

impl Destination {
    /// Writes a source's streams, or a read result's cached streams, to this destination
    /// (PyAirbyte's `Destination.write`).
    ///
    /// * With a cache (the default), a source is first read into it (incrementally, from the
    ///   cache's state joined with the destination's), then each stream is replayed from the
    ///   cache: only the rows the destination has not confirmed yet, unless the stream is
    ///   overwritten (`replace`, or `auto` without key and cursor) or `force_full_refresh` is
    ///   set. Records keep the stream's own field names and types, followed by the stream's
    ///   state and a STREAM_STATUS COMPLETE.
    /// * With `cache: None`, the source's output goes straight through, line by line, as it
    ///   was written; the source resumes from the state the destination confirmed last time.
    ///
    /// Every STATE the destination echoes is stored in the state cache
    /// (`_airbyte_destination_state`) as it arrives: that is what it committed.
    ///
    /// Fails, keeping what was confirmed, when the destination exits non-zero, sends a TRACE
    /// ERROR, exits before reading all its input, or stalls; and when the source fails (the
    /// destination is then sent STREAM_STATUS INCOMPLETE for the unfinished streams, so that
    /// it does not swap partial data in, and its input is closed so it commits what it has).
    ///
    /// ```no_run
    /// use airbyte as ab;
    /// let mut source = ab::get_source("source-faker", Some(serde_json::json!({"count": 100})),
    ///     ab::SourceOptions::default())?;
    /// source.select_all_streams()?;
    /// let destination = ab::get_noop_destination();
    /// let result = destination.write(&source, ab::WriteOptions {
    ///     cache: ab::CacheChoice::None,
    ///     ..Default::default()
    /// })?;
    /// println!("{} records sent, {:?} committed", result.processed_records(),
    ///     result.committed_records());
    /// # Ok::<(), ab::Error>(())
    /// ```
    pub fn write<'a>(
        &self,
        data: impl Into<WriteSource<'a>>,
        options: WriteOptions,
    ) -> Result<WriteResult> {
        let started = Instant::now();
        let data = data.into();
        let source_name = match data {
            WriteSource::Source(s) => s.name().to_string(),
            WriteSource::ReadResult(r) => r.source_name().to_string(),
        };
        let cache = match data {
            WriteSource::Source(_) => options.cache.resolve(),
            WriteSource::ReadResult(r) => Some(r.cache().clone()),
        };
        let state_cache = match &options.state_cache {
            CacheChoice::Default => cache.clone().or_else(|| Some(default_cache())),
            CacheChoice::None => None,
            CacheChoice::Given(c) => Some(c.clone()),
        };
        let mut catalog = match data {
            WriteSource::Source(s) => {
                s.get_configured_catalog(options.streams.clone(), options.force_full_refresh)?
            }
            WriteSource::ReadResult(r) => r.configured_catalog().clone(),
        };
        if catalog.streams.is_empty() {
            return Err(Error::NoStreamsSelected {
                name: source_name,
                available: Vec::new(),
            });
        }
        let progress = match &state_cache {
            Some(c) => c.get_destination_progress(self.name(), &source_name)?,
            None => BTreeMap::new(),
        };
        let plans = plan_catalog(&mut catalog, options.write_strategy, &progress)?;
        let config = self.core.hydrated_config_for("write")?;
        let store = state_cache.as_ref().map(|c| StateStore {
            cache: c.clone(),
            destination: self.name().to_string(),
            source: source_name.clone(),
        });
        if let Some(store) = &store {
            for (stream, plan) in &plans {
                store.cache.set_destination_progress(
                    &store.destination,
                    &store.source,
                    stream,
                    &plan.progress,
                )?;
            }
        }
        let destination_states = match (&store, options.force_full_refresh) {
            (Some(s), false) => s
                .cache
                .get_destination_state_provider(&s.destination, &s.source)?
                .state_messages()
                .to_vec(),
            _ => Vec::new(),
        };

        // A source read into the cache first; the destination is not started before that
        // read succeeded.
        let mut read_result = None;
        if let (WriteSource::Source(source), Some(cache)) = (data, &cache) {
            let names = catalog
                .streams
                .iter()
                .map(|s| s.stream.name.clone())
                .collect();
            let read = source.read_joined(
                cache,
                ReadOptions {
                    streams: Some(StreamSelection::Names(names)),
                    write_strategy: options.write_strategy,
                    force_full_refresh: options.force_full_refresh
                        || options.write_strategy == WriteStrategy::Replace,
                    ..Default::default()
                },
                destination_states.clone(),
            )?;
            read_result = Some(read);
        }

        let mut process = self.execute(Invocation::write(
            config,
            catalog.clone(),
            StdinSource::Pipe,
        ))?;
        let log_file = process.log_file().map(Path::to_path_buf);
        let Some(mut stdin) = process.take_stdin() else {
            return Err(Error::input(
                format!(
                    "the executor of `{}` gave no stdin to write to",
                    self.name()
                ),
                "use an executor that supports destinations",
            ));
        };
        stdin
            .set_stall_timeout(options.stall_timeout)
            .map_err(|source| Error::Io {
                path: PathBuf::from("<destination stdin>"),
                source,
            })?;
        let stop = process.stop_handle();
        let shared = Arc::new(Mutex::new(Shared {
            tracker: EchoTracker::default(),
            progress: plans
                .iter()
                .map(|(k, p)| (k.clone(), p.progress.clone()))
                .collect(),
            latest: BTreeMap::new(),
            committed: HashMap::new(),
            committed_unattributed: 0,
            stats_seen: false,
            confirmed_by_stream: HashMap::new(),
            confirmed: 0,
            warnings: Vec::new(),
        }));
        let consumer = {
            let shared = Arc::clone(&shared);
            let store = store.clone();
            std::thread::Builder::new()
                .name("destination-output".into())
                .spawn(move || consume(process, shared, store))
                .map_err(|source| Error::Io {
                    path: PathBuf::from("<destination output thread>"),
                    source,
                })?
        };

        let names: Vec<String> = catalog
            .streams
            .iter()
            .map(|s| s.stream.name.clone())
            .collect();
        let mut counters = Counters::new(names.clone());
        let mut reporter = Reporter {
            callback: options.on_progress.clone(),
            started,
            last: Instant::now(),
        };
        let mut feed = Feed::new(stdin);
        let fed = match (data, &cache) {
            (WriteSource::Source(source), None) => {
                let overwritten: HashSet<String> = plans
                    .iter()
                    .filter(|(_, p)| p.truncates())
                    .map(|(k, _)| k.clone())
                    .collect();
                let state = (!options.force_full_refresh).then(|| {
                    let states = without_streams(destination_states, &overwritten);
                    Value::Array(
                        states
                            .iter()
                            .filter_map(|m| serde_json::to_value(m).ok())
                            .collect(),
                    )
                });
                pass_through(
                    source,
                    catalog.clone(),
                    state,
                    &mut feed,
                    &shared,
                    &mut counters,
                    &mut reporter,
                )
            }
            (_, Some(cache)) => replay(
                cache,
                &source_name,
                &catalog,
                &plans,
                options.force_full_refresh,
                &mut feed,
                &shared,
                &mut counters,
                &mut reporter,
            ),
            (WriteSource::ReadResult(_), None) => Err(FeedError::Other(Error::input(
                "a read result was given without its cache",
                "this is a bug in airbyte-rs; please report it",
            ))),
        };
        let fed = fed.and_then(|()| feed.flush().map_err(feed_io));
        if let Err(e) = &fed {
            match e {
                FeedError::Destination(io) if io.kind() == io::ErrorKind::TimedOut => stop.stop(),
                FeedError::Destination(_) => {}
                // The input ends early: tell the destination which streams are unfinished, so
                // that it does not swap partial data in, then let it commit what it has.
                FeedError::Source(_) | FeedError::Other(_) => {
                    for name in &names {
                        if !feed.complete.contains(name) {
                            let _ = feed.status(name, StreamStatus::Incomplete);
                        }
                    }
                    let _ = feed.flush();
                }
            }
        }
        let destination_write_error = feed.destination_error();
        drop(feed);
        let consumed = consumer.join().unwrap_or_else(|_| {
            Err(ConsumeError::Store(Error::input(
                "the thread reading the destination's output panicked",
                "this is a bug in airbyte-rs; please report it",
            )))
        });
        if let Some(cb) = &options.on_progress {
            cb(&WriteProgress {
                elapsed: started.elapsed(),
                records_sent: counters.records,
                states_confirmed: lock(&shared).confirmed,
                finished: true,
            });
        }

        let shared = std::mem::replace(
            &mut *lock(&shared),
            Shared {
                tracker: EchoTracker::default(),
                progress: BTreeMap::new(),
                latest: BTreeMap::new(),
                committed: HashMap::new(),
                committed_unattributed: 0,
                stats_seen: false,
                confirmed_by_stream: HashMap::new(),
                confirmed: 0,
                warnings: Vec::new(),
            },
        );
        let outcome = Outcome {
            destination: self.name(),
            source: &source_name,
            shared: &shared,
            state_cache: state_cache.as_ref(),
            sent: counters.records,
        };
        let run = outcome.judge(fed, consumed, destination_write_error)?;

        let mut warnings = shared.warnings.clone();
        let committed_total = shared
            .stats_seen
            .then(|| shared.committed.values().sum::<u64>() + shared.committed_unattributed);
        if let Some(c) = committed_total
            && c > counters.records
        {
            let text = format!(
                "the destination reported {c} records committed, more than the {} sent",
                counters.records
            );
            tracing::warn!("{text}");
            warnings.push(text);
        }
        let streams = names
            .iter()
            .map(|name| {
                let i = counters.names.iter().position(|n| n == name);
                (
                    name.clone(),
                    StreamWriteSummary {
                        records_sent: i.map(|i| counters.counts[i]).unwrap_or(0),
                        records_committed: shared
                            .stats_seen
                            .then(|| shared.committed.get(name).copied().unwrap_or(0)),
                        states_confirmed: shared
                            .confirmed_by_stream
                            .get(name)
                            .copied()
                            .unwrap_or(0),
                    },
                )
            })
            .collect();
        Ok(WriteResult {
            destination_name: self.name().to_string(),
            source_name,
            streams,
            processed_records: counters.records,
            committed_records: committed_total,
            state: StateProvider::new(shared.latest.into_values().collect()),
            log_file: run.log_file.or(log_file),
            elapsed: started.elapsed(),
            warnings,
            read_result,
        })
    }
}

/// Passes the source's output to the destination line by line, as written: only the type and
/// stream of each line are looked at (records are never serialized again). LOGs stay in the
/// source's log, its TRACE ERROR fails the write instead of reaching the destination.
fn pass_through(
    source: &Source,
    catalog: ConfiguredAirbyteCatalog,
    state: Option<Value>,
    feed: &mut Feed,
    shared: &Mutex<Shared>,
    counters: &mut Counters,
    reporter: &mut Reporter,
) -> std::result::Result<(), FeedError> {
    let invocation = source
        .read_invocation(catalog, state)
        .map_err(FeedError::Other)?;
    let process = source.execute(invocation).map_err(FeedError::Other)?;
    process
        .for_each_line(|line, decoded| -> std::result::Result<Flow, FeedError> {
            match decoded {
                Decoded::Record(r) => {
                    counters.add(&r.stream);
                    feed.line(line).map_err(feed_io)?;
                    if counters.records.is_multiple_of(256) {
                        reporter.maybe(counters.records, shared);
                    }
                }
                Decoded::Message(m) => match m.r#type {
                    MessageType::State => {
                        if let Some(state) = &m.state {
                            counters.states += 1;
                            lock(shared).tracker.sent(state, Vec::new());
                        }
                        feed.line(line).map_err(feed_io)?;
                        feed.flush().map_err(feed_io)?;
                    }
                    MessageType::Trace => {
                        let Some(trace) = &m.trace else {
                            return Ok(Flow::Continue);
                        };
                        if trace.r#type == TraceType::Error {
                            return Ok(Flow::Continue);
                        }
                        if let Some(st) = &trace.stream_status
                            && st.status == StreamStatus::Complete
                        {
                            feed.complete.insert(st.stream_descriptor.name.clone());
                        }
                        feed.line(line).map_err(feed_io)?;
                        if trace.stream_status.is_some() {
                            feed.flush().map_err(feed_io)?;
                        }
                    }
                    _ => {}
                },
                Decoded::Blank => {}
            }
            Ok(Flow::Continue)
        })
        .map(|_| ())
}

/// The stored state of one stream, or an empty one for a stream the cache has none of (the
/// destination must echo something for its rows to count as confirmed).
fn stream_state_of(states: &StateProvider, stream: &str) -> AirbyteStateMessage {
    states
        .state_messages()
        .iter()
        .find(|m| {
            m.stream
                .as_ref()
                .is_some_and(|s| s.stream_descriptor.name == stream)
        })
        .cloned()
        .unwrap_or_else(|| AirbyteStateMessage {
            r#type: Some(StateType::Stream),
            stream: Some(abrs_protocol::AirbyteStreamState {
                stream_descriptor: StreamDescriptor::new(stream),
                stream_state: Some(Value::Object(Default::default())),
                extra: Default::default(),
            }),
            global: None,
            data: None,
            source_stats: None,
            destination_stats: None,
            extra: Default::default(),
        })
}

/// Sends the cached streams, one after the other: for each, STARTED, the rows the destination
/// has not confirmed yet (all of them when it overwrites), the stream's state and COMPLETE. A
/// GLOBAL state is sent once, after every stream's rows.
#[allow(clippy::too_many_arguments)]
fn replay(
    cache: &DuckDbCache,
    source_name: &str,
    catalog: &ConfiguredAirbyteCatalog,
    plans: &BTreeMap<String, StreamPlan>,
    force_full_refresh: bool,
    feed: &mut Feed,
    shared: &Mutex<Shared>,
    counters: &mut Counters,
    reporter: &mut Reporter,
) -> std::result::Result<(), FeedError> {
    let states = cache
        .get_state_provider(source_name)
        .map_err(|e| FeedError::Other(e.into()))?;
    let global = states
        .state_messages()
        .iter()
        .find(|m| m.kind() == StateType::Global)
        .cloned();
    let place = cache_place(cache);
    let mut global_marks = Vec::new();
    for stream in &catalog.streams {
        let name = &stream.stream.name;
        let plan = plans.get(name);
        let previous = plan.map(|p| &p.progress);
        let table = cache
            .table_name(name)
            .map_err(|e| FeedError::Other(e.into()))?;
        let table_id = format!("{place}#{table}");
        let after = match (plan, previous) {
            (Some(p), _) if p.truncates() => None,
            _ if force_full_refresh => None,
            (_, Some(prev)) if prev.replayed_table.as_deref() == Some(table_id.as_str()) => {
                prev.replayed_through.clone()
            }
            _ => None,
        };
        feed.status(name, StreamStatus::Started).map_err(feed_io)?;
        let replayed = cache.replay_stream(
            name,
            &ReplayOptions {
                after_raw_id: after.clone(),
            },
            &mut feed.out,
        );
        let summary = match replayed {
            Ok(s) => s,
            Err(e) => {
                return Err(match feed.destination_error() {
                    Some(kind) => FeedError::Destination(io::Error::new(kind, e.to_string())),
                    None => FeedError::Other(e.into()),
                });
            }
        };
        for _ in 0..summary.records {
            counters.add(name);
        }
        reporter.maybe(counters.records, shared);
        let mark = ReplayMark {
            stream: name.clone(),
            table: table_id,
            through: summary.max_raw_id.or(after),
        };
        if global.is_some() {
            global_marks.push(mark);
            continue;
        }
        let state = stream_state_of(&states, name);
        counters.states += 1;
        lock(shared).tracker.sent(&state, vec![mark]);
        feed.message(&AirbyteMessage::state(state))
            .map_err(feed_io)?;
        feed.status(name, StreamStatus::Complete).map_err(feed_io)?;
        feed.flush().map_err(feed_io)?;
    }
    if let Some(global) = global {
        counters.states += 1;
        lock(shared).tracker.sent(&global, global_marks);
        feed.message(&AirbyteMessage::state(global))
            .map_err(feed_io)?;
        for stream in &catalog.streams {
            feed.status(&stream.stream.name, StreamStatus::Complete)
                .map_err(feed_io)?;
        }
        feed.flush().map_err(feed_io)?;
    }
    Ok(())
}

/// Names a cache file and schema, so that a replay mark is only trusted for the table it was
/// made on.
fn cache_place(cache: &DuckDbCache) -> String {
    let path = std::path::absolute(cache.db_path()).unwrap_or_else(|_| cache.db_path().into());
    format!("{}:{}", path.display(), cache.schema_name())
}

/// Judges the two sides of a write.
struct Outcome<'a> {
    destination: &'a str,
    source: &'a str,
    shared: &'a Shared,
    state_cache: Option<&'a DuckDbCache>,
    sent: u64,
}

impl Outcome<'_> {
    /// What stays after a failure, in words.
    fn kept(&self) -> String {
        let n = self.shared.confirmed;
        match self.state_cache {
            None => "No destination state is kept (state_cache is off): the next write starts over."
                .to_string(),
            Some(_) if n == 0 => "The destination confirmed no state, so none was stored: the next write sends the same data again.".to_string(),
            Some(c) => {
                let keys: Vec<&str> = self.shared.latest.keys().map(String::as_str).collect();
                format!(
                    "The destination confirmed {n} state(s) before that ({}); they are stored in \
                     the state cache ({}), so the next write resumes from there.",
                    keys.join(", "),
                    c.db_path().display()
                )
            }
        }
    }

    fn fail(&self, reason: String, source: Option<Error>) -> Error {
        Error::WriteFailed {
            destination: self.destination.to_string(),
            reason,
            kept: self.kept(),
            source: source.map(Box::new),
        }
    }

    fn judge(
        &self,
        fed: std::result::Result<(), FeedError>,
        consumed: std::result::Result<RunSummary, ConsumeError>,
        write_error: Option<io::ErrorKind>,
    ) -> Result<RunSummary> {
        let consumed = match consumed {
            Err(ConsumeError::Store(e)) => {
                return Err(self.fail(format!("storing a state it confirmed failed: {e}"), Some(e)));
            }
            Err(ConsumeError::Connector(e)) => Err(e),
            Ok(run) => Ok(run),
        };
        let destination_failure = |e: &ConnectorError| format!("the destination failed: {e}");
        match (fed, consumed) {
            (Err(FeedError::Source(e)), consumed) => {
                let after = match &consumed {
                    Ok(_) => "The destination was told the unfinished streams are incomplete \
                              (STREAM_STATUS INCOMPLETE) and committed what it had."
                        .to_string(),
                    Err(d) => format!("Then {}.", destination_failure(d)),
                };
                let source_error = Error::from_connector(self.source, e);
                Err(self.fail(
                    format!(
                        "the source `{}` failed after {} records were sent, so the write \
                         stopped: {source_error}. {after}",
                        self.source, self.sent
                    ),
                    Some(source_error),
                ))
            }
            (Err(FeedError::Other(e)), _) => {
                Err(self.fail(format!("the input could not be prepared: {e}"), Some(e)))
            }
            (fed, Err(e)) => {
                let stalled = matches!(&fed, Err(FeedError::Destination(io)) if io.kind() == io::ErrorKind::TimedOut);
                let how = if stalled {
                    format!(
                        "it stopped reading its input (after {} records were sent) and was \
                         stopped; ",
                        self.sent
                    )
                } else if fed.is_err() || write_error.is_some() {
                    format!(
                        "it stopped reading its input after {} records were sent; ",
                        self.sent
                    )
                } else {
                    "it had received all of its input (it may have committed part or all of \
                     it before failing); "
                        .to_string()
                };
                Err(self.fail(
                    format!("{how}{}", destination_failure(&e)),
                    Some(Error::from_connector(self.destination, e)),
                ))
            }
            (Err(FeedError::Destination(io)), Ok(_)) => Err(self.fail(
                format!(
                    "the destination exited successfully but without reading all of its input \
                     ({io}; {} records had been sent). It may have dropped data; check its log",
                    self.sent
                ),
                None,
            )),
            (Ok(()), Ok(run)) => match run.unread_input_bytes {
                Some(n) if n > 0 => Err(self.fail(
                    format!(
                        "the destination exited successfully but left {n} bytes of its input \
                         unread (of {} records sent). It may have dropped data; check its log{}",
                        self.sent,
                        run.log_file
                            .as_ref()
                            .map(|p| format!(" ({})", p.display()))
                            .unwrap_or_default()
                    ),
                    None,
                )),
                _ => Ok(run),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_state_stands_in_for_streams_without_one() {
        let s = stream_state_of(&StateProvider::default(), "users");
        assert_eq!(s.kind(), StateType::Stream);
        assert_eq!(
            serde_json::to_value(&s).unwrap()["stream"]["stream_state"],
            serde_json::json!({})
        );
    }
}
