//! How a connector is run: the [`Executor`] trait and the local-executable executor.

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::ConnectorError;
use crate::invocation::{Invocation, prepare_files, temp_root};
use crate::process::{ConnectorCommand, ConnectorProcess};

/// Runs a connector. Implemented by [`PathExecutor`], [`crate::VenvExecutor`] and
/// [`crate::DockerExecutor`]; an in-process executor (declarative YAML run natively) implements
/// it too, producing the same protocol lines through [`ConnectorProcess::in_process`].
pub trait Executor: Send + Sync + fmt::Debug {
    /// The connector's name (e.g. `source-faker`).
    fn name(&self) -> &str;

    /// Starts the connector for `invocation`. Cheap checks only (the executable exists); call
    /// [`Executor::ensure_installation`] first to install or verify versions.
    fn execute(&self, invocation: Invocation) -> Result<ConnectorProcess, ConnectorError>;

    /// Checks that the connector can run; with `auto_fix`, installs or repairs it if needed.
    fn ensure_installation(&self, auto_fix: bool) -> Result<(), ConnectorError>;

    /// Installs the connector (an error for connectors not managed by airbyte-rs).
    fn install(&self) -> Result<(), ConnectorError>;

    /// Removes what [`Executor::install`] installed.
    fn uninstall(&self) -> Result<(), ConnectorError>;

    /// The installed version, when it can be known.
    fn installed_version(&self) -> Option<String>;

    /// The command line that runs the connector, without the verb and file arguments
    /// (for messages and tests).
    fn describe(&self) -> String;
}

