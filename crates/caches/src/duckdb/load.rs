//! DuckDB's side of a load: tables, inserts from Arrow batches, merges, commits and swaps.
//!
//! * Batches are inserted with `INSERT … FROM abrs_batch_scan(?)` (`batch_scan.rs`) on the
//!   worker thread (`crate::worker`), so parsing and DuckDB's work overlap on two cores.
//! * Merge: each batch first deletes the table's rows with its keys (restricted to the batch's
//!   key range when the first key is a BIGINT, so DuckDB skips row groups by their min/max),
//!   then is inserted, deduplicated (last record per key wins) only when it may hold a key
//!   twice; all inside the open transaction. No staging table: each row is written once.
//! * Replace: rows go to `_abrs_shadow_<table>`, swapped in with the state in one transaction
//!   at finish; a stale shadow from a killed load is dropped by the next load.
//! * A table the load creates is re-created, still empty, before its first batch with ZSTD for
//!   the text columns that batch shows to be long and nearly unique (`text_storage.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use ::duckdb::Connection;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use abrs_protocol::{AirbyteStateMessage, ConfiguredAirbyteCatalog};

use super::batch_scan::{BATCH_SCAN, BatchRegistration, json_field};
use super::cache::{DuckDbCache, Instance};
use super::state::write_state;
use super::text_storage;
use crate::STREAMS_TABLE;
use crate::error::{CacheError, DuckdbContext, Result};
use crate::loader::{
    BackendTimes, CacheWriter, KeyCover, LoadBackend, LoadBatch, LoadColumn, LoadOptions,
    META_COLUMN, PreparedStream, RAW_ID_COLUMN, StreamPlan, WriteMethod, WriteStrategy, plan_load,
};
use crate::names::{Normalizer, quote_ident};
use crate::types::SqlType;
use crate::worker::{Apply, Worker};

/// A stream as DuckDB writes it.
struct DuckStream {
    /// Bare table name.
    table: String,
    /// `"schema"."table"`.
    final_table: String,
    /// Where batches go: the table (append, merge) or the shadow table (replace).
    target: String,
    /// The shadow table's bare name (replace).
    shadow: Option<String>,
    columns: Vec<LoadColumn>,
    /// Data columns (the first ones of `columns`).
    n_data: usize,
    /// The batches' schema as DuckDB's scan sees it (JSON columns marked as JSON).
    schema: SchemaRef,
    /// The load created the target table and nothing is in it yet: its text columns' storage
    /// may still be chosen from the first batch.
    fresh_table: bool,
}

/// DuckDB's [`LoadBackend`].
pub(crate) struct DuckDbLoad {
    worker: Worker<DuckApply>,
    _instance: Arc<Instance>,
    schema_name: String,
    streams: Vec<DuckStream>,
    /// DuckDB's JSON type exists in this build.
    json: bool,
    /// The database stores text with ZSTD (`text_storage`).
    zstd_text: bool,
}

