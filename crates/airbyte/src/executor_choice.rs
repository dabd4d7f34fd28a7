//! Choosing how to run a connector from `get_source`'s options (PyAirbyte's
//! `_executors/util.py:get_connector_executor`).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::registry::{self, InstallType};
use crate::source::SourceOptions;

/// How a connector will be run, decided before anything is installed or started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutorPlan {
    /// A local executable.
    Local {
        /// Its path.
        path: PathBuf,
    },
    /// A Python package installed into `<install_root>/.venv-<name>`.
    Python {
        /// What pip installs (`airbyte-source-x==1.2`, a git URL, a local path, …).
        pip_url: String,
        /// The package whose version is checked (`airbyte-<name>`).
        package: String,
        /// The wanted version, when pinned.
        version: Option<String>,
        /// The interpreter: a path or a version such as `3.11`; `None` = default.
        interpreter: Option<String>,
    },
    /// A declarative (YAML) manifest: run natively in-process by the `abrs-declarative`
    /// engine, or — with `use_python`, or when it has `Custom*` components — by airbyte-cdk's
    /// `source-declarative-manifest` in `<install_root>/.venv-source-declarative-manifest`.
    Declarative {
        /// Where the manifest came from (a path, or `inline`).
        origin: String,
        /// The manifest.
        manifest: serde_json::Value,
        /// The interpreter for the CDK's venv: a path or a version; `None` = default.
        interpreter: Option<String>,
        /// Whether the native engine runs it (else the Python CDK).
        native: bool,
    },
    /// A Docker image run with `docker run --rm -i`.
    Docker {
        /// The image with its tag.
        image: String,
        /// `--network host`.
        use_host_network: bool,
    },
}

/// How `use_python` was given: `true`, `false` (= Docker), or an interpreter (path/version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsePython {
    /// Python, with the default interpreter.
    Yes,
    /// Not Python: run it in Docker (PyAirbyte's `use_python=False`).
    No,
    /// Python with this interpreter (a path, or a version like `3.11`).
    Interpreter(String),
}

impl UsePython {
    /// Parses the CLI's `--use-python` value: `true`/`false`-like words, else an interpreter.
    pub fn parse(text: &str) -> Self {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "1" | "true" | "t" | "yes" | "y" | "on" => Self::Yes,
            "0" | "false" | "f" | "no" | "n" | "off" => Self::No,
            _ => Self::Interpreter(text.trim().to_string()),
        }
    }
}

/// Whether the Docker option means "the default image" rather than an image name.
fn is_default_image_word(s: &str) -> bool {
    matches!(
        s.trim().to_ascii_lowercase().as_str(),
        "" | "true" | "1" | "yes" | "y" | "on" | "t"
    )
}

/// `name` on PATH, as an executable file.
fn find_on_path(name: &str) -> Option<PathBuf> {
    abrs_connectors::which(name, None)
}

/// A connector name used to name venvs and images: the file name of a path.
pub(crate) fn connector_name_of(name: &str) -> String {
    if name.contains('/') {
        Path::new(name)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| name.to_string())
    } else {
        name.to_string()
    }
}

fn docker_plan(name: &str, image: Option<&str>, opts: &SourceOptions) -> Result<ExecutorPlan> {
    let base_name = connector_name_of(name);
    let mut image = match image {
        Some(i) if !is_default_image_word(i) => i.trim().to_string(),
        _ => format!("airbyte/{base_name}"),
    };
    // A tag is a `:` after the last `/` (a registry host may carry a port).
    let has_tag = image
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'))
        || image.contains('@');
    match (&opts.version, has_tag) {
        (Some(v), true) => {
            return Err(Error::input(
                format!("both a version ({v}) and an image with a tag ({image}) were given"),
                "give the version in the image tag or with `version`, not both",
            ));
        }
        (Some(v), false) => image = format!("{image}:{v}"),
        (None, false) => image.push_str(":latest"),
        (None, true) => {}
    }
    Ok(ExecutorPlan::Docker {
        image,
        use_host_network: opts.use_host_network,
    })
}

