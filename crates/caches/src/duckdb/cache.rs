//! The DuckDB cache: where it lives, how it is opened, SQL access and its internal tables.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, Weak};

use ::duckdb::{Config, Connection};
use arrow::record_batch::RecordBatch;

use super::batch_scan::{BATCH_SCAN, BatchScan};
use crate::error::{CacheError, DuckdbContext, Result};
use crate::names::{quote_ident, table_name};
use crate::state::{STATE_TABLE, STREAMS_TABLE};
use crate::types::SqlType;
pub(crate) use crate::worker::lock;

/// DuckDB's `memory_limit` for cache files opened by this library, unless
/// [`DuckDbCache::with_memory_limit`] says otherwise.
///
/// A load streams: it needs about one row group (122,880 rows) of uncompressed data at a time,
/// so a small buffer pool cost it nothing measurable (same CPU time as 64MB and as no limit),
/// and it keeps the whole `abrs read` process at ~135 MB peak RSS for 1M and for 5M bench
/// records (no limit: 300–450 MB; docs/PERFORMANCE.md). Queries
/// that need more (large sorts, joins, aggregates) spill to the `.tmp` folder next to the
/// database file; give such caches a larger limit.
pub const DEFAULT_MEMORY_LIMIT: &str = "48MB";

/// One open DuckDB database, shared by every cache object (and writer) on the same file in
/// this process: DuckDB must not open one file twice in a process.
pub(crate) struct Instance {
    root: Mutex<Connection>,
    /// Whether the JSON type exists (DuckDB's `json` extension is linked in).
    pub(crate) json_available: bool,
}

impl Instance {
    /// A new connection to this database.
    pub(crate) fn connect(&self) -> Result<Connection> {
        lock(&self.root)
            .try_clone()
            .ctx(|| "opening a new connection to the cache".into())
    }
}

static INSTANCES: LazyLock<Mutex<HashMap<PathBuf, Weak<Instance>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn open_instance(
    path: &Path,
    memory_limit: Option<&str>,
    threads: Option<usize>,
) -> Result<Arc<Instance>> {
    let in_memory = path.as_os_str() == ":memory:";
    let key = if in_memory {
        None
    } else {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| CacheError::Io {
                action: "create the cache directory",
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let abs = std::path::absolute(path).map_err(|source| CacheError::Io {
            action: "resolve the cache path",
            path: path.to_path_buf(),
            source,
        })?;
        // Canonicalize the directory (it exists) so that every spelling of one file, before
        // and after the file is created, maps to one instance.
        let canonical = match (abs.parent(), abs.file_name()) {
            (Some(dir), Some(name)) => dir.canonicalize().map(|d| d.join(name)).ok(),
            _ => None,
        };
        Some(canonical.unwrap_or(abs))
    };
    let mut registry = lock(&INSTANCES);
    registry.retain(|_, w| w.strong_count() > 0);
    if let Some(existing) = key
        .as_ref()
        .and_then(|k| registry.get(k))
        .and_then(Weak::upgrade)
    {
        return Ok(existing);
    }
    let describe = || format!("opening the DuckDB file {}", path.display());
    // Offline by design: never try to download extensions.
    let mut config = Config::default()
        .with("autoinstall_known_extensions", "false")
        .and_then(|c| c.with("autoload_known_extensions", "false"))
        .ctx(describe)?;
    // Set before the first allocation: a limit set later on a loading connection was
    // measured not to bound the process (290 MB vs 170 MB RSS for 1M bench records). Without
    // a limit DuckDB takes up to 80% of RAM, mostly for row groups a load has not flushed yet.
    let limit = memory_limit.unwrap_or(DEFAULT_MEMORY_LIMIT);
    config = config.max_memory(limit).ctx(describe)?;
    if let Some(n) = threads {
        config = config.threads(n.max(1) as i64).ctx(describe)?;
    }
    let new_file = key.as_ref().is_some_and(|k| !k.exists());
    if new_file {
        // PyAirbyte 0.71 pins duckdb 1.4.3, which cannot read newer storage versions.
        config = config
            .with("storage_compatibility_version", "v1.4.0")
            .ctx(describe)?;
    }
    let conn = match &key {
        None => Connection::open_in_memory_with_flags(config),
        Some(k) => Connection::open_with_flags(k, config),
    }
    .map_err(|source| CacheError::Duckdb {
        context: format!(
            "opening the DuckDB file {} (if another process has it open, close that process or \
             use another cache file)",
            path.display()
        ),
        source,
    })?;
    conn.register_table_function::<BatchScan>(BATCH_SCAN)
        .ctx(|| "registering the batch scan function".into())?;
    let json_available = conn.execute_batch("SELECT NULL::JSON").is_ok();
    if !json_available {
        tracing::debug!("DuckDB JSON type unavailable; JSON columns are stored as VARCHAR");
    }
    let instance = Arc::new(Instance {
        root: Mutex::new(conn),
        json_available,
    });
    if let Some(k) = key {
        registry.insert(k, Arc::downgrade(&instance));
    }
    Ok(instance)
}

/// A connection of one cache object.
struct Open {
    instance: Arc<Instance>,
    conn: Connection,
}

/// A DuckDB cache: a database file, a schema in it, and a table prefix.
///
/// The file is opened on first use and released by [`DuckDbCache::close`] or when the value is
/// dropped. Several cache objects on one file (say with different table prefixes) share one
/// DuckDB instance and are isolated from each other, state included.
///
/// ```no_run
/// use abrs_caches::DuckDbCache;
/// let cache = DuckDbCache::new("/tmp/my.duckdb").with_table_prefix("faker_");
/// let n = cache.query("SELECT 42 AS answer").unwrap();
/// ```
pub struct DuckDbCache {
    db_path: PathBuf,
    schema_name: String,
    table_prefix: String,
    memory_limit: Option<String>,
    threads: Option<usize>,
    open: Mutex<Option<Open>>,
}

impl std::fmt::Debug for DuckDbCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuckDbCache")
            .field("db_path", &self.db_path)
            .field("schema_name", &self.schema_name)
            .field("table_prefix", &self.table_prefix)
            .finish()
    }
}