impl DuckDbCache {
    /// Starts loading a sync of `source_name` with the streams of `catalog`.
    ///
    /// Creates (or evolves) each stream's table, registers the streams in `_airbyte_streams`
    /// with the real source name, and returns the writer to feed messages into.
    pub fn begin_load(
        &self,
        source_name: &str,
        catalog: &ConfiguredAirbyteCatalog,
        strategy: WriteStrategy,
        options: LoadOptions,
    ) -> Result<CacheWriter> {
        // Resolve everything that can fail on user input before touching the database.
        let plans = plan_load(
            catalog,
            strategy,
            self.table_prefix(),
            Normalizer::LowerCase,
        )?;
        let (conn, instance) = self.new_connection()?;
        let json = instance.json_available;
        conn.execute_batch("BEGIN TRANSACTION")
            .ctx(|| "starting the load".into())?;
        let mut streams = Vec::with_capacity(plans.len());
        let mut prepared = Vec::with_capacity(plans.len());
        for plan in &plans {
            match self.prepare_stream(&conn, json, source_name, plan) {
                Ok((stream, p)) => {
                    streams.push(stream);
                    prepared.push(p);
                }
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(e);
                }
            }
        }
        conn.execute_batch("COMMIT; BEGIN TRANSACTION")
            .ctx(|| "committing the tables of the load".into())?;
        let zstd_text = text_storage::zstd_available(&conn);
        let inserts = plans
            .iter()
            .zip(&streams)
            .map(|(plan, s)| stream_sql(plan, s))
            .collect();
        let mut restore_threads = None;
        if let Some(n) = options.duckdb_threads {
            // Restored by the worker when the load ends.
            let current: i64 = conn
                .query_row("SELECT current_setting('threads')::BIGINT", [], |r| {
                    r.get(0)
                })
                .ctx(|| "reading DuckDB's threads".into())?;
            conn.execute_batch(&format!("SET threads = {}", n.max(1)))
                .ctx(|| "setting DuckDB's threads for the load".into())?;
            restore_threads = Some(current);
        }
        let applier = DuckApply {
            conn,
            schema_name: self.schema_name().to_string(),
            table_prefix: self.table_prefix().to_string(),
            source_name: source_name.to_string(),
            inserts,
            restore_threads,
            in_transaction: true,
        };
        let worker = Worker::start(applier, options.queue_bytes)?;
        let backend = DuckDbLoad {
            worker,
            _instance: instance,
            schema_name: self.schema_name().to_string(),
            streams,
            json,
            zstd_text,
        };
        Ok(CacheWriter::new(
            source_name,
            options,
            Normalizer::LowerCase,
            plans,
            prepared,
            Box::new(backend),
        ))
    }

    /// Creates or evolves one stream's table (and its shadow), inside the caller's
    /// transaction, and registers the stream.
    fn prepare_stream(
        &self,
        conn: &Connection,
        json: bool,
        source_name: &str,
        plan: &StreamPlan,
    ) -> Result<(DuckStream, PreparedStream)> {
        let stream = &plan.configured.stream;
        let table = plan.table.clone();
        let final_table = self.qualified(&table);
        let shadow_name = format!("_abrs_shadow_{table}");
        let shadow_table = self.qualified(&shadow_name);
        let ctx = |what: &str| format!("{what} table {table:?} of stream {:?}", stream.name);

        // Stale shadows of killed replace loads.
        conn.execute_batch(&format!("DROP TABLE IF EXISTS {shadow_table}"))
            .ctx(|| ctx("dropping the stale shadow of"))?;

        let exists = DuckDbCache::table_exists(conn, self.schema_name(), &table)?;
        let mut columns: Vec<LoadColumn> = Vec::new();
        let mut fresh_table = false;
        let method = plan.method;
        if method == WriteMethod::Replace || !exists {
            let target = if method == WriteMethod::Replace {
                &shadow_table
            } else {
                &final_table
            };
            let mut ddl = Vec::new();
            for c in plan.declared_columns() {
                ddl.push(column_ddl(&c.name, &c.ty, json, false));
                columns.push(c);
            }
            conn.execute_batch(&format!("CREATE TABLE {target} ({})", ddl.join(", ")))
                .ctx(|| ctx("creating"))?;
            fresh_table = true;
        } else {
            let existing: HashMap<String, SqlType> =
                DuckDbCache::table_columns(conn, self.schema_name(), &table)?
                    .into_iter()
                    .collect();
            for LoadColumn { name: col, ty } in plan.declared_columns() {
                let effective = match existing.get(&col) {
                    None => {
                        conn.execute_batch(&format!(
                            "ALTER TABLE {final_table} ADD COLUMN {} {}",
                            quote_ident(&col),
                            ty.ddl(json)
                        ))
                        .ctx(|| ctx(&format!("adding column {col:?} to")))?;
                        ty
                    }
                    Some(old) => match old.widen_for(&ty) {
                        Some(wider) => {
                            conn.execute_batch(&format!(
                                "ALTER TABLE {final_table} ALTER COLUMN {} TYPE {}",
                                quote_ident(&col),
                                wider.ddl(json)
                            ))
                            .ctx(|| ctx(&format!("widening column {col:?} of")))?;
                            wider
                        }
                        None => old.clone(),
                    },
                };
                columns.push(LoadColumn {
                    name: col,
                    ty: effective,
                });
            }
        }
        // The JSON type may be missing in this DuckDB build: JSON data then lives in VARCHAR.
        for c in columns.iter_mut().filter(|_| !json) {
            if c.ty == SqlType::Varchar
                && let Some((_, _, SqlType::Json)) =
                    plan.declared.iter().find(|(_, n, _)| *n == c.name)
            {
                c.ty = SqlType::Json;
            }
        }
        if !json && let Some(c) = columns.iter_mut().find(|c| c.name == META_COLUMN) {
            c.ty = SqlType::Json;
        }

        let (target, shadow) = match method {
            WriteMethod::Replace => (shadow_table, Some(shadow_name)),
            WriteMethod::Append | WriteMethod::Merge => (final_table.clone(), None),
        };

        // Merge: the range of the first key column already in the table, when it is a BIGINT.
        let key_cover = match plan.pk_idx.first() {
            Some(&k) if method == WriteMethod::Merge && columns[k].ty == SqlType::BigInt => {
                let sql = format!(
                    "SELECT min({c})::BIGINT, max({c})::BIGINT FROM {final_table}",
                    c = quote_ident(&columns[k].name)
                );
                match conn.query_row(&sql, [], |r| {
                    Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?))
                }) {
                    Ok((Some(lo), Some(hi))) => KeyCover::Range(lo, hi),
                    Ok(_) => KeyCover::Empty,
                    Err(_) => KeyCover::Unknown,
                }
            }
            _ => KeyCover::Unknown,
        };

        // Register the stream (PyAirbyte's table_name is prefix + stream name, unnormalized).
        conn.execute(
            &format!(
                "INSERT OR REPLACE INTO {} (stream_name, source_name, table_name, catalog_metadata) \
                 VALUES (?, ?, ?, ?)",
                self.qualified(STREAMS_TABLE)
            ),
            [
                stream.name.as_str(),
                source_name,
                &format!("{}{}", self.table_prefix(), stream.name),
                &stream.json_schema.to_string(),
            ],
        )
        .ctx(|| format!("registering stream {:?} in {STREAMS_TABLE}", stream.name))?;

        let n_data = plan.declared.len();
        let schema = scan_schema(&columns, method == WriteMethod::Merge, json);
        Ok((
            DuckStream {
                table,
                final_table,
                target,
                shadow,
                columns: columns.clone(),
                n_data,
                schema,
                fresh_table,
            },
            PreparedStream { columns, key_cover },
        ))
    }
}

