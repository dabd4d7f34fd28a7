//! State round trips (STREAM, GLOBAL, LEGACY, PyAirbyte rows) and datasets.

mod common;

use abrs_caches::WriteStrategy;
use abrs_protocol::StateType;
use common::*;
use serde_json::{Value, json};

#[test]
fn global_and_legacy_state_round_trip_exactly() {
    let (_d, cache) = temp_cache();
    let cat = catalog(vec![
        stream("a", users_schema(), &[], Some("id")),
        stream("b", users_schema(), &[], Some("id")),
    ]);
    let global = json!({"type": "STATE", "state": {"type": "GLOBAL", "global": {
        "shared_state": {"lsn": 42, "nothing": null},
        "stream_states": [
            {"stream_descriptor": {"name": "a"}, "stream_state": {"c": 1}},
            {"stream_descriptor": {"name": "b", "namespace": "ns"}, "stream_state": {"c": 2}}
        ]}, "sourceStats": {"recordCount": 1.0}, "future_field": [1]}});
    let lines = vec![record_line("a", json!({"id": 1})), global.to_string()];
    load(&cache, &cat, WriteStrategy::Append, &lines);
    let msgs = cache.state_messages("source-test").unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].kind(), StateType::Global);
    let back: Value = serde_json::to_value(&msgs[0]).unwrap();
    assert_eq!(back, global["state"]);
    let p = cache.get_state_provider("source-test").unwrap();
    assert_eq!(p.get_stream_state("b"), Some(&json!({"c": 2})));
    assert_eq!(
        p.known_stream_names().into_iter().collect::<Vec<_>>(),
        vec!["a", "b"]
    );
    assert_eq!(
        p.global_state().unwrap().shared_state,
        Some(json!({"lsn": 42, "nothing": null}))
    );
    assert!(cache.state_messages("other-source").unwrap().is_empty());

    // LEGACY, for another source in the same cache.
    let legacy = json!({"type": "STATE", "state": {"data": {"a": {"cursor": "x"}}}});
    let mut w = cache
        .begin_load("legacy-src", &cat, WriteStrategy::Append, eager())
        .unwrap();
    feed(&mut w, &[legacy.to_string()]);
    w.finish().unwrap();
    let msgs = cache.state_messages("legacy-src").unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(serde_json::to_value(&msgs[0]).unwrap(), legacy["state"]);
    assert_eq!(cache.state_messages("source-test").unwrap().len(), 1);
}

#[test]
fn pyairbyte_state_rows_are_read_back() {
    let (_d, cache) = temp_cache();
    // What PyAirbyte 0.71 writes (pydantic model_dump_json, by field name).
    let row = r#"{"type":"STREAM","stream":{"stream_descriptor":{"name":"users","namespace":null},"stream_state":{"updated_at":"2024-01-01","x":null}},"global_":null,"data":null,"sourceStats":null,"destinationStats":null}"#;
    cache
        .execute(&format!(
            "INSERT INTO _airbyte_state VALUES ('source-faker', 'users', 'users', '{row}', now())"
        ))
        .unwrap();
    let msgs = cache.state_messages("source-faker").unwrap();
    assert_eq!(msgs.len(), 1);
    let back = serde_json::to_value(&msgs[0]).unwrap();
    assert_eq!(
        back,
        json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": "users"},
            "stream_state": {"updated_at": "2024-01-01", "x": null}}})
    );
    let p = cache.get_state_provider("source-faker").unwrap();
    assert_eq!(
        p.to_state_file_json(),
        serde_json::to_string(&vec![back]).unwrap()
    );
}

#[test]
fn datasets_iterate_filter_chunk_and_export() {
    let (dir, cache) = temp_cache();
    let schema = json!({"properties": {"id": {"type": "integer"}, "name": {"type": "string"},
        "at": {"type": "string", "format": "date-time"}, "tags": {"type": "array"}}});
    let cat = catalog(vec![stream("users", schema, &["id"], None)]);
    let lines: Vec<String> = (0..200)
        .map(|i| record_line("users", json!({"id": i, "name": format!("n{i}"), "at": "2024-01-01T00:00:00Z", "tags": [i]})))
        .collect();
    load(&cache, &cat, WriteStrategy::Auto, &lines);
    let ds = cache.dataset("users").unwrap();
    assert_eq!(ds.len().unwrap(), 200);
    let batches = ds.to_arrow(10).unwrap();
    assert_eq!(batches.len(), 20);
    assert!(batches.iter().all(|b| b.num_rows() == 10));
    let filtered = ds.with_filter("id >= 150").with_filter("id < 160");
    assert_eq!(filtered.len().unwrap(), 10);
    assert_eq!(filtered.to_arrow(3).unwrap().len(), 4);
    let rows: Vec<_> = filtered.iter().unwrap().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 10);
    assert_eq!(rows[0]["tags"], json!([150]));
    assert!(rows[0].contains_key("_airbyte_raw_id"));
    assert_eq!(rows[0]["at"], json!("2024-01-01T00:00:00+00:00"));
    let all = ds.iter().unwrap().count();
    assert_eq!(all, 200);
    assert!(ds.with_filter("no_such_column = 1").iter().is_err());

    // Parquet round trip.
    let path = dir.path().join("users.parquet");
    assert_eq!(filtered.to_parquet(&path).unwrap(), 10);
    let file = std::fs::File::open(&path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let n: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(n, 10);
    // And DuckDB reads our Parquet back only with its parquet extension; compare via query.
    let q = cache.query("SELECT 1 AS one").unwrap();
    assert_eq!(q[0].num_rows(), 1);
}

#[test]
fn default_and_local_cache_paths() {
    let dir = tempfile::tempdir().unwrap();
    // SAFETY-free: env is process-global; this test only reads paths derived from it.
    let root = dir.path().to_path_buf();
    let c = abrs_caches::DuckDbCache::new(root.join("x").join("db_x.duckdb"));
    assert!(c.db_path().ends_with("x/db_x.duckdb"));
    assert!(abrs_caches::new_local_cache("bad name").is_err());
    let local = abrs_caches::new_local_cache("my_cache").unwrap();
    assert!(local.db_path().ends_with("my_cache/db_my_cache.duckdb"));
    assert!(
        abrs_caches::default_cache()
            .db_path()
            .ends_with("default_cache/default_cache.duckdb")
    );
}

#[test]
fn memory_limit_is_applied_when_the_file_is_opened() {
    let dir = tempfile::tempdir().unwrap();
    let cache =
        abrs_caches::DuckDbCache::new(dir.path().join("m.duckdb")).with_memory_limit("100MB");
    let limit = strings(&cache, "SELECT current_setting('memory_limit')");
    assert!(
        limit[0]
            .as_deref()
            .is_some_and(|l| l.contains("MiB") || l.contains("MB")),
        "{limit:?}"
    );
}
