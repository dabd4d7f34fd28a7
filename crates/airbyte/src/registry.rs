//! Connector metadata from a registry file (PyAirbyte's `airbyte/registry.py`).
//!
//! PyAirbyte downloads `oss_registry.json` from connectors.airbyte.com. airbyte-rs reads a
//! registry only from a local file, named by `AIRBYTE_LOCAL_REGISTRY` (same shape:
//! `{"sources": [...], "destinations": [...]}`); remote registries (http/https) are not supported
//! yet and give a clear error. With no registry, or with `AIRBYTE_OFFLINE_MODE` set (or
//! `AIRBYTE_LOCAL_REGISTRY=0/false`), there is no metadata and [`crate::get_source`] falls back to
//! the PyPI package `airbyte-<name>`.
//!
//! ```no_run
//! // AIRBYTE_LOCAL_REGISTRY=/path/to/oss_registry.json
//! let meta = airbyte::registry::get_connector_metadata("source-faker").unwrap();
//! if let Some(meta) = meta {
//!     println!("{} installs as {:?}", meta.name, meta.default_install_type());
//! }
//! ```

use std::path::PathBuf;

use serde_json::Value;

use crate::error::{Error, Result};

/// The variable naming the registry file.
pub const LOCAL_REGISTRY_ENV: &str = "AIRBYTE_LOCAL_REGISTRY";
/// The variable that turns the registry (and every network use) off.
pub const OFFLINE_MODE_ENV: &str = "AIRBYTE_OFFLINE_MODE";

/// How a connector can be installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstallType {
    /// A declarative YAML manifest (manifest-only connector).
    Yaml,
    /// A Python package on PyPI.
    Python,
    /// A Docker image (always possible).
    Docker,
    /// A Java connector (Docker only).
    Java,
}

/// What the registry says about one connector.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorMetadata {
    /// The name (`dockerRepository` without `airbyte/`).
    pub name: String,
    /// The Docker repository, e.g. `airbyte/source-faker`.
    pub docker_repository: String,
    /// The latest version (`dockerImageTag`).
    pub latest_available_version: Option<String>,
    /// The PyPI package, when the registry says it is published there.
    pub pypi_package_name: Option<String>,
    /// `python`, `java`, `manifest-only`, … (from `language` or a `language:` tag).
    pub language: Option<String>,
    /// The ways it can be installed.
    pub install_types: Vec<InstallType>,
}

impl ConnectorMetadata {
    /// PyAirbyte's preference: YAML, then Python, then Docker.
    pub fn default_install_type(&self) -> InstallType {
        if self.install_types.contains(&InstallType::Yaml) {
            InstallType::Yaml
        } else if self.install_types.contains(&InstallType::Python) {
            InstallType::Python
        } else {
            InstallType::Docker
        }
    }

    fn from_entry(entry: &Value) -> Option<Self> {
        let docker_repository = entry.get("dockerRepository")?.as_str()?.to_string();
        let name = docker_repository
            .strip_prefix("airbyte/")
            .unwrap_or(&docker_repository);
        let language = entry
            .get("language")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                entry
                    .get("tags")?
                    .as_array()?
                    .iter()
                    .find_map(|t| t.as_str()?.strip_prefix("language:").map(str::to_string))
            });
        let pypi = entry.get("remoteRegistries").and_then(|r| r.get("pypi"));
        let pypi_enabled =
            pypi.and_then(|p| p.get("enabled")).and_then(Value::as_bool) == Some(true);
        let pypi_package_name = pypi
            .and_then(|p| p.get("packageName"))
            .and_then(Value::as_str)
            .filter(|_| pypi_enabled)
            .map(str::to_string);
        let mut install_types = vec![InstallType::Docker];
        if pypi_enabled {
            install_types.push(InstallType::Python);
        }
        match language.as_deref() {
            Some("manifest-only") => install_types.push(InstallType::Yaml),
            Some("java") => install_types.push(InstallType::Java),
            _ => {}
        }
        Some(Self {
            name: name.to_string(),
            latest_available_version: entry
                .get("dockerImageTag")
                .and_then(Value::as_str)
                .map(str::to_string),
            docker_repository,
            pypi_package_name,
            language,
            install_types,
        })
    }
}

