//! Python connectors installed from PyPI into their own virtualenv (uv, or venv + pip).

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::docker::project_dir;
use crate::error::ConnectorError;
use crate::executor::{Executor, check_executable, execute_program, is_executable_file, which};
use crate::invocation::Invocation;
use crate::process::ConnectorProcess;

/// How a venv is made and filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installer {
    /// `uv venv` + `uv pip install` (uv from PATH, else installed by us into a tool dir).
    Uv,
    /// `python3 -m venv` + `<venv>/bin/pip install`.
    Pip,
}

impl Installer {
    /// `Pip` when `AIRBYTE_NO_UV` is `1`, `true` or `yes` (any case), else `Uv`.
    pub fn from_env() -> Self {
        let no_uv = std::env::var("AIRBYTE_NO_UV")
            .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
            .unwrap_or(false);
        if no_uv { Self::Pip } else { Self::Uv }
    }
}

/// The dir where airbyte-rs installs its own tools (uv): `$HOME/.cache/airbyte-rs/tools`.
pub fn tools_dir() -> PathBuf {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    home.unwrap_or_else(std::env::temp_dir)
        .join(".cache/airbyte-rs/tools")
}

/// Where venvs go by default: `AIRBYTE_INSTALL_DIR`, else `AIRBYTE_PROJECT_DIR`, else the cwd.
pub fn default_install_root() -> PathBuf {
    match std::env::var_os("AIRBYTE_INSTALL_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => project_dir(),
    }
}

/// The stderr lines kept in an install error.
const STDERR_TAIL_LINES: usize = 25;

fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Hides the user:password part of URLs (`git+https://token@host/…` in a pip_url).
fn redact_credentials(arg: &str) -> String {
    if let Some(scheme_end) = arg.find("://") {
        let rest = &arg[scheme_end + 3..];
        let host_end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..host_end].rfind('@') {
            return format!("{}://***@{}", &arg[..scheme_end], &rest[at + 1..]);
        }
    }
    arg.to_string()
}

