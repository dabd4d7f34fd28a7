//! The streaming loader: connector records straight into DuckDB tables, with state.
//!
//! Each record's `data` is parsed once: a serde visitor walks the top-level object, keeps each
//! value as raw JSON text, matches its key to a column (a per-position cache makes the usual
//! "same keys in the same order" case a string compare), and converts the text straight into
//! that column's Arrow builder. Every `batch_rows` records of a stream become one Arrow batch
//! inserted with `INSERT … SELECT … FROM <arrow scan>`; nothing goes through files.
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
//! * merge: each batch deletes the table's rows with the batch's primary keys (restricted to
//!   the batch's key range when the first key column is a BIGINT, so DuckDB skips row groups by
//!   their statistics) and is then inserted, keeping the last row per key when the batch may
//!   hold a key twice. Later batches replace earlier ones (also within one sync), all inside
//!   the open transaction, committed with the state.
//! * replace: rows go into a shadow table that replaces the stream's table in one transaction
//!   at finish, together with the stream's state; readers never see a partial table, and a
//!   killed load leaves the old table (its shadow is dropped by the next load).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use duckdb::Connection;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use abrs_protocol::{
    AirbyteStateMessage, ConfiguredAirbyteCatalog, ConfiguredAirbyteStream, DestinationSyncMode,
    MemberSpan, RecordRef, StateType,
};

use crate::batch_scan::{BATCH_SCAN, json_field};
use crate::cache::{DuckDbCache, Instance, STREAMS_TABLE};
use crate::columns::{ColumnBuffer, PushError, finish_primitive, finish_strings};
use crate::error::{CacheError, DuckdbContext, Result};
use crate::names::{ColumnNamer, normalize, quote_ident};
use crate::state::StateKey;
use crate::text_storage;
use crate::timing::{LoadTimings, thread_cpu_time};
use crate::types::SqlType;
use crate::worker::{MergeSql, Op, StreamSql, Worker, WorkerContext};

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
struct LoadColumn {
    name: String,
    ty: SqlType,
}

/// Resolves a record's keys to columns.
struct KeyIndex {
    /// Property name → column.
    exact: HashMap<Box<str>, usize>,
    /// Normalized property name → first column with that name (record keys are matched
    /// case-insensitively, like PyAirbyte's StreamRecord).
    normalized: HashMap<String, usize>,
    /// The key seen at each position of the previous records, and its column.
    by_position: Vec<(Box<str>, Option<usize>)>,
}

impl KeyIndex {
    fn lookup(&mut self, pos: usize, key: &str) -> Option<usize> {
        if let Some((k, col)) = self.by_position.get(pos)
            && same_key(k.as_bytes(), key.as_bytes())
        {
            return *col;
        }
        let col = self.exact.get(key).copied().or_else(|| {
            normalize(key)
                .ok()
                .and_then(|n| self.normalized.get(&n).copied())
        });
        if pos < 256 {
            let entry = (Box::<str>::from(key), col);
            if pos < self.by_position.len() {
                self.by_position[pos] = entry;
            } else if pos == self.by_position.len() {
                self.by_position.push(entry);
            }
        }
        col
    }
}

/// `a == b`, inlined for the short keys of records: a call to `memcmp` per key was 2.5% of
/// a load's CPU.
#[inline(always)]
fn same_key(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.len() > 16 {
        return a == b;
    }
    a.iter().zip(b).all(|(x, y)| x == y)
}

/// Where a value lies in the record's data text.
#[derive(Clone, Copy)]
struct Span {
    start: u32,
    len: u32,
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = std::borrow::Cow<'de, str>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = std::borrow::Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Owned(v.to_owned()))
    }
}

/// Walks the top-level object, recording where each column's value is.
struct DataVisitor<'a> {
    keys: &'a mut KeyIndex,
    spans: &'a mut [Option<Span>],
    base: usize,
}

impl<'de> Visitor<'de> for DataVisitor<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut pos = 0;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match self.keys.lookup(pos, &key) {
                Some(col) => {
                    let raw: &'de RawValue = map.next_value()?;
                    let text = raw.get();
                    // Last occurrence wins for duplicate keys, as in Python's json.
                    self.spans[col] = Some(Span {
                        start: (text.as_ptr() as usize).wrapping_sub(self.base) as u32,
                        len: text.len() as u32,
                    });
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            pos += 1;
        }
        Ok(())
    }
}

