//! Declarative manifests run natively (the `abrs-declarative` engine), in-process, behind the
//! same [`Executor`] seam as a connector process: the engine writes the protocol lines a
//! `source-declarative-manifest` child would print, and they are read the same way.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use abrs_connectors::{ConnectorError, ConnectorProcess, Executor, Invocation, Verb};
use abrs_declarative::Manifest;
use abrs_declarative::protocol_command::{Command, run_command};
use serde_json::{Value, json};

/// Bytes of protocol output gathered before they go down the pipe to the reader.
const OUTPUT_BUFFER: usize = 256 * 1024;

/// Runs a manifest with the native engine.
#[derive(Debug, Clone)]
pub struct NativeManifestExecutor {
    name: String,
    manifest: Arc<Value>,
    directory: Option<PathBuf>,
}

impl NativeManifestExecutor {
    /// A manifest (already parsed) for connector `name`; `directory` is where its schema files
    /// lie (the manifest file's folder).
    pub fn new(name: &str, mut manifest: Value, directory: Option<PathBuf>) -> Self {
        // A components.py that came with it is for the Python CDK; the engine needs none.
        abrs_declarative::components::detach(&mut manifest);
        Self {
            name: name.to_string(),
            manifest: Arc::new(manifest),
            directory,
        }
    }
}

/// Whether the engine can run `manifest`: no `Custom*` component and no `class_name`
/// anywhere (those need the Python CDK).
pub fn needs_python(manifest: &Value) -> bool {
    match manifest {
        Value::Object(map) => {
            map.contains_key("class_name")
                || map
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.starts_with("Custom"))
                || map.values().any(needs_python)
        }
        Value::Array(items) => items.iter().any(needs_python),
        _ => false,
    }
}

impl Executor for NativeManifestExecutor {
    fn name(&self) -> &str {
        &self.name
    }

    fn execute(&self, mut invocation: Invocation) -> Result<ConnectorProcess, ConnectorError> {
        let manifest = Manifest::from_value(self.manifest.as_ref().clone())
            .map_err(|e| ConnectorError::InvalidOptions {
                connector: self.name.clone(),
                message: format!("the manifest cannot be loaded: {e}"),
            })?
            .with_directory(self.directory.clone());
        let command = match invocation.verb {
            Verb::Spec => Command::Spec,
            Verb::Check => Command::Check,
            Verb::Discover => Command::Discover,
            Verb::Read => Command::Read,
            Verb::Write => {
                return Err(ConnectorError::InvalidOptions {
                    connector: self.name.clone(),
                    message: "a declarative manifest defines a source: it has no `write`".into(),
                });
            }
        };
        let config = invocation.config.take().unwrap_or_else(|| json!({}));
        let catalog = match invocation.catalog.as_ref() {
            Some(c) => {
                Some(
                    serde_json::to_value(c).map_err(|e| ConnectorError::InvalidOptions {
                        connector: self.name.clone(),
                        message: format!("the catalog cannot be written as JSON: {e}"),
                    })?,
                )
            }
            None => None,
        };
        let state = invocation.state.take();
        ConnectorProcess::in_process(
            &self.name,
            invocation,
            Box::new(move |out: &mut dyn Write| {
                // The engine writes a message in many small pieces: one pipe write each would
                // cost more than the whole read (a syscall per JSON token).
                let mut out = std::io::BufWriter::with_capacity(OUTPUT_BUFFER, out);
                let result = run_command(command, manifest, config, catalog, state, &mut out);
                out.flush()
                    .map_err(|e| format!("writing the output failed: {e}"))?;
                result
            }),
        )
    }

    fn ensure_installation(&self, _auto_fix: bool) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn install(&self) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn uninstall(&self) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn installed_version(&self) -> Option<String> {
        self.manifest
            .get("version")
            .and_then(Value::as_str)
            .map(|v| format!("manifest {v}, native engine"))
    }

    fn describe(&self) -> String {
        format!(
            "{} (a declarative manifest, run natively in-process)",
            self.name
        )
    }
}
