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

use std::collections::BTreeMap;

use abrs_protocol::AirbyteStateMessage;

use crate::cache::DuckDbCache;
use crate::error::{CacheError, DuckdbContext, Result};
use crate::state::{
    GLOBAL_STATE_STREAM, LEGACY_STATE_STREAM, StateKey, StateProvider, parse_stored_state,
};
use crate::types::SqlType;

/// PyAirbyte's destination state table.
pub const DESTINATION_STATE_TABLE: &str = "_airbyte_destination_state";
/// Our per-(destination, source, stream) progress table.
pub const DESTINATION_STREAMS_TABLE: &str = "_abrs_destination_streams";

/// The DDL of `_airbyte_destination_state` as PyAirbyte's SQLAlchemy model creates it
/// (`DestinationStreamStateModel`: three non-null key columns, one composite primary key).
pub(crate) fn destination_state_ddl(qualified: &str, timestamptz: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {qualified} (destination_name VARCHAR NOT NULL, \
         source_name VARCHAR NOT NULL, stream_name VARCHAR NOT NULL, state_json VARCHAR, \
         last_updated {timestamptz}, PRIMARY KEY (destination_name, source_name, stream_name));"
    )
}

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

impl DuckDbCache {
    /// Saves a STATE message that `destination_name` echoed while writing the data of
    /// `source_name`, replacing the previous one with the same key, in one transaction.
    ///
    /// The key is the stream name for a STREAM state, `__global__` for a GLOBAL state and
    /// `__legacy__` for a LEGACY one. `state_json` is the message as echoed (unknown fields and
    /// `destinationStats` included; GLOBAL under `global`).
    pub fn write_destination_state(
        &self,
        destination_name: &str,
        source_name: &str,
        state: &AirbyteStateMessage,
    ) -> Result<()> {
        let stream_name = match StateKey::of(state) {
            StateKey::Stream(name) => name,
            StateKey::Global => GLOBAL_STATE_STREAM.to_string(),
            StateKey::Legacy => LEGACY_STATE_STREAM.to_string(),
        };
        let json =
            serde_json::to_string(state).map_err(|source| CacheError::BadDestinationState {
                destination_name: destination_name.to_string(),
                source_name: source_name.to_string(),
                stream_name: stream_name.clone(),
                source,
            })?;
        let sql = format!(
            "INSERT OR REPLACE INTO {} (destination_name, source_name, stream_name, state_json, \
             last_updated) VALUES (?, ?, ?, ?, now())",
            self.qualified(DESTINATION_STATE_TABLE)
        );
        self.with_conn(|conn, _| {
            conn.execute(
                &sql,
                [
                    destination_name,
                    source_name,
                    stream_name.as_str(),
                    json.as_str(),
                ],
            )
            .ctx(|| {
                format!(
                    "saving the state that destination {destination_name:?} confirmed for \
                     stream {stream_name:?} of source {source_name:?}"
                )
            })?;
            Ok(())
        })
    }

    /// The state `destination_name` confirmed for `source_name`: what to hand to the source's
    /// next read for this destination.
    ///
    /// Same rule as [`DuckDbCache::get_state_provider`]: the GLOBAL state alone when there is
    /// one, else the STREAM states (by stream name), else the LEGACY state. Rows are
    /// classified by the message they hold, so PyAirbyte's rows (pydantic dumps with
    /// `global_` and explicit nulls) read back too.
    pub fn get_destination_state_provider(
        &self,
        destination_name: &str,
        source_name: &str,
    ) -> Result<StateProvider> {
        let sql = format!(
            "SELECT stream_name, state_json FROM {} WHERE destination_name = ? AND \
             source_name = ? ORDER BY stream_name",
            self.qualified(DESTINATION_STATE_TABLE)
        );
        let what = || format!("reading the state of destination {destination_name:?}");
        let rows: Vec<(String, Option<String>)> = self.with_conn(|conn, _| {
            let mut stmt = conn.prepare(&sql).ctx(what)?;
            let rows = stmt
                .query_map([destination_name, source_name], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
                })
                .ctx(what)?;
            rows.collect::<std::result::Result<Vec<_>, _>>().ctx(what)
        })?;
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

