//! PyAirbyte's exception fields and class names on [`Error`], so that code moving over can
//! match on the same kinds (`except AirbyteConnectorError` → `err.is_kind("AirbyteConnectorError")`)
//! and read the same fields (`message`, `guidance`, `help_url`, `log_file`, `context`).

use std::path::Path;

use abrs_connectors::{ConnectorError, Verb};
use serde_json::{Map, Value, json};

use crate::error::Error;

/// The variable that puts the whole connector log into error texts (PyAirbyte's; default on
/// when `CI` is set).
pub const PRINT_FULL_ERROR_LOGS_ENV: &str = "AIRBYTE_PRINT_FULL_ERROR_LOGS";

/// The parent of a PyAirbyte exception class (`None` for `PyAirbyteError`, the root).
pub fn parent_kind(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "PyAirbyteError" => return None,
        "PyAirbyteNoStreamsSelectedError" => "PyAirbyteInputError",
        "AirbyteConnectorConfigurationMissingError" => "PyAirbyteCacheError",
        "AirbyteSubprocessFailedError" => "AirbyteSubprocessError",
        "AirbyteConnectorNotRegisteredError" | "AirbyteConnectorNotPyPiPublishedError" => {
            "AirbyteConnectorRegistryError"
        }
        "AirbyteConnectorExecutableNotFoundError"
        | "AirbyteConnectorInstallationError"
        | "AirbyteConnectorReadError"
        | "AirbyteConnectorWriteError"
        | "AirbyteConnectorSpecFailedError"
        | "AirbyteConnectorDiscoverFailedError"
        | "AirbyteNoDataFromConnectorError"
        | "AirbyteConnectorMissingCatalogError"
        | "AirbyteConnectorMissingSpecError"
        | "AirbyteConnectorValidationFailedError"
        | "AirbyteConnectorCheckFailedError"
        | "AirbyteConnectorFailedError"
        | "AirbyteStreamNotFoundError"
        | "AirbyteStateNotFoundError" => "AirbyteConnectorError",
        _ => "PyAirbyteError",
    })
}

fn connector_kind(e: &ConnectorError) -> &'static str {
    match e {
        ConnectorError::ExecutableNotFound { .. }
        | ConnectorError::NotExecutable { .. }
        | ConnectorError::NotInstalled { .. } => "AirbyteConnectorExecutableNotFoundError",
        ConnectorError::InstallFailed { .. } | ConnectorError::VersionMismatch { .. } => {
            "AirbyteConnectorInstallationError"
        }
        ConnectorError::InvalidOptions { .. } => "PyAirbyteInputError",
        ConnectorError::TempFiles { .. } | ConnectorError::Spawn { .. } => "AirbyteSubprocessError",
        ConnectorError::Failed(f) => match f.verb {
            Verb::Spec => "AirbyteConnectorSpecFailedError",
            Verb::Discover => "AirbyteConnectorDiscoverFailedError",
            Verb::Read => "AirbyteConnectorReadError",
            Verb::Write => "AirbyteConnectorWriteError",
            Verb::Check => "AirbyteConnectorFailedError",
        },
        ConnectorError::MissingMessage { verb, .. } => match verb {
            Verb::Spec => "AirbyteConnectorMissingSpecError",
            Verb::Discover => "AirbyteConnectorMissingCatalogError",
            _ => "AirbyteNoDataFromConnectorError",
        },
        _ => "AirbyteConnectorFailedError",
    }
}

