//! PostgreSQL's side of a load: tables, binary COPY of each batch, set-based merges at
//! commits, replace swaps, state rows in the same transaction.
//!
//! The worker thread (`crate::worker`) owns the load's connection: it encodes each Arrow
//! batch as binary COPY data and streams it to the server while the caller's thread parses
//! the next records.
//!
//! * Append: `COPY "table" (…) FROM STDIN (FORMAT binary)`.
//! * Merge: batches are copied into a temporary staging table (with their arrival order);
//!   each commit first applies them with one statement, `WITH s AS (SELECT DISTINCT ON (keys)
//!   … ORDER BY keys, seq DESC), d AS (DELETE FROM table USING s WHERE keys match) INSERT INTO
//!   table SELECT … FROM s`, then empties the staging table. Keys are matched with `=` (so
//!   PostgreSQL can hash-join): rows whose key has a NULL are never replaced. A batch whose
//!   BIGINT keys are new to the table and to the load (`KeyCover`) and distinct is copied
//!   straight into the table instead: growing keys merge at the cost of an append.
//! * Replace: batches go into `_abrs_shadow_<table>`, which replaces the table at finish in
//!   the transaction that also writes the states that waited for it.

use std::collections::HashMap;

use postgres::Client;

use abrs_protocol::{AirbyteStateMessage, ConfiguredAirbyteCatalog};

use super::PostgresCache;
use super::copy::{HEADER, TRAILER, encode_rows};
use super::types::{Enc, enc_of, enc_of_sql};
use crate::error::{CacheError, PgContext, Result};
use crate::loader::{
    BackendTimes, CacheWriter, KeyCover, LoadBackend, LoadBatch, LoadColumn, LoadOptions,
    PreparedStream, StreamPlan, WriteMethod, WriteStrategy, plan_load,
};
use crate::names::{Normalizer, POSTGRES_MAX_IDENTIFIER, quote_ident};
use crate::state::{STATE_TABLE, STREAMS_TABLE, state_row};
use crate::types::SqlType;
use crate::worker::{Apply, Worker};

/// COPY data is sent to the server in pieces of about this size.
const COPY_CHUNK: usize = 1 << 20;

/// A stream as PostgreSQL writes it.
struct PgStream {
    /// Bare table name.
    table: String,
    /// `"schema"."table"`.
    final_table: String,
    /// The shadow table's bare name (replace).
    shadow: Option<String>,
    /// Merge: the temporary staging table.
    staging: Option<String>,
    /// Column names in batch order (data, then internal).
    names: Vec<String>,
    /// Wire format of each column.
    encs: Vec<Enc>,
    /// Each column's type in the table, as DDL (the staging table's columns get the same).
    types: Vec<String>,
    /// Merge: the primary key's columns.
    pk: Vec<String>,
    /// `COPY … FROM STDIN` into where batches go.
    copy_sql: String,
}

impl PgStream {
    /// Where batches go.
    fn target(&self, schema: &str) -> String {
        match (&self.staging, &self.shadow) {
            (Some(staging), _) => quote_ident(staging),
            (None, Some(shadow)) => format!("{}.{}", quote_ident(schema), quote_ident(shadow)),
            (None, None) => self.final_table.clone(),
        }
    }

    fn copy_sql(&self, schema: &str) -> String {
        let mut cols: Vec<String> = self.names.iter().map(|c| quote_ident(c)).collect();
        if self.staging.is_some() {
            cols.push("_abrs_seq".into());
        }
        format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            self.target(schema),
            cols.join(", ")
        )
    }

    /// Merge: `COPY` straight into the table, for batches whose keys are new to it.
    fn direct_copy_sql(&self) -> Option<String> {
        self.staging.as_ref()?;
        let cols: Vec<String> = self.names.iter().map(|c| quote_ident(c)).collect();
        Some(format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            self.final_table,
            cols.join(", ")
        ))
    }

    /// Merge: the statement that applies the staged rows, then empties the staging table.
    fn merge_sql(&self) -> Option<String> {
        let staging = quote_ident(self.staging.as_ref()?);
        let keys: Vec<String> = self.pk.iter().map(|k| quote_ident(k)).collect();
        let cols: Vec<String> = self.names.iter().map(|c| quote_ident(c)).collect();
        let on: Vec<String> = keys
            .iter()
            .map(|k| format!("_abrs_t.{k} = _abrs_s.{k}"))
            .collect();
        Some(format!(
            "WITH _abrs_s AS (SELECT DISTINCT ON ({keys}) * FROM {staging} \
               ORDER BY {keys}, _abrs_seq DESC), \
             _abrs_d AS (DELETE FROM {table} AS _abrs_t USING _abrs_s WHERE {on}) \
             INSERT INTO {table} ({cols}) SELECT {cols} FROM _abrs_s; TRUNCATE {staging};",
            keys = keys.join(", "),
            table = self.final_table,
            on = on.join(" AND "),
            cols = cols.join(", "),
        ))
    }
}

