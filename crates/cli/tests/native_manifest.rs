//! `abrs read --manifest` run by the native engine into a DuckDB cache, an incremental re-read
//! with the state the cache kept, and `abrs records` (get_records), against the test's own mock
//! HTTP server on loopback. The manifest is `tests/fixtures/manifests/incremental_datetime.yaml`
//! (a DatetimeBasedCursor in one-day windows, PageIncrement inside each window, a bearer
//! token).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

const TOKEN: &str = "tok-cli-secret";

/// The API's records: `updated_at` is the cursor.
const ACTIVITY: &[(&str, &str)] = &[
    ("a1", "2024-01-01T05:00:00Z"),
    ("a2", "2024-01-01T10:00:00Z"),
    ("a3", "2024-01-01T20:00:00Z"),
    ("a4", "2024-01-02T08:00:00Z"),
    ("a5", "2024-01-02T12:00:00Z"),
    ("a6", "2024-01-03T09:00:00Z"),
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn manifest() -> String {
    repo()
        .join("tests/fixtures/manifests/incremental_datetime.yaml")
        .to_string_lossy()
        .into_owned()
}

/// Requests seen: the path with its query, and whether the bearer token came with it.
type Seen = Arc<Mutex<Vec<(String, bool)>>>;

fn query_param(target: &str, name: &str) -> Option<String> {
    let query = target.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.replace("%3A", ":"))
    })
}

/// `/v1/activity/dom1?date_from&date_to&page&page_size`: the records in the window, by pages.
fn mock_api() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let log = Arc::clone(&log);
            std::thread::spawn(move || serve(stream, &log));
        }
    });
    (format!("http://127.0.0.1:{port}"), seen)
}

/// Answers the requests of one connection (the client keeps connections alive).
fn serve(mut stream: std::net::TcpStream, log: &Seen) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let target = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .to_string();
        let mut authorized = false;
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("authorization") {
                    authorized = value == format!("Bearer {TOKEN}");
                }
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        let _ = reader.read_exact(&mut body);
        log.lock().unwrap().push((target.clone(), authorized));
        let from = query_param(&target, "date_from").unwrap_or_default();
        let to = query_param(&target, "date_to").unwrap_or_default();
        let page: usize = query_param(&target, "page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let size: usize = query_param(&target, "page_size")
            .and_then(|p| p.parse().ok())
            .unwrap_or(100);
        let records: Vec<Value> = ACTIVITY
            .iter()
            .filter(|(_, at)| from.as_str() <= *at && *at <= to.as_str())
            .skip(page * size)
            .take(size)
            .map(|(id, at)| json!({"id": id, "updated_at": at, "kind": "visit"}))
            .collect();
        let (status, body) = if authorized && target.starts_with("/v1/activity/dom1") {
            ("200 OK", json!({ "data": records }).to_string())
        } else {
            ("401 Unauthorized", json!({"error": "no"}).to_string())
        };
        let reply = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

fn abrs(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_abrs"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("running abrs: {e}"))
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "abrs failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn config(base: &str, end: &str) -> String {
    json!({"api_token": TOKEN, "base_url": base, "domain_id": "dom1",
        "start_date": "2024-01-01T00:00:00Z", "end_date": end})
    .to_string()
}

fn query(dir: &Path, cache: &str, sql: &str) -> Vec<Value> {
    ok(&abrs(
        dir,
        &["query", "--cache", cache, "--format", "json", sql],
    ))
    .lines()
    .filter(|l| !l.trim().is_empty())
    .map(|l| serde_json::from_str(l).expect("a JSON row"))
    .collect()
}

#[test]
fn read_with_a_manifest_into_duckdb_then_incrementally_with_the_cached_state() {
    let (base, seen) = mock_api();
    let dir = tempfile::tempdir().expect("tmp");
    let cache = dir.path().join("c.duckdb").to_string_lossy().into_owned();
    let manifest = manifest();

    let first = config(&base, "2024-01-03T00:00:00Z");
    ok(&abrs(
        dir.path(),
        &[
            "read",
            "source-activity",
            "--manifest",
            &manifest,
            "--config",
            &first,
            "--cache",
            &cache,
        ],
    ));
    let rows = query(dir.path(), &cache, "select id from activity order by id");
    let ids: Vec<&str> = rows.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids, ["a1", "a2", "a3", "a4", "a5"]);
    {
        let requests = seen.lock().unwrap();
        assert!(requests.iter().all(|(_, auth)| *auth), "{requests:?}");
        assert!(
            requests.iter().any(|(t, _)| t.contains("page=1")),
            "paginated inside a window: {requests:?}"
        );
    }
    seen.lock().unwrap().clear();

    // The second read starts at the cursor value the first one left in the cache.
    let second = config(&base, "2024-01-04T00:00:00Z");
    ok(&abrs(
        dir.path(),
        &[
            "read",
            "source-activity",
            "--manifest",
            &manifest,
            "--config",
            &second,
            "--cache",
            &cache,
        ],
    ));
    let starts: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(t, _)| query_param(t, "date_from"))
        .collect();
    assert_eq!(
        starts.first().map(String::as_str),
        Some("2024-01-02T12:00:00Z"),
        "the state's cursor value starts the next read: {starts:?}"
    );
    assert!(
        starts.iter().all(|s| s.as_str() >= "2024-01-02T12:00:00Z"),
        "{starts:?}"
    );
    // The primary key makes `auto` merge: a5 (at the state's boundary) is not doubled.
    let rows = query(dir.path(), &cache, "select id from activity order by id");
    let ids: Vec<&str> = rows.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids, ["a1", "a2", "a3", "a4", "a5", "a6"]);

    // get_records: the same source without a cache.
    let text = ok(&abrs(
        dir.path(),
        &[
            "records",
            "source-activity",
            "--manifest",
            &manifest,
            "--config",
            &second,
            "--stream",
            "activity",
        ],
    ));
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a record"))
        .collect();
    assert_eq!(records.len(), 6);
    // Fields the schema does not declare (`kind`) are left out, as PyAirbyte does.
    assert!(
        records
            .iter()
            .all(|r| r.get("kind").is_none() && r["updated_at"].is_string())
    );
}

#[test]
fn a_rejected_token_is_one_clear_error_with_the_token_masked() {
    let (base, _) = mock_api();
    let dir = tempfile::tempdir().expect("tmp");
    let config = json!({"api_token": "wrong-token-987", "base_url": base, "domain_id": "dom1",
        "start_date": "2024-01-01T00:00:00Z", "end_date": "2024-01-02T00:00:00Z"})
    .to_string();
    let out = abrs(
        dir.path(),
        &[
            "check",
            "source-activity",
            "--manifest",
            &manifest(),
            "--config",
            &config,
        ],
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("401"), "{all}");
    assert!(
        all.contains("/v1/activity/dom1"),
        "the request is named: {all}"
    );
    assert!(
        !all.contains("wrong-token-987"),
        "the token is masked: {all}"
    );
}
