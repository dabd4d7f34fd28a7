//! Shared helpers for the connector tests.
#![allow(dead_code)]

use std::path::PathBuf;

use abrs_connectors::{Executor, PathExecutor};
use abrs_protocol::{
    AirbyteCatalog, ConfiguredAirbyteCatalog, ConfiguredAirbyteStream, DestinationSyncMode,
    SyncMode,
};

/// `tests/fixtures` at the repository root.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// The main fixture source.
pub fn fixture() -> PathExecutor {
    let path = fixtures().join("source-fixture");
    PathExecutor::new("source-fixture", path.to_str().unwrap()).unwrap()
}

/// Configures every stream of `catalog` (or only `only`), incremental where supported.
pub fn configure(catalog: &AirbyteCatalog, only: Option<&[&str]>) -> ConfiguredAirbyteCatalog {
    let streams = catalog
        .streams
        .iter()
        .filter(|s| only.is_none_or(|o| o.contains(&s.name.as_str())))
        .map(|s| ConfiguredAirbyteStream {
            stream: s.clone(),
            sync_mode: if s.supported_sync_modes.contains(&SyncMode::Incremental) {
                SyncMode::Incremental
            } else {
                SyncMode::FullRefresh
            },
            cursor_field: s.default_cursor_field.clone(),
            destination_sync_mode: DestinationSyncMode::Append,
            primary_key: s.source_defined_primary_key.clone(),
            generation_id: Some(1),
            minimum_generation_id: Some(1),
            sync_id: Some(1),
            extra: Default::default(),
        })
        .collect();
    ConfiguredAirbyteCatalog {
        streams,
        extra: Default::default(),
    }
}

/// The fixture's configured catalog for `config`.
pub fn fixture_catalog(
    exec: &dyn Executor,
    config: &serde_json::Value,
    only: Option<&[&str]>,
) -> ConfiguredAirbyteCatalog {
    configure(&abrs_connectors::discover(exec, config).unwrap(), only)
}

/// Whether a process with this pid exists (a zombie counts as existing).
pub fn pid_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Whether a process with this pid is running (exists and is not a zombie waiting for its
/// parent, e.g. an orphan in a container whose init does not reap).
pub fn pid_running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}
