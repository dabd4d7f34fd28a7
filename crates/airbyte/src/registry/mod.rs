//! The connector registry (PyAirbyte's `airbyte/registry.py`): what connectors exist, and how
//! each one installs.
//!
//! The registry is Airbyte's `oss_registry.json`, fetched once per process with a timeout, kept
//! on disk as the last good copy, and bundled in the binary as a snapshot so that a machine that
//! has never been online still knows every connector (see [`store`] for the order of places and
//! the environment variables: `AIRBYTE_LOCAL_REGISTRY`, `AIRBYTE_OFFLINE_MODE`).
//!
//! ```no_run
//! use airbyte::registry::{self, InstallType};
//! let names = registry::get_available_connectors(InstallType::Yaml).unwrap();
//! let meta = registry::get_connector_metadata("source-faker").unwrap();
//! if let Some(meta) = meta {
//!     println!("{} installs as {:?}; {} manifest-only connectors", meta.name,
//!         meta.default_install_type(), names.len());
//! }
//! ```

pub mod manifests;
mod metadata;
pub mod store;

use std::sync::Arc;

pub use metadata::{ConnectorMetadata, InstallType};
pub use store::{
    LOCAL_REGISTRY_ENV, OFFLINE_MODE_ENV, REGISTRY_CACHE_DIR_ENV, REGISTRY_TIMEOUT_ENV,
    REGISTRY_URL, Registry, RegistryOrigin,
};

use crate::error::{Error, Result};

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

/// The registry in use (loaded on first use); `Ok(None)` when `AIRBYTE_LOCAL_REGISTRY=0`.
pub fn get_registry() -> Result<Option<Arc<Registry>>> {
    store::load()
}

/// What the registry says of a name.
pub(crate) enum Lookup {
    /// The registry is turned off.
    Disabled,
    /// The connector's entry.
    Found(Box<ConnectorMetadata>),
    /// Not listed. `current` is false when the registry is a saved copy or the bundled
    /// snapshot, which may predate the connector.
    Unknown { error: Error, current: bool },
}

pub(crate) fn lookup(name: &str) -> Result<Lookup> {
    let Some(registry) = store::load()? else {
        return Ok(Lookup::Disabled);
    };
    if let Some(m) = registry.connectors.get(name) {
        return Ok(Lookup::Found(Box::new(m.clone())));
    }
    let suggestions = closest_names(name, registry.connectors.keys().map(String::as_str));
    let mut looked_in = format!("it is not on PATH and not in {}", registry.origin);
    if !suggestions.is_empty() {
        looked_in.push_str(&format!(" (did you mean {}?)", suggestions.join(", ")));
    }
    Ok(Lookup::Unknown {
        error: Error::ConnectorNotFound {
            name: name.to_string(),
            looked_in,
        },
        current: registry.origin.is_current(),
    })
}

/// The registry's entry for `name` (PyAirbyte's `get_connector_metadata`). `Ok(None)` when the
/// registry is turned off (`AIRBYTE_LOCAL_REGISTRY=0`); [`Error::ConnectorNotFound`], naming the
/// closest names, when the registry lacks the name.
pub fn get_connector_metadata(name: &str) -> Result<Option<ConnectorMetadata>> {
    match lookup(name)? {
        Lookup::Disabled => Ok(None),
        Lookup::Found(m) => Ok(Some(*m)),
        Lookup::Unknown { error, .. } => Err(error),
    }
}

/// The names of the registry's connectors that pass `install_type`, sorted (PyAirbyte's
/// `get_available_connectors`; its default is [`InstallType::Installable`]). Empty when the
/// registry is turned off.
pub fn get_available_connectors(install_type: InstallType) -> Result<Vec<String>> {
    Ok(list_connectors(install_type)?
        .into_iter()
        .map(|m| m.name)
        .collect())
}

/// The entries of the registry's connectors that pass `install_type`, sorted by name.
pub fn list_connectors(install_type: InstallType) -> Result<Vec<ConnectorMetadata>> {
    let Some(registry) = store::load()? else {
        return Ok(Vec::new());
    };
    if install_type == InstallType::Java {
        tracing::warn!("Java connectors run only in Docker");
    }
    let docker = install_type == InstallType::Installable && docker_available();
    Ok(registry
        .connectors
        .values()
        .filter(|m| m.matches(install_type, docker))
        .cloned()
        .collect())
}

/// Whether Docker can be run here (PyAirbyte's `is_docker_installed`: `docker` on PATH).
pub fn docker_available() -> bool {
    abrs_connectors::which("docker", None).is_some()
}

/// Up to three of `candidates` closest to `name`: those with the `source-`/`destination-`
/// prefix added, then by edit distance (relative to the length), then containing it.
pub fn closest_names<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Vec<String> {
    let wanted = name.trim().to_ascii_lowercase();
    let mut scored: Vec<(u32, &str)> = candidates
        .filter_map(|c| {
            let lower = c.to_ascii_lowercase();
            let bare = lower
                .strip_prefix("source-")
                .or_else(|| lower.strip_prefix("destination-"))
                .unwrap_or(&lower);
            let score = if bare == wanted {
                1000
            } else {
                let sim = strsim::normalized_levenshtein(&wanted, &lower)
                    .max(strsim::normalized_levenshtein(&wanted, bare));
                let contains = wanted.len() >= 3 && lower.contains(&wanted);
                if sim >= 0.7 {
                    (sim * 900.0) as u32
                } else if contains {
                    300
                } else {
                    return None;
                }
            };
            Some((score, c))
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(3)
        .map(|(_, c)| c.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let names = [
            "source-faker",
            "source-facebook-marketing",
            "destination-duckdb",
            "source-pokeapi",
        ];
        assert_eq!(
            closest_names("faker", names.iter().copied()),
            ["source-faker"]
        );
        assert_eq!(
            closest_names("source-fakr", names.iter().copied())[0],
            "source-faker"
        );
        assert_eq!(
            closest_names("duckdb", names.iter().copied()),
            ["destination-duckdb"]
        );
        assert_eq!(
            closest_names("pokeap", names.iter().copied()),
            ["source-pokeapi"]
        );
        assert!(closest_names("zzzzzz", names.iter().copied()).is_empty());
    }
}
