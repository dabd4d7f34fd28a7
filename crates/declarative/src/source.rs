//! [`DeclarativeSource`]: a loaded manifest with its config, answering the protocol's `spec`,
//! `check`, `discover` and `read` with the messages the CDK's `source-declarative-manifest`
//! prints.

use std::io::Write;

use serde_json::{Map, Value, json};

use crate::declarative_stream::DeclarativeStream;
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::{BuildEnv, Node};
use crate::http::{HttpClient, HttpClientOptions, HttpObserver, Secrets};
use crate::manifest::Manifest;

/// A manifest ready to run with a config.
#[derive(Debug)]
pub struct DeclarativeSource {
    manifest: Manifest,
    env: BuildEnv,
    client: HttpClient,
}

impl DeclarativeSource {
    /// The manifest with `config`. Nothing is requested yet; streams are built when used, so
    /// that a component the engine lacks fails only the commands that need it.
    pub fn new(manifest: Manifest, config: Value) -> Result<Self> {
        let secrets = Secrets::default();
        if let Some(spec) = spec_schema(&manifest) {
            secrets.add_from_spec(&spec, &config);
        }
        let client = HttpClient::new(&HttpClientOptions::default(), secrets)?;
        let mut env = BuildEnv {
            config,
            directory: manifest.directory().map(std::path::Path::to_path_buf),
            ..Default::default()
        };
        if let Some(budget) = manifest.tree().get("api_budget").filter(|v| !v.is_null()) {
            let path = ManifestPath::root().key("api_budget");
            let built = crate::requesters::ApiBudget::from_node(Node::new(budget, &path, &env)?)?;
            env.api_budget = Some(std::sync::Arc::new(built));
        }
        Ok(Self {
            manifest,
            env,
            client,
        })
    }

    /// Polls async jobs every `interval` instead of the CDK's 5 seconds (tests, and APIs that
    /// want slower polling).
    pub fn with_async_poll_interval(mut self, interval: std::time::Duration) -> Self {
        self.env.async_poll_interval = Some(interval);
        self
    }

    /// Every request of this source is shown to `observer` with its response (see
    /// [`crate::http::HttpObserver`]; the Connector Builder's test read).
    pub fn with_http_observer(mut self, observer: std::sync::Arc<dyn HttpObserver>) -> Self {
        self.client = self.client.with_observer(observer);
        self
    }

    /// The client every request of this source goes through.
    pub fn client(&self) -> &HttpClient {
        &self.client
    }

    /// The SPEC message's `spec` (the manifest's `spec` block in the protocol's shape).
    pub fn spec(manifest: &Manifest) -> Result<Value> {
        let Some(spec) = manifest.spec() else {
            return Err(EngineError::manifest(
                &ManifestPath::root().key("spec"),
                "the manifest has no spec: a connector's manifest must describe its config under `spec`",
            ));
        };
        let mut out = Map::new();
        if let Some(v) = spec.get("connection_specification") {
            out.insert("connectionSpecification".into(), v.clone());
        }
        if let Some(v) = spec.get("documentation_url") {
            out.insert("documentationUrl".into(), v.clone());
        }
        if let Some(v) = spec.get("advanced_auth") {
            let mut auth = v.clone();
            if let Some(m) = auth.as_object_mut() {
                m.remove("type");
                m.remove("$parameters");
            }
            out.insert("advanced_auth".into(), auth);
        }
        // The protocol model's defaults, which the CDK's serializer writes out.
        out.insert("supportsNormalization".into(), Value::Bool(false));
        out.insert("supportsDBT".into(), Value::Bool(false));
        Ok(Value::Object(out))
    }

