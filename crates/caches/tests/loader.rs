//! The loader end to end: protocol lines → real DuckDB files.

mod common;

use abrs_caches::{CacheError, DuckDbCache, LoadOptions, WriteMethod, WriteStrategy};
use common::*;
use serde_json::json;

#[test]
fn append_grows_and_records_internal_columns() {
    let (_d, cache) = temp_cache();
    let cat = catalog(vec![stream("users", users_schema(), &[], None)]);
    let lines: Vec<String> = (0..20)
        .map(|i| record_line("users", json!({"id": i, "name": format!("n{i}")})))
        .collect();
    let s = load(&cache, &cat, WriteStrategy::Append, &lines);
    assert_eq!(s.streams["users"].records, 20);
    assert_eq!(s.streams["users"].method, WriteMethod::Append);
    load(&cache, &cat, WriteStrategy::Append, &lines);
    assert_eq!(scalar_i64(&cache, "SELECT count(*) FROM users"), 40);
    assert_eq!(
        scalar_i64(
            &cache,
            "SELECT count(*) FROM users WHERE _airbyte_raw_id IS NULL OR _airbyte_extracted_at IS NULL OR _airbyte_meta IS NULL"
        ),
        0
    );
    assert_eq!(
        scalar_i64(&cache, "SELECT count(DISTINCT _airbyte_raw_id) FROM users"),
        40
    );
    // UUIDv7 strings.
    let ids = strings(&cache, "SELECT _airbyte_raw_id FROM users LIMIT 1");
    let id = ids[0].clone().unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "7");
    assert_eq!(
        strings(&cache, "SELECT _airbyte_meta::VARCHAR FROM users LIMIT 1")[0].as_deref(),
        Some(r#"{"changes":[]}"#)
    );
    // emitted_at → TIMESTAMPTZ.
    assert_eq!(
        strings(
            &cache,
            "SELECT epoch_ms(_airbyte_extracted_at)::VARCHAR FROM users LIMIT 1"
        )[0]
        .as_deref(),
        Some("1700000000000")
    );
    assert_eq!(
        strings(&cache, "SELECT data_type FROM duckdb_columns() WHERE table_name='users' AND column_name='_airbyte_extracted_at'")[0].as_deref(),
        Some("TIMESTAMP WITH TIME ZONE")
    );
}

#[test]
fn column_types_follow_the_schema() {
    let (_d, cache) = temp_cache();
    let schema = json!({"type": "object", "properties": {
        "i": {"type": "integer"}, "n": {"type": "number"}, "s": {"type": "string"},
        "b": {"type": "boolean"}, "d": {"type": "string", "format": "date"},
        "ts": {"type": "string", "format": "date-time"},
        "tsn": {"type": "string", "format": "date-time", "airbyte_type": "timestamp_without_timezone"},
        "t": {"type": "string", "format": "time"}, "o": {"type": "object"}, "a": {"type": "array"},
        "u": {"type": ["null", "string", "object"]}, "x": {}
    }});
    let cat = catalog(vec![stream("typed", schema, &[], None)]);
    let lines = vec![
        record_line(
            "typed",
            json!({
                "i": 1, "n": 1e30, "s": "x", "b": true, "d": "2024-02-29", "ts": "2024-01-02 03:04:05.5+01:00",
                "tsn": "2024-01-02T03:04:05", "t": "10:11:12", "o": {"K": [1]}, "a": [1, "2"], "u": "plain", "x": 5
            }),
        ),
        record_line("typed", json!({"n": 1.5e-12, "u": {"k": 1}})),
    ];
    load(&cache, &cat, WriteStrategy::Append, &lines);
    let types = strings(
        &cache,
        "SELECT column_name || ':' || data_type FROM duckdb_columns() WHERE table_name='typed' ORDER BY column_index",
    );
    let types: Vec<String> = types.into_iter().flatten().collect();
    let json_t = if types.iter().any(|t| t == "o:JSON") {
        "JSON"
    } else {
        "VARCHAR"
    };
    assert_eq!(
        types,
        vec![
            "i:BIGINT".to_string(),
            "n:DOUBLE".into(),
            "s:VARCHAR".into(),
            "b:BOOLEAN".into(),
            "d:DATE".into(),
            "ts:TIMESTAMP WITH TIME ZONE".into(),
            "tsn:TIMESTAMP".into(),
            "t:TIME".into(),
            format!("o:{json_t}"),
            format!("a:{json_t}"),
            format!("u:{json_t}"),
            "x:VARCHAR".into(),
            "_airbyte_raw_id:VARCHAR".into(),
            "_airbyte_extracted_at:TIMESTAMP WITH TIME ZONE".into(),
            format!("_airbyte_meta:{json_t}"),
        ]
    );
    assert_eq!(
        strings(&cache, "SELECT epoch_us(ts)::VARCHAR || ' ' || d::VARCHAR || ' ' || t::VARCHAR || ' ' || tsn::VARCHAR || ' ' || x FROM typed WHERE i = 1")[0].as_deref(),
        Some("1704161045500000 2024-02-29 10:11:12 2024-01-02 03:04:05 5")
    );
    assert_eq!(
        scalar_i64(
            &cache,
            "SELECT count(*) FROM typed WHERE n = 1e30 OR n = 1.5e-12"
        ),
        2
    );
    let ds = cache.dataset("typed").unwrap();
    let rows: Vec<_> = ds.iter().unwrap().map(|r| r.unwrap()).collect();
    assert_eq!(rows[0]["o"], json!({"K": [1]}));
    assert_eq!(rows[0]["a"], json!([1, "2"]));
    assert_eq!(rows[0]["u"], json!("plain"));
    assert_eq!(rows[1]["u"], json!({"k": 1}));
    assert_eq!(rows[0]["b"], json!(true));
    assert_eq!(rows[0]["d"], json!("2024-02-29"));
    assert_eq!(rows[0]["ts"], json!("2024-01-02T02:04:05.500000+00:00"));
}

