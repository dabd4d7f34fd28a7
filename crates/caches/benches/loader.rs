//! Loader throughput: bench-like records (11 fields, nested object, array, date-time, date)
//! parsed and appended into a DuckDB file.

use std::hint::black_box;

use abrs_caches::{DuckDbCache, LoadOptions, WriteStrategy};
use abrs_protocol::{
    AirbyteStream, ConfiguredAirbyteCatalog, ConfiguredAirbyteStream, Decoded, DestinationSyncMode,
    SyncMode, decode_line_with,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;

const N: usize = 50_000;

fn lines() -> Vec<String> {
    (0..N)
        .map(|i| {
            json!({"type": "RECORD", "record": {"stream": "bench", "emitted_at": 1_700_000_000_000i64 + i as i64,
                "data": {"id": i, "name": "Ada Lovelace", "email": format!("ada{i}@example.com"),
                    "age": if i % 20 == 0 { None } else { Some(i % 70 + 18) }, "score": 123.4567 + i as f64,
                    "active": i % 3 != 0, "created_at": "2024-05-17T12:34:56+00:00", "birth_date": "1985-03-02",
                    "tags": ["a", "b"], "address": {"street": "1 Main St", "city": "Paris", "zip": "75001",
                    "geo": {"lat": 48.85661, "lon": 2.35222}}, "note": null}}})
            .to_string()
        })
        .collect()
}

fn catalog() -> ConfiguredAirbyteCatalog {
    let schema = json!({"type": "object", "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": ["null", "string"]},
        "age": {"type": ["null", "integer"]}, "score": {"type": "number"}, "active": {"type": "boolean"},
        "created_at": {"type": "string", "format": "date-time", "airbyte_type": "timestamp_with_timezone"},
        "birth_date": {"type": "string", "format": "date"}, "tags": {"type": "array"},
        "address": {"type": "object"}, "note": {"type": ["null", "string"]}}});
    let mut stream = AirbyteStream::new("bench", schema, vec![SyncMode::FullRefresh]);
    stream.source_defined_primary_key = Some(vec![vec!["id".into()]]);
    ConfiguredAirbyteCatalog {
        streams: vec![ConfiguredAirbyteStream {
            stream,
            sync_mode: SyncMode::FullRefresh,
            cursor_field: None,
            destination_sync_mode: DestinationSyncMode::Append,
            primary_key: None,
            generation_id: None,
            minimum_generation_id: None,
            sync_id: None,
            extra: Default::default(),
        }],
        extra: Default::default(),
    }
}

fn bench(c: &mut Criterion) {
    let lines = lines();
    let catalog = catalog();
    let mut group = c.benchmark_group("loader");
    group.sample_size(10);
    group.throughput(Throughput::Elements(N as u64));
    for strategy in [
        WriteStrategy::Append,
        WriteStrategy::Merge,
        WriteStrategy::Replace,
    ] {
        group.bench_function(format!("{strategy}_{N}"), |b| {
            b.iter(|| {
                let dir = tempfile::tempdir().expect("tempdir");
                let cache = DuckDbCache::new(dir.path().join("bench.duckdb"));
                let mut w = cache
                    .begin_load("source-bench", &catalog, strategy, LoadOptions::default())
                    .expect("begin");
                let mut members = Vec::new();
                for line in &lines {
                    if let Ok(Decoded::Record(r)) = decode_line_with(line.as_bytes(), &mut members)
                    {
                        w.record(&r).expect("record");
                    }
                }
                black_box(w.finish().expect("finish"));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
