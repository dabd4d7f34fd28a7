//! `Source::read` into a real DuckDB file: PyAirbyte's scenarios (reference §3.1, items 3–13)
//! against the fixture connector and the real `airbyte-source-faker` from PyPI.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use airbyte as ab;
use airbyte::arrow::util::display::array_value_to_string;
use serde_json::{Value, json};

fn fixture() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/source-fixture")
        .to_string_lossy()
        .into_owned()
}

fn fixture_source(config: Value) -> ab::Source {
    let mut source =
        ab::get_source(&fixture(), Some(config), ab::SourceOptions::default()).expect("source");
    source.select_all_streams().expect("select");
    source
}

/// The first column of the first row of a query, as text.
fn scalar(cache: &ab::DuckDbCache, sql: &str) -> String {
    let batches = cache.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let batch = batches.iter().find(|b| b.num_rows() > 0).expect("a row");
    array_value_to_string(batch.column(0), 0).expect("display")
}

fn count(cache: &ab::DuckDbCache, table: &str) -> u64 {
    scalar(cache, &format!("select count(*) from {table}"))
        .parse()
        .expect("count")
}

fn read(source: &ab::Source, cache: &ab::DuckDbCache, strategy: &str, ffr: bool) -> ab::ReadResult {
    let options = ab::ReadOptions {
        write_strategy: strategy.parse().expect("strategy"),
        force_full_refresh: ffr,
        ..Default::default()
    };
    source.read(cache, options).expect("read")
}

#[test]
fn full_read_has_pyairbytes_layout() {
    let dir = tempfile::tempdir().expect("tmp");
    let cache = ab::DuckDbCache::new(dir.path().join("c.duckdb"));
    let source = fixture_source(json!({"count": 50, "products_count": 0}));
    let result = read(&source, &cache, "auto", false);

    let names: BTreeSet<&str> = result.stream_names().collect();
    assert_eq!(
        names,
        BTreeSet::from(["PurchaseOrders", "products", "users"])
    );
    assert_eq!(result.processed_records(), 100);
    assert_eq!(result.get("users").expect("users").len().expect("len"), 50);
    // An empty stream still gets its table; ReadResult includes it.
    assert_eq!(count(&cache, "products"), 0);
    // Names: CamelCase stream → lower-case table; dotted field → underscore column.
    assert_eq!(count(&cache, "purchaseorders"), 50);
    assert_eq!(
        scalar(&cache, "select count(contact_email) from users"),
        "50"
    );
    // Internal columns are never null; extracted_at is time-zone aware.
    assert_eq!(
        scalar(
            &cache,
            "select count(*) from users where _airbyte_raw_id is null \
             or _airbyte_extracted_at is null or _airbyte_meta is null"
        ),
        "0"
    );
    assert_eq!(
        scalar(
            &cache,
            "select data_type from information_schema.columns \
             where table_name = 'users' and column_name = '_airbyte_extracted_at'"
        ),
        "TIMESTAMP WITH TIME ZONE"
    );
    // The real source name (PyAirbyte wrote the cache class name).
    assert_eq!(
        scalar(&cache, "select distinct source_name from _airbyte_streams"),
        "source-fixture"
    );
    // Lookup by another case works too (PyAirbyte's is case-sensitive only).
    assert!(result.contains("purchaseorders"));
}

#[test]
fn reopen_and_table_prefixes_are_isolated() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("shared.duckdb");
    let mut source = fixture_source(json!({"count": 20}));
    source.select_streams(["users"]).expect("select");
    read(
        &source,
        &ab::DuckDbCache::new(&file).with_table_prefix("a_"),
        "auto",
        false,
    );
    source.select_streams(["products"]).expect("select");
    read(
        &source,
        &ab::DuckDbCache::new(&file).with_table_prefix("b_"),
        "auto",
        false,
    );

    let a = ab::DuckDbCache::new(&file).with_table_prefix("a_");
    let b = ab::DuckDbCache::new(&file).with_table_prefix("b_");
    assert_eq!(a.streams().expect("streams"), vec!["users".to_string()]);
    assert_eq!(b.streams().expect("streams"), vec!["products".to_string()]);
    assert_eq!(count(&a, "a_users"), 20);
    let a_state: Vec<String> = a
        .state_messages("source-fixture")
        .expect("state")
        .iter()
        .filter_map(|m| m.stream.as_ref().map(|s| s.stream_descriptor.name.clone()))
        .collect();
    assert_eq!(a_state, vec!["users".to_string()]);
    assert!(
        b.state_messages("source-fixture")
            .expect("state")
            .iter()
            .all(|m| m
                .stream
                .as_ref()
                .is_none_or(|s| s.stream_descriptor.name != "users"))
    );
}