/// Parses PyAirbyte's boolean environment values: `1,true,t,yes,y,on` / `0,false,f,no,n,off`
/// (case-insensitive); anything else is `None`.
pub(crate) fn env_bool(name: &str) -> Option<bool> {
    let v = std::env::var(name).ok()?;
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "t" | "yes" | "y" | "on" => Some(true),
        "0" | "false" | "f" | "no" | "n" | "off" => Some(false),
        _ => None,
    }
}

/// The registry file to read, if any.
fn registry_location() -> Result<Option<PathBuf>> {
    if env_bool(OFFLINE_MODE_ENV) == Some(true) {
        return Ok(None);
    }
    let Some(raw) = std::env::var(LOCAL_REGISTRY_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
    else {
        return Ok(None);
    };
    if matches!(
        raw.trim().to_ascii_lowercase().as_str(),
        "0" | "f" | "false"
    ) {
        return Ok(None);
    }
    let lower = raw.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Err(Error::Registry {
            detail: format!(
                "{LOCAL_REGISTRY_ENV} is a URL ({raw}), and remote registries are not supported yet"
            ),
            guidance: format!(
                "Download the registry JSON and set {LOCAL_REGISTRY_ENV} to the file's path, or \
                 unset it (or set {OFFLINE_MODE_ENV}=1) to run without a registry."
            ),
        });
    }
    Ok(Some(PathBuf::from(raw)))
}

fn load_registry() -> Result<Option<Vec<ConnectorMetadata>>> {
    let Some(path) = registry_location()? else {
        return Ok(None);
    };
    let guidance = format!(
        "Point {LOCAL_REGISTRY_ENV} at a readable oss_registry.json-shaped file, or unset it."
    );
    let text = std::fs::read_to_string(&path).map_err(|e| Error::Registry {
        detail: format!("reading {} failed ({e})", path.display()),
        guidance: guidance.clone(),
    })?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| Error::Registry {
        detail: format!("{} is not valid JSON ({e})", path.display()),
        guidance: guidance.clone(),
    })?;
    let mut out = Vec::new();
    for key in ["sources", "destinations"] {
        if let Some(entries) = doc.get(key).and_then(Value::as_array) {
            out.extend(entries.iter().filter_map(ConnectorMetadata::from_entry));
        }
    }
    Ok(Some(out))
}

/// The registry's entry for `name`. `Ok(None)` when no registry is configured (or offline
/// mode is on); [`Error::ConnectorNotFound`] when a registry is configured and lacks the name.
pub fn get_connector_metadata(name: &str) -> Result<Option<ConnectorMetadata>> {
    let Some(all) = load_registry()? else {
        return Ok(None);
    };
    match all.into_iter().find(|m| m.name == name) {
        Some(m) => Ok(Some(m)),
        None => Err(Error::ConnectorNotFound {
            name: name.to_string(),
            looked_in: format!(
                "it is not on PATH and not in the registry file named by {LOCAL_REGISTRY_ENV}"
            ),
        }),
    }
}

/// The names of the registry's connectors; empty when no registry is configured.
pub fn get_available_connectors() -> Result<Vec<String>> {
    let mut names: Vec<String> = load_registry()?
        .unwrap_or_default()
        .into_iter()
        .map(|m| m.name)
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entry_to_metadata() {
        let m = ConnectorMetadata::from_entry(&json!({
            "dockerRepository": "airbyte/source-faker", "dockerImageTag": "6.2.1",
            "tags": ["language:python"],
            "remoteRegistries": {"pypi": {"enabled": true, "packageName": "airbyte-source-faker"}}
        }))
        .unwrap_or_else(|| panic!("entry"));
        assert_eq!(m.name, "source-faker");
        assert_eq!(m.language.as_deref(), Some("python"));
        assert_eq!(m.pypi_package_name.as_deref(), Some("airbyte-source-faker"));
        assert_eq!(m.default_install_type(), InstallType::Python);

        let m = ConnectorMetadata::from_entry(&json!({
            "dockerRepository": "airbyte/source-pokeapi", "language": "manifest-only"
        }))
        .unwrap_or_else(|| panic!("entry"));
        assert_eq!(m.default_install_type(), InstallType::Yaml);
        let m = ConnectorMetadata::from_entry(&json!({"dockerRepository": "airbyte/source-pg",
            "language": "java"}))
        .unwrap_or_else(|| panic!("entry"));
        assert_eq!(m.default_install_type(), InstallType::Docker);
    }
}
