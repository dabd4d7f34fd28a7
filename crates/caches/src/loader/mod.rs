//! The streaming loader: connector records straight into a cache's tables, with state.
//!
//! This module is the backend-neutral part: write-strategy resolution, the columns of each
//! stream (names, types), parsing records into Arrow batches, `_airbyte_meta`, and the commit
//! policy (when data and state commit together). A backend (`crate::duckdb`, `crate::postgres`)
//! creates and evolves the tables and applies what the writer hands it through
//! `LoadBackend`: batches, "this column is text from now on", commits with their states.
//!
//! Each record's `data` is parsed once: a serde visitor walks the top-level object, keeps each
//! value as raw JSON text, matches its key to a column (a per-position cache makes the usual
//! "same keys in the same order" case a string compare), and converts the text straight into
//! that column's Arrow builder. Every `batch_rows` records of a stream become one Arrow batch
//! handed to the backend (DuckDB inserts it from an Arrow scan, PostgreSQL copies it in with
//! binary `COPY`); nothing goes through files.
//!
//! Consistency: the writer keeps one open transaction. A STATE message is a commit point: the
//! records before it and the state are committed together (at most one commit per
//! `commit_interval`, or sooner after `commit_records` records; a pending state is committed
//! at the next commit point and always at [`CacheWriter::finish`]). A process killed at any
//! instant therefore leaves the data and the state of the last commit, and a re-run resumes
//! from that state.
//!
//! Write methods:
//! * append: rows go straight into the stream's table.
//! * merge: rows with the same primary key as earlier ones replace them, the last record of a
//!   key winning (also within one sync), all inside the open transaction, committed with the
//!   state. DuckDB applies each batch (a DELETE of its keys, then an INSERT); PostgreSQL stages
//!   the batches and merges them in one statement per commit.
//! * replace: rows go into a shadow table that replaces the stream's table in one transaction
//!   at finish, together with the stream's state; readers never see a partial table, and a
//!   killed load leaves the old table (its shadow is dropped by the next load).

mod keys;
mod raw_id;
mod scan;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use serde_json::Value;
use serde_json::value::RawValue;

use abrs_protocol::{
    AirbyteStateMessage, ConfiguredAirbyteCatalog, ConfiguredAirbyteStream, DestinationSyncMode,
    RecordRef, StateType,
};

use crate::columns::{ColumnBuffer, PushError, finish_primitive, finish_strings};
use crate::error::{CacheError, Result};
use crate::names::{ColumnNamer, Normalizer};
use crate::state::StateKey;
use crate::timing::{LoadTimings, thread_cpu_time};
use crate::types::SqlType;

pub(crate) use keys::KeyCover;
use keys::{key_range, keys_distinct};
use raw_id::{RawIdGen, wall_clock_millis};
use scan::{DataVisitor, KeyIndex, Span, scan_object, spans_from_members};

/// `_airbyte_raw_id`: a UUIDv7 string per row.
pub const RAW_ID_COLUMN: &str = "_airbyte_raw_id";
/// `_airbyte_extracted_at`: the record's `emitted_at`, TIMESTAMPTZ.
pub const EXTRACTED_AT_COLUMN: &str = "_airbyte_extracted_at";
/// `_airbyte_meta`: `{"changes": [...]}`, JSON.
pub const META_COLUMN: &str = "_airbyte_meta";
/// The internal columns, in table order (after the data columns).
pub const INTERNAL_COLUMNS: [&str; 3] = [RAW_ID_COLUMN, EXTRACTED_AT_COLUMN, META_COLUMN];
/// Staging-table column giving arrival order, so the last record per key wins.
const EMPTY_META: &str = r#"{"changes":[]}"#;

/// How the user asked to write: PyAirbyte's `write_strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteStrategy {
    /// Merge when the stream has a primary key, else append when it has a cursor, else replace.
    #[default]
    Auto,
    /// Always append.
    Append,
    /// Upsert by primary key (an error for streams without one).
    Merge,
    /// Replace the table atomically with this sync's data.
    Replace,
}