#[test]
fn incremental_reads_extend_the_cache_and_resume_from_state() {
    let dir = tempfile::tempdir().expect("tmp");
    let cache = ab::DuckDbCache::new(dir.path().join("inc.duckdb"));
    let mut source = fixture_source(json!({"count": 30}));
    source.select_streams(["users"]).expect("select");
    let first = read(&source, &cache, "auto", false);
    assert_eq!(first.processed_records(), 30);
    // Same source again: the state is handed back, nothing new is emitted.
    let second = read(&source, &cache, "auto", false);
    assert_eq!(second.processed_records(), 0);
    assert_eq!(count(&cache, "users"), 30);
    // Another stream into the same cache: the cache holds both, the result only its own.
    source.select_streams(["products"]).expect("select");
    let third = read(&source, &cache, "auto", false);
    assert_eq!(third.stream_names().collect::<Vec<_>>(), vec!["products"]);
    assert_eq!(
        cache
            .streams()
            .expect("streams")
            .into_iter()
            .collect::<BTreeSet<_>>(),
        BTreeSet::from(["products".to_string(), "users".to_string()])
    );
    // force_full_refresh sends no state: everything again, merged by key.
    source.select_streams(["users"]).expect("select");
    let full = read(&source, &cache, "auto", true);
    assert_eq!(full.processed_records(), 30);
    assert_eq!(count(&cache, "users"), 30);
}

#[test]
fn append_grows_and_replace_stays() {
    let dir = tempfile::tempdir().expect("tmp");
    let cache = ab::DuckDbCache::new(dir.path().join("ar.duckdb"));
    let mut source = fixture_source(json!({"count": 10}));
    source.select_streams(["users"]).expect("select");
    for n in 1..=3 {
        read(&source, &cache, "append", true);
        assert_eq!(count(&cache, "users"), 10 * n);
    }
    for _ in 0..2 {
        read(&source, &cache, "replace", true);
        assert_eq!(count(&cache, "users"), 10);
    }
}

#[test]
fn a_trace_error_fails_the_read() {
    let dir = tempfile::tempdir().expect("tmp");
    let cache = ab::DuckDbCache::new(dir.path().join("err.duckdb"));
    let source = fixture_source(json!({"count": 10, "mode": "trace_error_exit0"}));
    let err = source
        .read(&cache, ab::ReadOptions::default())
        .expect_err("a TRACE ERROR must fail the read even with exit code 0");
    let text = err.to_string();
    assert!(text.contains("Simulated config error"), "{text}");
}

#[test]
fn datasets_filter_chunk_and_match_get_records() {
    let dir = tempfile::tempdir().expect("tmp");
    let cache = ab::DuckDbCache::new(dir.path().join("ds.duckdb"));
    let mut source = fixture_source(json!({"count": 200}));
    source.select_streams(["users"]).expect("select");
    let result = read(&source, &cache, "auto", false);
    let users = result.get("users").expect("users");
    assert_eq!(users.len().expect("len"), 200);
    let batches = users.to_arrow(10).expect("arrow");
    assert_eq!(batches.len(), 20);
    assert!(batches.iter().all(|b| b.num_rows() == 10));
    assert_eq!(users.with_filter("id <= 10").len().expect("len"), 10);
    assert_eq!(
        users
            .with_filter("id <= 10")
            .with_filter("id > 5")
            .len()
            .expect("len"),
        5
    );

    let mut cached: Vec<(i64, String)> = users
        .iter()
        .expect("iter")
        .map(|row| {
            let row = row.expect("row");
            (
                row["id"].as_i64().expect("id"),
                row["name"].as_str().expect("name").to_string(),
            )
        })
        .collect();
    cached.sort();
    let mut direct: Vec<(i64, String)> = source
        .get_records("users", None)
        .expect("records")
        .map(|r| {
            let r = r.expect("record");
            (
                r.get("id").and_then(Value::as_i64).expect("id"),
                r.get("name")
                    .and_then(Value::as_str)
                    .expect("name")
                    .to_string(),
            )
        })
        .collect();
    direct.sort();
    assert_eq!(cached, direct);
    // Rows as StreamRecords: case-insensitive access, internal columns included.
    let record = users
        .records()
        .expect("records")
        .next()
        .expect("one")
        .expect("record");
    assert!(record.get("ID").is_some_and(Value::is_i64));
    assert!(record.get("Contact_Email").is_some());
    assert!(record.get("_airbyte_raw_id").is_some_and(Value::is_string));
    let parquet = dir.path().join("users.parquet");
    assert_eq!(users.to_parquet(&parquet).expect("parquet"), 200);
}

