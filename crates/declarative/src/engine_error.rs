//! Typed errors of running a manifest: building its components, evaluating them, and the HTTP
//! requests they make. Every variant says where (the manifest path, or the request with its
//! secrets masked) and what to do.

use crate::error::{DeclarativeError, ManifestPath};
use crate::interpolation::InterpolationError;

/// Why a manifest could not be run.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The manifest could not be loaded (`$ref`, YAML, shape).
    #[error(transparent)]
    Load(#[from] DeclarativeError),
    /// A component is wrong where the engine needs it (a missing or mistyped field).
    #[error("{at}: {message}")]
    Manifest {
        /// Where in the manifest.
        at: ManifestPath,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A component type the native engine does not implement.
    #[error(
        "{at}: the native engine does not support component type {type_name}; run this manifest with the Python CDK instead (`--use-python`)"
    )]
    UnsupportedComponent {
        /// Where in the manifest.
        at: ManifestPath,
        /// The `type` written there.
        type_name: String,
    },
    /// A Jinja template failed to evaluate.
    #[error("{at}: {source}")]
    Interpolation {
        /// Where the template is written.
        at: ManifestPath,
        /// Why it failed.
        source: InterpolationError,
    },
    /// A request could not be sent or its response not read (connection refused, timeout).
    #[error("{method} {url} failed: {message}")]
    Request {
        /// The HTTP method.
        method: String,
        /// The URL, secrets masked.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The API answered with an error the manifest's error handler says to fail on.
    #[error("{method} {url} returned HTTP {status}: {message}")]
    HttpStatus {
        /// The HTTP method.
        method: String,
        /// The URL, secrets masked.
        url: String,
        /// The status code.
        status: u16,
        /// The error handler's message, or the start of the body.
        message: String,
    },
    /// A response could not be decoded.
    #[error("{url}: {message}")]
    Decode {
        /// The URL, secrets masked.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The config, catalog or state given to the engine is wrong.
    #[error("{0}")]
    Input(String),
    /// A request failed in a way the error handler blames on the user's config
    /// (`failure_type: config_error`: bad credentials, missing permissions). An async job's
    /// creation is not retried after it.
    #[error(transparent)]
    ConfigError(Box<EngineError>),
    /// Writing the protocol output failed (the reader is gone).
    #[error("writing the output failed: {0}")]
    Output(#[from] std::io::Error),
}

impl EngineError {
    /// Whether the error is the user's config's ([`EngineError::ConfigError`]).
    pub fn is_config_error(&self) -> bool {
        matches!(self, Self::ConfigError(_))
    }

    /// A [`EngineError::Manifest`] at `at`.
    pub fn manifest(at: &ManifestPath, message: impl Into<String>) -> Self {
        Self::Manifest {
            at: at.clone(),
            message: message.into(),
        }
    }

    /// An [`EngineError::Interpolation`] at `at`.
    pub fn interpolation(at: &ManifestPath, source: InterpolationError) -> Self {
        Self::Interpolation {
            at: at.clone(),
            source,
        }
    }
}

/// Results of the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
