//! Connectors run as Docker images (`docker run --rm -i …`).

use std::path::{Path, PathBuf};

use crate::error::ConnectorError;
use crate::executor::{Executor, describe_path_var, path_from_env, which};
use crate::invocation::{Invocation, prepare_files, temp_root};
use crate::process::{ConnectorCommand, ConnectorProcess};

/// Where the per-run temp dir (config, catalog, state) is mounted in the container.
pub const CONTAINER_TEMP_DIR: &str = "/airbyte/tmp";
/// Where `<project dir>/<connector>` is mounted in the container.
pub const CONTAINER_LOCAL_DIR: &str = "/local";

/// The project dir: `AIRBYTE_PROJECT_DIR`, else the current directory.
pub fn project_dir() -> PathBuf {
    match std::env::var_os("AIRBYTE_PROJECT_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    }
}

/// A connector run from a Docker image.
///
/// `docker run --rm -i --volume <project dir>/<name>:/local --volume <run temp dir>:/airbyte/tmp
/// [--network host] <image> <args…>`, with file arguments rewritten to their container paths.
#[derive(Debug, Clone)]
pub struct DockerExecutor {
    name: String,
    image: String,
    use_host_network: bool,
    docker_program: Option<PathBuf>,
    project_dir: PathBuf,
    env: Vec<(String, String)>,
}

/// Whether the image reference already has a tag (a `:` after the last `/`) or a digest.
fn has_tag(image: &str) -> bool {
    let last = image.rsplit('/').next().unwrap_or(image);
    last.contains(':') || image.contains('@')
}

impl DockerExecutor {
    /// `image` defaults to `airbyte/<name>`. Without a tag, `:<version>` (or `:latest`) is
    /// appended; a tag and a `version` together are an error.
    pub fn new(
        name: &str,
        image: Option<&str>,
        version: Option<&str>,
    ) -> Result<Self, ConnectorError> {
        let image = image.map_or_else(|| format!("airbyte/{name}"), str::to_string);
        let image = match (has_tag(&image), version) {
            (true, Some(v)) => {
                return Err(ConnectorError::InvalidOptions {
                    connector: name.to_string(),
                    message: format!(
                        "the Docker image `{image}` already has a tag, and version `{v}` was also given. Give either a tagged image or a version, not both."
                    ),
                });
            }
            (true, None) => image,
            (false, v) => format!("{image}:{}", v.unwrap_or("latest")),
        };
        Ok(Self {
            name: name.to_string(),
            image,
            use_host_network: false,
            docker_program: None,
            project_dir: project_dir(),
            env: Vec::new(),
        })
    }

    /// Runs the container with `--network host`.
    pub fn with_host_network(mut self, on: bool) -> Self {
        self.use_host_network = on;
        self
    }

    /// Uses this `docker` program instead of the one found on PATH.
    pub fn with_docker_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.docker_program = Some(program.into());
        self
    }

    /// Sets the dir whose `<name>` subdir is mounted at `/local` (default: the project dir).
    pub fn with_project_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.project_dir = dir.into();
        self
    }

    /// Sets an environment variable for the `docker` client process (e.g. `PATH`,
    /// `DOCKER_HOST`). It is not passed into the container.
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The full image reference, with its tag.
    pub fn image(&self) -> &str {
        &self.image
    }

    /// The host dir mounted at `/local`.
    pub fn local_mount_dir(&self) -> PathBuf {
        self.project_dir.join(&self.name)
    }

    fn docker_program(&self) -> Result<PathBuf, ConnectorError> {
        if let Some(p) = &self.docker_program {
            return Ok(p.clone());
        }
        let path_var = path_from_env(&self.env);
        which("docker", path_var.as_deref()).ok_or_else(|| ConnectorError::ExecutableNotFound {
            connector: self.name.clone(),
            searched: format!("`docker` in {}", describe_path_var(path_var.as_deref())),
            hint: "Install Docker (the `docker` client on PATH and a running engine), or run the connector another way (Python package or local executable).".to_string(),
        })
    }

    /// The volumes: host dir → container dir.
    fn volumes(&self, temp_dir: &Path) -> Vec<(PathBuf, String)> {
        vec![
            (self.local_mount_dir(), CONTAINER_LOCAL_DIR.to_string()),
            (temp_dir.to_path_buf(), CONTAINER_TEMP_DIR.to_string()),
        ]
    }

    /// The full `docker` command for connector `args`, with the run's temp dir `temp_dir`
    /// mounted at `/airbyte/tmp`. Existing files under a mounted dir are rewritten to their
    /// container path; an existing file outside every mount is an error (the container could
    /// not see it).
    pub fn command(
        &self,
        args: &[String],
        temp_dir: &Path,
    ) -> Result<ConnectorCommand, ConnectorError> {
        let volumes = self.volumes(temp_dir);
        let mut out = vec!["run".to_string(), "--rm".into(), "-i".into()];
        for (host, container) in &volumes {
            out.push("--volume".into());
            out.push(format!("{}:{container}", host.display()));
        }
        if self.use_host_network {
            out.push("--network".into());
            out.push("host".into());
        }
        out.push(self.image.clone());
        for arg in args {
            out.push(self.map_arg(arg, &volumes)?);
        }
        Ok(ConnectorCommand {
            program: self.docker_program()?,
            args: out,
            env: self.env.clone(),
        })
    }

    fn map_arg(&self, arg: &str, volumes: &[(PathBuf, String)]) -> Result<String, ConnectorError> {
        let path = Path::new(arg);
        if !path.is_absolute() || !path.exists() {
            return Ok(arg.to_string());
        }
        for (host, container) in volumes {
            if let Ok(rel) = path.strip_prefix(host) {
                let mapped = Path::new(container).join(rel);
                tracing::debug!("mapping `{arg}` to `{}` in the container", mapped.display());
                return Ok(mapped.to_string_lossy().into_owned());
            }
        }
        Err(ConnectorError::InvalidOptions {
            connector: self.name.clone(),
            message: format!(
                "the file argument `{arg}` is not under a directory mounted into the container ({}). Put the file under {} (mounted at {CONTAINER_LOCAL_DIR}).",
                volumes
                    .iter()
                    .map(|(h, c)| format!("{} → {c}", h.display()))
                    .collect::<Vec<_>>()
                    .join(", "),
                self.local_mount_dir().display()
            ),
        })
    }
}