/// The schema of a stream's batches as the scan reads them: JSON columns are marked, so that
/// DuckDB takes them as JSON without re-validating them (see `batch_scan`).
fn scan_schema(columns: &[LoadColumn], merge: bool, json: bool) -> SchemaRef {
    // The same types as the writer's batches (`crate::loader`), JSON columns marked.
    let mut fields: Vec<Field> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let ty = crate::columns::ColumnBuffer::new(&c.ty, 0).data_type();
            let field = Field::new(format!("c{i}"), ty, true);
            if json && c.ty == SqlType::Json {
                json_field(field)
            } else {
                field
            }
        })
        .collect();
    if merge {
        fields.push(Field::new("seq", DataType::Int64, false));
    }
    Arc::new(Schema::new(fields))
}

/// The statements that write a stream's batches.
fn stream_sql(plan: &StreamPlan, s: &DuckStream) -> StreamSql {
    let target = &s.target;
    let mut names = Vec::new();
    let mut exprs = Vec::new();
    for (i, c) in s.columns.iter().enumerate() {
        names.push(quote_ident(&c.name));
        exprs.push(match &c.ty {
            SqlType::Other(t) => format!("TRY_CAST(c{i} AS {t})"),
            _ => format!("c{i}"),
        });
    }
    let (names, exprs) = (names.join(", "), exprs.join(", "));
    let insert = format!("INSERT INTO {target} ({names}) SELECT {exprs} FROM {BATCH_SCAN}(?)");
    let merge = (plan.method == WriteMethod::Merge).then(|| {
        let key_exprs: Vec<String> = plan
            .pk_idx
            .iter()
            .map(|&i| match &s.columns[i].ty {
                SqlType::Other(t) => format!("TRY_CAST(c{i} AS {t})"),
                _ => format!("c{i}"),
            })
            .collect();
        let keys: Vec<String> = key_exprs
            .iter()
            .enumerate()
            .map(|(k, e)| format!("{e} AS k{k}"))
            .collect();
        let on: Vec<String> = plan
            .pk_idx
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                format!(
                    "{}.{} IS NOT DISTINCT FROM _abrs_staged.k{k}",
                    quote_ident(&s.table),
                    quote_ident(&s.columns[i].name)
                )
            })
            .collect();
        let delete = format!(
            "DELETE FROM {} USING (SELECT {} FROM {BATCH_SCAN}(?)) AS _abrs_staged WHERE {}",
            s.final_table,
            keys.join(", "),
            on.join(" AND ")
        );
        // With the batch's key range spelled out, DuckDB skips the row groups whose
        // min/max statistics lie outside it instead of probing the whole table for every
        // batch (which made merges quadratic: 240k records/s at 5M records).
        let delete_in_range = format!(
            "{delete} AND {}.{} BETWEEN ? AND ?",
            quote_ident(&s.table),
            quote_ident(&s.columns[plan.pk_idx[0]].name)
        );
        MergeSql {
            delete,
            delete_in_range,
            insert_dedup: format!(
                "INSERT INTO {target} ({names}) SELECT {exprs} FROM {BATCH_SCAN}(?) \
                 QUALIFY row_number() OVER (PARTITION BY {} ORDER BY seq DESC) = 1",
                key_exprs.join(", ")
            ),
        }
    });
    StreamSql {
        insert,
        target: target.clone(),
        merge,
    }
}

