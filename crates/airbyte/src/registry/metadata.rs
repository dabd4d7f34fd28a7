//! One registry entry as PyAirbyte reads it (`_registry_entry_to_connector_metadata`).

use serde::Serialize;
use serde_json::Value;

/// How a connector can be installed, and the filters of
/// [`get_available_connectors`](super::get_available_connectors) (PyAirbyte's `InstallType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InstallType {
    /// A declarative YAML manifest (manifest-only connector), run natively.
    Yaml,
    /// A Python package on PyPI.
    Python,
    /// A Docker image (every connector has one).
    Docker,
    /// A Java connector (runs in Docker).
    Java,
    /// A filter only: what this machine can run (everything with Docker, else Python and
    /// manifest-only connectors). PyAirbyte's default.
    Installable,
    /// A filter only: every connector in the registry.
    Any,
}

impl InstallType {
    /// PyAirbyte's value (`yaml`, `python`, `docker`, `java`, `installable`, `any`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yaml => "yaml",
            Self::Python => "python",
            Self::Docker => "docker",
            Self::Java => "java",
            Self::Installable => "installable",
            Self::Any => "any",
        }
    }

    /// Parses PyAirbyte's value (case-insensitive; `manifest-only` also means `yaml`).
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "yaml" | "manifest-only" | "manifest" => Self::Yaml,
            "python" => Self::Python,
            "docker" => Self::Docker,
            "java" => Self::Java,
            "installable" => Self::Installable,
            "any" | "all" => Self::Any,
            _ => return None,
        })
    }
}

/// What the registry says about one connector (PyAirbyte's `ConnectorMetadata`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectorMetadata {
    /// The name, e.g. `source-faker` (`dockerRepository` without `airbyte/`).
    pub name: String,
    /// The human-readable name (`name` of the entry), e.g. `Faker`.
    pub display_name: Option<String>,
    /// `source` or `destination` (from the name's prefix, as PyAirbyte).
    pub connector_type: String,
    /// The source or destination definition id.
    pub definition_id: Option<String>,
    /// The Docker repository, e.g. `airbyte/source-faker`.
    pub docker_repository: String,
    /// The latest version (`dockerImageTag`).
    pub latest_available_version: Option<String>,
    /// The PyPI package, when the registry says it is published there.
    pub pypi_package_name: Option<String>,
    /// `python`, `java` or `manifest-only` (from `language` or a `language:` tag).
    pub language: Option<String>,
    /// The ways it can be installed (Docker always; plus Python, Java or YAML), sorted.
    pub install_types: Vec<InstallType>,
    /// The streams the registry suggests syncing, if it names any.
    pub suggested_streams: Option<Vec<String>>,
    /// `certified`, `community`, …
    pub support_level: Option<String>,
    /// `generally_available`, `beta`, `alpha`, …
    pub release_stage: Option<String>,
    /// `api`, `database`, `file`, …
    pub source_type: Option<String>,
    /// The connector's documentation page.
    pub documentation_url: Option<String>,
    /// When the connector was first released.
    pub release_date: Option<String>,
    /// The GitHub issue label, e.g. `source-faker`.
    pub github_issue_label: Option<String>,
    /// The connector's license (`MIT`, `ELv2`, …).
    pub license: Option<String>,
}

fn text(entry: &Value, key: &str) -> Option<String> {
    entry.get(key).and_then(Value::as_str).map(str::to_string)
}

impl ConnectorMetadata {
    /// PyAirbyte's preference: YAML for manifest-only connectors, then Python, then Docker.
    pub fn default_install_type(&self) -> InstallType {
        if self.language.as_deref() == Some("manifest-only")
            && self.install_types.contains(&InstallType::Yaml)
        {
            InstallType::Yaml
        } else if self.install_types.contains(&InstallType::Python) {
            InstallType::Python
        } else {
            InstallType::Docker
        }
    }

    /// Whether the connector can run here: every connector with Docker, else Python and
    /// manifest-only ones (PyAirbyte's `INSTALLABLE`).
    pub fn is_installable(&self, docker_available: bool) -> bool {
        docker_available || matches!(self.language.as_deref(), Some("python" | "manifest-only"))
    }

    /// Whether the connector passes the `filter` of `get_available_connectors`.
    pub fn matches(&self, filter: InstallType, docker_available: bool) -> bool {
        match filter {
            InstallType::Installable => self.is_installable(docker_available),
            InstallType::Any | InstallType::Docker => true,
            InstallType::Python => self.pypi_package_name.is_some(),
            InstallType::Java => self.language.as_deref() == Some("java"),
            InstallType::Yaml => self.install_types.contains(&InstallType::Yaml),
        }
    }

