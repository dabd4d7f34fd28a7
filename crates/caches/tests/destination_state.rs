//! Destination state (`_airbyte_destination_state`, PyAirbyte's table) and per-stream
//! destination progress (`_abrs_destination_streams`) on real DuckDB files.

mod common;

use abrs_caches::{
    DESTINATION_STATE_TABLE, DESTINATION_STREAMS_TABLE, DestinationStreamProgress, DuckDbCache,
};
use abrs_protocol::AirbyteStateMessage;
use common::*;
use serde_json::{Value, json};

fn state(v: Value) -> AirbyteStateMessage {
    serde_json::from_value(v).expect("state message")
}

fn stored_json(cache: &DuckDbCache, dest: &str, stream: &str) -> Value {
    let rows = strings(
        cache,
        &format!(
            "SELECT state_json FROM {DESTINATION_STATE_TABLE} WHERE destination_name = '{dest}' \
             AND source_name LIKE 'source-test%' AND stream_name = '{stream}'"
        ),
    );
    assert_eq!(rows.len(), 1, "one row for {dest}/{stream}");
    serde_json::from_str(rows[0].as_deref().expect("state_json")).expect("stored JSON")
}

#[test]
fn destination_state_stream_round_trip() {
    let (_d, cache) = temp_cache();
    // Nothing stored yet: no state, and the table exists (PyAirbyte creates it with the others).
    let empty = cache
        .get_destination_state_provider("destination-x", "source-test")
        .unwrap();
    assert!(empty.state_messages().is_empty());

    let users1 = state(json!({"type": "STREAM", "stream": {
        "stream_descriptor": {"name": "users"}, "stream_state": {"cursor": 3}},
        "destinationStats": {"recordCount": 3.0}}));
    let users2 = state(json!({"type": "STREAM", "stream": {
        "stream_descriptor": {"name": "users"}, "stream_state": {"cursor": 7, "n": null}},
        "destinationStats": {"recordCount": 4.0}, "futureField": [1]}));
    let orders = state(json!({"type": "STREAM", "stream": {
        "stream_descriptor": {"name": "orders"}, "stream_state": {"cursor": "b"}}}));
    cache
        .write_destination_state("destination-x", "source-test", &users1)
        .unwrap();
    let first_time = strings(
        &cache,
        &format!("SELECT last_updated::VARCHAR FROM {DESTINATION_STATE_TABLE}"),
    );
    std::thread::sleep(std::time::Duration::from_millis(5));
    for s in [&users2, &orders] {
        cache
            .write_destination_state("destination-x", "source-test", s)
            .unwrap();
    }
    // Another destination and another source are isolated.
    let other = state(json!({"type": "STREAM", "stream": {
        "stream_descriptor": {"name": "users"}, "stream_state": {"cursor": 100}}}));
    cache
        .write_destination_state("destination-y", "source-test", &other)
        .unwrap();
    cache
        .write_destination_state("destination-x", "source-other", &other)
        .unwrap();

    let provider = cache
        .get_destination_state_provider("destination-x", "source-test")
        .unwrap();
    // By stream name; the later users state replaced the earlier one, unknown fields kept.
    assert_eq!(provider.state_messages(), &[orders.clone(), users2.clone()]);
    assert_eq!(
        provider.get_stream_state("users"),
        Some(&json!({"cursor": 7, "n": null}))
    );
    assert_eq!(
        provider
            .known_stream_names()
            .into_iter()
            .collect::<Vec<_>>(),
        ["orders", "users"]
    );
    assert_eq!(
        cache
            .get_destination_state_provider("destination-y", "source-test")
            .unwrap()
            .state_messages(),
        &[other]
    );
    let stored = stored_json(&cache, "destination-x", "users");
    assert_eq!(stored["destinationStats"]["recordCount"], json!(4.0));
    assert_eq!(stored["futureField"], json!([1]));

    // last_updated is the time of each write (PyAirbyte stores its import time).
    let users_time = strings(
        &cache,
        &format!(
            "SELECT last_updated::VARCHAR FROM {DESTINATION_STATE_TABLE} WHERE \
             destination_name = 'destination-x' AND source_name = 'source-test' AND \
             stream_name = 'users'"
        ),
    );
    assert_ne!(users_time, first_time);
    assert_eq!(
        scalar_i64(
            &cache,
            &format!(
                "SELECT count(*) FROM {DESTINATION_STATE_TABLE} WHERE last_updated IS NULL OR \
                 epoch_ms(last_updated) > epoch_ms(now()) OR \
                 epoch_ms(last_updated) < epoch_ms(now()) - 60000"
            )
        ),
        0
    );
    // The state survives reopening the file.
    let path = cache.db_path().to_path_buf();
    cache.close();
    drop(cache);
    let reopened = DuckDbCache::new(&path);
    assert_eq!(
        reopened
            .get_destination_state_provider("destination-x", "source-test")
            .unwrap()
            .state_messages()
            .len(),
        2
    );
}