/// The fast path of [`DataVisitor`]: one pass over the top-level object, no validation
/// (`data` is a [`RawValue`], whose JSON the envelope's parse already checked) and no visitor
/// machinery. Returns `false`, with `spans` possibly half filled, on anything it does not
/// handle (not an object, a key with escapes): the caller then takes the serde path, which
/// gives the exact behaviour and errors. Measured: about 3× faster than the serde walk.
fn scan_object(data: &str, keys: &mut KeyIndex, spans: &mut [Option<Span>]) -> bool {
    let b = data.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return false;
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return true;
    }
    let mut pos = 0;
    loop {
        if b.get(i) != Some(&b'"') {
            return false;
        }
        let (key_end, escaped) = string_end(b, i);
        if escaped {
            return false;
        }
        // Between two quotes of the valid UTF-8 text `data`, so on character boundaries.
        let Some(key) = data.get(i + 1..key_end.saturating_sub(1)) else {
            return false;
        };
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return false;
        }
        i = skip_ws(b, i + 1);
        let end = value_end(b, i);
        if end <= i || end > b.len() {
            return false;
        }
        if let Some(col) = keys.lookup(pos, key) {
            // Last occurrence wins for duplicate keys, as in Python's json.
            spans[col] = Some(Span {
                start: i as u32,
                len: (end - i) as u32,
            });
        }
        pos += 1;
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => return true,
            _ => return false,
        }
    }
}

/// [`scan_object`]'s work already done by the line decoder: the columns' values from the
/// members it found while validating the line ([`RecordRef::members`]). `false` if a span does
/// not lie in `data` on character boundaries (a hand-made `RecordRef`), for the serde path to
/// decide, rather than a value silently read as NULL.
fn spans_from_members(
    data: &str,
    members: &[MemberSpan],
    keys: &mut KeyIndex,
    spans: &mut [Option<Span>],
) -> bool {
    for (pos, m) in members.iter().enumerate() {
        let Some(key) = data.get(m.key_start as usize..m.key_end as usize) else {
            return false;
        };
        if let Some(col) = keys.lookup(pos, key) {
            let value = data.get(m.value_start as usize..m.value_end as usize);
            if value.is_none_or(str::is_empty) {
                return false;
            }
            // Last occurrence wins for duplicate keys, as in Python's json.
            spans[col] = Some(Span {
                start: m.value_start,
                len: m.value_end - m.value_start,
            });
        }
    }
    true
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// The index after the closing quote of the string starting at `b[i] == '"'` (`b.len() + 1`
/// when unterminated, which the caller rejects), and whether the string has escapes.
fn string_end(b: &[u8], i: usize) -> (usize, bool) {
    let mut j = i + 1;
    let mut escaped = false;
    while let Some(k) = memchr::memchr2(b'"', b'\\', &b[j.min(b.len())..]) {
        let at = j + k;
        if b[at] == b'"' {
            return (at + 1, escaped);
        }
        escaped = true;
        j = at + 2;
    }
    (b.len() + 1, escaped)
}

/// The index after the JSON value starting at `i`.
fn value_end(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => string_end(b, i).0,
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j).0;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            b.len() + 1
        }
        Some(_) => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                j += 1;
            }
            j
        }
        None => i,
    }
}

/// Milliseconds since the Unix epoch, for the time part of raw ids.
///
/// Read once per record, so it uses the kernel's coarse real-time clock (updated every tick,
/// 1–4 ms, and several times cheaper to read than the precise one, which cost ~1.5% of a
/// load's CPU): UUIDv7 timestamps have millisecond resolution and only order ids roughly.
fn wall_clock_millis() -> u64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid out-pointer.
        if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) } == 0 {
            return (ts.tv_sec.max(0) as u64) * 1000 + (ts.tv_nsec.max(0) as u64) / 1_000_000;
        }
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Fast UUIDv7 strings: time from the clock, 74 random bits from a seeded splitmix64.
struct RawIdGen {
    state: u64,
    buf: [u8; 36],
}

impl RawIdGen {
    fn new() -> Self {
        let (a, b) = uuid::Uuid::new_v4().as_u64_pair();
        Self {
            state: a ^ b.rotate_left(17),
            buf: [0; 36],
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn next(&mut self, millis: u64) -> &str {
        let a = self.next_u64().to_le_bytes();
        let b = self.next_u64().to_le_bytes();
        let bytes = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], b[0], b[1]];
        let id = uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid();
        id.hyphenated().encode_lower(&mut self.buf)
    }
}

