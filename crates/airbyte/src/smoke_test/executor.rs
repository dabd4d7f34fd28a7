//! The scenario source as a connector run in-process: it answers `spec`, `check`, `discover`
//! and `read` with protocol lines, as PyAirbyte's `SourceSmokeTest` does as a subprocess.

use std::collections::HashSet;
use std::fmt;
use std::io::{BufWriter, Write};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use abrs_connectors::{
    ConnectorError, ConnectorProcess, Executor, InProcessProducer, Invocation, Verb,
};
use abrs_protocol::{
    AirbyteCatalog, AirbyteConnectionStatus, AirbyteErrorTraceMessage, AirbyteMessage,
    AirbyteRecordMessage, AirbyteStateMessage, AirbyteStateStats, AirbyteStream,
    AirbyteStreamState, AirbyteTraceMessage, ConfiguredAirbyteCatalog, ConnectionStatusKind,
    ConnectorSpecification, FailureType, LogLevel, StateType, StreamDescriptor, StreamStatus,
    SyncMode, TraceType,
};
use serde_json::{Value, json};

use super::{SOURCE_NAME, Scenario};

/// The sync modes each stream offers. PyAirbyte's source declares `full_refresh` only: it has no
/// cursor and sends every record on every read.
const SUPPORTED_SYNC_MODES: [SyncMode; 1] = [SyncMode::FullRefresh];

/// The stream state sent after a stream's records (see [`ScenarioExecutor`]).
fn completed_state() -> Value {
    json!({ "scenario_complete": true })
}

/// Runs the scenario source in-process: an [`Executor`] whose connector is
/// [`SOURCE_NAME`], answering each verb through [`ConnectorProcess::in_process`], so that its
/// output goes through the same decoding, logging and error handling as a real connector's.
///
/// * `spec`: a config with one optional setting, `namespace` (string or null), the namespace of
///   every stream.
/// * `check`: SUCCEEDED, or FAILED when there is no scenario or the config is invalid.
/// * `discover`: one stream per scenario, `full_refresh`, its primary key as the source-defined
///   one.
/// * `read`: for each stream of the configured catalog, in the catalog's order: TRACE
///   STREAM_STATUS STARTED, RUNNING, the records (all with the same `emitted_at`, the read's
///   start in ms), a STREAM state `{"scenario_complete": true}` (with `sourceStats.recordCount`),
///   then STREAM_STATUS COMPLETE. Streams that are not scenarios are skipped with a warning.
///
/// The state is not in PyAirbyte's source, which sends none: destinations echo a state once
/// they have committed what came before it, so it tells per scenario what a destination
/// accepted. Incoming state is ignored (every read sends everything).
#[derive(Clone)]
pub struct ScenarioExecutor {
    scenarios: Arc<Vec<Scenario>>,
}

impl ScenarioExecutor {
    /// An executor for these scenarios. A scenario named like an earlier one is dropped, with a
    /// warning (PyAirbyte keeps the first too).
    pub fn new(scenarios: Vec<Scenario>) -> Self {
        let mut seen = HashSet::new();
        let unique = scenarios
            .into_iter()
            .filter(|s| {
                let first = seen.insert(s.name.clone());
                if !first {
                    tracing::warn!(
                        "smoke-test scenario `{}` is given twice; the first one is used",
                        s.name
                    );
                }
                first
            })
            .collect();
        Self {
            scenarios: Arc::new(unique),
        }
    }

    /// The scenarios the source sends.
    pub fn scenarios(&self) -> &[Scenario] {
        &self.scenarios
    }
}