/// A column's definition in `CREATE TABLE`.
fn column_ddl(name: &str, ty: &SqlType, json: bool, zstd: bool) -> String {
    // Raw ids are random: DuckDB's string compression (dictionary analysis, FSST) shrinks them
    // only 2.4× at a cost of ~15% of a load's database CPU. Stored plainly, the cache file is
    // ~35% larger and still ~30% smaller than PyAirbyte's (docs/PERFORMANCE.md).
    let storage = if name == RAW_ID_COLUMN {
        " USING COMPRESSION uncompressed"
    } else if zstd {
        " USING COMPRESSION zstd"
    } else {
        ""
    };
    format!("{} {}{storage}", quote_ident(name), ty.ddl(json))
}

impl DuckStream {
    /// The SQL that re-creates the (still empty) target table with ZSTD for the text columns
    /// that `batch`, its first, shows to be long and nearly unique; `None` when there is none.
    fn recreate_for_text(
        &self,
        batch: &arrow::record_batch::RecordBatch,
        json: bool,
    ) -> Option<String> {
        use arrow::array::AsArray;
        let mut any = false;
        let ddl: Vec<String> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let zstd = i < self.n_data
                    && matches!(c.ty, SqlType::Varchar | SqlType::Json)
                    && batch
                        .columns()
                        .get(i)
                        .and_then(|a| a.as_string_opt::<i32>())
                        .is_some_and(text_storage::prefers_zstd);
                any |= zstd;
                column_ddl(&c.name, &c.ty, json, zstd)
            })
            .collect();
        any.then(|| {
            format!(
                "DROP TABLE {t}; CREATE TABLE {t} ({})",
                ddl.join(", "),
                t = self.target
            )
        })
    }
}

