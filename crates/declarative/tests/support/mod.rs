//! Shared by the engine's integration tests: a small mock HTTP API ([`MockServer`]) that
//! records every request, the fixture manifests at the repository root, and the parsing of the
//! protocol messages a read writes ([`Messages`]).
//!
//! The server is plain `std::net`: one thread accepts, one thread per connection serves
//! requests one after the other until the client closes it (reqwest keeps connections alive and
//! reuses them), bodies are read by `Content-Length` (or chunked) and answered with a
//! `Content-Length`, so both sides know where each message ends.

// Each test file compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use abrs_declarative::{DeclarativeSource, Manifest};
use serde_json::{Value, json};

/// One request the mock received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, percent-decoded, without the query.
    pub path: String,
    /// The query pairs, decoded, in the order sent.
    pub query: Vec<(String, String)>,
    /// The headers, names lower-cased, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The query pairs, sorted (the order parameters are written in is no part of a request's
    /// meaning).
    pub fn sorted_query(&self) -> Vec<(String, String)> {
        let mut q = self.query.clone();
        q.sort();
        q
    }

    /// The body as text.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as form pairs (`application/x-www-form-urlencoded`), in order.
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// The body as JSON, when it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// `METHOD path?sorted-query`, a compact form for assertions and failure messages.
    pub fn line(&self) -> String {
        let q = self.sorted_query();
        if q.is_empty() {
            return format!("{} {}", self.method, self.path);
        }
        let query: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{} {}?{}", self.method, self.path, query.join("&"))
    }
}

/// What the mock answers.
#[derive(Debug, Clone)]
pub struct MockResponse {
    /// The status code.
    pub status: u16,
    /// Extra headers (Content-Length is added).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl MockResponse {
    /// `200` with a JSON body.
    pub fn json(value: Value) -> Self {
        Self::status(200, value)
    }

    /// A status with a JSON body.
    pub fn status(status: u16, value: Value) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }

    /// The response with one more header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

type Handler = Box<dyn Fn(&RecordedRequest) -> MockResponse + Send + Sync>;

/// The mock's routes: method and path pattern (`*` matches one segment) to a handler that
/// chooses the answer from the request (path, query, headers, body).
#[derive(Default)]
pub struct Routes {
    routes: Vec<(String, Vec<String>, Handler)>,
}

impl Routes {
    /// No routes (every request gets a 404).
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers `method pattern` with `handler`.
    pub fn route(
        mut self,
        method: &str,
        pattern: &str,
        handler: impl Fn(&RecordedRequest) -> MockResponse + Send + Sync + 'static,
    ) -> Self {
        self.routes.push((
            method.to_ascii_uppercase(),
            segments(pattern),
            Box::new(handler),
        ));
        self
    }

    /// Answers `GET pattern` with a JSON body chosen from the request.
    pub fn get(
        self,
        pattern: &str,
        body: impl Fn(&RecordedRequest) -> Value + Send + Sync + 'static,
    ) -> Self {
        self.route("GET", pattern, move |r| MockResponse::json(body(r)))
    }

    fn answer(&self, request: &RecordedRequest) -> MockResponse {
        let path = segments(&request.path);
        for (method, pattern, handler) in &self.routes {
            if *method == request.method
                && pattern.len() == path.len()
                && pattern.iter().zip(&path).all(|(p, s)| p == "*" || p == s)
            {
                return handler(request);
            }
        }
        MockResponse::status(
            404,
            json!({"error": format!("no route for {} {}", request.method, request.path)}),
        )
    }
}

fn segments(path: &str) -> Vec<String> {
    path.trim_end_matches('/')
        .split('/')
        .map(str::to_string)
        .collect()
}

/// A mock HTTP API on `127.0.0.1`, stopped when dropped.
pub struct MockServer {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<RecordedRequest>>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl MockServer {
    /// Starts serving `routes` on a free port.
    pub fn start(routes: Routes) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
        let addr = listener.local_addr().expect("local address");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let routes = Arc::new(routes);
        let acceptor = {
            let (log, stop) = (log.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (log, routes) = (log.clone(), routes.clone());
                    std::thread::spawn(move || serve_connection(stream, &routes, &log));
                }
            })
        };
        Self {
            addr,
            log,
            stop,
            acceptor: Some(acceptor),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The requests received so far whose path is `path`.
    pub fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// [`RecordedRequest::line`] of every request so far, sorted (requests of different slices
    /// may be sent in any order).
    pub fn sorted_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.requests().iter().map(RecordedRequest::line).collect();
        lines.sort();
        lines
    }

    /// Forgets the requests received so far.
    pub fn clear(&self) {
        if let Ok(mut l) = self.log.lock() {
            l.clear();
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the acceptor blocked in accept().
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn serve_connection(stream: TcpStream, routes: &Routes, log: &Mutex<Vec<RecordedRequest>>) {
    // A client that neither sends nor closes must not keep the thread forever.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some((request, close)) = read_request(&mut reader) {
        if let Ok(mut l) = log.lock() {
            l.push(request.clone());
        }
        let response = routes.answer(&request);
        if write_response(&mut writer, &response, close).is_err() || close {
            return;
        }
    }
}

/// Reads one request; `None` at the end of the connection (or on a malformed request). The
/// flag says whether the client asked to close the connection after it.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(RecordedRequest, bool)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        read_chunked(reader)?
    } else {
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).ok()?;
        body
    };
    let close = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
    let (raw_path, raw_query) = target.split_once('?').unwrap_or((&target, ""));
    let path = percent_decode(raw_path);
    let query = url::form_urlencoded::parse(raw_query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    Some((
        RecordedRequest {
            method,
            path,
            query,
            headers,
            body,
        },
        close,
    ))
}

