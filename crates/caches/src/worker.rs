//! The database side of a load, on its own thread.
//!
//! The writer parses records and builds Arrow batches on the caller's thread while this worker
//! inserts the previous batches, so parsing and DuckDB's work (compression, storage) overlap
//! on two cores. Operations are applied strictly in the order they were sent, through a
//! bounded channel (back-pressure keeps memory bounded). A commit is an operation like any
//! other, so "the records before a state, and that state, in one transaction" still holds.
//!
//! The first failure rolls the open transaction back, is kept, and stops the worker; the
//! writer reports it at its next call.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use duckdb::Connection;

use abrs_protocol::AirbyteStateMessage;

use crate::batch_scan::BatchRegistration;
use crate::cache::lock;
use crate::error::{CacheError, DuckdbContext, Result};
use crate::state::write_state;
use crate::timing::thread_cpu_time;

/// One step of a load.
pub(crate) enum Op {
    /// Insert a batch with the stream's insert statement.
    Insert {
        stream: usize,
        rows: usize,
        batch: RecordBatch,
        /// Merge: the batch holds no key twice (no deduplication needed).
        distinct_keys: bool,
        /// Merge: the range of the batch's first key column, when known.
        key_range: Option<(i64, i64)>,
        /// Merge: no row of the table can have the batch's keys (no DELETE needed).
        skip_delete: bool,
        /// The batch's memory, counted against the queue's byte budget until it is applied.
        bytes: usize,
    },
    /// Run one SQL script inside the open transaction (`what` describes it for errors).
    Execute { sql: String, what: String },
    /// Run `sql` (merges, swaps), write `states`, commit, and open the next transaction when
    /// `begin_after`.
    Commit {
        sql: Vec<(String, String)>,
        states: Vec<AirbyteStateMessage>,
        begin_after: bool,
    },
}

/// What the worker needs to know about the load.
pub(crate) struct WorkerContext {
    pub(crate) schema_name: String,
    pub(crate) table_prefix: String,
    pub(crate) source_name: String,
    /// Per stream, in the writer's order.
    pub(crate) inserts: Vec<StreamSql>,
}

/// How a stream's batches are written.
pub(crate) struct StreamSql {
    /// Inserts a batch (its only parameter).
    pub(crate) insert: String,
    /// The target table, for error messages.
    pub(crate) target: String,
    /// Merge streams: how a batch replaces the rows with its keys.
    pub(crate) merge: Option<MergeSql>,
}