/// Object, array and untyped-union columns are DuckDB JSON and hold the record's JSON text as
/// it arrived (whitespace and all), queryable with DuckDB's JSON operators; `_airbyte_meta` too.
#[test]
fn json_columns_hold_valid_json() {
    let (_d, cache) = temp_cache();
    let schema = json!({"type": "object", "properties": {
        "id": {"type": "integer"}, "o": {"type": "object"}, "a": {"type": "array"},
        "u": {"type": ["null", "string", "object"]}
    }});
    let cat = catalog(vec![stream("docs", schema, &[], None)]);
    let lines = vec![
        r#"{"type":"RECORD","record":{"stream":"docs","emitted_at":1,"data":{"id":1,"o":{ "k" : [1, {"x":"\u00e9\n"}] },"a":[ ],"u":"plain"}}}"#.to_string(),
        r#"{"type":"RECORD","record":{"stream":"docs","emitted_at":2,"data":{"id":2,"o":null,"a":[1,"2",null],"u":{"k":true}}}}"#.to_string(),
    ];
    load(&cache, &cat, WriteStrategy::Append, &lines);
    let types: Vec<String> = strings(
        &cache,
        "SELECT data_type FROM duckdb_columns() WHERE table_name='docs' AND column_name IN ('o','a','u','_airbyte_meta') ORDER BY column_index",
    )
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(types, vec!["JSON", "JSON", "JSON", "JSON"]);
    assert_eq!(
        scalar_i64(
            &cache,
            "SELECT count(*) FROM docs WHERE json_valid(a) AND json_valid(u) AND json_valid(_airbyte_meta) \
             AND (o IS NULL OR json_valid(o))"
        ),
        2
    );
    assert_eq!(
        strings(&cache, "SELECT o->'k'->1->>'x' FROM docs WHERE id = 1")[0].as_deref(),
        Some("\u{e9}\n")
    );
    assert_eq!(
        strings(
            &cache,
            "SELECT json_array_length(a)::VARCHAR || ' ' || (u->>'k') FROM docs WHERE id = 2"
        )[0]
        .as_deref(),
        Some("3 true")
    );
    assert_eq!(
        strings(&cache, "SELECT o::VARCHAR FROM docs WHERE id = 1")[0].as_deref(),
        Some(r#"{ "k" : [1, {"x":"\u00e9\n"}] }"#)
    );
}

/// Merge batches (7 rows each here) whose keys lie outside every key the table holds skip
/// their DELETE; batches that overlap rows from before the sync, or rows of earlier batches of
/// the same sync, still replace them.
#[test]
fn merge_replaces_rows_whichever_batch_holds_them() {
    let (_d, cache) = temp_cache();
    let cat = catalog(vec![stream("users", users_schema(), &["id"], None)]);
    let named = |ids: std::ops::Range<i64>, name: &str| -> Vec<String> {
        ids.map(|i| record_line("users", json!({"id": i, "name": name})))
            .collect()
    };
    load(
        &cache,
        &cat,
        WriteStrategy::Merge,
        &named(100..110, "before"),
    );
    let mut sync = named(200..230, "high");
    sync.extend(named(0..20, "low"));
    sync.extend(named(105..108, "over-before"));
    sync.extend(named(205..208, "over-high"));
    sync.extend(named(15..16, "over-low"));
    sync.extend(named(300..301, "last"));
    load(&cache, &cat, WriteStrategy::Merge, &sync);
    assert_eq!(scalar_i64(&cache, "SELECT count(*) FROM users"), 61);
    assert_eq!(
        scalar_i64(&cache, "SELECT count(DISTINCT id) FROM users"),
        61
    );
    let names = |sql: &str| -> Vec<String> { strings(&cache, sql).into_iter().flatten().collect() };
    assert_eq!(
        names("SELECT name FROM users WHERE id IN (104, 105, 107, 108) ORDER BY id"),
        vec!["before", "over-before", "over-before", "before"]
    );
    assert_eq!(
        names("SELECT name FROM users WHERE id IN (204, 205, 207, 208) ORDER BY id"),
        vec!["high", "over-high", "over-high", "high"]
    );
    assert_eq!(
        names("SELECT name FROM users WHERE id IN (14, 15, 16) ORDER BY id"),
        vec!["low", "over-low", "low"]
    );
}

#[test]
fn merge_counts_like_pyairbyte() {
    let (_d, cache) = temp_cache();
    let cat = catalog(vec![stream("users", users_schema(), &["id"], None)]);
    let a: Vec<String> = (0..200)
        .map(|i| record_line("users", json!({"id": i, "name": "a"})))
        .collect();
    let b: Vec<String> = (100..300)
        .map(|i| record_line("users", json!({"id": i, "name": "b"})))
        .collect();
    let count = || scalar_i64(&cache, "SELECT count(*) FROM users");
    let s = load(&cache, &cat, WriteStrategy::Auto, &a);
    assert_eq!(s.streams["users"].method, WriteMethod::Merge);
    assert_eq!(count(), 200);
    load(&cache, &cat, WriteStrategy::Auto, &a);
    assert_eq!(count(), 200);
    load(&cache, &cat, WriteStrategy::Merge, &b);
    assert_eq!(count(), 300);
    assert_eq!(
        scalar_i64(&cache, "SELECT count(*) FROM users WHERE name = 'b'"),
        200
    );
    load(&cache, &cat, WriteStrategy::Merge, &a);
    assert_eq!(count(), 300);
    assert_eq!(
        scalar_i64(&cache, "SELECT count(*) FROM users WHERE name = 'b'"),
        100
    );
}

#[test]
fn merge_dedups_within_one_sync_last_wins() {
    let (_d, cache) = temp_cache();
    let cat = catalog(vec![stream("users", users_schema(), &["id"], None)]);
    let mut lines = Vec::new();
    for round in 0..5 {
        for id in 0..3 {
            lines.push(record_line(
                "users",
                json!({"id": id, "name": format!("r{round}")}),
            ));
        }
        lines.push(stream_state_line("users", json!({"round": round})));
    }
    // Within one batch too (no state between).
    lines.push(record_line("users", json!({"id": 1, "name": "x"})));
    lines.push(record_line("users", json!({"id": 1, "name": "last"})));
    load(&cache, &cat, WriteStrategy::Merge, &lines);
    assert_eq!(scalar_i64(&cache, "SELECT count(*) FROM users"), 3);
    assert_eq!(
        strings(&cache, "SELECT name FROM users ORDER BY id"),
        vec![Some("r4".into()), Some("last".into()), Some("r4".into())]
    );
}

#[test]
fn composite_primary_key() {
    let (_d, cache) = temp_cache();
    let schema = json!({"properties": {"id": {"type": "integer"}, "k": {"type": "string"}, "v": {"type": "integer"}}});
    let cat = catalog(vec![stream("s", schema, &["id", "k"], None)]);
    let lines = vec![
        record_line("s", json!({"id": 1, "k": "a", "v": 1})),
        record_line("s", json!({"id": 1, "k": "b", "v": 2})),
        record_line("s", json!({"id": 1, "k": "a", "v": 3})),
        record_line("s", json!({"id": null, "k": "a", "v": 4})),
        record_line("s", json!({"id": null, "k": "a", "v": 5})),
    ];
    load(&cache, &cat, WriteStrategy::Merge, &lines);
    load(&cache, &cat, WriteStrategy::Merge, &lines[1..3]);
    assert_eq!(
        strings(&cache, "SELECT v::VARCHAR FROM s ORDER BY v"),
        vec![Some("2".into()), Some("3".into()), Some("5".into())]
    );
}

#[test]
fn merge_without_primary_key_is_a_clear_error() {
    let (_d, cache) = temp_cache();
    let cat = catalog(vec![stream("users", users_schema(), &[], None)]);
    let Err(err) = cache.begin_load("src", &cat, WriteStrategy::Merge, LoadOptions::default())
    else {
        panic!("merge without a primary key must fail");
    };
    assert!(matches!(err, CacheError::MergeWithoutPrimaryKey { .. }));
    assert!(err.to_string().contains("\"users\""), "{err}");
    assert!("bogus".parse::<WriteStrategy>().is_err());
}

#[test]
fn auto_resolution() {
    let (_d, cache) = temp_cache();
    let cat = catalog(vec![
        stream("pk", users_schema(), &["id"], None),
        stream("cursor", users_schema(), &[], Some("id")),
        stream("none", users_schema(), &[], None),
    ]);
    let s = load(&cache, &cat, WriteStrategy::Auto, &[]);
    assert_eq!(s.streams["pk"].method, WriteMethod::Merge);
    assert_eq!(s.streams["cursor"].method, WriteMethod::Append);
    assert_eq!(s.streams["none"].method, WriteMethod::Replace);
    // Empty streams still get their tables.
    for t in ["pk", "cursor", "none"] {
        assert_eq!(scalar_i64(&cache, &format!("SELECT count(*) FROM {t}")), 0);
    }
    assert_eq!(cache.streams().unwrap(), vec!["cursor", "none", "pk"]);
    assert_eq!(
        strings(&cache, "SELECT DISTINCT source_name FROM _airbyte_streams"),
        vec![Some("source-test".into())]
    );
}

#[test]
fn replace_is_atomic_for_readers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.duckdb");
    let cache = DuckDbCache::new(&path);
    let reader = DuckDbCache::new(&path);
    let cat = catalog(vec![stream("users", users_schema(), &[], None)]);
    let old: Vec<String> = (0..50)
        .map(|i| record_line("users", json!({"id": i})))
        .collect();
    load(&cache, &cat, WriteStrategy::Replace, &old);
    assert_eq!(scalar_i64(&reader, "SELECT count(*) FROM users"), 50);

    let mut w = cache
        .begin_load("source-test", &cat, WriteStrategy::Replace, eager())
        .unwrap();
    for i in 0..30 {
        feed(
            &mut w,
            &[record_line("users", json!({"id": i, "name": "new"}))],
        );
        if i % 10 == 9 {
            feed(&mut w, &[stream_state_line("users", json!({"i": i}))]);
        }
        assert_eq!(scalar_i64(&reader, "SELECT count(*) FROM users"), 50);
    }
    // The state of a replaced stream waits for the swap.
    assert!(reader.state_messages("source-test").unwrap().is_empty());
    let s = w.finish().unwrap();
    assert_eq!(s.streams["users"].method, WriteMethod::Replace);
    assert_eq!(scalar_i64(&reader, "SELECT count(*) FROM users"), 30);
    assert_eq!(
        scalar_i64(&reader, "SELECT count(*) FROM users WHERE name = 'new'"),
        30
    );
    assert_eq!(reader.state_messages("source-test").unwrap().len(), 1);

    // A killed replace leaves the old table; its stale shadow is cleaned by the next load.
    let mut w = cache
        .begin_load("source-test", &cat, WriteStrategy::Replace, eager())
        .unwrap();
    feed(
        &mut w,
        &[
            record_line("users", json!({"id": 1})),
            stream_state_line("users", json!({})),
        ],
    );
    drop(w);
    assert_eq!(scalar_i64(&reader, "SELECT count(*) FROM users"), 30);
    load(&cache, &cat, WriteStrategy::Replace, &old[..5]);
    assert_eq!(scalar_i64(&reader, "SELECT count(*) FROM users"), 5);
    assert_eq!(
        scalar_i64(
            &reader,
            "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '_abrs_%'"
        ),
        0
    );
}

