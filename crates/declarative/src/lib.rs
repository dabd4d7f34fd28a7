//! Airbyte declarative ("low-code") manifests, natively in Rust.
//!
//! This crate loads a manifest the way the Python CDK (airbyte-cdk 7.x) does — `$ref`s
//! resolved, default component types filled in, `$parameters` pushed down, deprecated fields
//! optionally migrated ([`Manifest`]) — and evaluates its Jinja with the CDK's semantics
//! ([`interpolation`]). The components that run requests come on top of these.

pub mod error;
pub mod loader;
mod manifest;
pub mod url_join;

pub use error::{DeclarativeError, ManifestPath};
pub use loader::LoadOptions;
pub use manifest::Manifest;
pub mod interpolation;

pub use interpolation::{
    Context, InterpolatedBoolean, InterpolatedMapping, InterpolatedNestedMapping,
    InterpolatedString, InterpolationError, Interpolator, StreamSlice,
};