#[test]
fn destination_state_global_is_stored_under_global() {
    let (_d, cache) = temp_cache();
    let stream = state(json!({"type": "STREAM", "stream": {
        "stream_descriptor": {"name": "users"}, "stream_state": {"cursor": 1}}}));
    let global = state(json!({"type": "GLOBAL", "global": {
        "shared_state": {"lsn": 42},
        "stream_states": [{"stream_descriptor": {"name": "users"}, "stream_state": {"c": 1}}]}}));
    cache
        .write_destination_state("destination-x", "source-test-cdc", &stream)
        .unwrap();
    cache
        .write_destination_state("destination-x", "source-test-cdc", &global)
        .unwrap();
    let stored = stored_json(&cache, "destination-x", "__global__");
    assert_eq!(stored["global"]["shared_state"], json!({"lsn": 42}));
    assert!(stored.get("global_").is_none(), "{stored}");
    // GLOBAL alone when there is one.
    let provider = cache
        .get_destination_state_provider("destination-x", "source-test-cdc")
        .unwrap();
    assert_eq!(provider.state_messages(), &[global]);
    assert_eq!(provider.get_stream_state("users"), Some(&json!({"c": 1})));
    assert_eq!(
        provider.to_state_file_json(),
        r#"[{"type":"GLOBAL","global":{"shared_state":{"lsn":42},"stream_states":[{"stream_descriptor":{"name":"users"},"stream_state":{"c":1}}]}}]"#
    );

    // LEGACY is kept too, and used only when there is neither GLOBAL nor STREAM state.
    let legacy = state(json!({"type": "LEGACY", "data": {"users": {"cursor": 9}}}));
    cache
        .write_destination_state("destination-x", "source-legacy", &legacy)
        .unwrap();
    assert_eq!(
        cache
            .get_destination_state_provider("destination-x", "source-legacy")
            .unwrap()
            .state_messages(),
        &[legacy]
    );
    assert_eq!(
        strings(
            &cache,
            &format!(
                "SELECT stream_name FROM {DESTINATION_STATE_TABLE} WHERE \
                 source_name = 'source-legacy'"
            )
        ),
        [Some("__legacy__".to_string())]
    );
}

