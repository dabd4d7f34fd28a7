//! [`Cache`]: any cache backend behind one type, for code that reads into, queries or keeps
//! state in a cache without caring which database it is.
//!
//! A backend is a module of this crate (`duckdb/`, `postgres/`) with a cache type offering
//! `begin_load` (its [`crate::loader::LoadBackend`]), state reads, datasets and queries; it
//! joins by a variant here.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use arrow::record_batch::RecordBatch;

use abrs_protocol::{AirbyteStateMessage, ConfiguredAirbyteCatalog};

use crate::dataset::CachedDataset;
use crate::destination_state::DestinationStreamProgress;
use crate::duckdb::DuckDbCache;
use crate::error::{CacheError, Result};
use crate::loader::{CacheWriter, LoadOptions, WriteStrategy};
use crate::postgres::{Password, PostgresCache};
use crate::replay::{ReplayOptions, ReplaySummary};
use crate::state::StateProvider;

/// A cache of any backend.
///
/// ```no_run
/// use abrs_caches::Cache;
/// let cache = Cache::from_spec("postgresql://postgres@127.0.0.1:5432/test?schema=faker", None)?;
/// let duck = Cache::from_spec("/tmp/cache.duckdb", None)?;
/// # Ok::<(), abrs_caches::CacheError>(())
/// ```
#[derive(Debug, Clone)]
pub enum Cache {
    /// A DuckDB file.
    DuckDb(DuckDbCache),
    /// A PostgreSQL database.
    Postgres(PostgresCache),
}

impl From<DuckDbCache> for Cache {
    fn from(c: DuckDbCache) -> Self {
        Self::DuckDb(c)
    }
}

impl From<&DuckDbCache> for Cache {
    fn from(c: &DuckDbCache) -> Self {
        Self::DuckDb(c.clone())
    }
}

impl From<PostgresCache> for Cache {
    fn from(c: PostgresCache) -> Self {
        Self::Postgres(c)
    }
}

impl From<&PostgresCache> for Cache {
    fn from(c: &PostgresCache) -> Self {
        Self::Postgres(c.clone())
    }
}

impl From<&Cache> for Cache {
    fn from(c: &Cache) -> Self {
        c.clone()
    }
}

impl Cache {
    /// A cache from a command-line value: a PostgreSQL URL
    /// (`postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=S&table_prefix=P]`, also
    /// `postgres://`), else a DuckDB file path. A URL without a password takes
    /// `password` (e.g. `PGPASSWORD`), when given.
    pub fn from_spec(spec: &str, password: Option<Password>) -> Result<Self> {
        let lower = spec.to_ascii_lowercase();
        if lower.starts_with("postgresql://") || lower.starts_with("postgres://") {
            return Ok(Self::Postgres(parse_postgres_url(spec, password)?));
        }
        if lower.contains("://") {
            return Err(CacheError::InvalidCacheUrl {
                spec: redact(spec),
                reason: "only postgresql:// URLs are supported".into(),
            });
        }
        Ok(Self::DuckDb(DuckDbCache::new(Path::new(spec))))
    }

    /// `"duckdb"` or `"postgres"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::DuckDb(_) => "duckdb",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Where the cache is, for messages: the DuckDB file, or the PostgreSQL URL without its
    /// password.
    pub fn describe(&self) -> String {
        match self {
            Self::DuckDb(c) => c.db_path().display().to_string(),
            Self::Postgres(c) => c.url(),
        }
    }

    /// The DuckDB cache, when this is one.
    pub fn as_duckdb(&self) -> Option<&DuckDbCache> {
        match self {
            Self::DuckDb(c) => Some(c),
            Self::Postgres(_) => None,
        }
    }

    /// The PostgreSQL cache, when this is one.
    pub fn as_postgres(&self) -> Option<&PostgresCache> {
        match self {
            Self::Postgres(c) => Some(c),
            Self::DuckDb(_) => None,
        }
    }

    /// The schema holding the tables.
    pub fn schema_name(&self) -> &str {
        match self {
            Self::DuckDb(c) => c.schema_name(),
            Self::Postgres(c) => c.schema_name(),
        }
    }

    /// The table prefix.
    pub fn table_prefix(&self) -> &str {
        match self {
            Self::DuckDb(c) => c.table_prefix(),
            Self::Postgres(c) => c.table_prefix(),
        }
    }

    /// The table name of a stream in this cache (by the backend's name rules).
    pub fn table_name(&self, stream: &str) -> Result<String> {
        match self {
            Self::DuckDb(c) => c.table_name(stream),
            Self::Postgres(c) => c.table_name(stream),
        }
    }

