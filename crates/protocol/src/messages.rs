//! The Airbyte protocol's messages (v0.18 models).
//!
//! Each struct keeps the fields it does not know in `extra`, so a message read from a connector
//! and written back (to a destination, or as state to the next read) loses nothing.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::enums::*;

/// Unknown fields, kept for the round trip.
pub type Extra = Map<String, Value>;

fn is_empty(m: &Extra) -> bool {
    m.is_empty()
}

/// One line of a connector's stdout (or a destination's stdin).
///
/// The protocol puts the payload in a field named after the type; exactly one is set for a
/// well-formed message. Build messages with the constructors (`AirbyteMessage::record`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AirbyteMessage {
    #[serde(rename = "type")]
    pub r#type: MessageType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<AirbyteLogMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<ConnectorSpecification>,
    #[serde(
        default,
        rename = "connectionStatus",
        skip_serializing_if = "Option::is_none"
    )]
    pub connection_status: Option<AirbyteConnectionStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<AirbyteCatalog>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<AirbyteRecordMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<AirbyteStateMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<AirbyteTraceMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<AirbyteControlMessage>,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}

impl AirbyteMessage {
    fn empty(r#type: MessageType) -> Self {
        Self {
            r#type,
            log: None,
            spec: None,
            connection_status: None,
            catalog: None,
            record: None,
            state: None,
            trace: None,
            control: None,
            extra: Extra::new(),
        }
    }

    /// A RECORD message.
    pub fn record(record: AirbyteRecordMessage) -> Self {
        Self {
            record: Some(record),
            ..Self::empty(MessageType::Record)
        }
    }

    /// A STATE message.
    pub fn state(state: AirbyteStateMessage) -> Self {
        Self {
            state: Some(state),
            ..Self::empty(MessageType::State)
        }
    }

    /// A LOG message.
    pub fn log(level: LogLevel, message: impl Into<String>) -> Self {
        Self {
            log: Some(AirbyteLogMessage {
                level,
                message: message.into(),
                stack_trace: None,
                extra: Extra::new(),
            }),
            ..Self::empty(MessageType::Log)
        }
    }

    /// A TRACE message.
    pub fn trace(trace: AirbyteTraceMessage) -> Self {
        Self {
            trace: Some(trace),
            ..Self::empty(MessageType::Trace)
        }
    }

    /// A TRACE STREAM_STATUS message for `stream`, stamped now.
    pub fn stream_status(stream: StreamDescriptor, status: StreamStatus) -> Self {
        let emitted_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0);
        Self::trace(AirbyteTraceMessage {
            r#type: TraceType::StreamStatus,
            emitted_at,
            error: None,
            estimate: None,
            stream_status: Some(AirbyteStreamStatusTraceMessage {
                stream_descriptor: stream,
                status,
                reasons: None,
                extra: Default::default(),
            }),
            analytics: None,
            extra: Default::default(),
        })
    }

    /// A SPEC message.
    pub fn spec(spec: ConnectorSpecification) -> Self {
        Self {
            spec: Some(spec),
            ..Self::empty(MessageType::Spec)
        }
    }

    /// A CATALOG message.
    pub fn catalog(catalog: AirbyteCatalog) -> Self {
        Self {
            catalog: Some(catalog),
            ..Self::empty(MessageType::Catalog)
        }
    }

    /// A CONNECTION_STATUS message.
    pub fn connection_status(status: AirbyteConnectionStatus) -> Self {
        Self {
            connection_status: Some(status),
            ..Self::empty(MessageType::ConnectionStatus)
        }
    }

    /// A CONTROL message.
    pub fn control(control: AirbyteControlMessage) -> Self {
        Self {
            control: Some(control),
            ..Self::empty(MessageType::Control)
        }
    }

    /// The message as one protocol line (compact JSON, no newline).
    pub fn to_line(&self) -> String {
        // Serializing these types cannot fail: all map keys are strings.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// `AirbyteRecordMessage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AirbyteRecordMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub stream: String,
    pub data: Map<String, Value>,
    /// Milliseconds since the Unix epoch.
    pub emitted_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<AirbyteRecordMessageMeta>,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}

/// `AirbyteRecordMessageMeta`: what happened to a record on its way.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AirbyteRecordMessageMeta {
    #[serde(default)]
    pub changes: Vec<AirbyteRecordMessageMetaChange>,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}

/// One change made to a record field (`NULLED` or `TRUNCATED`) and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AirbyteRecordMessageMetaChange {
    pub field: String,
    pub change: ChangeType,
    pub reason: ChangeReason,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}

/// `AirbyteStateMessage`: STREAM, GLOBAL, or LEGACY (untyped `data`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AirbyteStateMessage {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<StateType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<AirbyteStreamState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global: Option<AirbyteGlobalState>,
    /// The LEGACY state blob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    #[serde(
        default,
        rename = "sourceStats",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_stats: Option<AirbyteStateStats>,
    #[serde(
        default,
        rename = "destinationStats",
        skip_serializing_if = "Option::is_none"
    )]
    pub destination_stats: Option<AirbyteStateStats>,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}

impl AirbyteStateMessage {
    /// The state's kind; an untyped message with only `data` is LEGACY, as the protocol says.
    pub fn kind(&self) -> StateType {
        match &self.r#type {
            Some(t) => t.clone(),
            None if self.stream.is_some() => StateType::Stream,
            None if self.global.is_some() => StateType::Global,
            None => StateType::Legacy,
        }
    }
}

/// `AirbyteStateStats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AirbyteStateStats {
    #[serde(
        rename = "recordCount",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub record_count: Option<f64>,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}