/// The statements that merge one batch (each takes the batch as its only parameter).
#[derive(Clone)]
pub(crate) struct MergeSql {
    /// Deletes the table's rows whose keys are in the batch.
    pub(crate) delete: String,
    /// The same, restricted to a range of the first key column (two more parameters).
    pub(crate) delete_in_range: String,
    /// Inserts the last row of each key of the batch.
    pub(crate) insert_dedup: String,
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
pub(crate) struct Worker {
    tx: Option<SyncSender<Op>>,
    budget: Arc<QueueBudget>,
    handle: Option<JoinHandle<()>>,
    error: Arc<Mutex<Option<CacheError>>>,
    times: Arc<Mutex<WorkerTimes>>,
    /// Time `send` waited because the queue was full.
    pub(crate) waited: Duration,
}

impl Worker {
    /// Starts the worker on `conn`, which has a transaction open.
    /// `restore_threads`: DuckDB's `threads` to set back when the load ends.
    /// `queue_bytes`: how many bytes of batches may wait for the worker.
    pub(crate) fn start(
        conn: Connection,
        ctx: WorkerContext,
        restore_threads: Option<i64>,
        queue_bytes: usize,
    ) -> Result<Self> {
        let (tx, rx) = sync_channel::<Op>(QUEUE_OPS);
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
                let measured = run(&conn, &ctx, rx, slot, &worker_budget);
                let cpu = thread_cpu_time()
                    .zip(cpu_start)
                    .map(|(end, start)| end.saturating_sub(start));
                *lock(&times_slot) = WorkerTimes { cpu, ..measured };
                if let Some(n) = restore_threads {
                    // The load set DuckDB's threads for itself; queries get theirs back.
                    let _ = conn.execute_batch(&format!("SET threads = {n}"));
                }
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
    pub(crate) fn send(&mut self, op: Op) -> Result<()> {
        if let Some(e) = self.take_error() {
            return Err(e);
        }
        let Some(tx) = self.tx.as_ref() else {
            return Err(self.take_error().unwrap_or(CacheError::WriterPoisoned));
        };
        if let Op::Insert { bytes, .. } = &op {
            self.waited += self.budget.acquire(*bytes);
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

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

fn run(
    conn: &Connection,
    ctx: &WorkerContext,
    rx: Receiver<Op>,
    error: Arc<Mutex<Option<CacheError>>>,
    budget: &QueueBudget,
) -> WorkerTimes {
    let mut times = WorkerTimes::default();
    let mut in_transaction = true;
    while let Ok(op) = rx.recv() {
        let started = Instant::now();
        let is_commit = matches!(op, Op::Commit { .. });
        let bytes = match &op {
            Op::Insert { bytes, .. } => *bytes,
            _ => 0,
        };
        let applied = apply(conn, ctx, op, &mut in_transaction);
        // The batch was dropped inside `apply`: its memory is free again.
        budget.release(bytes);
        if is_commit {
            times.commit += started.elapsed();
        } else {
            times.insert += started.elapsed();
        }
        if let Err(e) = applied {
            if in_transaction {
                let _ = conn.execute_batch("ROLLBACK");
            }
            *lock(&error) = Some(e);
            return times;
        }
    }
    // The writer went away without finishing (or finished with no transaction open): keep
    // only what was committed, as a crash would.
    if in_transaction {
        let _ = conn.execute_batch("ROLLBACK");
    }
    times
}

fn apply(conn: &Connection, ctx: &WorkerContext, op: Op, in_transaction: &mut bool) -> Result<()> {
    match op {
        Op::Insert {
            stream,
            rows,
            batch,
            distinct_keys,
            key_range,
            skip_delete,
            bytes: _,
        } => {
            let Some(s) = ctx.inserts.get(stream) else {
                return Err(CacheError::WriterPoisoned);
            };
            let target = &s.target;
            let mut insert = &s.insert;
            let registration = BatchRegistration::new(batch);
            if let Some(merge) = &s.merge
                && !distinct_keys
            {
                insert = &merge.insert_dedup;
            }
            if let Some(merge) = s.merge.as_ref().filter(|_| !skip_delete) {
                let deleted = match key_range {
                    Some((min, max)) => conn
                        .prepare_cached(&merge.delete_in_range)
                        .and_then(|mut s| s.execute(duckdb::params![&registration, min, max])),
                    None => conn
                        .prepare_cached(&merge.delete)
                        .and_then(|mut s| s.execute([&registration])),
                };
                deleted
                    .ctx(|| format!("deleting the rows {rows} merged rows replace in {target}"))?;
            }
            let mut stmt = conn
                .prepare_cached(insert)
                .ctx(|| format!("preparing the insert into {target}"))?;
            stmt.execute([&registration])
                .ctx(|| format!("inserting {rows} rows into {target}"))?;
        }
        Op::Execute { sql, what } => {
            conn.execute_batch(&sql).ctx(|| what)?;
            // The statement may have altered a table: re-prepare inserts against it.
            conn.flush_prepared_statement_cache();
        }
        Op::Commit {
            sql,
            states,
            begin_after,
        } => {
            for (statement, what) in &sql {
                conn.execute_batch(statement).ctx(|| what.clone())?;
            }
            if !sql.is_empty() {
                // Replace swaps rename tables: statements prepared against them are stale.
                conn.flush_prepared_statement_cache();
            }
            for state in &states {
                write_state(
                    conn,
                    &ctx.schema_name,
                    &ctx.table_prefix,
                    &ctx.source_name,
                    state,
                )?;
            }
            conn.execute_batch("COMMIT")
                .ctx(|| "committing loaded records and state".into())?;
            *in_transaction = false;
            if begin_after {
                conn.execute_batch("BEGIN TRANSACTION")
                    .ctx(|| "starting a transaction".into())?;
                *in_transaction = true;
            }
        }
    }
    Ok(())
}
