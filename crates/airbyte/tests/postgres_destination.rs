//! `Destination::write` with a PostgreSQL cache and a PostgreSQL state cache, against the real
//! server (127.0.0.1:5432, user `postgres`, database `test`) and the fixture destination: the
//! replay of cached streams (the same records as from DuckDB), only new rows sent again, the
//! destination's state and progress in `_airbyte_destination_state` /
//! `_abrs_destination_streams`, straight-through writes resuming from the state kept there,
//! read results replayed, and `secret_reference::` passwords. Each test has a schema of its
//! own, dropped afterwards; skipped, saying so, when the server is unreachable.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use airbyte as ab;
use airbyte::arrow::util::display::array_value_to_string;
use serde_json::{Value, json};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn source(config: Value) -> ab::Source {
    let path = fixtures().join("source-fixture");
    let mut s = ab::get_source(
        &path.to_string_lossy(),
        Some(config),
        ab::SourceOptions::default(),
    )
    .expect("source");
    s.select_all_streams().expect("select");
    s
}

fn destination(dir: &Path) -> ab::Destination {
    let path = fixtures().join("destination-fixture");
    ab::get_destination(
        &path.to_string_lossy(),
        Some(json!({"fixture_dir": dir.join("dest")})),
        ab::DestinationOptions::default(),
    )
    .expect("destination")
}

/// A schema of the test's own, dropped at the end.
struct Schema(ab::PostgresCache);

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = self.0.execute(&format!(
            "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            self.0.schema_name()
        ));
    }
}

fn schema(name: &str) -> Option<Schema> {
    let schema = format!("abrs_dest_{name}_{}", std::process::id());
    let cache =
        ab::PostgresCache::new("127.0.0.1", 5432, "test", "postgres").with_schema_name(&schema);
    if let Err(e) = cache.check() {
        eprintln!("SKIPPED: PostgreSQL at 127.0.0.1:5432 is unreachable ({e})");
        return None;
    }
    let _ = cache.execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"));
    Some(Schema(cache))
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path:?}: {e}: {l}")))
        .collect()
}

fn table(dir: &Path, stream: &str) -> Vec<Value> {
    read_jsonl(&dir.join("dest/tables").join(format!("{stream}.jsonl")))
        .into_iter()
        .map(|row| row["data"].clone())
        .collect()
}

fn ids(rows: &[Value]) -> Vec<i64> {
    let mut ids: Vec<i64> = rows.iter().filter_map(|r| r["id"].as_i64()).collect();
    ids.sort();
    ids
}

fn scalar(cache: &ab::PostgresCache, sql: &str) -> String {
    let batches = cache.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    match batches.iter().find(|b| b.num_rows() > 0) {
        Some(b) => array_value_to_string(b.column(0), 0).expect("display"),
        None => String::new(),
    }
}

/// Timestamps compared as instants: the caches may write `Z` or `+00:00`.
fn same_record(got: &Value, want: &Value) -> bool {
    let (Some(g), Some(w)) = (got.as_object(), want.as_object()) else {
        return got == want;
    };
    w.iter().all(|(k, v)| match (g.get(k), v) {
        (None, Value::Null) => true,
        (Some(a), Value::String(b)) if k.ends_with("_at") => {
            let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
            a.as_str().and_then(t) == t(b)
        }
        (Some(a), b) => a == b,
        (None, _) => false,
    }) && g.keys().all(|k| !k.starts_with("_airbyte"))
}

