//! Replaying a cached stream from PostgreSQL (see [`crate::replay`] for what is sent): the
//! ordered rows are streamed from the server in binary and formatted batch by batch.

use std::io::Write;

use super::PostgresCache;
use super::read::for_each_batch;
use crate::dataset::BatchEvent;
use crate::error::{PgContext, Result};
use crate::loader::RAW_ID_COLUMN;
use crate::names::quote_ident;
use crate::replay::{ReplayOptions, ReplayPlan, ReplaySummary, ReplayWriter, TableFacts};
use crate::state::STREAMS_TABLE;
use crate::types::SqlType;

impl PostgresCache {
    /// Writes the rows of a cached stream to `out` as Airbyte RECORD lines, ordered by
    /// `_airbyte_raw_id` (byte-wise, whatever the database's collation), and flushes `out`;
    /// the same lines as `DuckDbCache::replay_stream`. The rows are one snapshot of the table,
    /// read on a connection of their own.
    pub fn replay_stream(
        &self,
        stream: &str,
        options: &ReplayOptions,
        out: &mut dyn Write,
    ) -> Result<ReplaySummary> {
        let table = self.table_name(stream)?;
        let mut client = self.connect_as("abrs replay")?;
        let columns: Vec<(String, SqlType)> =
            Self::table_columns(&mut client, self.schema_name(), &table)?
                .into_iter()
                .map(|(c, t)| (c, SqlType::from_postgres(&t)))
                .collect();
        let rows = client
            .query(
                &format!(
                    "SELECT stream_name, table_name, catalog_metadata FROM {}",
                    self.qualified(STREAMS_TABLE)
                ),
                &[],
            )
            .pg(|| format!("reading {STREAMS_TABLE}"))?;
        let registered = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<std::result::Result<Vec<_>, postgres::Error>>()
            .pg(|| format!("reading {STREAMS_TABLE}"))?;
        let raw_id = quote_ident(RAW_ID_COLUMN);
        let facts = TableFacts {
            stream,
            qualified: self.qualified(&table),
            table,
            prefix: self.table_prefix(),
            columns,
            registered,
            raw_id_text: format!("{raw_id}::text"),
            raw_id_order: format!("{raw_id}::text COLLATE \"C\""),
        };
        let plan = ReplayPlan::new(facts, options, || {
            self.streams().map(|s| s.join(", ")).unwrap_or_default()
        })?;
        let after = options
            .after_raw_id
            .as_ref()
            .map(|id| format!("'{}'", id.replace('\'', "''")));
        let sql = plan.sql(after.as_deref());
        // One snapshot, even while a load commits.
        client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .pg(|| format!("replaying table {:?}", plan.table))?;
        let mut writer = ReplayWriter::new(&plan, stream, out);
        for_each_batch(&mut client, &sql, &mut |event| {
            if let BatchEvent::Batch(batch) = event {
                writer.batch(&batch)?;
            }
            Ok(true)
        })?;
        let _ = client.batch_execute("COMMIT");
        writer.finish()
    }
}