    /// The progress of every stream of `source_name` written to `destination_name`, by stream
    /// name (empty when nothing was written yet).
    pub fn get_destination_progress(
        &self,
        destination_name: &str,
        source_name: &str,
    ) -> Result<BTreeMap<String, DestinationStreamProgress>> {
        let schema = self.schema_name().to_string();
        let sql = format!(
            "SELECT stream_name, generation_id, sync_id, replayed_table, replayed_through FROM {} \
             WHERE destination_name = ? AND source_name = ?",
            self.qualified(DESTINATION_STREAMS_TABLE)
        );
        let what = || format!("reading the progress of destination {destination_name:?}");
        self.with_conn(|conn, _| {
            let mut out = BTreeMap::new();
            // Created on the first write: reading creates nothing.
            if !DuckDbCache::table_exists(conn, &schema, DESTINATION_STREAMS_TABLE)? {
                return Ok(out);
            }
            let mut stmt = conn.prepare(&sql).ctx(what)?;
            let rows = stmt
                .query_map([destination_name, source_name], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        DestinationStreamProgress {
                            generation_id: r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                            sync_id: r.get::<_, Option<i64>>(2)?.unwrap_or(0),
                            replayed_table: r.get(3)?,
                            replayed_through: r.get(4)?,
                        },
                    ))
                })
                .ctx(what)?;
            for row in rows {
                let (stream, progress) = row.ctx(what)?;
                out.insert(stream, progress);
            }
            Ok(out)
        })
    }

    /// Saves the progress of one stream written to `destination_name`, in one transaction.
    pub fn set_destination_progress(
        &self,
        destination_name: &str,
        source_name: &str,
        stream_name: &str,
        progress: &DestinationStreamProgress,
    ) -> Result<()> {
        self.set_destination_progress_all(destination_name, source_name, [(stream_name, progress)])
    }

    /// Saves the progress of several streams written to `destination_name`, in one
    /// transaction (one commit, one sync to disk, however many streams).
    pub fn set_destination_progress_all<'a>(
        &self,
        destination_name: &str,
        source_name: &str,
        streams: impl IntoIterator<Item = (&'a str, &'a DestinationStreamProgress)>,
    ) -> Result<()> {
        let table = self.qualified(DESTINATION_STREAMS_TABLE);
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {table} (destination_name VARCHAR NOT NULL, \
             source_name VARCHAR NOT NULL, stream_name VARCHAR NOT NULL, generation_id BIGINT, \
             sync_id BIGINT, replayed_table VARCHAR, replayed_through VARCHAR, last_updated {}, \
             PRIMARY KEY (destination_name, source_name, stream_name))",
            SqlType::TimestampTz.ddl(true)
        );
        let sql = format!(
            "INSERT OR REPLACE INTO {table} (destination_name, source_name, stream_name, \
             generation_id, sync_id, replayed_table, replayed_through, last_updated) \
             VALUES (?, ?, ?, ?, ?, ?, ?, now())"
        );
        let what = || {
            format!(
                "saving the progress of source {source_name:?} written to destination \
                 {destination_name:?}"
            )
        };
        let streams: Vec<_> = streams.into_iter().collect();
        self.with_conn(|conn, _| {
            conn.execute_batch("BEGIN TRANSACTION").ctx(what)?;
            let result = (|| {
                conn.execute_batch(&ddl).ctx(what)?;
                let mut stmt = conn.prepare(&sql).ctx(what)?;
                for (stream_name, progress) in &streams {
                    stmt.execute(duckdb::params![
                        destination_name,
                        source_name,
                        stream_name,
                        progress.generation_id,
                        progress.sync_id,
                        progress.replayed_table,
                        progress.replayed_through,
                    ])
                    .ctx(what)?;
                }
                Ok(())
            })();
            match result {
                Ok(()) => conn.execute_batch("COMMIT").ctx(what),
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    Err(e)
                }
            }
        })
    }
}
