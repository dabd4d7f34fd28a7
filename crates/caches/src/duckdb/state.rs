//! DuckDB's `_airbyte_state`: writing rows inside a load's transaction, reading them back.

use ::duckdb::Connection;

use abrs_protocol::AirbyteStateMessage;

use super::cache::DuckDbCache;
use crate::STATE_TABLE;
use crate::error::{DuckdbContext, Result};
use crate::names::quote_ident;
use crate::state::{StateProvider, provider_from_rows, state_row};

/// Writes (replaces) the row of one state message, inside the caller's transaction.
pub(crate) fn write_state(
    conn: &Connection,
    schema: &str,
    prefix: &str,
    source: &str,
    state: &AirbyteStateMessage,
) -> Result<()> {
    let (stream_name, table_name, json) = state_row(prefix, source, state)?;
    conn.execute(
        &format!(
            "INSERT OR REPLACE INTO {}.{} (source_name, stream_name, table_name, state_json, \
             last_updated) VALUES (?, ?, ?, ?, now())",
            quote_ident(schema),
            quote_ident(STATE_TABLE)
        ),
        [
            source,
            stream_name.as_str(),
            table_name.as_str(),
            json.as_str(),
        ],
    )
    .ctx(|| format!("saving the state of {stream_name:?}"))?;
    Ok(())
}

impl DuckDbCache {
    /// The state saved for `source_name` under this cache's table prefix.
    pub fn get_state_provider(&self, source_name: &str) -> Result<StateProvider> {
        let prefix = self.table_prefix().to_string();
        let sql = format!(
            "SELECT stream_name, table_name, state_json FROM {} WHERE source_name = ? \
             ORDER BY stream_name",
            self.qualified(STATE_TABLE)
        );
        let rows: Vec<(String, String, String)> = self.with_conn(|conn, _| {
            let mut stmt = conn.prepare(&sql).ctx(|| "reading saved state".into())?;
            let rows = stmt
                .query_map([source_name], |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                        r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                        r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    ))
                })
                .ctx(|| "reading saved state".into())?;
            rows.collect::<std::result::Result<Vec<_>, _>>()
                .ctx(|| "reading saved state".into())
        })?;
        provider_from_rows(&prefix, source_name, rows)
    }

    /// The state messages to hand to the next read of `source_name`, exactly as the connector
    /// emitted them.
    pub fn state_messages(&self, source_name: &str) -> Result<Vec<AirbyteStateMessage>> {
        Ok(self
            .get_state_provider(source_name)?
            .state_messages()
            .to_vec())
    }
}