#[test]
fn crash_keeps_exactly_the_last_commit() {
    let (_d, cache) = temp_cache();
    let cat = catalog(vec![stream("users", users_schema(), &[], Some("id"))]);
    let mut w = cache
        .begin_load("source-test", &cat, WriteStrategy::Append, eager())
        .unwrap();
    let mut lines: Vec<String> = (0..10)
        .map(|i| record_line("users", json!({"id": i})))
        .collect();
    lines.push(stream_state_line("users", json!({"cursor": 9})));
    lines.extend((10..25).map(|i| record_line("users", json!({"id": i}))));
    feed(&mut w, &lines);
    drop(w); // as if killed: no finish
    assert_eq!(scalar_i64(&cache, "SELECT count(*) FROM users"), 10);
    let states = cache.state_messages("source-test").unwrap();
    assert_eq!(states.len(), 1);
    assert_eq!(
        states[0].stream.as_ref().unwrap().stream_state,
        Some(json!({"cursor": 9}))
    );
}

#[test]
fn state_commits_are_batched_in_time() {
    let (_d, cache) = temp_cache();
    let cat = catalog(vec![stream("users", users_schema(), &[], Some("id"))]);
    let opts = LoadOptions {
        commit_interval: std::time::Duration::from_secs(3600),
        ..Default::default()
    };
    let mut w = cache
        .begin_load("source-test", &cat, WriteStrategy::Append, opts)
        .unwrap();
    for i in 0..5 {
        feed(
            &mut w,
            &[
                record_line("users", json!({"id": i})),
                stream_state_line("users", json!({"c": i})),
            ],
        );
    }
    assert_eq!(scalar_i64(&cache, "SELECT count(*) FROM users"), 0);
    let s = w.finish().unwrap();
    assert_eq!(s.states, 5);
    assert_eq!(scalar_i64(&cache, "SELECT count(*) FROM users"), 5);
    let st = cache.get_state_provider("source-test").unwrap();
    assert_eq!(st.get_stream_state("users"), Some(&json!({"c": 4})));
}

