//! The state model: `_airbyte_state` rows, PyAirbyte's layout, all three state types
//! (backend-neutral: each backend reads and writes the rows, this module decides what they
//! mean).
//!
//! * STREAM state: one row per stream, `stream_name` = the stream, `table_name` =
//!   `table_prefix + stream_name` (PyAirbyte's key, so PyAirbyte reads our rows and we read
//!   its rows).
//! * GLOBAL state (PyAirbyte drops it, §6.2): one row, `stream_name` = `__global__`,
//!   `table_name` = `table_prefix + "__global__" + source_name`.
//! * LEGACY state: likewise with `__legacy__`.
//!
//! `state_json` is the message exactly as the connector emitted it (unknown fields included).
//! Rows written by PyAirbyte (pydantic's `"global_": null` and friends) are read back correctly.

use std::collections::BTreeSet;

use serde_json::Value;

use abrs_protocol::{AirbyteGlobalState, AirbyteStateMessage, StateType};

use crate::error::{CacheError, Result};

/// PyAirbyte's state table.
pub const STATE_TABLE: &str = "_airbyte_state";
/// PyAirbyte's stream registry table.
pub const STREAMS_TABLE: &str = "_airbyte_streams";

/// `stream_name` of the GLOBAL state row.
pub const GLOBAL_STATE_STREAM: &str = "__global__";
/// `stream_name` of the LEGACY state row.
pub const LEGACY_STATE_STREAM: &str = "__legacy__";

/// Which row a state message replaces: later messages with the same key supersede earlier ones.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum StateKey {
    Global,
    Legacy,
    Stream(String),
}

impl StateKey {
    pub(crate) fn of(state: &AirbyteStateMessage) -> Self {
        match state.kind() {
            StateType::Global => Self::Global,
            StateType::Stream => match &state.stream {
                Some(s) => Self::Stream(s.stream_descriptor.name.clone()),
                None => Self::Legacy,
            },
            _ => Self::Legacy,
        }
    }

    /// The row's `(stream_name, table_name)`.
    pub(crate) fn row(&self, prefix: &str, source: &str) -> (String, String) {
        match self {
            Self::Stream(name) => (name.clone(), format!("{prefix}{name}")),
            Self::Global => (
                GLOBAL_STATE_STREAM.into(),
                format!("{prefix}{GLOBAL_STATE_STREAM}{source}"),
            ),
            Self::Legacy => (
                LEGACY_STATE_STREAM.into(),
                format!("{prefix}{LEGACY_STATE_STREAM}{source}"),
            ),
        }
    }
}

/// Turns a stored `state_json` into a message, accepting PyAirbyte's pydantic dump.
pub fn parse_stored_state(table_name: &str, json: &str) -> Result<AirbyteStateMessage> {
    let bad = |source| CacheError::BadStoredState {
        table_name: table_name.to_string(),
        source,
    };
    let mut value: Value = serde_json::from_str(json).map_err(bad)?;
    if let Value::Object(obj) = &mut value {
        // pydantic names the field `global_` (a Python keyword clash) when dumping by name.
        if let Some(g) = obj.remove("global_")
            && !g.is_null()
            && !obj.contains_key("global")
        {
            obj.insert("global".into(), g);
        }
        strip_nulls(obj);
    }
    serde_json::from_value(value).map_err(bad)
}

/// Drops `null` members that pydantic writes for unset optional fields (they would otherwise
/// be handed back to the connector as unknown fields).
fn strip_nulls(obj: &mut serde_json::Map<String, Value>) {
    obj.retain(|k, v| !(v.is_null() && k != "stream_state" && k != "shared_state"));
    for (k, v) in obj.iter_mut() {
        // Inside state blobs nulls are the connector's own data: leave them.
        if k == "stream_state" || k == "shared_state" || k == "data" {
            continue;
        }
        match v {
            Value::Object(o) => strip_nulls(o),
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(o) = item {
                        strip_nulls(o);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The saved state of one source in one cache, to inspect or hand to the next read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateProvider {
    messages: Vec<AirbyteStateMessage>,
}

impl StateProvider {
    /// A provider over these messages.
    pub fn new(messages: Vec<AirbyteStateMessage>) -> Self {
        Self { messages }
    }

    /// The messages to pass to the connector's `--state` (GLOBAL alone when there is one,
    /// else the STREAM states, else the LEGACY state).
    pub fn state_messages(&self) -> &[AirbyteStateMessage] {
        &self.messages
    }

    /// The `--state` file content: a JSON array of the messages.
    pub fn to_state_file_json(&self) -> String {
        serde_json::to_string(&self.messages).unwrap_or_else(|_| "[]".into())
    }

    /// The streams that have state (per-stream parts of a GLOBAL state included).
    pub fn known_stream_names(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for m in &self.messages {
            if let Some(s) = &m.stream {
                out.insert(s.stream_descriptor.name.clone());
            }
            if let Some(g) = &m.global {
                out.extend(
                    g.stream_states
                        .iter()
                        .map(|s| s.stream_descriptor.name.clone()),
                );
            }
        }
        out
    }

    /// The state of one stream (`stream_state`), from a STREAM or a GLOBAL message.
    pub fn get_stream_state(&self, stream: &str) -> Option<&Value> {
        self.messages.iter().find_map(|m| {
            if let Some(s) = m
                .stream
                .as_ref()
                .filter(|s| s.stream_descriptor.name == stream)
            {
                return s.stream_state.as_ref();
            }
            m.global.as_ref().and_then(|g| {
                g.stream_states
                    .iter()
                    .find(|s| s.stream_descriptor.name == stream)
                    .and_then(|s| s.stream_state.as_ref())
            })
        })
    }

    /// The GLOBAL state, when the source uses one.
    pub fn global_state(&self) -> Option<&AirbyteGlobalState> {
        self.messages.iter().find_map(|m| m.global.as_ref())
    }
}

/// The provider for the rows `(stream_name, table_name, state_json)` of `_airbyte_state` with
/// this source name: the rows of this table prefix only, GLOBAL alone when there is one, else
/// the STREAM states, else the LEGACY state.
pub(crate) fn provider_from_rows(
    prefix: &str,
    source_name: &str,
    rows: Vec<(String, String, String)>,
) -> Result<StateProvider> {
    let (mut global, mut legacy, mut streams) = (None, None, Vec::new());
    for (stream_name, table_name, json) in rows {
        if stream_name == GLOBAL_STATE_STREAM
            && table_name == StateKey::Global.row(prefix, source_name).1
        {
            global = Some(parse_stored_state(&table_name, &json)?);
        } else if stream_name == LEGACY_STATE_STREAM
            && table_name == StateKey::Legacy.row(prefix, source_name).1
        {
            legacy = Some(parse_stored_state(&table_name, &json)?);
        } else if table_name == format!("{prefix}{stream_name}") {
            streams.push(parse_stored_state(&table_name, &json)?);
        }
    }
    let messages = match (global, legacy) {
        (Some(g), _) => vec![g],
        (None, _) if !streams.is_empty() => streams,
        (None, Some(l)) => vec![l],
        (None, None) => Vec::new(),
    };
    Ok(StateProvider::new(messages))
}

/// The row of one state message: `(stream_name, table_name, state_json)`.
pub(crate) fn state_row(
    prefix: &str,
    source: &str,
    state: &AirbyteStateMessage,
) -> Result<(String, String, String)> {
    let (stream_name, table_name) = StateKey::of(state).row(prefix, source);
    let json = serde_json::to_string(state).map_err(|source| CacheError::BadStoredState {
        table_name: table_name.clone(),
        source,
    })?;
    Ok((stream_name, table_name, json))
}