/// Override requirements as text for logs and errors, credentials hidden.
fn shown_overrides(overrides: &[String]) -> String {
    overrides
        .iter()
        .map(|o| redact_credentials(o))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A command as text for logs and errors, credentials hidden.
fn shown(command: &Command) -> String {
    let mut parts = vec![command.get_program().to_string_lossy().into_owned()];
    parts.extend(
        command
            .get_args()
            .map(|a| redact_credentials(&a.to_string_lossy())),
    );
    parts.join(" ")
}

/// The file in the venv that records the override requirements it was installed with.
const OVERRIDES_RECORD: &str = "airbyte-rs-overrides.txt";

/// A Python connector in `<install root>/.venv-<name>`, run as `<venv>/bin/<name>`, or as
/// `<venv>/bin/airbyte-<name>` when the package names its console script after itself (as
/// `airbyte-destination-ailake` does) and there is no `bin/<name>`.
#[derive(Debug, Clone)]
pub struct VenvExecutor {
    name: String,
    package: String,
    pip_url: Option<String>,
    version: Option<String>,
    overrides: Vec<String>,
    install_root: PathBuf,
    use_python: Option<String>,
    installer: Installer,
    env: Vec<(String, String)>,
}

impl VenvExecutor {
    /// The connector `name` from package `airbyte-<name>`, installed under
    /// [`default_install_root`] with the installer chosen by `AIRBYTE_NO_UV`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            package: format!("airbyte-{name}"),
            pip_url: None,
            version: None,
            overrides: Vec::new(),
            install_root: default_install_root(),
            use_python: None,
            installer: Installer::from_env(),
            env: Vec::new(),
        }
    }

    /// Installs from this pip requirement instead (split like a shell: several args allowed).
    pub fn with_pip_url(mut self, pip_url: impl Into<String>) -> Self {
        self.pip_url = Some(pip_url.into());
        self
    }

    /// Pins the version (`airbyte-<name>==<version>`); checked by `ensure_installation`.
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Requirement lines that replace whatever the packages themselves ask for, given to uv as
    /// an override file (`uv pip install --override <file>`; uv's own format, one requirement a
    /// line, e.g. `airbyte-cdk[vector-db-based]>=7.3.9,<8`). This installs packages whose
    /// published pins cannot be satisfied (airbyte-destination-pgvector 0.1.13).
    ///
    /// The venv records the overrides it was installed with (`airbyte-rs-overrides.txt`):
    /// `ensure_installation` reinstalls when they differ. Only uv has overrides: with the pip
    /// installer, installing fails with [`ConnectorError::InvalidOptions`].
    pub fn with_overrides(mut self, requirements: Vec<String>) -> Self {
        self.overrides = requirements
            .into_iter()
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect();
        self
    }

    /// The override requirements given to uv (see [`Self::with_overrides`]).
    pub fn overrides(&self) -> &[String] {
        &self.overrides
    }

    /// The dir in which `.venv-<name>` is made.
    pub fn with_install_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.install_root = root.into();
        self
    }

    /// The Python to build the venv with: a path or a version (`3.11`).
    pub fn with_python(mut self, python: impl Into<String>) -> Self {
        self.use_python = Some(python.into());
        self
    }

    /// Chooses uv or pip explicitly.
    pub fn with_installer(mut self, installer: Installer) -> Self {
        self.installer = installer;
        self
    }

    /// The PyPI package whose version is checked (default `airbyte-<name>`).
    pub fn with_package_name(mut self, package: impl Into<String>) -> Self {
        self.package = package.into();
        self
    }

    /// Sets an environment variable for the connector and the install commands.
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// An exclusive lock on `<venv>.lock` (beside the venv), held while the venv is installed
    /// or repaired; released when dropped. Blocks while another process or thread holds it.
    fn install_lock(&self) -> Result<std::fs::File, ConnectorError> {
        use std::os::fd::AsRawFd;
        let venv = self.venv_path();
        let path = venv.with_file_name(format!(
            "{}.lock",
            venv.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| ".venv".into())
        ));
        let failed = |e: std::io::Error| ConnectorError::InstallFailed {
            connector: self.name.clone(),
            command: format!("lock {}", path.display()),
            status: format!("failed: {e}"),
            stderr_tail: String::new(),
            hint: "Check that the install directory exists and is writable.".into(),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(failed)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(failed)?;
        loop {
            // SAFETY: flock on an fd we own, for the life of `file`.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return Ok(file);
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(failed(e));
            }
        }
    }

    /// `<install root>/.venv-<name>`.
    pub fn venv_path(&self) -> PathBuf {
        self.install_root.join(format!(".venv-{}", self.name))
    }

    /// The executables looked for, in order: `<venv>/bin/<name>`, then
    /// `<venv>/bin/airbyte-<name>` (unless the name already starts with `airbyte-`).
    pub fn executable_candidates(&self) -> Vec<PathBuf> {
        let bin = self.venv_path().join("bin");
        let mut candidates = vec![bin.join(&self.name)];
        if !self.name.starts_with("airbyte-") {
            candidates.push(bin.join(format!("airbyte-{}", self.name)));
        }
        candidates
    }

    /// The connector's executable: the first of [`Self::executable_candidates`] that exists,
    /// else (nothing installed yet) `<venv>/bin/<name>`.
    pub fn executable_path(&self) -> PathBuf {
        let mut candidates = self.executable_candidates();
        match candidates.iter().position(|c| c.exists()) {
            Some(i) => candidates.swap_remove(i),
            None => candidates.swap_remove(0),
        }
    }

    /// The executable when one of the candidates exists.
    fn found_executable(&self) -> Option<PathBuf> {
        self.executable_candidates()
            .into_iter()
            .find(|c| c.exists())
    }

    /// Why no executable was found: what was looked for, and what in `bin/` looks like a
    /// connector (so a user can see the name the package really installed).
    fn missing_executable_detail(&self) -> String {
        let bin = self.venv_path().join("bin");
        let looked_for: Vec<String> = self
            .executable_candidates()
            .iter()
            .filter_map(|c| c.file_name().map(|n| format!("`{}`", n.to_string_lossy())))
            .collect();
        let mut found: Vec<String> = std::fs::read_dir(&bin)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.contains("source-") || n.contains("destination-"))
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        let holds = if !bin.is_dir() {
            "that directory does not exist".to_string()
        } else if found.is_empty() {
            "it holds nothing named like a connector (`source-*`, `destination-*`)".to_string()
        } else {
            format!(
                "it holds {}",
                found
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        format!(
            "looked for {} in {}; {holds}. If the package names its executable differently, run \
             that file as a local executable",
            looked_for.join(" and "),
            bin.display()
        )
    }

    /// Where the override file given to uv is written (beside the record, so it can be renamed
    /// over it).
    fn pending_overrides_path(&self) -> PathBuf {
        self.venv_path().join(format!("{OVERRIDES_RECORD}.pending"))
    }

    /// After a successful install: the pending override file becomes the record (none when
    /// there are no overrides), so a failed install never looks like one done with them.
    fn record_overrides(&self) {
        let record = self.venv_path().join(OVERRIDES_RECORD);
        let outcome = if self.overrides.is_empty() {
            match std::fs::remove_file(&record) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            }
        } else {
            std::fs::rename(self.pending_overrides_path(), &record)
        };
        if let Err(e) = outcome {
            tracing::warn!(
                connector = %self.name,
                "could not record the overrides in {}: {e}; the next check will reinstall",
                record.display()
            );
        }
    }

    /// The overrides the venv was installed with (empty when it records none).
    fn recorded_overrides(&self) -> Vec<String> {
        std::fs::read_to_string(self.venv_path().join(OVERRIDES_RECORD))
            .map(|text| {
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn venv_python(&self) -> PathBuf {
        self.venv_path().join("bin").join("python")
    }

    /// What `pip install` is given.
    pub fn requirements(&self) -> Result<Vec<String>, ConnectorError> {
        match (&self.pip_url, &self.version) {
            (Some(url), _) => shlex::split(url).filter(|v| !v.is_empty()).ok_or_else(|| {
                ConnectorError::InvalidOptions {
                    connector: self.name.clone(),
                    message: format!("pip_url `{url}` cannot be split into arguments (unbalanced quotes?) or is empty."),
                }
            }),
            (None, Some(v)) if v != "latest" => Ok(vec![format!("{}=={v}", self.package)]),
            (None, _) => Ok(vec![self.package.clone()]),
        }
    }

    fn path_var(&self) -> Option<std::ffi::OsString> {
        crate::executor::path_from_env(&self.env)
    }

    fn failed(
        &self,
        command: &Command,
        status: String,
        stderr: &str,
        hint: &str,
    ) -> ConnectorError {
        ConnectorError::InstallFailed {
            connector: self.name.clone(),
            command: shown(command),
            status,
            stderr_tail: tail_lines(stderr, STDERR_TAIL_LINES),
            hint: hint.to_string(),
        }
    }

    /// Runs an install step, capturing its output for the error.
    fn run_step(&self, mut command: Command, hint: &str) -> Result<(), ConnectorError> {
        command
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        tracing::info!(connector = %self.name, "running {}", shown(&command));
        match command.output() {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => {
                let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
                if text.trim().is_empty() {
                    text = String::from_utf8_lossy(&out.stdout).into_owned();
                }
                Err(self.failed(&command, format!("failed ({})", out.status), &text, hint))
            }
            Err(e) => Err(self.failed(&command, format!("could not start: {e}"), "", hint)),
        }
    }

    fn python3(&self) -> Result<PathBuf, ConnectorError> {
        let pv = self.path_var();
        which("python3", pv.as_deref()).ok_or_else(|| ConnectorError::ExecutableNotFound {
            connector: self.name.clone(),
            searched: format!("`python3` in {}", crate::executor::describe_path_var(pv.as_deref())),
            hint: "Install Python 3 (python3 on PATH) to install Python connectors, or use a Docker image.".to_string(),
        })
    }

    /// `uv` from PATH, else from our tool dir, installed there with pip when missing.
    fn uv(&self) -> Result<PathBuf, ConnectorError> {
        if let Some(uv) = which("uv", self.path_var().as_deref()) {
            return Ok(uv);
        }
        let dir = tools_dir().join("uv");
        let uv = dir.join("bin").join("uv");
        if is_executable_file(&uv) {
            return Ok(uv);
        }
        let python = self.python3()?;
        let staging = tools_dir().join(format!("uv-staging-{}", uuid::Uuid::new_v4().simple()));
        let mut cmd = Command::new(&python);
        cmd.args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(&staging)
        .arg("uv");
        let result = self.run_step(
            cmd,
            "uv was not on PATH, and installing it with pip failed. Install uv yourself, or set AIRBYTE_NO_UV=1 to use venv + pip.",
        );
        if let Err(e) = result {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
        // Another process may have won the race; either copy will do.
        if std::fs::rename(&staging, &dir).is_err() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        if is_executable_file(&uv) {
            Ok(uv)
        } else {
            Err(ConnectorError::ExecutableNotFound {
                connector: self.name.clone(),
                searched: uv.display().to_string(),
                hint: "pip installed the `uv` package but no `bin/uv` appeared. Install uv on PATH yourself, or set AIRBYTE_NO_UV=1.".to_string(),
            })
        }
    }

    fn pip_python(&self) -> Result<PathBuf, ConnectorError> {
        match &self.use_python {
            None => self.python3(),
            Some(p) if p.contains('/') => Ok(PathBuf::from(p)),
            Some(v) => {
                let name = format!("python{v}");
                let pv = self.path_var();
                which(&name, pv.as_deref()).ok_or_else(|| ConnectorError::ExecutableNotFound {
                    connector: self.name.clone(),
                    searched: format!(
                        "`{name}` in {}",
                        crate::executor::describe_path_var(pv.as_deref())
                    ),
                    hint: format!("Install Python {v}, or give the path of a Python interpreter."),
                })
            }
        }
    }

    /// Makes the venv if needed and installs the requirements into it; `force` reinstalls
    /// packages that are already there (to repair a venv whose executable went missing).
    /// Checks the venv (python, executable, version, overrides); with `auto_fix`, installs
    /// or reinstalls what is wrong. Callers that fix hold the install lock.
    fn check_installation(&self, auto_fix: bool) -> Result<(), ConnectorError> {
        if !self.venv_python().exists() || self.found_executable().is_none() {
            if !auto_fix {
                let detail = if self.venv_python().exists() {
                    self.missing_executable_detail()
                } else {
                    format!("{} does not exist", self.venv_path().display())
                };
                return Err(ConnectorError::NotInstalled {
                    connector: self.name.clone(),
                    detail,
                });
            }
            // A venv without the executable is broken: reinstall over it.
            self.install_with(self.venv_python().exists())?;
        }
        if let Some(wanted) = self.version.as_deref().filter(|v| *v != "latest") {
            let found = self.installed_version();
            if found.as_deref() != Some(wanted) {
                if auto_fix {
                    tracing::info!(
                        connector = %self.name,
                        "installed version {} differs from {wanted}; reinstalling",
                        found.as_deref().unwrap_or("none")
                    );
                    self.install_with(false)?;
                }
                let found = self.installed_version();
                if found.as_deref() != Some(wanted) {
                    return Err(ConnectorError::VersionMismatch {
                        connector: self.name.clone(),
                        package: self.package.clone(),
                        wanted: wanted.to_string(),
                        found: found.unwrap_or_else(|| "none".into()),
                    });
                }
            }
        }
        let recorded = self.recorded_overrides();
        if recorded != self.overrides {
            let describe = |o: &[String]| {
                if o.is_empty() {
                    "none".to_string()
                } else {
                    shown_overrides(o)
                }
            };
            if !auto_fix {
                return Err(ConnectorError::NotInstalled {
                    connector: self.name.clone(),
                    detail: format!(
                        "{} was installed with overrides {}, but overrides {} were requested",
                        self.venv_path().display(),
                        describe(&recorded),
                        describe(&self.overrides)
                    ),
                });
            }
            tracing::info!(
                connector = %self.name,
                "installed with overrides {}, {} requested; reinstalling",
                describe(&recorded),
                describe(&self.overrides)
            );
            self.install_with(false)?;
        }
        let Some(exe) = self.found_executable() else {
            return Err(ConnectorError::NotInstalled {
                connector: self.name.clone(),
                detail: format!(
                    "the package was installed but provides no executable: {}",
                    self.missing_executable_detail()
                ),
            });
        };
        check_executable(&self.name, &exe)
    }

    /// Options that can never install, refused before anything is created.
    fn check_install_options(&self) -> Result<Vec<String>, ConnectorError> {
        let requirements = self.requirements()?;
        if self.installer == Installer::Pip && !self.overrides.is_empty() {
            return Err(ConnectorError::InvalidOptions {
                connector: self.name.clone(),
                message: format!(
                    "pip overrides ({}) need uv, but the pip installer was chosen \
                     (AIRBYTE_NO_UV is set, or Installer::Pip): pip has no override files. \
                     Unset AIRBYTE_NO_UV to install with uv, or drop the overrides.",
                    shown_overrides(&self.overrides)
                ),
            });
        }
        Ok(requirements)
    }

    fn install_with(&self, force: bool) -> Result<(), ConnectorError> {
        let requirements = self.check_install_options()?;
        let venv = self.venv_path();
        let created_here = !venv.exists();
        if let Err(e) = std::fs::create_dir_all(&self.install_root) {
            return Err(ConnectorError::InstallFailed {
                connector: self.name.clone(),
                command: format!("mkdir -p {}", self.install_root.display()),
                status: format!("failed: {e}"),
                stderr_tail: String::new(),
                hint: "Choose a writable install dir (AIRBYTE_INSTALL_DIR).".into(),
            });
        }
        let result = self.install_inner(&venv, &requirements, force);
        if result.is_ok() {
            self.record_overrides();
        }
        if result.is_err() && created_here {
            // Do not leave a half-made venv that would look installed next time.
            let _ = std::fs::remove_dir_all(&venv);
        }
        result
    }

    fn install_inner(
        &self,
        venv: &Path,
        requirements: &[String],
        force: bool,
    ) -> Result<(), ConnectorError> {
        let python = self.venv_python();
        let hint = "Check the package name and version on PyPI and the network access to it.";
        match self.installer {
            Installer::Uv => {
                let uv = self.uv()?;
                if !python.exists() {
                    let mut cmd = Command::new(&uv);
                    cmd.arg("venv").arg(venv).arg("--quiet");
                    if let Some(p) = &self.use_python {
                        cmd.args(["--python", p]);
                    }
                    self.run_step(cmd, "Check that the requested Python is installed.")?;
                }
                let mut cmd = Command::new(&uv);
                cmd.args(["pip", "install", "--quiet", "--python"])
                    .arg(&python);
                if force {
                    cmd.arg("--reinstall");
                }
                let pending = self.pending_overrides_path();
                if !self.overrides.is_empty() {
                    let text = self.overrides.join("\n") + "\n";
                    // 0600: an override may be a URL with a token in it.
                    let written = std::fs::OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(true)
                        .mode(0o600)
                        .open(&pending)
                        .and_then(|mut f| f.write_all(text.as_bytes()));
                    if let Err(e) = written {
                        return Err(ConnectorError::InstallFailed {
                            connector: self.name.clone(),
                            command: format!("write {}", pending.display()),
                            status: format!("failed: {e}"),
                            stderr_tail: String::new(),
                            hint: "Check that the venv directory is writable and not full.".into(),
                        });
                    }
                    cmd.arg("--override").arg(&pending);
                }
                cmd.args(requirements);
                let result = self.run_step(cmd, hint);
                if result.is_err() {
                    let _ = std::fs::remove_file(&pending);
                }
                result
            }
            Installer::Pip => {
                if !python.exists() {
                    let mut cmd = Command::new(self.pip_python()?);
                    cmd.args(["-m", "venv"]).arg(venv);
                    self.run_step(
                        cmd,
                        "Check that Python's venv module is installed (e.g. the python3-venv package).",
                    )?;
                }
                let mut cmd = Command::new(venv.join("bin").join("pip"));
                cmd.args(["install", "--quiet", "--disable-pip-version-check"]);
                if force {
                    cmd.arg("--force-reinstall");
                }
                cmd.args(requirements);
                self.run_step(cmd, hint)
            }
        }
    }
}

impl Executor for VenvExecutor {
    fn name(&self) -> &str {
        &self.name
    }

    fn execute(&self, invocation: Invocation) -> Result<ConnectorProcess, ConnectorError> {
        let Some(exe) = self.found_executable() else {
            return Err(ConnectorError::NotInstalled {
                connector: self.name.clone(),
                detail: self.missing_executable_detail(),
            });
        };
        check_executable(&self.name, &exe)?;
        execute_program(&self.name, &exe, &self.env, invocation)
    }

    fn ensure_installation(&self, auto_fix: bool) -> Result<(), ConnectorError> {
        // Installed as asked: no lock, nothing written.
        let checked = self.check_installation(false);
        if checked.is_ok() || !auto_fix {
            return checked;
        }
        self.check_install_options()?;
        // Two programs (or threads) installing one venv at once break it: fixes are
        // serialized, and checked again once the lock is ours (another may have just fixed it).
        let _lock = self.install_lock()?;
        self.check_installation(true)
    }

    fn install(&self) -> Result<(), ConnectorError> {
        let _lock = self.install_lock()?;
        self.install_with(false)
    }

    fn uninstall(&self) -> Result<(), ConnectorError> {
        let venv = self.venv_path();
        match std::fs::remove_dir_all(&venv) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ConnectorError::InstallFailed {
                connector: self.name.clone(),
                command: format!("rm -r {}", venv.display()),
                status: format!("failed: {e}"),
                stderr_tail: String::new(),
                hint: "Check the permissions of the venv directory.".into(),
            }),
        }
    }

    fn installed_version(&self) -> Option<String> {
        let python = self.venv_python();
        if !python.exists() {
            return None;
        }
        let code = format!(
            "import importlib.metadata as m; print(m.version({}))",
            serde_json::to_string(&self.package).ok()?
        );
        let out = Command::new(&python)
            .args([OsStr::new("-c"), OsStr::new(&code)])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (out.status.success() && !v.is_empty()).then_some(v)
    }

    fn describe(&self) -> String {
        self.executable_path().display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_and_paths() {
        let v = VenvExecutor::new("source-faker").with_install_root("/x");
        assert_eq!(v.venv_path(), PathBuf::from("/x/.venv-source-faker"));
        assert_eq!(
            v.executable_path(),
            PathBuf::from("/x/.venv-source-faker/bin/source-faker")
        );
        assert_eq!(v.requirements().unwrap(), vec!["airbyte-source-faker"]);
        let v = v.with_version("6.2.1");
        assert_eq!(
            v.requirements().unwrap(),
            vec!["airbyte-source-faker==6.2.1"]
        );
        let v = v.with_pip_url("'airbyte-source-faker @ file:///a b' extra");
        assert_eq!(
            v.requirements().unwrap(),
            vec!["airbyte-source-faker @ file:///a b", "extra"]
        );
    }

    #[test]
    fn credentials_are_hidden() {
        assert_eq!(
            redact_credentials("git+https://user:tok@github.com/a/b.git"),
            "git+https://***@github.com/a/b.git"
        );
        assert_eq!(
            redact_credentials("airbyte-source-x==1"),
            "airbyte-source-x==1"
        );
        assert_eq!(redact_credentials("https://host/p@x"), "https://host/p@x");
    }

    /// A venv layout without Python packages: `bin/python` and the given executables.
    fn fake_venv(root: &Path, name: &str, executables: &[&str]) -> VenvExecutor {
        use std::os::unix::fs::PermissionsExt;
        let exec = VenvExecutor::new(name).with_install_root(root);
        let bin = exec.venv_path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for file in executables.iter().chain(&["python"]) {
            let path = bin.join(file);
            std::fs::write(&path, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        exec
    }

    #[test]
    fn executable_falls_back_to_the_airbyte_prefixed_script() {
        let root = tempfile::tempdir().unwrap();
        let exec = fake_venv(
            root.path(),
            "destination-ailake",
            &["airbyte-destination-ailake", "airbyte-cdk"],
        );
        let bin = exec.venv_path().join("bin");
        assert_eq!(
            exec.executable_candidates(),
            [
                bin.join("destination-ailake"),
                bin.join("airbyte-destination-ailake")
            ]
        );
        assert_eq!(
            exec.executable_path(),
            bin.join("airbyte-destination-ailake")
        );
        exec.ensure_installation(false).unwrap();
        assert!(exec.describe().ends_with("bin/airbyte-destination-ailake"));

        // `bin/<name>` wins when both exist, as in PyAirbyte.
        let both = fake_venv(
            root.path(),
            "destination-both",
            &["destination-both", "airbyte-destination-both"],
        );
        assert_eq!(
            both.executable_path(),
            both.venv_path().join("bin/destination-both")
        );

        // A name that already starts with `airbyte-` is looked for once.
        let prefixed = VenvExecutor::new("airbyte-x").with_install_root(root.path());
        assert_eq!(prefixed.executable_candidates().len(), 1);
    }

    #[test]
    fn a_missing_executable_error_lists_what_was_looked_for_and_what_is_there() {
        let root = tempfile::tempdir().unwrap();
        let exec = fake_venv(
            root.path(),
            "destination-x",
            &["x-destination-runner", "source-declarative-manifest", "pip"],
        );
        // Nothing to run: the path reported is still the primary one.
        assert_eq!(
            exec.executable_path(),
            exec.venv_path().join("bin/destination-x")
        );
        let err = exec.ensure_installation(false).unwrap_err();
        let ConnectorError::NotInstalled { detail, .. } = &err else {
            panic!("{err:?}")
        };
        for wanted in [
            "`destination-x`",
            "`airbyte-destination-x`",
            "`source-declarative-manifest`",
            "`x-destination-runner`",
        ] {
            assert!(detail.contains(wanted), "{wanted} in {err}");
        }
        assert!(!detail.contains("`pip`"), "{err}");
        let Err(err) = exec.execute(Invocation::spec()) else {
            panic!("executed without an executable")
        };
        assert!(err.to_string().contains("`airbyte-destination-x`"), "{err}");

        // No venv at all: says so.
        let none = VenvExecutor::new("destination-y").with_install_root(root.path());
        let err = none.ensure_installation(false).unwrap_err();
        assert!(
            err.to_string()
                .contains(".venv-destination-y does not exist"),
            "{err}"
        );
    }

    #[test]
    fn overrides_need_uv() {
        let root = tempfile::tempdir().unwrap();
        let exec = VenvExecutor::new("destination-x")
            .with_install_root(root.path().join("root"))
            .with_installer(Installer::Pip)
            .with_overrides(vec![
                "pandas<2.2".into(),
                " ".into(),
                "x @ git+https://user:tok@example.com/x.git".into(),
            ]);
        assert_eq!(
            exec.overrides(),
            ["pandas<2.2", "x @ git+https://user:tok@example.com/x.git"]
        );
        let err = exec.ensure_installation(true).unwrap_err();
        let ConnectorError::InvalidOptions { message, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(message.contains("need uv"), "{err}");
        assert!(message.contains("pandas<2.2"), "{err}");
        assert!(!message.contains("tok"), "credentials hidden: {err}");
        assert!(!root.path().join("root").exists(), "nothing was made");
    }

    #[test]
    fn overrides_other_than_the_recorded_ones_mean_not_installed() {
        let root = tempfile::tempdir().unwrap();
        let exec = fake_venv(root.path(), "destination-x", &["destination-x"]);
        exec.ensure_installation(false).unwrap();
        let wanted = exec.clone().with_overrides(vec!["numpy<2".into()]);
        let err = wanted.ensure_installation(false).unwrap_err();
        let ConnectorError::NotInstalled { detail, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(
            detail.contains("installed with overrides none, but overrides numpy<2 were requested"),
            "{err}"
        );
        std::fs::write(exec.venv_path().join(OVERRIDES_RECORD), "numpy<2\n").unwrap();
        wanted.ensure_installation(false).unwrap();
        assert!(exec.ensure_installation(false).is_err());
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail_lines("a\n\nb\nc\n", 2), "b\nc");
    }
}
