//! The engine's HTTP client.

use std::sync::Arc;
use std::time::Duration;

use super::{HttpObserver, HttpRequest, HttpResponse, RequestBody, Secrets};
use crate::engine_error::{EngineError, Result};

/// How the client is set up.
#[derive(Debug, Clone)]
pub struct HttpClientOptions {
    /// Time to connect.
    pub connect_timeout: Duration,
    /// Time for a whole request, response body included.
    pub timeout: Duration,
}

impl Default for HttpClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(30),
            // The CDK's requests session has no timeout; a hung server must still end a read.
            timeout: Duration::from_secs(300),
        }
    }
}

/// One client for a whole run: connections are reused across streams and pages.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::blocking::Client,
    secrets: Secrets,
    observer: Option<Arc<dyn HttpObserver>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("client", &self.client)
            .field("secrets", &self.secrets)
            .field("observed", &self.observer.is_some())
            .finish()
    }
}

impl HttpClient {
    /// A client; `secrets` are masked in its logs and errors.
    pub fn new(options: &HttpClientOptions, secrets: Secrets) -> Result<Self> {
        // reqwest is built without a bundled crypto provider: use ring (no C++/CMake build).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::blocking::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.timeout)
            .user_agent(concat!("airbyte-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| EngineError::Request {
                method: "-".into(),
                url: "-".into(),
                message: format!("cannot set up the HTTP client: {e}"),
            })?;
        Ok(Self {
            client,
            secrets,
            observer: None,
        })
    }

    /// The client with `observer` watching every exchange it makes.
    pub fn with_observer(mut self, observer: Arc<dyn HttpObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The observer, if any.
    pub fn observer(&self) -> Option<&dyn HttpObserver> {
        self.observer.as_deref()
    }

    /// The secrets this client masks.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// Sends `request` and reads the whole response. Transport failures are errors; any HTTP
    /// status is a response (the error handler decides).
    pub fn send(&self, request: &HttpRequest) -> Result<HttpResponse> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|_| {
            EngineError::Request {
                method: request.method.clone(),
                url: self.secrets.mask(&request.url),
                message: "invalid HTTP method".into(),
            }
        })?;
        let mut builder = self.client.request(method, &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let has_content_type = request
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        match &request.body {
            None => {}
            Some(RequestBody::Json(value)) => {
                if !has_content_type {
                    builder = builder.header("Content-Type", "application/json");
                }
                builder = builder.body(python_json_dumps(value));
            }
            Some(RequestBody::Form(pairs)) => {
                if !has_content_type {
                    builder = builder.header("Content-Type", "application/x-www-form-urlencoded");
                }
                let body: String = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs.iter())
                    .finish();
                builder = builder.body(body);
            }
            Some(RequestBody::Raw(text)) => builder = builder.body(text.clone()),
        }
        if tracing::enabled!(tracing::Level::DEBUG) {
            tracing::debug!(
                method = %request.method,
                url = %self.secrets.mask(&request.url),
                headers = %self.secrets.mask(&format!("{:?}", request.headers)),
                body = %self.secrets.mask(&format!("{:?}", request.body)),
                "HTTP request"
            );
        }
        let transport = |e: reqwest::Error| EngineError::Request {
            method: request.method.clone(),
            url: self.secrets.mask(&request.url),
            message: self.secrets.mask(&describe(&e)),
        };
        let response = builder.send().map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response.bytes().map_err(transport)?.to_vec();
        tracing::debug!(
            status,
            url = %self.secrets.mask(&request.url),
            bytes = body.len(),
            "HTTP response"
        );
        let response = HttpResponse::new(status, headers, body, request.url.clone());
        if let Some(observer) = &self.observer {
            observer.exchange(request, &response);
        }
        Ok(response)
    }
}

/// Downloads `url` as text (a manifest given by URL): an error for a failed request or a status
/// of 400 and more.
pub fn fetch_text(url: &str) -> Result<String> {
    let client = HttpClient::new(&HttpClientOptions::default(), Secrets::default())?;
    let request = HttpRequest {
        method: "GET".into(),
        url: url.to_string(),
        headers: Vec::new(),
        body: None,
    };
    let response = client.send(&request)?;
    if !response.ok() {
        return Err(EngineError::HttpStatus {
            method: "GET".into(),
            url: url.to_string(),
            status: response.status,
            message: "the manifest could not be downloaded".into(),
        });
    }
    Ok(response.text())
}

/// The error with its causes (reqwest's top-level message alone says little).
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    if e.is_timeout() {
        text.push_str(" (timed out)");
    }
    text
}

/// JSON as Python's `json.dumps` writes it (what requests sends for `json=`): `", "` and
/// `": "` separators, non-ASCII escaped.
pub fn python_json_dumps(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_python_json(value, &mut out);
    out
}

fn write_python_json(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python_string(k, out);
                out.push_str(": ");
                write_python_json(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python_json(v, out);
            }
            out.push(']');
        }
        Value::String(s) => write_python_string(s, out),
        other => out.push_str(&other.to_string()),
    }
}

fn write_python_string(s: &str, out: &mut String) {
    crate::interpolation::python_repr::write_json_str(out, s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_body_is_written_as_python_json_dumps() {
        let v = serde_json::json!({"a": [1, "é"], "b": {"c": null}});
        assert_eq!(
            python_json_dumps(&v),
            r#"{"a": [1, "\u00e9"], "b": {"c": null}}"#
        );
    }
}