    /// Starts loading a sync (see the backends' `begin_load`).
    pub fn begin_load(
        &self,
        source_name: &str,
        catalog: &ConfiguredAirbyteCatalog,
        strategy: WriteStrategy,
        options: LoadOptions,
    ) -> Result<CacheWriter> {
        match self {
            Self::DuckDb(c) => c.begin_load(source_name, catalog, strategy, options),
            Self::Postgres(c) => c.begin_load(source_name, catalog, strategy, options),
        }
    }

    /// The state saved for `source_name` under this cache's table prefix.
    pub fn get_state_provider(&self, source_name: &str) -> Result<StateProvider> {
        match self {
            Self::DuckDb(c) => c.get_state_provider(source_name),
            Self::Postgres(c) => c.get_state_provider(source_name),
        }
    }

    /// The state messages to hand to the next read of `source_name`.
    pub fn state_messages(&self, source_name: &str) -> Result<Vec<AirbyteStateMessage>> {
        match self {
            Self::DuckDb(c) => c.state_messages(source_name),
            Self::Postgres(c) => c.state_messages(source_name),
        }
    }

    /// The dataset of a stream in this cache.
    pub fn dataset(&self, stream: &str) -> Result<CachedDataset> {
        match self {
            Self::DuckDb(c) => c.dataset(stream),
            Self::Postgres(c) => c.dataset(stream),
        }
    }

    /// Runs a query and returns all its rows as Arrow batches.
    pub fn query(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        match self {
            Self::DuckDb(c) => c.query(sql),
            Self::Postgres(c) => c.query(sql),
        }
    }

    /// Runs SQL statements for their effect.
    pub fn execute(&self, sql: &str) -> Result<()> {
        match self {
            Self::DuckDb(c) => c.execute(sql),
            Self::Postgres(c) => c.execute(sql),
        }
    }

    /// The streams in this cache, sorted by name.
    pub fn streams(&self) -> Result<Vec<String>> {
        match self {
            Self::DuckDb(c) => c.streams(),
            Self::Postgres(c) => c.streams(),
        }
    }

    /// Where this cache's tables are, as one string that tells two caches apart: the DuckDB
    /// file's absolute path or the server and database, then the schema. A destination's
    /// replay progress is only trusted for the place it was made on.
    pub fn place(&self) -> String {
        match self {
            Self::DuckDb(c) => {
                let path = std::path::absolute(c.db_path()).unwrap_or_else(|_| c.db_path().into());
                format!("{}:{}", path.display(), c.schema_name())
            }
            Self::Postgres(c) => format!(
                "postgresql://{}:{}/{}:{}",
                c.host(),
                c.port(),
                c.database(),
                c.schema_name()
            ),
        }
    }

    /// Writes the rows of a cached stream to `out` as RECORD lines (see
    /// [`crate::replay`]).
    pub fn replay_stream(
        &self,
        stream: &str,
        options: &ReplayOptions,
        out: &mut dyn Write,
    ) -> Result<ReplaySummary> {
        match self {
            Self::DuckDb(c) => c.replay_stream(stream, options, out),
            Self::Postgres(c) => c.replay_stream(stream, options, out),
        }
    }

    /// Saves a STATE message that `destination_name` echoed (`_airbyte_destination_state`).
    pub fn write_destination_state(
        &self,
        destination_name: &str,
        source_name: &str,
        state: &AirbyteStateMessage,
    ) -> Result<()> {
        match self {
            Self::DuckDb(c) => c.write_destination_state(destination_name, source_name, state),
            Self::Postgres(c) => c.write_destination_state(destination_name, source_name, state),
        }
    }

    /// The state `destination_name` confirmed for `source_name`.
    pub fn get_destination_state_provider(
        &self,
        destination_name: &str,
        source_name: &str,
    ) -> Result<StateProvider> {
        match self {
            Self::DuckDb(c) => c.get_destination_state_provider(destination_name, source_name),
            Self::Postgres(c) => c.get_destination_state_provider(destination_name, source_name),
        }
    }

    /// The replay progress of every stream of `source_name` written to `destination_name`.
    pub fn get_destination_progress(
        &self,
        destination_name: &str,
        source_name: &str,
    ) -> Result<BTreeMap<String, DestinationStreamProgress>> {
        match self {
            Self::DuckDb(c) => c.get_destination_progress(destination_name, source_name),
            Self::Postgres(c) => c.get_destination_progress(destination_name, source_name),
        }
    }

    /// Saves the progress of one stream written to `destination_name`.
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
        match self {
            Self::DuckDb(c) => {
                c.set_destination_progress_all(destination_name, source_name, streams)
            }
            Self::Postgres(c) => {
                c.set_destination_progress_all(destination_name, source_name, streams)
            }
        }
    }
}

