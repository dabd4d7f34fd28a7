//! The Connector Builder's test read: one stream read a few pages and slices deep, with every
//! request, its response and the records of each page, grouped by slice (what `abrs manifest
//! test-read` prints). Built on the client's [`HttpObserver`] hook.

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use crate::engine_error::{EngineError, Result};
use crate::http::{HttpObserver, HttpRequest, HttpResponse, RequestBody, Secrets};
use crate::slice::Slice;
use crate::source::DeclarativeSource;

/// How much a test read reads and shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestReadLimits {
    /// Pages read per slice (the Builder's default: 5).
    pub pages_per_slice: usize,
    /// Slices of the stream read (the Builder's default: 5).
    pub slices: usize,
    /// Records kept in all (the Builder's default: 100); the read stops after them.
    pub records: usize,
    /// Bytes of each response body shown; a longer body is cut and says so.
    pub body_bytes: usize,
}

impl Default for TestReadLimits {
    fn default() -> Self {
        Self {
            pages_per_slice: 5,
            slices: 5,
            records: 100,
            body_bytes: 2000,
        }
    }
}

/// One request and its response, as shown (secrets masked, body cut).
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    /// `{"method", "url", "headers", "body"}`.
    pub request: Value,
    /// `{"status", "headers", "body"}`, plus `"body_bytes"` (the whole body's size).
    pub response: Value,
    /// The records the page gave (after filters and transformations, as emitted).
    pub records: Vec<Value>,
}

/// The pages of one slice.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceRead {
    /// The stream the slice belongs to (a parent stream's slices are auxiliary).
    pub stream: String,
    /// `{"partition", "cursor_slice"}`.
    pub slice: Value,
    /// Its pages in order.
    pub pages: Vec<Exchange>,
}

/// What a test read saw.
#[derive(Debug, Clone, PartialEq)]
pub struct TestRead {
    /// The stream read.
    pub stream: String,
    /// Slices in the order they were read (parent streams' included).
    pub slices: Vec<SliceRead>,
    /// The read's error, if it failed (what was read until then is kept).
    pub error: Option<String>,
}

impl TestRead {
    /// Records of the stream read.
    pub fn record_count(&self) -> usize {
        self.slices
            .iter()
            .filter(|s| s.stream == self.stream)
            .flat_map(|s| &s.pages)
            .map(|p| p.records.len())
            .sum()
    }

    /// The machine-readable form: `{"stream", "slices": [{"stream", "slice", "pages":
    /// [{"request", "response", "records"}]}], "error"}`.
    pub fn to_json(&self) -> Value {
        let slices: Vec<Value> = self
            .slices
            .iter()
            .map(|s| {
                let pages: Vec<Value> = s
                    .pages
                    .iter()
                    .map(|p| json!({"request": p.request, "response": p.response, "records": p.records}))
                    .collect();
                json!({"stream": s.stream, "slice": s.slice, "pages": pages})
            })
            .collect();
        json!({"stream": self.stream, "slices": slices, "error": self.error})
    }

    /// The text a person reads: per slice and page, the request, the response and the records.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut n = 0;
        for s in &self.slices {
            n += 1;
            let whose = if s.stream == self.stream {
                String::new()
            } else {
                format!(" (parent stream {})", s.stream)
            };
            out.push_str(&format!("slice {n}{whose}: {}\n", s.slice));
            for (i, page) in s.pages.iter().enumerate() {
                let request = &page.request;
                let response = &page.response;
                out.push_str(&format!(
                    "  page {}\n    request: {} {}\n",
                    i + 1,
                    request["method"].as_str().unwrap_or(""),
                    request["url"].as_str().unwrap_or("")
                ));
                push_headers(&mut out, &request["headers"]);
                if let Some(body) = request["body"].as_str() {
                    out.push_str(&format!("      body: {body}\n"));
                }
                out.push_str(&format!("    response: {}\n", response["status"]));
                push_headers(&mut out, &response["headers"]);
                out.push_str(&format!(
                    "      body: {}\n",
                    response["body"].as_str().unwrap_or("")
                ));
                out.push_str(&format!("    records: {}\n", page.records.len()));
                for record in &page.records {
                    out.push_str(&format!("      {record}\n"));
                }
            }
        }
        out.push_str(&format!(
            "{} record(s) of stream {} in {} slice(s)\n",
            self.record_count(),
            self.stream,
            self.slices
                .iter()
                .filter(|s| s.stream == self.stream)
                .count()
        ));
        if let Some(e) = &self.error {
            out.push_str(&format!("the read failed: {e}\n"));
        }
        out
    }
}

fn push_headers(out: &mut String, headers: &Value) {
    if let Some(map) = headers.as_object() {
        for (k, v) in map {
            out.push_str(&format!("      {k}: {}\n", v.as_str().unwrap_or("")));
        }
    }
}