fn python_plan(name: &str, opts: &SourceOptions, registry_package: Option<String>) -> ExecutorPlan {
    let base_name = connector_name_of(name);
    let package = registry_package.unwrap_or_else(|| format!("airbyte-{base_name}"));
    let pip_url = match (&opts.pip_url, &opts.version) {
        (Some(url), _) => url.clone(),
        (None, Some(v)) if v != "latest" => format!("{package}=={v}"),
        (None, _) => package.clone(),
    };
    let interpreter = match &opts.use_python {
        Some(UsePython::Interpreter(i)) => Some(i.clone()),
        _ => None,
    };
    ExecutorPlan::Python {
        pip_url,
        package,
        version: opts.version.clone().filter(|v| v != "latest"),
        interpreter,
    }
}

/// Decides how to run `name` (PyAirbyte's rules):
///
/// * at most one of `local_executable`, `docker_image`, `pip_url`/`use_python` may be given;
///   `version` with `pip_url` is rejected; `use_python = false` means Docker;
/// * a name containing `/` is a path to a local executable;
/// * with no method given: a name found on PATH runs as a local executable; else the registry
///   ([`crate::registry`]) decides (`default_install_type`: YAML > Python > Docker): a
///   manifest-only connector's manifest is fetched ([`registry::manifests::connector_manifest`])
///   and run natively, a Python one is installed from PyPI with the registry's package name and
///   the version pin. A name the current registry lacks is an error naming the closest names;
///   one missing from a saved copy or the bundled snapshot (which may be older than the
///   connector), or any name with the registry turned off, is tried as `airbyte-<name>` on PyPI.
pub fn choose_executor(name: &str, opts: &SourceOptions) -> Result<ExecutorPlan> {
    let wants_python = opts.pip_url.is_some()
        || matches!(
            opts.use_python,
            Some(UsePython::Yes | UsePython::Interpreter(_))
        );
    let wants_docker = opts.docker_image.is_some() || opts.use_python == Some(UsePython::No);
    // With a manifest, `use_python` only picks the CDK's interpreter.
    let python_method = opts.pip_url.is_some() || (wants_python && opts.source_manifest.is_none());
    let methods = [
        opts.local_executable.is_some(),
        wants_docker,
        python_method,
        opts.source_manifest.is_some(),
    ];
    if methods.iter().filter(|m| **m).count() > 1 {
        return Err(Error::input(
            "more than one way to run the connector was given (local executable, Docker image, \
             pip URL / use_python, source manifest)",
            "give only one of local_executable, docker_image, pip_url/use_python, or \
             source_manifest",
        ));
    }
    if let Some(manifest) = &opts.source_manifest {
        if opts.version.is_some() && *manifest != crate::source::SourceManifest::Registry {
            return Err(Error::input(
                "a version was given with a source manifest",
                "a manifest runs as it is; drop `version`",
            ));
        }
        let (origin, mut manifest) = manifest.load_for(name, opts.version.as_deref())?;
        // A `components.py` beside a manifest file goes with it (as PyAirbyte's
        // `source_manifest=Path`).
        if let Some(crate::source::SourceManifest::Path(path)) = &opts.source_manifest
            && let Some(code) = components_beside(path)?
        {
            abrs_declarative::components::attach(&mut manifest, code);
        }
        let interpreter = match &opts.use_python {
            Some(UsePython::Interpreter(i)) => Some(i.clone()),
            _ => None,
        };
        let wants_python = matches!(
            opts.use_python,
            Some(UsePython::Yes | UsePython::Interpreter(_))
        );
        return Ok(declarative_plan(
            name,
            origin,
            manifest,
            interpreter,
            wants_python,
        ));
    }
    if opts.version.is_some() && opts.pip_url.is_some() {
        return Err(Error::input(
            "both a version and a pip URL were given",
            "put the version into the pip URL (e.g. `airbyte-source-x==1.2.3`) and drop `version`",
        ));
    }

    if let Some(exe) = &opts.local_executable {
        if opts.version.is_some() {
            return Err(Error::input(
                "a version was given with a local executable",
                "a local executable runs as it is; drop `version`",
            ));
        }
        return local_plan(name, exe);
    }
    if wants_docker {
        return docker_plan(name, opts.docker_image.as_deref(), opts);
    }
    if wants_python {
        let meta_pkg = metadata_quietly(name).and_then(|m| m.pypi_package_name);
        return Ok(python_plan(name, opts, meta_pkg));
    }

    if name.contains('/') {
        if opts.version.is_some() {
            return Err(Error::input(
                "a version was given with a local executable path",
                "a local executable runs as it is; drop `version`",
            ));
        }
        return local_plan(name, &PathBuf::from(name));
    }
    if opts.version.is_none()
        && let Some(path) = find_on_path(name)
    {
        return Ok(ExecutorPlan::Local { path });
    }
    match registry::lookup(name)? {
        registry::Lookup::Disabled => Ok(python_plan(name, opts, None)),
        registry::Lookup::Unknown { error, current } => {
            if current {
                return Err(error);
            }
            // A saved copy or the bundled snapshot may predate the connector: try PyPI.
            tracing::warn!(
                "`{name}` is not in the connector registry available here (a saved copy or the \
                 bundled snapshot); trying the PyPI package airbyte-{name}"
            );
            Ok(python_plan(name, opts, None))
        }
        registry::Lookup::Found(meta) => match meta.default_install_type() {
            InstallType::Python => Ok(python_plan(name, opts, meta.pypi_package_name)),
            InstallType::Yaml => {
                let (origin, manifest) =
                    registry::manifests::connector_manifest(name, opts.version.as_deref())?;
                Ok(declarative_plan(name, origin, manifest, None, false))
            }
            _ => docker_plan(name, None, opts),
        },
    }
}

