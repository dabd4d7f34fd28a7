//! airbyte-rs: run Airbyte connectors outside the Airbyte platform (PyAirbyte in Rust).
//!
//! ```no_run
//! use airbyte as ab;
//!
//! let mut source = ab::get_source(
//!     "source-faker",
//!     Some(serde_json::json!({"count": 100})),
//!     ab::SourceOptions::default(),
//! )?;
//! source.check()?;
//! println!("streams: {:?}", source.get_available_streams()?);
//! source.select_streams(["users", "products"])?;
//! for record in source.get_records("users", Some(10))? {
//!     let record = record?;
//!     println!("{:?}", record.get("name"));
//! }
//! # Ok::<(), ab::Error>(())
//! ```
//!
//! Configs may refer to secrets as `secret_reference::NAME` (resolved by the registered secret
//! managers: custom ones, the environment, `./.env`, Google Secret Manager, a prompt), see
//! [`secrets`]. Errors are [`Error`], whose messages say what failed, why,
//! and what to do.

pub mod config;
mod connector;
mod dataset;
pub mod destination;
pub mod documents;
mod error;
mod error_kind;
mod executor_choice;
mod global_log_layer;
mod http_error;
pub mod logs;
pub mod native_manifest;
mod read;
pub mod registry;
pub mod secrets;
pub mod smoke_test;
mod source;

pub use abrs_caches::records::{RecordOptions, StreamRecord, StreamRecordHandler};
pub use dataset::LazyDataset;
pub use destination::{
    CacheChoice, Destination, DestinationOptions, StreamWriteSummary, WriteOptions, WriteProgress,
    WriteProgressCallback, WriteResult, WriteSource, get_destination, get_noop_destination,
};
pub use documents::{Document, DocumentRenderer};
pub use error::{ConnectorError, Error, Result, Violation};
pub use error_kind::{PRINT_FULL_ERROR_LOGS_ENV, parent_kind, print_full_logs};
pub use executor_choice::{ExecutorPlan, UsePython, choose_executor};
pub use read::{
    ConnectorStartedCallback, ProgressCallback, ReadOptions, ReadProgress, ReadResult,
    StreamReadSummary, hydrate_cache,
};
pub use registry::{
    ConnectorMetadata, InstallType, RegistryOrigin, get_available_connectors,
    get_connector_metadata,
};
pub use secrets::{GetSecretOptions, SecretSourceEnum, SecretString, get_secret, get_secret_with};
pub use source::{
    ConfigCallback, GetRecordsOptions, KeyFields, MANIFEST_REGISTRY_URL, Source, SourceManifest,
    SourceOptions, SpecFormat, StreamSelection, get_source, registry_manifest_url,
};

/// The native declarative-manifest engine.
pub use abrs_declarative as declarative;
/// The Airbyte protocol types (messages, catalogs, specs), re-exported.
pub use abrs_protocol as protocol;

/// Connector execution (executors, invocations, processes), re-exported for advanced use.
pub use abrs_connectors as connectors;

/// Arrow (the version DuckDB uses), for query results and datasets.
pub use abrs_caches::arrow;

pub use abrs_caches::{
    Cache, CacheError, CachedDataset, DuckDbCache, LoadOptions, LoadSummary, LoadTimings, Password,
    PostgresCache, WriteMethod, WriteStrategy, default_cache, new_local_cache,
};
