//! SQL caches for Airbyte data: the DuckDB and PostgreSQL caches, one streaming loader, type
//! mapping, name normalization, write strategies, the state store and datasets.
//!
//! Layout: the backend-neutral parts ([`names`], [`types`], [`records`], [`state`],
//! [`loader`] with write-strategy resolution and `_airbyte_meta`, [`dataset`]) sit at the top;
//! each backend is a module of its own ([`duckdb`], [`postgres`]); [`Cache`] is any of them.
//!
//! The on-disk layout is PyAirbyte 0.71's, so a cache written here opens in PyAirbyte and vice
//! versa; PyAirbyte's bugs (see `pyairbyte.md` §6) are fixed.
//!
//! ```no_run
//! use abrs_caches::{DuckDbCache, LoadOptions, WriteStrategy};
//! # fn run(catalog: abrs_protocol::ConfiguredAirbyteCatalog, lines: Vec<Vec<u8>>) -> abrs_caches::Result<()> {
//! let cache = DuckDbCache::new("/tmp/cache.duckdb");
//! let mut writer = cache.begin_load("source-x", &catalog, WriteStrategy::Auto, LoadOptions::default())?;
//! // The decoder finds the members of each record's `data` as it validates the line, which
//! // spares the loader a second pass; the buffer is reused from line to line.
//! let mut members = Vec::new();
//! for line in &lines {
//!     match abrs_protocol::decode_line_with(line, &mut members) {
//!         Ok(abrs_protocol::Decoded::Record(r)) => writer.record(&r)?,
//!         Ok(abrs_protocol::Decoded::Message(m)) => {
//!             if let Some(state) = &m.state {
//!                 writer.state(state)?;
//!             }
//!         }
//!         _ => {}
//!     }
//! }
//! let summary = writer.finish()?;
//! println!("{} records", summary.total_records());
//! # Ok(()) }
//! ```

mod cache;
mod columns;
pub mod dataset;
pub mod destination_state;
pub mod documents;
pub mod duckdb;
pub mod error;
pub mod loader;
pub mod names;
pub mod postgres;
mod record_json;
pub mod records;
pub mod replay;
pub mod state;
pub mod timing;
pub use timing::LoadTimings;
pub mod types;
mod worker;

pub use self::duckdb::{
    DEFAULT_MEMORY_LIMIT, DuckDbCache, cache_root, default_cache, new_local_cache,
};
pub use self::postgres::{DEFAULT_POSTGRES_SCHEMA, Password, PostgresCache};
pub use cache::Cache;
pub use dataset::{CachedDataset, Row, RowIter};
pub use destination_state::{
    DESTINATION_STATE_TABLE, DESTINATION_STREAMS_TABLE, DestinationStreamProgress,
};
pub use error::{CacheError, Result};
pub use loader::{
    CacheWriter, LoadOptions, LoadSummary, StreamLoadSummary, WriteMethod, WriteStrategy,
    resolve_write_method,
};
pub use replay::{ReplayOptions, ReplaySummary};
pub use state::StateProvider;
pub use state::{STATE_TABLE, STREAMS_TABLE};
pub use types::SqlType;

/// Arrow, as used by this crate's APIs (the same version DuckDB was built against).
pub use arrow;