#[test]
fn a_dropped_internal_column_is_added_back() {
    let dir = tempfile::tempdir().expect("tmp");
    let cache = ab::DuckDbCache::new(dir.path().join("cols.duckdb"));
    let mut source = fixture_source(json!({"count": 5}));
    source.select_streams(["users"]).expect("select");
    read(&source, &cache, "auto", false);
    cache
        .execute("alter table users drop column _airbyte_raw_id")
        .expect("drop");
    read(&source, &cache, "auto", true);
    assert_eq!(
        scalar(&cache, "select count(_airbyte_raw_id) from users"),
        "5"
    );
}

// ---- the real connector from PyPI ---------------------------------------------------------

fn venvs() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".cache/airbyte-rs/test-venvs")
}

fn faker(config: Value) -> ab::Source {
    let options = ab::SourceOptions {
        install_root: Some(venvs()),
        ..Default::default()
    };
    let mut source = ab::get_source("source-faker", Some(config), options).expect("faker");
    source.select_all_streams().expect("select");
    source
}

#[test]
fn faker_merge_seeds_a_a_b_a() {
    let dir = tempfile::tempdir().expect("tmp");
    let cache = ab::DuckDbCache::new(dir.path().join("faker.duckdb"));
    let a = faker(json!({"count": 200, "seed": 1234, "parallelism": 1}));
    let b = faker(json!({"count": 300, "seed": 5678, "parallelism": 1}));
    for (source, users) in [(&a, 200), (&a, 200), (&b, 300), (&a, 300)] {
        let result = read(source, &cache, "merge", true);
        assert!(result.processed_records() > 0);
        assert_eq!(count(&cache, "users"), users);
        assert_eq!(count(&cache, "products"), 100);
        assert_eq!(
            scalar(&cache, "select count(*) - count(distinct id) from users"),
            "0"
        );
    }
}

#[test]
fn faker_second_incremental_read_processes_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let cache = ab::DuckDbCache::new(dir.path().join("faker-inc.duckdb"));
    let source = faker(json!({"count": 100, "seed": 7, "parallelism": 1, "always_updated": false}));
    let first = read(&source, &cache, "auto", false);
    assert!(first.processed_records() >= 200);
    let second = read(&source, &cache, "auto", false);
    assert_eq!(second.processed_records(), 0);
    // The state survives across cache objects.
    let reopened = ab::DuckDbCache::new(dir.path().join("faker-inc.duckdb"));
    let provider = reopened.get_state_provider("source-faker").expect("state");
    assert_eq!(
        provider.known_stream_names(),
        BTreeSet::from([
            "products".to_string(),
            "purchases".to_string(),
            "users".to_string()
        ])
    );
    assert!(provider.get_stream_state("users").is_some());
}

#[test]
fn cancel_flag_stops_a_read_and_keeps_what_was_committed() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let dir = tempfile::tempdir().expect("tmp");
    let cache = ab::DuckDbCache::new(dir.path().join("c.duckdb"));
    let mut first = fixture_source(json!({"count": 3}));
    first.select_streams(["products"]).expect("select");
    read(&first, &cache, "auto", false);

    let mut slow = fixture_source(json!({"count": 100000, "sleep_per_record": 0.01}));
    slow.select_streams(["users"]).expect("select");
    let cancel = Arc::new(AtomicBool::new(false));
    let setter = {
        let cancel = Arc::clone(&cancel);
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(500));
            cancel.store(true, Ordering::SeqCst);
        })
    };
    let started = std::time::Instant::now();
    let options = ab::ReadOptions {
        cancel: Some(Arc::clone(&cancel)),
        ..Default::default()
    };
    let err = slow.read(&cache, options).expect_err("interrupted");
    setter.join().expect("setter");
    assert!(matches!(err, ab::Error::Interrupted { .. }), "{err}");
    assert!(err.to_string().contains("interrupted"), "{err}");
    // It stopped at the flag, not at the end of 100,000 slow records.
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    assert_eq!(count(&cache, "products"), 5);
}