#[test]
fn a_postgres_cache_is_replayed_like_a_duckdb_one_and_keeps_the_destination_state() {
    let Some(pg) = schema("replay") else { return };
    let dir = tempfile::tempdir().unwrap();
    let dest = destination(dir.path());
    let src = source(json!({"count": 30, "products_count": 4, "state_every": 7}));
    let cache: ab::Cache = pg.0.clone().into();
    let opts = || ab::WriteOptions {
        cache: cache.clone().into(),
        ..Default::default()
    };
    let result = dest.write(&src, opts()).expect("write");
    // users, another stream of as many records, and the products.
    assert_eq!(result.processed_records(), 64);
    assert_eq!(
        ids(&table(dir.path(), "users")),
        (1..=30).collect::<Vec<_>>()
    );
    assert_eq!(table(dir.path(), "products").len(), 4);

    // The same source through a DuckDB cache: the destination gets the same records.
    let duck_dir = tempfile::tempdir().unwrap();
    let duck = ab::DuckDbCache::new(duck_dir.path().join("c.duckdb"));
    destination(duck_dir.path())
        .write(
            &src,
            ab::WriteOptions {
                cache: ab::CacheChoice::Given(duck),
                ..Default::default()
            },
        )
        .expect("duckdb write");
    let by_id = |rows: Vec<Value>| -> BTreeMap<i64, Value> {
        rows.into_iter()
            .map(|r| (r["id"].as_i64().unwrap(), r))
            .collect()
    };
    let from_pg = by_id(table(dir.path(), "users"));
    let from_duck = by_id(table(duck_dir.path(), "users"));
    assert_eq!(from_pg.len(), from_duck.len());
    for (id, want) in &from_duck {
        assert!(
            same_record(&from_pg[id], want),
            "user {id}: {} vs {want}",
            from_pg[id]
        );
    }

    // The destination's state and progress are in the cache's schema.
    let state_rows = scalar(
        &pg.0,
        "SELECT count(*) FROM _airbyte_destination_state WHERE stream_name = 'users'",
    );
    assert_eq!(state_rows, "1");
    let through = scalar(
        &pg.0,
        "SELECT replayed_through FROM _abrs_destination_streams WHERE stream_name = 'users'",
    );
    let max_id = scalar(
        &pg.0,
        "SELECT max(_airbyte_raw_id::text COLLATE \"C\") FROM users",
    );
    assert_eq!(through, max_id);
    let provider =
        pg.0.get_destination_state_provider(dest.name(), src.name())
            .expect("destination state");
    assert!(!provider.state_messages().is_empty());

    // Nothing new: no user is sent again; the products (no cursor) are overwritten in full.
    let again = dest.write(&src, opts()).expect("second write");
    assert_eq!(again.streams()["users"].records_sent, 0);
    assert_eq!(again.streams()["products"].records_sent, 4);
    assert_eq!(table(dir.path(), "users").len(), 30);

    // More users: only the new ones are sent.
    let more = source(json!({"count": 45, "products_count": 4, "state_every": 7}));
    let third = dest.write(&more, opts()).expect("third write");
    assert_eq!(third.streams()["users"].records_sent, 15);
    assert_eq!(
        ids(&table(dir.path(), "users")),
        (1..=45).collect::<Vec<_>>()
    );
}

#[test]
fn straight_through_keeps_state_in_postgres_and_resumes_from_it() {
    let Some(pg) = schema("straight") else { return };
    let dir = tempfile::tempdir().unwrap();
    let dest = destination(dir.path());
    let opts = || ab::WriteOptions {
        cache: ab::CacheChoice::None,
        state_cache: pg.0.clone().into(),
        ..Default::default()
    };
    let first = dest
        .write(
            &source(json!({"count": 12, "products_count": 0, "state_every": 4})),
            opts(),
        )
        .expect("first");
    assert_eq!(first.streams()["users"].records_sent, 12);
    let stored = scalar(
        &pg.0,
        "SELECT state_json FROM _airbyte_destination_state WHERE stream_name = 'users'",
    );
    let stored: Value = serde_json::from_str(&stored).expect("state json");
    assert_eq!(stored["type"], "STREAM");
    // The next write starts from the state the destination confirmed.
    let second = dest
        .write(
            &source(json!({"count": 20, "products_count": 0, "state_every": 4})),
            opts(),
        )
        .expect("second");
    assert_eq!(second.streams()["users"].records_sent, 8);
    assert_eq!(
        ids(&table(dir.path(), "users")),
        (1..=20).collect::<Vec<_>>()
    );
}