/// `%xx` escapes decoded (a path's `+` stays a `+`, unlike in a query).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).ok()?;
        let size = usize::from_str_radix(size.trim().split(';').next()?.trim(), 16).ok()?;
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).ok()?;
        if size == 0 {
            // The last chunk; trailers are not used by any client here.
            return Some(body);
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

fn write_response(out: &mut TcpStream, r: &MockResponse, close: bool) -> std::io::Result<()> {
    let reason = match r.status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        _ => "Status",
    };
    let mut head = format!("HTTP/1.1 {} {reason}\r\n", r.status);
    for (k, v) in &r.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n", r.body.len()));
    head.push_str(if close {
        "Connection: close\r\n\r\n"
    } else {
        "Connection: keep-alive\r\n\r\n"
    });
    out.write_all(head.as_bytes())?;
    out.write_all(&r.body)?;
    out.flush()
}

/// A file under the repository's `tests/fixtures/manifests/`.
pub fn manifest_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/manifests")
        .join(name)
}

/// Loads a fixture manifest from its file (its folder kept, for schema files).
pub fn load_manifest(name: &str) -> Manifest {
    let path = manifest_path(name);
    Manifest::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Loads a fixture manifest with `from` replaced by `to` in its text (to point a copied
/// manifest's fixed URL at the mock); its folder is kept for schema files.
pub fn load_manifest_rewritten(name: &str, from: &str, to: &str) -> Manifest {
    let path = manifest_path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        text.contains(from),
        "{} does not contain {from:?}",
        path.display()
    );
    Manifest::from_str(&text.replace(from, to))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .with_directory(path.parent().map(PathBuf::from))
}

/// A configured catalog: each stream with its sync mode (`full_refresh`, `incremental`).
pub fn catalog(streams: &[(&str, &str)]) -> Value {
    json!({"streams": streams.iter().map(|(name, mode)| json!({
        "stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
        "sync_mode": mode,
        "destination_sync_mode": "append",
    })).collect::<Vec<_>>()})
}

/// The messages of one read, parsed.
#[derive(Debug, Clone)]
pub struct Messages {
    /// Every message, in order.
    pub all: Vec<Value>,
    /// What `read` returned: `Ok` or its error's text.
    pub result: Result<(), String>,
}

impl Messages {
    /// Runs `read` and parses its output (every line must be a JSON message).
    pub fn read(source: &DeclarativeSource, catalog: &Value, state: Option<&Value>) -> Self {
        let mut out: Vec<u8> = Vec::new();
        let result = source
            .read(catalog, state, &mut out)
            .map_err(|e| e.to_string());
        let text = String::from_utf8(out).expect("the output is UTF-8");
        let all = text
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON message ({e}): {l}"))
            })
            .collect();
        Self { all, result }
    }

    /// The messages of one type (`RECORD`, `STATE`, `TRACE`, `LOG`).
    pub fn of_type(&self, kind: &str) -> Vec<&Value> {
        self.all.iter().filter(|m| m["type"] == kind).collect()
    }

    /// The `data` of the records of `stream`, in order.
    pub fn records(&self, stream: &str) -> Vec<Value> {
        self.of_type("RECORD")
            .into_iter()
            .filter(|m| m["record"]["stream"] == stream)
            .map(|m| m["record"]["data"].clone())
            .collect()
    }

    /// The `stream_state`s of `stream`'s STATE messages, in order.
    pub fn states(&self, stream: &str) -> Vec<Value> {
        self.of_type("STATE")
            .into_iter()
            .filter(|m| m["state"]["stream"]["stream_descriptor"]["name"] == stream)
            .map(|m| m["state"]["stream"]["stream_state"].clone())
            .collect()
    }

    /// The last `stream_state` of `stream` (panics when it has none).
    pub fn final_state(&self, stream: &str) -> Value {
        self.states(stream)
            .last()
            .cloned()
            .unwrap_or_else(|| panic!("no STATE for {stream}: {:#?}", self.all))
    }

    /// The last STATE message of each stream, as a list to give the next read.
    pub fn state_for_next_read(&self) -> Value {
        let mut last: Vec<(String, Value)> = Vec::new();
        for m in self.of_type("STATE") {
            let name = m["state"]["stream"]["stream_descriptor"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let mut message = (*m).clone();
            if let Some(state) = message.get_mut("state").and_then(Value::as_object_mut) {
                state.remove("sourceStats");
            }
            match last.iter_mut().find(|(n, _)| *n == name) {
                Some(entry) => entry.1 = message,
                None => last.push((name, message)),
            }
        }
        Value::Array(last.into_iter().map(|(_, m)| m).collect())
    }

    /// The ERROR traces' messages.
    pub fn errors(&self) -> Vec<String> {
        self.of_type("TRACE")
            .into_iter()
            .filter(|m| m["trace"]["type"] == "ERROR")
            .map(|m| {
                m["trace"]["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }

    /// The STREAM_STATUS statuses of `stream`, in order.
    pub fn statuses(&self, stream: &str) -> Vec<String> {
        self.of_type("TRACE")
            .into_iter()
            .filter(|m| {
                m["trace"]["type"] == "STREAM_STATUS"
                    && m["trace"]["stream_status"]["stream_descriptor"]["name"] == stream
            })
            .map(|m| {
                m["trace"]["stream_status"]["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }
}

/// The whole output of a read as text (to assert a secret appears nowhere in it).
pub fn dump(messages: &Messages) -> String {
    let mut text: String = messages
        .all
        .iter()
        .map(|m| m.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    if let Err(e) = &messages.result {
        text.push('\n');
        text.push_str(e);
    }
    text
}