impl LoadBackend for DuckDbLoad {
    fn insert(&mut self, b: LoadBatch) -> Result<()> {
        let Some(s) = self.streams.get_mut(b.stream) else {
            return Err(CacheError::WriterPoisoned);
        };
        if std::mem::take(&mut s.fresh_table)
            && self.zstd_text
            && let Some(sql) = s.recreate_for_text(&b.batch, self.json)
        {
            let what = format!("choosing the text storage of {}", s.target);
            self.worker.send(Op::Execute { sql, what })?;
        }
        let batch = b
            .batch
            .with_schema(s.schema.clone())
            .map_err(|source| CacheError::Arrow {
                context: format!("marking the JSON columns of a batch for {}", s.target),
                source,
            })?;
        let bytes = batch.get_array_memory_size();
        self.worker.send(Op::Insert {
            bytes,
            stream: b.stream,
            rows: b.rows,
            batch,
            distinct_keys: b.distinct_keys,
            key_range: b.key_range,
            skip_delete: b.skip_delete,
        })
    }

    fn widen_to_text(&mut self, stream: usize, column: usize) -> Result<()> {
        let Some(s) = self.streams.get_mut(stream) else {
            return Err(CacheError::WriterPoisoned);
        };
        let mut fields: Vec<Field> = s
            .schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        if let Some(f) = fields.get_mut(column) {
            *f = Field::new(f.name(), DataType::Utf8, true);
        }
        s.schema = Arc::new(Schema::new(fields));
        let Some(c) = s.columns.get_mut(column) else {
            return Err(CacheError::WriterPoisoned);
        };
        c.ty = SqlType::Varchar;
        let sql = format!(
            "ALTER TABLE {} ALTER COLUMN {} TYPE VARCHAR",
            s.target,
            quote_ident(&c.name)
        );
        let what = format!("widening column {:?} of {} to VARCHAR", c.name, s.target);
        self.worker.send(Op::Execute { sql, what })
    }

    fn commit(&mut self, states: Vec<AirbyteStateMessage>) -> Result<()> {
        self.worker.send(Op::Commit {
            sql: Vec::new(),
            states,
            begin_after: true,
        })
    }

    fn finish(&mut self, states: Vec<AirbyteStateMessage>) -> Result<BackendTimes> {
        let mut sql = Vec::new();
        for s in &self.streams {
            if let Some(shadow) = &s.shadow {
                sql.push((
                    format!(
                        "DROP TABLE IF EXISTS {final_table}; ALTER TABLE {schema}.{shadow} RENAME TO {table};",
                        final_table = s.final_table,
                        schema = quote_ident(&self.schema_name),
                        shadow = quote_ident(shadow),
                        table = quote_ident(&s.table),
                    ),
                    format!("replacing table {:?} with the newly loaded data", s.table),
                ));
            }
        }
        self.worker.send(Op::Commit {
            sql,
            states,
            begin_after: false,
        })?;
        self.worker.close()?;
        let times = self.worker.times();
        Ok(BackendTimes {
            waited: self.worker.waited,
            insert: times.insert,
            commit: times.commit,
            cpu: times.cpu,
        })
    }
}

/// One step of a load.
pub(crate) enum Op {
    /// Insert a batch with the stream's insert statement.
    Insert {
        stream: usize,
        rows: usize,
        batch: RecordBatch,
        /// Merge: the batch holds no key twice (no deduplication needed).
        distinct_keys: bool,
        /// Merge: the range of the batch's first key column, when known.
        key_range: Option<(i64, i64)>,
        /// Merge: no row of the table can have the batch's keys (no DELETE needed).
        skip_delete: bool,
        /// The batch's memory, counted against the queue's byte budget until it is applied.
        bytes: usize,
    },
    /// Run one SQL script inside the open transaction (`what` describes it for errors).
    Execute { sql: String, what: String },
    /// Run `sql` (merges, swaps), write `states`, commit, and open the next transaction when
    /// `begin_after`.
    Commit {
        sql: Vec<(String, String)>,
        states: Vec<AirbyteStateMessage>,
        begin_after: bool,
    },
}

/// How a stream's batches are written.
struct StreamSql {
    /// Inserts a batch (its only parameter).
    insert: String,
    /// The target table, for error messages.
    target: String,
    /// Merge streams: how a batch replaces the rows with its keys.
    merge: Option<MergeSql>,
}

