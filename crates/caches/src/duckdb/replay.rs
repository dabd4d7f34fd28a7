//! Replaying a cached stream as Airbyte RECORD lines: how a destination is fed from the cache.
//!
//! PyAirbyte sends each cache row as its SQL row (§1.4 of `destinations.md`): normalized column
//! names, numbers as strings, naive timestamps, `_airbyte_*` columns as data, `emitted_at` in
//! seconds, and the whole table every time. A replay here gives the destination what the source
//! sent: the original field names (from the stream's schema stored in `_airbyte_streams`),
//! JSON types, time-zone-aware timestamps, `emitted_at` in milliseconds, the record's
//! `meta.changes`, and only the rows loaded after a given raw id.
//!
//! Memory stays bounded whatever the table size: DuckDB streams the ordered rows in chunks
//! (its sort spills to disk beyond its memory limit), a thread fetches them while the caller's
//! thread formats the previous chunk into a reused buffer that is written out every 256 KiB.

use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use ::duckdb::InterruptHandle;
use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;
use serde_json::Value;

use super::cache::DuckDbCache;
use crate::error::{CacheError, DuckdbContext, Result};
use crate::loader::{EXTRACTED_AT_COLUMN, INTERNAL_COLUMNS, META_COLUMN, RAW_ID_COLUMN};
use crate::names::{ColumnNamer, normalize, quote_ident};
use crate::record_json::{Cells, ColumnStyle, TextKind, normalize_array, write_json_string};
use crate::state::STREAMS_TABLE;
use crate::types::SqlType;

/// Output is handed to the writer in pieces of about this size.
const FLUSH_BYTES: usize = 256 * 1024;
/// Chunks fetched ahead of the formatting thread.
const CHUNKS_AHEAD: usize = 2;

/// Which rows of a stream to replay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayOptions {
    /// Only rows whose `_airbyte_raw_id` sorts after this one (the
    /// [`crate::DestinationStreamProgress::replayed_through`] of the last write); `None`: all.
    pub after_raw_id: Option<String>,
    /// The namespace each record carries (the configured stream's): the cache does not store
    /// it, and a destination matches records to its catalog by name and namespace.
    pub namespace: Option<String>,
}

/// What a replay sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// RECORD lines written.
    pub records: u64,
    /// Bytes written (newlines included).
    pub bytes: u64,
    /// The highest `_airbyte_raw_id` sent (`None` when nothing was sent): once the destination
    /// has confirmed these rows, the next replay starts after it.
    pub max_raw_id: Option<String>,
    /// The cache table replayed (bare name, in the cache's schema).
    pub table: String,
}

/// A data column and the field it becomes.
struct DataColumn {
    column: String,
    /// `"<field>":`, escaped.
    key: Vec<u8>,
    style: ColumnStyle,
}

/// Everything decided before the first row.
struct ReplayPlan {
    table: String,
    /// `{"type":"RECORD","record":{"stream":"<name>"`.
    prefix: Vec<u8>,
    data: Vec<DataColumn>,
    /// `SELECT … FROM …`, without the filter and the order.
    select: String,
}