/// The shadow table of `table`, within PostgreSQL's 63-byte identifiers (a long name keeps
/// its start and gets a hash of the whole, so that two long tables never share a shadow).
fn shadow_name(table: &str) -> String {
    let name = format!("_abrs_shadow_{table}");
    if name.len() <= POSTGRES_MAX_IDENTIFIER {
        return name;
    }
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    table.hash(&mut h);
    let hash = format!("_{:08x}", h.finish() as u32);
    let mut stem = name;
    crate::names::truncate_to(&mut stem, POSTGRES_MAX_IDENTIFIER - hash.len());
    stem + &hash
}

/// PostgreSQL's [`LoadBackend`].
pub(crate) struct PgLoad {
    worker: Worker<PgApply>,
    schema_name: String,
    streams: Vec<PgStream>,
    /// Merge streams with rows staged since the last commit.
    staged: Vec<bool>,
}

impl PostgresCache {
    /// Starts loading a sync of `source_name` with the streams of `catalog`.
    ///
    /// Connects (a server that is down or refuses the login fails here, before any
    /// connector starts), creates (or evolves) each stream's table, registers the streams in
    /// `_airbyte_streams`, and returns the writer to feed messages into.
    pub fn begin_load(
        &self,
        source_name: &str,
        catalog: &ConfiguredAirbyteCatalog,
        strategy: WriteStrategy,
        options: LoadOptions,
    ) -> Result<CacheWriter> {
        let plans = plan_load(catalog, strategy, self.table_prefix(), Normalizer::Postgres)?;
        // Named after the schema, so that an operator can tell loads apart.
        let mut client = self.connect_as(&format!("abrs load {}", self.schema_name()))?;
        client
            .batch_execute("BEGIN")
            .pg(|| "starting the load".into())?;
        let mut streams = Vec::with_capacity(plans.len());
        let mut prepared = Vec::with_capacity(plans.len());
        for (i, plan) in plans.iter().enumerate() {
            match self.prepare_stream(&mut client, source_name, plan, i) {
                Ok((s, p)) => {
                    streams.push(s);
                    prepared.push(p);
                }
                Err(e) => {
                    let _ = client.batch_execute("ROLLBACK");
                    return Err(e);
                }
            }
        }
        client
            .batch_execute("COMMIT; BEGIN")
            .pg(|| "committing the tables of the load".into())?;
        // Staging tables are the session's own; they go with the connection.
        for s in &streams {
            if let Some(staging) = &s.staging {
                let mut cols: Vec<String> = s
                    .names
                    .iter()
                    .zip(&s.types)
                    .map(|(c, t)| format!("{} {t}", quote_ident(c)))
                    .collect();
                cols.push("_abrs_seq BIGINT".into());
                client
                    .batch_execute(&format!(
                        "CREATE TEMPORARY TABLE {} ({})",
                        quote_ident(staging),
                        cols.join(", ")
                    ))
                    .pg(|| format!("creating the staging table of {:?}", s.table))?;
            }
        }
        let schema_name = self.schema_name().to_string();
        for s in &mut streams {
            s.copy_sql = s.copy_sql(&schema_name);
        }
        let applier = PgApply {
            client,
            schema_name: schema_name.clone(),
            table_prefix: self.table_prefix().to_string(),
            source_name: source_name.to_string(),
            copy: streams
                .iter()
                .map(|s| {
                    let mut encs = s.encs.clone();
                    if s.staging.is_some() {
                        // The batches' arrival order, `_abrs_seq`.
                        encs.push(Enc::Int8);
                    }
                    (s.copy_sql.clone(), encs, s.direct_copy_sql())
                })
                .collect(),
            buf: Vec::new(),
            in_transaction: true,
        };
        let worker = Worker::start(applier, options.queue_bytes)?;
        let staged = vec![false; streams.len()];
        let backend = PgLoad {
            worker,
            schema_name,
            streams,
            staged,
        };
        Ok(CacheWriter::new(
            source_name,
            options,
            Normalizer::Postgres,
            plans,
            prepared,
            Box::new(backend),
        ))
    }

