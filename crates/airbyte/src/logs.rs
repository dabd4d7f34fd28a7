//! PyAirbyte's log layout (`airbyte/logs.py`), under `AIRBYTE_LOGGING_ROOT` (default
//! `/tmp/airbyte/logs`):
//!
//! * the global log of this process: `<root>/<YYYY-MM-DD>/airbyte-log-<id>.log`
//!   ([`global_log_path`]; the CLI sends its `tracing` events there, as JSON lines when
//!   `AIRBYTE_STRUCTURED_LOGGING` is on);
//! * one log per connector: `<root>/<connector>/<connector>-log-<id>.log`
//!   ([`abrs_connectors::connector_log_path`]);
//! * the performance stats: `<root>/airbyte-stats.log`, one JSON object a line after every
//!   read and write ([`StatsTracker`], PyAirbyte's `_log_read_metrics` fields).
//!
//! Files are created readable by their owner only: logs may name tables and streams.

pub use crate::global_log_layer::GlobalLogLayer;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

pub use abrs_connectors::{connector_log_path, logging_root};

/// `1`/`true`: the global log is written as JSON lines (PyAirbyte's structlog output).
pub const STRUCTURED_LOGGING_ENV: &str = "AIRBYTE_STRUCTURED_LOGGING";

/// Whether `AIRBYTE_STRUCTURED_LOGGING` is on.
pub fn structured_logging() -> bool {
    crate::registry::env_bool(STRUCTURED_LOGGING_ENV) == Some(true)
}

/// This process's global log file (the same path for the whole process).
pub fn global_log_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
        let id = uuid::Uuid::now_v7().simple().to_string();
        // PyAirbyte takes 9 characters of a ULID after its time prefix; the random tail of a
        // v7 UUID serves the same purpose.
        logging_root()
            .join(day)
            .join(format!("airbyte-log-{}.log", &id[id.len() - 9..]))
    })
    .clone()
}

/// The path of the stats file, `<root>/airbyte-stats.log`.
pub fn stats_log_path() -> PathBuf {
    logging_root().join("airbyte-stats.log")
}

fn open_append(path: &std::path::Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// A writer of the global log (for `tracing_subscriber`'s `with_writer`): the file is opened on
/// the first line; when it cannot be, lines are dropped (logging never fails a sync) and one
/// warning goes to stderr.
#[derive(Debug, Clone, Copy, Default)]
pub struct GlobalLogWriter;

fn global_file() -> &'static Mutex<Option<File>> {
    static FILE: OnceLock<Mutex<Option<File>>> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = global_log_path();
        let file = match open_append(&path) {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!(
                    "warning: the log file {} could not be opened ({e}); logging to it is off",
                    path.display()
                );
                None
            }
        };
        Mutex::new(file)
    })
}

