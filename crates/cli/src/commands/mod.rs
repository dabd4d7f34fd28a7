//! One module per subcommand: its clap `Args` and its `run`.

pub mod benchmark;
pub mod benchmark_source;
pub mod check;
pub mod connector_info;
pub mod connectors;
pub mod destination_smoke_test;
pub mod discover;
pub mod documents;
pub mod install;
pub mod manifest;
pub mod noop_destination;
pub mod query;
pub mod read;
pub mod records;
pub mod source_declarative_manifest;
pub mod spec;
pub mod sync;
pub mod validate;