/// The state of one stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AirbyteStreamState {
    pub stream_descriptor: StreamDescriptor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_state: Option<Value>,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}

/// GLOBAL state: shared (e.g. a CDC position) plus per-stream parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AirbyteGlobalState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_state: Option<Value>,
    #[serde(default)]
    pub stream_states: Vec<AirbyteStreamState>,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}

/// Names a stream: name plus optional namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StreamDescriptor {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}

impl StreamDescriptor {
    /// A descriptor without namespace.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            namespace: None,
            extra: Extra::new(),
        }
    }
}

/// `AirbyteLogMessage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AirbyteLogMessage {
    pub level: LogLevel,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_trace: Option<String>,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}

/// `AirbyteTraceMessage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AirbyteTraceMessage {
    #[serde(rename = "type")]
    pub r#type: TraceType,
    /// Milliseconds since the Unix epoch (a float in the protocol).
    pub emitted_at: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<AirbyteErrorTraceMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<AirbyteEstimateTraceMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_status: Option<AirbyteStreamStatusTraceMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analytics: Option<AirbyteAnalyticsTraceMessage>,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}

/// A connector's report of an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AirbyteErrorTraceMessage {
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_trace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_type: Option<FailureType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_descriptor: Option<StreamDescriptor>,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}

/// An estimate of the rows/bytes a stream or sync will produce.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AirbyteEstimateTraceMessage {
    pub name: String,
    #[serde(rename = "type")]
    pub r#type: EstimateType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_estimate: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byte_estimate: Option<i64>,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}

/// A stream's status change (STARTED, RUNNING, COMPLETE, INCOMPLETE).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AirbyteStreamStatusTraceMessage {
    pub stream_descriptor: StreamDescriptor,
    pub status: StreamStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<AirbyteStreamStatusReason>>,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}

/// Why a stream has its status (e.g. RATE_LIMITED).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AirbyteStreamStatusReason {
    #[serde(rename = "type")]
    pub r#type: StreamStatusReasonType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limited: Option<AirbyteStreamStatusRateLimitedReason>,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}

/// Details of a RATE_LIMITED reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AirbyteStreamStatusRateLimitedReason {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_reset: Option<i64>,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}

/// An analytics event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AirbyteAnalyticsTraceMessage {
    #[serde(rename = "type")]
    pub r#type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}

/// `AirbyteControlMessage`: a connector asks the orchestrator to do something.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AirbyteControlMessage {
    #[serde(rename = "type")]
    pub r#type: OrchestratorType,
    pub emitted_at: f64,
    #[serde(
        rename = "connectorConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub connector_config: Option<AirbyteControlConnectorConfigMessage>,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}

/// A new connector config, to be persisted by the orchestrator (e.g. a refreshed token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AirbyteControlConnectorConfigMessage {
    pub config: Map<String, Value>,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}

/// `ConnectorSpecification`: what a connector accepts as config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorSpecification {
    #[serde(
        rename = "documentationUrl",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub documentation_url: Option<String>,
    #[serde(
        rename = "changelogUrl",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub changelog_url: Option<String>,
    /// A JSON schema of the config.
    #[serde(rename = "connectionSpecification")]
    pub connection_specification: Value,
    #[serde(
        rename = "supportsIncremental",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub supports_incremental: Option<bool>,
    #[serde(
        rename = "supportsNormalization",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub supports_normalization: Option<bool>,
    #[serde(
        rename = "supportsDBT",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub supports_dbt: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_destination_sync_modes: Option<Vec<DestinationSyncMode>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advanced_auth: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}

/// The answer to `check`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AirbyteConnectionStatus {
    pub status: ConnectionStatusKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}

/// The answer to `discover`: the streams a source offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AirbyteCatalog {
    pub streams: Vec<AirbyteStream>,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}

/// One stream offered by a source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AirbyteStream {
    pub name: String,
    pub json_schema: Value,
    #[serde(default)]
    pub supported_sync_modes: Vec<SyncMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_defined_cursor: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_cursor_field: Option<Vec<String>>,
    /// A list of key paths; each path is a list of field names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_defined_primary_key: Option<Vec<Vec<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_resumable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_file_based: Option<bool>,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}

impl AirbyteStream {
    /// A stream with a schema and the given sync modes, nothing else set.
    pub fn new(name: impl Into<String>, json_schema: Value, supported: Vec<SyncMode>) -> Self {
        Self {
            name: name.into(),
            json_schema,
            supported_sync_modes: supported,
            source_defined_cursor: None,
            default_cursor_field: None,
            source_defined_primary_key: None,
            namespace: None,
            is_resumable: None,
            is_file_based: None,
            extra: Extra::new(),
        }
    }
}

/// The catalog handed to `read`: the selected streams and how to sync each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfiguredAirbyteCatalog {
    pub streams: Vec<ConfiguredAirbyteStream>,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}

impl ConfiguredAirbyteCatalog {
    /// The configured stream with this exact name.
    pub fn stream(&self, name: &str) -> Option<&ConfiguredAirbyteStream> {
        self.streams.iter().find(|s| s.stream.name == name)
    }
}

/// One configured stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfiguredAirbyteStream {
    pub stream: AirbyteStream,
    pub sync_mode: SyncMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor_field: Option<Vec<String>>,
    pub destination_sync_mode: DestinationSyncMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<Vec<Vec<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_generation_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_id: Option<i64>,
    #[serde(flatten, skip_serializing_if = "is_empty")]
    pub extra: Extra,
}
