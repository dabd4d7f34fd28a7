//! Replaying cached streams as RECORD lines: loaded through the real loader, replayed, parsed
//! back, compared with what the source sent.

mod common;

use std::collections::BTreeMap;

use abrs_caches::{CacheError, DuckDbCache, ReplayOptions, ReplaySummary, WriteStrategy};
use abrs_protocol::{AirbyteMessage, Decoded, MessageType, decode_line};
use chrono::{DateTime, NaiveDateTime, NaiveTime};
use common::*;
use serde_json::{Map, Value, json};

fn line(stream: &str, data: Value, emitted_at: i64) -> String {
    json!({"type": "RECORD", "record": {"stream": stream, "data": data, "emitted_at": emitted_at}})
        .to_string()
}

fn replay(cache: &DuckDbCache, stream: &str, after: Option<&str>) -> (ReplaySummary, Vec<Value>) {
    let mut out = Vec::new();
    let options = ReplayOptions {
        after_raw_id: after.map(str::to_string),
        ..Default::default()
    };
    let summary = cache.replay_stream(stream, &options, &mut out).unwrap();
    assert_eq!(summary.bytes, out.len() as u64);
    let text = String::from_utf8(out).expect("UTF-8 output");
    let lines: Vec<Value> = text
        .split_terminator('\n')
        .map(|l| {
            // Every line is an Airbyte RECORD for the protocol types and our own decoder.
            let m: AirbyteMessage = serde_json::from_str(l).expect("an Airbyte message");
            assert_eq!(m.r#type, MessageType::Record, "{l}");
            assert!(
                matches!(decode_line(l.as_bytes()), Ok(Decoded::Record(_))),
                "decoder rejects {l}"
            );
            serde_json::from_str(l).expect("JSON line")
        })
        .collect();
    assert_eq!(summary.records, lines.len() as u64);
    (summary, lines)
}

fn typed_schema() -> Value {
    json!({"type": "object", "properties": {
        "id": {"type": "integer"},
        "My Field": {"type": ["null", "string"]},
        "my_field": {"type": ["null", "integer"]},
        "UPPER": {"type": ["null", "string"]},
        "score": {"type": ["null", "number"]},
        "whole": {"type": ["null", "number"]},
        "int_like": {"type": ["null", "number"], "airbyte_type": "integer"},
        "flag": {"type": ["null", "boolean"]},
        "created": {"type": ["null", "string"], "format": "date-time"},
        "naive": {"type": ["null", "string"], "format": "date-time",
                  "airbyte_type": "timestamp_without_timezone"},
        "day": {"type": ["null", "string"], "format": "date"},
        "at": {"type": ["null", "string"], "format": "time"},
        "nested": {"type": ["null", "object"]},
        "list": {"type": ["null", "array"]},
        "mixed": {"type": ["null", "string", "object"]},
        "big": {"type": ["null", "number"]},
        "bigint": {"type": ["null", "integer"]},
        "text": {"type": ["null", "string"]},
        "_airbyte_raw_id": {"type": ["null", "string"]},
    }})
}

fn typed_records() -> Vec<Value> {
    vec![
        json!({"id": 1, "My Field": "a", "my_field": 10, "UPPER": "X", "score": 0.25, "whole": 3,
               "int_like": 7, "flag": true, "created": "2024-01-01T01:00:01+01:00",
               "naive": "2024-01-01T00:00:01", "day": "2024-02-29", "at": "10:11:12",
               "nested": {"A": {"b": [1, "two", null]}, "k y": "v", "deep": {"x": 1.5}},
               "list": [1, 2.5, "x", {"o": true}, [], null], "mixed": "plain", "big": 1.5,
               "bigint": 5, "text": "quote \" backslash \\ newline \n tab \t nul-ish \u{1} \
                                     sep \u{2028} para \u{2029} emoji 🦀 日本語",
               "_airbyte_raw_id": "the source's own field"}),
        json!({"id": 2, "My Field": null, "score": -1e-12, "whole": 1e30, "flag": false,
               "created": "2024-06-30T23:59:59.123456Z", "naive": "1999-12-31 23:59:59.5",
               "day": "1969-12-31", "at": "23:59:59.250", "nested": {}, "list": [],
               "mixed": {"k": [1, {"z": null}]}, "big": 1e30,
               "bigint": 123_456_789_012_345_678i64,
               "text": "ends with backslash \\"}),
        json!({"id": 3, "created": "2024-01-01T00:00:00-05:30", "text": ""}),
        // Digits a DOUBLE or a BIGINT would lose: the columns become VARCHAR, nothing is lost.
        json!({"id": 4, "big": 0.123_456_789_012_345_68, "UPPER": "Ünïcode ‘quotes’"}),
        // Text in a number column that became VARCHAR: kept, as a string.
        json!({"id": 5, "big": "not a number, kept as text"}),
    ]
}

/// Big numbers need their exact text, which `json!` cannot carry: spliced into the lines.
const BIG_DOUBLE: &str = "0.1234567890123456789";
const BIG_INT: &str = "123456789012345678901234567890";

fn typed_lines() -> Vec<String> {
    let mut lines: Vec<String> = typed_records()
        .into_iter()
        .enumerate()
        .map(|(i, r)| line("Typed Stream", r, 1_700_000_000_123 + i as i64))
        .collect();
    lines[3] = lines[3].replace("0.12345678901234568", BIG_DOUBLE);
    lines.push(format!(
        r#"{{"type":"RECORD","record":{{"stream":"Typed Stream","emitted_at":1700000000999,"data":{{"id":6,"bigint":{BIG_INT},"big":{BIG_INT}}}}}}}"#
    ));
    lines
}

/// Whether two values of one field mean the same, given the field's schema.
fn same(schema: &Value, a: &Value, b: &Value) -> bool {
    let format = schema.get("format").and_then(Value::as_str);
    let naive =
        schema.get("airbyte_type").and_then(Value::as_str) == Some("timestamp_without_timezone");
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), Value::String(y)) => match format {
            Some("date-time") if naive => {
                let parse = |s: &str| {
                    NaiveDateTime::parse_from_str(&s.replace(' ', "T"), "%Y-%m-%dT%H:%M:%S%.f")
                        .expect(s)
                };
                parse(x) == parse(y)
            }
            Some("date-time") => {
                DateTime::parse_from_rfc3339(x).expect(x)
                    == DateTime::parse_from_rfc3339(y).expect(y)
            }
            Some("time") => {
                NaiveTime::parse_from_str(x, "%H:%M:%S%.f").expect(x)
                    == NaiveTime::parse_from_str(y, "%H:%M:%S%.f").expect(y)
            }
            _ => x == y,
        },
        _ => a == b,
    }
}