/// The plan for a manifest: the CDK runs it when asked for (`use_python`) or when it needs
/// Python code (`Custom*` components, `class_name`), with the `components.py` that came with
/// it; the native engine otherwise. The fallback is said once, here.
fn declarative_plan(
    name: &str,
    origin: String,
    manifest: serde_json::Value,
    interpreter: Option<String>,
    wants_python: bool,
) -> ExecutorPlan {
    let needs_python = crate::native_manifest::needs_python(&manifest);
    let native = !wants_python && !needs_python;
    if needs_python && !wants_python {
        if abrs_declarative::components::attached(&manifest) {
            tracing::info!(
                "{name}: the manifest has Python components (Custom* or class_name), so it runs                  with airbyte-cdk {} (the Python fallback) and the components.py that came with                  {origin}",
                abrs_connectors::DEFAULT_CDK_VERSION
            );
        } else {
            tracing::warn!(
                "{name}: the manifest has Python components (Custom* or class_name) but no                  components.py came with {origin}; it runs with airbyte-cdk {}, which finds                  only the components it ships (put components.py beside the manifest)",
                abrs_connectors::DEFAULT_CDK_VERSION
            );
        }
    }
    ExecutorPlan::Declarative {
        origin,
        manifest,
        interpreter,
        native,
    }
}

/// The `components.py` beside manifest file `path`, if there is one.
fn components_beside(path: &Path) -> Result<Option<String>> {
    let beside = path.with_file_name("components.py");
    if !beside.is_file() {
        return Ok(None);
    }
    std::fs::read_to_string(&beside).map(Some).map_err(|e| {
        Error::input(
            format!(
                "the components file {} cannot be read: {e}",
                beside.display()
            ),
            "make it readable, or move it away if the manifest does not use it",
        )
    })
}

/// Registry metadata, ignoring registry problems (used only to refine a package name).
fn metadata_quietly(name: &str) -> Option<registry::ConnectorMetadata> {
    registry::get_connector_metadata(name).ok().flatten()
}