impl FromStr for WriteStrategy {
    type Err = CacheError;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "append" => Ok(Self::Append),
            "merge" => Ok(Self::Merge),
            "replace" => Ok(Self::Replace),
            _ => Err(CacheError::InvalidWriteStrategy(s.to_string())),
        }
    }
}

impl fmt::Display for WriteStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Append => "append",
            Self::Merge => "merge",
            Self::Replace => "replace",
        })
    }
}

/// The write method a stream actually gets (a [`WriteStrategy`] resolved for the stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteMethod {
    /// Rows are appended.
    Append,
    /// Rows are upserted by primary key.
    Merge,
    /// The table is replaced.
    Replace,
}

impl WriteMethod {
    /// `append`, `merge` or `replace`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Append => "append",
            Self::Merge => "merge",
            Self::Replace => "replace",
        }
    }

    /// The equivalent destination sync mode (merge = `append_dedup`, replace = `overwrite`).
    pub fn destination_sync_mode(&self) -> DestinationSyncMode {
        match self {
            Self::Append => DestinationSyncMode::Append,
            Self::Merge => DestinationSyncMode::AppendDedup,
            Self::Replace => DestinationSyncMode::Overwrite,
        }
    }
}

impl fmt::Display for WriteMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The primary key of a configured stream: the configured one, else the source-defined one.
pub fn primary_key(stream: &ConfiguredAirbyteStream) -> Vec<Vec<String>> {
    stream
        .primary_key
        .clone()
        .filter(|pk| !pk.is_empty())
        .or_else(|| stream.stream.source_defined_primary_key.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|path| !path.is_empty())
        .collect()
}

/// Resolves a strategy for one stream, as PyAirbyte does.
pub fn resolve_write_method(
    strategy: WriteStrategy,
    stream: &ConfiguredAirbyteStream,
) -> Result<WriteMethod> {
    let has_pk = !primary_key(stream).is_empty();
    match strategy {
        WriteStrategy::Append => Ok(WriteMethod::Append),
        WriteStrategy::Replace => Ok(WriteMethod::Replace),
        WriteStrategy::Merge if has_pk => Ok(WriteMethod::Merge),
        WriteStrategy::Merge => Err(CacheError::MergeWithoutPrimaryKey {
            stream: stream.stream.name.clone(),
        }),
        WriteStrategy::Auto if has_pk => Ok(WriteMethod::Merge),
        WriteStrategy::Auto if stream.cursor_field.as_ref().is_some_and(|c| !c.is_empty()) => {
            Ok(WriteMethod::Append)
        }
        WriteStrategy::Auto => Ok(WriteMethod::Replace),
    }
}

/// Tuning of a load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Records of one stream buffered before they are inserted as one Arrow batch.
    pub batch_rows: usize,
    /// At a STATE message, commit when at least this long has passed since the last commit.
    pub commit_interval: Duration,
    /// At a STATE message, commit when at least this many records arrived since the last
    /// commit, however short the time. Also bounds the open transaction (and DuckDB's memory)
    /// without any STATE message when every stream written since the last commit is merge or
    /// replace: re-running from the last committed state then just upserts the same rows again
    /// (merge) or rewrites an invisible shadow table (replace), so the cache stays consistent.
    /// Append streams only ever commit at STATE messages and at finish.
    pub commit_records: u64,
    /// DuckDB threads while the load runs (`SET threads`, a setting of the whole database,
    /// restored when the load ends); `None` leaves DuckDB's own setting. The loader already
    /// keeps one core busy parsing records; with more DuckDB threads than the cores left, its
    /// workers mostly spin waiting for each other (measured: ~15% of the CPU on 2 cores).
    pub duckdb_threads: Option<usize>,
    /// Bytes of Arrow batches queued for the database worker before the parser waits for it
    /// (a batch larger than this still goes, alone). The queue absorbs the pauses in which
    /// DuckDB compresses a full row group (122,880 rows at once, a few tenths of a second):
    /// with too shallow a queue the parser stalls through each of them while the database
    /// thread waits for batches in between, and one of the two cores idles.
    pub queue_bytes: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            // Small enough that the queue holds many (see `queue_bytes`).
            batch_rows: 8_192,
            commit_interval: Duration::from_secs(1),
            // Two DuckDB row groups (122,880 rows each) and a multiple of `batch_rows` (30×):
            // commits then leave no partial row groups that the final checkpoint would
            // rewrite (measured: 1 CPU-s less, and a 30% smaller file, for 1M merged records).
            commit_records: 245_760,
            duckdb_threads: Some(1),
            // About 12 batches of the bench kit's records (~2.3 MB per 8,192 rows): enough to
            // carry the parser through DuckDB's row-group pauses, and peak RSS stays ~140 MB.
            queue_bytes: 28 << 20,
        }
    }
}