/// Whether `path` is a regular file with an execute bit.
pub(crate) fn is_executable_file(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Finds `program` in the directories of `path_var` (or of this process's PATH).
pub fn which(program: &str, path_var: Option<&OsStr>) -> Option<PathBuf> {
    let inherited = std::env::var_os("PATH");
    let path_var = path_var.or(inherited.as_deref())?;
    std::env::split_paths(path_var)
        .map(|dir| dir.join(program))
        .find(|p| is_executable_file(p))
}

/// The PATH a child will see: the one set in `env`, else this process's.
pub(crate) fn path_from_env(env: &[(String, String)]) -> Option<std::ffi::OsString> {
    env.iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.into())
        .or_else(|| std::env::var_os("PATH"))
}

pub(crate) fn describe_path_var(path_var: Option<&OsStr>) -> String {
    match path_var {
        Some(p) => format!("the directories of PATH ({})", p.to_string_lossy()),
        None => "PATH (which is not set)".to_string(),
    }
}

/// Checks that `path` is there and runnable.
pub(crate) fn check_executable(connector: &str, path: &Path) -> Result<(), ConnectorError> {
    if !path.exists() {
        return Err(ConnectorError::ExecutableNotFound {
            connector: connector.to_string(),
            searched: path.display().to_string(),
            hint: "Check the path, or install the connector.".to_string(),
        });
    }
    if !is_executable_file(path) {
        return Err(ConnectorError::NotExecutable {
            connector: connector.to_string(),
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Starts `program` with the invocation's arguments, their files in a private temp dir.
pub(crate) fn execute_program(
    connector: &str,
    program: &Path,
    env: &[(String, String)],
    invocation: Invocation,
) -> Result<ConnectorProcess, ConnectorError> {
    execute_program_with_args(connector, program, &[], env, invocation)
}

/// As [`execute_program`], with fixed arguments before the verb (`program ARGS… VERB …`).
pub(crate) fn execute_program_with_args(
    connector: &str,
    program: &Path,
    leading_args: &[String],
    env: &[(String, String)],
    invocation: Invocation,
) -> Result<ConnectorProcess, ConnectorError> {
    let files = prepare_files(connector, &invocation, &temp_root())?;
    let mut args = Vec::with_capacity(leading_args.len() + files.args.len());
    args.extend(leading_args.iter().cloned());
    args.extend(files.args.iter().cloned());
    let command = ConnectorCommand {
        program: program.to_path_buf(),
        args,
        env: env.to_vec(),
    };
    ConnectorProcess::spawn(connector, command, invocation, Some(files))
}

/// A connector that is a local executable: a path, or a name found on PATH.
#[derive(Debug, Clone)]
pub struct PathExecutor {
    name: String,
    path: PathBuf,
    /// Fixed arguments passed before the verb (e.g. a subcommand of a multi-purpose binary).
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl PathExecutor {
    /// `executable` containing `/` is a path (relative paths are made absolute); otherwise it is
    /// looked up on PATH, and not finding it is [`ConnectorError::ExecutableNotFound`].
    pub fn new(name: &str, executable: &str) -> Result<Self, ConnectorError> {
        Self::with_path_var(name, executable, std::env::var_os("PATH").as_deref())
    }

    /// As [`PathExecutor::new`], resolving names on the given PATH value instead of this
    /// process's.
    pub fn with_path_var(
        name: &str,
        executable: &str,
        path_var: Option<&OsStr>,
    ) -> Result<Self, ConnectorError> {
        let path = if executable.contains('/') {
            let p = PathBuf::from(executable);
            if p.is_absolute() {
                p
            } else {
                std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p)
            }
        } else {
            which(executable, path_var).ok_or_else(|| ConnectorError::ExecutableNotFound {
                connector: name.to_string(),
                searched: format!("`{executable}` in {}", describe_path_var(path_var)),
                hint: format!(
                    "Install the connector so that `{executable}` is on PATH, give the full path to the executable, or let airbyte-rs install it (Python package or Docker image)."
                ),
            })?
        };
        Ok(Self {
            name: name.to_string(),
            path,
            args: Vec::new(),
            env: Vec::new(),
        })
    }

    /// Sets an environment variable for the connector process.
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Adds fixed arguments placed before the verb: `with_args(["benchmark-source"])` runs
    /// `EXE benchmark-source spec`, `EXE benchmark-source read --config …`, and so on.
    pub fn with_args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The fixed arguments placed before the verb.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// The executable.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Executor for PathExecutor {
    fn name(&self) -> &str {
        &self.name
    }

    fn execute(&self, invocation: Invocation) -> Result<ConnectorProcess, ConnectorError> {
        check_executable(&self.name, &self.path)?;
        execute_program_with_args(&self.name, &self.path, &self.args, &self.env, invocation)
    }

    fn ensure_installation(&self, _auto_fix: bool) -> Result<(), ConnectorError> {
        // Unlike PyAirbyte (which checks nothing here), really look at the file.
        check_executable(&self.name, &self.path)
    }

    fn install(&self) -> Result<(), ConnectorError> {
        Err(ConnectorError::InvalidOptions {
            connector: self.name.clone(),
            message: format!(
                "it is a local executable ({}), not managed by airbyte-rs, so it cannot be installed. Install it yourself, or use a Python package or Docker image instead.",
                self.path.display()
            ),
        })
    }

    fn uninstall(&self) -> Result<(), ConnectorError> {
        Err(ConnectorError::InvalidOptions {
            connector: self.name.clone(),
            message: format!(
                "it is a local executable ({}), not managed by airbyte-rs, so it cannot be uninstalled.",
                self.path.display()
            ),
        })
    }

    fn installed_version(&self) -> Option<String> {
        None
    }

    fn describe(&self) -> String {
        ConnectorCommand {
            program: self.path.clone(),
            args: self.args.clone(),
            env: vec![],
        }
        .display()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_args_come_before_the_verb() -> Result<(), ConnectorError> {
        // `sh -c SCRIPT sh VERB …`: the script sees the verb as $1 only if the fixed arguments
        // were placed first.
        let script = r#"case "$1" in spec) echo '{"type":"SPEC","spec":{"connectionSpecification":{"type":"object"}}}';; *) exit 3;; esac"#;
        let exec = PathExecutor::new("source-args", "/bin/sh")?.with_args(["-c", script, "sh"]);
        assert_eq!(exec.args().len(), 3);
        assert!(exec.describe().starts_with("/bin/sh -c"));
        let spec = crate::spec(&exec)?;
        assert_eq!(spec.connection_specification["type"], "object");
        Ok(())
    }
}
