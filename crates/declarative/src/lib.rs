//! Airbyte declarative ("low-code") manifests, natively in Rust.
//!
//! This crate loads a manifest the way the Python CDK (airbyte-cdk 7.x) does — `$ref`s
//! resolved, default component types filled in, `$parameters` pushed down, deprecated fields
//! optionally migrated ([`Manifest`]) — evaluates its Jinja with the CDK's semantics
//! ([`interpolation`]), and runs it: [`DeclarativeSource`] answers `spec`, `check`, `discover`
//! and `read` with the protocol messages the CDK's `source-declarative-manifest` prints.
//!
//! The components are laid out by family, as the CDK's own packages are: [`auth`],
//! [`requesters`], [`paginators`], [`extractors`], [`decoders`], [`transformations`],
//! [`error_handlers`], [`incremental`], [`partition_routers`], [`schema`], [`retrievers`].

pub mod auth;
pub mod components;
pub mod declarative_stream;
pub mod decoders;
pub mod dynamic_streams;
pub mod engine_error;
pub mod error;
pub mod error_handlers;
pub mod extractors;
pub mod factory;
pub mod http;
pub mod incremental;
pub mod loader;
mod manifest;
pub mod paginators;
pub mod partition_routers;
pub mod protocol_command;
pub mod requesters;
pub mod retrievers;
pub mod schema;
pub mod slice;
pub mod source;
pub mod test_read;
pub mod transformations;
pub mod truthiness;
pub mod url_join;

pub use engine_error::EngineError;
pub use error::{DeclarativeError, ManifestPath};
pub use loader::LoadOptions;
pub use manifest::Manifest;
pub use source::DeclarativeSource;
pub mod interpolation;

pub use interpolation::{
    Context, InterpolatedBoolean, InterpolatedMapping, InterpolatedNestedMapping,
    InterpolatedString, InterpolationError, Interpolator, StreamSlice,
};
