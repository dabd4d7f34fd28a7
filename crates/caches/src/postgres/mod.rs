//! The PostgreSQL cache: PyAirbyte's `PostgresCache` layout (schema `airbyte_raw`, the same
//! stream tables and internal tables), names by its `PostgresNormalizer` (cut to 63 bytes),
//! loads by binary `COPY … FROM STDIN` straight from the parsed records.
//!
//! * Types: BIGINT, DOUBLE PRECISION (a number with more digits than a DOUBLE keeps turns
//!   the column into NUMERIC, which keeps them all), BOOLEAN, VARCHAR, DATE, TIME, TIMESTAMP,
//!   TIMESTAMPTZ (date-times and `_airbyte_extracted_at`), JSONB (objects, arrays,
//!   `_airbyte_meta`). Tables PyAirbyte wrote (NUMERIC(38,9), JSON, naive TIMESTAMP) are
//!   loaded into as they are.
//! * Write methods (`load.rs`): append copies into the table; merge copies into a temporary
//!   staging table and, at each commit, replaces the table's rows with the staged ones in one
//!   statement (last record per key wins, also within one sync); replace copies into a shadow
//!   table swapped in with the state in one transaction at finish.
//! * Data and state commit together: a killed load (or a dropped connection) keeps exactly
//!   the last commit, and a re-run resumes from its state.

mod copy;
mod destination_state;
mod load;
mod read;
mod replay;
mod types;

use std::fmt;
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use postgres::{Client, NoTls};

use crate::dataset::{BatchEvent, CachedDataset, DatasetSource, json_columns};
use crate::destination_state::DESTINATION_STATE_TABLE;
use crate::error::{CacheError, PgContext, Result};
use crate::names::{Normalizer, quote_ident};
use crate::state::{STATE_TABLE, STREAMS_TABLE, StateProvider, provider_from_rows};
use crate::types::SqlType;

/// PyAirbyte's default schema of SQL caches.
pub const DEFAULT_POSTGRES_SCHEMA: &str = "airbyte_raw";

/// How long connecting may take before it fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A password that never shows in `Debug` output, logs or error messages.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    /// The password itself (for the connection only).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// Where a PostgreSQL cache's server is and how to log in: opens connections.
#[derive(Clone, Debug)]
pub(crate) struct Connector {
    host: String,
    port: u16,
    database: String,
    username: String,
    password: Option<Password>,
}

impl Connector {
    /// A new connection.
    pub(crate) fn connect(&self) -> Result<Client> {
        self.connect_as("abrs")
    }

    /// A new connection that shows as `application_name` in `pg_stat_activity`.
    pub(crate) fn connect_as(&self, application_name: &str) -> Result<Client> {
        let mut config = postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .dbname(&self.database)
            .user(&self.username)
            .application_name(application_name)
            .connect_timeout(CONNECT_TIMEOUT);
        if let Some(p) = &self.password {
            config.password(p.expose());
        }
        config
            .connect(NoTls)
            .map_err(|source| CacheError::PostgresConnect {
                host: self.host.clone(),
                port: self.port,
                user: self.username.clone(),
                database: self.database.clone(),
                source,
            })
    }

    pub(crate) fn check_query(&self, sql: &str) -> Result<()> {
        self.connect()?
            .prepare(sql)
            .pg(|| format!("preparing {sql}"))?;
        Ok(())
    }

    pub(crate) fn for_each_batch(
        &self,
        sql: &str,
        f: &mut dyn FnMut(BatchEvent) -> Result<bool>,
    ) -> Result<()> {
        read::for_each_batch(&mut self.connect()?, sql, f)
    }

    pub(crate) fn count(&self, sql: &str) -> Result<u64> {
        let row = self
            .connect()?
            .query_one(sql, &[])
            .pg(|| format!("counting rows: {sql}"))?;
        let n: i64 = row.try_get(0).pg(|| format!("counting rows: {sql}"))?;
        Ok(n.max(0) as u64)
    }
}

/// A PostgreSQL cache: a database on a server, a schema in it (default `airbyte_raw`), and a
/// table prefix. PyAirbyte's `PostgresCache`.
///
/// Connections are opened when needed (each load, query and dataset operation has its own),
/// so the value is cheap to clone and to keep.
///
/// ```no_run
/// use abrs_caches::{Password, PostgresCache};
/// let cache = PostgresCache::new("127.0.0.1", 5432, "test", "postgres")
///     .with_password(Password::new("secret"))
///     .with_schema_name("faker");
/// let batches = cache.query("SELECT 42 AS answer").unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct PostgresCache {
    connector: Connector,
    schema_name: String,
    table_prefix: String,
}