impl fmt::Debug for ScenarioExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The records can be large: names only.
        f.debug_struct("ScenarioExecutor")
            .field(
                "scenarios",
                &self
                    .scenarios
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Executor for ScenarioExecutor {
    fn name(&self) -> &str {
        SOURCE_NAME
    }

    fn execute(&self, invocation: Invocation) -> Result<ConnectorProcess, ConnectorError> {
        let scenarios = Arc::clone(&self.scenarios);
        let config = invocation.config.clone();
        let producer: InProcessProducer = match invocation.verb {
            Verb::Spec => Box::new(|out| emit(out, [AirbyteMessage::spec(spec())])),
            Verb::Check => Box::new(move |out| emit(out, [check(&scenarios, config.as_ref())])),
            Verb::Discover => Box::new(move |out| {
                let message = match namespace(config.as_ref()) {
                    Ok(ns) => AirbyteMessage::catalog(catalog(&scenarios, ns)),
                    Err(problem) => config_error(problem),
                };
                emit(out, [message])
            }),
            Verb::Read => {
                let catalog = invocation.catalog.clone();
                Box::new(move |out| read(out, &scenarios, config.as_ref(), catalog.as_ref()))
            }
            Verb::Write => {
                return Err(ConnectorError::InvalidOptions {
                    connector: SOURCE_NAME.to_string(),
                    message: "it is a source and cannot `write`; send its records to a \
                              destination instead"
                        .to_string(),
                });
            }
        };
        ConnectorProcess::in_process(SOURCE_NAME, invocation, producer)
    }

    fn ensure_installation(&self, _auto_fix: bool) -> Result<(), ConnectorError> {
        // Built into airbyte-rs: always there.
        Ok(())
    }

    fn install(&self) -> Result<(), ConnectorError> {
        // Nothing to install; as `pip install` of an installed package, that is a success.
        Ok(())
    }

    fn uninstall(&self) -> Result<(), ConnectorError> {
        Err(ConnectorError::InvalidOptions {
            connector: SOURCE_NAME.to_string(),
            message: "it is built into airbyte-rs (it runs in-process), so there is nothing to \
                      uninstall"
                .to_string(),
        })
    }

    fn installed_version(&self) -> Option<String> {
        Some(env!("CARGO_PKG_VERSION").to_string())
    }

    fn describe(&self) -> String {
        format!("<in-process {SOURCE_NAME}>")
    }
}

/// Writes each message as one line; a write error means the reader is gone.
fn emit(
    out: &mut dyn Write,
    messages: impl IntoIterator<Item = AirbyteMessage>,
) -> Result<(), String> {
    let mut out = BufWriter::new(out);
    for message in messages {
        write_line(&mut out, &message)?;
    }
    out.flush().map_err(write_failed)
}

fn write_line(out: &mut impl Write, message: &AirbyteMessage) -> Result<(), String> {
    let mut line = message.to_line();
    line.push('\n');
    out.write_all(line.as_bytes()).map_err(write_failed)
}

fn write_failed(err: std::io::Error) -> String {
    format!("could not write its output: {err}")
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// The spec: PyAirbyte's title and documentation URL, and the one setting this source reads.
fn spec() -> ConnectorSpecification {
    ConnectorSpecification {
        documentation_url: Some("https://docs.airbyte.com/integrations/sources/smoke-test".into()),
        changelog_url: None,
        connection_specification: json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "title": "Smoke Test Source Spec",
            "type": "object",
            "required": [],
            "properties": {
                "namespace": {
                    "type": ["string", "null"],
                    "title": "Namespace",
                    "description": "Namespace (schema/database) to set on all streams. When \
                                    provided, the destination will write data into this \
                                    namespace.",
                    "default": null,
                },
            },
        }),
        supports_incremental: None,
        supports_normalization: None,
        supports_dbt: None,
        supported_destination_sync_modes: None,
        advanced_auth: None,
        protocol_version: None,
        extra: Default::default(),
    }
}

/// The `namespace` setting: absent, null or empty is none.
fn namespace(config: Option<&Value>) -> Result<Option<String>, String> {
    match config.and_then(|c| c.get("namespace")) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!(
            "the `namespace` setting must be a string or null, not {other}"
        )),
    }
}

fn check(scenarios: &[Scenario], config: Option<&Value>) -> AirbyteMessage {
    let failed = |message: String| AirbyteConnectionStatus {
        status: ConnectionStatusKind::Failed,
        message: Some(message),
        extra: Default::default(),
    };
    let status = if let Err(problem) = namespace(config) {
        failed(problem)
    } else if scenarios.is_empty() {
        failed(
            "no scenarios to send: select at least one (`fast`, `all` or scenario names) or add \
             custom scenarios"
                .to_string(),
        )
    } else {
        AirbyteConnectionStatus {
            status: ConnectionStatusKind::Succeeded,
            message: None,
            extra: Default::default(),
        }
    };
    AirbyteMessage::connection_status(status)
}

