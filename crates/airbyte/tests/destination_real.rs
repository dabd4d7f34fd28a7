//! Real destination connectors from PyPI, installed by our own venv executor
//! (reference `destinations.md` §2):
//!
//! * `airbyte-destination-ailake` 0.1.16, unpatched: local Iceberg-style Parquet tables under
//!   `<table_base_path>/<stream>/data/*.parquet`, embeddings from our offline embedder
//!   (`tests/fixtures/embed-cmd`). Needs nothing but PyPI for the install: always runs.
//! * `airbyte-destination-pgvector` 0.1.13, installed with uv overrides (its published pins
//!   cannot be resolved), against the PostgreSQL 16 + pgvector server on 127.0.0.1:5433 and
//!   tiktoken's GPT-2 files, both prepared by `scripts/destinations-env.sh`. Skips, saying why,
//!   when either is missing or PyPI cannot be reached.
//!
//! The venvs live in `$HOME/.cache/airbyte-rs/test-venvs` (as in the connector tests), so
//! re-runs and CI reuse them: the first install takes seconds with uv's cache warm.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use airbyte as ab;
use airbyte::arrow::util::display::array_value_to_string;
use serde_json::{Value, json};

const AILAKE_VERSION: &str = "0.1.16";
const PGVECTOR_VERSION: &str = "0.1.13";
/// What makes destination-pgvector 0.1.13 installable and working (reference §2.2, pitfalls
/// 1 and 2): its own pin `airbyte-cdk[vector-db-based]==0.1.13` contradicts its pin on
/// `airbyte>=0.31.11,<0.32`; pandas ≥ 2.2 refuses its SQLAlchemy 1.4.
const PGVECTOR_OVERRIDES: [&str; 3] = [
    "airbyte-cdk[vector-db-based]>=7.3.9,<8",
    "pandas<2.2",
    "numpy<2",
];
const PGV_PORT: u16 = 5433;

/// Installs of the same venv must not run at the same time (tests run in parallel threads).
static INSTALL: Mutex<()> = Mutex::new(());

macro_rules! skip {
    ($($arg:tt)*) => {{
        eprintln!("SKIPPED: {}", format!($($arg)*));
        return;
    }};
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn install_root() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".cache/airbyte-rs/test-venvs")
}

fn fixture_source(config: Value) -> ab::Source {
    let path = fixtures().join("source-fixture");
    let mut source = ab::get_source(
        &path.to_string_lossy(),
        Some(config),
        ab::SourceOptions::default(),
    )
    .expect("fixture source");
    source.select_streams(["users"]).expect("select users");
    source
}

/// `get_destination` under the install lock, timed (the time is printed, never asserted).
fn get_destination(
    name: &str,
    config: Value,
    options: ab::DestinationOptions,
) -> ab::Result<ab::Destination> {
    let _lock = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let destination = ab::get_destination(name, Some(config), options);
    eprintln!(
        "{name}: get_destination (install if missing) took {:.1?}",
        started.elapsed()
    );
    destination
}

fn write_options(state_cache: &ab::DuckDbCache) -> ab::WriteOptions {
    ab::WriteOptions {
        cache: ab::CacheChoice::None,
        state_cache: ab::CacheChoice::Given(state_cache.clone()),
        ..Default::default()
    }
}

/// Every row of a query, each column as text.
fn rows(cache: &ab::DuckDbCache, sql: &str) -> Vec<Vec<String>> {
    let batches = cache.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut out = Vec::new();
    for batch in &batches {
        for row in 0..batch.num_rows() {
            out.push(
                (0..batch.num_columns())
                    .map(|c| array_value_to_string(batch.column(c), row).expect("display"))
                    .collect(),
            );
        }
    }
    out
}

/// The destination state the state cache holds for (destination, source, stream).
fn stored_cursor(
    state_cache: &ab::DuckDbCache,
    destination: &str,
    source: &str,
    stream: &str,
) -> Option<Value> {
    state_cache
        .get_destination_state_provider(destination, source)
        .expect("destination state")
        .get_stream_state(stream)
        .cloned()
}

// ---------------------------------------------------------------------------------------------
// destination-ailake

fn ailake_config(base: &Path) -> Value {
    json!({
        "table_base_path": base.to_string_lossy(),
        "embed_mode": "cmd",
        "embed_cmd": fixtures().join("embed-cmd").to_string_lossy(),
        "embedding_dim": 8,
        "text_field": "name",
        "batch_size": 512,
    })
}