/// What a load did for one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamLoadSummary {
    /// The table written.
    pub table: String,
    /// The method used.
    pub method: WriteMethod,
    /// Records received.
    pub records: u64,
    /// Values that did not fit their column and were stored as NULL.
    pub nulled_values: u64,
}

/// What a load did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadSummary {
    /// Per stream, by stream name (every configured stream, with or without records).
    pub streams: BTreeMap<String, StreamLoadSummary>,
    /// State messages received.
    pub states: u64,
    /// Transactions committed.
    pub commits: u64,
    /// Where the load's time went.
    pub timings: LoadTimings,
}

impl LoadSummary {
    /// Records received over all streams.
    pub fn total_records(&self) -> u64 {
        self.streams.values().map(|s| s.records).sum()
    }
}

/// One column a stream's records are loaded into.
#[derive(Debug, Clone)]
pub(crate) struct LoadColumn {
    pub(crate) name: String,
    pub(crate) ty: SqlType,
}

/// A stream of a load as planned before any database is touched: everything about it that
/// user input decides (and that can fail on it).
#[derive(Debug, Clone)]
pub(crate) struct StreamPlan {
    /// The configured stream.
    pub(crate) configured: ConfiguredAirbyteStream,
    /// The table (normalized by the backend's rules).
    pub(crate) table: String,
    pub(crate) method: WriteMethod,
    /// The data columns from the declared schema, in schema order:
    /// (property, column, declared type).
    pub(crate) declared: Vec<(String, String, SqlType)>,
    /// Merge: the primary key's columns, as indexes into `declared`.
    pub(crate) pk_idx: Vec<usize>,
}

impl StreamPlan {
    /// The stream's name.
    pub(crate) fn name(&self) -> &str {
        &self.configured.stream.name
    }

    /// Every column of the table as declared: the data columns, then the internal ones.
    pub(crate) fn declared_columns(&self) -> Vec<LoadColumn> {
        self.declared
            .iter()
            .map(|(_, c, t)| LoadColumn {
                name: c.clone(),
                ty: t.clone(),
            })
            .chain(internal_columns())
            .collect()
    }
}

/// The internal columns with their types, in table order.
pub(crate) fn internal_columns() -> [LoadColumn; 3] {
    [
        LoadColumn {
            name: RAW_ID_COLUMN.into(),
            ty: SqlType::Varchar,
        },
        LoadColumn {
            name: EXTRACTED_AT_COLUMN.into(),
            ty: SqlType::TimestampTz,
        },
        LoadColumn {
            name: META_COLUMN.into(),
            ty: SqlType::Json,
        },
    ]
}

/// The data columns of a stream's schema: (property, column, type), in schema order,
/// collisions suffixed, by the backend's name rules.
pub(crate) fn declared_columns(
    json_schema: &Value,
    normalizer: Normalizer,
) -> Result<Vec<(String, String, SqlType)>> {
    let mut namer = ColumnNamer::new(INTERNAL_COLUMNS).with_normalizer(normalizer);
    let mut declared = Vec::new();
    if let Some(props) = json_schema.get("properties").and_then(Value::as_object) {
        for (prop, schema) in props {
            let col = namer.assign(prop)?;
            declared.push((prop.clone(), col, SqlType::from_json_schema(schema)));
        }
    }
    Ok(declared)
}