impl ReplayPlan {
    /// The query, with the raw id filter (one parameter) when `after` is set.
    fn sql(&self, after: bool) -> String {
        let raw_id = quote_ident(RAW_ID_COLUMN);
        let filter = if after {
            format!(" WHERE {raw_id} > ?")
        } else {
            String::new()
        };
        format!("{}{filter} ORDER BY {raw_id}", self.select)
    }
}

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
        out: &mut dyn Write,
    ) -> Result<ReplaySummary> {
        let plan = self.replay_plan(stream, options)?;
        let (conn, _instance) = self.new_connection()?;
        let params: Vec<String> = options.after_raw_id.iter().cloned().collect();
        let sql = plan.sql(!params.is_empty());
        let mut producer = Producer::start(conn, sql, params, &plan.table)?;
        let mut summary = ReplaySummary {
            table: plan.table.clone(),
            ..Default::default()
        };
        let mut buf = Vec::with_capacity(FLUSH_BYTES + 64 * 1024);
        let mut emit = |buf: &mut Vec<u8>, summary: &mut ReplaySummary| -> Result<()> {
            out.write_all(buf)
                .map_err(|source| CacheError::ReplayOutput {
                    stream: stream.to_string(),
                    source,
                })?;
            summary.bytes += buf.len() as u64;
            buf.clear();
            Ok(())
        };
        while let Some(batch) = producer.recv() {
            let batch = batch?;
            let last_id = write_batch(&plan, &batch, &mut buf, &mut summary.records);
            if let Some(id) = last_id {
                summary.max_raw_id = Some(id);
            }
            if buf.len() >= FLUSH_BYTES {
                emit(&mut buf, &mut summary)?;
            }
        }
        if !buf.is_empty() {
            emit(&mut buf, &mut summary)?;
        }
        out.flush().map_err(|source| CacheError::ReplayOutput {
            stream: stream.to_string(),
            source,
        })?;
        Ok(summary)
    }

    /// Finds the stream's table, its original name and schema, and maps columns to fields.
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
        if columns.is_empty() {
            return Err(CacheError::StreamNotInCache {
                stream: stream.to_string(),
                table,
                available: self.streams().map(|s| s.join(", ")).unwrap_or_default(),
            });
        }
        if !columns.iter().any(|(c, _)| c == RAW_ID_COLUMN) {
            return Err(CacheError::NotACacheTable {
                stream: stream.to_string(),
                table,
            });
        }
        // The registration of this table: PyAirbyte's key is `prefix + stream` as given; a
        // stream asked for in another spelling still finds it through the normalized name.
        let prefix = self.table_prefix();
        let exact = format!("{prefix}{stream}");
        let row = registered
            .iter()
            .find(|(_, t, _)| t.as_deref() == Some(exact.as_str()))
            .or_else(|| {
                registered.iter().find(|(_, t, _)| {
                    t.as_deref().is_some_and(|t| {
                        t.starts_with(prefix) && normalize(t).is_ok_and(|n| n == table)
                    })
                })
            });
        let original_name = row
            .and_then(|(s, _, _)| s.clone())
            .unwrap_or_else(|| stream.to_string());
        let json_schema = row
            .and_then(|(_, _, m)| m.as_deref())
            .and_then(|m| serde_json::from_str::<Value>(m).ok());

        let data = data_columns(&columns, json_schema.as_ref());
        let mut select: Vec<String> = data.iter().map(|c| quote_ident(&c.column)).collect();
        let has = |name: &str| columns.iter().any(|(c, _)| c == name);
        select.push(format!("{}::VARCHAR", quote_ident(RAW_ID_COLUMN)));
        select.push(if has(EXTRACTED_AT_COLUMN) {
            quote_ident(EXTRACTED_AT_COLUMN)
        } else {
            "NULL::TIMESTAMPTZ".into()
        });
        select.push(if has(META_COLUMN) {
            format!("{}::VARCHAR", quote_ident(META_COLUMN))
        } else {
            "NULL::VARCHAR".into()
        });
        let select = format!(
            "SELECT {} FROM {}",
            select.join(", "),
            self.qualified(&table)
        );
        let mut prefix_json = br#"{"type":"RECORD","record":{"#.to_vec();
        if let Some(ns) = &options.namespace {
            prefix_json.extend_from_slice(br#""namespace":"#);
            write_json_string(&mut prefix_json, ns);
            prefix_json.push(b',');
        }
        prefix_json.extend_from_slice(br#""stream":"#);
        write_json_string(&mut prefix_json, &original_name);
        Ok(ReplayPlan {
            table,
            prefix: prefix_json,
            data,
            select,
        })
    }
}

/// The data columns in field order: the schema's properties whose column is in the table (the
/// loader's naming, collisions suffixed), then columns no property maps to (fields a source
/// dropped from its schema; `_airbyte_*` columns are not data).
fn data_columns(columns: &[(String, SqlType)], json_schema: Option<&Value>) -> Vec<DataColumn> {
    let mut out = Vec::new();
    let mut mapped: HashSet<String> = HashSet::new();
    let mut keys: HashSet<String> = HashSet::new();
    let column_type = |name: &str| columns.iter().find(|(c, _)| c == name).map(|(_, t)| t);
    let properties = json_schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object);
    let mut namer = ColumnNamer::new(INTERNAL_COLUMNS);
    for (property, schema) in properties.into_iter().flatten() {
        let Ok(column) = namer.assign(property) else {
            continue;
        };
        let Some(ty) = column_type(&column) else {
            continue;
        };
        let declared = SqlType::from_json_schema(schema);
        if let Some(c) = data_column(&column, property, ty, Some(&declared), &mut keys) {
            mapped.insert(column);
            out.push(c);
        }
    }
    for (column, ty) in columns {
        if mapped.contains(column.as_str()) || column.starts_with("_airbyte_") {
            continue;
        }
        if let Some(c) = data_column(column, column, ty, None, &mut keys) {
            out.push(c);
        }
    }
    out
}

