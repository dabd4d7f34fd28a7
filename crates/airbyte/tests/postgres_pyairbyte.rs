//! Compatibility with PyAirbyte 0.71.3's `PostgresCache`, both ways, on the real server
//! (127.0.0.1:5432, user `postgres`, database `test`) with the fixture source: PyAirbyte opens
//! a cache we wrote, reads its records and continues its incremental state; we continue a cache
//! PyAirbyte wrote.
//!
//! PyAirbyte runs from `ABRS_TEST_PYAIRBYTE` (a Python with `airbyte==0.71.3` and `psycopg2`),
//! else `~/.cache/airbyte-rs/pyab/bin/python`; the test is skipped, saying so, when neither
//! imports, or when the server is unreachable.

use std::path::{Path, PathBuf};
use std::process::Command;

use airbyte as ab;
use serde_json::{Value, json};

/// PyAirbyte's side: reads `users` of the fixture source (`count` users) into the schema
/// with its `PostgresCache`, then prints what it read and what the table holds.
const PYAIRBYTE_READ: &str = r#"
import json, os, sys
import airbyte as ab
from airbyte.caches import PostgresCache
schema, fixture, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
cache = PostgresCache(host="127.0.0.1", port=5432, database="test", username="postgres",
                      password="unused-with-trust", schema_name=schema)
src = ab.get_source("source-fixture", local_executable=fixture,
                    config={"count": count, "products_count": 2, "state_every": 5})
src.select_streams(["users"])
r = src.read(cache=cache)
df = cache["users"].to_pandas().sort_values("id")
first = df.iloc[0]
address = first["address"]
print(json.dumps({"processed": r.processed_records,
                  "ids": [int(i) for i in df["id"]],
                  "first": {"name": first["name"],
                            "address": address if isinstance(address, dict) else json.loads(address),
                            "tags": list(first["tags"]) if not isinstance(first["tags"], str) else json.loads(first["tags"])}}))
"#;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/source-fixture")
}

fn pyairbyte() -> Option<PathBuf> {
    let python = std::env::var_os("ABRS_TEST_PYAIRBYTE")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/airbyte-rs/pyab/bin/python"))
        })?;
    let ok = Command::new(&python)
        .args(["-c", "import airbyte, psycopg2"])
        .env("DO_NOT_TRACK", "1")
        .env("AIRBYTE_OFFLINE_MODE", "1")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "SKIPPED: no PyAirbyte with psycopg2 at {} (set ABRS_TEST_PYAIRBYTE)",
            python.display()
        );
        return None;
    }
    Some(python)
}

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
    let schema = format!("abrs_pyab_{name}_{}", std::process::id());
    let cache =
        ab::PostgresCache::new("127.0.0.1", 5432, "test", "postgres").with_schema_name(&schema);
    if let Err(e) = cache.check() {
        eprintln!("SKIPPED: PostgreSQL at 127.0.0.1:5432 is unreachable ({e})");
        return None;
    }
    let _ = cache.execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"));
    Some(Schema(cache))
}

fn pyairbyte_read(python: &Path, dir: &Path, schema: &str, count: u64) -> Value {
    let script = dir.join("pyairbyte_read.py");
    std::fs::write(&script, PYAIRBYTE_READ).expect("script");
    let out = Command::new(python)
        .arg(&script)
        .arg(schema)
        .arg(fixture())
        .arg(count.to_string())
        .current_dir(dir)
        .env("DO_NOT_TRACK", "1")
        .env("AIRBYTE_OFFLINE_MODE", "1")
        .env("AIRBYTE_LOGGING_ROOT", dir.join("pyab-logs"))
        .env("NO_LIVE_PROGRESS", "1")
        .output()
        .expect("run PyAirbyte");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "PyAirbyte failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or("");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn our_read(cache: &ab::PostgresCache, count: u64) -> ab::ReadResult {
    let mut source = ab::get_source(
        &fixture().to_string_lossy(),
        Some(json!({"count": count, "products_count": 2, "state_every": 5})),
        ab::SourceOptions::default(),
    )
    .expect("source");
    source.select_streams(["users"]).expect("select");
    source
        .read(cache, ab::ReadOptions::default())
        .expect("read")
}

fn ids(cache: &ab::PostgresCache) -> Vec<i64> {
    let mut ids: Vec<i64> = cache
        .dataset("users")
        .expect("dataset")
        .iter()
        .expect("rows")
        .map(|r| r.expect("row")["id"].as_i64().expect("id"))
        .collect();
    ids.sort();
    ids
}

#[test]
fn pyairbyte_reads_and_continues_a_cache_we_wrote() {
    let Some(python) = pyairbyte() else { return };
    let Some(pg) = schema("ours") else { return };
    let dir = tempfile::tempdir().unwrap();
    let ours = our_read(&pg.0, 10);
    assert_eq!(ours.streams()["users"].records, 10);
    let our_first =
        pg.0.dataset("users")
            .expect("dataset")
            .iter()
            .expect("rows")
            .map(|r| r.expect("row"))
            .find(|r| r["id"] == 1)
            .expect("user 1");

    // PyAirbyte starts from our state: only the 5 new users are read; it reads all 15.
    let theirs = pyairbyte_read(&python, dir.path(), pg.0.schema_name(), 15);
    assert_eq!(theirs["processed"], 5, "{theirs}");
    assert_eq!(theirs["ids"], json!((1..=15).collect::<Vec<_>>()));
    assert_eq!(theirs["first"]["name"], our_first["name"]);
    assert_eq!(theirs["first"]["address"], our_first["address"]);
    assert_eq!(theirs["first"]["tags"], our_first["tags"]);

    // And we continue from the state PyAirbyte saved.
    let again = our_read(&pg.0, 18);
    assert_eq!(again.streams()["users"].records, 3);
    assert_eq!(ids(&pg.0), (1..=18).collect::<Vec<_>>());
}

#[test]
fn we_read_and_continue_a_cache_pyairbyte_wrote() {
    let Some(python) = pyairbyte() else { return };
    let Some(pg) = schema("theirs") else { return };
    let dir = tempfile::tempdir().unwrap();
    let theirs = pyairbyte_read(&python, dir.path(), pg.0.schema_name(), 10);
    assert_eq!(theirs["processed"], 10, "{theirs}");
    // Their records read back here, with their nested values.
    let first =
        pg.0.dataset("users")
            .expect("dataset")
            .iter()
            .expect("rows")
            .map(|r| r.expect("row"))
            .find(|r| r["id"] == 1)
            .expect("user 1");
    assert_eq!(first["address"], theirs["first"]["address"]);
    assert_eq!(first["tags"], theirs["first"]["tags"]);
    // Their state: only the new users are read, merged into their table (JSON columns and
    // all).
    let ours = our_read(&pg.0, 16);
    assert_eq!(ours.streams()["users"].records, 6);
    assert_eq!(ids(&pg.0), (1..=16).collect::<Vec<_>>());
    // PyAirbyte still reads the table after our load.
    let after = pyairbyte_read(&python, dir.path(), pg.0.schema_name(), 16);
    assert_eq!(after["processed"], 0, "{after}");
    assert_eq!(after["ids"], json!((1..=16).collect::<Vec<_>>()));
}