    /// Creates or evolves one stream's table (and its shadow), inside the caller's
    /// transaction, and registers the stream.
    fn prepare_stream(
        &self,
        client: &mut Client,
        source_name: &str,
        plan: &StreamPlan,
        index: usize,
    ) -> Result<(PgStream, PreparedStream)> {
        let stream = &plan.configured.stream;
        let table = plan.table.clone();
        let final_table = self.qualified(&table);
        let shadow = shadow_name(&table);
        let shadow_table = self.qualified(&shadow);
        let ctx = |what: &str| format!("{what} table {table:?} of stream {:?}", stream.name);
        let run =
            |client: &mut Client, sql: &str, what: &str| client.batch_execute(sql).pg(|| ctx(what));

        // Stale shadows of killed replace loads.
        run(
            client,
            &format!("DROP TABLE IF EXISTS {shadow_table}"),
            "dropping the stale shadow of",
        )?;
        let existing = PostgresCache::table_columns(client, self.schema_name(), &table)?;
        let method = plan.method;
        let mut columns: Vec<LoadColumn> = Vec::new();
        let mut encs = Vec::new();
        let mut types = Vec::new();
        if method == WriteMethod::Replace || existing.is_empty() {
            let target = if method == WriteMethod::Replace {
                &shadow_table
            } else {
                &final_table
            };
            let ddl: Vec<String> = plan
                .declared_columns()
                .iter()
                .map(|c| format!("{} {}", quote_ident(&c.name), c.ty.postgres_ddl()))
                .collect();
            run(
                client,
                &format!("CREATE TABLE {target} ({})", ddl.join(", ")),
                "creating",
            )?;
            for c in plan.declared_columns() {
                encs.push(enc_of_sql(&c.ty).unwrap_or(Enc::Text));
                types.push(c.ty.postgres_ddl().to_string());
                columns.push(c);
            }
        } else {
            let existing: HashMap<String, String> = existing.into_iter().collect();
            for LoadColumn { name: col, ty } in plan.declared_columns() {
                let (effective, data_type) = match existing.get(&col) {
                    None => {
                        run(
                            client,
                            &format!(
                                "ALTER TABLE {final_table} ADD COLUMN {} {}",
                                quote_ident(&col),
                                ty.postgres_ddl()
                            ),
                            &format!("adding column {col:?} to"),
                        )?;
                        let enc = enc_of_sql(&ty).unwrap_or(Enc::Text);
                        types.push(ty.postgres_ddl().to_string());
                        (ty, Ok(enc))
                    }
                    Some(data_type) => {
                        let old = SqlType::from_postgres(data_type);
                        match old.widen_for(&ty) {
                            Some(wider) => {
                                run(
                                    client,
                                    &format!(
                                        "ALTER TABLE {final_table} ALTER COLUMN {c} TYPE {t} \
                                         USING {c}::{t}",
                                        c = quote_ident(&col),
                                        t = wider.postgres_ddl()
                                    ),
                                    &format!("widening column {col:?} of"),
                                )?;
                                let enc = enc_of_sql(&wider).unwrap_or(Enc::Text);
                                types.push(wider.postgres_ddl().to_string());
                                (wider, Ok(enc))
                            }
                            None => {
                                types.push(data_type.clone());
                                (old, enc_of(data_type).ok_or(data_type))
                            }
                        }
                    }
                };
                let enc = data_type.map_err(|t| CacheError::UnsupportedColumnType {
                    table: table.clone(),
                    column: col.clone(),
                    data_type: t.clone(),
                })?;
                encs.push(enc);
                columns.push(LoadColumn {
                    name: col,
                    ty: effective,
                });
            }
        }

        // Register the stream (PyAirbyte's table_name is prefix + stream name, unnormalized).
        client
            .execute(
                &format!(
                    "INSERT INTO {} (stream_name, source_name, table_name, catalog_metadata) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (table_name) DO UPDATE SET \
                     stream_name = EXCLUDED.stream_name, source_name = EXCLUDED.source_name, \
                     catalog_metadata = EXCLUDED.catalog_metadata",
                    self.qualified(STREAMS_TABLE)
                ),
                &[
                    &stream.name,
                    &source_name,
                    &format!("{}{}", self.table_prefix(), stream.name),
                    &stream.json_schema.to_string(),
                ],
            )
            .pg(|| format!("registering stream {:?} in {STREAMS_TABLE}", stream.name))?;

        // Merge: the range of the first key column already in the table, when it is a BIGINT:
        // batches of keys outside it (and outside every batch before) are copied straight in.
        let key_cover = match plan.pk_idx.first() {
            Some(&k) if method == WriteMethod::Merge && columns[k].ty == SqlType::BigInt => {
                let sql = format!(
                    "SELECT min({c})::BIGINT, max({c})::BIGINT FROM {final_table}",
                    c = quote_ident(&columns[k].name)
                );
                match client
                    .query_one(&sql, &[])
                    .and_then(|r| Ok((r.try_get::<_, Option<i64>>(0)?, r.try_get(1)?)))
                {
                    Ok((Some(lo), Some(hi))) => KeyCover::Range(lo, hi),
                    Ok(_) => KeyCover::Empty,
                    Err(_) => KeyCover::Unknown,
                }
            }
            _ => KeyCover::Unknown,
        };
        let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
        let pk = plan.pk_idx.iter().map(|&i| names[i].clone()).collect();
        let pg = PgStream {
            table,
            final_table,
            shadow: (method == WriteMethod::Replace).then_some(shadow),
            staging: (method == WriteMethod::Merge).then(|| format!("_abrs_stage_{index}")),
            names,
            encs,
            types,
            pk,
            copy_sql: String::new(),
        };
        Ok((pg, PreparedStream { columns, key_cover }))
    }
}