/// The loading state of one stream.
struct StreamLoader {
    name: String,
    table: String,
    method: WriteMethod,
    /// `"schema"."table"` of the stream's table.
    final_table: String,
    /// Where batches go: the table (append, merge) or the shadow table (replace).
    target: String,
    /// The shadow table's bare name (replace).
    shadow: Option<String>,
    columns: Vec<LoadColumn>,
    buffers: Vec<ColumnBuffer>,
    keys: KeyIndex,
    spans: Vec<Option<Span>>,
    raw_id: StringBuilder,
    extracted_at: TimestampMicrosecondBuilder,
    meta: StringBuilder,
    seq: Option<Int64Builder>,
    schema: SchemaRef,
    insert_sql: String,
    /// Merge: the statements that apply a batch.
    merge_sql: Option<MergeSql>,
    /// Merge: the primary key's data columns.
    pk_idx: Vec<usize>,
    /// Merge: the keys the table can hold, to skip deletes that cannot match.
    key_cover: KeyCover,
    rows: usize,
    records: u64,
    nulled: u64,
    /// The load created the target table and nothing is in it yet: its text columns' storage
    /// may still be chosen from the first batch (`text_storage`).
    fresh_table: bool,
}

/// Writes a connector's messages into a cache. Made by [`DuckDbCache::begin_load`].
///
/// Dropping a writer without [`CacheWriter::finish`] rolls back everything since the last
/// commit (as a crash would), keeping the data and state of the last commit.
pub struct CacheWriter {
    worker: Worker,
    _instance: Arc<Instance>,
    schema_name: String,
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
    /// DuckDB's JSON type exists in this build.
    json: bool,
    /// The database stores text with ZSTD (`text_storage`).
    zstd_text: bool,
}