/// Plans every stream of a load: resolves the write methods, names the tables and columns and
/// finds the primary keys. Fails on user input before any database work.
pub(crate) fn plan_load(
    catalog: &ConfiguredAirbyteCatalog,
    strategy: WriteStrategy,
    table_prefix: &str,
    normalizer: Normalizer,
) -> Result<Vec<StreamPlan>> {
    let methods = catalog
        .streams
        .iter()
        .map(|s| resolve_write_method(strategy, s))
        .collect::<Result<Vec<_>>>()?;
    let mut plans = Vec::with_capacity(methods.len());
    for (configured, method) in catalog.streams.iter().zip(methods) {
        let stream = &configured.stream;
        let table = normalizer.table_name(table_prefix, &stream.name)?;
        let declared = declared_columns(&stream.json_schema, normalizer)?;
        let mut pk_idx = Vec::new();
        if method == WriteMethod::Merge {
            for path in primary_key(configured) {
                if path.len() != 1 {
                    return Err(CacheError::NestedPrimaryKey {
                        stream: stream.name.clone(),
                        path,
                    });
                }
                let field = &path[0];
                let idx = declared
                    .iter()
                    .position(|(p, _, _)| p == field)
                    .or_else(|| {
                        let n = normalizer.normalize(field).ok()?;
                        declared.iter().position(|(_, c, _)| *c == n)
                    })
                    .ok_or_else(|| CacheError::UnknownPrimaryKey {
                        stream: stream.name.clone(),
                        field: field.clone(),
                    })?;
                pk_idx.push(idx);
            }
        }
        plans.push(StreamPlan {
            configured: configured.clone(),
            table,
            method,
            declared,
            pk_idx,
        });
    }
    Ok(plans)
}

/// A stream's table as the backend prepared it for the load.
pub(crate) struct PreparedStream {
    /// The columns batches carry, in order: the data columns (`declared`'s order), then the
    /// internal ones; types are the table's (after schema evolution).
    pub(crate) columns: Vec<LoadColumn>,
    /// Merge: which keys the table may already hold (see [`KeyCover`]).
    pub(crate) key_cover: KeyCover,
}

/// One batch of a stream, handed to the backend.
///
/// Its columns are named `c0, c1, …` in the order of [`PreparedStream::columns`]; a merge
/// stream's batches carry one more column, `seq` (BIGINT, arrival order: the highest wins).
pub(crate) struct LoadBatch {
    pub(crate) stream: usize,
    pub(crate) rows: usize,
    pub(crate) batch: RecordBatch,
    /// Merge: the batch holds no key twice (no deduplication needed).
    pub(crate) distinct_keys: bool,
    /// Merge: the range of the batch's first key column (a BIGINT without NULLs).
    pub(crate) key_range: Option<(i64, i64)>,
    /// Merge: no row of the table can have the batch's keys.
    pub(crate) skip_delete: bool,
}

/// What a backend measured of a load (see [`LoadTimings`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct BackendTimes {
    pub(crate) waited: Duration,
    pub(crate) insert: Duration,
    pub(crate) commit: Duration,
    pub(crate) cpu: Option<Duration>,
}