#[test]
fn a_read_result_in_postgres_is_replayed_from_it() {
    let Some(pg) = schema("result") else { return };
    let dir = tempfile::tempdir().unwrap();
    let src = source(json!({"count": 9, "products_count": 2}));
    let read = src.read(&pg.0, ab::ReadOptions::default()).expect("read");
    let result = destination(dir.path())
        .write(&read, ab::WriteOptions::default())
        .expect("write");
    assert_eq!(result.processed_records(), 20);
    assert_eq!(
        ids(&table(dir.path(), "users")),
        (1..=9).collect::<Vec<_>>()
    );
    // State is kept in the read's cache (the default state cache is the cache).
    assert_eq!(
        scalar(
            &pg.0,
            "SELECT count(*) FROM _airbyte_destination_state WHERE stream_name = 'users'"
        ),
        "1"
    );
}

#[test]
fn a_secret_reference_password_is_hydrated_before_connecting() {
    let Some(pg) = schema("secret") else { return };
    // SAFETY: set before any thread of this test reads the environment; the name is unique.
    unsafe { std::env::set_var("ABRS_TEST_PG_CACHE_PASSWORD", "not-needed-with-trust") };
    let url = format!(
        "postgresql://postgres:secret_reference::ABRS_TEST_PG_CACHE_PASSWORD@127.0.0.1:5432/\
         test?schema={}",
        pg.0.schema_name()
    );
    let cache = ab::Cache::from_spec(&url, None).expect("url");
    let hydrated = ab::hydrate_cache(&cache).expect("hydrate");
    assert_eq!(
        hydrated
            .as_postgres()
            .and_then(|c| c.password())
            .map(|p| p.expose()),
        Some("not-needed-with-trust")
    );
    let src = source(json!({"count": 3, "products_count": 0}));
    let read = src.read(&cache, ab::ReadOptions::default()).expect("read");
    assert_eq!(read.streams()["users"].records, 3);
    assert_eq!(read.get("users").expect("dataset").len().expect("len"), 3);

    // A secret nobody has: the read fails before the connector starts, naming the secret.
    let missing = ab::Cache::from_spec(
        &url.replace("ABRS_TEST_PG_CACHE_PASSWORD", "ABRS_TEST_PG_NO_SUCH_SECRET"),
        None,
    )
    .expect("url");
    let e = src
        .read(&missing, ab::ReadOptions::default())
        .expect_err("no secret");
    assert!(e.to_string().contains("ABRS_TEST_PG_NO_SUCH_SECRET"), "{e}");
}

#[test]
fn get_sql_cache_opens_what_a_postgres_destination_config_points_at() {
    let Some(pg) = schema("sqlcache") else { return };
    // Data where a Postgres destination with this config would have written it.
    let src = source(json!({"count": 4, "products_count": 0}));
    src.read(&pg.0, ab::ReadOptions::default()).expect("read");
    // SAFETY: set before any thread of this test reads the environment; the name is unique.
    unsafe { std::env::set_var("ABRS_TEST_PG_DEST_PASSWORD", "trust-ignores-it") };
    let dir = tempfile::tempdir().unwrap();
    let config = json!({
        "fixture_dir": dir.path().join("dest"),
        "destinationType": "postgres",
        "host": "127.0.0.1", "port": 5432, "database": "test", "username": "postgres",
        "password": "secret_reference::ABRS_TEST_PG_DEST_PASSWORD",
        "schema": pg.0.schema_name(),
    });
    let dest = ab::get_destination(
        &fixtures().join("destination-fixture").to_string_lossy(),
        Some(config),
        ab::DestinationOptions::default(),
    )
    .expect("destination");
    assert!(dest.is_cache_supported());
    let cache = dest.get_sql_cache(None).expect("sql cache");
    let c = cache.as_postgres().expect("a postgres cache");
    assert_eq!(c.schema_name(), pg.0.schema_name());
    assert_eq!(c.password().map(|p| p.expose()), Some("trust-ignores-it"));
    assert_eq!(
        cache.dataset("users").expect("dataset").len().expect("len"),
        4
    );
    // The paired destination config points back at the same place.
    let paired = ab::destination::paired_destination_config(&cache);
    assert_eq!(paired["destinationType"], "postgres");
    assert_eq!(paired["schema"], pg.0.schema_name());
    let back = ab::destination::destination_config_to_cache("postgres", &paired).expect("back");
    assert_eq!(back.place(), cache.place());
    // A schema override.
    let other = dest.get_sql_cache(Some("elsewhere")).expect("sql cache");
    assert_eq!(other.schema_name(), "elsewhere");
}