impl PostgresCache {
    /// A cache in `database` on `host:port`, logging in as `username` (without a password
    /// unless [`PostgresCache::with_password`]), schema `airbyte_raw`, no table prefix.
    pub fn new(host: &str, port: u16, database: &str, username: &str) -> Self {
        Self {
            connector: Connector {
                host: host.to_string(),
                port,
                database: database.to_string(),
                username: username.to_string(),
                password: None,
            },
            schema_name: DEFAULT_POSTGRES_SCHEMA.to_string(),
            table_prefix: String::new(),
        }
    }

    /// Logs in with this password.
    pub fn with_password(mut self, password: Password) -> Self {
        self.connector.password = Some(password);
        self
    }

    /// Uses another schema (created when missing).
    pub fn with_schema_name(mut self, schema_name: impl Into<String>) -> Self {
        self.schema_name = schema_name.into();
        self
    }

    /// Prefixes every stream table (the table of stream `s` is `normalize(prefix + s)`).
    pub fn with_table_prefix(mut self, table_prefix: impl Into<String>) -> Self {
        self.table_prefix = table_prefix.into();
        self
    }

    /// The server's host.
    pub fn host(&self) -> &str {
        &self.connector.host
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.connector.port
    }

    /// The database.
    pub fn database(&self) -> &str {
        &self.connector.database
    }

    /// The login user.
    pub fn username(&self) -> &str {
        &self.connector.username
    }

    /// The password, if one is set.
    pub fn password(&self) -> Option<&Password> {
        self.connector.password.as_ref()
    }

    /// The schema holding the tables.
    pub fn schema_name(&self) -> &str {
        &self.schema_name
    }

    /// The table prefix.
    pub fn table_prefix(&self) -> &str {
        &self.table_prefix
    }

    /// `postgresql://user@host:port/database?schema=…&table_prefix=…`, without the password.
    pub fn url(&self) -> String {
        let mut url = format!(
            "postgresql://{}@{}:{}/{}?schema={}",
            self.connector.username,
            self.connector.host,
            self.connector.port,
            self.connector.database,
            self.schema_name
        );
        if !self.table_prefix.is_empty() {
            url.push_str("&table_prefix=");
            url.push_str(&self.table_prefix);
        }
        url
    }

    /// The table name of a stream in this cache (PyAirbyte's `PostgresNormalizer`).
    pub fn table_name(&self, stream: &str) -> Result<String> {
        Ok(Normalizer::Postgres.table_name(&self.table_prefix, stream)?)
    }

    /// `"schema"."table"`.
    pub(crate) fn qualified(&self, table: &str) -> String {
        format!("{}.{}", quote_ident(&self.schema_name), quote_ident(table))
    }

    /// A new connection with the schema and the internal tables in place, and the schema
    /// first on the `search_path` (so that SQL names the stream tables without a schema), in
    /// UTC (naive timestamps, PyAirbyte's, hold UTC).
    pub(crate) fn connect(&self) -> Result<Client> {
        self.connect_as("abrs")
    }

    /// [`PostgresCache::connect`], showing as `application_name` in `pg_stat_activity`.
    pub(crate) fn connect_as(&self, application_name: &str) -> Result<Client> {
        let mut client = self.connector.connect_as(application_name)?;
        self.init_schema(&mut client)?;
        client
            .batch_execute(&format!(
                "SET search_path TO {}, public; SET TIME ZONE 'UTC'",
                quote_ident(&self.schema_name)
            ))
            .pg(|| "setting the search path".into())?;
        Ok(client)
    }