/// The database side of a load: what a cache backend implements for [`CacheWriter`].
///
/// A backend's `begin_load` plans the streams ([`plan_load`]), creates or evolves their tables
/// and registers them in `_airbyte_streams` (committed before the connector starts), opens the
/// load's transaction, and returns the [`PreparedStream`]s with itself. Then, in order:
/// * [`insert`](LoadBackend::insert) batches (append: into the table; merge: replacing rows
///   of the same key, last `seq` wins; replace: into a shadow table nobody reads);
/// * [`widen_to_text`](LoadBackend::widen_to_text) when a numeric column meets a number it
///   would lose digits of: the column must from then on take the text of the number, and the
///   stored values must be kept;
/// * [`commit`](LoadBackend::commit): everything so far plus these states (rows of
///   `_airbyte_state`) in one transaction, then a new transaction;
/// * [`finish`](LoadBackend::finish): commit, then swap in the shadow tables of replace
///   streams with the states that waited for them, in one transaction.
///
/// Dropping the backend without `finish` must keep exactly the last commit.
pub(crate) trait LoadBackend: Send {
    fn insert(&mut self, batch: LoadBatch) -> Result<()>;
    fn widen_to_text(&mut self, stream: usize, column: usize) -> Result<()>;
    fn commit(&mut self, states: Vec<AirbyteStateMessage>) -> Result<()>;
    fn finish(&mut self, states: Vec<AirbyteStateMessage>) -> Result<BackendTimes>;
}

/// The loading state of one stream.
struct StreamLoader {
    name: String,
    table: String,
    method: WriteMethod,
    columns: Vec<LoadColumn>,
    buffers: Vec<ColumnBuffer>,
    keys: KeyIndex,
    spans: Vec<Option<Span>>,
    raw_id: StringBuilder,
    extracted_at: TimestampMicrosecondBuilder,
    meta: StringBuilder,
    seq: Option<Int64Builder>,
    schema: SchemaRef,
    /// Merge: the primary key's data columns.
    pk_idx: Vec<usize>,
    /// Merge: the keys the table can hold, to skip deletes that cannot match.
    key_cover: KeyCover,
    rows: usize,
    records: u64,
    nulled: u64,
}

impl StreamLoader {
    fn new(
        plan: StreamPlan,
        prepared: PreparedStream,
        normalizer: Normalizer,
        batch_rows: usize,
    ) -> Self {
        let n_data = plan.declared.len();
        let mut exact = HashMap::new();
        let mut normalized = HashMap::new();
        for (i, (prop, _, _)) in plan.declared.iter().enumerate() {
            exact.insert(Box::<str>::from(prop.as_str()), i);
            if let Ok(n) = normalizer.normalize(prop) {
                normalized.entry(n).or_insert(i);
            }
        }
        let mut fields = Vec::new();
        let mut buffers = Vec::new();
        for (i, c) in prepared.columns.iter().enumerate() {
            let buffer = ColumnBuffer::new(&c.ty, if i < n_data { batch_rows } else { 0 });
            fields.push(Field::new(format!("c{i}"), buffer.data_type(), true));
            if i < n_data {
                buffers.push(buffer);
            }
        }
        let merge = plan.method == WriteMethod::Merge;
        // Merge batches carry their arrival order, so that the last record of a key wins.
        let seq = merge.then(|| Int64Builder::with_capacity(batch_rows));
        if merge {
            fields.push(Field::new("seq", arrow::datatypes::DataType::Int64, false));
        }
        Self {
            name: plan.name().to_string(),
            table: plan.table,
            method: plan.method,
            columns: prepared.columns,
            buffers,
            keys: KeyIndex {
                exact,
                normalized,
                by_position: Vec::new(),
                normalizer,
            },
            spans: vec![None; n_data],
            raw_id: StringBuilder::with_capacity(batch_rows, batch_rows * 36),
            extracted_at: TimestampMicrosecondBuilder::with_capacity(batch_rows)
                .with_timezone("UTC"),
            meta: StringBuilder::with_capacity(batch_rows, batch_rows * EMPTY_META.len()),
            seq,
            schema: Arc::new(Schema::new(fields)),
            pk_idx: plan.pk_idx,
            key_cover: prepared.key_cover,
            rows: 0,
            records: 0,
            nulled: 0,
        }
    }

