//! The database side of a load, on its own thread (shared by every backend).
//!
//! The writer parses records and builds Arrow batches on the caller's thread while this worker
//! applies the previous batches (a backend's [`Apply`]), so parsing and the database's work
//! overlap on two cores. Operations are applied strictly in the order they were sent, through a
//! bounded channel (back-pressure keeps memory bounded). A commit is an operation like any
//! other, so "the records before a state, and that state, in one transaction" still holds.
//!
//! The first failure rolls the open transaction back, is kept, and stops the worker; the
//! writer reports it at its next call.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{CacheError, Result};
use crate::timing::thread_cpu_time;

/// Locks a mutex, ignoring poisoning (the data it guards stays consistent: every critical
/// section is a plain read or write).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a backend's database side does with the operations of a load, on the worker thread.
///
/// Operations arrive strictly in the order they were sent. A backend's transaction is open
/// when the worker starts; the first error ends the worker (`end` is still called).
pub(crate) trait Apply: Send + 'static {
    /// One step of a load.
    type Op: Send + 'static;
    /// Applies one operation.
    fn apply(&mut self, op: Self::Op) -> Result<()>;
    /// Whether `op` is a commit (its time is counted as commit time).
    fn is_commit(op: &Self::Op) -> bool;
    /// The bytes of batch data `op` holds (counted against the queue's budget).
    fn bytes(op: &Self::Op) -> usize;
    /// The load is over (finished, failed or abandoned): roll back a transaction still open,
    /// restore settings.
    fn end(&mut self);
}

/// What the worker measured (see [`crate::timing::LoadTimings`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct WorkerTimes {
    pub(crate) insert: Duration,
    pub(crate) commit: Duration,
    pub(crate) cpu: Option<Duration>,
}

/// Operations queued at most, whatever their size (batches are also bounded by bytes).
const QUEUE_OPS: usize = 256;

/// The bytes of batches queued for the worker, bounded: the parser may run ahead of the
/// database by that much and no more (back-pressure, not buffering).
struct QueueBudget {
    limit: usize,
    /// Bytes queued, and whether the worker has stopped taking batches.
    state: Mutex<(usize, bool)>,
    freed: Condvar,
}

impl QueueBudget {
    /// Waits until `bytes` more fit (always, when nothing is queued: one batch larger than
    /// the budget still goes) or the worker stopped; returns how long it waited.
    fn acquire(&self, bytes: usize) -> Duration {
        let mut state = lock(&self.state);
        let mut waited = Duration::ZERO;
        while !state.1 && state.0 > 0 && state.0 + bytes > self.limit {
            let started = Instant::now();
            state = self.freed.wait(state).unwrap_or_else(|e| e.into_inner());
            waited += started.elapsed();
        }
        state.0 += bytes;
        waited
    }

    fn release(&self, bytes: usize) {
        let mut state = lock(&self.state);
        state.0 = state.0.saturating_sub(bytes);
        self.freed.notify_all();
    }

    fn close(&self) {
        lock(&self.state).1 = true;
        self.freed.notify_all();
    }
}

