//! The source's side of a write: what goes into the destination's stdin, straight from the
//! source or replayed from the cache.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, BufWriter, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use abrs_caches::{Cache, ReplayOptions, StateProvider};
use abrs_connectors::{ConnectorError, ConnectorStdin, Flow, Invocation, PassLine};
use abrs_protocol::{
    AirbyteMessage, AirbyteStateMessage, ConfiguredAirbyteCatalog, Decoded, MessageType, StateType,
    StreamDescriptor, StreamStatus, TraceType,
};
use serde_json::Value;

use super::catalog::StreamPlan;
use super::confirm::{Shared, lock};
use super::echo::ReplayMark;
use super::write::{WriteProgress, WriteProgressCallback};
use crate::error::Error;
use crate::read::{ConnectorStartedCallback, Counters};
use crate::source::Source;

/// Bytes buffered in front of the destination's stdin (flushed at every STATE and status).
const FEED_BUFFER: usize = 256 * 1024;
/// How often, at most, the progress callback is called.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(200);

/// Why feeding the destination stopped early.
pub(crate) enum FeedError {
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

/// The buffered stdin of the destination, remembering the first write error (so that an error
/// reported by the cache's replay can be told apart from the destination going away).
pub(crate) struct Feed {
    pub(crate) out: BufWriter<Tap>,
    pub(crate) complete: HashSet<String>,
}

pub(crate) struct Tap {
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
    pub(crate) fn new(stdin: ConnectorStdin) -> Self {
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

    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub(crate) fn status(&mut self, stream: &str, status: StreamStatus) -> io::Result<()> {
        if status == StreamStatus::Complete {
            self.complete.insert(stream.to_string());
        }
        self.message(&AirbyteMessage::stream_status(
            StreamDescriptor::new(stream),
            status,
        ))
    }

    /// The destination's write error, when the feed failed because of it.
    pub(crate) fn destination_error(&self) -> Option<io::ErrorKind> {
        self.out.get_ref().failed
    }
}

pub(crate) fn feed_io(e: io::Error) -> FeedError {
    FeedError::Destination(e)
}

/// Progress reports from the feeding thread.
pub(crate) struct Reporter {
    pub(crate) callback: Option<WriteProgressCallback>,
    pub(crate) started: Instant,
    pub(crate) last: Instant,
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

/// Passes the source's output to the destination line by line, as written: only the type and
/// stream of each line are looked at (records are neither parsed nor serialized again). LOGs
/// stay in the source's log, its TRACE ERROR fails the write instead of reaching the
/// destination.
pub(crate) fn pass_through(
    source: &Source,
    invocation: Invocation,
    on_started: Option<&ConnectorStartedCallback>,
    feed: &mut Feed,
    shared: &Mutex<Shared>,
    counters: &mut Counters,
    reporter: &mut Reporter,
) -> std::result::Result<(), FeedError> {
    let process = source.execute(invocation).map_err(FeedError::Other)?;
    if let Some(cb) = on_started {
        cb(process.pid());
    }
    process
        .for_each_passthrough(|line, passed| -> std::result::Result<Flow, FeedError> {
            let decoded = match passed {
                PassLine::Record(stream) => {
                    counters.add(stream, line.len() as u64);
                    feed.line(line).map_err(feed_io)?;
                    if counters.records.is_multiple_of(256) {
                        reporter.maybe(counters.records, shared);
                    }
                    return Ok(Flow::Continue);
                }
                PassLine::Message(decoded) => decoded,
            };
            match decoded {
                Decoded::Record(r) => {
                    counters.add(&r.stream, r.data.get().len() as u64);
                    feed.line(line).map_err(feed_io)?;
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
                        if let Some(st) = &trace.stream_status {
                            match st.status {
                                StreamStatus::Started => {
                                    counters.stream_started(&st.stream_descriptor.name);
                                }
                                StreamStatus::Complete => {
                                    counters.stream_ended(&st.stream_descriptor.name);
                                    feed.complete.insert(st.stream_descriptor.name.clone());
                                }
                                _ => {}
                            }
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
pub(crate) fn stream_state_of(states: &StateProvider, stream: &str) -> AirbyteStateMessage {
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
pub(crate) fn replay(
    cache: &Cache,
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
    let place = cache.place();
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
        counters.stream_started(name);
        let replayed = cache.replay_stream(
            name,
            &ReplayOptions {
                after_raw_id: after.clone(),
                namespace: stream.stream.namespace.clone(),
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
        // Lines, not `data`, are what a replay measures: close enough for the stats.
        counters.add_many(name, summary.records, summary.bytes);
        counters.stream_ended(name);
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