fn ailake(base: &Path) -> ab::Destination {
    let options = ab::DestinationOptions {
        version: Some(AILAKE_VERSION.into()),
        install_root: Some(install_root()),
        ..Default::default()
    };
    let destination = get_destination("destination-ailake", ailake_config(base), options)
        .unwrap_or_else(|e| panic!("installing destination-ailake {AILAKE_VERSION}: {e}"));
    assert_eq!(
        destination.connector_version().as_deref(),
        Some(AILAKE_VERSION)
    );
    destination
}

/// Prints `[[id, text], ...]` of the Parquet files matching argv[1], sorted.
const READ_PARQUET: &str = r#"
import glob, json, sys
import pyarrow.parquet as pq
rows = []
for f in sorted(glob.glob(sys.argv[1])):
    t = pq.read_table(f, columns=["id", "text"])
    rows += zip(t.column("id").to_pylist(), t.column("text").to_pylist())
json.dump(sorted(rows), sys.stdout)
"#;

/// `id, text` (= the embedded `name`) of every row in the stream's Parquet files, sorted.
///
/// Read with pyarrow from the destination's own venv: the bundled DuckDB has no parquet
/// extension (`read_parquet` would need `INSTALL parquet`, from the network), and this crate
/// does not depend on the `parquet` crate.
fn parquet_rows(base: &Path, stream: &str) -> Vec<(i64, String)> {
    let python = install_root().join(".venv-destination-ailake/bin/python");
    let glob = base.join(stream).join("data/*.parquet");
    let out = Command::new(&python)
        .args(["-c", READ_PARQUET])
        .arg(&glob)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", python.display()));
    assert!(
        out.status.success(),
        "reading {} with pyarrow: {}",
        glob.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("rows as JSON")
}

/// `(id, name)` of the fixture's users, read from the source itself.
fn fixture_users(count: u64) -> Vec<(i64, String)> {
    let source = fixture_source(json!({"count": count}));
    let mut users: Vec<(i64, String)> = source
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
    users.sort();
    users
}

#[test]
fn ailake_writes_the_fixture_users_to_parquet_and_resumes_from_its_state() {
    let tmp = tempfile::tempdir().expect("tmp");
    let base = tmp.path().join("lake");
    let destination = ailake(&base);
    let state_cache = ab::DuckDbCache::new(tmp.path().join("state.duckdb"));

    // 100 users, a STATE every 25: ailake commits all streams at each STATE, then echoes it.
    let source = fixture_source(json!({"count": 100, "state_every": 25}));
    let result = destination
        .write(&source, write_options(&state_cache))
        .unwrap_or_else(|e| panic!("write to destination-ailake: {e}"));
    assert_eq!(result.processed_records(), 100);
    assert!(result.streams().contains_key("users"));
    assert_eq!(parquet_rows(&base, "users"), fixture_users(100));

    // The last echoed state is stored for (destination, source, stream), and the result
    // shows it too.
    let last = json!({"updated_at": "2024-01-01T01:40:00+00:00"});
    assert_eq!(
        stored_cursor(&state_cache, "destination-ailake", source.name(), "users"),
        Some(last.clone())
    );
    assert_eq!(
        result.get_state_provider().get_stream_state("users"),
        Some(&last)
    );

    // The next write starts from that state: only the 20 new users go, none twice.
    let source = fixture_source(json!({"count": 120, "state_every": 25}));
    let result = destination
        .write(&source, write_options(&state_cache))
        .unwrap_or_else(|e| panic!("second write to destination-ailake: {e}"));
    assert_eq!(result.processed_records(), 20);
    assert_eq!(parquet_rows(&base, "users"), fixture_users(120));
    assert_eq!(
        stored_cursor(&state_cache, "destination-ailake", source.name(), "users"),
        Some(json!({"updated_at": "2024-01-01T02:00:00+00:00"}))
    );
}

#[test]
fn ailake_gets_source_faker_users_through_a_duckdb_cache() {
    let tmp = tempfile::tempdir().expect("tmp");
    let base = tmp.path().join("lake");
    let destination = ailake(&base);
    let mut source = {
        let _lock = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
        ab::get_source(
            "source-faker",
            Some(json!({"count": 300, "seed": 42})),
            ab::SourceOptions {
                install_root: Some(install_root()),
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("installing source-faker: {e}"))
    };
    source.select_streams(["users"]).expect("select users");
    let cache = ab::DuckDbCache::new(tmp.path().join("cache.duckdb"));
    let state_cache = ab::DuckDbCache::new(tmp.path().join("state.duckdb"));
    let result = destination
        .write(
            &source,
            ab::WriteOptions {
                cache: ab::CacheChoice::Given(cache.clone()),
                state_cache: ab::CacheChoice::Given(state_cache.clone()),
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("source-faker -> cache -> destination-ailake: {e}"));
    assert_eq!(result.processed_records(), 300);

    // What ailake wrote is what the cache holds: the same ids and names.
    let written = parquet_rows(&base, "users");
    assert_eq!(written.len(), 300);
    let cached: Vec<(i64, String)> = rows(&cache, "select id, name from users order by id")
        .into_iter()
        .map(|r| (r[0].parse::<f64>().expect("id") as i64, r[1].clone()))
        .collect();
    assert_eq!(written, cached);
    assert!(
        stored_cursor(&state_cache, "destination-ailake", source.name(), "users").is_some(),
        "faker's users state was confirmed and stored"
    );
}

// ---------------------------------------------------------------------------------------------
// destination-pgvector

/// A database of its own on the pgvector server (with the extension), dropped at the end.
struct PgvDatabase {
    name: String,
}

impl PgvDatabase {
    fn create() -> Result<Self, String> {
        let name = format!("abrs_test_{}_{}", std::process::id(), rand_suffix());
        psql("postgres", &format!("create database {name}"))?;
        let db = Self { name };
        psql(&db.name, "create extension if not exists vector")?;
        Ok(db)
    }
}

impl Drop for PgvDatabase {
    fn drop(&mut self) {
        let _ = psql(
            "postgres",
            &format!("drop database if exists {} with (force)", self.name),
        );
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() % 1_000_000_000)
        .unwrap_or(0)
}

/// Runs one statement with `psql` (the system client, or the pgvector kit's), tuples only.
fn psql(database: &str, sql: &str) -> Result<String, String> {
    let kit = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/bench/destinations/pgvector_server.sh");
    let mut command = if ab::connectors::which("psql", None).is_some() {
        let mut c = Command::new("psql");
        c.args([
            "-h",
            "127.0.0.1",
            "-p",
            &PGV_PORT.to_string(),
            "-U",
            "postgres",
        ]);
        c.args(["-d", database]);
        c
    } else if kit.exists() {
        let mut c = Command::new("bash");
        c.arg(&kit).arg("psql").env("PGV_DB", database);
        c
    } else {
        return Err("no `psql` on PATH and no pgvector_server.sh".into());
    };
    let out = command
        .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGCONNECT_TIMEOUT", "5")
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "psql `{sql}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Why destination-pgvector cannot run here, if it cannot.
fn pgvector_unavailable() -> Option<String> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], PGV_PORT));
    if std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err() {
        return Some(format!(
            "no pgvector server on 127.0.0.1:{PGV_PORT} (scripts/destinations-env.sh starts one \
             with ../shared/bench/destinations/pgvector_server.sh)"
        ));
    }
    // tiktoken's GPT-2 files, where tiktoken will look (the CDK's text splitter loads them
    // from the internet otherwise).
    let dir = std::env::var_os("TIKTOKEN_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("data-gym-cache"));
    for file in [
        "6d1cbeee0f20b3d9449abfede4726ed8212e3aee",
        "6c7ea1a7e38e3a7f062df639a5b80947f075ffe6",
    ] {
        if !dir.join(file).is_file() {
            return Some(format!(
                "tiktoken's GPT-2 files are not in {} (scripts/destinations-env.sh puts them there)",
                dir.display()
            ));
        }
    }
    None
}

/// Whether an install error is uv failing to reach PyPI (then the test skips).
fn is_network_failure(error: &ab::Error) -> bool {
    let text = error.to_string();
    [
        "Failed to fetch",
        "error sending request",
        "dns error",
        "Network is unreachable",
        "Temporary failure in name resolution",
        "Connection refused",
        "timed out",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

fn pgvector_config(database: &str) -> Value {
    json!({
        "embedding": {"mode": "fake"},
        "processing": {
            "chunk_size": 512,
            "text_fields": ["name"],
            "metadata_fields": ["id", "age", "updated_at"],
        },
        "indexing": {
            "host": "127.0.0.1",
            "port": PGV_PORT,
            "database": database,
            // Its merge SQL uses unqualified table names: only `public` works (pitfall 3).
            "default_schema": "public",
            "username": "postgres",
            "credentials": {"password": "unused-trust-auth"},
        },
    })
}

/// The kit's wrapper (reference §2.2, pitfall 4): runs the installed connector with each
/// STATE it yields wrapped in an AirbyteMessage, so that it echoes its STATE instead of
/// crashing. Named `destination-pgvector`, so its state is stored under the same name.
fn statefix_wrapper(dir: &Path, venv_python: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("destination-pgvector");
    let script = format!(
        "#!{}\n{}",
        venv_python.display(),
        r#""""destination-pgvector 0.1.13 with its STATE output wrapped in an AirbyteMessage."""
import sys

from airbyte_cdk.models import AirbyteMessage, AirbyteStateMessage, Type
from destination_pgvector.destination import DestinationPGVector

_write = DestinationPGVector.write


def write(self, config, configured_catalog, input_messages):
    for m in _write(self, config, configured_catalog, input_messages):
        yield AirbyteMessage(type=Type.STATE, state=m) if isinstance(m, AirbyteStateMessage) else m


DestinationPGVector.write = write
DestinationPGVector().run(sys.argv[1:])
"#
    );
    std::fs::create_dir_all(dir).expect("wrapper dir");
    std::fs::write(&path, script).expect("wrapper");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

#[test]
fn pgvector_stores_rows_and_a_crash_after_commit_keeps_the_confirmed_state() {
    if let Some(why) = pgvector_unavailable() {
        skip!("destination-pgvector test: {why}");
    }
    let db = match PgvDatabase::create() {
        Ok(db) => db,
        Err(e) => skip!("destination-pgvector test: cannot prepare a test database: {e}"),
    };
    let options = ab::DestinationOptions {
        version: Some(PGVECTOR_VERSION.into()),
        pip_overrides: PGVECTOR_OVERRIDES.iter().map(|s| s.to_string()).collect(),
        install_root: Some(install_root()),
        ..Default::default()
    };
    let published =
        match get_destination("destination-pgvector", pgvector_config(&db.name), options) {
            Ok(d) => d,
            Err(e) if is_network_failure(&e) => {
                skip!("destination-pgvector test: PyPI cannot be reached to install it: {e}")
            }
            Err(e) => {
                panic!("installing destination-pgvector {PGVECTOR_VERSION} with overrides: {e}")
            }
        };
    assert_eq!(
        published.connector_version().as_deref(),
        Some(PGVECTOR_VERSION)
    );

    let tmp = tempfile::tempdir().expect("tmp");
    let state_cache = ab::DuckDbCache::new(tmp.path().join("state.duckdb"));
    let venv_python = install_root().join(".venv-destination-pgvector/bin/python");
    let fixed = ab::get_destination(
        "destination-pgvector",
        Some(pgvector_config(&db.name)),
        ab::DestinationOptions {
            local_executable: Some(statefix_wrapper(&tmp.path().join("statefix"), &venv_python)),
            ..Default::default()
        },
    )
    .expect("statefix wrapper");

    // 1. Through the wrapper: every row lands, the STATE is echoed and stored.
    let source = fixture_source(json!({"count": 100, "state_every": 25}));
    let result = fixed
        .write(&source, write_options(&state_cache))
        .unwrap_or_else(|e| panic!("write through the statefix wrapper: {e}"));
    assert_eq!(result.processed_records(), 100);
    let counts = psql(
        &db.name,
        "select count(*), count(distinct document_id), min((metadata->>'id')::int), \
         max((metadata->>'id')::int), min(vector_dims(embedding)) from users",
    )
    .expect("rows");
    assert_eq!(counts, "100|100|1|100|1536");
    assert_eq!(
        psql(
            &db.name,
            "select document_id || ' ' || document_content from users \
             where (metadata->>'id')::int = 1"
        )
        .expect("row 1"),
        format!("Stream_users_Key_1 name: {}", fixture_users(1)[0].1)
    );
    let confirmed = json!({"updated_at": "2024-01-01T01:40:00+00:00"});
    assert_eq!(
        stored_cursor(&state_cache, "destination-pgvector", source.name(), "users"),
        Some(confirmed.clone())
    );

    // 2. The published connector: it commits every row at the end of its input, then crashes
    // while echoing the STATE (it yields a bare AirbyteStateMessage, which its CDK refuses to
    // print). The write fails, saying so, and the state stays the one confirmed in (1).
    let source = fixture_source(json!({"count": 150, "state_every": 25}));
    let err = match published.write(&source, write_options(&state_cache)) {
        Ok(r) => panic!(
            "the published destination-pgvector 0.1.13 crashes after committing, yet the write \
             succeeded ({} records)",
            r.processed_records()
        ),
        Err(e) => e,
    };
    let text = err.to_string();
    eprintln!("the published connector's failure, as reported:\n{text}");
    assert!(matches!(err, ab::Error::WriteFailed { .. }), "{err:?}");
    assert!(text.contains("destination-pgvector"), "{text}");
    assert!(text.contains("exit code 1"), "{text}");
    assert!(
        text.contains("AirbyteStateType.STREAM is not one of"),
        "the connector's own words: {text}"
    );
    // Its rows were committed before the crash (the new ones merged on document_id), ...
    assert_eq!(
        psql(&db.name, "select count(distinct document_id) from users").expect("rows"),
        "150"
    );
    // ... but it confirmed nothing: the stored state is still the last confirmed one.
    assert_eq!(
        stored_cursor(&state_cache, "destination-pgvector", source.name(), "users"),
        Some(confirmed)
    );
}
