//! Replaying a cached stream as Airbyte RECORD lines: how a destination is fed from the cache
//! (the backend-neutral part; each backend runs the query and hands its Arrow batches here).
//!
//! PyAirbyte sends each cache row as its SQL row (§1.4 of `destinations.md`): normalized column
//! names, numbers as strings, naive timestamps, `_airbyte_*` columns as data, `emitted_at` in
//! seconds, and the whole table every time. A replay here gives the destination what the source
//! sent: the original field names (from the stream's schema stored in `_airbyte_streams`),
//! JSON types, time-zone-aware timestamps, `emitted_at` in milliseconds, the record's
//! `meta.changes`, and only the rows loaded after a given raw id.
//!
//! Memory stays bounded whatever the table size: the backend streams the ordered rows in
//! chunks, which are formatted into a reused buffer that is written out every 256 KiB.

use std::collections::HashSet;
use std::io::Write;

use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;
use serde_json::Value;

use crate::error::{CacheError, Result};
use crate::loader::{EXTRACTED_AT_COLUMN, INTERNAL_COLUMNS, META_COLUMN, RAW_ID_COLUMN};
use crate::names::{ColumnNamer, normalize, quote_ident};
use crate::record_json::{Cells, ColumnStyle, TextKind, normalize_array, write_json_string};
use crate::types::SqlType;

/// Output is handed to the writer in pieces of about this size.
const FLUSH_BYTES: usize = 256 * 1024;

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

/// A row of `_airbyte_streams`: stream name, table name, catalog metadata (the JSON schema).
pub(crate) type RegisteredStream = (Option<String>, Option<String>, Option<String>);

/// What a backend knows of a stream's table before the first row.
pub(crate) struct TableFacts<'a> {
    /// The stream asked for.
    pub(crate) stream: &'a str,
    /// Its table (bare name).
    pub(crate) table: String,
    /// The table, qualified and quoted for SQL.
    pub(crate) qualified: String,
    /// The cache's table prefix.
    pub(crate) prefix: &'a str,
    /// The table's columns and their types (empty: no such table).
    pub(crate) columns: Vec<(String, SqlType)>,
    /// The rows of `_airbyte_streams`.
    pub(crate) registered: Vec<RegisteredStream>,
    /// The raw id as text, in the backend's SQL (selected).
    pub(crate) raw_id_text: String,
    /// The raw id as the backend's SQL orders and compares it byte-wise.
    pub(crate) raw_id_order: String,
}

/// Everything decided before the first row.
pub(crate) struct ReplayPlan {
    pub(crate) table: String,
    /// `{"type":"RECORD","record":{"stream":"<name>"`.
    prefix: Vec<u8>,
    data: Vec<DataColumn>,
    /// `SELECT … FROM …`, without the filter and the order.
    select: String,
    raw_id_order: String,
}

impl ReplayPlan {
    /// Finds the stream's original name and schema, and maps columns to fields.
    /// `available` lists the cache's streams, for the error of a missing one.
    pub(crate) fn new(
        facts: TableFacts<'_>,
        options: &ReplayOptions,
        available: impl FnOnce() -> String,
    ) -> Result<Self> {
        let TableFacts {
            stream,
            table,
            qualified,
            prefix,
            columns,
            registered,
            raw_id_text,
            raw_id_order,
        } = facts;
        if columns.is_empty() {
            return Err(CacheError::StreamNotInCache {
                stream: stream.to_string(),
                table,
                available: available(),
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
        select.push(raw_id_text);
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
        let select = format!("SELECT {} FROM {qualified}", select.join(", "));
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
            raw_id_order,
        })
    }

    /// The query; with `after` (the SQL of a value: a parameter or a literal), only the rows
    /// whose raw id sorts after it.
    pub(crate) fn sql(&self, after: Option<&str>) -> String {
        let raw_id = &self.raw_id_order;
        let filter = match after {
            Some(value) => format!(" WHERE {raw_id} > {value}"),
            None => String::new(),
        };
        format!("{}{filter} ORDER BY {raw_id}", self.select)
    }
}

/// Formats a replay's batches into RECORD lines and writes them out in pieces.
pub(crate) struct ReplayWriter<'a> {
    plan: &'a ReplayPlan,
    stream: &'a str,
    out: &'a mut dyn Write,
    buf: Vec<u8>,
    summary: ReplaySummary,
}

impl<'a> ReplayWriter<'a> {
    pub(crate) fn new(plan: &'a ReplayPlan, stream: &'a str, out: &'a mut dyn Write) -> Self {
        Self {
            plan,
            stream,
            out,
            buf: Vec::with_capacity(FLUSH_BYTES + 64 * 1024),
            summary: ReplaySummary {
                table: plan.table.clone(),
                ..Default::default()
            },
        }
    }

    /// Formats one batch of the plan's query, writing out what has piled up.
    pub(crate) fn batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let last_id = write_batch(self.plan, batch, &mut self.buf, &mut self.summary.records);
        if let Some(id) = last_id {
            self.summary.max_raw_id = Some(id);
        }
        if self.buf.len() >= FLUSH_BYTES {
            self.emit()?;
        }
        Ok(())
    }

    fn emit(&mut self) -> Result<()> {
        self.out
            .write_all(&self.buf)
            .map_err(|source| CacheError::ReplayOutput {
                stream: self.stream.to_string(),
                source,
            })?;
        self.summary.bytes += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Writes out the rest and flushes the output.
    pub(crate) fn finish(mut self) -> Result<ReplaySummary> {
        if !self.buf.is_empty() {
            self.emit()?;
        }
        self.out
            .flush()
            .map_err(|source| CacheError::ReplayOutput {
                stream: self.stream.to_string(),
                source,
            })?;
        Ok(self.summary)
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