impl LoadBackend for PgLoad {
    fn insert(&mut self, b: LoadBatch) -> Result<()> {
        // A merge batch whose keys are each once in it and in no row of the table or of an
        // earlier batch replaces nothing: it is copied straight into the table (growing keys
        // then merge at the cost of an append). Later batches with its keys still replace
        // its rows at the next commit.
        let direct = b.distinct_keys && b.skip_delete;
        if !direct && let Some(staged) = self.staged.get_mut(b.stream) {
            *staged = true;
        }
        let bytes = b.batch.get_array_memory_size();
        self.worker.send(Op::Copy {
            stream: b.stream,
            rows: b.rows,
            batch: b.batch,
            bytes,
            direct,
        })
    }

    fn widen_to_text(&mut self, stream: usize, column: usize) -> Result<()> {
        let schema = self.schema_name.clone();
        let Some(s) = self.streams.get_mut(stream) else {
            return Err(CacheError::WriterPoisoned);
        };
        let Some(name) = s.names.get(column).cloned() else {
            return Err(CacheError::WriterPoisoned);
        };
        // NUMERIC keeps every digit of the numbers, and stays a number.
        let mut tables = vec![s.target(&schema)];
        if s.staging.is_some() {
            tables.push(s.final_table.clone());
        }
        for t in tables {
            let sql = format!(
                "ALTER TABLE {t} ALTER COLUMN {c} TYPE NUMERIC USING {c}::NUMERIC",
                c = quote_ident(&name)
            );
            let what = format!("widening column {name:?} of {t} to NUMERIC");
            self.worker.send(Op::Execute { sql, what })?;
        }
        s.encs[column] = Enc::Numeric;
        s.types[column] = "NUMERIC".into();
        self.worker.send(Op::SetEncoding {
            stream,
            column,
            enc: Enc::Numeric,
        })
    }

    fn commit(&mut self, states: Vec<AirbyteStateMessage>) -> Result<()> {
        let sql = self.merges();
        self.worker.send(Op::Commit {
            sql,
            states,
            begin_after: true,
        })
    }

