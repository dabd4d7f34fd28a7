//! What sources and destinations share (PyAirbyte's `ConnectorBase`): the executor, the config
//! with its secrets, the spec, `check`, installation.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use abrs_connectors as ops;
use abrs_connectors::{ConfigChangeCallback, ConnectorProcess, Executor, Invocation};
use abrs_protocol::{ConnectionStatusKind, ConnectorSpecification};
use serde_json::{Map, Value};

use crate::config::validate_against_spec;
use crate::error::{Error, Result};
use crate::executor_choice::ExecutorPlan;
use crate::secrets;
use crate::source::{ConfigCallback, SourceOptions, SpecFormat};

/// The parts of a connector that do not depend on whether it reads or writes.
pub(crate) struct ConnectorCore {
    pub(crate) name: String,
    pub(crate) executor: Arc<dyn Executor>,
    pub(crate) plan: Option<ExecutorPlan>,
    /// The config as the user gave it (secret references unresolved); shared with the
    /// config-change callback, which replaces it.
    config: Arc<Mutex<Option<Value>>>,
    pub(crate) user_callback: Option<ConfigCallback>,
    spec: OnceLock<ConnectorSpecification>,
}

impl ConnectorCore {
    pub(crate) fn new(name: String, executor: Arc<dyn Executor>) -> Self {
        Self {
            name,
            executor,
            plan: None,
            config: Arc::new(Mutex::new(None)),
            user_callback: None,
            spec: OnceLock::new(),
        }
    }

    pub(crate) fn install(&self) -> Result<()> {
        self.executor.install().map_err(|e| self.wrap(e))
    }

    pub(crate) fn uninstall(&self) -> Result<()> {
        self.executor.uninstall().map_err(|e| self.wrap(e))
    }

    pub(crate) fn connector_version(&self) -> Option<String> {
        self.executor.installed_version()
    }

    /// The documentation URL: the spec's, else docs.airbyte.com's page under `section`.
    pub(crate) fn docs_url(&self, section: &str, prefix: &str) -> String {
        self.spec
            .get()
            .and_then(|s| s.documentation_url.clone())
            .unwrap_or_else(|| {
                format!(
                    "https://docs.airbyte.com/integrations/{section}/{}",
                    self.name.to_lowercase().replace(prefix, "")
                )
            })
    }

    fn lock_config(&self) -> MutexGuard<'_, Option<Value>> {
        // A panic in a user callback must not make the config unreachable.
        self.config.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn has_config(&self) -> bool {
        self.lock_config().is_some()
    }

    fn callback(&self) -> ConfigChangeCallback {
        let config = Arc::clone(&self.config);
        let user = self.user_callback.clone();
        Arc::new(move |new_config: Map<String, Value>| {
            if let Some(cb) = &user {
                cb(&new_config);
            }
            *config.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(Value::Object(new_config));
        })
    }

    /// Starts the connector with `invocation` (the config-change callback attached).
    pub(crate) fn execute(&self, invocation: Invocation) -> Result<ConnectorProcess> {
        self.executor
            .execute(self.with_callback(invocation))
            .map_err(|e| self.wrap(e))
    }

    /// Attaches the config-change callback and the config's secret values, which the
    /// connector's log masks.
    pub(crate) fn with_callback(&self, invocation: Invocation) -> Invocation {
        let secrets = invocation
            .config
            .as_ref()
            .map(|hydrated| {
                let raw = self.get_config().ok();
                let spec = self.spec.get().map(|s| &s.connection_specification);
                let mut values =
                    secrets::secret_values(raw.as_ref().unwrap_or(hydrated), hydrated, spec);
                // Shorter values would mask ordinary words of the log.
                values.retain(|v| v.chars().count() >= 4);
                values
            })
            .unwrap_or_default();
        invocation
            .with_config_change_callback(self.callback())
            .with_log_secrets(secrets)
    }

    pub(crate) fn wrap(&self, e: abrs_connectors::ConnectorError) -> Error {
        Error::from_connector(&self.name, e)
    }

    pub(crate) fn spec(&self) -> Result<&ConnectorSpecification> {
        if let Some(spec) = self.spec.get() {
            return Ok(spec);
        }
        let spec = ops::spec_with(&*self.executor, self.with_callback(Invocation::spec()))
            .map_err(|e| self.wrap(e))?;
        Ok(self.spec.get_or_init(|| spec))
    }

    pub(crate) fn config_spec(&self) -> Result<&Value> {
        Ok(&self.spec()?.connection_specification)
    }

