//! HTTP for the engine: one blocking client (reqwest over rustls, connection reuse, gzip,
//! timeouts), requests and responses as plain values, and masking of secrets in everything
//! that is logged or reported.

mod client;
mod masking;
mod observer;

pub use client::{HttpClient, HttpClientOptions, fetch_text};
pub use masking::Secrets;
pub use observer::HttpObserver;

use serde_json::Value;

/// The body of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestBody {
    /// `application/json`.
    Json(Value),
    /// `application/x-www-form-urlencoded` pairs.
    Form(Vec<(String, String)>),
    /// Text sent as it is.
    Raw(String),
}

/// A request, fully assembled.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The URL with its query string.
    pub url: String,
    /// Headers in the order they were set.
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<RequestBody>,
}

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The URL that was requested.
    pub url: String,
    json: std::sync::OnceLock<Option<std::sync::Arc<Value>>>,
}

impl HttpResponse {
    /// A response from its parts.
    pub fn new(status: u16, headers: Vec<(String, String)>, body: Vec<u8>, url: String) -> Self {
        Self {
            status,
            headers,
            body,
            url,
            json: std::sync::OnceLock::new(),
        }
    }

    /// Whether the status is below 400 (Python requests' `response.ok`).
    pub fn ok(&self) -> bool {
        self.status < 400
    }

    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, or `None` when it is not JSON.
    pub fn json(&self) -> Option<&Value> {
        self.json_shared().map(|v| &**v)
    }

    /// The body as JSON (parsed once), shared: what templates see of it is converted lazily
    /// from it (see [`crate::interpolation::Context::set_shared`]).
    pub fn json_shared(&self) -> Option<&std::sync::Arc<Value>> {
        self.json
            .get_or_init(|| {
                serde_json::from_slice(&self.body)
                    .ok()
                    .map(std::sync::Arc::new)
            })
            .as_ref()
    }

    /// Takes the parsed body out of the response (parsed now if it was not yet), without a
    /// copy when nothing else holds it.
    pub fn take_json(&mut self) -> Option<Value> {
        self.json_shared();
        let shared = self.json.take().flatten()?;
        Some(std::sync::Arc::try_unwrap(shared).unwrap_or_else(|shared| (*shared).clone()))
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The headers as a JSON mapping (names as sent, lower-cased), with `link` replaced by the
    /// parsed Link header as Python requests' `response.links` gives it (`{"next": {"url":
    /// ..., "rel": "next"}}`), as the CDK does for pagination templates.
    pub fn headers_json(&self) -> Value {
        let mut map = serde_json::Map::new();
        for (k, v) in &self.headers {
            map.insert(k.clone(), Value::String(v.clone()));
        }
        map.insert("link".into(), self.links());
        Value::Object(map)
    }

    /// The Link header parsed as Python requests' `response.links`.
    pub fn links(&self) -> Value {
        let mut out = serde_json::Map::new();
        let Some(header) = self.header("link") else {
            return Value::Object(out);
        };
        for part in split_links(header) {
            let mut pieces = part.split(';');
            let Some(url) = pieces.next() else { continue };
            let url = url
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .trim();
            let mut link = serde_json::Map::new();
            link.insert("url".into(), Value::String(url.to_string()));
            for param in pieces {
                if let Some((k, v)) = param.split_once('=') {
                    let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
                    link.insert(k.trim().to_string(), Value::String(v.to_string()));
                }
            }
            let key = link
                .get("rel")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| url.to_string());
            out.insert(key, Value::Object(link));
        }
        Value::Object(out)
    }
}

/// Splits a Link header on the commas between links (not those inside `<...>`).
fn split_links(header: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in header.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&header[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&header[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_parses_like_python_requests() {
        let r = HttpResponse::new(
            200,
            vec![(
                "link".into(),
                r#"<https://a/x?page=2>; rel="next", <https://a/x?page=5>; rel="last""#.into(),
            )],
            b"{}".to_vec(),
            "https://a/x".into(),
        );
        assert_eq!(
            r.links()["next"]["url"],
            Value::String("https://a/x?page=2".into())
        );
        assert_eq!(r.links()["last"]["rel"], Value::String("last".into()));
        assert!(r.ok());
    }
}
