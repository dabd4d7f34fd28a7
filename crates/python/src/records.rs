//! Records handed to Python one at a time, from a producer on a thread of its own (a connector
//! for `get_records`, a query for iterating a cached dataset), as `StreamRecord` dicts.

use std::time::Duration;

use airbyte as ab;
use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::blocking::Stopper;
use crate::errors::{internal_error, to_py_err};
use crate::json_values::map_to_py;

/// Records waiting between the producer and Python: enough to keep a connector busy while
/// Python works on the previous ones, little enough to bound memory.
const BUFFER: usize = 1024;
/// How often a waiting `next()` lets Python handle Ctrl-C.
const TICK: Duration = Duration::from_millis(100);

static STREAM_RECORD: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The Python `airbyte_rs.records.StreamRecord` class.
fn stream_record_class(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    STREAM_RECORD
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(
                py.import("airbyte_rs.records")?
                    .getattr("StreamRecord")?
                    .unbind(),
            )
        })
        .map(|c| c.bind(py))
}

/// A record as a Python `StreamRecord`.
pub(crate) fn record_to_py(py: Python<'_>, record: &ab::StreamRecord) -> PyResult<Py<PyAny>> {
    let dict = map_to_py(py, record.as_map())?;
    Ok(stream_record_class(py)?.call1((dict,))?.unbind())
}

/// The receiving end of a record producer.
pub(crate) struct RecordReceiver {
    rx: Receiver<ab::Result<ab::StreamRecord>>,
    stopper: Option<Stopper>,
    stop_event: Option<Py<PyAny>>,
    /// The producer ended (its connector reaped): stopping it again must not signal a
    /// process group that may have been reused.
    finished: bool,
}

/// Starts the records `make` returns on a thread of its own (made there: the iterator itself
/// need not be `Send`) and returns its receiving end. Dropping the
/// receiver (or [`RecordReceiver::close`]) makes the producer stop at its next record;
/// `stopper` also stops a connector that is sending nothing.
pub(crate) fn record_channel<I, M>(
    _py: Python<'_>,
    make: M,
    stopper: Option<Stopper>,
    stop_event: Option<Py<PyAny>>,
) -> PyResult<RecordReceiver>
where
    I: Iterator<Item = ab::Result<ab::StreamRecord>>,
    M: FnOnce() -> I + Send + 'static,
{
    let (tx, rx) = crossbeam_channel::bounded(BUFFER);
    std::thread::Builder::new()
        .name("airbyte-rs-records".into())
        .spawn(move || {
            for record in make() {
                let failed = record.is_err();
                if tx.send(record).is_err() || failed {
                    break;
                }
            }
        })
        .map_err(|e| internal_error(format!("could not start a worker thread: {e}")))?;
    Ok(RecordReceiver {
        rx,
        stopper,
        stop_event,
        finished: false,
    })
}

impl RecordReceiver {
    /// The next record, `None` at the end. Waits without the GIL; Ctrl-C stops the producer
    /// and raises `KeyboardInterrupt`.
    pub(crate) fn next(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        loop {
            if let Some(event) = &self.stop_event
                && event.bind(py).call_method0("is_set")?.is_truthy()?
            {
                self.stop();
                return Ok(None);
            }
            // A record already waiting is taken without releasing the GIL (the common case
            // while a connector is ahead of Python).
            let got = match self.rx.try_recv() {
                Ok(r) => Ok(r),
                Err(TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
                Err(TryRecvError::Empty) => py.detach(|| self.rx.recv_timeout(TICK)),
            };
            match got {
                Ok(Ok(record)) => return record_to_py(py, &record).map(Some),
                Ok(Err(e)) => {
                    self.finished = true;
                    return Err(to_py_err(e));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.finished = true;
                    return Ok(None);
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(interrupt) = py.check_signals() {
                        self.stop();
                        return Err(interrupt);
                    }
                }
            }
        }
    }

    fn stop(&mut self) {
        self.finished = true;
        if let Some(s) = &self.stopper {
            s.stop();
        }
    }

    /// Stops the producer (its connector) and drops what is buffered.
    pub(crate) fn close(mut self) {
        if !self.finished {
            self.stop();
        }
    }
}

impl Drop for RecordReceiver {
    fn drop(&mut self) {
        // A dataset dropped half-way must not leave its connector running. Without the
        // receiver the producer ends at its next send; the stopper also ends a connector that
        // sends nothing. A finished producer has reaped its connector: nothing to stop.
        if !self.finished {
            self.stop();
        }
    }
}