impl Error {
    /// The PyAirbyte exception class this error corresponds to, e.g.
    /// `AirbyteConnectorCheckFailedError`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Input { .. } | Self::ConfigParse { .. } => "PyAirbyteInputError",
            Self::ConnectorNotFound { .. } => "AirbyteConnectorNotRegisteredError",
            Self::ExecutableNotFound { .. } => "AirbyteConnectorExecutableNotFoundError",
            Self::Registry { .. } => "AirbyteConnectorRegistryError",
            Self::Installation { .. } => "AirbyteConnectorInstallationError",
            Self::Connector { source, .. } => connector_kind(source),
            Self::CheckFailed { .. } => "AirbyteConnectorCheckFailedError",
            Self::ValidationFailed { .. } => "AirbyteConnectorValidationFailedError",
            Self::StreamNotFound { .. } => "AirbyteStreamNotFoundError",
            Self::ConfigurationMissing { .. } => "AirbyteConnectorConfigurationMissingError",
            Self::NoStreamsSelected { .. } => "PyAirbyteNoStreamsSelectedError",
            Self::SecretNotFound { .. } => "PyAirbyteSecretNotFoundError",
            Self::SecretManager(_) => "PyAirbyteError",
            Self::WriteFailed { .. } => "AirbyteConnectorWriteError",
            Self::Cache { .. } => "PyAirbyteCacheError",
            _ => "PyAirbyteError",
        }
    }

    /// [`Error::kind`] and its ancestors up to `PyAirbyteError`, most specific first.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut out = vec![self.kind()];
        while let Some(p) = out.last().and_then(|k| parent_kind(k)) {
            out.push(p);
        }
        out
    }

    /// Whether the error is of PyAirbyte class `kind` or a subclass of it (what an `except`
    /// clause of that class catches).
    pub fn is_kind(&self, kind: &str) -> bool {
        self.kinds().contains(&kind)
    }

    /// The connector the error is about, when there is one.
    pub fn connector_name(&self) -> Option<&str> {
        match self {
            Self::ConnectorNotFound { name, .. }
            | Self::ExecutableNotFound { name, .. }
            | Self::Installation { name, .. }
            | Self::Connector { name, .. }
            | Self::CheckFailed { name, .. }
            | Self::ValidationFailed { name, .. }
            | Self::StreamNotFound { name, .. }
            | Self::ConfigurationMissing { name, .. }
            | Self::NoStreamsSelected { name, .. }
            | Self::Interrupted { name } => Some(name),
            Self::WriteFailed { destination, .. } => Some(destination),
            _ => None,
        }
    }

    /// The connector's log file, when the error comes from a run that wrote one.
    pub fn log_file(&self) -> Option<&Path> {
        match self {
            Self::Connector { source, .. } => source.log_file(),
            Self::Installation { source, .. } => source.log_file(),
            Self::WriteFailed {
                source: Some(inner),
                ..
            } => inner.log_file(),
            _ => None,
        }
    }

    /// What to do about it, where the error has a separate piece of guidance.
    pub fn guidance(&self) -> Option<&str> {
        match self {
            Self::Input { guidance, .. }
            | Self::Registry { guidance, .. }
            | Self::ConfigParse { guidance, .. } => Some(guidance),
            _ => None,
        }
    }

    /// A page that helps, when one is known: the connector's documentation for connector
    /// errors (from the registry), else none.
    pub fn help_url(&self) -> Option<String> {
        let name = self.connector_name()?;
        if !self.is_kind("AirbyteConnectorError") {
            return None;
        }
        let registry = crate::registry::get_registry().ok().flatten()?;
        registry.connectors.get(name)?.documentation_url.clone()
    }

    /// PyAirbyte's `context`: the error's facts as JSON (connector, stream names, paths, …),
    /// never a secret value.
    pub fn context(&self) -> Map<String, Value> {
        let mut out = Map::new();
        if let Some(name) = self.connector_name() {
            out.insert("connector_name".into(), json!(name));
        }
        match self {
            Self::StreamNotFound {
                stream, available, ..
            } => {
                out.insert("stream_name".into(), json!(stream));
                out.insert("available_streams".into(), json!(available));
            }
            Self::NoStreamsSelected { available, .. } => {
                out.insert("available_streams".into(), json!(available));
            }
            Self::ValidationFailed { violations, .. } => {
                let v: Vec<Value> = violations
                    .iter()
                    .map(|v| json!({"path": v.path, "message": v.message}))
                    .collect();
                out.insert("violations".into(), Value::Array(v));
            }
            Self::SecretNotFound { secret, looked_in } => {
                out.insert("secret_name".into(), json!(secret));
                out.insert("sources".into(), json!(looked_in));
            }
            Self::ExecutableNotFound { path, .. } => {
                out.insert("path".into(), json!(path.display().to_string()));
            }
            Self::ConfigParse { origin, .. } => {
                out.insert("origin".into(), json!(origin));
            }
            Self::Connector { source, .. } => {
                if let Some(f) = source.failure() {
                    out.insert("verb".into(), json!(f.verb.as_str()));
                    if let Some(ft) = &f.failure_type {
                        out.insert("failure_type".into(), json!(ft.to_string()));
                    }
                    if let Some(exit) = &f.exit {
                        out.insert("exit".into(), json!(exit.to_string()));
                    }
                }
            }
            _ => {}
        }
        if let Some(log) = self.log_file() {
            out.insert("log_file".into(), json!(log.display().to_string()));
        }
        out
    }

    /// The message with its class name, as PyAirbyte's `str(exc)` reads: "Message
    /// (ClassName)", then the whole connector log when `AIRBYTE_PRINT_FULL_ERROR_LOGS` is on
    /// (default: on when `CI` is set).
    pub fn report(&self) -> String {
        let mut out = format!("{self} ({})", self.kind());
        if print_full_logs()
            && let Some(path) = self.log_file()
            && let Ok(text) = std::fs::read_to_string(path)
        {
            out.push_str(&format!("\nFull log of {}:\n{text}", path.display()));
        }
        out
    }
}

/// Whether error texts include the whole connector log.
pub fn print_full_logs() -> bool {
    crate::registry::env_bool(PRINT_FULL_ERROR_LOGS_ENV)
        .unwrap_or_else(|| std::env::var_os("CI").is_some_and(|v| !v.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_pyairbyte_hierarchy() {
        let e = Error::CheckFailed {
            name: "source-x".into(),
            message: "bad key".into(),
        };
        assert_eq!(
            e.kinds(),
            [
                "AirbyteConnectorCheckFailedError",
                "AirbyteConnectorError",
                "PyAirbyteError"
            ]
        );
        assert!(e.is_kind("AirbyteConnectorError"));
        assert!(!e.is_kind("PyAirbyteInputError"));
        assert_eq!(e.context()["connector_name"], "source-x");

        let e = Error::ConnectorNotFound {
            name: "source-y".into(),
            looked_in: "nowhere".into(),
        };
        assert_eq!(
            e.kinds(),
            [
                "AirbyteConnectorNotRegisteredError",
                "AirbyteConnectorRegistryError",
                "PyAirbyteError"
            ]
        );
        let e = Error::NoStreamsSelected {
            name: "s".into(),
            available: vec!["a".into()],
        };
        assert!(e.is_kind("PyAirbyteInputError"));
        assert_eq!(e.context()["available_streams"], json!(["a"]));
        assert!(e.report().ends_with("(PyAirbyteNoStreamsSelectedError)"));
    }
}