#[test]
fn unknown_stream_is_an_error_not_a_panic() {
    let (_d, cache) = temp_cache();
    let cat = catalog(vec![stream("users", users_schema(), &[], None)]);
    let mut w = cache
        .begin_load("source-test", &cat, WriteStrategy::Append, eager())
        .unwrap();
    let line = record_line("ghosts", json!({"id": 1}));
    let abrs_protocol::Decoded::Record(r) = abrs_protocol::decode_line(line.as_bytes()).unwrap()
    else {
        panic!()
    };
    let err = w.record(&r).unwrap_err();
    assert!(matches!(err, CacheError::UnknownStream { .. }), "{err}");
    assert!(err.to_string().contains("ghosts"));
}

#[test]
fn bad_values_are_nulled_and_recorded() {
    let (_d, cache) = temp_cache();
    let schema = json!({"properties": {"id": {"type": "integer"}, "d": {"type": "string", "format": "date"}, "ok": {"type": "boolean"}}});
    let cat = catalog(vec![stream("s", schema, &[], None)]);
    let lines = vec![
        record_line("s", json!({"id": "abc", "d": "not a date", "ok": true})),
        json!({"type": "RECORD", "record": {"stream": "s", "data": {"id": 2, "d": "2024-01-01", "ok": {"x": 1}},
            "emitted_at": 1, "meta": {"changes": [{"field": "big", "change": "TRUNCATED", "reason": "SOURCE_FIELD_SIZE_LIMITATION"}]}}})
        .to_string(),
    ];
    let s = load(&cache, &cat, WriteStrategy::Append, &lines);
    assert_eq!(s.streams["s"].nulled_values, 3);
    assert_eq!(
        scalar_i64(
            &cache,
            "SELECT count(*) FROM s WHERE id IS NULL AND d IS NULL"
        ),
        1
    );
    let metas = strings(
        &cache,
        "SELECT _airbyte_meta::VARCHAR FROM s ORDER BY _airbyte_extracted_at DESC",
    );
    let m0: serde_json::Value = serde_json::from_str(metas[0].as_deref().unwrap()).unwrap();
    assert_eq!(
        m0["changes"],
        json!([
            {"field": "id", "change": "NULLED", "reason": "DESTINATION_TYPECAST_ERROR"},
            {"field": "d", "change": "NULLED", "reason": "DESTINATION_TYPECAST_ERROR"},
        ])
    );
    let m1: serde_json::Value = serde_json::from_str(metas[1].as_deref().unwrap()).unwrap();
    assert_eq!(m1["changes"].as_array().unwrap().len(), 2);
    assert_eq!(m1["changes"][0]["change"], "TRUNCATED");
    assert_eq!(m1["changes"][1]["field"], "ok");
}

