//! File compatibility with PyAirbyte 0.71's duckdb (1.4.3), both ways.
//!
//! Runs only when `ABRS_TEST_PYTHON_DUCKDB` names a Python that has `duckdb==1.4.3`, e.g.
//! `uv venv /tmp/d && uv pip install --python /tmp/d/bin/python duckdb==1.4.3`, then
//! `ABRS_TEST_PYTHON_DUCKDB=/tmp/d/bin/python cargo test --release -p abrs-caches`.

mod common;

use std::process::Command;

use abrs_caches::{DuckDbCache, WriteStrategy};
use common::*;
use serde_json::json;

fn python() -> Option<String> {
    let p = std::env::var("ABRS_TEST_PYTHON_DUCKDB")
        .ok()
        .filter(|p| !p.is_empty());
    if p.is_none() {
        eprintln!("skipped: set ABRS_TEST_PYTHON_DUCKDB to a Python with duckdb==1.4.3");
    }
    p
}

fn run_python(python: &str, code: &str) -> String {
    let out = Command::new(python)
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
}

#[test]
fn pyairbyte_duckdb_opens_our_file() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ours.duckdb");
    let cache = DuckDbCache::new(&path);
    let schema = json!({"properties": {"id": {"type": "integer"}, "o": {"type": "object"},
        "at": {"type": "string", "format": "date-time"}}});
    let cat = catalog(vec![stream("users", schema, &["id"], None)]);
    let lines = vec![
        record_line(
            "users",
            json!({"id": 1, "o": {"k": 1}, "at": "2024-01-01T00:00:00Z"}),
        ),
        stream_state_line("users", json!({"c": 1})),
    ];
    load(&cache, &cat, WriteStrategy::Auto, &lines);
    cache.close();
    let got = run_python(
        &py,
        &format!(
            "import duckdb; c = duckdb.connect({:?}, read_only=True); \
             print(c.sql('select count(*), max(id) from users').fetchone(), \
             c.sql('select state_json from _airbyte_state').fetchone()[0])",
            path.display().to_string()
        ),
    );
    assert_eq!(
        got,
        r#"(1, 1) {"type":"STREAM","stream":{"stream_descriptor":{"name":"users"},"stream_state":{"c":1}}}"#
    );
}

#[test]
fn we_open_a_file_made_by_pyairbyte_duckdb() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("theirs.duckdb");
    // The tables PyAirbyte 0.71 creates (TIMESTAMP naive and DECIMAL(38,9), §2.3).
    run_python(
        &py,
        &format!(
            r#"import duckdb; c = duckdb.connect({:?})
c.execute("create table _airbyte_state (source_name varchar, stream_name varchar, table_name varchar primary key, state_json varchar, last_updated timestamp)")
c.execute("create table _airbyte_streams (stream_name varchar, source_name varchar, table_name varchar primary key, catalog_metadata varchar)")
c.execute("create table users (id bigint, score decimal(38,9), o json, _airbyte_raw_id varchar, _airbyte_extracted_at timestamp, _airbyte_meta json)")
c.execute("""insert into users values (1, 1.5, '{{"k":1}}', 'x', '2024-01-01 00:00:00', '{{}}')""")
c.execute("""insert into _airbyte_state values ('source-faker', 'users', 'users', '{{"type":"STREAM","stream":{{"stream_descriptor":{{"name":"users","namespace":null}},"stream_state":{{"c":1}}}},"global_":null,"data":null,"sourceStats":null,"destinationStats":null}}', now())""")
c.execute("insert into _airbyte_streams values ('users', 'DuckDBCache', 'users', '{{}}')")
c.close()"#,
            path.display().to_string()
        ),
    );
    let cache = DuckDbCache::new(&path);
    let ds = cache.dataset("users").unwrap();
    assert_eq!(ds.len().unwrap(), 1);
    let row = ds.iter().unwrap().next().unwrap().unwrap();
    assert_eq!(row["o"], json!({"k": 1}));
    let states = cache.state_messages("source-faker").unwrap();
    assert_eq!(
        states[0].stream.as_ref().unwrap().stream_state,
        Some(json!({"c": 1}))
    );
    // And we can keep loading into it (number → DOUBLE widening of DECIMAL, naive → tz).
    let schema = json!({"properties": {"id": {"type": "integer"}, "score": {"type": "number"}, "o": {"type": "object"}}});
    let cat = catalog(vec![stream("users", schema, &["id"], None)]);
    load(
        &cache,
        &cat,
        WriteStrategy::Auto,
        &[record_line(
            "users",
            json!({"id": 2, "score": 1e30, "o": [1]}),
        )],
    );
    assert_eq!(scalar_i64(&cache, "SELECT count(*) FROM users"), 2);
    // Datasets keep the database open: release everything before another process opens it.
    drop(ds);
    cache.close();
    let got = run_python(
        &py,
        &format!(
            "import duckdb; c = duckdb.connect({:?}, read_only=True); print(c.sql('select count(*) from users').fetchone()[0])",
            path.display().to_string()
        ),
    );
    assert_eq!(got, "2");
}
