//! The PostgreSQL cache against the real server (127.0.0.1:5432, user `postgres`, database
//! `test`). Each test works in a schema of its own, dropped afterwards. When the server cannot
//! be reached the tests say so and pass without checking anything.

mod common;

use abrs_caches::arrow::array::{Array, AsArray};
use abrs_caches::arrow::datatypes::DataType;
use abrs_caches::{
    Cache, CacheError, CacheWriter, LoadOptions, Password, PostgresCache, WriteMethod,
    WriteStrategy,
};
use common::{catalog, eager, record_line, stream, stream_state_line, users_schema};
use serde_json::{Value, json};

/// A cache in a fresh schema, dropped when the guard goes.
struct TestSchema {
    cache: PostgresCache,
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let admin = PostgresCache::new("127.0.0.1", 5432, "test", "postgres");
        let _ = admin.execute(&format!(
            "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            self.cache.schema_name()
        ));
    }
}

/// The test's cache, or `None` (with a message) when the server is unreachable.
fn pg(name: &str) -> Option<TestSchema> {
    let schema = format!("abrs_t_{name}_{}", std::process::id());
    let cache = PostgresCache::new("127.0.0.1", 5432, "test", "postgres").with_schema_name(&schema);
    let guard = TestSchema { cache };
    let _ = guard
        .cache
        .execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"));
    match guard.cache.check() {
        Ok(()) => Some(guard),
        Err(e @ CacheError::PostgresConnect { .. }) => {
            eprintln!("SKIPPED: PostgreSQL at 127.0.0.1:5432 is unreachable ({e})");
            std::mem::forget(guard);
            None
        }
        Err(e) => panic!("{e}"),
    }
}

fn load(
    cache: &PostgresCache,
    cat: &abrs_protocol::ConfiguredAirbyteCatalog,
    strategy: WriteStrategy,
    lines: &[String],
) -> abrs_caches::LoadSummary {
    let mut w = cache
        .begin_load("source-test", cat, strategy, eager())
        .expect("begin");
    common::feed(&mut w, lines);
    w.finish().expect("finish")
}

fn scalar(cache: &PostgresCache, sql: &str) -> i64 {
    let batches = cache.query(sql).expect("query");
    let col =
        abrs_caches::arrow::compute::cast(batches[0].column(0), &DataType::Int64).expect("cast");
    col.as_primitive::<abrs_caches::arrow::datatypes::Int64Type>()
        .value(0)
}