    pub(crate) fn print_config_spec(
        &self,
        format: SpecFormat,
        output_file: Option<&Path>,
    ) -> Result<()> {
        let text = format.render(self.config_spec()?)?;
        match output_file {
            Some(path) => std::fs::write(path, text).map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            }),
            None => {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(|source| Error::Io {
                        path: PathBuf::from("<stdout>"),
                        source,
                    })
            }
        }
    }

    /// Stores a config (validated first when asked); whether it differs from the one before.
    pub(crate) fn store_config(&self, config: Value, validate: bool) -> Result<bool> {
        if !config.is_object() {
            return Err(Error::input(
                "the config is not a JSON object",
                "pass an object of settings, e.g. {\"count\": 10}",
            ));
        }
        if validate {
            self.validate_config(Some(&config))?;
        }
        let mut slot = self.lock_config();
        let changed = slot.as_ref() != Some(&config);
        *slot = Some(config);
        Ok(changed)
    }

    pub(crate) fn get_config(&self) -> Result<Value> {
        self.lock_config()
            .clone()
            .ok_or_else(|| self.missing_config("get_config"))
    }

    fn missing_config(&self, operation: &str) -> Error {
        Error::ConfigurationMissing {
            name: self.name.clone(),
            operation: operation.into(),
        }
    }

    pub(crate) fn hydrated_config(&self) -> Result<Value> {
        secrets::hydrate_config(&self.get_config()?)
    }

    pub(crate) fn hydrated_config_for(&self, operation: &str) -> Result<Value> {
        let raw = self
            .lock_config()
            .clone()
            .ok_or_else(|| self.missing_config(operation))?;
        secrets::hydrate_config(&raw)
    }

    pub(crate) fn validate_config(&self, config: Option<&Value>) -> Result<()> {
        let raw = match config {
            Some(c) => c.clone(),
            None => self.get_config()?,
        };
        let hydrated = secrets::hydrate_config(&raw)?;
        let spec = self.config_spec()?;
        let secret_values = secrets::secret_values(&raw, &hydrated, Some(spec));
        validate_against_spec(&self.name, spec, &hydrated, &secret_values)
    }

    pub(crate) fn check(&self) -> Result<()> {
        let config = self.hydrated_config_for("check")?;
        let status = ops::check_with(
            &*self.executor,
            self.with_callback(Invocation::check(config)),
        )
        .map_err(|e| self.wrap(e))?;
        match status.status {
            ConnectionStatusKind::Succeeded => Ok(()),
            _ => Err(Error::CheckFailed {
                name: self.name.clone(),
                message: status
                    .message
                    .unwrap_or_else(|| "the connector gave no reason".to_string()),
            }),
        }
    }
}

/// Builds the executor for a plan.
pub(crate) fn build_executor(
    name: &str,
    plan: &ExecutorPlan,
    opts: &SourceOptions,
) -> Result<Arc<dyn Executor>> {
    let wrap = |e| Error::from_connector(name, e);
    Ok(match plan {
        ExecutorPlan::Local { path } => Arc::new(
            abrs_connectors::PathExecutor::new(name, &path.to_string_lossy()).map_err(wrap)?,
        ),
        ExecutorPlan::Python {
            package,
            version,
            interpreter,
            ..
        } => {
            let mut exec =
                abrs_connectors::VenvExecutor::new(name).with_package_name(package.clone());
            // The executor builds `package==version` itself; a pip URL given by the user wins.
            if let Some(url) = &opts.pip_url {
                exec = exec.with_pip_url(url.clone());
            }
            if let Some(v) = version {
                exec = exec.with_version(v.clone());
            }
            if let Some(i) = interpreter {
                exec = exec.with_python(i.clone());
            }
            if let Some(root) = &opts.install_root {
                exec = exec.with_install_root(root.clone());
            }
            if !opts.pip_overrides.is_empty() {
                exec = exec.with_overrides(opts.pip_overrides.clone());
            }
            Arc::new(exec)
        }
        ExecutorPlan::Declarative {
            manifest,
            origin,
            native: true,
            ..
        } => {
            let path = std::path::Path::new(origin);
            let directory = path
                .is_file()
                .then(|| path.parent().map(std::path::Path::to_path_buf))
                .flatten();
            Arc::new(crate::native_manifest::NativeManifestExecutor::new(
                name,
                manifest.clone(),
                directory,
            ))
        }
        ExecutorPlan::Declarative {
            manifest,
            interpreter,
            ..
        } => {
            let mut cdk = abrs_connectors::VenvExecutor::new(abrs_connectors::CDK_MANIFEST_RUNNER)
                .with_package_name("airbyte-cdk")
                .with_version(abrs_connectors::DEFAULT_CDK_VERSION);
            if let Some(i) = interpreter {
                cdk = cdk.with_python(i.clone());
            }
            if let Some(root) = &opts.install_root {
                cdk = cdk.with_install_root(root.clone());
            }
            Arc::new(
                abrs_connectors::ManifestCdkExecutor::new(name, manifest.clone())
                    .map_err(wrap)?
                    .with_cdk(cdk),
            )
        }
        ExecutorPlan::Docker {
            image,
            use_host_network,
        } => Arc::new(
            abrs_connectors::DockerExecutor::new(name, Some(image), None)
                .map_err(wrap)?
                .with_host_network(*use_host_network),
        ),
    })
}
