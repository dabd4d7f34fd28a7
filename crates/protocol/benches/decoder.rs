//! Line decoder throughput: `decode_line` on RECORD lines shaped like the bench kit's
//! (`gen_records.py`: 11 fields, nested object, array, nullable fields, ~440 bytes), and on STATE
//! and LOG lines (parsed fully). `decode_message` (RECORD data parsed into an owned `Value`)
//! is measured too, for comparison with the borrowed fast path, and so is `record_serde`: RECORD
//! lines through the serde envelope alone, the path the hand-written scanner short-cuts.

use std::hint::black_box;

use abrs_protocol::{Decoded, decode_line, decode_line_serde, decode_message};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;

const N: usize = 10_000;

const FIRST: [&str; 5] = ["Ada", "Linus", "Grace", "Alan", "Barbara"];
const LAST: [&str; 5] = ["Lovelace", "Torvalds", "Hopper", "Turing", "Liskov"];

fn record_lines() -> Vec<String> {
    (1..=N)
        .map(|i| {
            let (first, last) = (FIRST[i % 5], LAST[(i / 5) % 5]);
            let tags = ["alpha", "beta", "gamma"][..i % 4].to_vec();
            json!({"type": "RECORD", "record": {"stream": "bench", "data": {
                "id": i,
                "name": format!("{first} {last}"),
                "email": format!("{}.{}{i}@example.com", first.to_lowercase(), last.to_lowercase()),
                "age": if i % 20 == 0 { None } else { Some(18 + i % 72) },
                "score": (i * 7919 % 10_000_000) as f64 / 10_000.0,
                "active": i % 10 < 7,
                "created_at": format!("2024-{:02}-{:02}T{:02}:{:02}:{:02}+00:00",
                    1 + i % 12, 1 + i % 28, i % 24, i % 60, (i * 7) % 60),
                "birth_date": format!("{}-{:02}-{:02}", 1940 + i % 66, 1 + i % 12, 1 + i % 28),
                "tags": tags,
                "address": {"street": format!("{} Main St", 1 + i % 999), "city": "Paris",
                    "zip": format!("{}", 10_000 + i % 90_000),
                    "geo": {"lat": (i % 180) as f64 - 89.12345, "lon": (i % 360) as f64 - 179.54321}},
                "note": if i % 5 == 0 { Some("some free text note") } else { None },
            }, "emitted_at": 1_700_000_000_000u64 + i as u64}})
            .to_string()
        })
        .collect()
}

fn state_lines() -> Vec<String> {
    (1..=N)
        .map(|i| {
            json!({"type": "STATE", "state": {"type": "STREAM", "stream": {
                "stream_descriptor": {"name": "bench"}, "stream_state": {"cursor": i, "updated_at": "2024-05-17T12:34:56+00:00"}},
                "sourceStats": {"recordCount": 100_000.0}}})
            .to_string()
        })
        .collect()
}

fn log_lines() -> Vec<String> {
    (1..=N)
        .map(|i| {
            json!({"type": "LOG", "log": {"level": "INFO",
                "message": format!("Read {i} records from stream bench, page {}", i / 100)}})
            .to_string()
        })
        .collect()
}

fn bytes(lines: &[String]) -> u64 {
    lines.iter().map(|l| l.len() as u64 + 1).sum()
}

fn bench(c: &mut Criterion) {
    let records = record_lines();
    let states = state_lines();
    let logs = log_lines();
    let mut group = c.benchmark_group("decode_line");

    group.throughput(Throughput::Bytes(bytes(&records)));
    // The scanner path, and the serde path it falls back to (and must agree with).
    type Decode = for<'a> fn(&'a [u8]) -> Result<Decoded<'a>, abrs_protocol::DecodeError>;
    for (name, decode) in [
        ("record", decode_line as Decode),
        ("record_serde", decode_line_serde as Decode),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut n = 0usize;
                for line in &records {
                    if let Ok(Decoded::Record(r)) = decode(black_box(line.as_bytes())) {
                        n += r.data.get().len();
                    }
                }
                black_box(n)
            })
        });
    }
    group.bench_function("record_owned", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for line in &records {
                if let Ok(Some(m)) = decode_message(black_box(line.as_bytes())) {
                    n += m.record.map_or(0, |r| r.data.len());
                }
            }
            black_box(n)
        })
    });

    group.throughput(Throughput::Bytes(bytes(&states)));
    group.bench_function("state", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for line in &states {
                if let Ok(Decoded::Message(m)) = decode_line(black_box(line.as_bytes())) {
                    n += usize::from(m.state.is_some());
                }
            }
            black_box(n)
        })
    });

    group.throughput(Throughput::Bytes(bytes(&logs)));
    group.bench_function("log", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for line in &logs {
                if let Ok(Decoded::Message(m)) = decode_line(black_box(line.as_bytes())) {
                    n += usize::from(m.log.is_some());
                }
            }
            black_box(n)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