impl Executor for DockerExecutor {
    fn name(&self) -> &str {
        &self.name
    }

    fn execute(&self, invocation: Invocation) -> Result<ConnectorProcess, ConnectorError> {
        let files = prepare_files(&self.name, &invocation, &temp_root())?;
        let local = self.local_mount_dir();
        // Create it ourselves: otherwise the Docker engine creates it owned by root.
        std::fs::create_dir_all(&local).map_err(|source| ConnectorError::TempFiles {
            connector: self.name.clone(),
            dir: local.clone(),
            source,
        })?;
        let command = self.command(&files.args, files.dir())?;
        ConnectorProcess::spawn(&self.name, command, invocation, Some(files))
    }

    fn ensure_installation(&self, _auto_fix: bool) -> Result<(), ConnectorError> {
        // The image itself is pulled by `docker run`; the client must be there.
        self.docker_program().map(|_| ())
    }

    fn install(&self) -> Result<(), ConnectorError> {
        Err(ConnectorError::InvalidOptions {
            connector: self.name.clone(),
            message: format!(
                "Docker image `{}` is not installed by airbyte-rs: `docker run` pulls it on first use.",
                self.image
            ),
        })
    }

    fn uninstall(&self) -> Result<(), ConnectorError> {
        Err(ConnectorError::InvalidOptions {
            connector: self.name.clone(),
            message: format!(
                "Docker image `{}` is not managed by airbyte-rs; remove it with `docker image rm {}`.",
                self.image, self.image
            ),
        })
    }

    fn installed_version(&self) -> Option<String> {
        let last = self.image.rsplit('/').next()?;
        let (_, tag) = last.split_once(':')?;
        (tag != "latest").then(|| tag.to_string())
    }

    fn describe(&self) -> String {
        let program = self
            .docker_program()
            .unwrap_or_else(|_| PathBuf::from("docker"));
        let mut cmd = ConnectorCommand {
            program,
            args: vec![],
            env: vec![],
        };
        cmd.args = vec!["run".into(), "--rm".into(), "-i".into()];
        for (host, container) in self.volumes(Path::new("<temp dir>")) {
            cmd.args.push("--volume".into());
            cmd.args.push(format!("{}:{container}", host.display()));
        }
        if self.use_host_network {
            cmd.args.push("--network".into());
            cmd.args.push("host".into());
        }
        cmd.args.push(self.image.clone());
        cmd.display()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        assert!(has_tag("airbyte/source-faker:1.0"));
        assert!(!has_tag("localhost:5000/airbyte/source-faker"));
        assert!(has_tag("localhost:5000/airbyte/source-faker:2"));
        let d = DockerExecutor::new("source-x", None, None).unwrap();
        assert_eq!(d.image(), "airbyte/source-x:latest");
        let d = DockerExecutor::new("source-x", None, Some("1.2.3")).unwrap();
        assert_eq!(d.image(), "airbyte/source-x:1.2.3");
        assert_eq!(d.installed_version().as_deref(), Some("1.2.3"));
        assert!(DockerExecutor::new("source-x", Some("me/img:3"), Some("1")).is_err());
    }
}