#[test]
fn destination_state_reads_rows_written_by_pyairbyte() {
    let (_d, cache) = temp_cache();
    // What PyAirbyte 0.71 stores: `AirbyteStateMessage.model_dump_json()` (field names,
    // `global_`, every null written out), with its own `last_updated`.
    let pyairbyte_json = r#"{"type":"STREAM","stream":{"stream_descriptor":{"name":"users","namespace":null},"stream_state":{"cursor":4,"keep":null}},"global_":null,"data":null,"sourceStats":null,"destinationStats":{"recordCount":2.0}}"#;
    cache
        .execute(&format!(
            "INSERT INTO {DESTINATION_STATE_TABLE} VALUES ('destination-pgvector', 'source-faker', \
             'users', '{pyairbyte_json}', TIMESTAMPTZ '2024-01-01 00:00:00+00')"
        ))
        .unwrap();
    let provider = cache
        .get_destination_state_provider("destination-pgvector", "source-faker")
        .unwrap();
    let expected = state(json!({"type": "STREAM", "stream": {
        "stream_descriptor": {"name": "users"}, "stream_state": {"cursor": 4, "keep": null}},
        "destinationStats": {"recordCount": 2.0}}));
    assert_eq!(provider.state_messages(), &[expected]);

    // A GLOBAL state dumped by pydantic (`global_`) reads back as GLOBAL.
    let global_json = r#"{"type":"GLOBAL","stream":null,"global_":{"shared_state":{"lsn":7},"stream_states":[]},"data":null,"sourceStats":null,"destinationStats":null}"#;
    cache
        .execute(&format!(
            "INSERT INTO {DESTINATION_STATE_TABLE} VALUES ('destination-pgvector', 'source-pg', \
             '_GLOBAL', '{global_json}', now())"
        ))
        .unwrap();
    let provider = cache
        .get_destination_state_provider("destination-pgvector", "source-pg")
        .unwrap();
    assert_eq!(
        provider.global_state().and_then(|g| g.shared_state.clone()),
        Some(json!({"lsn": 7}))
    );

    // Our write replaces PyAirbyte's row (same key), in PyAirbyte's table layout.
    let ours = state(json!({"type": "STREAM", "stream": {
        "stream_descriptor": {"name": "users"}, "stream_state": {"cursor": 5}}}));
    cache
        .write_destination_state("destination-pgvector", "source-faker", &ours)
        .unwrap();
    assert_eq!(
        cache
            .get_destination_state_provider("destination-pgvector", "source-faker")
            .unwrap()
            .state_messages(),
        &[ours]
    );
    assert_eq!(
        strings(
            &cache,
            "SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY column_index) \
             FROM duckdb_columns() WHERE table_name = '_airbyte_destination_state'"
        ),
        [Some(
            "destination_name VARCHAR, source_name VARCHAR, stream_name VARCHAR, \
             state_json VARCHAR, last_updated TIMESTAMP WITH TIME ZONE"
                .to_string()
        )]
    );

    // A row that is not a state message: a clear error naming the row.
    cache
        .execute(&format!(
            "INSERT INTO {DESTINATION_STATE_TABLE} VALUES ('destination-pgvector', 'source-bad', \
             'users', '{{not json', now())"
        ))
        .unwrap();
    let err = cache
        .get_destination_state_provider("destination-pgvector", "source-bad")
        .unwrap_err()
        .to_string();
    assert!(err.contains("_airbyte_destination_state"), "{err}");
    assert!(err.contains("\"users\""), "{err}");
}

#[test]
fn destination_state_opens_a_table_pyairbyte_created() {
    // PyAirbyte's SQLAlchemy DDL, in a file we open afterwards.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pyairbyte.duckdb");
    {
        let conn = duckdb::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE _airbyte_destination_state (destination_name VARCHAR NOT NULL, \
             source_name VARCHAR NOT NULL, stream_name VARCHAR NOT NULL, state_json VARCHAR, \
             last_updated TIMESTAMP WITH TIME ZONE, \
             PRIMARY KEY (destination_name, source_name, stream_name));",
        )
        .unwrap();
    }
    let cache = DuckDbCache::new(&path);
    let s = state(json!({"type": "STREAM", "stream": {
        "stream_descriptor": {"name": "users"}, "stream_state": {"cursor": 1}}}));
    cache.write_destination_state("d", "s", &s).unwrap();
    cache.write_destination_state("d", "s", &s).unwrap();
    assert_eq!(
        cache
            .get_destination_state_provider("d", "s")
            .unwrap()
            .state_messages(),
        &[s]
    );
}