fn local_plan(name: &str, exe: &Path) -> Result<ExecutorPlan> {
    let text = exe.to_string_lossy();
    if text.contains('/') || text.contains('\\') {
        if !exe.exists() {
            return Err(Error::ExecutableNotFound {
                name: connector_name_of(name),
                path: exe.to_path_buf(),
            });
        }
        return Ok(ExecutorPlan::Local {
            path: exe.to_path_buf(),
        });
    }
    match find_on_path(&text) {
        Some(path) => Ok(ExecutorPlan::Local { path }),
        None => Err(Error::ExecutableNotFound {
            name: connector_name_of(name),
            path: PathBuf::from(format!("{text} (searched the directories of PATH)")),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> SourceOptions {
        SourceOptions::default()
    }

    #[test]
    fn conflicting_methods_are_rejected() {
        let o = SourceOptions {
            docker_image: Some("true".into()),
            pip_url: Some("x".into()),
            ..opts()
        };
        assert!(matches!(
            choose_executor("source-x", &o),
            Err(Error::Input { .. })
        ));
        let o = SourceOptions {
            version: Some("1".into()),
            pip_url: Some("x".into()),
            ..opts()
        };
        assert!(matches!(
            choose_executor("source-x", &o),
            Err(Error::Input { .. })
        ));
    }

    #[test]
    fn docker_image_defaults_and_tags() {
        let o = SourceOptions {
            docker_image: Some("true".into()),
            ..opts()
        };
        assert_eq!(
            choose_executor("source-x", &o).ok(),
            Some(ExecutorPlan::Docker {
                image: "airbyte/source-x:latest".into(),
                use_host_network: false
            })
        );
        let o = SourceOptions {
            docker_image: Some("true".into()),
            version: Some("1.2".into()),
            ..opts()
        };
        assert_eq!(
            choose_executor("source-x", &o).ok(),
            Some(ExecutorPlan::Docker {
                image: "airbyte/source-x:1.2".into(),
                use_host_network: false
            })
        );
        let o = SourceOptions {
            docker_image: Some("localhost:5000/img".into()),
            ..opts()
        };
        assert_eq!(
            choose_executor("source-x", &o).ok(),
            Some(ExecutorPlan::Docker {
                image: "localhost:5000/img:latest".into(),
                use_host_network: false
            })
        );
        let o = SourceOptions {
            docker_image: Some("img:1".into()),
            version: Some("2".into()),
            ..opts()
        };
        assert!(matches!(
            choose_executor("source-x", &o),
            Err(Error::Input { .. })
        ));
        let o = SourceOptions {
            use_python: Some(UsePython::No),
            ..opts()
        };
        assert!(matches!(
            choose_executor("source-x", &o),
            Ok(ExecutorPlan::Docker { .. })
        ));
    }

    #[test]
    fn pip_url_and_version() {
        let o = SourceOptions {
            use_python: Some(UsePython::Interpreter("3.11".into())),
            ..opts()
        };
        let plan = choose_executor("source-nonexistent-xyz", &o).ok();
        assert_eq!(
            plan,
            Some(ExecutorPlan::Python {
                pip_url: "airbyte-source-nonexistent-xyz".into(),
                package: "airbyte-source-nonexistent-xyz".into(),
                version: None,
                interpreter: Some("3.11".into()),
            })
        );
    }

    #[test]
    fn paths_are_local() {
        assert!(matches!(
            choose_executor("/nonexistent/source-x", &opts()),
            Err(Error::ExecutableNotFound { .. })
        ));
        assert!(matches!(
            choose_executor("/bin/sh", &opts()),
            Ok(ExecutorPlan::Local { .. })
        ));
        assert_eq!(UsePython::parse("false"), UsePython::No);
        assert_eq!(
            UsePython::parse("/usr/bin/python3"),
            UsePython::Interpreter("/usr/bin/python3".into())
        );
    }
}
