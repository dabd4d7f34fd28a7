//! The cache's error type.

use std::path::PathBuf;

use crate::names::NameNormalizationError;

/// Everything that can go wrong in a cache.
///
/// Each variant says what failed and why; the message ends with what to do when there is
/// something the user can do.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// A DuckDB call failed.
    #[error("DuckDB failed while {context}: {source}")]
    Duckdb {
        /// What we were doing.
        context: String,
        #[source]
        source: duckdb::Error,
    },
    /// A stream or property name cannot become an SQL identifier.
    #[error(transparent)]
    Name(#[from] NameNormalizationError),
    /// The connector sent a record for a stream that was not selected.
    #[error(
        "the connector sent a record for stream {stream:?}, which is not in the configured \
         catalog (configured: {configured}); select that stream, or report the connector bug"
    )]
    UnknownStream {
        /// The record's stream.
        stream: String,
        /// The configured streams, comma-separated.
        configured: String,
    },
    /// `merge` was asked for a stream without primary key.
    #[error(
        "stream {stream:?} cannot be written with the `merge` strategy because it has no primary \
         key; set a primary key for it, or use the `append`, `replace` or `auto` strategy"
    )]
    MergeWithoutPrimaryKey {
        /// The stream.
        stream: String,
    },
    /// A primary key path that points into a nested object.
    #[error(
        "stream {stream:?} has the nested primary key {path:?}; only top-level fields can be \
         primary keys in a cache; choose top-level fields or use the `append` strategy"
    )]
    NestedPrimaryKey {
        /// The stream.
        stream: String,
        /// The offending path.
        path: Vec<String>,
    },
    /// A primary key field that is not a property of the stream's schema.
    #[error(
        "stream {stream:?} has primary key field {field:?}, which is not a property of its \
         JSON schema; fix the primary key or the schema"
    )]
    UnknownPrimaryKey {
        /// The stream.
        stream: String,
        /// The field.
        field: String,
    },
    /// An unknown write strategy name.
    #[error("invalid write strategy {0:?}: use one of auto, append, merge, replace")]
    InvalidWriteStrategy(String),
    /// A record's `data` could not be parsed.
    #[error("the record data of stream {stream:?} is not a valid JSON object ({source})")]
    BadRecord {
        /// The stream.
        stream: String,
        #[source]
        source: serde_json::Error,
    },
    /// A cache name that is not alphanumeric/underscore.
    #[error("invalid cache name {0:?}: use only letters, digits and underscores")]
    InvalidCacheName(String),
    /// A file-system operation failed.
    #[error("could not {action} {path}: {source}")]
    Io {
        /// What we tried.
        action: &'static str,
        /// Where.
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A stream that has no table in this cache.
    #[error(
        "stream {stream:?} has no table {table:?} in this cache; read it first (streams in this \
         cache: {available})"
    )]
    StreamNotInCache {
        /// The stream.
        stream: String,
        /// Its table name.
        table: String,
        /// Streams that are there.
        available: String,
    },
    /// Stored state that cannot be parsed.
    #[error(
        "the state stored for {table_name:?} in _airbyte_state is not a valid state message ({source}); delete that row to re-sync the stream"
    )]
    BadStoredState {
        /// The row's table_name.
        table_name: String,
        #[source]
        source: serde_json::Error,
    },
    /// Arrow failed (building a batch, slicing, …).
    #[error("Arrow failed while {context}: {source}")]
    Arrow {
        /// What we were doing.
        context: String,
        #[source]
        source: arrow::error::ArrowError,
    },
    /// Writing Parquet failed.
    #[error("could not write Parquet file {path}: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// A destination state row that cannot be parsed.
    #[error(
        "the state stored in _airbyte_destination_state for destination {destination_name:?}, \
         source {source_name:?}, stream {stream_name:?} is not a valid state message ({source}); \
         delete that row to re-send the stream from the start"
    )]
    BadDestinationState {
        /// The row's destination_name.
        destination_name: String,
        /// The row's source_name.
        source_name: String,
        /// The row's stream_name.
        stream_name: String,
        #[source]
        source: serde_json::Error,
    },
    /// A table without the `_airbyte_raw_id` column: not written by a cache, so its rows
    /// cannot be replayed in order.
    #[error(
        "table {table:?} of stream {stream:?} has no _airbyte_raw_id column, so it was not \
         written by an Airbyte cache and cannot be replayed; read the stream into the cache again"
    )]
    NotACacheTable {
        /// The stream.
        stream: String,
        /// Its table.
        table: String,
    },
    /// Writing replayed records failed (for a destination's stdin: the destination closed it,
    /// usually because it exited; its log says why).
    #[error("could not write the records of stream {stream:?} to the destination: {source}")]
    ReplayOutput {
        /// The stream being replayed.
        stream: String,
        #[source]
        source: std::io::Error,
    },
    /// A PostgreSQL call failed.
    #[error("PostgreSQL failed while {context}: {}", postgres_detail(source))]
    Postgres {
        /// What we were doing.
        context: String,
        #[source]
        source: postgres::Error,
    },
    /// The PostgreSQL server could not be reached or refused the login.
    #[error(
        "could not connect to PostgreSQL at {host}:{port} as user {user:?} (database \
         {database:?}): {}; check that the server is running and accepts TCP connections \
         there, and the user name and password (PGPASSWORD)",
        postgres_detail(source)
    )]
    PostgresConnect {
        /// The server's host.
        host: String,
        /// The server's port.
        port: u16,
        /// The login user.
        user: String,
        /// The database.
        database: String,
        #[source]
        source: postgres::Error,
    },
    /// A column of an existing table whose type the PostgreSQL cache cannot load into.
    #[error(
        "column {column:?} of table {table:?} has type {data_type}, which the PostgreSQL cache \
         cannot load into; change it (ALTER TABLE … ALTER COLUMN … TYPE text) or use another \
         table prefix or schema"
    )]
    UnsupportedColumnType {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Its PostgreSQL type.
        data_type: String,
    },
    /// A query result column that cannot become Arrow.
    #[error(
        "column {column:?} of the query result has PostgreSQL type {data_type}, which cannot \
         be turned into Arrow; cast it in the query (for example `{column}::text`)"
    )]
    UnsupportedResultType {
        /// The result column.
        column: String,
        /// Its PostgreSQL type.
        data_type: String,
    },
    /// A `--cache` value that is neither a DuckDB path nor a valid PostgreSQL URL.
    #[error(
        "invalid cache {spec:?}: {reason}; give a DuckDB file path or \
         postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=S&table_prefix=P]"
    )]
    InvalidCacheUrl {
        /// The value given (with any password replaced by `****`).
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The writer was used after an error left its transaction unusable.
    #[error("the cache writer is unusable after an earlier error; start a new load")]
    WriterPoisoned,
}

/// A shorthand for results of this crate.
pub type Result<T, E = CacheError> = std::result::Result<T, E>;

/// Attaches "while …" context to DuckDB errors.
pub(crate) trait DuckdbContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> DuckdbContext<T> for std::result::Result<T, duckdb::Error> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| CacheError::Duckdb {
            context: context(),
            source,
        })
    }
}

/// The most useful text of a PostgreSQL error: the server's message (with its detail and
/// hint) when there is one, else the client's.
pub(crate) fn postgres_detail(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut out = format!("{}: {}", db.severity(), db.message());
            if let Some(d) = db.detail() {
                out.push_str(&format!(" ({d})"));
            }
            if let Some(h) = db.hint() {
                out.push_str(&format!("; hint: {h}"));
            }
            out
        }
        None => {
            let mut out = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                out.push_str(&format!(": {s}"));
                source = s.source();
            }
            out
        }
    }
}

/// Attaches "while …" context to PostgreSQL errors.
pub(crate) trait PgContext<T> {
    fn pg(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> PgContext<T> for std::result::Result<T, postgres::Error> {
    fn pg(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| CacheError::Postgres {
            context: context(),
            source,
        })
    }
}