    /// The buffered rows as one Arrow batch (the buffers start over).
    fn take_batch(&mut self) -> Result<Option<(usize, RecordBatch)>> {
        if self.rows == 0 {
            return Ok(None);
        }
        let mut arrays: Vec<ArrayRef> = self.buffers.iter_mut().map(ColumnBuffer::finish).collect();
        arrays.push(Arc::new(finish_strings(&mut self.raw_id)));
        arrays.push(finish_primitive(&mut self.extracted_at));
        arrays.push(Arc::new(finish_strings(&mut self.meta)));
        if let Some(seq) = &mut self.seq {
            arrays.push(finish_primitive(seq));
        }
        let rows = self.rows;
        self.rows = 0;
        let batch = RecordBatch::try_new(self.schema.clone(), arrays).map_err(|source| {
            CacheError::Arrow {
                context: format!("building a batch of stream {:?}", self.name),
                source,
            }
        })?;
        Ok(Some((rows, batch)))
    }
}

/// Writes a connector's messages into a cache. Made by a cache's `begin_load`.
///
/// Dropping a writer without [`CacheWriter::finish`] rolls back everything since the last
/// commit (as a crash would), keeping the data and state of the last commit.
pub struct CacheWriter {
    backend: Box<dyn LoadBackend>,
    source_name: String,
    options: LoadOptions,
    streams: Vec<StreamLoader>,
    by_name: HashMap<String, usize>,
    last_stream: usize,
    pending: BTreeMap<StateKey, AirbyteStateMessage>,
    /// States that wait for the replace swap at finish.
    deferred: BTreeMap<StateKey, AirbyteStateMessage>,
    last_commit: Instant,
    records_since_commit: u64,
    /// An append stream got records since the last commit (no commit without a state then).
    append_dirty: bool,
    states: u64,
    commits: u64,
    seq: i64,
    ids: RawIdGen,
    changes: Vec<String>,
    poisoned: bool,
    /// The caller thread's CPU time when the load began.
    cpu_start: Option<Duration>,
}

