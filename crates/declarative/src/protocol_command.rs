//! The protocol commands of a manifest (`spec`, `check`, `discover`, `read`), writing the
//! messages the CDK's `source-declarative-manifest` prints.

use std::io::Write;

use serde_json::{Value, json};

use crate::manifest::Manifest;
use crate::source::DeclarativeSource;

/// A protocol command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `spec`.
    Spec,
    /// `check`.
    Check,
    /// `discover`.
    Discover,
    /// `read`.
    Read,
}

impl Command {
    /// From its name.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "spec" => Self::Spec,
            "check" => Self::Check,
            "discover" => Self::Discover,
            "read" => Self::Read,
            _ => return None,
        })
    }
}

/// Runs one protocol command of `manifest` and writes its messages to `out`, as the CDK's
/// `source-declarative-manifest` does: `spec` → SPEC, `check` → CONNECTION_STATUS (FAILED
/// with the reason is still a success), `discover` → CATALOG, `read` → RECORD/STATE/TRACE.
/// An error is also written as a TRACE message before it is returned.
pub fn run_command(
    command: Command,
    manifest: Manifest,
    config: Value,
    catalog: Option<Value>,
    state: Option<Value>,
    out: &mut dyn Write,
) -> Result<(), String> {
    let result = run_command_inner(command, manifest, config, catalog, state, out);
    if let Err(message) = &result {
        let trace = json!({"type": "TRACE", "trace": {"type": "ERROR",
            "emitted_at": chrono::Utc::now().timestamp_millis() as f64,
            "error": {"message": message, "internal_message": message, "failure_type": "config_error"}}});
        let _ = writeln!(out, "{trace}");
    }
    result
}

fn run_command_inner(
    command: Command,
    manifest: Manifest,
    config: Value,
    catalog: Option<Value>,
    state: Option<Value>,
    out: &mut dyn Write,
) -> Result<(), String> {
    let emit = |out: &mut dyn Write, message: Value| -> Result<(), String> {
        writeln!(out, "{message}").map_err(|e| format!("writing the output failed: {e}"))
    };
    match command {
        Command::Spec => {
            let spec = DeclarativeSource::spec(&manifest).map_err(|e| e.to_string())?;
            emit(out, json!({"type": "SPEC", "spec": spec}))
        }
        Command::Check => {
            let source = DeclarativeSource::new(manifest, config).map_err(|e| e.to_string())?;
            let (ok, message) = source
                .check_connection()
                .map_err(|e| source.secrets().mask(&e.to_string()))?;
            let mut status = json!({"status": if ok { "SUCCEEDED" } else { "FAILED" }});
            if let Some(m) = message {
                status["message"] = Value::String(m);
            }
            emit(
                out,
                json!({"type": "CONNECTION_STATUS", "connectionStatus": status}),
            )
        }
        Command::Discover => {
            let source = DeclarativeSource::new(manifest, config).map_err(|e| e.to_string())?;
            let catalog = source
                .discover()
                .map_err(|e| source.secrets().mask(&e.to_string()))?;
            emit(out, json!({"type": "CATALOG", "catalog": catalog}))
        }
        Command::Read => {
            let source = DeclarativeSource::new(manifest, config).map_err(|e| e.to_string())?;
            let catalog = catalog.ok_or("read needs a configured catalog (--catalog)")?;
            source
                .read(&catalog, state.as_ref(), out)
                .map_err(|e| source.secrets().mask(&e.to_string()))
        }
    }
}