#[test]
fn destination_progress_round_trip() {
    let (_d, cache) = temp_cache();
    assert!(
        cache
            .get_destination_progress("destination-x", "source-test")
            .unwrap()
            .is_empty()
    );
    // Reading created nothing.
    assert_eq!(
        scalar_i64(
            &cache,
            &format!(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name = \
                 '{DESTINATION_STREAMS_TABLE}'"
            )
        ),
        0
    );
    let users = DestinationStreamProgress {
        generation_id: 3,
        sync_id: 12,
        replayed_table: Some("users".into()),
        replayed_through: Some("0190a1b2-0000-7000-8000-000000000000".into()),
    };
    let orders = DestinationStreamProgress {
        generation_id: 0,
        sync_id: 12,
        ..Default::default()
    };
    cache
        .set_destination_progress("destination-x", "source-test", "users", &users)
        .unwrap();
    cache
        .set_destination_progress("destination-x", "source-test", "orders", &orders)
        .unwrap();
    cache
        .set_destination_progress("destination-y", "source-test", "users", &orders)
        .unwrap();
    let got = cache
        .get_destination_progress("destination-x", "source-test")
        .unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got["users"], users);
    assert_eq!(got["orders"], orders);

    // A replace bumps the generation and forgets the replay position: the row is replaced.
    let replaced = DestinationStreamProgress {
        generation_id: 4,
        sync_id: 13,
        replayed_table: None,
        replayed_through: None,
    };
    cache
        .set_destination_progress("destination-x", "source-test", "users", &replaced)
        .unwrap();
    let got = cache
        .get_destination_progress("destination-x", "source-test")
        .unwrap();
    assert_eq!(got["users"], replaced);
    assert_eq!(
        cache
            .get_destination_progress("destination-y", "source-test")
            .unwrap()["users"],
        orders
    );
    assert_eq!(
        scalar_i64(
            &cache,
            &format!("SELECT count(*) FROM {DESTINATION_STREAMS_TABLE} WHERE last_updated IS NULL")
        ),
        0
    );
}

/// Runs only when `ABRS_TEST_PYTHON_DUCKDB` names a Python with `duckdb==1.4.3` (PyAirbyte
/// 0.71's), as `tests/pyairbyte_compat.rs` does.
#[test]
fn destination_state_tables_open_in_pyairbyte_duckdb() {
    let Some(py) = std::env::var("ABRS_TEST_PYTHON_DUCKDB")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        eprintln!("skipped: set ABRS_TEST_PYTHON_DUCKDB to a Python with duckdb==1.4.3");
        return;
    };
    let run = |code: String| {
        let out = std::process::Command::new(&py)
            .arg("-c")
            .arg(code)
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "python failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let dir = tempfile::tempdir().unwrap();

    // Ours, read by duckdb 1.4.3.
    let path = dir.path().join("ours.duckdb");
    let cache = DuckDbCache::new(&path);
    let s = state(json!({"type": "STREAM", "stream": {
        "stream_descriptor": {"name": "users"}, "stream_state": {"cursor": 1}}}));
    cache.write_destination_state("d", "s", &s).unwrap();
    let progress = DestinationStreamProgress {
        generation_id: 2,
        sync_id: 5,
        ..Default::default()
    };
    cache
        .set_destination_progress("d", "s", "users", &progress)
        .unwrap();
    cache.close();
    drop(cache);
    let got = run(format!(
        "import duckdb; c = duckdb.connect({:?}, read_only=True); \
         print(c.sql('select state_json from _airbyte_destination_state').fetchone()[0], \
         c.sql('select generation_id, sync_id from _abrs_destination_streams').fetchone())",
        path.display().to_string()
    ));
    assert_eq!(
        got,
        r#"{"type":"STREAM","stream":{"stream_descriptor":{"name":"users"},"stream_state":{"cursor":1}}} (2, 5)"#
    );

    // PyAirbyte's (its DDL and a pydantic dump, written by duckdb 1.4.3), read here.
    let path = dir.path().join("theirs.duckdb");
    run(format!(
        r#"import duckdb; c = duckdb.connect({:?})
c.execute("CREATE TABLE _airbyte_destination_state (destination_name VARCHAR NOT NULL, source_name VARCHAR NOT NULL, stream_name VARCHAR NOT NULL, state_json VARCHAR, last_updated TIMESTAMP WITH TIME ZONE, PRIMARY KEY (destination_name, source_name, stream_name))")
c.execute("""INSERT INTO _airbyte_destination_state VALUES ('destination-pgvector', 'source-faker', 'users', '{{"type":"STREAM","stream":{{"stream_descriptor":{{"name":"users","namespace":null}},"stream_state":{{"cursor":4}}}},"global_":null,"data":null,"sourceStats":null,"destinationStats":{{"recordCount":2.0}}}}', now())""")
c.close()"#,
        path.display().to_string()
    ));
    let cache = DuckDbCache::new(&path);
    let provider = cache
        .get_destination_state_provider("destination-pgvector", "source-faker")
        .unwrap();
    assert_eq!(
        provider.get_stream_state("users"),
        Some(&json!({"cursor": 4}))
    );
}
