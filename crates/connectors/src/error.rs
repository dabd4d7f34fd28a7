//! Errors of running and installing connectors.

use std::fmt;
use std::path::PathBuf;

use abrs_protocol::FailureType;

use crate::invocation::Verb;

/// How a connector process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    /// The exit code, when the process exited by itself.
    pub code: Option<i32>,
    /// The signal that ended the process, when it was killed.
    pub signal: Option<i32>,
}

impl ExitInfo {
    /// Whether the process exited with code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl fmt::Display for ExitInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code, self.signal) {
            (Some(c), _) => write!(f, "exit code {c}"),
            (None, Some(s)) => write!(f, "killed by signal {s}"),
            (None, None) => f.write_str("unknown exit status"),
        }
    }
}

/// Everything that can go wrong when installing, starting or running a connector.
///
/// Each variant's message says what failed, why, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The connector's executable (or the `docker`/`python3` program) could not be found.
    #[error("Cannot find the executable for connector `{connector}`: searched {searched}. {hint}")]
    ExecutableNotFound {
        /// The connector's name.
        connector: String,
        /// What was searched (a path, or the directories of PATH).
        searched: String,
        /// What to do about it.
        hint: String,
    },

    /// A file exists where the connector's executable should be, but it cannot be run.
    #[error(
        "The executable of connector `{connector}` at {} is not executable (not a regular file, or no execute permission). Make it executable (`chmod +x`) or point to the right file.",
        path.display()
    )]
    NotExecutable {
        /// The connector's name.
        connector: String,
        /// The offending path.
        path: PathBuf,
    },

    /// The connector is not installed and `auto_fix` was off.
    #[error(
        "Connector `{connector}` is not installed ({detail}). Install it first (e.g. `install()` or `ensure_installation(auto_fix = true)`)."
    )]
    NotInstalled {
        /// The connector's name.
        connector: String,
        /// What is missing.
        detail: String,
    },

    /// Installing (or uninstalling) a connector failed.
    #[error(
        "Installing connector `{connector}` failed: `{command}` {status}.{}{}",
        hint_suffix(hint),
        if stderr_tail.is_empty() { String::new() } else { format!("\nIts output ended with:\n{stderr_tail}") }
    )]
    InstallFailed {
        /// The connector's name.
        connector: String,
        /// The command that failed.
        command: String,
        /// How it ended ("exited with exit code 1", "could not start: …").
        status: String,
        /// The end of the command's stderr (uv's or pip's own words).
        stderr_tail: String,
        /// What to do about it.
        hint: String,
    },

    /// The installed version is not the one asked for, even after reinstalling.
    #[error(
        "Connector `{connector}` has version {found} installed, but version {wanted} was requested. Reinstall it (`ensure_installation` with auto_fix), check that version {wanted} of `{package}` exists on PyPI, or remove the version pin."
    )]
    VersionMismatch {
        /// The connector's name.
        connector: String,
        /// The Python package checked.
        package: String,
        /// The requested version.
        wanted: String,
        /// The installed version ("none" when it cannot be determined).
        found: String,
    },

    /// The executor was given options that do not fit together.
    #[error("Invalid settings for connector `{connector}`: {message}")]
    InvalidOptions {
        /// The connector's name.
        connector: String,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// Writing the config/catalog/state files failed.
    #[error(
        "Could not prepare the temporary files for connector `{connector}` in {}: {source}. Check that the directory (AIRBYTE_TEMP_DIR or the system temp dir) exists, is writable and not full.",
        dir.display()
    )]
    TempFiles {
        /// The connector's name.
        connector: String,
        /// The directory the files were written to.
        dir: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The connector process could not be started.
    #[error(
        "Could not start connector `{connector}` (`{command}`): {source}. Check that the executable exists and is runnable (for a script: its `#!` interpreter is installed)."
    )]
    Spawn {
        /// The connector's name.
        connector: String,
        /// The command line.
        command: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// Reading the connector's output failed (an I/O error on its stdout).
    #[error("Reading the output of connector `{connector}` failed: {source}.")]
    Io {
        /// The connector's name.
        connector: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The connector failed: a non-zero exit, or a TRACE ERROR message (details boxed to keep
    /// `Result`s small).
    #[error("{0}")]
    Failed(Box<ConnectorFailure>),

    /// The connector ended without sending the message it was asked for.
    #[error("{}", missing_text(connector, *verb, expected, log_tail, log_file.as_ref()))]
    MissingMessage {
        /// The connector's name.
        connector: String,
        /// What it was asked to do.
        verb: Verb,
        /// The message type that was expected (e.g. `CATALOG`).
        expected: String,
        /// The last lines of its log.
        log_tail: Vec<String>,
        /// The connector's log file.
        log_file: Option<PathBuf>,
    },
}

/// The details of a failed connector run ([`ConnectorError::Failed`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorFailure {
    /// The connector's name.
    pub connector: String,
    /// What it was asked to do.
    pub verb: Verb,
    /// How it ended, when it has ended.
    pub exit: Option<ExitInfo>,
    /// The message of its TRACE ERROR, when it sent one.
    pub message: Option<String>,
    /// The failure type of its TRACE ERROR.
    pub failure_type: Option<FailureType>,
    /// The internal message of its TRACE ERROR.
    pub internal_message: Option<String>,
    /// The last lines of its log (stderr, LOG messages, unparsable lines).
    pub log_tail: Vec<String>,
    /// The connector's log file, when one could be written.
    pub log_file: Option<PathBuf>,
}

impl fmt::Display for ConnectorFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&failed_text(
            &self.connector,
            self.verb,
            &self.exit,
            self.message.as_deref(),
            self.failure_type.as_ref(),
            self.internal_message.as_deref(),
            &self.log_tail,
            self.log_file.as_ref(),
        ))
    }
}

