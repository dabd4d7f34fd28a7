//! The DuckDB cache: a database file (or `:memory:`), a schema in it, a table prefix.
//!
//! Everything DuckDB-specific lives here: opening files (one instance per file per process),
//! the internal tables' DDL, the load backend (`load.rs`: Arrow batches inserted through our
//! table function `abrs_batch_scan`, merges, replace swaps), text storage choices, state rows,
//! datasets' queries, destination tables and replays.

mod batch_scan;
mod cache;
mod dataset;
mod destination_state;
mod load;
mod replay;
mod state;
mod text_storage;
mod types;

pub(crate) use cache::Instance;
pub use cache::{DEFAULT_MEMORY_LIMIT, DuckDbCache, cache_root, default_cache, new_local_cache};
pub(crate) use dataset::{check_query, count, for_each_batch};