    fn init_schema(&self, client: &mut Client) -> Result<()> {
        // PyAirbyte's SQLAlchemy models, as they come out on PostgreSQL.
        let sql = format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE IF NOT EXISTS {state} (source_name VARCHAR, stream_name VARCHAR, \
               table_name VARCHAR PRIMARY KEY, state_json VARCHAR, last_updated TIMESTAMPTZ);
             CREATE TABLE IF NOT EXISTS {streams} (stream_name VARCHAR, source_name VARCHAR, \
               table_name VARCHAR PRIMARY KEY, catalog_metadata VARCHAR);
             CREATE TABLE IF NOT EXISTS {destination_state} (destination_name VARCHAR NOT NULL, \
               source_name VARCHAR NOT NULL, stream_name VARCHAR NOT NULL, state_json VARCHAR, \
               last_updated TIMESTAMPTZ, PRIMARY KEY (destination_name, source_name, stream_name));",
            schema = quote_ident(&self.schema_name),
            state = self.qualified(STATE_TABLE),
            streams = self.qualified(STREAMS_TABLE),
            destination_state = self.qualified(DESTINATION_STATE_TABLE),
        );
        match client.batch_execute(&sql) {
            Ok(()) => Ok(()),
            // Two sessions creating the same table at once: one wins, both may go on.
            Err(e) if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) => {
                client.batch_execute(&sql).pg(|| self.init_what())
            }
            Err(source) => Err(CacheError::Postgres {
                context: self.init_what(),
                source,
            }),
        }
    }

    fn init_what(&self) -> String {
        format!(
            "creating the schema {:?} and the internal tables",
            self.schema_name
        )
    }

    /// Checks that the server can be reached and the login works (creating the schema and the
    /// internal tables when missing).
    pub fn check(&self) -> Result<()> {
        self.connect().map(drop)
    }

    /// Runs SQL statements (separated by `;`) for their effect, in one transaction.
    pub fn execute(&self, sql: &str) -> Result<()> {
        let mut client = self.connect()?;
        client
            .batch_execute(&format!("BEGIN; {sql}; COMMIT"))
            .pg(|| format!("running SQL: {sql}"))
    }

    /// Runs a query and returns all its rows as Arrow batches.
    pub fn query(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        let mut client = self.connect()?;
        let mut out = Vec::new();
        read::for_each_batch(&mut client, sql, &mut |e| {
            if let BatchEvent::Batch(b) = e {
                out.push(b);
            }
            Ok(true)
        })?;
        Ok(out)
    }

    /// The streams in this cache (those registered in `_airbyte_streams` under this prefix),
    /// sorted by name.
    pub fn streams(&self) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT DISTINCT stream_name FROM {} WHERE table_name = $1 || stream_name ORDER BY 1",
            self.qualified(STREAMS_TABLE)
        );
        let rows = self
            .connect()?
            .query(&sql, &[&self.table_prefix])
            .pg(|| "listing the cached streams".into())?;
        rows.iter()
            .map(|r| r.try_get::<_, String>(0))
            .collect::<std::result::Result<Vec<_>, _>>()
            .pg(|| "listing the cached streams".into())
    }

    /// The state saved for `source_name` under this cache's table prefix.
    pub fn get_state_provider(&self, source_name: &str) -> Result<StateProvider> {
        let sql = format!(
            "SELECT stream_name, table_name, state_json FROM {} WHERE source_name = $1 \
             ORDER BY stream_name",
            self.qualified(STATE_TABLE)
        );
        let rows = self
            .connect()?
            .query(&sql, &[&source_name])
            .pg(|| "reading saved state".into())?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let get = |i| {
                r.try_get::<_, Option<String>>(i)
                    .map(Option::unwrap_or_default)
            };
            let row = (|| Ok::<_, postgres::Error>((get(0)?, get(1)?, get(2)?)))()
                .pg(|| "reading saved state".into())?;
            out.push(row);
        }
        provider_from_rows(&self.table_prefix, source_name, out)
    }

    /// The state messages to hand to the next read of `source_name`, exactly as the connector
    /// emitted them.
    pub fn state_messages(
        &self,
        source_name: &str,
    ) -> Result<Vec<abrs_protocol::AirbyteStateMessage>> {
        Ok(self
            .get_state_provider(source_name)?
            .state_messages()
            .to_vec())
    }

    /// The columns of a table, in order, with their `information_schema` data types (empty
    /// when the table is missing).
    pub(crate) fn table_columns(
        client: &mut Client,
        schema: &str,
        table: &str,
    ) -> Result<Vec<(String, String)>> {
        let rows = client
            .query(
                "SELECT column_name::text, data_type::text FROM information_schema.columns \
                 WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
                &[&schema, &table],
            )
            .pg(|| format!("reading the columns of {table:?}"))?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<std::result::Result<Vec<_>, postgres::Error>>()
            .pg(|| format!("reading the columns of {table:?}"))
    }

    /// The dataset of a stream in this cache.
    pub fn dataset(&self, stream: &str) -> Result<CachedDataset> {
        let table = self.table_name(stream)?;
        let mut client = self.connect()?;
        let columns = Self::table_columns(&mut client, &self.schema_name, &table)?;
        if columns.is_empty() {
            return Err(CacheError::StreamNotInCache {
                stream: stream.to_string(),
                table,
                available: self.streams().map(|s| s.join(", ")).unwrap_or_default(),
            });
        }
        let declared: Option<String> = client
            .query_opt(
                &format!(
                    "SELECT catalog_metadata FROM {} WHERE table_name = $1",
                    self.qualified(STREAMS_TABLE)
                ),
                &[&format!("{}{stream}", self.table_prefix)],
            )
            .ok()
            .flatten()
            .and_then(|r| r.try_get(0).ok());
        let typed: Vec<(String, SqlType)> = columns
            .iter()
            .map(|(c, t)| (c.clone(), SqlType::from_postgres(t)))
            .collect();
        let mut json = json_columns(&typed, declared.as_deref(), Normalizer::Postgres);
        // NUMERIC values come back as their exact text: rows give them as numbers.
        json.extend(
            columns
                .iter()
                .filter(|(_, t)| t == "numeric")
                .map(|(c, _)| c.clone()),
        );
        Ok(CachedDataset::new(
            DatasetSource::Postgres(self.connector.clone()),
            stream,
            self.qualified(&table),
            json,
        ))
    }
}