fn data_column(
    column: &str,
    field: &str,
    ty: &SqlType,
    declared: Option<&SqlType>,
    keys: &mut HashSet<String>,
) -> Option<DataColumn> {
    // Two columns for one field (an old column named like a property): the property wins.
    if !keys.insert(field.to_string()) {
        return None;
    }
    let text = if *ty == SqlType::Json {
        TextKind::Json { validate: false }
    } else {
        match declared {
            Some(SqlType::Json) => TextKind::Json { validate: true },
            Some(SqlType::BigInt | SqlType::Double) => TextKind::Number,
            _ => TextKind::String,
        }
    };
    let mut key = Vec::with_capacity(field.len() + 3);
    write_json_string(&mut key, field);
    key.push(b':');
    Some(DataColumn {
        column: column.to_string(),
        key,
        style: ColumnStyle {
            text,
            integral: declared == Some(&SqlType::BigInt),
        },
    })
}

/// Appends one line per row of `batch` to `buf`; returns the batch's last raw id.
fn write_batch(
    plan: &ReplayPlan,
    batch: &RecordBatch,
    buf: &mut Vec<u8>,
    records: &mut u64,
) -> Option<String> {
    let n = plan.data.len();
    let arrays: Vec<ArrayRef> = batch.columns().iter().map(normalize_array).collect();
    let cells: Vec<Cells<'_>> = plan
        .data
        .iter()
        .zip(&arrays)
        .map(|(c, a)| Cells::new(a, c.style))
        .collect();
    let raw_ids = arrays.get(n).and_then(|a| a.as_string_opt::<i32>());
    let extracted_at = arrays.get(n + 1).and_then(|a| match a.data_type() {
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            Some(a.as_primitive::<TimestampMicrosecondType>())
        }
        _ => None,
    });
    let meta = arrays.get(n + 2).and_then(|a| a.as_string_opt::<i32>());
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut ints = itoa::Buffer::new();
    for row in 0..batch.num_rows() {
        buf.extend_from_slice(&plan.prefix);
        buf.extend_from_slice(br#","data":{"#);
        let mut first = true;
        for (column, cell) in plan.data.iter().zip(&cells) {
            if cell.is_null(row) {
                continue;
            }
            let mark = buf.len();
            if !first {
                buf.push(b',');
            }
            buf.extend_from_slice(&column.key);
            if cell.write(row, buf) {
                first = false;
            } else {
                buf.truncate(mark);
            }
        }
        buf.extend_from_slice(br#"},"emitted_at":"#);
        let emitted_at = extracted_at
            .filter(|a| a.is_valid(row))
            .map_or(now_ms, |a| a.value(row).div_euclid(1000));
        buf.extend_from_slice(ints.format(emitted_at).as_bytes());
        if let Some(meta) = meta.filter(|m| m.is_valid(row)) {
            write_changes(buf, meta.value(row));
        }
        buf.extend_from_slice(b"}}\n");
        *records += 1;
    }
    raw_ids.and_then(last_valid)
}

fn last_valid(ids: &StringArray) -> Option<String> {
    (0..ids.len())
        .rev()
        .find(|&i| ids.is_valid(i))
        .map(|i| ids.value(i).to_string())
}

/// `,"meta":{"changes":[…]}` when `_airbyte_meta` lists changes.
fn write_changes(buf: &mut Vec<u8>, meta: &str) {
    // What nearly every row holds (ours, PyAirbyte's): no parse.
    if meta == r#"{"changes":[]}"# || meta == "{}" {
        return;
    }
    let Ok(Value::Object(mut obj)) = serde_json::from_str::<Value>(meta) else {
        return;
    };
    let Some(Value::Array(changes)) = obj.remove("changes") else {
        return;
    };
    if changes.is_empty() {
        return;
    }
    buf.extend_from_slice(br#","meta":{"changes":"#);
    // Serializing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, &changes);
    buf.push(b'}');
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