    /// The streams of the manifest, built.
    pub fn streams(&self) -> Result<Vec<DeclarativeStream>> {
        let root = ManifestPath::root().key("streams");
        let mut out = Vec::new();
        for (i, value) in self.manifest.streams().iter().enumerate() {
            let path = root.index(i);
            out.push(
                DeclarativeStream::from_node(Node::new(value, &path, &self.env)?)?
                    .with_workers(self.workers()?),
            );
        }
        let dynamic_root = ManifestPath::root().key("dynamic_streams");
        let mut seen = std::collections::HashSet::new();
        for (i, definition) in self.manifest.dynamic_streams().iter().enumerate() {
            let path = dynamic_root.index(i);
            let resolved = crate::dynamic_streams::resolve(
                Node::new(definition, &path, &self.env)?,
                &self.client,
            )?;
            let template_path = path.key("stream_template");
            for stream in &resolved {
                let built =
                    DeclarativeStream::from_node(Node::new(stream, &template_path, &self.env)?)?
                        .with_workers(self.workers()?);
                if !seen.insert(built.name.clone())
                    || out.iter().any(|s: &DeclarativeStream| s.name == built.name)
                {
                    return Err(EngineError::Input(format!(
                        "Dynamic streams list contains a duplicate name: {}. Please check your configuration.",
                        built.name
                    )));
                }
                out.push(built);
            }
        }
        Ok(out)
    }

