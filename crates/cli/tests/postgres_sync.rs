//! `abrs sync --cache postgresql://…` and `--state-cache postgresql://…` against the real
//! server (127.0.0.1:5432, user `postgres`, database `test`), with the fixture source and
//! destination; each test in a schema of its own, dropped afterwards; skipped, saying so, when
//! the server is unreachable.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use airbyte as ab;
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

struct Schema {
    url: String,
    cache: ab::PostgresCache,
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = self.cache.execute(&format!(
            "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            self.cache.schema_name()
        ));
    }
}

fn schema(name: &str) -> Option<Schema> {
    let schema = format!("abrs_sync_{name}_{}", std::process::id());
    let url = format!("postgresql://postgres@127.0.0.1:5432/test?schema={schema}");
    let cache =
        ab::PostgresCache::new("127.0.0.1", 5432, "test", "postgres").with_schema_name(&schema);
    if let Err(e) = cache.check() {
        eprintln!("SKIPPED: PostgreSQL at 127.0.0.1:5432 is unreachable ({e})");
        return None;
    }
    let _ = cache.execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"));
    Some(Schema { url, cache })
}

fn sync(dir: &Path, source: &Value, dest: &Value, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_abrs"))
        .current_dir(dir)
        .env("AIRBYTE_LOGGING_ROOT", dir.join("logs"))
        .env("AIRBYTE_CACHE_ROOT", dir.join("cache"))
        .env("NO_LIVE_PROGRESS", "1")
        .env_remove("PGPASSWORD")
        .stdin(Stdio::null())
        .arg("sync")
        .args(["--source", &fixture("source-fixture")])
        .args(["--Sconfig", &source.to_string()])
        .args(["--destination", &fixture("destination-fixture")])
        .args(["--Dconfig", &dest.to_string()])
        .args(extra)
        .output()
        .expect("run abrs sync")
}

fn ok(out: &Output) -> Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "abrs failed ({:?}): {stderr}",
        out.status
    );
    serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).expect("json")
}

fn table_ids(fixture_dir: &Path, stream: &str) -> BTreeSet<i64> {
    std::fs::read_to_string(fixture_dir.join("tables").join(format!("{stream}.jsonl")))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|row| row["data"]["id"].as_i64())
        .collect()
}

#[test]
fn sync_through_a_postgres_cache_sends_only_what_is_new() {
    let Some(pg) = schema("cache") else { return };
    let dir = tempfile::tempdir().unwrap();
    let dest_dir = dir.path().join("dest");
    let dest = json!({"fixture_dir": dest_dir});
    let source = json!({"count": 25, "products_count": 2, "state_every": 10});
    let first = ok(&sync(
        dir.path(),
        &source,
        &dest,
        &["--cache", &pg.url, "--json"],
    ));
    assert_eq!(first["streams"]["users"]["records_sent"], 25);
    assert_eq!(table_ids(&dest_dir, "users").len(), 25);
    // The data went to PostgreSQL, not to the default DuckDB cache.
    assert!(!dir.path().join("cache/default_cache").exists());
    let n = pg
        .cache
        .dataset("users")
        .expect("dataset")
        .len()
        .expect("len");
    assert_eq!(n, 25);

    let more = json!({"count": 30, "products_count": 2, "state_every": 10});
    let second = ok(&sync(
        dir.path(),
        &more,
        &dest,
        &["--cache", &pg.url, "--json"],
    ));
    assert_eq!(second["streams"]["users"]["records_sent"], 5);
    assert_eq!(table_ids(&dest_dir, "users").len(), 30);
}

#[test]
fn straight_through_with_the_state_in_postgres() {
    let Some(pg) = schema("state") else { return };
    let dir = tempfile::tempdir().unwrap();
    let dest_dir = dir.path().join("dest");
    let dest = json!({"fixture_dir": dest_dir});
    let source = json!({"count": 12, "products_count": 0, "state_every": 4});
    let args = [
        "--cache",
        "none",
        "--state-cache",
        pg.url.as_str(),
        "--json",
    ];
    let first = ok(&sync(dir.path(), &source, &dest, &args));
    assert_eq!(first["streams"]["users"]["records_sent"], 12);
    let provider = pg
        .cache
        .get_destination_state_provider("destination-fixture", "source-fixture")
        .expect("state");
    assert!(!provider.state_messages().is_empty());
    let again = ok(&sync(dir.path(), &source, &dest, &args));
    assert_eq!(again["streams"]["users"]["records_sent"], 0);
}
