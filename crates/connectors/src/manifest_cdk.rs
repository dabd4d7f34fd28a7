//! A declarative (YAML) manifest run by the Python CDK's `source-declarative-manifest`, in a
//! venv installed by [`VenvExecutor`].
//!
//! The CDK's command reads the manifest from the config, under `__injected_declarative_manifest`
//! (how the Airbyte platform runs manifest-only connectors), so each `check`, `discover` and
//! `read` gets the user's config with the manifest added. `spec` needs no Python: it is the
//! manifest's own `spec` section, answered in-process (the CDK's command would print a generic
//! spec without a config).
//!
//! A manifest with Python components carries its `components.py` (and its md5) under
//! [`INJECTED_COMPONENTS_KEY`] / [`INJECTED_CHECKSUMS_KEY`]: they move into the config beside
//! the manifest, where the CDK reads them, and the CDK runs with
//! `AIRBYTE_ENABLE_UNSAFE_CODE=true`, without which it refuses injected code.

use std::fmt;
use std::io::Write;
use std::sync::Arc;

use abrs_protocol::{AirbyteMessage, ConnectorSpecification};
use serde_json::{Map, Value};

use crate::error::ConnectorError;
use crate::executor::Executor;
use crate::invocation::{Invocation, Verb};
use crate::process::ConnectorProcess;
use crate::venv::VenvExecutor;

/// The airbyte-cdk release that runs manifests (the differential kit's reference version).
pub const DEFAULT_CDK_VERSION: &str = "7.39.1";
/// The CDK's console script, also the venv's name (`.venv-source-declarative-manifest`).
pub const CDK_MANIFEST_RUNNER: &str = "source-declarative-manifest";
/// The config key the CDK reads the manifest from.
pub const INJECTED_MANIFEST_KEY: &str = "__injected_declarative_manifest";
/// The config key the CDK reads a manifest's `components.py` from.
pub const INJECTED_COMPONENTS_KEY: &str = "__injected_components_py";
/// The config key of the code's checksums (`{"md5": …}`), which the CDK checks.
pub const INJECTED_CHECKSUMS_KEY: &str = "__injected_components_py_checksums";
/// The CDK runs injected code only with this set to `true`.
pub const ALLOW_CUSTOM_CODE_ENV: &str = "AIRBYTE_ENABLE_UNSAFE_CODE";

/// Runs a manifest with the Python CDK (see the module doc).
#[derive(Clone)]
pub struct ManifestCdkExecutor {
    name: String,
    manifest: Arc<Value>,
    /// `components.py` and its checksums, injected into each config.
    components: Option<(Value, Value)>,
    cdk: VenvExecutor,
}

impl fmt::Debug for ManifestCdkExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManifestCdkExecutor")
            .field("name", &self.name)
            .field("components", &self.components.is_some())
            .field("cdk", &self.cdk)
            .finish_non_exhaustive()
    }
}

impl ManifestCdkExecutor {
    /// Connector `name` defined by `manifest` (the parsed YAML), run by airbyte-cdk
    /// [`DEFAULT_CDK_VERSION`] from `<install root>/.venv-source-declarative-manifest`.
    pub fn new(name: &str, mut manifest: Value) -> Result<Self, ConnectorError> {
        if !manifest.is_object() {
            return Err(ConnectorError::InvalidOptions {
                connector: name.to_string(),
                message: "the declarative manifest is not a YAML/JSON mapping (it should have \
                          `version`, `streams`, `spec`, ...)"
                    .to_string(),
            });
        }
        let cdk = VenvExecutor::new(CDK_MANIFEST_RUNNER)
            .with_package_name("airbyte-cdk")
            .with_version(DEFAULT_CDK_VERSION);
        let components = manifest.as_object_mut().and_then(|map| {
            let code = map.remove(INJECTED_COMPONENTS_KEY)?;
            let checksums = map.remove(INJECTED_CHECKSUMS_KEY).unwrap_or(Value::Null);
            Some((code, checksums))
        });
        Ok(Self {
            name: name.to_string(),
            manifest: Arc::new(manifest),
            components,
            cdk,
        })
    }