    /// Partitions read at the same time: the manifest's `concurrency_level`
    /// (`default_concurrency`, a number or a template over the config, capped by
    /// `max_concurrency`), else [`crate::declarative_stream::DEFAULT_WORKERS`].
    fn workers(&self) -> Result<usize> {
        let Some(level) = self
            .manifest
            .tree()
            .get("concurrency_level")
            .and_then(Value::as_object)
        else {
            return Ok(crate::declarative_stream::DEFAULT_WORKERS);
        };
        let path = ManifestPath::root().key("concurrency_level");
        let default = match level.get("default_concurrency") {
            Some(Value::Number(n)) => n.as_u64().unwrap_or(1),
            Some(Value::String(t)) => {
                let params = level
                    .get("$parameters")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                let v = crate::interpolation::InterpolatedString::new(t.clone(), &params)
                    .eval(&crate::interpolation::Context::new(&self.env.config))
                    .map_err(|e| EngineError::interpolation(&path.key("default_concurrency"), e))?;
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                    .ok_or_else(|| {
                        EngineError::manifest(
                            &path.key("default_concurrency"),
                            format!("must evaluate to a whole number, found {v}"),
                        )
                    })?
            }
            _ => crate::declarative_stream::DEFAULT_WORKERS as u64,
        };
        let max = level
            .get("max_concurrency")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX);
        Ok(default.min(max).clamp(1, 64) as usize)
    }

    /// `check` as the CDK's CLI runs it: a `check` block naming a stream the manifest does not
    /// have is the manifest's error (the CDK raises it, printing no CONNECTION_STATUS), any
    /// other failure a FAILED status ([`DeclarativeSource::check`]).
    pub fn check_connection(&self) -> Result<(bool, Option<String>)> {
        let names = self.check_stream_names();
        if !names.is_empty()
            && let Ok(streams) = self.streams()
            && let Some(missing) = names
                .iter()
                .find(|n| !streams.iter().any(|s| &s.name == *n))
        {
            return Err(EngineError::manifest(
                &ManifestPath::root().key("check").key("stream_names"),
                format!(
                    "{missing} is not part of the catalog. Expected one of {:?}.",
                    streams.iter().map(|s| s.name.as_str()).collect::<Vec<_>>()
                ),
            ));
        }
        Ok(self.check())
    }

    fn check_stream_names(&self) -> Vec<String> {
        match self.manifest.check().and_then(|c| c.get("stream_names")) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// `check`: reads the first page of each stream the `check` block names.
    pub fn check(&self) -> (bool, Option<String>) {
        match self.try_check() {
            Ok(()) => (true, None),
            Err(e) => (false, Some(self.client.secrets().mask(&e.to_string()))),
        }
    }

    fn try_check(&self) -> Result<()> {
        let check = self.manifest.check().ok_or_else(|| {
            EngineError::manifest(
                &ManifestPath::root().key("check"),
                "the manifest has no check block",
            )
        })?;
        let check_type = check
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("CheckStream");
        if check_type == "CheckDynamicStream" {
            return self.check_dynamic(check);
        }
        if check_type != "CheckStream" {
            return Err(EngineError::UnsupportedComponent {
                at: ManifestPath::root().key("check"),
                type_name: check_type.into(),
            });
        }
        let names: Vec<String> = match check.get("stream_names") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        let streams = self.streams()?;
        if streams.is_empty() {
            return Err(EngineError::Input(
                "No streams to connect to from source".into(),
            ));
        }
        for name in names {
            let Some(stream) = streams.iter().find(|s| s.name == name) else {
                return Err(EngineError::Input(format!(
                    "{name} is not part of the catalog. Expected one of {:?}.",
                    streams.iter().map(|s| s.name.as_str()).collect::<Vec<_>>()
                )));
            };
            stream.check(&self.client).map_err(|e| {
                EngineError::Input(format!("Unable to connect to stream {name} - {e}"))
            })?;
        }
        Ok(())
    }

    /// `CheckDynamicStream`: the first `stream_count` streams (static ones first, then the
    /// dynamic ones) must be readable (`use_check_availability: false` only builds them).
    fn check_dynamic(&self, check: &Map<String, Value>) -> Result<()> {
        let count = check
            .get("stream_count")
            .and_then(Value::as_u64)
            .unwrap_or(0) as usize;
        let use_availability = check
            .get("use_check_availability")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let streams = self.streams()?;
        if streams.is_empty() {
            return Err(EngineError::Input(
                "No streams to connect to from source".into(),
            ));
        }
        if !use_availability {
            return Ok(());
        }
        for stream in streams.iter().take(count) {
            stream.check(&self.client).map_err(|e| {
                EngineError::Input(format!(
                    "Encountered an error trying to connect to stream {}. Error: {e}",
                    stream.name
                ))
            })?;
        }
        Ok(())
    }

    /// `discover`: the catalog.
    pub fn discover(&self) -> Result<Value> {
        let streams = self.streams()?;
        Ok(
            json!({ "streams": streams.iter().map(DeclarativeStream::catalog_entry).collect::<Vec<_>>() }),
        )
    }

    /// `read`: the configured catalog's streams, in order, with `state` (a list of
    /// per-stream STATE messages, or `None`), writing RECORD, STATE and TRACE messages to `out`.
    /// A stream that fails is reported (a TRACE error) and the others still run; the result
    /// is an error naming the failed streams.
    pub fn read(&self, catalog: &Value, state: Option<&Value>, out: &mut dyn Write) -> Result<()> {
        let streams = self.streams()?;
        let configured = catalog
            .get("streams")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                EngineError::Input("the configured catalog has no `streams` list".into())
            })?;
        let mut failed = Vec::new();
        for entry in configured {
            let name = entry
                .pointer("/stream/name")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    EngineError::Input("a configured stream has no stream.name".into())
                })?;
            let Some(stream) = streams.iter().find(|s| s.name == name) else {
                write_message(
                    out,
                    &log(
                        "WARN",
                        &format!("The stream {name} is not in the manifest; skipped"),
                    ),
                )?;
                continue;
            };
            let incremental = entry.get("sync_mode").and_then(Value::as_str) == Some("incremental");
            let stream_state = if incremental || stream.is_incremental() {
                state_of(state, name)
            } else {
                None
            };
            write_message(out, &stream_status(name, "STARTED"))?;
            let count = std::cell::Cell::new(0u64);
            let mut running = false;
            let record_writer = RecordWriter::new(name, now_ms());
            let sink = std::cell::RefCell::new(&mut *out);
            let result = stream.read(
                &self.client,
                stream_state.as_ref(),
                &mut |record| {
                    let mut out = sink.borrow_mut();
                    if !running {
                        running = true;
                        write_message(*out, &stream_status(name, "RUNNING"))?;
                    }
                    count.set(count.get() + 1);
                    record_writer.write(*out, &record)?;
                    Ok(true)
                },
                &mut |mut state| {
                    drop_top_level_nulls(&mut state);
                    write_message(
                        *sink.borrow_mut(),
                        &json!({"type": "STATE", "state": {"type": "STREAM", "stream": {
                            "stream_descriptor": {"name": name}, "stream_state": state},
                            "sourceStats": {"recordCount": count.get() as f64}}}),
                    )
                },
            );
            match result {
                Ok(()) => write_message(out, &stream_status(name, "COMPLETE"))?,
                Err(EngineError::Output(e)) => return Err(EngineError::Output(e)),
                Err(e) => {
                    let message = self.client.secrets().mask(&e.to_string());
                    write_message(out, &error_trace(name, &message))?;
                    write_message(out, &stream_status(name, "INCOMPLETE"))?;
                    failed.push(name.to_string());
                }
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(EngineError::Input(format!(
                "During the sync, the following streams did not sync successfully: {}",
                failed.join(", ")
            )))
        }
    }

    /// The secrets masked in this source's messages.
    pub fn secrets(&self) -> &Secrets {
        self.client.secrets()
    }
}