#[test]
fn schema_evolution_widens_and_adds_columns() {
    let (_d, cache) = temp_cache();
    let v1 = json!({"properties": {"id": {"type": "integer"}, "a": {"type": "integer"}}});
    load(
        &cache,
        &catalog(vec![stream("s", v1, &[], None)]),
        WriteStrategy::Append,
        &[record_line("s", json!({"id": 1, "a": 5}))],
    );
    let v2 = json!({"properties": {"id": {"type": "integer"}, "a": {"type": "string"}, "b": {"type": "number"}}});
    load(
        &cache,
        &catalog(vec![stream("s", v2, &[], None)]),
        WriteStrategy::Append,
        &[record_line(
            "s",
            json!({"id": 2, "a": "not-a-number", "b": 1.5}),
        )],
    );
    assert_eq!(
        strings(&cache, "SELECT a FROM s ORDER BY id"),
        vec![Some("5".into()), Some("not-a-number".into())]
    );
    let cols: Vec<String> = strings(
        &cache,
        "SELECT column_name FROM duckdb_columns() WHERE table_name='s' ORDER BY column_index",
    )
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(cols.last().map(String::as_str), Some("b"));
    // A removed property keeps its column (NULL for new rows); undeclared fields are dropped.
    let v3 = json!({"properties": {"id": {"type": "integer"}}});
    load(
        &cache,
        &catalog(vec![stream("s", v3, &[], None)]),
        WriteStrategy::Append,
        &[record_line("s", json!({"id": 3, "undeclared": 1}))],
    );
    assert_eq!(
        scalar_i64(
            &cache,
            "SELECT count(*) FROM s WHERE a IS NULL AND b IS NULL"
        ),
        1
    );
    assert_eq!(
        scalar_i64(
            &cache,
            "SELECT count(*) FROM duckdb_columns() WHERE table_name='s' AND column_name='undeclared'"
        ),
        0
    );
    // A re-added internal column (PyAirbyte scenario 11).
    cache
        .execute("ALTER TABLE s DROP COLUMN _airbyte_raw_id")
        .unwrap();
    load(
        &cache,
        &catalog(vec![stream(
            "s",
            json!({"properties": {"id": {"type": "integer"}}}),
            &[],
            None,
        )]),
        WriteStrategy::Append,
        &[record_line("s", json!({"id": 4}))],
    );
    assert_eq!(
        scalar_i64(
            &cache,
            "SELECT count(*) FROM s WHERE _airbyte_raw_id IS NOT NULL"
        ),
        1
    );
}

