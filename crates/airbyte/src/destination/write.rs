//! `Destination::write`: feeding a destination from a source or a cache, and keeping what it
//! confirms.
//!
//! Two threads: this one feeds the destination's stdin (the source's lines as they are, or the
//! cache's rows as RECORD messages), and a second one reads the destination's output, matches
//! its STATE echoes against the states sent (`echo.rs`) and stores each confirmed one in the
//! state cache as it arrives. The stdin pipe is the only buffer between the two processes, so a
//! slow destination slows the source and memory stays flat.

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use abrs_caches::{
    Cache, DestinationStreamProgress, DuckDbCache, PostgresCache, StateProvider, WriteStrategy,
    default_cache,
};
use abrs_connectors::{Invocation, StdinSource};
use abrs_protocol::StreamStatus;
use serde_json::{Value, json};

use super::Destination;
use super::catalog::plan_catalog;
use super::confirm::{ConsumeError, Shared, StateStore, consume, lock};
use super::feed::{Feed, FeedError, Reporter, feed_io, pass_through, replay};
use super::joined_state::without_streams;
use super::outcome::Outcome;
use crate::error::{Error, Result};
use crate::read::{ConnectorStartedCallback, Counters, ReadOptions, ReadResult};
use crate::source::{Source, StreamSelection};

/// How long a destination may read none of its input before the write gives up on it.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(600);

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
    /// This DuckDB cache.
    Given(DuckDbCache),
    /// This cache, of any backend (a [`PostgresCache`], …).
    Cache(Cache),
}

impl From<Cache> for CacheChoice {
    fn from(c: Cache) -> Self {
        match c {
            Cache::DuckDb(c) => Self::Given(c),
            other => Self::Cache(other),
        }
    }
}

impl From<DuckDbCache> for CacheChoice {
    fn from(c: DuckDbCache) -> Self {
        Self::Given(c)
    }
}

impl From<PostgresCache> for CacheChoice {
    fn from(c: PostgresCache) -> Self {
        Self::Cache(c.into())
    }
}

impl CacheChoice {
    fn resolve(&self) -> Result<Option<Cache>> {
        Ok(match self {
            Self::Default => Some(default_cache().into()),
            Self::None => None,
            Self::Given(c) => Some(c.into()),
            Self::Cache(c) => Some(crate::read::hydrate_cache(c)?),
        })
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
    /// straight through; `Given`/`Cache`: that cache (DuckDB or PostgreSQL; `.into()` from
    /// either). A read result always uses its own cache.
    pub cache: CacheChoice,
    /// Where destination state (what the destination confirmed) is kept: `Default` = the
    /// cache, or the default cache without one; `None` keeps no state (every write starts over);
    /// `Given`/`Cache`: that cache (its `_airbyte_destination_state`).
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
    /// Called once the source's process is started (for the read into the cache, or the
    /// straight-through read), with its pid: lets a program stop it on Ctrl-C, which ends the
    /// write as a source failure (the destination is told the streams are incomplete). Called
    /// again with `None` once a read into the cache has ended.
    pub on_source_started: Option<ConnectorStartedCallback>,
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
            on_source_started: None,
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
            WriteSource::Source(_) => options.cache.resolve()?,
            WriteSource::ReadResult(r) => Some(crate::read::hydrate_cache(r.cache())?),
        };
        let state_cache = match &options.state_cache {
            // Straight through, the state cache only stores echoes: one DuckDB thread is
            // plenty, and each further one costs memory (docs/PERFORMANCE.md).
            CacheChoice::Default => cache
                .clone()
                .or_else(|| Some(default_cache().with_threads(1).into())),
            other => other.resolve()?,
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
        // A state cache that does not exist yet holds no state: it is created by the thread
        // that stores the echoes, while the connectors start, not before them.
        let fresh_state_cache = state_cache.as_ref().is_some_and(|c| {
            c.as_duckdb()
                .is_some_and(|c| c.db_path().as_os_str() != ":memory:" && !c.db_path().exists())
        });
        let progress = match &state_cache {
            Some(c) if !fresh_state_cache => {
                c.get_destination_progress(self.name(), &source_name)?
            }
            _ => BTreeMap::new(),
        };
        let plans = plan_catalog(&mut catalog, options.write_strategy, &progress)?;
        let config = self.core.hydrated_config_for("write")?;
        let store = state_cache.as_ref().map(|c| StateStore {
            cache: c.clone(),
            destination: self.name().to_string(),
            source: source_name.clone(),
        });
        let destination_states = match (&store, options.force_full_refresh) {
            (Some(s), false) if !fresh_state_cache => s
                .cache
                .get_destination_state_provider(&s.destination, &s.source)?
                .state_messages()
                .to_vec(),
            _ => Vec::new(),
        };

        let earlier_state = match (&store, options.force_full_refresh) {
            (Some(s), true) if !fresh_state_cache => !s
                .cache
                .get_destination_state_provider(&s.destination, &s.source)?
                .state_messages()
                .is_empty(),
            _ => !destination_states.is_empty(),
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
                    on_connector_started: options.on_source_started.clone(),
                    ..Default::default()
                },
                destination_states.clone(),
            )?;
            read_result = Some(read);
            // The source has ended: nothing of it is left to stop.
            if let Some(cb) = &options.on_source_started {
                cb(None);
            }
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
            progress: plans
                .iter()
                .map(|(k, p)| (k.clone(), p.progress.clone()))
                .collect(),
            ..Default::default()
        }));
        // The new generations are saved (one transaction) by the output thread, before it reads
        // any echo, while the destination starts up.
        let progress: Vec<(String, DestinationStreamProgress)> = plans
            .iter()
            .map(|(k, p)| (k.clone(), p.progress.clone()))
            .collect();
        let consumer = {
            let shared = Arc::clone(&shared);
            let store = store.clone();
            std::thread::Builder::new()
                .name("destination-output".into())
                .spawn(move || consume(process, shared, store, progress))
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
                source
                    .read_invocation(catalog.clone(), state)
                    .map_err(FeedError::Other)
                    .and_then(|invocation| {
                        pass_through(
                            source,
                            invocation,
                            options.on_source_started.as_ref(),
                            &mut feed,
                            &shared,
                            &mut counters,
                            &mut reporter,
                        )
                    })
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

        let shared = std::mem::take(&mut *lock(&shared));
        let outcome = Outcome {
            destination: self.name(),
            source: &source_name,
            shared: &shared,
            state_cache: state_cache.as_ref(),
            sent: counters.records,
            earlier_state,
        };
        let run = outcome.judge(fed, consumed, destination_write_error)?;
        counters.finish_stats();
        let mut steps = vec![source_name.clone()];
        let mut job_info = serde_json::Map::new();
        if let WriteSource::Source(_) = data {
            job_info.insert("source".into(), json!({"name": source_name}));
        }
        if let Some(c) = &cache {
            let class = crate::read::cache_class_name(c);
            steps.push(class.to_string());
            job_info.insert("cache".into(), json!({"type": class}));
        }
        steps.push(self.name().to_string());
        job_info.insert("description".into(), json!(steps.join(" -> ")));
        job_info.insert("destination".into(), json!({"name": self.name()}));
        counters.stats.log("write", Value::Object(job_info));

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
