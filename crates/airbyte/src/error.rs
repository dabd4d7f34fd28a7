//! The library's errors: one enum, each variant named after PyAirbyte's exception where one
//! exists, each message one paragraph saying what failed, why, and what to do.

use std::path::PathBuf;

pub use abrs_connectors::ConnectorError;

/// A `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One way a config does not match the connector's spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where in the config, as a JSON pointer (`/credentials/api_key`; empty for the root).
    pub path: String,
    /// What is wrong there. Values of secret fields are masked.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = if self.path.is_empty() {
            "(config root)"
        } else {
            &self.path
        };
        write!(f, "{path}: {}", self.message)
    }
}

fn join_violations(violations: &[Violation]) -> String {
    violations.iter().map(|v| format!("\n  - {v}")).collect()
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Capitalizes the first letter and ends with a period, so that guidance reads as a sentence.
fn sentence(text: String) -> String {
    let mut chars = text.chars();
    let mut out = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
        None => return text,
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// Everything that can go wrong in the library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Arguments that do not make sense together, or an invalid value
    /// (PyAirbyte's `PyAirbyteInputError`).
    #[error("Invalid input: {message}. {guidance}")]
    Input {
        /// What is wrong.
        message: String,
        /// What to do instead.
        guidance: String,
    },

    /// No connector of that name could be found anywhere we looked
    /// (`AirbyteConnectorNotRegisteredError`).
    #[error(
        "Connector `{name}` was not found: {looked_in}. Check the name (e.g. `source-faker`), give \
         a path to a local executable, or choose how to run it: a pip URL, a Docker image, or \
         `use_python`."
    )]
    ConnectorNotFound {
        /// The connector's name.
        name: String,
        /// Where it was looked for.
        looked_in: String,
    },

    /// A local executable given by path or name does not exist
    /// (`AirbyteConnectorExecutableNotFoundError`).
    #[error(
        "The executable of connector `{name}` was not found at {}: no such file. Check the path, \
         or install the connector so that it is on PATH.",
        path.display()
    )]
    ExecutableNotFound {
        /// The connector's name.
        name: String,
        /// The path looked at.
        path: PathBuf,
    },

    /// The connector registry could not be used (`AirbyteConnectorRegistryError`).
    #[error("The connector registry could not be used: {detail}. {guidance}")]
    Registry {
        /// What failed.
        detail: String,
        /// What to do.
        guidance: String,
    },

    /// Installing the connector failed (`AirbyteConnectorInstallationError`).
    #[error("{source} ({hint})")]
    Installation {
        /// The connector's name.
        name: String,
        /// What the installer reported.
        #[source]
        source: Box<ConnectorError>,
        /// How the connector was being installed, and the other ways to run it.
        hint: String,
    },

    /// The connector ran and failed (`AirbyteConnectorFailedError` and relatives); the message
    /// carries the connector's own words and the end of its log.
    #[error("{source}")]
    Connector {
        /// The connector's name.
        name: String,
        /// What the connector layer reported.
        #[source]
        source: Box<ConnectorError>,
    },

    /// `check` answered FAILED (`AirbyteConnectorCheckFailedError`).
    #[error(
        "Connection check of `{name}` failed: {}. The connector could not use this config; fix \
         the values it complains about (credentials, hosts, options) and run check again.",
        message.trim_end_matches(['.', ' '])
    )]
    CheckFailed {
        /// The connector's name.
        name: String,
        /// The connector's explanation.
        message: String,
    },

    /// The config does not match the connector's spec (`AirbyteConnectorValidationFailedError`).
    #[error(
        "The config for `{name}` is invalid: {} problem(s) against the connector's spec:{}\nFix \
         these fields (see the spec with `abrs spec {name}` or `Source::print_config_spec`).",
        violations.len(),
        join_violations(violations)
    )]
    ValidationFailed {
        /// The connector's name.
        name: String,
        /// Every violation, with its JSON path.
        violations: Vec<Violation>,
    },

    /// A stream name the connector does not offer (`AirbyteStreamNotFoundError`).
    #[error(
        "Stream `{stream}` was not found in connector `{name}`. Available streams: {}. Use one of \
         these names (they are case-sensitive).",
        list(available)
    )]
    StreamNotFound {
        /// The connector's name.
        name: String,
        /// The stream asked for.
        stream: String,
        /// The streams the connector offers.
        available: Vec<String>,
    },

    /// The operation needs a config and none was set
    /// (`AirbyteConnectorConfigurationMissingError`).
    #[error(
        "Connector `{name}` has no config: `{operation}` needs one. Pass a config to \
         `get_source` or call `set_config` first (CLI: `--config`)."
    )]
    ConfigurationMissing {
        /// The connector's name.
        name: String,
        /// What needed the config.
        operation: String,
    },

    /// Reading with no stream selected (`PyAirbyteNoStreamsSelectedError`).
    #[error(
        "No streams are selected for `{name}`, so there is nothing to read. Select streams with \
         `select_streams([...])` or `select_all_streams()`. Available streams: {}.",
        list(available)
    )]
    NoStreamsSelected {
        /// The connector's name.
        name: String,
        /// The streams the connector offers.
        available: Vec<String>,
    },

    /// A `secret_reference::NAME` (or `get_secret`) that no secret source has
    /// (`PyAirbyteSecretNotFoundError`).
    #[error(
        "Secret `{secret}` was not found: looked in {looked_in}. Set the environment variable \
         `{secret}` or add `{secret}=...` to the .env file in the current directory (an empty \
         value counts as missing), or register a secret manager that has it \
         (`airbyte::secrets::register_secret_manager`)."
    )]
    SecretNotFound {
        /// The secret's name.
        secret: String,
        /// The places searched, in order.
        looked_in: String,
    },

    /// A secret manager (Google Secret Manager) failed: credentials, the token exchange or the
    /// API (`PyAirbyteSecretNotFoundError`'s sibling in PyAirbyte: a Google API error).
    #[error("{0}")]
    SecretManager(#[from] crate::secrets::GsmError),

    /// Writing to a destination failed (`AirbyteConnectorWriteError`). What the destination
    /// confirmed before the failure stays stored, so the next write resumes from there.
    #[error("Writing to `{destination}` failed: {reason} {kept}")]
    WriteFailed {
        /// The destination's name.
        destination: String,
        /// What went wrong, in the words of whichever side failed.
        reason: String,
        /// What was kept (confirmed states), and what the next write does.
        kept: String,
        /// The underlying error (the source's or the destination's), when there is one.
        #[source]
        source: Option<Box<Error>>,
    },

    /// A config (file or inline text) could not be read or parsed.
    #[error("Could not read the config from {origin}: {detail}. {guidance}")]
    ConfigParse {
        /// Where the config came from (a path, or "the inline text").
        origin: String,
        /// What went wrong.
        detail: String,
        /// What to do.
        guidance: String,
    },

    /// The cache failed: opening the database, creating tables, loading, committing or querying.
    /// Data committed before the failure stays in the cache.
    #[error("{source}")]
    Cache {
        /// The cache's error, which says what failed and what to do.
        #[from]
        source: abrs_caches::CacheError,
    },

    /// The caller stopped a read ([`crate::ReadOptions::cancel`], Ctrl-C in Python). Data
    /// and state committed before stay in the cache; the next read resumes from there.
    #[error(
        "The read of `{name}` was interrupted. What was committed before stays in the cache; \
         the next read resumes from its state."
    )]
    Interrupted {
        /// The source's name.
        name: String,
    },

    /// Writing a file (e.g. a printed spec) failed.
    #[error("Could not write {}: {source}. Check that the directory exists and is writable.", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// An [`Error::Input`].
    pub fn input(message: impl Into<String>, guidance: impl Into<String>) -> Self {
        Self::Input {
            message: message.into(),
            guidance: sentence(guidance.into()),
        }
    }

    /// Whether the error is about how the library (or CLI) was called rather than about a
    /// connector or data: wrong options, unknown connector or stream, missing config. The CLI
    /// exits with 2
    /// for these, 1 for the others.
    pub fn is_usage_error(&self) -> bool {
        matches!(
            self,
            Self::Input { .. }
                | Self::StreamNotFound { .. }
                | Self::ConfigurationMissing { .. }
                | Self::NoStreamsSelected { .. }
                | Self::ConfigParse { .. }
                | Self::ExecutableNotFound { .. }
                | Self::ConnectorNotFound { .. }
        ) || matches!(
            self,
            Self::Connector { source, .. } if matches!(**source, ConnectorError::InvalidOptions { .. })
        )
    }

    /// Wraps a connector-layer error: install failures become [`Error::Installation`], the
    /// rest [`Error::Connector`].
    pub fn from_connector(name: &str, source: ConnectorError) -> Self {
        match source {
            ConnectorError::InstallFailed { .. } | ConnectorError::VersionMismatch { .. } => {
                let installing = match &source {
                    ConnectorError::InstallFailed { connector, .. }
                    | ConnectorError::VersionMismatch { connector, .. } => connector.as_str(),
                    _ => name,
                };
                let hint = if installing == abrs_connectors::CDK_MANIFEST_RUNNER {
                    format!(
                        "`{name}` is a declarative manifest, run by airbyte-cdk's \
                         `source-declarative-manifest`, which is installed from PyPI into \
                         `.venv-source-declarative-manifest`"
                    )
                } else {
                    format!(
                        "A connector name that is not on PATH and not in a registry file is \
                         installed as the PyPI package `airbyte-{name}`; to run `{name}` another \
                         way give a pip URL, a Docker image, or the path of a local executable."
                    )
                };
                Self::Installation {
                    name: name.to_string(),
                    source: Box::new(source),
                    hint,
                }
            }
            other => Self::Connector {
                name: name.to_string(),
                source: Box::new(other),
            },
        }
    }
}