/// Closes the budget when the worker thread ends, however it ends, so that no sender waits
/// for room that will never come.
struct CloseOnDrop(Arc<QueueBudget>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The handle the writer keeps.
pub(crate) struct Worker<A: Apply> {
    tx: Option<SyncSender<A::Op>>,
    budget: Arc<QueueBudget>,
    handle: Option<JoinHandle<()>>,
    error: Arc<Mutex<Option<CacheError>>>,
    times: Arc<Mutex<WorkerTimes>>,
    /// Time `send` waited because the queue was full.
    pub(crate) waited: Duration,
}

impl<A: Apply> Worker<A> {
    /// Starts the worker on `applier`, whose transaction is open.
    /// `queue_bytes`: how many bytes of batches may wait for the worker.
    pub(crate) fn start(mut applier: A, queue_bytes: usize) -> Result<Self> {
        let (tx, rx) = sync_channel::<A::Op>(QUEUE_OPS);
        let budget = Arc::new(QueueBudget {
            limit: queue_bytes,
            state: Mutex::new((0, false)),
            freed: Condvar::new(),
        });
        let worker_budget = budget.clone();
        let error = Arc::new(Mutex::new(None));
        let slot = error.clone();
        let times = Arc::new(Mutex::new(WorkerTimes::default()));
        let times_slot = times.clone();
        let handle = std::thread::Builder::new()
            .name("abrs-cache-writer".into())
            .spawn(move || {
                let _close = CloseOnDrop(worker_budget.clone());
                let cpu_start = thread_cpu_time();
                let measured = run(&mut applier, rx, slot, &worker_budget);
                applier.end();
                let cpu = thread_cpu_time()
                    .zip(cpu_start)
                    .map(|(end, start)| end.saturating_sub(start));
                *lock(&times_slot) = WorkerTimes { cpu, ..measured };
            })
            .map_err(|source| CacheError::Io {
                action: "start the cache writer thread for",
                path: "the cache".into(),
                source,
            })?;
        Ok(Self {
            tx: Some(tx),
            budget,
            handle: Some(handle),
            error,
            times,
            waited: Duration::ZERO,
        })
    }

    /// The worker's failure, if any (taken: reported once).
    pub(crate) fn take_error(&self) -> Option<CacheError> {
        lock(&self.error).take()
    }

    /// Queues an operation (blocks while the queue is full, counting the time waited).
    pub(crate) fn send(&mut self, op: A::Op) -> Result<()> {
        if let Some(e) = self.take_error() {
            return Err(e);
        }
        let Some(tx) = self.tx.as_ref() else {
            return Err(self.take_error().unwrap_or(CacheError::WriterPoisoned));
        };
        let bytes = A::bytes(&op);
        if bytes > 0 {
            self.waited += self.budget.acquire(bytes);
        }
        let sent = match tx.try_send(op) {
            Ok(()) => true,
            Err(std::sync::mpsc::TrySendError::Full(op)) => {
                let started = Instant::now();
                let sent = tx.send(op).is_ok();
                self.waited += started.elapsed();
                sent
            }
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => false,
        };
        if sent {
            return Ok(());
        }
        // The worker stopped; it kept the reason before it dropped the queue.
        Err(self.take_error().unwrap_or(CacheError::WriterPoisoned))
    }

    /// What the worker measured (complete once [`Worker::close`] returned).
    pub(crate) fn times(&self) -> WorkerTimes {
        lock(&self.times).clone()
    }

    /// Closes the queue, waits until every queued operation is applied (a transaction still
    /// open is rolled back), and reports the worker's failure, if any.
    pub(crate) fn close(&mut self) -> Result<()> {
        self.tx.take();
        if let Some(h) = self.handle.take()
            && h.join().is_err()
        {
            return Err(CacheError::WriterPoisoned);
        }
        match self.take_error() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl<A: Apply> Drop for Worker<A> {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

fn run<A: Apply>(
    applier: &mut A,
    rx: Receiver<A::Op>,
    error: Arc<Mutex<Option<CacheError>>>,
    budget: &QueueBudget,
) -> WorkerTimes {
    let mut times = WorkerTimes::default();
    while let Ok(op) = rx.recv() {
        let started = Instant::now();
        let is_commit = A::is_commit(&op);
        let bytes = A::bytes(&op);
        let applied = applier.apply(op);
        // The batch was dropped inside `apply`: its memory is free again.
        budget.release(bytes);
        if is_commit {
            times.commit += started.elapsed();
        } else {
            times.insert += started.elapsed();
        }
        if let Err(e) = applied {
            *lock(&error) = Some(e);
            return times;
        }
    }
    // The writer went away without finishing (or finished): `end` keeps only what was
    // committed, as a crash would.
    times
}
