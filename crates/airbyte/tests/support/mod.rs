//! Shared parts of the integration tests.

pub mod items_api;