    /// Uses this venv executor for the CDK (install root, interpreter, version, ...).
    pub fn with_cdk(mut self, cdk: VenvExecutor) -> Self {
        self.cdk = cdk;
        self
    }

    /// Whether the manifest came with a `components.py`.
    pub fn has_components(&self) -> bool {
        self.components.is_some()
    }

    /// The manifest.
    pub fn manifest(&self) -> &Value {
        &self.manifest
    }

    /// The SPEC the manifest declares (`spec.connection_specification`, its documentation URL
    /// and advanced auth).
    pub fn spec(&self) -> Result<ConnectorSpecification, ConnectorError> {
        let spec = self
            .manifest
            .get("spec")
            .ok_or_else(|| ConnectorError::InvalidOptions {
                connector: self.name.clone(),
                message: "the declarative manifest has no `spec` section, so its config cannot be \
                      described; add `spec: {type: Spec, connection_specification: {...}}`"
                    .to_string(),
            })?;
        let connection_specification = spec
            .get("connection_specification")
            .or_else(|| spec.get("connectionSpecification"))
            .cloned()
            .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}}));
        let text = |k: &str| spec.get(k).and_then(Value::as_str).map(str::to_string);
        Ok(ConnectorSpecification {
            documentation_url: text("documentation_url").or_else(|| text("documentationUrl")),
            changelog_url: None,
            connection_specification,
            supports_incremental: None,
            supports_normalization: None,
            supports_dbt: None,
            supported_destination_sync_modes: None,
            advanced_auth: spec.get("advanced_auth").cloned(),
            protocol_version: None,
            extra: Default::default(),
        })
    }

    fn inject(&self, mut invocation: Invocation) -> Invocation {
        let mut config = match invocation.config.take() {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        config.insert(
            INJECTED_MANIFEST_KEY.to_string(),
            self.manifest.as_ref().clone(),
        );
        if let Some((code, checksums)) = &self.components {
            config.insert(INJECTED_COMPONENTS_KEY.to_string(), code.clone());
            config.insert(INJECTED_CHECKSUMS_KEY.to_string(), checksums.clone());
        }
        invocation.config = Some(Value::Object(config));
        // A connector's refreshed config must not carry the manifest back into the user's.
        if let Some(cb) = invocation.config_change_callback.take() {
            invocation.config_change_callback =
                Some(Arc::new(move |mut new: Map<String, Value>| {
                    new.retain(|k, _| !k.starts_with("__injected_"));
                    cb(new);
                }));
        }
        invocation
    }
}

impl Executor for ManifestCdkExecutor {
    fn name(&self) -> &str {
        &self.name
    }

    fn execute(&self, invocation: Invocation) -> Result<ConnectorProcess, ConnectorError> {
        match invocation.verb {
            Verb::Spec => {
                let mut line = AirbyteMessage::spec(self.spec()?).to_line();
                line.push('\n');
                ConnectorProcess::in_process(
                    &self.name,
                    invocation,
                    Box::new(move |out: &mut dyn Write| {
                        out.write_all(line.as_bytes()).map_err(|e| e.to_string())
                    }),
                )
            }
            Verb::Write => Err(ConnectorError::InvalidOptions {
                connector: self.name.clone(),
                message: "a declarative manifest defines a source: it has no `write`".to_string(),
            }),
            _ if self.components.is_some() => self
                .cdk
                .clone()
                .with_env(ALLOW_CUSTOM_CODE_ENV, "true")
                .execute(self.inject(invocation)),
            _ => self.cdk.execute(self.inject(invocation)),
        }
    }

    fn ensure_installation(&self, auto_fix: bool) -> Result<(), ConnectorError> {
        self.cdk.ensure_installation(auto_fix)
    }

    fn install(&self) -> Result<(), ConnectorError> {
        self.cdk.install()
    }