/// `spec` with the password of a URL replaced by `****`.
fn redact(spec: &str) -> String {
    let Some(scheme_end) = spec.find("://") else {
        return spec.to_string();
    };
    let rest = &spec[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:****{}",
            &spec[..scheme_end + 3],
            &authority[..colon],
            &rest[at..]
        ),
        _ => spec.to_string(),
    }
}

/// `%XX` escapes decoded (user names and passwords may hold `@`, `:` or `/` that way).
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn parse_postgres_url(spec: &str, password: Option<Password>) -> Result<PostgresCache> {
    let bad = |reason: &str| CacheError::InvalidCacheUrl {
        spec: redact(spec),
        reason: reason.to_string(),
    };
    let rest = &spec[spec.find("://").map_or(0, |i| i + 3)..];
    let (before_query, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let (authority, database) = before_query
        .split_once('/')
        .ok_or_else(|| bad("the database is missing (…/DATABASE)"))?;
    let database = percent_decode(database).ok_or_else(|| bad("bad %-escape in the database"))?;
    if database.is_empty() {
        return Err(bad("the database is missing (…/DATABASE)"));
    }
    let (userinfo, hostport) = authority
        .rsplit_once('@')
        .ok_or_else(|| bad("the user is missing (USER@HOST)"))?;
    let (user, url_password) = match userinfo.split_once(':') {
        Some((u, p)) => (u, Some(p)),
        None => (userinfo, None),
    };
    let user = percent_decode(user).ok_or_else(|| bad("bad %-escape in the user"))?;
    if user.is_empty() {
        return Err(bad("the user is missing (USER@HOST)"));
    }
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || p.is_empty() => {
            let port = p
                .parse::<u16>()
                .map_err(|_| bad(&format!("the port {p:?} is not a number from 1 to 65535")))?;
            (h, port)
        }
        _ => (hostport, 5432),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad("the host is missing (USER@HOST)"));
    }
    let mut cache = PostgresCache::new(host, port, &database, &user);
    let password = match url_password {
        Some(p) => Some(Password::new(
            percent_decode(p).ok_or_else(|| bad("bad %-escape in the password"))?,
        )),
        None => password,
    };
    if let Some(p) = password {
        cache = cache.with_password(p);
    }
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value).ok_or_else(|| bad("bad %-escape in the query"))?;
        match key {
            "schema" | "schema_name" => {
                if value.is_empty() {
                    return Err(bad("schema= is empty"));
                }
                cache = cache.with_schema_name(value);
            }
            "table_prefix" => cache = cache.with_table_prefix(value),
            other => {
                return Err(bad(&format!(
                    "unknown parameter {other:?} (known: schema, table_prefix)"
                )));
            }
        }
    }
    Ok(cache)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls() {
        let c = Cache::from_spec(
            "postgresql://me:p%40ss@db.example:6543/analytics?schema=raw&table_prefix=x_",
            None,
        )
        .unwrap();
        let pg = c.as_postgres().unwrap();
        assert_eq!(
            (pg.host(), pg.port(), pg.database(), pg.username()),
            ("db.example", 6543, "analytics", "me")
        );
        assert_eq!(pg.password().map(Password::expose), Some("p@ss"));
        assert_eq!((pg.schema_name(), pg.table_prefix()), ("raw", "x_"));
        assert!(!format!("{c:?}").contains("p@ss"));
        assert!(!c.describe().contains("p@ss"));

        let c = Cache::from_spec("postgres://u@h/d", Some(Password::new("env"))).unwrap();
        let pg = c.as_postgres().unwrap();
        assert_eq!((pg.port(), pg.schema_name()), (5432, "airbyte_raw"));
        assert_eq!(pg.password().map(Password::expose), Some("env"));

        assert_eq!(Cache::from_spec("x.duckdb", None).unwrap().kind(), "duckdb");
    }

    #[test]
    fn bad_urls_say_what_is_wrong_without_the_password() {
        for (spec, needle) in [
            ("postgresql://u:secret@h:99999/d", "port"),
            ("postgresql://u:secret@h:5432", "database"),
            ("postgresql://h:5432/d", "user"),
            ("postgresql://u:secret@h/d?colour=red", "unknown parameter"),
            ("mysql://u:secret@h/d", "only postgresql"),
        ] {
            let e = Cache::from_spec(spec, None).unwrap_err().to_string();
            assert!(e.contains(needle), "{spec}: {e}");
            assert!(!e.contains("secret"), "{spec}: {e}");
        }
    }
}