fn hint_suffix(hint: &str) -> String {
    if hint.is_empty() {
        String::new()
    } else {
        format!(" {hint}")
    }
}

fn tail_block(log_tail: &[String], log_file: Option<&PathBuf>) -> String {
    let mut out = String::new();
    match log_file {
        Some(p) => out.push_str(&format!(
            " See the connector's log file for details: {}.",
            p.display()
        )),
        None => out.push_str(" (No log file could be written.)"),
    }
    if !log_tail.is_empty() {
        out.push_str("\nLast lines of the connector's log:");
        for line in log_tail {
            out.push_str("\n  | ");
            out.push_str(line);
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn failed_text(
    connector: &str,
    verb: Verb,
    exit: &Option<ExitInfo>,
    message: Option<&str>,
    failure_type: Option<&FailureType>,
    internal_message: Option<&str>,
    log_tail: &[String],
    log_file: Option<&PathBuf>,
) -> String {
    let mut out = format!("Connector `{connector}` failed during `{verb}`");
    match (message, exit) {
        (Some(m), Some(e)) if e.success() => {
            let m = m.trim_end_matches('.');
            out.push_str(&format!(
                ": {m} (it reported this error, then exited with code 0)"
            ))
        }
        (Some(m), Some(e)) => out.push_str(&format!(": {} ({e})", m.trim_end_matches('.'))),
        (Some(m), None) => out.push_str(&format!(": {m}")),
        (None, Some(e)) => out.push_str(&format!(": it ended with {e} without reporting an error")),
        (None, None) => out.push_str(" without reporting an error"),
    }
    if !out.ends_with('.') {
        out.push('.');
    }
    if let Some(i) = internal_message.filter(|i| Some(*i) != message) {
        out.push_str(&format!(" Internal message: {i}."));
    }
    match failure_type {
        Some(FailureType::ConfigError) => out.push_str(
            " The connector reports a configuration error (config_error): check your config.",
        ),
        Some(FailureType::TransientError) => out.push_str(
            " The connector reports a transient error (transient_error): retrying may succeed.",
        ),
        Some(ft) => out.push_str(&format!(" Failure type: {ft}.")),
        None => {}
    }
    out.push_str(&tail_block(log_tail, log_file));
    out
}

fn missing_text(
    connector: &str,
    verb: Verb,
    expected: &str,
    log_tail: &[String],
    log_file: Option<&PathBuf>,
) -> String {
    let mut out = format!(
        "Connector `{connector}` finished `{verb}` without sending a {expected} message, so its answer is unknown. Check that it is an Airbyte connector and that its config is valid."
    );
    out.push_str(&tail_block(log_tail, log_file));
    out
}

impl ConnectorError {
    /// The details of a failed run, for [`ConnectorError::Failed`].
    pub fn failure(&self) -> Option<&ConnectorFailure> {
        match self {
            Self::Failed(f) => Some(f),
            _ => None,
        }
    }

    /// The failure type the connector reported, when it sent a TRACE ERROR.
    pub fn failure_type(&self) -> Option<&FailureType> {
        match self {
            Self::Failed(f) => f.failure_type.as_ref(),
            _ => None,
        }
    }

    /// The connector's log file, when the error comes from a run that wrote one.
    pub fn log_file(&self) -> Option<&std::path::Path> {
        match self {
            Self::Failed(f) => f.log_file.as_deref(),
            Self::MissingMessage { log_file, .. } => log_file.as_deref(),
            _ => None,
        }
    }
}