    /// Reads one entry of `oss_registry.json`; `None` when it has no `dockerRepository`.
    pub fn from_entry(entry: &Value) -> Option<Self> {
        let docker_repository = entry.get("dockerRepository")?.as_str()?.to_string();
        let name = docker_repository.replace("airbyte/", "");
        let tags: Vec<&str> = entry
            .get("tags")
            .and_then(Value::as_array)
            .map(|t| t.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let language = text(entry, "language")
            .filter(|l| matches!(l.as_str(), "python" | "java" | "manifest-only"))
            .or_else(|| {
                if tags.contains(&"language:python") {
                    Some("python".to_string())
                } else if tags.contains(&"language:manifest-only") {
                    Some("manifest-only".to_string())
                } else {
                    None
                }
            });
        let pypi = entry.get("remoteRegistries").and_then(|r| r.get("pypi"));
        let pypi_enabled =
            pypi.and_then(|p| p.get("enabled")).and_then(Value::as_bool) == Some(true);
        let mut install_types = vec![InstallType::Docker];
        match language.as_deref() {
            Some("python") if pypi_enabled => install_types.push(InstallType::Python),
            Some("java") => install_types.push(InstallType::Java),
            Some("manifest-only") => install_types.push(InstallType::Yaml),
            _ => {}
        }
        install_types.sort();
        let connector_type = if name.starts_with("source-") {
            "source"
        } else {
            "destination"
        };
        Some(Self {
            display_name: text(entry, "name"),
            connector_type: connector_type.to_string(),
            definition_id: text(entry, "sourceDefinitionId")
                .or_else(|| text(entry, "destinationDefinitionId")),
            latest_available_version: text(entry, "dockerImageTag"),
            pypi_package_name: pypi
                .and_then(|p| p.get("packageName"))
                .and_then(Value::as_str)
                .filter(|_| pypi_enabled)
                .map(str::to_string),
            language,
            install_types,
            suggested_streams: entry
                .get("suggestedStreams")
                .and_then(|s| s.get("streams"))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                }),
            support_level: text(entry, "supportLevel"),
            release_stage: text(entry, "releaseStage"),
            source_type: text(entry, "sourceType"),
            documentation_url: text(entry, "documentationUrl"),
            release_date: text(entry, "releaseDate"),
            github_issue_label: text(entry, "githubIssueLabel"),
            license: text(entry, "license"),
            name,
            docker_repository,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(entry: Value) -> ConnectorMetadata {
        ConnectorMetadata::from_entry(&entry).unwrap_or_else(|| panic!("entry {entry}"))
    }

    #[test]
    fn python_connector_with_pypi() {
        let m = meta(json!({
            "dockerRepository": "airbyte/source-faker", "dockerImageTag": "6.2.1",
            "name": "Sample Data (Faker)", "sourceDefinitionId": "dfd88b22",
            "tags": ["language:python"], "supportLevel": "certified",
            "suggestedStreams": {"streams": ["users"]},
            "remoteRegistries": {"pypi": {"enabled": true, "packageName": "airbyte-source-faker"}}
        }));
        assert_eq!(m.name, "source-faker");
        assert_eq!(m.display_name.as_deref(), Some("Sample Data (Faker)"));
        assert_eq!(m.connector_type, "source");
        assert_eq!(m.definition_id.as_deref(), Some("dfd88b22"));
        assert_eq!(m.language.as_deref(), Some("python"));
        assert_eq!(m.pypi_package_name.as_deref(), Some("airbyte-source-faker"));
        assert_eq!(
            m.install_types,
            vec![InstallType::Python, InstallType::Docker]
        );
        assert_eq!(m.default_install_type(), InstallType::Python);
        assert_eq!(m.suggested_streams, Some(vec!["users".to_string()]));
        assert!(m.is_installable(false));
    }

    #[test]
    fn manifest_only_java_and_disabled_pypi() {
        let m = meta(
            json!({"dockerRepository": "airbyte/source-pokeapi", "language": "manifest-only",
            "remoteRegistries": {"pypi": {"enabled": false, "packageName": "airbyte-source-pokeapi"}}}),
        );
        assert_eq!(m.default_install_type(), InstallType::Yaml);
        assert_eq!(m.pypi_package_name, None);
        assert!(m.matches(InstallType::Yaml, false));
        assert!(!m.matches(InstallType::Python, false));

        let m = meta(
            json!({"dockerRepository": "airbyte/source-postgres", "language": "java",
            "destinationDefinitionId": null}),
        );
        assert_eq!(m.default_install_type(), InstallType::Docker);
        assert!(m.matches(InstallType::Java, false));
        assert!(!m.is_installable(false));
        assert!(m.is_installable(true));

        // Python by language but not published on PyPI: Docker only (as PyAirbyte).
        let m = meta(json!({"dockerRepository": "airbyte/destination-x", "language": "python"}));
        assert_eq!(m.connector_type, "destination");
        assert_eq!(m.install_types, vec![InstallType::Docker]);
        assert_eq!(m.default_install_type(), InstallType::Docker);
        assert!(ConnectorMetadata::from_entry(&json!({"name": "no repository"})).is_none());
    }

    #[test]
    fn install_type_names() {
        for t in [
            InstallType::Yaml,
            InstallType::Python,
            InstallType::Docker,
            InstallType::Java,
            InstallType::Installable,
            InstallType::Any,
        ] {
            assert_eq!(InstallType::parse(t.as_str()), Some(t));
        }
        assert_eq!(InstallType::parse("Manifest-Only"), Some(InstallType::Yaml));
        assert_eq!(InstallType::parse("cobol"), None);
    }
}