impl DuckDbCache {
    /// Starts loading a sync of `source_name` with the streams of `catalog`.
    ///
    /// Creates (or evolves) each stream's table, registers the streams in `_airbyte_streams`
    /// with the real source name, and returns the writer to feed messages into.
    pub fn begin_load(
        &self,
        source_name: &str,
        catalog: &ConfiguredAirbyteCatalog,
        strategy: WriteStrategy,
        options: LoadOptions,
    ) -> Result<CacheWriter> {
        // Resolve everything that can fail on user input before touching the database.
        let mut plans = Vec::with_capacity(catalog.streams.len());
        for configured in &catalog.streams {
            let method = resolve_write_method(strategy, configured)?;
            plans.push((configured, method));
        }
        let (conn, instance) = self.new_connection()?;
        let json = instance.json_available;
        let batch_rows = options.batch_rows.max(1);
        conn.execute_batch("BEGIN TRANSACTION")
            .ctx(|| "starting the load".into())?;
        let mut streams = Vec::with_capacity(plans.len());
        let mut by_name = HashMap::new();
        for (configured, method) in plans {
            let loader =
                self.prepare_stream(&conn, json, source_name, configured, method, batch_rows);
            let loader = match loader {
                Ok(l) => l,
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(e);
                }
            };
            by_name.insert(loader.name.clone(), streams.len());
            streams.push(loader);
        }
        conn.execute_batch("COMMIT; BEGIN TRANSACTION")
            .ctx(|| "committing the tables of the load".into())?;
        let zstd_text = text_storage::zstd_available(&conn);
        let context = WorkerContext {
            schema_name: self.schema_name().to_string(),
            table_prefix: self.table_prefix().to_string(),
            source_name: source_name.to_string(),
            inserts: streams
                .iter()
                .map(|s| StreamSql {
                    insert: s.insert_sql.clone(),
                    target: s.target.clone(),
                    merge: s.merge_sql.clone(),
                })
                .collect(),
        };
        let mut restore_threads = None;
        if let Some(n) = options.duckdb_threads {
            // Restored by the worker when the load ends.
            let current: i64 = conn
                .query_row("SELECT current_setting('threads')::BIGINT", [], |r| {
                    r.get(0)
                })
                .ctx(|| "reading DuckDB's threads".into())?;
            conn.execute_batch(&format!("SET threads = {}", n.max(1)))
                .ctx(|| "setting DuckDB's threads for the load".into())?;
            restore_threads = Some(current);
        }
        let worker = Worker::start(conn, context, restore_threads, options.queue_bytes)?;
        Ok(CacheWriter {
            worker,
            _instance: instance,
            schema_name: self.schema_name().to_string(),
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
            json,
            zstd_text,
        })
    }

    fn prepare_stream(
        &self,
        conn: &Connection,
        json: bool,
        source_name: &str,
        configured: &ConfiguredAirbyteStream,
        method: WriteMethod,
        batch_rows: usize,
    ) -> Result<StreamLoader> {
        let stream = &configured.stream;
        let table = self.table_name(&stream.name)?;
        let final_table = self.qualified(&table);
        let shadow_name = format!("_abrs_shadow_{table}");
        let shadow_table = self.qualified(&shadow_name);

        // Columns from the declared schema, in schema order, collisions suffixed.
        let mut namer = ColumnNamer::new(INTERNAL_COLUMNS);
        let mut declared: Vec<(String, String, SqlType)> = Vec::new();
        if let Some(props) = stream
            .json_schema
            .get("properties")
            .and_then(Value::as_object)
        {
            for (prop, schema) in props {
                let col = namer.assign(prop)?;
                declared.push((prop.clone(), col, SqlType::from_json_schema(schema)));
            }
        }
        let internal = [
            (RAW_ID_COLUMN, SqlType::Varchar),
            (EXTRACTED_AT_COLUMN, SqlType::TimestampTz),
            (META_COLUMN, SqlType::Json),
        ];
        let ctx = |what: &str| format!("{what} table {table:?} of stream {:?}", stream.name);

        // Stale shadows of killed replace loads.
        conn.execute_batch(&format!("DROP TABLE IF EXISTS {shadow_table}"))
            .ctx(|| ctx("dropping the stale shadow of"))?;

        let exists = DuckDbCache::table_exists(conn, self.schema_name(), &table)?;
        let mut columns: Vec<LoadColumn> = Vec::new();
        let mut fresh_table = false;
        let all_declared = declared
            .iter()
            .map(|(_, c, t)| (c.as_str(), t.clone()))
            .chain(internal.iter().map(|(c, t)| (*c, t.clone())));
        if method == WriteMethod::Replace || !exists {
            let target = if method == WriteMethod::Replace {
                &shadow_table
            } else {
                &final_table
            };
            let mut ddl = Vec::new();
            for (col, ty) in all_declared {
                ddl.push(column_ddl(col, &ty, json, false));
                columns.push(LoadColumn {
                    name: col.to_string(),
                    ty,
                });
            }
            conn.execute_batch(&format!("CREATE TABLE {target} ({})", ddl.join(", ")))
                .ctx(|| ctx("creating"))?;
            fresh_table = true;
        } else {
            let existing: HashMap<String, SqlType> =
                DuckDbCache::table_columns(conn, self.schema_name(), &table)?
                    .into_iter()
                    .collect();
            for (col, ty) in all_declared {
                let effective = match existing.get(col) {
                    None => {
                        conn.execute_batch(&format!(
                            "ALTER TABLE {final_table} ADD COLUMN {} {}",
                            quote_ident(col),
                            ty.ddl(json)
                        ))
                        .ctx(|| ctx(&format!("adding column {col:?} to")))?;
                        ty
                    }
                    Some(old) => match old.widen_for(&ty) {
                        Some(wider) => {
                            conn.execute_batch(&format!(
                                "ALTER TABLE {final_table} ALTER COLUMN {} TYPE {}",
                                quote_ident(col),
                                wider.ddl(json)
                            ))
                            .ctx(|| ctx(&format!("widening column {col:?} of")))?;
                            wider
                        }
                        None => old.clone(),
                    },
                };
                columns.push(LoadColumn {
                    name: col.to_string(),
                    ty: effective,
                });
            }
        }
        // The JSON type may be missing in this DuckDB build: JSON data then lives in VARCHAR.
        for c in columns.iter_mut().filter(|_| !json) {
            if c.ty == SqlType::Varchar
                && let Some((_, _, SqlType::Json)) = declared.iter().find(|(_, n, _)| *n == c.name)
            {
                c.ty = SqlType::Json;
            }
        }
        if !json && let Some(c) = columns.iter_mut().find(|c| c.name == META_COLUMN) {
            c.ty = SqlType::Json;
        }

        // The data columns are the first `declared.len()`; the internal ones follow.
        let n_data = declared.len();
        let mut exact = HashMap::new();
        let mut normalized = HashMap::new();
        for (i, (prop, _, _)) in declared.iter().enumerate() {
            exact.insert(Box::<str>::from(prop.as_str()), i);
            if let Ok(n) = normalize(prop) {
                normalized.entry(n).or_insert(i);
            }
        }

        // Where the batches go. Merge streams write straight into the table: each batch first
        // deletes the rows its keys replace, then is inserted (deduplicated when it may hold a
        // key twice). This writes every row once, where a staging table wrote it twice and
        // held it in memory until the next merge.
        let (target, shadow, pk_idx) = match method {
            WriteMethod::Append => (final_table.clone(), None, Vec::new()),
            WriteMethod::Replace => (shadow_table.clone(), Some(shadow_name), Vec::new()),
            WriteMethod::Merge => {
                let mut pk_idx = Vec::new();
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
                            let n = normalize(field).ok()?;
                            declared.iter().position(|(_, c, _)| *c == n)
                        })
                        .ok_or_else(|| CacheError::UnknownPrimaryKey {
                            stream: stream.name.clone(),
                            field: field.clone(),
                        })?;
                    pk_idx.push(idx);
                }
                (final_table.clone(), None, pk_idx)
            }
        };

        // The insert statement and the Arrow schema of the batches.
        let mut fields = Vec::new();
        let mut names = Vec::new();
        let mut exprs = Vec::new();
        let mut buffers = Vec::new();
        for (i, c) in columns.iter().enumerate() {
            let buffer = ColumnBuffer::new(&c.ty, if i < n_data { batch_rows } else { 0 });
            let field_name = format!("c{i}");
            let mut field = Field::new(&field_name, buffer.data_type(), true);
            if json && c.ty == SqlType::Json {
                // Scanned as JSON: no cast (see `batch_scan`).
                field = json_field(field);
            }
            fields.push(field);
            names.push(quote_ident(&c.name));
            exprs.push(match &c.ty {
                SqlType::Other(t) => format!("TRY_CAST({field_name} AS {t})"),
                _ => field_name,
            });
            if i < n_data {
                buffers.push(buffer);
            }
        }
        // Merge batches carry their arrival order, so that the last record of a key wins.
        let seq = (method == WriteMethod::Merge).then(|| Int64Builder::with_capacity(batch_rows));
        if seq.is_some() {
            fields.push(Field::new("seq", arrow::datatypes::DataType::Int64, false));
        }
        let (names, exprs) = (names.join(", "), exprs.join(", "));
        let insert_sql =
            format!("INSERT INTO {target} ({names}) SELECT {exprs} FROM {BATCH_SCAN}(?)");
        let merge_sql = (method == WriteMethod::Merge).then(|| {
            let key_exprs: Vec<String> = pk_idx
                .iter()
                .map(|&i| match &columns[i].ty {
                    SqlType::Other(t) => format!("TRY_CAST(c{i} AS {t})"),
                    _ => format!("c{i}"),
                })
                .collect();
            let keys: Vec<String> = key_exprs
                .iter()
                .enumerate()
                .map(|(k, e)| format!("{e} AS k{k}"))
                .collect();
            let on: Vec<String> = pk_idx
                .iter()
                .enumerate()
                .map(|(k, &i)| {
                    format!(
                        "{}.{} IS NOT DISTINCT FROM _abrs_staged.k{k}",
                        quote_ident(&table),
                        quote_ident(&columns[i].name)
                    )
                })
                .collect();
            let delete = format!(
                "DELETE FROM {final_table} USING (SELECT {} FROM {BATCH_SCAN}(?)) AS _abrs_staged \
                 WHERE {}",
                keys.join(", "),
                on.join(" AND ")
            );
            // With the batch's key range spelled out, DuckDB skips the row groups whose
            // min/max statistics lie outside it instead of probing the whole table for every
            // batch (which made merges quadratic: 240k records/s at 5M records).
            let delete_in_range = format!(
                "{delete} AND {}.{} BETWEEN ? AND ?",
                quote_ident(&table),
                quote_ident(&columns[pk_idx[0]].name)
            );
            MergeSql {
                delete,
                delete_in_range,
                insert_dedup: format!(
                    "INSERT INTO {target} ({names}) SELECT {exprs} FROM {BATCH_SCAN}(?) \
                     QUALIFY row_number() OVER (PARTITION BY {} ORDER BY seq DESC) = 1",
                    key_exprs.join(", ")
                ),
            }
        });

        // Merge: the range of the first key column already in the table, when it is a BIGINT.
        let key_cover = match pk_idx.first() {
            Some(&k) if method == WriteMethod::Merge && columns[k].ty == SqlType::BigInt => {
                let sql = format!(
                    "SELECT min({c})::BIGINT, max({c})::BIGINT FROM {final_table}",
                    c = quote_ident(&columns[k].name)
                );
                match conn.query_row(&sql, [], |r| {
                    Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?))
                }) {
                    Ok((Some(lo), Some(hi))) => KeyCover::Range(lo, hi),
                    Ok(_) => KeyCover::Empty,
                    Err(_) => KeyCover::Unknown,
                }
            }
            _ => KeyCover::Unknown,
        };

        // Register the stream (PyAirbyte's table_name is prefix + stream name, unnormalized).
        conn.execute(
            &format!(
                "INSERT OR REPLACE INTO {} (stream_name, source_name, table_name, catalog_metadata) \
                 VALUES (?, ?, ?, ?)",
                self.qualified(STREAMS_TABLE)
            ),
            [
                stream.name.as_str(),
                source_name,
                &format!("{}{}", self.table_prefix(), stream.name),
                &stream.json_schema.to_string(),
            ],
        )
        .ctx(|| format!("registering stream {:?} in {STREAMS_TABLE}", stream.name))?;

        Ok(StreamLoader {
            name: stream.name.clone(),
            table,
            method,
            final_table,
            target,
            shadow,
            columns,
            buffers,
            keys: KeyIndex {
                exact,
                normalized,
                by_position: Vec::new(),
            },
            spans: vec![None; n_data],
            raw_id: StringBuilder::with_capacity(batch_rows, batch_rows * 36),
            extracted_at: TimestampMicrosecondBuilder::with_capacity(batch_rows)
                .with_timezone("UTC"),
            meta: StringBuilder::with_capacity(batch_rows, batch_rows * EMPTY_META.len()),
            seq,
            schema: Arc::new(Schema::new(fields)),
            insert_sql,
            merge_sql,
            pk_idx,
            key_cover,
            rows: 0,
            records: 0,
            nulled: 0,
            fresh_table,
        })
    }
}

