//! Files of a Python package, without installing it: `pip install --no-deps --target DIR`.
//!
//! Manifest-only connectors are also published on PyPI (`airbyte-source-pokeapi` ships
//! `source_pokeapi/manifest.yaml`); when Airbyte's manifest URL cannot be reached, the package
//! index (or pip's `find-links`) still can. pip is used rather than uv because it is always
//! beside `python3` and honours the machine's pip configuration (mirrors, find-links, certs).

use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::ConnectorError;
use crate::executor::{describe_path_var, which};

/// Unpacks `requirement` (e.g. `airbyte-source-pokeapi==0.2.15`), without its dependencies,
/// into `target` (made if missing). `connector` names the connector in errors.
pub fn unpack_package(
    connector: &str,
    requirement: &str,
    target: &Path,
) -> Result<(), ConnectorError> {
    let python = which("python3", None).ok_or_else(|| ConnectorError::ExecutableNotFound {
        connector: connector.to_string(),
        searched: format!("`python3` in {}", describe_path_var(None)),
        hint: "Install Python 3 (python3 with pip) to fetch the connector's package from PyPI, \
               or give its manifest file."
            .to_string(),
    })?;
    let mut cmd = Command::new(&python);
    cmd.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--no-compile",
        "--only-binary",
        ":all:",
        "--target",
    ])
    .arg(target)
    .arg(requirement)
    .stdin(Stdio::null());
    let command = format!(
        "{} -m pip install --no-deps --target {} {requirement}",
        python.display(),
        target.display()
    );
    let output = cmd.output().map_err(|e| ConnectorError::InstallFailed {
        connector: connector.to_string(),
        command: command.clone(),
        status: format!("could not start: {e}"),
        stderr_tail: String::new(),
        hint: "Check that python3 has pip (`python3 -m pip --version`).".to_string(),
    })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
    Err(ConnectorError::InstallFailed {
        connector: connector.to_string(),
        command,
        status: match output.status.code() {
            Some(c) => format!("exited with exit code {c}"),
            None => "was killed by a signal".to_string(),
        },
        stderr_tail: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        hint: "Check the package name and version, and that PyPI (or your pip index) can be \
               reached."
            .to_string(),
    })
}
