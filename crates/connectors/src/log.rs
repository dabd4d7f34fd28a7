//! The per-connector log file (PyAirbyte's layout):
//! `<AIRBYTE_LOGGING_ROOT or /tmp/airbyte/logs>/<connector>/<connector>-log-<id>.log`.
//!
//! It receives the connector's stderr, its LOG messages and any line of its stdout that is not a
//! protocol message. The last lines are also kept in memory for error messages.

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock, PoisonError};

/// How many log lines are kept for error messages.
pub const LOG_TAIL_LINES: usize = 20;

/// The longest log line kept in the in-memory tail (longer ones are cut).
const TAIL_LINE_CHARS: usize = 500;

/// The root of all logs: `AIRBYTE_LOGGING_ROOT`, else `/tmp/airbyte/logs`.
pub fn logging_root() -> PathBuf {
    match std::env::var_os("AIRBYTE_LOGGING_ROOT") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from("/tmp/airbyte/logs"),
    }
}

/// The log file of `connector` for this process: one file per connector name and process, as
/// in PyAirbyte, so that successive runs (spec, check, read) append to the same file.
pub fn connector_log_path(connector: &str) -> PathBuf {
    static PATHS: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let paths = PATHS.get_or_init(Default::default);
    let mut paths = paths.lock().unwrap_or_else(PoisonError::into_inner);
    let root = logging_root();
    let key = format!("{}\u{0}{connector}", root.display());
    paths
        .entry(key)
        .or_insert_with(|| {
            let id = uuid::Uuid::new_v4().simple().to_string();
            let safe: String = connector
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            root.join(&safe)
                .join(format!("{safe}-log-{}.log", &id[..9]))
        })
        .clone()
}

struct Inner {
    /// Unbuffered, opened for appending: each line is one `write`, so concurrent runs of the
    /// same connector (sharing the file) do not interleave inside lines.
    file: Option<File>,
    tail: VecDeque<String>,
}

/// A connector's log: the file (when it could be opened) plus the last lines in memory.
pub struct ConnectorLog {
    path: Option<PathBuf>,
    inner: Mutex<Inner>,
    /// Values written as `****` (the config's secrets), longest first.
    masked: Vec<String>,
}

impl std::fmt::Debug for ConnectorLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorLog")
            .field("path", &self.path)
            .finish()
    }
}

impl ConnectorLog {
    /// Opens (appends to) the connector's log file. If it cannot be opened, logging goes on in
    /// memory only and a warning is emitted: a log file must never fail a sync.
    pub fn open(connector: &str) -> Self {
        let path = connector_log_path(connector);
        let file = path
            .parent()
            .map_or(Ok(()), fs::create_dir_all)
            .and_then(|()| {
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .open(&path)
            });
        match file {
            Ok(f) => Self {
                path: Some(path),
                inner: Mutex::new(Inner {
                    file: Some(f),
                    tail: VecDeque::new(),
                }),
                masked: Vec::new(),
            },
            Err(e) => {
                tracing::warn!(
                    "cannot open the log file {} of connector {connector}: {e}; its logs are kept in memory only",
                    path.display()
                );
                Self {
                    path: None,
                    inner: Mutex::new(Inner {
                        file: None,
                        tail: VecDeque::new(),
                    }),
                    masked: Vec::new(),
                }
            }
        }
    }

    /// Writes `secrets` as `****` wherever they appear in a line (in the file and in the
    /// in-memory tail that error messages quote): a connector that logs its config, or an
    /// error naming a token, leaks nothing.
    pub fn masking(mut self, mut secrets: Vec<String>) -> Self {
        secrets.retain(|s| !s.is_empty());
        // Longest first, so that a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        self.masked = secrets;
        self
    }

    /// The log file, when it could be opened.
    pub fn path(&self) -> Option<&PathBuf> {
        self.path.as_ref()
    }

    /// Appends one line, prefixed with a timestamp and `level`.
    pub fn line(&self, level: &str, text: &str) {
        let text = text.trim_end_matches(['\n', '\r']);
        let masked;
        let text = if self.masked.iter().any(|s| text.contains(s.as_str())) {
            let mut t = text.to_string();
            for s in &self.masked {
                t = t.replace(s.as_str(), "****");
            }
            masked = t;
            masked.as_str()
        } else {
            text
        };
        let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%.3f");
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(f) = inner.file.as_mut()
            && f.write_all(format!("{now} - {level} - {text}\n").as_bytes())
                .is_err()
        {
            inner.file = None;
        }
        if inner.tail.len() == LOG_TAIL_LINES {
            inner.tail.pop_front();
        }
        let mut short: String = text.chars().take(TAIL_LINE_CHARS).collect();
        if short.len() < text.len() {
            short.push('…');
        }
        inner.tail.push_back(format!("{level} {short}"));
    }

    /// Writes buffered lines to the file.
    pub fn flush(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(f) = inner.file.as_mut() {
            let _ = f.flush();
        }
    }

    /// The last lines logged (at most [`LOG_TAIL_LINES`]).
    pub fn tail(&self) -> Vec<String> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.tail.iter().cloned().collect()
    }
}

impl Drop for ConnectorLog {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_values_never_reach_the_tail() {
        let log = ConnectorLog::open("abrs-log-masking-unit-test").masking(vec![
            "abc".into(),
            "abcdef".into(),
            String::new(),
        ]);
        log.line("INFO", "token abcdef and abc, twice: abcdef");
        log.line("INFO", "nothing secret");
        assert_eq!(
            log.tail(),
            [
                "INFO token **** and ****, twice: ****",
                "INFO nothing secret"
            ]
        );
        if let Some(path) = log.path().cloned() {
            drop(log);
            let _ = std::fs::remove_file(path);
        }
    }
}