/// A column's definition in `CREATE TABLE`.
fn column_ddl(name: &str, ty: &SqlType, json: bool, zstd: bool) -> String {
    // Raw ids are random: DuckDB's string compression (dictionary analysis, FSST) shrinks them
    // only 2.4× at a cost of ~15% of a load's database CPU. Stored plainly, the cache file is
    // ~35% larger and still ~30% smaller than PyAirbyte's (docs/PERFORMANCE.md).
    let storage = if name == RAW_ID_COLUMN {
        " USING COMPRESSION uncompressed"
    } else if zstd {
        " USING COMPRESSION zstd"
    } else {
        ""
    };
    format!("{} {}{storage}", quote_ident(name), ty.ddl(json))
}

impl StreamLoader {
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

    /// The SQL that re-creates the (still empty) target table with ZSTD for the text columns
    /// that `batch`, its first, shows to be long and nearly unique; `None` when there is none.
    fn recreate_for_text(&self, batch: &RecordBatch, json: bool) -> Option<String> {
        use arrow::array::AsArray;
        let n_data = self.buffers.len();
        let mut any = false;
        let ddl: Vec<String> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let zstd = i < n_data
                    && matches!(c.ty, SqlType::Varchar | SqlType::Json)
                    && batch
                        .columns()
                        .get(i)
                        .and_then(|a| a.as_string_opt::<i32>())
                        .is_some_and(text_storage::prefers_zstd);
                any |= zstd;
                column_ddl(&c.name, &c.ty, json, zstd)
            })
            .collect();
        any.then(|| {
            format!(
                "DROP TABLE {t}; CREATE TABLE {t} ({})",
                ddl.join(", "),
                t = self.target
            )
        })
    }
}

