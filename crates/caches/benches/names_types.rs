//! The per-name and per-value work of the loader: name normalization, JSON schema → SQL type,
//! and the text parsers for dates and date-times.
//! `cargo bench -p abrs-caches --bench names_types`.

use std::hint::black_box;

use abrs_caches::SqlType;
use abrs_caches::names::normalize;
use abrs_caches::types::{parse_date, parse_timestamp_micros};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;

const NAMES: &[&str] = &[
    "id",
    "Name",
    "contact.email",
    "Hello World!",
    "sales (%)",
    "1st col",
    "Ünïcode Näme",
    "CamelCaseStreamName",
    "___x___",
    "some-field_with.MANY parts",
];

const TIMESTAMPS: &[&str] = &[
    "2024-01-01T00:01:00Z",
    "2023-02-02T08:30:00.123+02:00",
    "2023-02-02 08:30:00.123456",
    "2021-12-31T23:59:59.999999-05:30",
];

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("names_types");
    group.throughput(Throughput::Elements(NAMES.len() as u64));
    group.bench_function("normalize", |b| {
        b.iter(|| {
            for name in NAMES {
                let _ = black_box(normalize(black_box(name)));
            }
        })
    });

    let schemas = [
        json!({"type": "integer"}),
        json!({"type": ["null", "string"], "format": "date-time"}),
        json!({"type": "string", "format": "date"}),
        json!({"type": "number"}),
        json!({"type": ["null", "object"], "properties": {"a": {"type": "string"}}}),
        json!({"type": "array", "items": {"type": "string"}}),
        json!({"type": ["string", "object"]}),
        json!({"type": "string", "airbyte_type": "timestamp_without_timezone"}),
    ];
    group.throughput(Throughput::Elements(schemas.len() as u64));
    group.bench_function("sql_type_from_json_schema", |b| {
        b.iter(|| {
            for schema in &schemas {
                black_box(SqlType::from_json_schema(black_box(schema)));
            }
        })
    });

    group.throughput(Throughput::Elements(TIMESTAMPS.len() as u64));
    group.bench_function("parse_timestamp", |b| {
        b.iter(|| {
            for text in TIMESTAMPS {
                black_box(parse_timestamp_micros(black_box(text)));
            }
        })
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse_date", |b| {
        b.iter(|| black_box(parse_date(black_box("1951-02-02"))))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