    fn uninstall(&self) -> Result<(), ConnectorError> {
        self.cdk.uninstall()
    }

    fn installed_version(&self) -> Option<String> {
        self.manifest
            .get("version")
            .and_then(Value::as_str)
            .map(|v| {
                format!(
                    "manifest {v}, airbyte-cdk {}",
                    self.cdk.installed_version().unwrap_or_default()
                )
            })
    }

    fn describe(&self) -> String {
        format!(
            "{} (a declarative manifest, run by airbyte-cdk)",
            self.cdk.describe()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn manifest() -> Value {
        json!({
            "version": "6.0.0",
            "type": "DeclarativeSource",
            "spec": {"type": "Spec", "documentation_url": "https://example.invalid/docs",
                     "connection_specification": {"type": "object", "required": ["api_key"],
                        "properties": {"api_key": {"type": "string", "airbyte_secret": true}}}},
            "streams": []
        })
    }

    #[test]
    fn spec_comes_from_the_manifest_without_python() {
        let exec = ManifestCdkExecutor::new("source-m", manifest()).unwrap();
        let spec = crate::spec(&exec).unwrap();
        assert_eq!(
            spec.connection_specification["required"],
            json!(["api_key"])
        );
        assert_eq!(
            spec.documentation_url.as_deref(),
            Some("https://example.invalid/docs")
        );
    }

    #[test]
    fn the_manifest_rides_in_the_config_and_never_comes_back() {
        let exec = ManifestCdkExecutor::new("source-m", manifest()).unwrap();
        let seen = Arc::new(std::sync::Mutex::new(None));
        let seen2 = Arc::clone(&seen);
        let inv = Invocation::check(json!({"api_key": "k"})).with_config_change_callback(Arc::new(
            move |c: Map<String, Value>| {
                *seen2.lock().unwrap() = Some(c);
            },
        ));
        let inv = exec.inject(inv);
        let config = inv.config.clone().unwrap();
        assert_eq!(config["api_key"], "k");
        assert_eq!(config[INJECTED_MANIFEST_KEY]["version"], "6.0.0");
        let mut back = config.as_object().unwrap().clone();
        back.insert("api_key".into(), json!("rotated"));
        (inv.config_change_callback.unwrap())(back);
        let got = seen.lock().unwrap().clone().unwrap();
        assert_eq!(got.get("api_key"), Some(&json!("rotated")));
        assert!(!got.contains_key(INJECTED_MANIFEST_KEY));
    }

    #[test]
    fn components_ride_in_the_config_beside_the_manifest() {
        let mut m = manifest();
        m[INJECTED_COMPONENTS_KEY] = json!("class A: pass\n");
        m[INJECTED_CHECKSUMS_KEY] = json!({"md5": "abc"});
        let exec = ManifestCdkExecutor::new("source-m", m).unwrap();
        assert!(exec.has_components());
        // Not in the manifest the CDK validates: in the config, where it reads them.
        assert!(exec.manifest().get(INJECTED_COMPONENTS_KEY).is_none());
        let config = exec
            .inject(Invocation::check(json!({"api_key": "k"})))
            .config
            .unwrap();
        assert_eq!(config[INJECTED_COMPONENTS_KEY], "class A: pass\n");
        assert_eq!(config[INJECTED_CHECKSUMS_KEY], json!({"md5": "abc"}));
        assert!(
            config[INJECTED_MANIFEST_KEY]
                .get(INJECTED_COMPONENTS_KEY)
                .is_none()
        );
        let plain = ManifestCdkExecutor::new("source-m", manifest()).unwrap();
        assert!(!plain.has_components());
        let config = plain.inject(Invocation::check(json!({}))).config.unwrap();
        assert!(config.get(INJECTED_COMPONENTS_KEY).is_none());
    }

    #[test]
    fn a_manifest_that_is_not_a_mapping_is_refused() {
        let err = ManifestCdkExecutor::new("source-m", json!([1, 2])).unwrap_err();
        assert!(err.to_string().contains("mapping"), "{err}");
    }
}