impl Clone for DuckDbCache {
    /// A cache object with the same configuration (it opens its own connection when used).
    fn clone(&self) -> Self {
        let mut clone = Self::new(&self.db_path)
            .with_schema_name(&self.schema_name)
            .with_table_prefix(&self.table_prefix);
        clone.memory_limit = self.memory_limit.clone();
        clone.threads = self.threads;
        clone
    }
}

/// The cache root: `AIRBYTE_CACHE_ROOT`, else `<AIRBYTE_PROJECT_DIR or cwd>/.cache`.
pub fn cache_root() -> PathBuf {
    if let Some(root) = std::env::var_os("AIRBYTE_CACHE_ROOT").filter(|v| !v.is_empty()) {
        return PathBuf::from(root);
    }
    let project = std::env::var_os("AIRBYTE_PROJECT_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."));
    project.join(".cache")
}

/// PyAirbyte's default cache: `<cache root>/default_cache/default_cache.duckdb`.
pub fn default_cache() -> DuckDbCache {
    DuckDbCache::new(
        cache_root()
            .join("default_cache")
            .join("default_cache.duckdb"),
    )
}

/// A named local cache: `<cache root>/<name>/db_<name>.duckdb`. The name must be letters,
/// digits and underscores.
pub fn new_local_cache(name: &str) -> Result<DuckDbCache> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(CacheError::InvalidCacheName(name.to_string()));
    }
    Ok(DuckDbCache::new(
        cache_root().join(name).join(format!("db_{name}.duckdb")),
    ))
}

