//! A declarative manifest (`tests/fixtures/manifests/items.yaml`) run through
//! `SourceOptions::source_manifest`: airbyte-cdk's `source-declarative-manifest`, installed from
//! PyPI by our venv executor, against the test's own mock HTTP server on loopback.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use airbyte as ab;
use airbyte::arrow::util::display::array_value_to_string;
use serde_json::{Value, json};

fn manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/manifests/items.yaml")
}

fn install_root() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".cache/airbyte-rs/test-venvs")
}

/// One request the mock saw: its path with query, and its `X-Api-Key` header.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// Serves `/items?page=N` (5 items, pages of 2) on loopback; returns its base URL.
fn mock_api() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(200) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let target = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .to_string();
            let mut key = None;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
                if let Some((name, value)) = header.split_once(':')
                    && name.eq_ignore_ascii_case("x-api-key")
                {
                    key = Some(value.trim().to_string());
                }
            }
            log.lock().unwrap().push((target.clone(), key.clone()));
            let page: usize = target
                .split("page=")
                .nth(1)
                .and_then(|p| p.split('&').next())
                .and_then(|p| p.parse().ok())
                .unwrap_or(1);
            let (status, body) = if key.as_deref() == Some("k3y") {
                let items: Vec<Value> = (1..=5)
                    .skip((page - 1) * 2)
                    .take(2)
                    .map(|i| json!({"id": i, "name": format!("item {i}")}))
                    .collect();
                ("200 OK", json!({"data": items}).to_string())
            } else {
                ("401 Unauthorized", json!({"error": "bad key"}).to_string())
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (format!("http://127.0.0.1:{port}"), seen)
}

fn source(config: Value) -> ab::Source {
    ab::get_source(
        "source-items",
        Some(config),
        ab::SourceOptions {
            source_manifest: Some(ab::SourceManifest::Path(manifest())),
            install_root: Some(install_root()),
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("installing airbyte-cdk for the manifest: {e}"))
}

#[test]
fn a_manifest_reads_every_page_into_duckdb_through_the_cdk() {
    let (base, seen) = mock_api();
    let mut src = source(json!({"api_key": "k3y", "base_url": base}));
    // The spec is the manifest's own (answered without Python).
    assert_eq!(
        src.config_spec().unwrap()["required"],
        json!(["api_key", "base_url"])
    );
    src.check().expect("check");
    assert_eq!(src.get_available_streams().unwrap(), ["items"]);
    src.select_all_streams().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = ab::DuckDbCache::new(dir.path().join("items.duckdb"));
    let result = src.read(&cache, ab::ReadOptions::default()).expect("read");
    assert_eq!(result.processed_records(), 5);
    let batches = cache
        .query("select string_agg(name, ',' order by id) from items")
        .unwrap();
    let names = array_value_to_string(batches[0].column(0), 0).unwrap();
    assert_eq!(names, "item 1,item 2,item 3,item 4,item 5");

    let requests = seen.lock().unwrap().clone();
    let pages: BTreeSet<String> = requests
        .iter()
        .filter(|(t, _)| t.starts_with("/items"))
        .map(|(t, _)| t.clone())
        .collect();
    assert!(pages.contains("/items?page=3"), "paginated: {pages:?}");
    assert!(
        requests.iter().all(|(_, k)| k.as_deref() == Some("k3y")),
        "the API key went in the header: {requests:?}"
    );

    // get_records runs the same way, without a cache.
    let records: Vec<_> = src
        .get_records("items", Some(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(records.len(), 3);
}

#[test]
fn a_rejected_key_fails_check_with_the_cdks_words() {
    let (base, _) = mock_api();
    let src = source(json!({"api_key": "wrong", "base_url": base}));
    let err = src.check().expect_err("a 401 fails check");
    let text = err.to_string();
    assert!(text.contains("source-items"), "{text}");
    assert!(
        text.contains("401") || text.to_lowercase().contains("unauthorized"),
        "{text}"
    );
}