    fn finish(&mut self, states: Vec<AirbyteStateMessage>) -> Result<BackendTimes> {
        let mut sql = self.merges();
        for s in &self.streams {
            if let Some(shadow) = &s.shadow {
                sql.push((
                    format!(
                        "DROP TABLE IF EXISTS {final_table}; ALTER TABLE {schema}.{shadow} \
                         RENAME TO {table};",
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

impl PgLoad {
    /// The merge statements of the streams with staged rows (which are then no longer
    /// staged).
    fn merges(&mut self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (s, staged) in self.streams.iter().zip(self.staged.iter_mut()) {
            if std::mem::take(staged)
                && let Some(sql) = s.merge_sql()
            {
                out.push((sql, format!("merging the staged rows into {:?}", s.table)));
            }
        }
        out
    }
}

/// One step of a PostgreSQL load.
pub(crate) enum Op {
    /// Copy a batch into the stream's target.
    Copy {
        stream: usize,
        rows: usize,
        batch: arrow::record_batch::RecordBatch,
        bytes: usize,
        /// Merge: straight into the table (see `PgLoad::insert`), not into the staging table.
        direct: bool,
    },
    /// A column's wire format changed (after an `ALTER … TYPE`).
    SetEncoding {
        stream: usize,
        column: usize,
        enc: Enc,
    },
    /// Run one SQL script inside the open transaction.
    Execute { sql: String, what: String },
    /// Run `sql` (merges, swaps), write `states`, commit, and open the next transaction when
    /// `begin_after`.
    Commit {
        sql: Vec<(String, String)>,
        states: Vec<AirbyteStateMessage>,
        begin_after: bool,
    },
}

/// The worker side of a PostgreSQL load.
pub(crate) struct PgApply {
    client: Client,
    schema_name: String,
    table_prefix: String,
    source_name: String,
    /// Per stream: the COPY statement, the wire format of each column, and for merges the
    /// COPY straight into the table (its columns: all but the last, `_abrs_seq`).
    copy: Vec<(String, Vec<Enc>, Option<String>)>,
    /// The COPY data being built (reused).
    buf: Vec<u8>,
    in_transaction: bool,
}

impl Apply for PgApply {
    type Op = Op;

    fn is_commit(op: &Op) -> bool {
        matches!(op, Op::Commit { .. })
    }

    fn bytes(op: &Op) -> usize {
        match op {
            Op::Copy { bytes, .. } => *bytes,
            _ => 0,
        }
    }

    fn end(&mut self) {
        if self.in_transaction {
            let _ = self.client.batch_execute("ROLLBACK");
            self.in_transaction = false;
        }
    }

    fn apply(&mut self, op: Op) -> Result<()> {
        match op {
            Op::Copy {
                stream,
                rows,
                batch,
                bytes: _,
                direct,
            } => {
                let Some((staged_sql, all_encs, direct_sql)) = self.copy.get(stream) else {
                    return Err(CacheError::WriterPoisoned);
                };
                let (sql, encs) = match direct_sql {
                    Some(d) if direct => (d, &all_encs[..all_encs.len().saturating_sub(1)]),
                    _ => (staged_sql, &all_encs[..]),
                };
                let what = || format!("copying {rows} rows: {sql}");
                let mut writer = self.client.copy_in(sql.as_str()).pg(what)?;
                self.buf.clear();
                self.buf.extend_from_slice(HEADER);
                encode_rows(&batch, encs, &mut self.buf);
                self.buf.extend_from_slice(TRAILER);
                drop(batch);
                for chunk in self.buf.chunks(COPY_CHUNK) {
                    if let Err(source) = std::io::Write::write_all(&mut writer, chunk) {
                        // The server ended the COPY: `finish` reports its error.
                        tracing::debug!(%source, "COPY data refused");
                        break;
                    }
                }
                writer.finish().pg(what)?;
                if self.buf.capacity() > 4 * COPY_CHUNK * 16 {
                    self.buf = Vec::new();
                }
            }
            Op::SetEncoding {
                stream,
                column,
                enc,
            } => {
                if let Some(e) = self
                    .copy
                    .get_mut(stream)
                    .and_then(|(_, encs, _)| encs.get_mut(column))
                {
                    *e = enc;
                }
            }
            Op::Execute { sql, what } => {
                self.client.batch_execute(&sql).pg(|| what)?;
            }
            Op::Commit {
                sql,
                states,
                begin_after,
            } => {
                for (statement, what) in &sql {
                    self.client.batch_execute(statement).pg(|| what.clone())?;
                }
                let upsert = format!(
                    "INSERT INTO {}.{} (source_name, stream_name, table_name, state_json, \
                     last_updated) VALUES ($1, $2, $3, $4, now()) ON CONFLICT (table_name) DO \
                     UPDATE SET source_name = EXCLUDED.source_name, stream_name = \
                     EXCLUDED.stream_name, state_json = EXCLUDED.state_json, last_updated = \
                     EXCLUDED.last_updated",
                    quote_ident(&self.schema_name),
                    quote_ident(STATE_TABLE)
                );
                for state in &states {
                    let (stream_name, table_name, json) =
                        state_row(&self.table_prefix, &self.source_name, state)?;
                    self.client
                        .execute(
                            &upsert,
                            &[&self.source_name, &stream_name, &table_name, &json],
                        )
                        .pg(|| format!("saving the state of {stream_name:?}"))?;
                }
                self.client
                    .batch_execute("COMMIT")
                    .pg(|| "committing loaded records and state".into())?;
                self.in_transaction = false;
                if begin_after {
                    self.client
                        .batch_execute("BEGIN")
                        .pg(|| "starting a transaction".into())?;
                    self.in_transaction = true;
                }
            }
        }
        Ok(())
    }
}
