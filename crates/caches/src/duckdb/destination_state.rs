//! DuckDB's destination tables: `_airbyte_destination_state` and `_abrs_destination_streams`
//! (see [`crate::destination_state`] for what they mean).

use std::collections::BTreeMap;

use abrs_protocol::AirbyteStateMessage;

use super::cache::DuckDbCache;
use crate::destination_state::{
    DESTINATION_STATE_TABLE, DESTINATION_STREAMS_TABLE, DestinationStreamProgress,
    destination_provider_from_rows, destination_state_row,
};
use crate::error::{DuckdbContext, Result};
use crate::state::StateProvider;
use crate::types::SqlType;

/// The DDL of `_airbyte_destination_state` as PyAirbyte's SQLAlchemy model creates it
/// (`DestinationStreamStateModel`: three non-null key columns, one composite primary key).
pub(crate) fn destination_state_ddl(qualified: &str, timestamptz: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {qualified} (destination_name VARCHAR NOT NULL, \
         source_name VARCHAR NOT NULL, stream_name VARCHAR NOT NULL, state_json VARCHAR, \
         last_updated {timestamptz}, PRIMARY KEY (destination_name, source_name, stream_name));"
    )
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
        let (stream_name, json) = destination_state_row(destination_name, source_name, state)?;
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
        destination_provider_from_rows(destination_name, source_name, rows)
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