fn texts(cache: &PostgresCache, sql: &str) -> Vec<Option<String>> {
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

fn users(range: std::ops::Range<i64>, tag: &str) -> Vec<String> {
    range
        .map(|i| record_line("users", json!({"id": i, "name": format!("{tag}{i}")})))
        .collect()
}

#[test]
fn append_creates_pyairbyte_tables_with_postgres_types() {
    let Some(t) = pg("append") else { return };
    let c = &t.cache;
    let schema = json!({"type": "object", "properties": {
        "id": {"type": "integer"}, "name": {"type": ["null", "string"]},
        "score": {"type": "number"}, "ok": {"type": "boolean"},
        "born": {"type": "string", "format": "date"},
        "at": {"type": "string", "format": "date-time"},
        "tags": {"type": "array"}, "Nested Obj": {"type": "object"},
    }});
    let cat = catalog(vec![stream("users", schema, &[], Some("id"))]);
    let lines = vec![
        record_line(
            "users",
            json!({"id": 1, "name": "a", "score": 1.5, "ok": true,
            "born": "2000-02-29", "at": "2024-01-02T03:04:05.123456+02:00",
            "tags": ["x", 1], "Nested Obj": {"InnerKey": null}}),
        ),
        record_line("users", json!({"id": "not a number", "name": "b"})),
    ];
    let s = load(c, &cat, WriteStrategy::Auto, &lines);
    assert_eq!(s.streams["users"].method, WriteMethod::Append);
    assert_eq!(s.streams["users"].nulled_values, 1);
    load(c, &cat, WriteStrategy::Auto, &lines);
    assert_eq!(scalar(c, "SELECT count(*) FROM users"), 4);

    let types = texts(
        c,
        &format!(
            "SELECT column_name || ' ' || data_type FROM information_schema.columns \
             WHERE table_schema = '{}' AND table_name = 'users' ORDER BY ordinal_position",
            c.schema_name()
        ),
    );
    let types: Vec<String> = types.into_iter().flatten().collect();
    assert_eq!(
        types,
        [
            "id bigint",
            "name character varying",
            "score double precision",
            "ok boolean",
            "born date",
            "at timestamp with time zone",
            "tags jsonb",
            "nested_obj jsonb",
            "_airbyte_raw_id character varying",
            "_airbyte_extracted_at timestamp with time zone",
            "_airbyte_meta jsonb",
        ]
    );
    // Internal tables, PyAirbyte's names.
    for table in [
        "_airbyte_state",
        "_airbyte_streams",
        "_airbyte_destination_state",
    ] {
        assert_eq!(
            scalar(
                c,
                &format!(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = '{}' \
                     AND table_name = '{table}'",
                    c.schema_name()
                )
            ),
            1,
            "{table}"
        );
    }
    assert_eq!(
        texts(c, "SELECT source_name FROM _airbyte_streams"),
        [Some("source-test".to_string())]
    );

    // Values read back as they were sent; the misfit is NULL and recorded.
    let ds = c.dataset("users").unwrap();
    assert_eq!(ds.len().unwrap(), 4);
    let rows: Vec<_> = ds
        .with_filter("name = 'a'")
        .iter()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 2);
    let r = &rows[0];
    assert_eq!(r["id"], json!(1));
    assert_eq!(r["score"], json!(1.5));
    assert_eq!(r["ok"], json!(true));
    assert_eq!(r["born"], json!("2000-02-29"));
    // As the DuckDB cache gives them: RFC 3339 with the offset.
    assert_eq!(r["at"], json!("2024-01-02T01:04:05.123456+00:00"));
    assert_eq!(r["tags"], json!(["x", 1]));
    assert_eq!(r["nested_obj"], json!({"InnerKey": null}));
    assert_eq!(r["_airbyte_meta"], json!({"changes": []}));
    let bad: Vec<_> = ds
        .with_filter("name = 'b'")
        .iter()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(bad[0]["id"], Value::Null);
    assert_eq!(
        bad[0]["_airbyte_meta"]["changes"][0],
        json!({"field": "id", "change": "NULLED", "reason": "DESTINATION_TYPECAST_ERROR"})
    );
    let raw_id = rows[0]["_airbyte_raw_id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(raw_id).unwrap().get_version_num(), 7);

    // Arrow in chunks, Parquet, records by any spelling.
    let chunks = ds.to_arrow(3).unwrap();
    assert_eq!(
        chunks.iter().map(|b| b.num_rows()).collect::<Vec<_>>(),
        [3, 1]
    );
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(ds.to_parquet(dir.path().join("u.parquet")).unwrap(), 4);
    let first = ds.records().unwrap().next().unwrap().unwrap();
    assert!(first.get("NAME").is_some());
}

#[test]
fn merge_dedups_within_a_sync_and_across_syncs() {
    let Some(t) = pg("merge") else { return };
    let c = &t.cache;
    let cat = catalog(vec![stream("users", users_schema(), &["id"], Some("id"))]);
    // 0..20, then 10..30 again in the same sync (later wins), in batches of 7.
    let mut lines = users(0..20, "first");
    lines.extend(users(10..30, "second"));
    lines.push(stream_state_line("users", json!({"cursor": 29})));
    let s = load(c, &cat, WriteStrategy::Auto, &lines);
    assert_eq!(s.streams["users"].method, WriteMethod::Merge);
    assert_eq!(scalar(c, "SELECT count(*) FROM users"), 30);
    assert_eq!(scalar(c, "SELECT count(DISTINCT id) FROM users"), 30);
    assert_eq!(
        scalar(c, "SELECT count(*) FROM users WHERE name LIKE 'second%'"),
        20
    );
    // The next sync replaces what it sends again.
    load(c, &cat, WriteStrategy::Merge, &users(25..35, "third"));
    assert_eq!(scalar(c, "SELECT count(*) FROM users"), 35);
    assert_eq!(
        texts(c, "SELECT name FROM users WHERE id = 25"),
        [Some("third25".into())]
    );
    // Keys beyond the table's (copied straight in, without staging), then some of them again
    // in the same sync: the later rows still win.
    let mut lines = users(100..115, "fourth");
    lines.extend(users(110..112, "fifth"));
    load(c, &cat, WriteStrategy::Merge, &lines);
    assert_eq!(scalar(c, "SELECT count(*) FROM users"), 50);
    assert_eq!(
        texts(
            c,
            "SELECT name FROM users WHERE id IN (109, 110, 111, 112) ORDER BY id"
        ),
        [
            Some("fourth109".into()),
            Some("fifth110".into()),
            Some("fifth111".into()),
            Some("fourth112".into())
        ]
    );
    // No staging or shadow tables are left behind in the schema.
    assert_eq!(
        scalar(
            c,
            &format!(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = '{}' \
                 AND table_name LIKE '\\_abrs\\_%'",
                c.schema_name()
            )
        ),
        0
    );
    // Merge needs a primary key.
    let no_pk = catalog(vec![stream("events", users_schema(), &[], None)]);
    let e = c
        .begin_load("source-test", &no_pk, WriteStrategy::Merge, eager())
        .unwrap_err();
    assert!(
        matches!(e, CacheError::MergeWithoutPrimaryKey { .. }),
        "{e}"
    );
}

#[test]
fn replace_swaps_atomically_and_a_killed_replace_keeps_the_old_table() {
    let Some(t) = pg("replace") else { return };
    let c = &t.cache;
    let cat = catalog(vec![stream("users", users_schema(), &[], None)]);
    let s = load(c, &cat, WriteStrategy::Auto, &users(0..10, "old"));
    assert_eq!(s.streams["users"].method, WriteMethod::Replace);
    assert_eq!(scalar(c, "SELECT count(*) FROM users"), 10);

    // Killed half-way: readers keep seeing the old table.
    let mut w = c
        .begin_load("source-test", &cat, WriteStrategy::Replace, eager())
        .unwrap();
    common::feed(&mut w, &users(0..3, "new"));
    common::feed(&mut w, &[stream_state_line("users", json!({"n": 3}))]);
    assert_eq!(
        scalar(c, "SELECT count(*) FROM users WHERE name LIKE 'old%'"),
        10
    );
    drop(w);
    assert_eq!(scalar(c, "SELECT count(*) FROM users"), 10);
    assert!(c.state_messages("source-test").unwrap().is_empty());

    // The next replace drops the stale shadow and swaps in with its state.
    let mut lines = users(0..4, "new");
    lines.push(stream_state_line("users", json!({"n": 4})));
    load(c, &cat, WriteStrategy::Replace, &lines);
    assert_eq!(scalar(c, "SELECT count(*) FROM users"), 4);
    assert_eq!(
        scalar(c, "SELECT count(*) FROM users WHERE name LIKE 'new%'"),
        4
    );
    let states = c.state_messages("source-test").unwrap();
    assert_eq!(
        states[0].stream.as_ref().unwrap().stream_state,
        Some(json!({"n": 4}))
    );
}

#[test]
fn state_round_trips_and_a_killed_load_keeps_exactly_the_last_commit() {
    let Some(t) = pg("state") else { return };
    let c = &t.cache;
    let cat = catalog(vec![stream("users", users_schema(), &[], Some("id"))]);
    let mut w = c
        .begin_load("source-test", &cat, WriteStrategy::Append, eager())
        .unwrap();
    let mut lines = users(0..10, "u");
    lines.push(stream_state_line("users", json!({"cursor": 9})));
    lines.extend(users(10..25, "u"));
    common::feed(&mut w, &lines);
    drop(w); // as if killed: no finish
    assert_eq!(scalar(c, "SELECT count(*) FROM users"), 10);
    let states = c.state_messages("source-test").unwrap();
    assert_eq!(states.len(), 1);
    assert_eq!(
        states[0].stream.as_ref().unwrap().stream_state,
        Some(json!({"cursor": 9}))
    );

    // Resume: the next read continues from the committed state; GLOBAL state is kept too.
    let global = json!({"type": "STATE", "state": {"type": "GLOBAL", "global": {
        "shared_state": {"lsn": 42},
        "stream_states": [{"stream_descriptor": {"name": "users"}, "stream_state": {"cursor": 24}}]}}})
    .to_string();
    let mut lines = users(10..25, "u");
    lines.push(global);
    load(c, &cat, WriteStrategy::Append, &lines);
    assert_eq!(scalar(c, "SELECT count(DISTINCT id) FROM users"), 25);
    let provider = Cache::from(c).get_state_provider("source-test").unwrap();
    assert_eq!(
        provider.global_state().unwrap().shared_state,
        Some(json!({"lsn": 42}))
    );
    assert_eq!(
        provider.get_stream_state("users"),
        Some(&json!({"cursor": 24}))
    );
    // Another prefix sees none of it.
    assert!(
        c.clone()
            .with_table_prefix("other_")
            .state_messages("source-test")
            .unwrap()
            .is_empty()
    );
}

/// Feeds lines until the writer fails (the connection went away).
fn feed_until_error(w: &mut CacheWriter, lines: &[String]) -> Option<CacheError> {
    let mut members = Vec::new();
    for line in lines {
        let r = match abrs_protocol::decode_line_with(line.as_bytes(), &mut members).unwrap() {
            abrs_protocol::Decoded::Record(r) => w.record(&r),
            abrs_protocol::Decoded::Message(m) => match &m.state {
                Some(s) => w.state(s),
                None => Ok(()),
            },
            abrs_protocol::Decoded::Blank => Ok(()),
        };
        if let Err(e) = r {
            return Some(e);
        }
    }
    None
}

#[test]
fn a_connection_killed_mid_load_fails_clearly_and_keeps_the_last_commit() {
    let Some(t) = pg("terminate") else { return };
    let c = &t.cache;
    let cat = catalog(vec![stream("users", users_schema(), &["id"], Some("id"))]);
    let mut lines = users(0..100, "a");
    lines.push(stream_state_line("users", json!({"cursor": 99})));
    let mut w = c
        .begin_load("source-test", &cat, WriteStrategy::Merge, eager())
        .unwrap();
    assert!(feed_until_error(&mut w, &lines).is_none());
    // The commit happens on the writer's thread: wait until it is visible.
    let started = std::time::Instant::now();
    while scalar(c, "SELECT count(*) FROM users") < 100 {
        assert!(started.elapsed().as_secs() < 30, "the commit never came");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Kill the load's server process.
    let killed = scalar(
        c,
        &format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE \
             application_name = 'abrs load {}'",
            c.schema_name()
        ),
    );
    assert_eq!(killed, 1);
    let mut more = users(100..200, "b");
    more.push(stream_state_line("users", json!({"cursor": 199})));
    let err = match feed_until_error(&mut w, &more) {
        Some(e) => e,
        None => w.finish().unwrap_err(),
    };
    let msg = err.to_string();
    assert!(msg.contains("PostgreSQL failed while"), "{msg}");
    assert_eq!(scalar(c, "SELECT count(*) FROM users"), 100);
    let states = c.state_messages("source-test").unwrap();
    assert_eq!(
        states[0].stream.as_ref().unwrap().stream_state,
        Some(json!({"cursor": 99}))
    );
    // The re-run resumes.
    load(c, &cat, WriteStrategy::Merge, &more);
    assert_eq!(scalar(c, "SELECT count(*) FROM users"), 200);
}

#[test]
fn numbers_too_long_for_double_keep_every_digit_and_names_fit_postgres() {
    let Some(t) = pg("numeric") else { return };
    let c = &t.cache;
    let long = "A Very Long Property Name That Goes On And On Past Sixty Three Bytes";
    let schema = json!({"type": "object", "properties": {
        "id": {"type": "integer"}, "amount": {"type": "number"}, long: {"type": "string"},
        format!("{long}!"): {"type": "string"},
    }});
    let stream_name = format!("{long} stream");
    let cat = catalog(vec![stream(&stream_name, schema, &[], None)]);
    let line = |id: &str, amount: &str| {
        format!(
            r#"{{"type":"RECORD","record":{{"stream":"{stream_name}","emitted_at":0,"data":{{"id":{id},"amount":{amount},"{long}":"x","{long}!":"y"}}}}}}"#
        )
    };
    let lines = vec![
        line("1", "1.5"),
        line("2", "0.1234567890123456789"),
        line("12345678901234567890", "2"),
    ];
    let mut w = c
        .begin_load(
            "source-test",
            &cat,
            WriteStrategy::Append,
            LoadOptions {
                batch_rows: 2,
                ..eager()
            },
        )
        .unwrap();
    common::feed(&mut w, &lines);
    let s = w.finish().unwrap();
    let table = &s.streams[&stream_name].table;
    assert_eq!(table.len(), 63);
    assert_eq!(
        texts(
            c,
            &format!("SELECT amount::text FROM \"{table}\" ORDER BY amount")
        ),
        [
            Some("0.1234567890123456789".into()),
            Some("1.5".into()),
            Some("2".into())
        ]
    );
    assert_eq!(
        texts(c, &format!("SELECT max(id)::text FROM \"{table}\"")),
        [Some("12345678901234567890".into())]
    );
    let cols: Vec<String> = c.dataset(&stream_name).unwrap().column_names().unwrap();
    assert!(cols.iter().all(|n| n.len() <= 63), "{cols:?}");
    assert_eq!(
        cols.iter().filter(|n| n.starts_with("a_very_long")).count(),
        2
    );
}

#[test]
fn schema_evolution_adds_columns() {
    let Some(t) = pg("evolve") else { return };
    let c = &t.cache;
    let cat = catalog(vec![stream("users", users_schema(), &[], Some("id"))]);
    load(c, &cat, WriteStrategy::Append, &users(0..2, "a"));
    let wider = json!({"type": "object", "properties": {
        "id": {"type": "integer"}, "name": {"type": ["null", "string"]},
        "email": {"type": "string"},
    }});
    let cat = catalog(vec![stream("users", wider, &[], Some("id"))]);
    load(
        c,
        &cat,
        WriteStrategy::Append,
        &[record_line("users", json!({"id": 5, "email": "e@x"}))],
    );
    assert_eq!(
        texts(c, "SELECT email FROM users ORDER BY id"),
        [None, None, Some("e@x".into())]
    );
}

#[test]
fn an_unreachable_server_names_host_port_and_user_but_not_the_password() {
    let cache = PostgresCache::new("127.0.0.1", 1, "test", "someone")
        .with_password(Password::new("hunter2-secret"));
    let cat = catalog(vec![stream("users", users_schema(), &[], None)]);
    let e = cache
        .begin_load("source-test", &cat, WriteStrategy::Auto, eager())
        .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, CacheError::PostgresConnect { .. }), "{msg}");
    for needle in [
        "127.0.0.1:1",
        "\"someone\"",
        "check that the server is running",
    ] {
        assert!(msg.contains(needle), "{needle}: {msg}");
    }
    assert!(!msg.contains("hunter2"), "{msg}");
    assert!(!format!("{cache:?}").contains("hunter2"));
    let e = Cache::from_spec("postgresql://u:hunter2@h:0x/d", None).unwrap_err();
    assert!(!e.to_string().contains("hunter2"), "{e}");
}