impl CacheWriter {
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

    /// Makes numeric columns VARCHAR so that no digit of a value is lost: the tables are
    /// altered (existing values become their text) before the stream's next batch.
    fn widen_to_text(&mut self, idx: usize, columns: &[usize]) -> Result<()> {
        let loader = &mut self.streams[idx];
        let targets = [loader.target.clone()];
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
                "a number has more digits than DOUBLE/BIGINT keeps: the column becomes VARCHAR"
            );
            column.ty = SqlType::Varchar;
            if let Some(f) = fields.get_mut(i) {
                *f = Field::new(f.name(), arrow::datatypes::DataType::Utf8, true);
            }
            for target in &targets {
                let sql = format!(
                    "ALTER TABLE {target} ALTER COLUMN {} TYPE VARCHAR",
                    quote_ident(&column.name)
                );
                let what = format!("widening column {:?} of {target} to VARCHAR", column.name);
                self.worker.send(Op::Execute { sql, what })?;
            }
        }
        loader.schema = Arc::new(Schema::new(fields));
        Ok(())
    }

    /// Sends a stream's buffered rows to the database worker.
    fn flush(&mut self, idx: usize) -> Result<()> {
        let loader = &mut self.streams[idx];
        if let Some((rows, batch)) = loader.take_batch()? {
            if std::mem::take(&mut loader.fresh_table)
                && self.zstd_text
                && let Some(sql) = loader.recreate_for_text(&batch, self.json)
            {
                let what = format!("choosing the text storage of {}", loader.target);
                self.worker.send(Op::Execute { sql, what })?;
            }
            let merge = loader.merge_sql.is_some();
            let distinct_keys = merge && keys_distinct(&batch, &loader.pk_idx);
            let key_range = if merge {
                key_range(&batch, &loader.pk_idx)
            } else {
                None
            };
            let skip_delete = merge && loader.key_cover.admit(key_range);
            let bytes = batch.get_array_memory_size();
            self.worker.send(Op::Insert {
                bytes,
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
    /// the next transaction (all queued to the worker, in order).
    fn commit(&mut self) -> Result<()> {
        for idx in 0..self.streams.len() {
            self.flush(idx)?;
        }
        let states = std::mem::take(&mut self.pending).into_values().collect();
        self.worker.send(Op::Commit {
            sql: Vec::new(),
            states,
            begin_after: true,
        })?;
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
        let mut sql = Vec::new();
        for s in &self.streams {
            if let Some(shadow) = &s.shadow {
                sql.push((
                    format!(
                        "DROP TABLE IF EXISTS {final_table}; ALTER TABLE {schema}.{shadow} RENAME TO {table};",
                        final_table = s.final_table,
                        schema = quote_ident(&self.schema_name),
                        shadow = quote_ident(shadow),
                        table = quote_ident(&s.table),
                    ),
                    format!("replacing table {:?} with the newly loaded data", s.table),
                ));
            }
        }
        let states = std::mem::take(&mut self.deferred).into_values().collect();
        let r = self.worker.send(Op::Commit {
            sql,
            states,
            begin_after: false,
        });
        self.poison_on_err(r)?;
        let r = self.worker.close();
        self.poison_on_err(r)?;
        self.commits += 1;
        let worker = self.worker.times();
        let timings = LoadTimings {
            parse_cpu: thread_cpu_time()
                .zip(self.cpu_start)
                .map(|(end, start)| end.saturating_sub(start)),
            waited_for_database: self.worker.waited,
            insert: worker.insert,
            commit: worker.commit,
            database_cpu: worker.cpu,
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

/// Which values of a merge stream's first key column (a BIGINT) the table can hold: the range
/// it held when the load began, widened by every batch since. A batch whose keys lie outside it
/// replaces nothing, so its DELETE is skipped: for keys that only grow (ids, cursors), merges
/// then cost what appends cost (measured: the DELETEs were ~15% of a 1M-record merge's database
/// CPU, probing the transaction's own new rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyCover {
    /// Not tracked (not a BIGINT, NULL keys, a widened column): always delete.
    Unknown,
    /// No key yet.
    Empty,
    /// Every key lies within these bounds.
    Range(i64, i64),
}

impl KeyCover {
    /// Records a batch with first-key range `range` (None: untracked keys) and says whether
    /// its DELETE can be skipped.
    fn admit(&mut self, range: Option<(i64, i64)>) -> bool {
        let Some((lo, hi)) = range else {
            *self = Self::Unknown;
            return false;
        };
        match *self {
            Self::Unknown => false,
            Self::Empty => {
                *self = Self::Range(lo, hi);
                true
            }
            Self::Range(a, b) => {
                *self = Self::Range(a.min(lo), b.max(hi));
                hi < a || lo > b
            }
        }
    }
}

/// Whether the primary keys of a merge batch are certainly all different, so that the batch
/// can be inserted without deduplication. Keys are compared as the values the table receives
/// (hashes of typed values; a hash collision or a key type not handled here only costs the
/// deduplicating insert).
fn keys_distinct(batch: &RecordBatch, pk_idx: &[usize]) -> bool {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{DataType, Int64Type};
    use std::hash::{BuildHasher, Hasher};

    let columns: Vec<&ArrayRef> = pk_idx.iter().map(|&i| batch.column(i)).collect();
    if columns.is_empty()
        || columns
            .iter()
            .any(|c| !matches!(c.data_type(), DataType::Int64 | DataType::Utf8))
    {
        return false;
    }
    let state = std::hash::RandomState::new();
    let mut seen = std::collections::HashSet::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let mut h = state.build_hasher();
        for c in &columns {
            if c.is_null(row) {
                h.write_u8(0);
            } else if let Some(ints) = c.as_primitive_opt::<Int64Type>() {
                h.write_u8(1);
                h.write_i64(ints.value(row));
            } else {
                h.write_u8(2);
                h.write(c.as_string::<i32>().value(row).as_bytes());
                h.write_u8(0xff);
            }
        }
        if !seen.insert(h.finish()) {
            return false;
        }
    }
    true
}

/// The smallest and largest first key column value of a merge batch, when that column is a
/// BIGINT without NULLs.
fn key_range(batch: &RecordBatch, pk_idx: &[usize]) -> Option<(i64, i64)> {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int64Type;
    let keys = batch
        .column(*pk_idx.first()?)
        .as_primitive_opt::<Int64Type>()?;
    if keys.null_count() > 0 {
        return None;
    }
    Some((arrow::compute::min(keys)?, arrow::compute::max(keys)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_index(names: &[&str]) -> KeyIndex {
        KeyIndex {
            exact: names
                .iter()
                .enumerate()
                .map(|(i, n)| (Box::<str>::from(*n), i))
                .collect(),
            normalized: HashMap::new(),
            by_position: Vec::new(),
        }
    }

    #[derive(Clone, Copy)]
    enum Walk {
        /// The line decoder's members of `data` (`decode_line_with`).
        Members,
        /// The loader's own fast scan.
        Scan,
        /// serde, which decides whatever the others decline.
        Serde,
    }

    /// The values (as text) each column gets by one way of walking `data`; `None` when that
    /// way declines.
    fn spans_of(data: &str, walk: Walk) -> Option<Vec<Option<String>>> {
        let mut keys = key_index(&["a", "b", "c"]);
        let mut spans = vec![None; 3];
        if let Walk::Members = walk {
            let line = format!(r#"{{"type":"RECORD","record":{{"stream":"s","data":{data}}}}}"#);
            let mut members = Vec::new();
            let Ok(abrs_protocol::Decoded::Record(r)) =
                abrs_protocol::decode_line_with(line.as_bytes(), &mut members)
            else {
                return None;
            };
            let data = r.data.get();
            if !spans_from_members(data, r.members?, &mut keys, &mut spans) {
                return None;
            }
            return Some(
                spans
                    .iter()
                    .map(|s| {
                        s.map(|s| data[s.start as usize..(s.start + s.len) as usize].to_string())
                    })
                    .collect(),
            );
        }
        if let Walk::Scan = walk {
            if !scan_object(data, &mut keys, &mut spans) {
                return None;
            }
        } else {
            let visitor = DataVisitor {
                keys: &mut keys,
                spans: &mut spans,
                base: data.as_ptr() as usize,
            };
            let mut de = serde_json::Deserializer::from_str(data);
            serde::Deserializer::deserialize_map(&mut de, visitor).ok()?;
        }
        Some(
            spans
                .iter()
                .map(|s| s.map(|s| data[s.start as usize..(s.start + s.len) as usize].to_string()))
                .collect(),
        )
    }

    #[test]
    fn members_that_do_not_fit_data_are_declined() {
        // A hand-made `RecordRef` may carry any spans: they are checked, never trusted to index.
        let data = r#"{"a":1,"é":2}"#;
        let member = |key_start, key_end, value_start, value_end| MemberSpan {
            key_start,
            key_end,
            value_start,
            value_end,
        };
        for bad in [
            member(2, 99, 5, 6),   // key past the end
            member(9, 10, 12, 13), // key inside a multi-byte character
            member(2, 3, 5, 99),   // value past the end
            member(2, 3, 6, 5),    // value ends before it starts
            member(2, 3, 9, 12),   // value starts inside a multi-byte character
        ] {
            let mut keys = key_index(&["a", "b", "c"]);
            let mut spans = vec![None; 3];
            assert!(
                !spans_from_members(data, &[bad], &mut keys, &mut spans),
                "{bad:?}"
            );
        }
        let mut keys = key_index(&["a", "b", "c"]);
        let mut spans = vec![None; 3];
        assert!(spans_from_members(
            data,
            &[member(2, 3, 5, 6)],
            &mut keys,
            &mut spans
        ));
        assert!(matches!(spans[0], Some(Span { start: 5, len: 1 })));
    }

    #[test]
    fn coarse_clock_tells_the_time() {
        let precise = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let coarse = wall_clock_millis() as i64;
        assert!((coarse - precise).abs() < 1000, "{coarse} vs {precise}");
    }

    #[test]
    fn key_cover_skips_only_disjoint_batches() {
        let mut c = KeyCover::Empty;
        assert!(c.admit(Some((10, 20))));
        assert!(c.admit(Some((21, 30))));
        assert!(c.admit(Some((-5, 9))));
        assert!(!c.admit(Some((30, 40))), "touches the last key");
        assert_eq!(c, KeyCover::Range(-5, 40));
        assert!(!c.admit(Some((0, 1))));
        assert!(!c.admit(None), "untracked keys end tracking");
        assert!(!c.admit(Some((100, 200))));
        let mut existing = KeyCover::Range(100, 200);
        assert!(!existing.admit(Some((150, 150))));
        assert!(existing.admit(Some((201, 300))));
    }

    #[test]
    fn fast_walks_match_the_serde_walk() {
        for data in [
            r#"{"a":1,"b":"x","c":null}"#,
            r#" { "a" : -1.5e3 , "b" : "q\"}]" , "z": {"a":[1,{"b":"]"}]}, "c": [ ] } "#,
            r#"{"c":{"x":"\\"},"a":true,"a":false}"#,
            r#"{}"#,
            r#"{"b":"ünï\u00e9","zz":[[],[{}]],"c":"a,b}"}"#,
        ] {
            let serde = spans_of(data, Walk::Serde);
            assert_eq!(spans_of(data, Walk::Scan), serde, "{data}");
            assert_eq!(spans_of(data, Walk::Members), serde, "{data}");
        }
        // Declined (the serde path handles them): not an object, a key with escapes.
        for data in [r#"[1,2]"#, r#""a""#, r#"{"\u0061":1}"#] {
            assert_eq!(spans_of(data, Walk::Scan), None, "{data}");
            assert_eq!(spans_of(data, Walk::Members), None, "{data}");
        }
    }
}
