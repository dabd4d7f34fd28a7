//! The items API the manifest tests run against: `/items?page=N` (5 items, pages of 2) behind
//! an `X-Api-Key` header, on loopback.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// `tests/fixtures/manifests/items.yaml`.
pub fn manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/manifests/items.yaml")
}

/// One request the mock saw: its path with query, and its `X-Api-Key` header.
pub type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// Serves `/items?page=N` (5 items, pages of 2) and the manifest at `/manifest.yaml` on
/// loopback; returns its base URL.
pub fn mock_api() -> (String, Seen) {
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
            let (status, body) = if target == "/manifest.yaml" {
                // The manifest itself, for `SourceManifest::Url`.
                (
                    "200 OK",
                    std::fs::read_to_string(manifest()).unwrap_or_default(),
                )
            } else if key.as_deref() == Some("k3y") {
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