impl Write for GlobalLogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut guard) = global_file().lock()
            && let Some(f) = guard.as_mut()
        {
            // A full disk must not end the sync: the line is dropped.
            let _ = f.write_all(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Appends one stats object to `airbyte-stats.log` with PyAirbyte's `timestamp`
/// (`YYYY-MM-DD HH:MM:SS`, UTC). Returns the file, or `None` when it cannot be written (a
/// warning is logged; stats never fail a read).
pub fn write_stats(mut entry: Map<String, Value>) -> Option<PathBuf> {
    entry.insert(
        "timestamp".into(),
        json!(chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string()),
    );
    let path = stats_log_path();
    let mut line = Value::Object(entry).to_string();
    line.push('\n');
    match open_append(&path).and_then(|mut f| f.write_all(line.as_bytes())) {
        Ok(()) => Some(path),
        Err(e) => {
            tracing::warn!(
                "the stats file {} could not be written ({e})",
                path.display()
            );
            None
        }
    }
}

fn epoch_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Time to first record above which PyAirbyte adds `*_adjusted` rates (seconds).
const TIME_TO_FIRST_RECORD_THRESHOLD_SECONDS: f64 = 10.0;

#[derive(Debug, Default, Clone)]
struct StreamStats {
    records: u64,
    bytes: u64,
    start: Option<f64>,
    first_record: Option<f64>,
    end: Option<f64>,
}

/// Counts a read (or a write) per stream, with the times PyAirbyte's progress tracker keeps,
/// and renders PyAirbyte's stats entry (`job_type`, `job_info`, `performance_metrics` with
/// `stream_metrics`).
#[derive(Debug)]
pub struct StatsTracker {
    started_wall: SystemTime,
    started: Instant,
    streams: BTreeMap<String, StreamStats>,
}

impl Default for StatsTracker {
    fn default() -> Self {
        Self::new()
    }
}

impl StatsTracker {
    /// Starts the clock.
    pub fn new() -> Self {
        Self {
            started_wall: SystemTime::now(),
            started: Instant::now(),
            streams: BTreeMap::new(),
        }
    }

    fn now(&self) -> f64 {
        epoch_seconds(self.started_wall) + self.started.elapsed().as_secs_f64()
    }

    /// A stream started (its first STARTED status, or its first record).
    pub fn stream_started(&mut self, stream: &str) {
        let now = self.now();
        self.streams
            .entry(stream.to_string())
            .or_default()
            .start
            .get_or_insert(now);
    }

    /// One record of `stream`, `bytes` long (the record's data, without the envelope).
    pub fn record(&mut self, stream: &str, bytes: usize) {
        let now = self.now();
        let s = self.streams.entry(stream.to_string()).or_default();
        s.start.get_or_insert(now);
        s.first_record.get_or_insert(now);
        s.records += 1;
        s.bytes += bytes as u64;
    }

    /// `n` records of `stream` at once (for paths that count in batches).
    pub fn records(&mut self, stream: &str, n: u64, bytes: u64) {
        if n == 0 {
            return;
        }
        let now = self.now();
        let s = self.streams.entry(stream.to_string()).or_default();
        s.start.get_or_insert(now);
        s.first_record.get_or_insert(now);
        s.records += n;
        s.bytes += bytes;
    }

    /// A stream ended (COMPLETE, or the end of the read).
    pub fn stream_ended(&mut self, stream: &str) {
        let now = self.now();
        let s = self.streams.entry(stream.to_string()).or_default();
        s.start.get_or_insert(now);
        s.end = Some(now);
    }

    /// Records counted so far.
    pub fn total_records(&self) -> u64 {
        self.streams.values().map(|s| s.records).sum()
    }

    /// PyAirbyte's stats entry. `job_type` is `read` or `write`; `job_info` describes the
    /// source, cache and destination.
    pub fn entry(&self, job_type: &str, job_info: Value) -> Map<String, Value> {
        let end = self.now();
        let start = epoch_seconds(self.started_wall);
        let elapsed = end - start;
        let total = self.total_records();
        let bytes: u64 = self.streams.values().map(|s| s.bytes).sum();
        let mut perf = Map::new();
        perf.insert("records_read".into(), json!(total));
        perf.insert("read_time_seconds".into(), json!(elapsed));
        perf.insert("read_start_time".into(), json!(start));
        perf.insert("read_end_time".into(), json!(end));
        if elapsed > 0.0 {
            let mb = bytes as f64 / 1_000_000.0;
            perf.insert(
                "records_per_second".into(),
                json!(round4(total as f64 / elapsed)),
            );
            perf.insert("mb_read".into(), json!(mb));
            perf.insert("mb_per_second".into(), json!(round4(mb / elapsed)));
        }
        let mut streams = Map::new();
        for (name, s) in &self.streams {
            let mut m = Map::new();
            m.insert("records_read".into(), json!(s.records));
            m.insert("read_start_time".into(), json!(s.start));
            m.insert("read_end_time".into(), json!(s.end));
            let ttfr = match (s.first_record, s.start) {
                (Some(f), Some(st)) => Some(f - st),
                _ => None,
            };
            if let Some(t) = ttfr {
                m.insert("time_to_first_record".into(), json!(t));
            }
            if let (Some(st), Some(en)) = (s.start, s.end)
                && s.records > 0
            {
                let duration = en - st;
                m.insert("read_time_seconds".into(), json!(duration));
                if duration > 0.0 {
                    let mb = s.bytes as f64 / 1_000_000.0;
                    m.insert(
                        "records_per_second".into(),
                        json!(round4(s.records as f64 / duration)),
                    );
                    m.insert("mb_read".into(), json!(mb));
                    m.insert("mb_per_second".into(), json!(round4(mb / duration)));
                    if let (Some(t), Some(first)) = (ttfr, s.first_record)
                        && t > TIME_TO_FIRST_RECORD_THRESHOLD_SECONDS
                        && en - first > 0.0
                    {
                        let adjusted = en - first;
                        m.insert(
                            "records_per_second_adjusted".into(),
                            json!(round4(s.records as f64 / adjusted)),
                        );
                        m.insert(
                            "mb_per_second_adjusted".into(),
                            json!(round4(mb / adjusted)),
                        );
                    }
                }
            }
            streams.insert(name.clone(), Value::Object(m));
        }
        perf.insert("stream_metrics".into(), Value::Object(streams));
        let mut out = Map::new();
        out.insert("job_type".into(), json!(job_type));
        out.insert("job_info".into(), job_info);
        out.insert("performance_metrics".into(), Value::Object(perf));
        out
    }

    /// Writes [`StatsTracker::entry`] to the stats file, when anything was counted (as
    /// PyAirbyte, which skips reads of no record).
    pub fn log(&self, job_type: &str, job_info: Value) -> Option<PathBuf> {
        if self.total_records() == 0 {
            return None;
        }
        write_stats(self.entry(job_type, job_info))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_entry_has_pyairbyte_fields() {
        let mut t = StatsTracker::new();
        t.stream_started("users");
        t.record("users", 1_000);
        t.record("users", 1_000);
        std::thread::sleep(std::time::Duration::from_millis(5));
        t.stream_ended("users");
        t.stream_started("empty");
        t.stream_ended("empty");
        let e = t.entry("read", json!({"description": "source-x -> DuckDBCache"}));
        assert_eq!(e["job_type"], "read");
        let perf = &e["performance_metrics"];
        assert_eq!(perf["records_read"], 2);
        assert!(perf["records_per_second"].as_f64().is_some_and(|r| r > 0.0));
        let users = &perf["stream_metrics"]["users"];
        assert_eq!(users["records_read"], 2);
        assert_eq!(users["mb_read"], 0.002);
        assert!(users["read_time_seconds"].as_f64().is_some_and(|s| s > 0.0));
        assert!(users.get("time_to_first_record").is_some());
        let empty = &perf["stream_metrics"]["empty"];
        assert_eq!(empty["records_read"], 0);
        assert!(empty.get("read_time_seconds").is_none());
    }

    #[test]
    fn global_log_path_layout() {
        let p = global_log_path();
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        assert!(
            name.starts_with("airbyte-log-") && name.ends_with(".log"),
            "{name}"
        );
        assert_eq!(name.len(), "airbyte-log-".len() + 9 + 4);
        let day = p.parent().and_then(|d| d.file_name()).unwrap_or_default();
        assert_eq!(day.len(), 10, "{}", p.display());
        assert_eq!(global_log_path(), p);
    }
}