/// Reads `stream` of `source` within `limits` and returns what was requested and read. A
/// failed read is not an error: its message is in [`TestRead::error`] with what came before.
/// Partitions are read one at a time, so that each page's records follow its response.
pub fn test_read(
    source: DeclarativeSource,
    stream: &str,
    limits: TestReadLimits,
) -> Result<TestRead> {
    let recorder = Arc::new(Recorder {
        target: stream.to_string(),
        limits,
        secrets: source.secrets().clone(),
        state: Mutex::new(RecorderState::default()),
    });
    let source = source.with_http_observer(recorder.clone());
    let streams = source.streams()?;
    let names: Vec<String> = streams.iter().map(|s| s.name.clone()).collect();
    let Some(found) = streams.into_iter().find(|s| s.name == stream) else {
        return Err(EngineError::Input(format!(
            "the manifest has no stream {stream}; its streams: {}",
            names.join(", ")
        )));
    };
    let found = found.with_workers(1);
    let mut records = 0usize;
    let result = found.read_sliced(
        source.client(),
        None,
        &mut |record, _slice| {
            records += 1;
            recorder.record(record);
            Ok(records < limits.records)
        },
        &mut |_| Ok(()),
    );
    let state = std::mem::take(&mut *recorder.lock());
    Ok(TestRead {
        stream: stream.to_string(),
        slices: state.slices,
        error: result
            .err()
            .map(|e| source.secrets().mask(&found.failed(&e))),
    })
}

#[derive(Debug, Default)]
struct RecorderState {
    slices: Vec<SliceRead>,
    /// Slices of the target stream started.
    target_slices: usize,
}

/// Collects exchanges and records into slices.
struct Recorder {
    target: String,
    limits: TestReadLimits,
    secrets: Secrets,
    state: Mutex<RecorderState>,
}

impl Recorder {
    fn lock(&self) -> std::sync::MutexGuard<'_, RecorderState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A record of the target stream: it belongs to the latest page of its slice.
    fn record(&self, record: Value) {
        let mut state = self.lock();
        let target = &self.target;
        if let Some(page) = state
            .slices
            .iter_mut()
            .rev()
            .find(|s| &s.stream == target)
            .and_then(|s| s.pages.last_mut())
        {
            page.records.push(record);
        }
    }

    fn mask_headers(&self, headers: &[(String, String)], hide: &[&str]) -> Value {
        let mut map = Map::new();
        for (k, v) in headers {
            let shown = if hide.iter().any(|h| k.eq_ignore_ascii_case(h)) {
                "****".to_string()
            } else {
                self.secrets.mask(v)
            };
            map.insert(k.clone(), Value::String(shown));
        }
        Value::Object(map)
    }

    fn cut(&self, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        let masked = self.secrets.mask(&text);
        if masked.len() <= self.limits.body_bytes {
            return masked;
        }
        let mut end = self.limits.body_bytes;
        while !masked.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}… ({} bytes in all)", &masked[..end], body.len())
    }
}

impl HttpObserver for Recorder {
    fn slice_started(&self, stream: &str, slice: &Slice) -> bool {
        let mut state = self.lock();
        if stream == self.target {
            if state.target_slices >= self.limits.slices {
                return false;
            }
            state.target_slices += 1;
        }
        state.slices.push(SliceRead {
            stream: stream.to_string(),
            slice: json!({"partition": slice.partition, "cursor_slice": slice.cursor_slice}),
            pages: Vec::new(),
        });
        true
    }

    fn exchange(&self, request: &HttpRequest, response: &HttpResponse) {
        // Credentials are hidden whole, whatever the spec marks as secret.
        let hidden = [
            "authorization",
            "proxy-authorization",
            "cookie",
            "x-api-key",
        ];
        let body = request.body.as_ref().map(|b| match b {
            RequestBody::Json(v) => self.secrets.mask(&v.to_string()),
            RequestBody::Form(pairs) => self.secrets.mask(
                &url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs.iter())
                    .finish(),
            ),
            RequestBody::Raw(text) => self.secrets.mask(text),
        });
        let exchange = Exchange {
            request: json!({
                "method": request.method,
                "url": self.secrets.mask(&request.url),
                "headers": self.mask_headers(&request.headers, &hidden),
                "body": body,
            }),
            response: json!({
                "status": response.status,
                "headers": self.mask_headers(&response.headers, &["set-cookie"]),
                "body": self.cut(&response.body),
                "body_bytes": response.body.len(),
            }),
            records: Vec::new(),
        };
        let mut state = self.lock();
        match state.slices.last_mut() {
            Some(slice) => slice.pages.push(exchange),
            // A request outside any slice (a token refresh before the first one).
            None => state.slices.push(SliceRead {
                stream: String::new(),
                slice: Value::Null,
                pages: vec![exchange],
            }),
        }
    }

    fn page_limit(&self) -> Option<usize> {
        Some(self.limits.pages_per_slice)
    }
}
