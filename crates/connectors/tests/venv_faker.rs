//! The real thing: `airbyte-source-faker` from PyPI, installed by our VenvExecutor.
//!
//! The venv is kept in `$HOME/.cache/airbyte-rs/test-venvs`, so re-runs reuse it.

mod common;

use std::path::PathBuf;

use abrs_connectors::{ConnectorError, Executor, Flow, Invocation, VenvExecutor};
use abrs_protocol::{ConnectionStatusKind, Decoded};
use common::configure;
use serde_json::json;

fn test_venvs() -> PathBuf {
    PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/airbyte-rs/test-venvs")
}

#[test]
fn source_faker_from_pypi() {
    let exec = VenvExecutor::new("source-faker").with_install_root(test_venvs());
    exec.ensure_installation(true).unwrap();
    let version = exec.installed_version().expect("an installed version");
    // A second ensure_installation reuses the good venv.
    let python = exec.venv_path().join("bin/python");
    let before = std::fs::symlink_metadata(&python)
        .unwrap()
        .modified()
        .unwrap();
    exec.ensure_installation(true).unwrap();
    assert_eq!(
        std::fs::symlink_metadata(&python)
            .unwrap()
            .modified()
            .unwrap(),
        before
    );
    // So does pinning the version that is there.
    let pinned = VenvExecutor::new("source-faker")
        .with_install_root(test_venvs())
        .with_version(&version);
    pinned.ensure_installation(false).unwrap();

    let spec = abrs_connectors::spec(&exec).unwrap();
    assert!(
        spec.connection_specification["properties"]
            .get("count")
            .is_some()
    );

    let config = json!({"count": 10});
    let status = abrs_connectors::check(&exec, &config).unwrap();
    assert_eq!(status.status, ConnectionStatusKind::Succeeded);

    let catalog = abrs_connectors::discover(&exec, &config).unwrap();
    let mut names: Vec<_> = catalog.streams.iter().map(|s| s.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["products", "purchases", "users"]);

    let configured = configure(&catalog, Some(&["users"]));
    let process = exec.execute(Invocation::read(config, configured)).unwrap();
    let pid = process.pid().unwrap() as i32;
    let mut ids = Vec::new();
    let summary = process
        .for_each(|m| {
            if let Decoded::Record(r) = m {
                assert_eq!(r.stream, "users");
                let v: serde_json::Value = serde_json::from_str(r.data.get()).unwrap();
                ids.push(v["id"].clone());
                if ids.len() == 5 {
                    return Ok::<_, ConnectorError>(Flow::Stop);
                }
            }
            Ok(Flow::Continue)
        })
        .unwrap();
    assert_eq!(ids.len(), 5);
    assert_eq!(summary.records, 5);
    assert!(summary.stopped_early || summary.exit.is_some_and(|e| e.success()));
    assert!(!common::pid_alive(pid));
}

#[test]
fn failed_install_reports_pip_output_and_removes_the_venv() {
    let root = tempfile::tempdir().unwrap();
    let exec = VenvExecutor::new("source-does-not-exist-abrs")
        .with_install_root(root.path())
        .with_pip_url("airbyte-source-does-not-exist-abrs-zzz==0.0.1");
    let err = exec.ensure_installation(true).unwrap_err();
    eprintln!("{err}");
    let ConnectorError::InstallFailed { stderr_tail, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(!stderr_tail.is_empty(), "{err}");
    assert!(
        err.to_string()
            .contains("airbyte-source-does-not-exist-abrs-zzz"),
        "{err}"
    );
    assert!(!exec.venv_path().exists(), "the half-made venv is removed");
    // Without auto_fix nothing is installed and the error says so.
    assert!(matches!(
        exec.ensure_installation(false),
        Err(ConnectorError::NotInstalled { .. })
    ));
}

/// Installs the tiny local package with both installers: pip_url, version checks, reinstall of
/// a broken venv, uninstall.
#[test]
fn local_package_with_uv_and_pip() {
    use abrs_connectors::Installer;
    let src = common::fixtures().join("python-package-tiny");
    for installer in [Installer::Uv, Installer::Pip] {
        // Build from a copy: setuptools writes build files next to the sources.
        let work = tempfile::tempdir().unwrap();
        let pkg = work.path().join("pkg");
        copy_dir(&src, &pkg);
        let exec = VenvExecutor::new("source-tiny")
            .with_install_root(work.path().join("root"))
            .with_installer(installer)
            .with_pip_url(pkg.to_str().unwrap());
        assert!(matches!(
            exec.ensure_installation(false),
            Err(ConnectorError::NotInstalled { .. })
        ));
        exec.ensure_installation(true).unwrap();
        assert_eq!(
            exec.installed_version().as_deref(),
            Some("0.3.1"),
            "{installer:?}"
        );
        assert!(abrs_connectors::spec(&exec).is_ok());

        // The executable went missing: auto_fix reinstalls into the existing venv.
        std::fs::remove_file(exec.executable_path()).unwrap();
        exec.ensure_installation(true).unwrap();
        assert!(exec.executable_path().exists());

        // A pin the package cannot satisfy: reinstall, then a clear error.
        let pinned = exec.clone().with_version("9.9.9");
        let err = pinned.ensure_installation(true).unwrap_err();
        let ConnectorError::VersionMismatch { wanted, found, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!((wanted.as_str(), found.as_str()), ("9.9.9", "0.3.1"));

        exec.uninstall().unwrap();
        assert!(!exec.venv_path().exists());
        assert_eq!(exec.installed_version(), None);
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
