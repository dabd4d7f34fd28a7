//! Replaying a cached stream from DuckDB (see [`crate::replay`] for what is sent).
//!
//! DuckDB streams the ordered rows in chunks (its sort spills to disk beyond its memory
//! limit); a thread fetches them while the caller's thread formats the previous chunk.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use ::duckdb::InterruptHandle;
use arrow::record_batch::RecordBatch;

use super::cache::DuckDbCache;
use crate::error::{CacheError, DuckdbContext, Result};
use crate::loader::RAW_ID_COLUMN;
use crate::names::quote_ident;
use crate::replay::{ReplayOptions, ReplayPlan, ReplaySummary, ReplayWriter, TableFacts};
use crate::state::STREAMS_TABLE;

/// Chunks fetched ahead of the formatting thread.
const CHUNKS_AHEAD: usize = 2;

impl DuckDbCache {
    /// Writes the rows of a cached stream to `out` as Airbyte RECORD lines (one JSON object and
    /// `\n` each), ordered by `_airbyte_raw_id`, and flushes `out`.
    ///
    /// Each line is `{"type":"RECORD","record":{"stream":…,"data":{…},"emitted_at":…}}`, with
    /// `"meta":{"changes":[…]}` when the record has changes. `data` has the stream's original
    /// field names and JSON types; NULLs are left out. The rows are one consistent snapshot of
    /// the table, read on a connection of their own, so the cache can be used meanwhile.
    ///
    /// Errors: the stream is not in this cache ([`CacheError::StreamNotInCache`]), its table
    /// was not written by a cache ([`CacheError::NotACacheTable`]), DuckDB fails, or writing to
    /// `out` fails ([`CacheError::ReplayOutput`]: for a destination's stdin, the destination
    /// has usually exited). Lines written before an error stay written.
    pub fn replay_stream(
        &self,
        stream: &str,
        options: &ReplayOptions,
        out: &mut dyn std::io::Write,
    ) -> Result<ReplaySummary> {
        let plan = self.replay_plan(stream, options)?;
        let (conn, _instance) = self.new_connection()?;
        let params: Vec<String> = options.after_raw_id.iter().cloned().collect();
        let sql = plan.sql((!params.is_empty()).then_some("?"));
        let mut producer = Producer::start(conn, sql, params, &plan.table)?;
        let mut writer = ReplayWriter::new(&plan, stream, out);
        while let Some(batch) = producer.recv() {
            writer.batch(&batch?)?;
        }
        writer.finish()
    }

    /// Finds the stream's table, its columns and its registration.
    fn replay_plan(&self, stream: &str, options: &ReplayOptions) -> Result<ReplayPlan> {
        let table = self.table_name(stream)?;
        let schema_name = self.schema_name().to_string();
        let registry_sql = format!(
            "SELECT stream_name, table_name, catalog_metadata FROM {}",
            self.qualified(STREAMS_TABLE)
        );
        let (columns, registered) = self.with_conn(|conn, _| {
            let columns = DuckDbCache::table_columns(conn, &schema_name, &table)?;
            let what = || format!("reading {STREAMS_TABLE}");
            let mut stmt = conn.prepare(&registry_sql).ctx(what)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                    ))
                })
                .ctx(what)?;
            let rows = rows.collect::<std::result::Result<Vec<_>, _>>().ctx(what)?;
            Ok((columns, rows))
        })?;
        let facts = TableFacts {
            stream,
            qualified: self.qualified(&table),
            table,
            prefix: self.table_prefix(),
            columns,
            registered,
            raw_id_text: format!("{}::VARCHAR", quote_ident(RAW_ID_COLUMN)),
            raw_id_order: quote_ident(RAW_ID_COLUMN),
        };
        ReplayPlan::new(facts, options, || {
            self.streams().map(|s| s.join(", ")).unwrap_or_default()
        })
    }
}

/// The thread that runs the query and fetches its chunks ahead of the formatting.
struct Producer {
    rx: Option<Receiver<Result<RecordBatch>>>,
    interrupt: Arc<InterruptHandle>,
    thread: Option<JoinHandle<()>>,
    finished: bool,
}

impl Producer {
    fn start(
        conn: duckdb::Connection,
        sql: String,
        after: Vec<String>,
        table: &str,
    ) -> Result<Self> {
        // Fail here, not in the thread, for a statement DuckDB rejects.
        conn.prepare(&sql)
            .ctx(|| format!("preparing the replay of {table:?}: {sql}"))?;
        let interrupt = conn.interrupt_handle();
        let (tx, rx) = sync_channel::<Result<RecordBatch>>(CHUNKS_AHEAD);
        let what = format!("replaying table {table:?}");
        let thread = std::thread::Builder::new()
            .name("abrs-replay".into())
            .spawn(move || {
                let run = || -> Result<()> {
                    let mut stmt = conn.prepare(&sql).ctx(|| what.clone())?;
                    let params = duckdb::params_from_iter(after.iter().map(String::as_str));
                    for batch in stmt.stream_arrow(params).ctx(|| what.clone())? {
                        if tx.send(Ok(batch.ctx(|| what.clone())?)).is_err() {
                            break;
                        }
                    }
                    Ok(())
                };
                if let Err(e) = run() {
                    let _ = tx.send(Err(e));
                }
            })
            .map_err(|source| CacheError::Io {
                action: "start a thread to replay",
                path: table.into(),
                source,
            })?;
        Ok(Self {
            rx: Some(rx),
            interrupt,
            thread: Some(thread),
            finished: false,
        })
    }

    /// The next chunk; `None` when the query has delivered everything.
    fn recv(&mut self) -> Option<Result<RecordBatch>> {
        let item = self.rx.as_ref()?.recv().ok();
        if item.is_none() {
            self.finished = true;
        }
        item
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        // Stop a query that is still running (the caller gave up: an error, a closed output),
        // so that no thread outlives the replay.
        self.rx.take();
        if !self.finished {
            self.interrupt.interrupt();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