impl std::fmt::Debug for CacheWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheWriter")
            .field("source_name", &self.source_name)
            .field("streams", &self.by_name.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl CacheWriter {
    /// A writer over the streams a backend prepared (`plans` and `prepared` in one order).
    pub(crate) fn new(
        source_name: &str,
        options: LoadOptions,
        normalizer: Normalizer,
        plans: Vec<StreamPlan>,
        prepared: Vec<PreparedStream>,
        backend: Box<dyn LoadBackend>,
    ) -> Self {
        let batch_rows = options.batch_rows.max(1);
        let mut streams = Vec::with_capacity(plans.len());
        let mut by_name = HashMap::new();
        for (plan, prepared) in plans.into_iter().zip(prepared) {
            by_name.insert(plan.name().to_string(), streams.len());
            streams.push(StreamLoader::new(plan, prepared, normalizer, batch_rows));
        }
        Self {
            backend,
            source_name: source_name.to_string(),
            options,
            streams,
            by_name,
            last_stream: usize::MAX,
            pending: BTreeMap::new(),
            deferred: BTreeMap::new(),
            last_commit: Instant::now(),
            records_since_commit: 0,
            append_dirty: false,
            states: 0,
            commits: 0,
            seq: 0,
            ids: RawIdGen::new(),
            changes: Vec::new(),
            poisoned: false,
            cpu_start: thread_cpu_time(),
        }
    }

    /// The stream loaders' index of a stream name.
    fn stream_index(&mut self, name: &str) -> Result<usize> {
        if let Some(s) = self.streams.get(self.last_stream)
            && s.name == name
        {
            return Ok(self.last_stream);
        }
        match self.by_name.get(name) {
            Some(&i) => {
                self.last_stream = i;
                Ok(i)
            }
            None => Err(CacheError::UnknownStream {
                stream: name.to_string(),
                configured: self
                    .streams
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    fn check_usable(&self) -> Result<()> {
        if self.poisoned {
            Err(CacheError::WriterPoisoned)
        } else {
            Ok(())
        }
    }

    /// Adds one record.
    pub fn record(&mut self, record: &RecordRef<'_>) -> Result<()> {
        self.check_usable()?;
        let idx = self.stream_index(&record.stream)?;
        let data = record.data.get();
        let loader = &mut self.streams[idx];
        loader.spans.iter_mut().for_each(|s| *s = None);
        let found = match record.members {
            Some(members) => spans_from_members(data, members, &mut loader.keys, &mut loader.spans),
            None => scan_object(data, &mut loader.keys, &mut loader.spans),
        };
        if !found {
            loader.spans.iter_mut().for_each(|s| *s = None);
            let visitor = DataVisitor {
                keys: &mut loader.keys,
                spans: &mut loader.spans,
                base: data.as_ptr() as usize,
            };
            let mut de = serde_json::Deserializer::from_str(data);
            serde::Deserializer::deserialize_map(&mut de, visitor).map_err(|source| {
                CacheError::BadRecord {
                    stream: loader.name.clone(),
                    source,
                }
            })?;
        }

        self.changes.clear();
        let mut widened = Vec::new();
        for (i, buffer) in loader.buffers.iter_mut().enumerate() {
            let value = loader.spans[i]
                .and_then(|s| data.get(s.start as usize..s.start as usize + s.len as usize));
            match value {
                None => buffer.push_null(),
                Some(raw) => match buffer.push_raw(raw) {
                    Ok(()) => {}
                    Err(PushError::Misfit) => {
                        loader.nulled += 1;
                        self.changes.push(loader.columns[i].name.clone());
                    }
                    Err(PushError::NeedsText) => {
                        buffer.make_text();
                        if buffer.push_raw(raw).is_err() {
                            loader.nulled += 1;
                            self.changes.push(loader.columns[i].name.clone());
                        }
                        widened.push(i);
                    }
                },
            }
        }
        if !widened.is_empty() {
            let r = self.widen_to_text(idx, &widened);
            self.poison_on_err(r)?;
        }
        let loader = &mut self.streams[idx];
        loader
            .raw_id
            .append_value(self.ids.next(wall_clock_millis()));
        loader
            .extracted_at
            .append_value(record.emitted_at.saturating_mul(1000));
        if record.meta.is_none() && self.changes.is_empty() {
            loader.meta.append_value(EMPTY_META);
        } else {
            loader
                .meta
                .append_value(merge_meta(record.meta, &self.changes));
        }
        if let Some(seq) = &mut loader.seq {
            self.seq += 1;
            seq.append_value(self.seq);
        }
        loader.rows += 1;
        loader.records += 1;
        self.records_since_commit += 1;
        if loader.method == WriteMethod::Append {
            self.append_dirty = true;
        }
        if loader.rows >= self.options.batch_rows.max(1) {
            let r = self.flush(idx);
            self.poison_on_err(r)?;
            if !self.append_dirty && self.records_since_commit >= self.options.commit_records {
                let r = self.commit();
                self.poison_on_err(r)?;
            }
        }
        Ok(())
    }

    /// Makes numeric columns text so that no digit of a value is lost: the backend alters
    /// its tables (existing values become their text) before the stream's next batch.
    fn widen_to_text(&mut self, idx: usize, columns: &[usize]) -> Result<()> {
        let loader = &mut self.streams[idx];
        let mut fields: Vec<Field> = loader
            .schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        for &i in columns {
            let column = &mut loader.columns[i];
            tracing::info!(
                stream = %loader.name,
                column = %column.name,
                "a number has more digits than DOUBLE/BIGINT keeps: the column now takes its text"
            );
            column.ty = SqlType::Varchar;
            if let Some(f) = fields.get_mut(i) {
                *f = Field::new(f.name(), arrow::datatypes::DataType::Utf8, true);
            }
            self.backend.widen_to_text(idx, i)?;
        }
        loader.schema = Arc::new(Schema::new(fields));
        Ok(())
    }

    /// Hands a stream's buffered rows to the backend.
    fn flush(&mut self, idx: usize) -> Result<()> {
        let loader = &mut self.streams[idx];
        if let Some((rows, batch)) = loader.take_batch()? {
            let merge = loader.method == WriteMethod::Merge;
            let distinct_keys = merge && keys_distinct(&batch, &loader.pk_idx);
            let key_range = if merge {
                key_range(&batch, &loader.pk_idx)
            } else {
                None
            };
            let skip_delete = merge && loader.key_cover.admit(key_range);
            self.backend.insert(LoadBatch {
                stream: idx,
                rows,
                batch,
                distinct_keys,
                key_range,
                skip_delete,
            })?;
        }
        Ok(())
    }

    fn poison_on_err<T>(&mut self, r: Result<T>) -> Result<T> {
        if r.is_err() {
            // The open transaction is rolled back when the worker stops (now or on drop).
            self.poisoned = true;
        }
        r
    }

    /// Adds a STATE message: a commit point (see the module docs).
    pub fn state(&mut self, state: &AirbyteStateMessage) -> Result<()> {
        self.check_usable()?;
        self.states += 1;
        let key = StateKey::of(state);
        let waits_for_swap = match state.kind() {
            StateType::Stream => state
                .stream
                .as_ref()
                .and_then(|s| self.by_name.get(&s.stream_descriptor.name))
                .is_some_and(|&i| self.streams[i].method == WriteMethod::Replace),
            _ => self
                .streams
                .iter()
                .any(|s| s.method == WriteMethod::Replace),
        };
        if waits_for_swap {
            self.deferred.insert(key, state.clone());
        } else {
            self.pending.insert(key, state.clone());
        }
        if self.last_commit.elapsed() >= self.options.commit_interval
            || self.records_since_commit >= self.options.commit_records
        {
            let r = self.commit();
            self.poison_on_err(r)?;
        }
        Ok(())
    }

    /// Flushes and merges all buffered rows, writes the pending states, commits, and opens
    /// the next transaction (all handed to the backend, in order).
    fn commit(&mut self) -> Result<()> {
        for idx in 0..self.streams.len() {
            self.flush(idx)?;
        }
        let states = std::mem::take(&mut self.pending).into_values().collect();
        self.backend.commit(states)?;
        self.commits += 1;
        self.last_commit = Instant::now();
        self.records_since_commit = 0;
        self.append_dirty = false;
        Ok(())
    }

    /// Commits everything: the remaining records, then, in one more transaction, the replace
    /// swaps with the states that waited for them.
    pub fn finish(mut self) -> Result<LoadSummary> {
        self.check_usable()?;
        let r = self.commit();
        self.poison_on_err(r)?;
        let states = std::mem::take(&mut self.deferred).into_values().collect();
        let r = self.backend.finish(states);
        let backend = self.poison_on_err(r)?;
        self.commits += 1;
        let timings = LoadTimings {
            parse_cpu: thread_cpu_time()
                .zip(self.cpu_start)
                .map(|(end, start)| end.saturating_sub(start)),
            waited_for_database: backend.waited,
            insert: backend.insert,
            commit: backend.commit,
            database_cpu: backend.cpu,
        };
        let mut summary = LoadSummary {
            states: self.states,
            commits: self.commits,
            timings,
            ..Default::default()
        };
        for s in &self.streams {
            summary.streams.insert(
                s.name.clone(),
                StreamLoadSummary {
                    table: s.table.clone(),
                    method: s.method,
                    records: s.records,
                    nulled_values: s.nulled,
                },
            );
        }
        Ok(summary)
    }

    /// The source name this writer records.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }
}

/// `_airbyte_meta` for a record with its own meta and/or our changes.
fn merge_meta(meta: Option<&RawValue>, nulled: &[String]) -> String {
    let mut obj = meta
        .and_then(|m| serde_json::from_str::<Value>(m.get()).ok())
        .and_then(|v| match v {
            Value::Object(o) => Some(o),
            _ => None,
        })
        .unwrap_or_default();
    let mut changes = match obj.remove("changes") {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    };
    for field in nulled {
        changes.push(serde_json::json!({
            "field": field,
            "change": "NULLED",
            "reason": "DESTINATION_TYPECAST_ERROR",
        }));
    }
    let mut out = serde_json::Map::new();
    out.insert("changes".into(), Value::Array(changes));
    out.extend(obj);
    Value::Object(out).to_string()
}