impl DuckDbCache {
    /// A cache in `db_path` (`":memory:"` for an in-memory database), schema `main`, no prefix.
    pub fn new(db_path: impl AsRef<Path>) -> Self {
        Self {
            db_path: db_path.as_ref().to_path_buf(),
            schema_name: "main".into(),
            table_prefix: String::new(),
            memory_limit: None,
            threads: None,
            open: Mutex::new(None),
        }
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

    /// Caps DuckDB's buffer memory (its `memory_limit`, e.g. `"1GB"`; default:
    /// [`DEFAULT_MEMORY_LIMIT`]).
    ///
    /// Applies when this cache object is the first in the process to open the file (the
    /// setting belongs to the database instance, which cache objects on one file share).
    pub fn with_memory_limit(mut self, limit: impl Into<String>) -> Self {
        self.memory_limit = Some(limit.into());
        self
    }

    /// DuckDB's worker threads (its `threads`; default: one per core), for a cache object used
    /// only for small statements, such as the state cache of a write that streams straight
    /// through: each thread DuckDB starts costs memory the statements never use.
    ///
    /// Applies when this cache object is the first in the process to open the file, as
    /// [`DuckDbCache::with_memory_limit`]; `SET threads` changes it later.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// The database file.
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// The schema holding the tables.
    pub fn schema_name(&self) -> &str {
        &self.schema_name
    }

    /// The table prefix.
    pub fn table_prefix(&self) -> &str {
        &self.table_prefix
    }

    /// The table name of a stream in this cache.
    pub fn table_name(&self, stream: &str) -> Result<String> {
        Ok(table_name(&self.table_prefix, stream)?)
    }

    /// `"schema"."table"`.
    pub(crate) fn qualified(&self, table: &str) -> String {
        format!("{}.{}", quote_ident(&self.schema_name), quote_ident(table))
    }

    /// Releases the file (other cache objects on the same file keep it open until they close).
    pub fn close(&self) {
        lock(&self.open).take();
    }

    /// Runs `f` with this cache's connection, opening the file and creating the schema and the
    /// internal tables on first use.
    pub(crate) fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection, &Arc<Instance>) -> Result<T>,
    ) -> Result<T> {
        let mut guard = lock(&self.open);
        if let Some(open) = guard.as_ref() {
            return f(&open.conn, &open.instance);
        }
        let instance = open_instance(&self.db_path, self.memory_limit.as_deref(), self.threads)?;
        let conn = instance.connect()?;
        self.init_schema(&conn, &instance)?;
        let open = guard.insert(Open { instance, conn });
        f(&open.conn, &open.instance)
    }

    /// A new connection of its own (for a writer or a dataset iterator).
    pub(crate) fn new_connection(&self) -> Result<(Connection, Arc<Instance>)> {
        self.with_conn(|_, instance| Ok((instance.connect()?, instance.clone())))
    }

    fn init_schema(&self, conn: &Connection, instance: &Instance) -> Result<()> {
        let tz = SqlType::TimestampTz.ddl(instance.json_available);
        let sql = format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE IF NOT EXISTS {state} (source_name VARCHAR, stream_name VARCHAR, \
               table_name VARCHAR PRIMARY KEY, state_json VARCHAR, last_updated {tz});
             CREATE TABLE IF NOT EXISTS {streams} (stream_name VARCHAR, source_name VARCHAR, \
               table_name VARCHAR PRIMARY KEY, catalog_metadata VARCHAR);
             {destination_state}",
            schema = quote_ident(&self.schema_name),
            state = self.qualified(STATE_TABLE),
            streams = self.qualified(STREAMS_TABLE),
            destination_state = super::destination_state::destination_state_ddl(
                &self.qualified(crate::destination_state::DESTINATION_STATE_TABLE),
                tz
            ),
        );
        conn.execute_batch(&sql).ctx(|| {
            format!(
                "creating the schema {:?} and the internal tables",
                self.schema_name
            )
        })
    }

    /// Runs SQL statements (separated by `;`) for their effect.
    pub fn execute(&self, sql: &str) -> Result<()> {
        self.with_conn(|conn, _| {
            conn.execute_batch(sql)
                .ctx(|| format!("running SQL: {sql}"))
        })
    }

    /// Runs a query and returns all its rows as Arrow batches.
    pub fn query(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        self.with_conn(|conn, _| query_arrow(conn, sql))
    }

    /// The streams in this cache (those registered in `_airbyte_streams` under this prefix),
    /// sorted by name.
    pub fn streams(&self) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT DISTINCT stream_name FROM {} WHERE table_name = ? || stream_name ORDER BY 1",
            self.qualified(STREAMS_TABLE)
        );
        self.with_conn(|conn, _| {
            let mut stmt = conn
                .prepare(&sql)
                .ctx(|| "listing the cached streams".into())?;
            let rows = stmt
                .query_map([&self.table_prefix], |r| r.get::<_, String>(0))
                .ctx(|| "listing the cached streams".into())?;
            rows.collect::<std::result::Result<Vec<_>, _>>()
                .ctx(|| "listing the cached streams".into())
        })
    }

    /// Whether a table exists in this cache's schema.
    pub(crate) fn table_exists(conn: &Connection, schema: &str, table: &str) -> Result<bool> {
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ? \
                 AND database_name = current_database()",
                [schema, table],
                |r| r.get(0),
            )
            .ctx(|| format!("looking up table {table:?}"))?;
        Ok(n > 0)
    }

    /// The columns of a table, in order, with their types (empty when the table is missing).
    pub(crate) fn table_columns(
        conn: &Connection,
        schema: &str,
        table: &str,
    ) -> Result<Vec<(String, SqlType)>> {
        let mut stmt = conn
            .prepare(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? AND \
                 table_name = ? AND database_name = current_database() ORDER BY column_index",
            )
            .ctx(|| format!("reading the columns of {table:?}"))?;
        let rows = stmt
            .query_map([schema, table], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    SqlType::from_duckdb(&r.get::<_, String>(1)?),
                ))
            })
            .ctx(|| format!("reading the columns of {table:?}"))?;
        rows.collect::<std::result::Result<Vec<_>, _>>()
            .ctx(|| format!("reading the columns of {table:?}"))
    }
}

/// Runs a query on `conn` and collects the result as Arrow batches.
pub(crate) fn query_arrow(conn: &Connection, sql: &str) -> Result<Vec<RecordBatch>> {
    let mut stmt = conn.prepare(sql).ctx(|| format!("preparing SQL: {sql}"))?;
    let batches = stmt
        .query_arrow([])
        .ctx(|| format!("running SQL: {sql}"))?
        .collect();
    Ok(batches)
}
