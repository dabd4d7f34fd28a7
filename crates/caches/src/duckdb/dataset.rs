//! DuckDB datasets: a stream's table, and running their queries.

use super::cache::{DuckDbCache, Instance};
use crate::STREAMS_TABLE;
use crate::dataset::{BatchEvent, CachedDataset, DatasetSource, json_columns};
use crate::error::{CacheError, DuckdbContext, Result};
use crate::names::{Normalizer, quote_ident};

impl DuckDbCache {
    /// The dataset of a stream in this cache.
    pub fn dataset(&self, stream: &str) -> Result<CachedDataset> {
        let table = self.table_name(stream)?;
        let qualified = self.qualified(&table);
        let schema = self.schema_name().to_string();
        let (instance, columns, declared) = self.with_conn(|conn, instance| {
            let columns = DuckDbCache::table_columns(conn, &schema, &table)?;
            let declared: Option<String> = conn
                .query_row(
                    &format!(
                        "SELECT catalog_metadata FROM {} WHERE table_name = ?",
                        self.qualified(STREAMS_TABLE)
                    ),
                    [format!("{}{stream}", self.table_prefix())],
                    |r| r.get(0),
                )
                .ok();
            Ok((instance.clone(), columns, declared))
        })?;
        if columns.is_empty() {
            return Err(CacheError::StreamNotInCache {
                stream: stream.to_string(),
                table,
                available: self.streams().map(|s| s.join(", ")).unwrap_or_default(),
            });
        }
        let json = json_columns(&columns, declared.as_deref(), Normalizer::LowerCase);
        Ok(CachedDataset::new(
            DatasetSource::DuckDb(instance),
            stream,
            qualified,
            json,
        ))
    }
}

/// Checks that `sql` prepares.
pub(crate) fn check_query(instance: &Instance, sql: &str) -> Result<()> {
    let conn = instance.connect()?;
    conn.prepare(sql).ctx(|| format!("preparing {sql}"))?;
    Ok(())
}

/// Runs `sql` on a connection of its own, streaming the schema and then the batches to `f`.
pub(crate) fn for_each_batch(
    instance: &Instance,
    sql: &str,
    f: &mut dyn FnMut(BatchEvent) -> Result<bool>,
) -> Result<()> {
    let conn = instance.connect()?;
    let mut stmt = conn.prepare(sql).ctx(|| format!("preparing {sql}"))?;
    let arrow = stmt.query_arrow([]).ctx(|| format!("running {sql}"))?;
    if !f(BatchEvent::Schema(arrow.get_schema()))? {
        return Ok(());
    }
    for b in arrow {
        if !f(BatchEvent::Batch(b))? {
            break;
        }
    }
    Ok(())
}

/// The single integer `sql` returns.
pub(crate) fn count(instance: &Instance, sql: &str) -> Result<u64> {
    let conn = instance.connect()?;
    let n: i64 = conn
        .query_row(sql, [], |r| r.get(0))
        .ctx(|| format!("counting rows: {sql}"))?;
    Ok(n.max(0) as u64)
}

impl DuckDbCache {
    /// Column names of the table of a stream (for callers that build SQL).
    pub fn stream_columns(&self, stream: &str) -> Result<Vec<String>> {
        let table = self.table_name(stream)?;
        let schema = self.schema_name().to_string();
        self.with_conn(|conn, _| {
            Ok(DuckDbCache::table_columns(conn, &schema, &table)?
                .into_iter()
                .map(|(c, _)| c)
                .collect())
        })
    }

    /// Quotes an identifier for SQL in this cache.
    pub fn quote(name: &str) -> String {
        quote_ident(name)
    }
}
