//! What destinations confirmed: their echoed state and how far each stream was written.
//!
//! * `_airbyte_destination_state` is PyAirbyte's table (`caches/_state_backend.py`): one row
//!   per (destination, source, stream) holding the last STATE message the destination echoed,
//!   which becomes the source's `--state` on the next write. PyAirbyte rows open here and ours
//!   open in PyAirbyte. Unlike PyAirbyte, a row is replaced in one transaction (PyAirbyte
//!   deletes, commits, inserts, commits), `last_updated` is the time of the write (PyAirbyte's
//!   is the time its module was imported), and GLOBAL and LEGACY states are stored (PyAirbyte
//!   raises on them and kills the destination).
//! * `_abrs_destination_streams` is ours: the sync generation of each (destination, source,
//!   stream) and how much of the cache table the destination has confirmed, so that a write
//!   from the cache sends only what the destination does not have yet.

use abrs_protocol::AirbyteStateMessage;

use crate::error::{CacheError, Result};
use crate::state::{
    GLOBAL_STATE_STREAM, LEGACY_STATE_STREAM, StateKey, StateProvider, parse_stored_state,
};

/// PyAirbyte's destination state table.
pub const DESTINATION_STATE_TABLE: &str = "_airbyte_destination_state";
/// Our per-(destination, source, stream) progress table.
pub const DESTINATION_STREAMS_TABLE: &str = "_abrs_destination_streams";

/// How far one stream has been written to one destination (a row of
/// `_abrs_destination_streams`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationStreamProgress {
    /// The generation of the destination's copy of the stream, as sent in the configured
    /// catalog's `generation_id`.
    ///
    /// This implements the platform's refresh semantics, which modern destinations obey (the
    /// Kotlin bulk CDK truncates when `minimum_generation_id == generation_id > 0`): a replace
    /// (overwrite, full refresh that truncates) sends `generation_id = previous + 1` with
    /// `minimum_generation_id = generation_id`, so the destination drops older generations;
    /// append and merge send the same generation with `minimum_generation_id = 0`, so nothing
    /// is dropped. PyAirbyte sends 1/1 every time, which makes those destinations truncate on
    /// every write, appends included.
    pub generation_id: i64,
    /// The last `sync_id` sent for this stream (it grows on every write).
    pub sync_id: i64,
    /// The cache table that `replayed_through` refers to. A different table (another prefix,
    /// another cache) makes `replayed_through` meaningless.
    pub replayed_table: Option<String>,
    /// The highest `_airbyte_raw_id` of `replayed_table` that the destination confirmed.
    ///
    /// Raw ids are UUIDv7 text, so they sort by the time their row was loaded: the next write
    /// from the cache passes this as [`crate::ReplayOptions::after_raw_id`] and sends only the
    /// rows loaded since (merges give updated rows new ids, so updates are sent too).
    /// PyAirbyte re-sends the whole table on every write.
    pub replayed_through: Option<String>,
}

/// The key (`stream_name`) and `state_json` of the row a destination's echoed state goes to.
pub(crate) fn destination_state_row(
    destination_name: &str,
    source_name: &str,
    state: &AirbyteStateMessage,
) -> Result<(String, String)> {
    let stream_name = match StateKey::of(state) {
        StateKey::Stream(name) => name,
        StateKey::Global => GLOBAL_STATE_STREAM.to_string(),
        StateKey::Legacy => LEGACY_STATE_STREAM.to_string(),
    };
    let json = serde_json::to_string(state).map_err(|source| CacheError::BadDestinationState {
        destination_name: destination_name.to_string(),
        source_name: source_name.to_string(),
        stream_name: stream_name.clone(),
        source,
    })?;
    Ok((stream_name, json))
}

/// The provider for the rows `(stream_name, state_json)` of `_airbyte_destination_state` of
/// one destination and source: GLOBAL alone when there is one, else the STREAM states, else
/// the LEGACY state. Rows are classified by the message they hold, so PyAirbyte's rows
/// (pydantic dumps with `global_` and explicit nulls) read back too.
pub(crate) fn destination_provider_from_rows(
    destination_name: &str,
    source_name: &str,
    rows: Vec<(String, Option<String>)>,
) -> Result<StateProvider> {
    let (mut global, mut legacy, mut streams) = (None, None, Vec::new());
    for (stream_name, json) in rows {
        let Some(json) = json else { continue };
        let message = parse_stored_state(&stream_name, &json).map_err(|e| match e {
            CacheError::BadStoredState { source, .. } => CacheError::BadDestinationState {
                destination_name: destination_name.to_string(),
                source_name: source_name.to_string(),
                stream_name: stream_name.clone(),
                source,
            },
            other => other,
        })?;
        match StateKey::of(&message) {
            StateKey::Global => global = Some(message),
            StateKey::Legacy => legacy = Some(message),
            StateKey::Stream(_) => streams.push(message),
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
