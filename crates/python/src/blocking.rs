//! Waiting on connectors, databases and the network without holding the GIL, and Ctrl-C.
//!
//! The work runs on a thread of its own while the calling thread waits without the GIL and
//! wakes every 100 ms to let Python run its signal handlers. A Ctrl-C (Python's
//! `KeyboardInterrupt`) stops the work's connector, if it has one, waits for the work to wind
//! down (its uncommitted data rolled back, the cache file released) and raises there and then.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use airbyte as ab;
use crossbeam_channel::RecvTimeoutError;
use pyo3::prelude::*;

use crate::errors::internal_error;

/// How often a waiting call looks at Python's signals and the progress.
const TICK: Duration = Duration::from_millis(100);

/// How a running read or write is stopped: its connector's process group (from the
/// `on_connector_started` callback) and the library's cancel flag.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stopper {
    pid: Arc<AtomicI32>,
    cancel: Arc<AtomicBool>,
}

impl Stopper {
    /// The callback that records the connector's pid (its process group).
    pub(crate) fn on_started(&self) -> ab::ConnectorStartedCallback {
        let pid = Arc::clone(&self.pid);
        Arc::new(move |p: Option<u32>| {
            let p = p.and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
            pid.store(p, Ordering::SeqCst);
        })
    }

    /// The flag the library's read loop watches.
    pub(crate) fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }

    /// Records a pid directly (a lazy dataset knows its connector's).
    pub(crate) fn set_pid(&self, pid: Option<u32>) {
        (self.on_started())(pid);
    }

    /// Stops the work: the cancel flag, and SIGTERM to the connector's process group (a
    /// connector that sends nothing would not see the flag). The library's process handling
    /// escalates to SIGKILL after the grace period.
    pub(crate) fn stop(&self) {
        self.cancel.store(true, Ordering::SeqCst);
        let pid = self.pid.load(Ordering::SeqCst);
        if pid > 0 {
            // SAFETY: a plain kill(2) of the connector's own process group.
            unsafe {
                libc::kill(-pid, libc::SIGTERM);
            }
        }
    }
}

/// What the waiting thread does on each tick while the work runs (draw progress).
pub(crate) type OnTick<'a> = &'a mut dyn FnMut(Python<'_>);

/// Runs `work` on its own thread while this one waits without the GIL.
///
/// On Ctrl-C: with a `stopper`, the work is stopped and awaited (a second Ctrl-C stops
/// waiting), then `KeyboardInterrupt` is raised; without one (a check, a discover, an install),
/// `KeyboardInterrupt` is raised at once and the work finishes in the background.
pub(crate) fn run<T, F>(
    py: Python<'_>,
    stopper: Option<&Stopper>,
    mut on_tick: Option<OnTick<'_>>,
    work: F,
) -> PyResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = crossbeam_channel::bounded::<std::thread::Result<T>>(1);
    std::thread::Builder::new()
        .name("airbyte-rs-call".into())
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            let _ = tx.send(result);
        })
        .map_err(|e| internal_error(format!("could not start a worker thread: {e}")))?;
    loop {
        match py.detach(|| rx.recv_timeout(TICK)) {
            Ok(result) => return finished(result),
            Err(RecvTimeoutError::Disconnected) => {
                return Err(internal_error("the worker thread ended without a result"));
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        if let Err(interrupt) = py.check_signals() {
            if let Some(stopper) = stopper {
                stopper.stop();
                // Let the work wind down: the library rolls back what was not committed and
                // releases the cache. A second Ctrl-C stops waiting.
                loop {
                    match py.detach(|| rx.recv_timeout(TICK)) {
                        Ok(_) | Err(RecvTimeoutError::Disconnected) => break,
                        Err(RecvTimeoutError::Timeout) => {
                            if py.check_signals().is_err() {
                                break;
                            }
                        }
                    }
                }
            }
            return Err(interrupt);
        }
        if let Some(tick) = on_tick.as_mut() {
            tick(py);
        }
    }
}

fn finished<T>(result: std::thread::Result<T>) -> PyResult<T> {
    result.map_err(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        internal_error(format!("airbyte_rs failed unexpectedly: {what}"))
    })
}