/// The statements that merge one batch (each takes the batch as its only parameter).
#[derive(Clone)]
struct MergeSql {
    /// Deletes the table's rows whose keys are in the batch.
    delete: String,
    /// The same, restricted to a range of the first key column (two more parameters).
    delete_in_range: String,
    /// Inserts the last row of each key of the batch.
    insert_dedup: String,
}

/// The worker side of a DuckDB load.
struct DuckApply {
    conn: Connection,
    schema_name: String,
    table_prefix: String,
    source_name: String,
    /// Per stream, in the writer's order.
    inserts: Vec<StreamSql>,
    /// DuckDB's `threads` to set back when the load ends.
    restore_threads: Option<i64>,
    in_transaction: bool,
}

impl Apply for DuckApply {
    type Op = Op;

    fn is_commit(op: &Op) -> bool {
        matches!(op, Op::Commit { .. })
    }

    fn bytes(op: &Op) -> usize {
        match op {
            Op::Insert { bytes, .. } => *bytes,
            _ => 0,
        }
    }

    fn end(&mut self) {
        if self.in_transaction {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.in_transaction = false;
        }
        if let Some(n) = self.restore_threads {
            // The load set DuckDB's threads for itself; queries get theirs back.
            let _ = self.conn.execute_batch(&format!("SET threads = {n}"));
        }
    }

    fn apply(&mut self, op: Op) -> Result<()> {
        let conn = &self.conn;
        let in_transaction = &mut self.in_transaction;
        match op {
            Op::Insert {
                stream,
                rows,
                batch,
                distinct_keys,
                key_range,
                skip_delete,
                bytes: _,
            } => {
                let Some(s) = self.inserts.get(stream) else {
                    return Err(CacheError::WriterPoisoned);
                };
                let target = &s.target;
                let mut insert = &s.insert;
                let registration = BatchRegistration::new(batch);
                if let Some(merge) = &s.merge
                    && !distinct_keys
                {
                    insert = &merge.insert_dedup;
                }
                if let Some(merge) = s.merge.as_ref().filter(|_| !skip_delete) {
                    let deleted = match key_range {
                        Some((min, max)) => {
                            conn.prepare_cached(&merge.delete_in_range)
                                .and_then(|mut s| {
                                    s.execute(::duckdb::params![&registration, min, max])
                                })
                        }
                        None => conn
                            .prepare_cached(&merge.delete)
                            .and_then(|mut s| s.execute([&registration])),
                    };
                    deleted.ctx(|| {
                        format!("deleting the rows {rows} merged rows replace in {target}")
                    })?;
                }
                let mut stmt = conn
                    .prepare_cached(insert)
                    .ctx(|| format!("preparing the insert into {target}"))?;
                stmt.execute([&registration])
                    .ctx(|| format!("inserting {rows} rows into {target}"))?;
            }
            Op::Execute { sql, what } => {
                conn.execute_batch(&sql).ctx(|| what)?;
                // The statement may have altered a table: re-prepare inserts against it.
                conn.flush_prepared_statement_cache();
            }
            Op::Commit {
                sql,
                states,
                begin_after,
            } => {
                for (statement, what) in &sql {
                    conn.execute_batch(statement).ctx(|| what.clone())?;
                }
                if !sql.is_empty() {
                    // Replace swaps rename tables: statements prepared against them are stale.
                    conn.flush_prepared_statement_cache();
                }
                for state in &states {
                    write_state(
                        conn,
                        &self.schema_name,
                        &self.table_prefix,
                        &self.source_name,
                        state,
                    )?;
                }
                conn.execute_batch("COMMIT")
                    .ctx(|| "committing loaded records and state".into())?;
                *in_transaction = false;
                if begin_after {
                    conn.execute_batch("BEGIN TRANSACTION")
                        .ctx(|| "starting a transaction".into())?;
                    *in_transaction = true;
                }
            }
        }
        Ok(())
    }
}