fn spec_schema(manifest: &Manifest) -> Option<Value> {
    manifest.spec()?.get("connection_specification").cloned()
}

/// The incoming state of stream `name` from a list of STATE messages (or a legacy mapping of
/// stream name to state).
fn state_of(state: Option<&Value>, name: &str) -> Option<Value> {
    match state? {
        Value::Array(messages) => messages.iter().find_map(|m| {
            let m = m.get("state").unwrap_or(m);
            let stream = m.get("stream")?;
            (stream
                .pointer("/stream_descriptor/name")
                .and_then(Value::as_str)
                == Some(name))
            .then(|| stream.get("stream_state").cloned())
            .flatten()
        }),
        Value::Object(map) => map.get(name).cloned(),
        _ => None,
    }
    .filter(|s| !s.is_null())
}

/// Writes the RECORD messages of one stream, straight from the record (no message value is
/// built per record): `{"type":"RECORD","record":{"stream":…,"data":…,"emitted_at":…}}`, the
/// data's top-level nulls left out as the CDK's serializer does.
struct RecordWriter {
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl RecordWriter {
    fn new(stream: &str, emitted_at: i64) -> Self {
        let name = Value::String(stream.to_string());
        Self {
            head: format!(r#"{{"type":"RECORD","record":{{"stream":{name},"data":"#).into_bytes(),
            tail: format!(",\"emitted_at\":{emitted_at}}}}}\n").into_bytes(),
        }
    }

    fn write(&self, out: &mut dyn Write, record: &Value) -> Result<()> {
        let fail = std::io::Error::other;
        out.write_all(&self.head)?;
        match record {
            Value::Object(map) => {
                out.write_all(b"{")?;
                let mut first = true;
                for (key, value) in map.iter().filter(|(_, v)| !v.is_null()) {
                    if !first {
                        out.write_all(b",")?;
                    }
                    first = false;
                    serde_json::to_writer(&mut *out, key).map_err(fail)?;
                    out.write_all(b":")?;
                    serde_json::to_writer(&mut *out, value).map_err(fail)?;
                }
                out.write_all(b"}")?;
            }
            other => serde_json::to_writer(&mut *out, other).map_err(fail)?,
        }
        out.write_all(&self.tail)?;
        Ok(())
    }
}

/// Drops the top-level members that are null, as the CDK's message serializer does
/// (`omit_none` reaches into the record's `data` mapping, one level deep).
fn drop_top_level_nulls(value: &mut Value) {
    if let Value::Object(map) = value {
        map.retain(|_, v| !v.is_null());
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn stream_status(name: &str, status: &str) -> Value {
    json!({"type": "TRACE", "trace": {"type": "STREAM_STATUS", "emitted_at": now_ms() as f64,
        "stream_status": {"stream_descriptor": {"name": name}, "status": status}}})
}

fn error_trace(name: &str, message: &str) -> Value {
    json!({"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": now_ms() as f64, "error": {
        "message": format!("Stream {name} failed: {message}"), "internal_message": message,
        "failure_type": "system_error", "stream_descriptor": {"name": name}}}})
}

/// A LOG message.
pub fn log(level: &str, message: &str) -> Value {
    json!({"type": "LOG", "log": {"level": level, "message": message}})
}

/// Writes one message as a JSON line.
pub fn write_message(out: &mut dyn Write, message: &Value) -> Result<()> {
    serde_json::to_writer(&mut *out, message).map_err(std::io::Error::other)?;
    out.write_all(b"\n")?;
    Ok(())
}
