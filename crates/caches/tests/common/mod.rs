//! Helpers for the cache integration tests: catalogs, protocol lines, queries.
#![allow(dead_code)]

use abrs_caches::arrow::array::{Array, AsArray};
use abrs_caches::arrow::datatypes::DataType;
use abrs_caches::{CacheWriter, DuckDbCache, LoadOptions, LoadSummary, WriteStrategy};
use abrs_protocol::{
    AirbyteStream, ConfiguredAirbyteCatalog, ConfiguredAirbyteStream, Decoded, DestinationSyncMode,
    SyncMode, decode_line_with,
};
use serde_json::{Value, json};

/// A configured stream.
pub fn stream(
    name: &str,
    schema: Value,
    pk: &[&str],
    cursor: Option<&str>,
) -> ConfiguredAirbyteStream {
    let mut s = AirbyteStream::new(
        name,
        schema,
        vec![SyncMode::FullRefresh, SyncMode::Incremental],
    );
    if !pk.is_empty() {
        s.source_defined_primary_key = Some(pk.iter().map(|k| vec![k.to_string()]).collect());
    }
    ConfiguredAirbyteStream {
        stream: s,
        sync_mode: if cursor.is_some() {
            SyncMode::Incremental
        } else {
            SyncMode::FullRefresh
        },
        cursor_field: cursor.map(|c| vec![c.to_string()]),
        destination_sync_mode: DestinationSyncMode::Append,
        primary_key: None,
        generation_id: None,
        minimum_generation_id: None,
        sync_id: None,
        extra: Default::default(),
    }
}

pub fn catalog(streams: Vec<ConfiguredAirbyteStream>) -> ConfiguredAirbyteCatalog {
    ConfiguredAirbyteCatalog {
        streams,
        extra: Default::default(),
    }
}

/// The users schema used by many tests.
pub fn users_schema() -> Value {
    json!({"type": "object", "properties": {
        "id": {"type": "integer"},
        "name": {"type": ["null", "string"]},
    }})
}

pub fn record_line(stream: &str, data: Value) -> String {
    json!({"type": "RECORD", "record": {"stream": stream, "data": data, "emitted_at": 1_700_000_000_000i64}})
        .to_string()
}

pub fn stream_state_line(stream: &str, state: Value) -> String {
    json!({"type": "STATE", "state": {"type": "STREAM", "stream": {
        "stream_descriptor": {"name": stream}, "stream_state": state}}})
    .to_string()
}

/// Options that commit at every state message.
pub fn eager() -> LoadOptions {
    LoadOptions {
        commit_interval: std::time::Duration::ZERO,
        batch_rows: 7,
        ..Default::default()
    }
}

/// Feeds protocol lines through the real decoder into a writer, as a connector run does
/// (with the members of each record's `data` found by the decoder).
pub fn feed(writer: &mut CacheWriter, lines: &[String]) {
    let mut members = Vec::new();
    for line in lines {
        match decode_line_with(line.as_bytes(), &mut members).expect("valid line") {
            Decoded::Record(r) => writer.record(&r).expect("record accepted"),
            Decoded::Message(m) => {
                if let Some(s) = &m.state {
                    writer.state(s).expect("state accepted");
                }
            }
            Decoded::Blank => {}
        }
    }
}

/// One whole load.
pub fn load(
    cache: &DuckDbCache,
    catalog: &ConfiguredAirbyteCatalog,
    strategy: WriteStrategy,
    lines: &[String],
) -> LoadSummary {
    let mut w = cache
        .begin_load("source-test", catalog, strategy, eager())
        .expect("begin");
    feed(&mut w, lines);
    w.finish().expect("finish")
}

pub fn scalar_i64(cache: &DuckDbCache, sql: &str) -> i64 {
    let batches = cache.query(sql).expect("query");
    let col = batches[0].column(0);
    let col = abrs_caches::arrow::compute::cast(col, &DataType::Int64).expect("cast");
    col.as_primitive::<abrs_caches::arrow::datatypes::Int64Type>()
        .value(0)
}

/// The first column of a query as text (NULL → None).
pub fn strings(cache: &DuckDbCache, sql: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for b in cache.query(sql).expect("query") {
        let col = abrs_caches::arrow::compute::cast(b.column(0), &DataType::Utf8).expect("cast");
        let col = col.as_string::<i32>();
        for i in 0..col.len() {
            out.push((!col.is_null(i)).then(|| col.value(i).to_string()));
        }
    }
    out
}

pub fn temp_cache() -> (tempfile::TempDir, DuckDbCache) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = DuckDbCache::new(dir.path().join("cache.duckdb"));
    (dir, cache)
}