#[test]
fn names_are_normalized_and_collisions_suffixed() {
    let (_d, cache) = temp_cache();
    let schema = json!({"properties": {
        "Id": {"type": "integer"}, "My-Field.X": {"type": "string"}, "a b": {"type": "string"},
        "a-b": {"type": "string"}, "1st col": {"type": "integer"}, "nested": {"type": "object"}
    }});
    let cat = catalog(vec![stream("My-Stream.Name", schema, &["Id"], None)]);
    load(
        &cache,
        &cat,
        WriteStrategy::Merge,
        &[record_line(
            "My-Stream.Name",
            json!({
                "ID": 1, "My-Field.X": "x", "a b": "space", "a-b": "dash", "1st col": 7, "nested": {"InnerKey": 1}
            }),
        )],
    );
    let cols: Vec<String> = strings(&cache, "SELECT column_name FROM duckdb_columns() WHERE table_name='my_stream_name' ORDER BY column_index")
        .into_iter().flatten().collect();
    assert_eq!(
        &cols[..6],
        ["id", "my_field_x", "a_b", "a_b_1", "_1st_col", "nested"]
    );
    assert_eq!(
        strings(
            &cache,
            "SELECT id::VARCHAR || a_b || a_b_1 || _1st_col::VARCHAR || nested::VARCHAR FROM my_stream_name"
        ),
        vec![Some(r#"1spacedash7{"InnerKey":1}"#.into())]
    );
    let rows: Vec<_> = cache
        .dataset("My-Stream.Name")
        .unwrap()
        .iter()
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(rows[0]["nested"], json!({"InnerKey": 1}));
}

#[test]
fn prefix_isolation_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.duckdb");
    let a = DuckDbCache::new(&path).with_table_prefix("a_");
    let b = DuckDbCache::new(&path).with_table_prefix("b_");
    let cat = catalog(vec![stream("users", users_schema(), &[], Some("id"))]);
    let mut lines = vec![record_line("users", json!({"id": 1}))];
    lines.push(stream_state_line("users", json!({"c": "a"})));
    load(&a, &cat, WriteStrategy::Append, &lines);
    lines[1] = stream_state_line("users", json!({"c": "b"}));
    lines.push(record_line("users", json!({"id": 2})));
    load(&b, &cat, WriteStrategy::Append, &lines[..1]);
    assert_eq!(a.streams().unwrap(), vec!["users"]);
    assert_eq!(scalar_i64(&a, "SELECT count(*) FROM a_users"), 1);
    assert_eq!(scalar_i64(&b, "SELECT count(*) FROM b_users"), 1);
    assert_eq!(a.dataset("users").unwrap().len().unwrap(), 1);
    assert_eq!(
        a.get_state_provider("source-test")
            .unwrap()
            .get_stream_state("users"),
        Some(&json!({"c": "a"}))
    );
    assert!(b.state_messages("source-test").unwrap().is_empty());
    a.close();
    b.close();
    // Reopen: the file was released and a new cache object sees everything.
    let again = DuckDbCache::new(&path).with_table_prefix("a_");
    assert_eq!(again.dataset("users").unwrap().len().unwrap(), 1);
    assert_eq!(again.state_messages("source-test").unwrap().len(), 1);
    assert!(matches!(
        again.dataset("nope"),
        Err(CacheError::StreamNotInCache { .. })
    ));
}

#[test]
fn merge_applies_staged_rows_between_commit_points() {
    let (_d, cache) = temp_cache();
    let cat = catalog(vec![stream("users", users_schema(), &["id"], None)]);
    let opts = LoadOptions {
        batch_rows: 3,
        ..eager()
    };
    let mut w = cache
        .begin_load("source-test", &cat, WriteStrategy::Merge, opts)
        .unwrap();
    let lines: Vec<String> = (0..40)
        .map(|i| record_line("users", json!({"id": i % 7, "name": format!("v{i}")})))
        .collect();
    feed(&mut w, &lines);
    w.finish().unwrap();
    assert_eq!(scalar_i64(&cache, "SELECT count(*) FROM users"), 7);
    // The last record of each key wins: ids 0..=4 were last seen at 35..=39, 5 and 6 at 33, 34.
    assert_eq!(
        strings(&cache, "SELECT name FROM users ORDER BY id"),
        ["v35", "v36", "v37", "v38", "v39", "v33", "v34"]
            .map(|s| Some(s.to_string()))
            .to_vec()
    );
}

#[test]
fn long_merge_loads_commit_without_state_but_appends_do_not() {
    let (_d, cache) = temp_cache();
    let cat = catalog(vec![
        stream("m", users_schema(), &["id"], None),
        stream("a", users_schema(), &[], Some("id")),
    ]);
    let opts = LoadOptions {
        batch_rows: 4,
        commit_records: 8,
        ..eager()
    };
    let mut w = cache
        .begin_load("source-test", &cat, WriteStrategy::Auto, opts.clone())
        .unwrap();
    let lines: Vec<String> = (0..30)
        .map(|i| record_line("m", json!({"id": i})))
        .collect();
    feed(&mut w, &lines);
    drop(w); // killed
    let merged = scalar_i64(&cache, "SELECT count(*) FROM m");
    assert!((8..30).contains(&merged), "{merged}");
    assert!(cache.state_messages("source-test").unwrap().is_empty());

    let mut w = cache
        .begin_load("source-test", &cat, WriteStrategy::Auto, opts)
        .unwrap();
    let lines: Vec<String> = (0..30)
        .map(|i| record_line("a", json!({"id": i})))
        .collect();
    feed(&mut w, &lines);
    drop(w);
    assert_eq!(scalar_i64(&cache, "SELECT count(*) FROM a"), 0);
}

#[test]
fn database_failures_surface_as_errors_and_keep_committed_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.duckdb");
    let cache = DuckDbCache::new(&path);
    let other = DuckDbCache::new(&path);
    let cat = catalog(vec![stream("users", users_schema(), &[], Some("id"))]);
    let mut w = cache
        .begin_load("source-test", &cat, WriteStrategy::Append, eager())
        .unwrap();
    feed(
        &mut w,
        &[
            record_line("users", json!({"id": 1})),
            stream_state_line("users", json!({"c": 1})),
        ],
    );
    feed(&mut w, &[record_line("users", json!({"id": 2}))]);
    // Commits are applied by the writer's database thread: wait for the first one.
    let start = std::time::Instant::now();
    while scalar_i64(&other, "SELECT count(*) FROM users") == 0 {
        assert!(
            start.elapsed().as_secs() < 30,
            "the first commit never landed"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // Another connection changes the table under the load: the load's commit conflicts.
    other.execute("DROP TABLE users").unwrap();
    let lines: Vec<String> = (3..20)
        .map(|i| record_line("users", json!({"id": i})))
        .collect();
    let mut failed = None;
    for line in &lines {
        let abrs_protocol::Decoded::Record(r) =
            abrs_protocol::decode_line(line.as_bytes()).unwrap()
        else {
            panic!()
        };
        if let Err(e) = w.record(&r) {
            failed = Some(e);
            break;
        }
    }
    let err = match failed {
        Some(e) => e,
        None => w.finish().expect_err("the conflicting load must fail"),
    };
    eprintln!("{err}");
    assert!(err.to_string().contains("users"), "{err}");
    // The first commit's state is intact (its data went with the dropped table).
    assert_eq!(other.state_messages("source-test").unwrap().len(), 1);
}

#[test]
fn numbers_that_double_would_round_widen_the_column_to_varchar() {
    for strategy in [
        WriteStrategy::Append,
        WriteStrategy::Merge,
        WriteStrategy::Replace,
    ] {
        let (_d, cache) = temp_cache();
        let schema = json!({"properties": {"id": {"type": "integer"}, "n": {"type": "number"}, "big": {"type": "integer"}}});
        let cat = catalog(vec![stream("s", schema, &["id"], None)]);
        let lines = vec![
            record_line("s", json!({"id": 1, "n": 1.5, "big": 7})),
            stream_state_line("s", json!({})),
            record_line("s", json!({"id": 2, "n": 2.25, "big": 8})),
            // Raw lines: serde_json's Value would round these numbers itself.
            r#"{"type":"RECORD","record":{"stream":"s","data":{"id":3,"n":0.1234567890123456789,"big":123456789012345678901234567890},"emitted_at":1}}"#.to_string(),
            record_line("s", json!({"id": 4, "n": 3.5, "big": 9})),
        ];
        let s = load(&cache, &cat, strategy, &lines);
        assert_eq!(s.streams["s"].nulled_values, 0, "{strategy}");
        assert_eq!(
            strings(&cache, "SELECT n || ' ' || big FROM s ORDER BY id"),
            [
                "1.5 7",
                "2.25 8",
                "0.1234567890123456789 123456789012345678901234567890",
                "3.5 9"
            ]
            .map(|s| Some(s.to_string()))
            .to_vec(),
            "{strategy}"
        );
        assert_eq!(
            strings(
                &cache,
                "SELECT data_type FROM duckdb_columns() WHERE table_name='s' AND column_name IN ('n','big') ORDER BY column_name"
            ),
            vec![Some("VARCHAR".into()), Some("VARCHAR".into())]
        );
    }
}

#[test]
fn merge_replaces_existing_rows_and_keeps_the_last_of_repeated_keys() {
    let (_d, cache) = temp_cache();
    let cat = catalog(vec![stream("users", users_schema(), &["id"], None)]);
    let mut w = cache
        .begin_load("source-test", &cat, WriteStrategy::Merge, eager())
        .unwrap();
    let lines: Vec<String> = (0..20)
        .map(|i| record_line("users", json!({"id": i, "name": "old"})))
        .chain([record_line("users", json!({"id": null, "name": "old"}))])
        .collect();
    feed(&mut w, &lines);
    w.finish().unwrap();

    // Batches of 5: keys repeat inside a batch (deduplicated insert), across batches, arrive
    // out of order, as a float (`7.0` is the integer 7), and as NULL (no key range then).
    let opts = LoadOptions {
        batch_rows: 5,
        ..eager()
    };
    let mut w = cache
        .begin_load("source-test", &cat, WriteStrategy::Merge, opts)
        .unwrap();
    let keys = [
        json!(3),
        json!(3),
        json!(25),
        json!(1),
        json!(3),
        json!(19),
        json!(null),
        json!(7),
        json!(7.0),
        json!(25),
        json!(0),
    ];
    let lines: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(n, id)| record_line("users", json!({"id": id, "name": format!("new{n}")})))
        .collect();
    feed(&mut w, &lines);
    w.finish().unwrap();

    assert_eq!(scalar_i64(&cache, "SELECT count(*) FROM users"), 22);
    let got = strings(
        &cache,
        "SELECT id::VARCHAR || '=' || name FROM users WHERE name <> 'old' ORDER BY id NULLS FIRST",
    );
    let want: Vec<Option<String>> = [
        None, // NULL || … is NULL: the NULL key's row, replaced
        Some("0=new10"),
        Some("1=new3"),
        Some("3=new4"),
        Some("7=new8"),
        Some("19=new5"),
        Some("25=new9"),
    ]
    .into_iter()
    .map(|s| s.map(str::to_string))
    .collect();
    assert_eq!(got, want);
    assert_eq!(
        scalar_i64(
            &cache,
            "SELECT count(*) FROM users WHERE id IS NULL AND name = 'new6'"
        ),
        1
    );
}

#[test]
fn text_values_of_every_length_arrive_intact() {
    // The batch scan writes short values inline and points DuckDB at the batch's buffer for
    // longer ones: both sides of the 12-byte boundary, multi-byte text, empty strings and
    // NULLs must come back exactly, also through a merge (hash join and dedup on text keys).
    let (_d, cache) = temp_cache();
    let schema = json!({"type": "object", "properties": {
        "k": {"type": "string"},
        "v": {"type": ["null", "string"]},
    }});
    let cat = catalog(vec![stream("t", schema, &["k"], None)]);
    let values: Vec<Option<String>> = vec![
        Some(String::new()),
        Some("a".into()),
        Some("twelve bytes".into()),
        Some("thirteen byte".into()),
        Some("ünïcödé ✓ text longer than twelve bytes".into()),
        None,
        Some("x".repeat(5000)),
    ];
    let lines: Vec<String> = (0..3)
        .flat_map(|round| {
            values.iter().enumerate().map(move |(i, v)| {
                // Keys long enough to be stored out of line, repeated in later rounds.
                let key = format!("key number {i} of a long text key");
                let v = v
                    .as_ref()
                    .map(|s| format!("{s}{}", if round == 2 { "" } else { "~" }));
                record_line("t", json!({"k": key, "v": v}))
            })
        })
        .collect();
    // 16-row batches: keys repeat within a batch (deduplicated there) and across batches.
    let opts = LoadOptions {
        batch_rows: 16,
        ..eager()
    };
    let mut w = cache
        .begin_load("source-test", &cat, WriteStrategy::Merge, opts)
        .unwrap();
    feed(&mut w, &lines);
    w.finish().unwrap();
    let got = strings(&cache, "SELECT v FROM t ORDER BY k");
    assert_eq!(got, values);
    assert_eq!(
        scalar_i64(&cache, "SELECT count(*) FROM t WHERE k LIKE 'key number %'"),
        values.len() as i64
    );
}

#[test]
fn a_queue_smaller_than_one_batch_still_loads_everything() {
    // The byte budget of the queue to the database thread always lets one batch through.
    let (_d, cache) = temp_cache();
    let cat = catalog(vec![
        stream("m", users_schema(), &["id"], None),
        stream("a", users_schema(), &[], Some("id")),
    ]);
    let opts = LoadOptions {
        batch_rows: 3,
        queue_bytes: 1,
        ..eager()
    };
    let mut w = cache
        .begin_load("source-test", &cat, WriteStrategy::Auto, opts)
        .unwrap();
    let lines: Vec<String> = (0..50)
        .flat_map(|i| {
            [
                record_line("m", json!({"id": i % 9, "name": format!("m{i}")})),
                record_line("a", json!({"id": i, "name": format!("a{i}")})),
            ]
        })
        .collect();
    feed(&mut w, &lines);
    w.finish().unwrap();
    assert_eq!(scalar_i64(&cache, "SELECT count(*) FROM m"), 9);
    assert_eq!(scalar_i64(&cache, "SELECT count(*) FROM a"), 50);
    assert_eq!(
        strings(&cache, "SELECT name FROM m WHERE id = 0"),
        vec![Some("m45".to_string())]
    );
}

#[test]
fn raw_ids_are_stored_without_string_compression() {
    // A storage choice (docs/PERFORMANCE.md): random ids compress poorly at a high CPU cost.
    // The column stays a plain VARCHAR to every reader; new tables, shadows included, keep it.
    let (_d, cache) = temp_cache();
    let cat = catalog(vec![stream("users", users_schema(), &["id"], None)]);
    let lines: Vec<String> = (0..3000)
        .map(|i| record_line("users", json!({"id": i, "name": format!("n{i}")})))
        .collect();
    for strategy in [WriteStrategy::Merge, WriteStrategy::Replace] {
        let mut w = cache
            .begin_load("source-test", &cat, strategy, eager())
            .unwrap();
        feed(&mut w, &lines);
        w.finish().unwrap();
        cache.execute("CHECKPOINT").unwrap();
        assert_eq!(
            strings(
                &cache,
                "SELECT DISTINCT compression FROM pragma_storage_info('users') \
                 WHERE column_name = '_airbyte_raw_id' AND segment_type = 'VARCHAR'"
            ),
            vec![Some("Uncompressed".to_string())]
        );
        assert_eq!(
            strings(
                &cache,
                "SELECT data_type FROM information_schema.columns \
                 WHERE table_name = 'users' AND column_name = '_airbyte_raw_id'"
            ),
            vec![Some("VARCHAR".to_string())]
        );
        assert_eq!(
            scalar_i64(&cache, "SELECT count(DISTINCT _airbyte_raw_id) FROM users"),
            3000
        );
    }
}

#[test]
fn long_unique_text_of_new_tables_is_stored_with_zstd() {
    // A storage choice (docs/PERFORMANCE.md): long, nearly unique text costs DuckDB's FSST about
    // twice the CPU of ZSTD for about the same size. Decided from a new table's first batch;
    // tables that already hold rows are never re-created.
    let schema = json!({"type": "object", "properties": {
        "id": {"type": "integer"},
        "email": {"type": "string"},
        "name": {"type": "string"},
        "profile": {"type": "object"},
    }});
    let cat = catalog(vec![stream("people", schema, &["id"], None)]);
    let lines = |n: i64| -> Vec<String> {
        (0..n)
            .map(|i| {
                record_line(
                    "people",
                    json!({"id": i, "email": format!("person.number.{i}@example.org"),
                           "name": format!("name {}", i % 7),
                           "profile": {"city": "Lisbon", "street": format!("{i} Long Road")}}),
                )
            })
            .collect()
    };
    let compression = |cache: &DuckDbCache, column: &str| {
        cache.execute("CHECKPOINT").unwrap();
        let mut found = strings(
            cache,
            &format!(
                "SELECT DISTINCT compression FROM pragma_storage_info('people') \
                 WHERE column_name = '{column}' AND segment_type IN ('VARCHAR', 'JSON') \
                 AND compression NOT IN ('Constant', 'Empty Validity')"
            ),
        );
        found.sort();
        found.into_iter().flatten().collect::<Vec<_>>().join(",")
    };
    let options = LoadOptions::default();
    for strategy in [
        WriteStrategy::Append,
        WriteStrategy::Merge,
        WriteStrategy::Replace,
    ] {
        let (_d, cache) = temp_cache();
        let mut w = cache
            .begin_load("source-test", &cat, strategy, options.clone())
            .unwrap();
        feed(&mut w, &lines(3000));
        w.finish().unwrap();
        assert_eq!(compression(&cache, "email"), "ZSTD", "{strategy}");
        assert_eq!(compression(&cache, "profile"), "ZSTD", "{strategy}");
        assert_ne!(compression(&cache, "name"), "ZSTD", "{strategy}");
        assert_eq!(compression(&cache, "_airbyte_raw_id"), "Uncompressed");
        assert_eq!(scalar_i64(&cache, "SELECT count(*) FROM people"), 3000);
        assert_eq!(
            scalar_i64(&cache, "SELECT count(DISTINCT email) FROM people"),
            3000
        );
        assert_eq!(
            strings(
                &cache,
                "SELECT profile->>'$.street' || '|' || email FROM people WHERE id = 2999"
            ),
            vec![Some(
                "2999 Long Road|person.number.2999@example.org".to_string()
            )]
        );
        assert_eq!(
            strings(
                &cache,
                "SELECT data_type FROM information_schema.columns \
                 WHERE table_name = 'people' AND column_name IN ('email', 'profile') ORDER BY 1"
            ),
            vec![Some("JSON".to_string()), Some("VARCHAR".to_string())]
        );
    }

    // Too few values to judge: DuckDB's choice. A later, larger load into that table keeps both
    // the table and its rows.
    let (_d, cache) = temp_cache();
    let mut w = cache
        .begin_load("source-test", &cat, WriteStrategy::Append, options.clone())
        .unwrap();
    feed(&mut w, &lines(500));
    w.finish().unwrap();
    assert_ne!(compression(&cache, "email"), "ZSTD");
    let mut w = cache
        .begin_load("source-test", &cat, WriteStrategy::Append, options)
        .unwrap();
    feed(&mut w, &lines(3000));
    w.finish().unwrap();
    assert_ne!(compression(&cache, "email"), "ZSTD");
    assert_eq!(scalar_i64(&cache, "SELECT count(*) FROM people"), 3500);
}
