//! PostgreSQL's destination tables: `_airbyte_destination_state` (created with the other
//! internal tables) and `_abrs_destination_streams` (see [`crate::destination_state`] for what
//! they mean).

use std::collections::BTreeMap;

use abrs_protocol::AirbyteStateMessage;

use super::PostgresCache;
use crate::destination_state::{
    DESTINATION_STATE_TABLE, DESTINATION_STREAMS_TABLE, DestinationStreamProgress,
    destination_provider_from_rows, destination_state_row,
};
use crate::error::{PgContext, Result};
use crate::state::StateProvider;

impl PostgresCache {
    /// Saves a STATE message that `destination_name` echoed while writing the data of
    /// `source_name`, replacing the previous one with the same key, in one transaction (see
    /// `DuckDbCache::write_destination_state` for the key and the JSON kept).
    pub fn write_destination_state(
        &self,
        destination_name: &str,
        source_name: &str,
        state: &AirbyteStateMessage,
    ) -> Result<()> {
        let (stream_name, json) = destination_state_row(destination_name, source_name, state)?;
        let table = self.qualified(DESTINATION_STATE_TABLE);
        let what = || {
            format!(
                "saving the state that destination {destination_name:?} confirmed for stream \
                 {stream_name:?} of source {source_name:?}"
            )
        };
        let mut client = self.connect()?;
        let mut tx = client.transaction().pg(what)?;
        // Delete and insert rather than ON CONFLICT: a table created by another tool may lack
        // the primary key.
        tx.execute(
            &format!(
                "DELETE FROM {table} WHERE destination_name = $1 AND source_name = $2 AND \
                 stream_name = $3"
            ),
            &[&destination_name, &source_name, &stream_name],
        )
        .pg(what)?;
        tx.execute(
            &format!(
                "INSERT INTO {table} (destination_name, source_name, stream_name, state_json, \
                 last_updated) VALUES ($1, $2, $3, $4, now())"
            ),
            &[&destination_name, &source_name, &stream_name, &json],
        )
        .pg(what)?;
        tx.commit().pg(what)
    }

    /// The state `destination_name` confirmed for `source_name` (same rules as
    /// `DuckDbCache::get_destination_state_provider`).
    pub fn get_destination_state_provider(
        &self,
        destination_name: &str,
        source_name: &str,
    ) -> Result<StateProvider> {
        let sql = format!(
            "SELECT stream_name, state_json FROM {} WHERE destination_name = $1 AND \
             source_name = $2 ORDER BY stream_name",
            self.qualified(DESTINATION_STATE_TABLE)
        );
        let what = || format!("reading the state of destination {destination_name:?}");
        let rows = self
            .connect()?
            .query(&sql, &[&destination_name, &source_name])
            .pg(what)?;
        let rows = rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get::<_, String>(0)?,
                    r.try_get::<_, Option<String>>(1)?,
                ))
            })
            .collect::<std::result::Result<Vec<_>, postgres::Error>>()
            .pg(what)?;
        destination_provider_from_rows(destination_name, source_name, rows)
    }

    /// The progress of every stream of `source_name` written to `destination_name`, by stream
    /// name (empty when nothing was written yet).
    pub fn get_destination_progress(
        &self,
        destination_name: &str,
        source_name: &str,
    ) -> Result<BTreeMap<String, DestinationStreamProgress>> {
        let what = || format!("reading the progress of destination {destination_name:?}");
        let mut client = self.connect()?;
        let exists: bool = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 \
                 AND table_name = $2)",
                &[&self.schema_name(), &DESTINATION_STREAMS_TABLE],
            )
            .and_then(|r| r.try_get(0))
            .pg(what)?;
        let mut out = BTreeMap::new();
        // Created on the first write: reading creates nothing.
        if !exists {
            return Ok(out);
        }
        let sql = format!(
            "SELECT stream_name, generation_id, sync_id, replayed_table, replayed_through FROM {} \
             WHERE destination_name = $1 AND source_name = $2",
            self.qualified(DESTINATION_STREAMS_TABLE)
        );
        for r in client
            .query(&sql, &[&destination_name, &source_name])
            .pg(what)?
        {
            let row = (|| {
                Ok::<_, postgres::Error>((
                    r.try_get::<_, String>(0)?,
                    DestinationStreamProgress {
                        generation_id: r.try_get::<_, Option<i64>>(1)?.unwrap_or(0),
                        sync_id: r.try_get::<_, Option<i64>>(2)?.unwrap_or(0),
                        replayed_table: r.try_get(3)?,
                        replayed_through: r.try_get(4)?,
                    },
                ))
            })()
            .pg(what)?;
            out.insert(row.0, row.1);
        }
        Ok(out)
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
    /// transaction.
    pub fn set_destination_progress_all<'a>(
        &self,
        destination_name: &str,
        source_name: &str,
        streams: impl IntoIterator<Item = (&'a str, &'a DestinationStreamProgress)>,
    ) -> Result<()> {
        let table = self.qualified(DESTINATION_STREAMS_TABLE);
        let what = || {
            format!(
                "saving the progress of source {source_name:?} written to destination \
                 {destination_name:?}"
            )
        };
        let mut client = self.connect()?;
        let mut tx = client.transaction().pg(what)?;
        tx.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (destination_name VARCHAR NOT NULL, \
             source_name VARCHAR NOT NULL, stream_name VARCHAR NOT NULL, generation_id BIGINT, \
             sync_id BIGINT, replayed_table VARCHAR, replayed_through VARCHAR, \
             last_updated TIMESTAMPTZ, PRIMARY KEY (destination_name, source_name, stream_name))"
        ))
        .pg(what)?;
        let delete = tx
            .prepare(&format!(
                "DELETE FROM {table} WHERE destination_name = $1 AND source_name = $2 AND \
                 stream_name = $3"
            ))
            .pg(what)?;
        let insert = tx
            .prepare(&format!(
                "INSERT INTO {table} (destination_name, source_name, stream_name, \
                 generation_id, sync_id, replayed_table, replayed_through, last_updated) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, now())"
            ))
            .pg(what)?;
        for (stream_name, p) in streams {
            tx.execute(&delete, &[&destination_name, &source_name, &stream_name])
                .pg(what)?;
            tx.execute(
                &insert,
                &[
                    &destination_name,
                    &source_name,
                    &stream_name,
                    &p.generation_id,
                    &p.sync_id,
                    &p.replayed_table,
                    &p.replayed_through,
                ],
            )
            .pg(what)?;
        }
        tx.commit().pg(what)
    }
}
