//! The progress of reads and writes, as PyAirbyte shows it: a live line on a terminal, plain
//! lines elsewhere (notebooks, logs, CI; also with `NO_LIVE_PROGRESS` or `CI` set), and a
//! closing "Completed `source -> cache` sync" line. Drawn by the waiting thread, through
//! Python's `sys.stderr`, so notebooks and redirected streams see it.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use airbyte as ab;
use pyo3::prelude::*;

/// How often a live line is redrawn.
const LIVE_INTERVAL: Duration = Duration::from_millis(500);
/// How often a plain line is printed while records flow.
const PLAIN_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Live,
    Plain,
}

/// The latest numbers, written by the library's callbacks on the worker thread.
#[derive(Debug, Default, Clone)]
struct Snapshot {
    records: u64,
    streams: usize,
    elapsed: Duration,
}

/// A progress display for one read or write.
pub(crate) struct Progress {
    job: String,
    verb: &'static str,
    mode: Mode,
    latest: Arc<Mutex<Option<Snapshot>>>,
    last_draw: Instant,
    drawn_records: Option<u64>,
    live_line: bool,
}

impl Progress {
    /// A display for `job` (e.g. "source-faker -> DuckDBCache"), whose records are `verb`
    /// ("read", "written").
    pub(crate) fn new(py: Python<'_>, job: String, verb: &'static str) -> Self {
        let plain_env = ["NO_LIVE_PROGRESS", "CI"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()));
        let tty = stderr(py)
            .and_then(|e| e.call_method0("isatty"))
            .and_then(|v| v.is_truthy())
            .unwrap_or(false);
        let mode = if tty && !plain_env {
            Mode::Live
        } else {
            Mode::Plain
        };
        Self {
            job,
            verb,
            mode,
            latest: Arc::default(),
            last_draw: Instant::now(),
            drawn_records: None,
            live_line: false,
        }
    }

    /// The callback of a read.
    pub(crate) fn read_callback(&self) -> ab::ProgressCallback {
        let latest = Arc::clone(&self.latest);
        Arc::new(move |p: &ab::ReadProgress| {
            *latest.lock().unwrap_or_else(PoisonError::into_inner) = Some(Snapshot {
                records: p.records,
                streams: p.streams.len(),
                elapsed: p.elapsed,
            });
        })
    }

    /// The callback of a write.
    pub(crate) fn write_callback(&self) -> ab::WriteProgressCallback {
        let latest = Arc::clone(&self.latest);
        Arc::new(move |p: &ab::WriteProgress| {
            *latest.lock().unwrap_or_else(PoisonError::into_inner) = Some(Snapshot {
                records: p.records_sent,
                streams: 0,
                elapsed: p.elapsed,
            });
        })
    }

    /// Draws the latest numbers when it is time to.
    pub(crate) fn tick(&mut self, py: Python<'_>) {
        let interval = match self.mode {
            Mode::Live => LIVE_INTERVAL,
            Mode::Plain => PLAIN_INTERVAL,
        };
        if self.last_draw.elapsed() < interval {
            return;
        }
        let Some(snap) = self
            .latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        else {
            return;
        };
        if self.drawn_records == Some(snap.records) {
            return;
        }
        self.last_draw = Instant::now();
        self.drawn_records = Some(snap.records);
        let line = self.line(&snap);
        match self.mode {
            Mode::Live => {
                write(py, &format!("\r\x1b[2K{line}"));
                self.live_line = true;
            }
            Mode::Plain => write(py, &format!("{line}\n")),
        }
    }

    fn line(&self, snap: &Snapshot) -> String {
        let secs = snap.elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            snap.records as f64 / secs
        } else {
            0.0
        };
        let streams = if snap.streams > 0 {
            format!(" from {} stream{}", snap.streams, plural(snap.streams))
        } else {
            String::new()
        };
        format!(
            "`{}`: {} records {}{streams} in {:.1} s ({:.0} records/s)",
            self.job, snap.records, self.verb, secs, rate
        )
    }

    /// The closing line (PyAirbyte's "Completed `source -> cache` sync at `HH:MM:SS`").
    pub(crate) fn finish(
        &mut self,
        py: Python<'_>,
        records: u64,
        streams: usize,
        elapsed: Duration,
    ) {
        if self.live_line {
            write(py, "\r\x1b[2K");
        }
        let now = chrono_like_clock();
        write(
            py,
            &format!(
                "Completed `{}` sync at `{now}` ({streams} stream{}): {records} records {} in {:.1} s.\n",
                self.job,
                plural(streams),
                self.verb,
                elapsed.as_secs_f64()
            ),
        );
    }

    /// Clears a live line after a failure.
    pub(crate) fn abandon(&mut self, py: Python<'_>) {
        if self.live_line {
            write(py, "\r\x1b[2K");
            self.live_line = false;
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The local time of day, `HH:MM:SS`, from Python's `time` module (the process's time zone, as
/// the user sees it).
fn chrono_like_clock() -> String {
    Python::attach(|py| {
        py.import("time")
            .and_then(|t| t.call_method1("strftime", ("%H:%M:%S",)))
            .and_then(|s| s.extract::<String>())
            .unwrap_or_default()
    })
}

fn stderr(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    py.import("sys")?.getattr("stderr")
}

/// Writes through `sys.stderr` (ignoring a closed or missing stream: progress is best effort).
fn write(py: Python<'_>, text: &str) {
    if let Ok(err) = stderr(py)
        && !err.is_none()
    {
        let _ = err.call_method1("write", (text,));
        let _ = err.call_method0("flush");
    }
}