fn assert_same_data(schema: &Value, original: &Map<String, Value>, replayed: &Map<String, Value>) {
    let props = schema["properties"].as_object().unwrap();
    for (k, v) in replayed {
        assert!(!v.is_null(), "replayed nulls are left out: {k}");
        assert!(props.contains_key(k), "unknown field {k:?} in {replayed:?}");
    }
    for (k, prop) in props {
        let a = original.get(k).unwrap_or(&Value::Null);
        let b = replayed.get(k).unwrap_or(&Value::Null);
        assert!(
            same(prop, a, b),
            "field {k:?}: sent {a}, replayed {b}\n{original:?}\n{replayed:?}"
        );
    }
}

#[test]
fn replay_round_trip_restores_the_records_the_source_sent() {
    let (_d, cache) = temp_cache();
    let schema = typed_schema();
    let cat = catalog(vec![stream("Typed Stream", schema.clone(), &[], None)]);
    let lines = typed_lines();
    load(&cache, &cat, WriteStrategy::Append, &lines);
    // The widening really happened (the case this test is about), and names were normalized.
    let column_type = |c: &str| {
        strings(
            &cache,
            &format!(
                "SELECT data_type FROM duckdb_columns() WHERE table_name = 'typed_stream' AND \
                 column_name = '{c}'"
            ),
        )
        .pop()
        .flatten()
        .unwrap_or_default()
    };
    assert_eq!(column_type("big"), "VARCHAR");
    assert_eq!(column_type("bigint"), "VARCHAR");
    assert_eq!(column_type("my_field"), "VARCHAR");
    assert_eq!(column_type("my_field_1"), "BIGINT");
    assert_eq!(column_type("upper"), "VARCHAR");
    assert_eq!(column_type("created"), "TIMESTAMP WITH TIME ZONE");
    assert_eq!(column_type("_airbyte_raw_id_1"), "VARCHAR");

    let (summary, replayed) = replay(&cache, "Typed Stream", None);
    assert_eq!(summary.records, 6);
    assert_eq!(summary.table, "typed_stream");
    let ids = strings(&cache, "SELECT max(_airbyte_raw_id) FROM typed_stream");
    assert_eq!(summary.max_raw_id, ids[0]);

    let mut originals: BTreeMap<i64, (Map<String, Value>, i64)> = BTreeMap::new();
    for l in &lines {
        let v: Value = serde_json::from_str(l).unwrap();
        let data = v["record"]["data"].as_object().unwrap().clone();
        let id = data["id"].as_i64().unwrap();
        originals.insert(id, (data, v["record"]["emitted_at"].as_i64().unwrap()));
    }
    let mut seen = Vec::new();
    for r in &replayed {
        assert_eq!(r["type"], "RECORD");
        let record = r["record"].as_object().unwrap();
        assert_eq!(record["stream"], "Typed Stream", "the original stream name");
        assert!(!record.contains_key("namespace"));
        assert!(!record.contains_key("meta"), "no changes, no meta: {r}");
        let data = record["data"].as_object().unwrap();
        let id = data["id"].as_i64().unwrap();
        let (original, emitted_at) = &originals[&id];
        assert_eq!(record["emitted_at"].as_i64(), Some(*emitted_at));
        assert_same_data(&schema, original, data);
        seen.push(id);
    }
    seen.sort();
    assert_eq!(seen, [1, 2, 3, 4, 5, 6]);

    // Exact text where it matters, straight from the output.
    let mut out = Vec::new();
    cache
        .replay_stream("Typed Stream", &ReplayOptions::default(), &mut out)
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(&format!(r#""bigint":{BIG_INT}"#)), "{text}");
    assert!(text.contains(&format!(r#""big":{BIG_DOUBLE}"#)), "{text}");
    assert!(text.contains(&format!(r#""big":{BIG_INT}"#)), "{text}");
    assert!(
        text.contains(r#""big":"not a number, kept as text""#),
        "{text}"
    );
    assert!(
        text.contains(r#""int_like":7,"#),
        "integers stay integers: {text}"
    );
    assert!(
        text.contains(r#""created":"2024-01-01T00:00:01Z""#),
        "{text}"
    );
    assert!(
        text.contains(r#""created":"2024-06-30T23:59:59.123456Z""#),
        "{text}"
    );
    assert!(
        text.contains(r#""naive":"1999-12-31T23:59:59.500""#),
        "{text}"
    );
    assert!(text.contains(r#""day":"1969-12-31""#), "{text}");
    assert!(text.contains(r#""at":"23:59:59.250""#), "{text}");
    assert!(
        text.contains(r#""mixed":{"k":[1,{"z":null}]}"#),
        "JSON embedded raw: {text}"
    );
    assert!(text.contains(r#"{"type":"RECORD","record":{"stream":"Typed Stream","data":{"id":"#));
    assert_eq!(
        text.lines().count(),
        6,
        "U+2028 and escaped newlines stay inside lines"
    );
}

#[test]
fn replay_after_raw_id_sends_only_rows_loaded_later() {
    let (_d, cache) = temp_cache();
    let cat = catalog(vec![stream("users", users_schema(), &[], None)]);
    let first: Vec<String> = (0..50)
        .map(|i| {
            line(
                "users",
                json!({"id": i, "name": format!("n{i}")}),
                1_700_000_000_000,
            )
        })
        .collect();
    load(&cache, &cat, WriteStrategy::Append, &first);
    let (all, rows) = replay(&cache, "users", None);
    assert_eq!(all.records, 50);
    let through = all.max_raw_id.clone().expect("a max raw id");
    // Rows come out in raw id order.
    let ordered = strings(&cache, "SELECT _airbyte_raw_id FROM users ORDER BY 1");
    assert_eq!(
        ordered.last().cloned().flatten().as_deref(),
        Some(through.as_str())
    );
    assert_eq!(rows.len(), 50);

    // Nothing new: nothing sent, no max.
    let (none, rows) = replay(&cache, "users", Some(&through));
    assert_eq!((none.records, none.bytes, rows.len()), (0, 0, 0));
    assert_eq!(none.max_raw_id, None);

    // Raw ids carry the load's clock (milliseconds): let it move on.
    std::thread::sleep(std::time::Duration::from_millis(10));
    let second: Vec<String> = (50..53)
        .map(|i| line("users", json!({"id": i}), 1_700_000_000_001))
        .collect();
    load(&cache, &cat, WriteStrategy::Append, &second);
    let (newer, rows) = replay(&cache, "users", Some(&through));
    assert_eq!(newer.records, 3);
    let mut ids: Vec<i64> = rows
        .iter()
        .map(|r| r["record"]["data"]["id"].as_i64().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, [50, 51, 52]);
    assert!(newer.max_raw_id.as_deref() > Some(through.as_str()));
    assert_eq!(
        newer.max_raw_id,
        strings(&cache, "SELECT max(_airbyte_raw_id) FROM users")[0]
    );
}

#[test]
fn replay_after_a_merge_sends_the_updated_rows() {
    let (_d, cache) = temp_cache();
    let cat = catalog(vec![stream("users", users_schema(), &["id"], Some("id"))]);
    let first: Vec<String> = (1..=3)
        .map(|i| line("users", json!({"id": i, "name": "old"}), 1))
        .collect();
    load(&cache, &cat, WriteStrategy::Merge, &first);
    let (all, _) = replay(&cache, "users", None);
    std::thread::sleep(std::time::Duration::from_millis(10));
    let second = vec![
        line("users", json!({"id": 2, "name": "new"}), 2),
        line("users", json!({"id": 4, "name": "new"}), 2),
    ];
    load(&cache, &cat, WriteStrategy::Merge, &second);
    let (_, rows) = replay(&cache, "users", all.max_raw_id.as_deref());
    let mut got: Vec<Value> = rows.iter().map(|r| r["record"]["data"].clone()).collect();
    got.sort_by_key(|d| d["id"].as_i64());
    assert_eq!(
        got,
        [
            json!({"id": 2, "name": "new"}),
            json!({"id": 4, "name": "new"})
        ]
    );
}

#[test]
fn replay_sends_meta_changes_and_leaves_out_nulled_values() {
    let (_d, cache) = temp_cache();
    let schema = json!({"type": "object", "properties": {
        "id": {"type": "integer"}, "flag": {"type": "boolean"}, "n": {"type": "number"}}});
    let cat = catalog(vec![stream("s", schema, &[], None)]);
    let lines = vec![
        // Does not fit: NULLed by the cache and recorded.
        line("s", json!({"id": 1, "flag": "maybe", "n": 1}), 5),
        // The source's own change, kept.
        json!({"type": "RECORD", "record": {"stream": "s", "emitted_at": 6, "data": {"id": 2},
            "meta": {"changes": [{"field": "n", "change": "NULLED",
                                  "reason": "SOURCE_FIELD_SIZE_LIMITATION"}]}}})
        .to_string(),
        line("s", json!({"id": 3, "n": "NaN"}), 7),
    ];
    load(&cache, &cat, WriteStrategy::Append, &lines);
    let (_, rows) = replay(&cache, "s", None);
    let by_id: BTreeMap<i64, &Value> = rows
        .iter()
        .map(|r| (r["record"]["data"]["id"].as_i64().unwrap(), &r["record"]))
        .collect();
    assert_eq!(by_id[&1]["data"], json!({"id": 1, "n": 1.0}));
    assert_eq!(
        by_id[&1]["meta"],
        json!({"changes": [{"field": "flag", "change": "NULLED",
                            "reason": "DESTINATION_TYPECAST_ERROR"}]})
    );
    assert_eq!(
        by_id[&2]["meta"]["changes"][0]["reason"],
        "SOURCE_FIELD_SIZE_LIMITATION"
    );
    // A NaN DOUBLE is left out (JSON has no NaN); nothing else about the record changes.
    assert_eq!(by_id[&3]["data"], json!({"id": 3}));
    assert!(by_id[&3].get("meta").is_none());
    assert_eq!(by_id[&3]["emitted_at"], 7);
}

#[test]
fn replay_of_a_stream_not_in_the_cache_names_the_cached_streams() {
    let (_d, cache) = temp_cache();
    let cat = catalog(vec![
        stream("users", users_schema(), &[], None),
        stream("orders", users_schema(), &[], None),
    ]);
    load(&cache, &cat, WriteStrategy::Append, &[]);
    let err = cache
        .replay_stream("nope", &ReplayOptions::default(), &mut Vec::new())
        .unwrap_err();
    assert!(matches!(err, CacheError::StreamNotInCache { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("\"nope\""), "{msg}");
    assert!(msg.contains("orders, users"), "{msg}");
    // An empty stream replays nothing.
    let (s, rows) = replay(&cache, "users", None);
    assert_eq!((s.records, rows.len(), s.max_raw_id), (0, 0, None));
}

#[test]
fn replay_reports_a_closed_output() {
    struct Closed;
    impl std::io::Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let (_d, cache) = temp_cache();
    let cat = catalog(vec![stream("users", users_schema(), &[], None)]);
    let lines: Vec<String> = (0..20_000)
        .map(|i| line("users", json!({"id": i, "name": "x".repeat(40)}), 1))
        .collect();
    load(&cache, &cat, WriteStrategy::Append, &lines);
    let err = cache
        .replay_stream("users", &ReplayOptions::default(), &mut Closed)
        .unwrap_err();
    assert!(matches!(err, CacheError::ReplayOutput { .. }), "{err}");
    assert!(err.to_string().contains("\"users\""), "{err}");
    // The cache is still usable afterwards.
    assert_eq!(scalar_i64(&cache, "SELECT count(*) FROM users"), 20_000);
}

/// The replay rate of 100k bench-like rows. Run with
/// `cargo test --workspace --release -- --ignored replay_rate --nocapture`; prints, asserts
/// nothing about time.
#[test]
#[ignore]
fn replay_rate_100k_rows() {
    let (_d, cache) = temp_cache();
    let schema = json!({"type": "object", "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": ["null", "string"]},
        "age": {"type": ["null", "integer"]}, "score": {"type": "number"}, "active": {"type": "boolean"},
        "created_at": {"type": "string", "format": "date-time", "airbyte_type": "timestamp_with_timezone"},
        "birth_date": {"type": "string", "format": "date"}, "tags": {"type": "array"},
        "address": {"type": "object"}, "note": {"type": ["null", "string"]}}});
    let cat = catalog(vec![stream("bench", schema, &[], None)]);
    let n = 100_000;
    let lines: Vec<String> = (0..n)
        .map(|i| {
            line("bench", json!({"id": i, "name": "Ada Lovelace", "email": format!("ada{i}@example.com"),
                "age": if i % 20 == 0 { None } else { Some(i % 70 + 18) }, "score": 123.4567 + i as f64,
                "active": i % 3 != 0, "created_at": "2024-05-17T12:34:56+00:00", "birth_date": "1985-03-02",
                "tags": ["a", "b"], "address": {"street": "1 Main St", "city": "Paris", "zip": "75001",
                "geo": {"lat": 48.85661, "lon": 2.35222}}, "note": null}), 1_700_000_000_000 + i)
        })
        .collect();
    let mut w = cache
        .begin_load(
            "source-bench",
            &cat,
            WriteStrategy::Append,
            Default::default(),
        )
        .unwrap();
    feed(&mut w, &lines);
    w.finish().unwrap();
    drop(lines);
    for run in 0..3 {
        let mut sink = std::io::sink();
        let start = std::time::Instant::now();
        let s = cache
            .replay_stream("bench", &ReplayOptions::default(), &mut sink)
            .unwrap();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "replay run {run}: {} records, {:.1} MB in {secs:.3} s = {:.0} records/s, {:.0} MB/s",
            s.records,
            s.bytes as f64 / 1e6,
            s.records as f64 / secs,
            s.bytes as f64 / 1e6 / secs
        );
        assert_eq!(s.records, n as u64);
    }
}

#[test]
fn replay_of_a_table_pyairbyte_wrote() {
    // PyAirbyte 0.71's layout: DECIMAL(38,9) numbers, naive TIMESTAMPs, `{}` meta, the cache
    // class as source name, and the JSON schema as catalog metadata.
    let (_d, cache) = temp_cache();
    let schema = json!({"type": "object", "properties": {
        "Id": {"type": "integer"}, "Score": {"type": "number"}, "o": {"type": "object"},
        "updated_at": {"type": "string", "format": "date-time"}}});
    cache
        .execute(&format!(
            "CREATE TABLE users (id BIGINT, score DECIMAL(38,9), o JSON, updated_at TIMESTAMP, \
             _airbyte_raw_id VARCHAR, _airbyte_extracted_at TIMESTAMP, _airbyte_meta JSON);
             INSERT INTO users VALUES
               (1, 0.25, '{{\"k\": [1, 2]}}', '2024-01-01 00:00:01', '0190a1b2-0000-7000-8000-000000000002',
                '2023-11-14 22:13:20.001', '{{}}'),
               (2, 7, NULL, NULL, '0190a1b2-0000-7000-8000-000000000001',
                '2023-11-14 22:13:20.002', '{{}}');
             INSERT INTO _airbyte_streams VALUES ('Users', 'DuckDBCache', 'Users', '{}');",
            schema.to_string().replace('\'', "''")
        ))
        .unwrap();
    let (summary, rows) = replay(&cache, "Users", None);
    assert_eq!(summary.table, "users");
    assert_eq!(
        summary.max_raw_id.as_deref(),
        Some("0190a1b2-0000-7000-8000-000000000002")
    );
    let got: Vec<&Value> = rows.iter().map(|r| &r["record"]).collect();
    assert_eq!(
        got,
        [
            &json!({"stream": "Users", "data": {"Id": 2, "Score": 7}, "emitted_at": 1_700_000_000_002i64}),
            &json!({"stream": "Users", "data": {"Id": 1, "Score": 0.25, "o": {"k": [1, 2]},
                "updated_at": "2024-01-01T00:00:01"}, "emitted_at": 1_700_000_000_001i64}),
        ]
    );
}