fn catalog(scenarios: &[Scenario], namespace: Option<String>) -> AirbyteCatalog {
    let streams = scenarios
        .iter()
        .map(|s| AirbyteStream {
            source_defined_cursor: Some(false),
            source_defined_primary_key: s.primary_key.clone(),
            namespace: namespace.clone(),
            ..AirbyteStream::new(
                s.name.clone(),
                s.json_schema.clone(),
                SUPPORTED_SYNC_MODES.to_vec(),
            )
        })
        .collect();
    AirbyteCatalog {
        streams,
        extra: Default::default(),
    }
}

/// A TRACE ERROR about the config, as a connector reports a config it cannot use.
fn config_error(problem: String) -> AirbyteMessage {
    AirbyteMessage::trace(AirbyteTraceMessage {
        r#type: TraceType::Error,
        emitted_at: now_ms(),
        error: Some(AirbyteErrorTraceMessage {
            message: format!("The config of {SOURCE_NAME} is invalid: {problem}."),
            internal_message: None,
            stack_trace: None,
            failure_type: Some(FailureType::ConfigError),
            stream_descriptor: None,
            extra: Default::default(),
        }),
        estimate: None,
        stream_status: None,
        analytics: None,
        extra: Default::default(),
    })
}

fn descriptor(name: &str, namespace: &Option<String>) -> StreamDescriptor {
    StreamDescriptor {
        namespace: namespace.clone(),
        ..StreamDescriptor::new(name)
    }
}

fn stream_status(name: &str, namespace: &Option<String>, status: StreamStatus) -> AirbyteMessage {
    AirbyteMessage::stream_status(descriptor(name, namespace), status)
}

fn stream_state(name: &str, namespace: &Option<String>, records: usize) -> AirbyteMessage {
    AirbyteMessage::state(AirbyteStateMessage {
        r#type: Some(StateType::Stream),
        stream: Some(AirbyteStreamState {
            stream_descriptor: descriptor(name, namespace),
            stream_state: Some(completed_state()),
            extra: Default::default(),
        }),
        global: None,
        data: None,
        source_stats: Some(AirbyteStateStats {
            record_count: Some(records as f64),
            extra: Default::default(),
        }),
        destination_stats: None,
        extra: Default::default(),
    })
}

fn read(
    out: &mut dyn Write,
    scenarios: &[Scenario],
    config: Option<&Value>,
    catalog: Option<&ConfiguredAirbyteCatalog>,
) -> Result<(), String> {
    let namespace = match namespace(config) {
        Ok(ns) => ns,
        Err(problem) => return emit(out, [config_error(problem)]),
    };
    let Some(catalog) = catalog else {
        return Err("`read` was started without a configured catalog".to_string());
    };
    let emitted_at = now_ms() as i64;
    let mut out = BufWriter::new(out);
    for configured in &catalog.streams {
        let name = configured.stream.name.as_str();
        let Some(scenario) = scenarios.iter().find(|s| s.name == name) else {
            write_line(
                &mut out,
                &AirbyteMessage::log(
                    LogLevel::Warn,
                    format!("Stream '{name}' not found in scenarios, skipping."),
                ),
            )?;
            continue;
        };
        write_line(
            &mut out,
            &stream_status(name, &namespace, StreamStatus::Started),
        )?;
        write_line(
            &mut out,
            &stream_status(name, &namespace, StreamStatus::Running),
        )?;
        for data in &scenario.records {
            let record = AirbyteMessage::record(AirbyteRecordMessage {
                namespace: namespace.clone(),
                stream: name.to_string(),
                data: data.clone(),
                emitted_at,
                meta: None,
                extra: Default::default(),
            });
            write_line(&mut out, &record)?;
        }
        write_line(
            &mut out,
            &stream_state(name, &namespace, scenario.records.len()),
        )?;
        write_line(
            &mut out,
            &stream_status(name, &namespace, StreamStatus::Complete),
        )?;
    }
    out.flush().map_err(write_failed)
}
