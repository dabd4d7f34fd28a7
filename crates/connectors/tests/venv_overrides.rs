//! Installs with uv overrides, and runs a package whose executable is `bin/airbyte-<name>`:
//! the tiny local destination package (`tests/fixtures/python-package-tiny-destination`), which
//! pins `abrs-tiny-dep==2.0.0`, a version that exists nowhere; only the override
//! `abrs-tiny-dep @ file://…/python-package-tiny-dep` (1.0.0) makes it installable.

mod common;

use std::path::Path;

use abrs_connectors::{ConnectorError, Executor, Installer, VenvExecutor};

/// Copies of both fixture packages (setuptools writes build files next to the sources).
struct Packages {
    _work: tempfile::TempDir,
    destination: String,
    dep_override: String,
    root: std::path::PathBuf,
}

fn packages() -> Packages {
    let work = tempfile::tempdir().unwrap();
    for pkg in ["python-package-tiny-destination", "python-package-tiny-dep"] {
        copy_dir(&common::fixtures().join(pkg), &work.path().join(pkg));
    }
    Packages {
        destination: work
            .path()
            .join("python-package-tiny-destination")
            .to_str()
            .unwrap()
            .to_string(),
        dep_override: format!(
            "abrs-tiny-dep @ file://{}",
            work.path().join("python-package-tiny-dep").display()
        ),
        root: work.path().join("root"),
        _work: work,
    }
}

#[test]
fn overrides_install_an_unsatisfiable_package_and_the_airbyte_prefixed_script_runs() {
    let p = packages();
    let plain = VenvExecutor::new("destination-tiny")
        .with_install_root(&p.root)
        .with_installer(Installer::Uv)
        .with_pip_url(&p.destination);

    // Without the override uv cannot resolve the pin: uv's words, and no venv left behind.
    let err = plain.ensure_installation(true).unwrap_err();
    let ConnectorError::InstallFailed { stderr_tail, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(stderr_tail.contains("abrs-tiny-dep"), "{err}");
    assert!(!plain.venv_path().exists());

    let exec = plain.clone().with_overrides(vec![p.dep_override.clone()]);
    exec.ensure_installation(true).unwrap();
    assert_eq!(exec.installed_version().as_deref(), Some("0.2.0"));
    assert_eq!(
        exec.executable_path(),
        exec.venv_path().join("bin/airbyte-destination-tiny")
    );
    assert!(!exec.venv_path().join("bin/destination-tiny").exists());
    let spec = abrs_connectors::spec(&exec).unwrap();
    assert_eq!(
        spec.documentation_url.as_deref(),
        Some("abrs-tiny-dep 1.0.0"),
        "the overridden dependency was installed: {spec:?}"
    );
    let record =
        std::fs::read_to_string(exec.venv_path().join("airbyte-rs-overrides.txt")).unwrap();
    assert_eq!(record, format!("{}\n", p.dep_override));
    assert_mode_0600(&exec.venv_path().join("airbyte-rs-overrides.txt"));

    // The same overrides: nothing to do. Other overrides: not installed (auto_fix off), and
    // with auto_fix a reinstall, which fails here without the override, and keeps the record
    // of the install that did work.
    exec.ensure_installation(false).unwrap();
    let err = plain.ensure_installation(false).unwrap_err();
    assert!(
        matches!(&err, ConnectorError::NotInstalled { detail, .. } if detail.contains("overrides")),
        "{err}"
    );
    assert!(matches!(
        plain.ensure_installation(true),
        Err(ConnectorError::InstallFailed { .. })
    ));
    assert!(exec.venv_path().exists(), "a venv that was there stays");
    exec.ensure_installation(false).unwrap();

    // The pip installer has no overrides: a clear error before anything runs.
    let pip = exec.clone().with_installer(Installer::Pip);
    pip.ensure_installation(false).unwrap();
    pip.uninstall().unwrap();
    let err = pip.ensure_installation(true).unwrap_err();
    assert!(
        matches!(&err, ConnectorError::InvalidOptions { message, .. } if message.contains("need uv")),
        "{err}"
    );

    // Neither `bin/destination-tiny` nor `bin/airbyte-destination-tiny`: the error lists both
    // names and what bin/ holds.
    exec.ensure_installation(true).unwrap();
    let exe = exec.executable_path();
    std::fs::rename(&exe, exe.with_file_name("tiny-destination-renamed")).unwrap();
    let err = exec.ensure_installation(false).unwrap_err();
    let text = err.to_string();
    for wanted in [
        "`destination-tiny`",
        "`airbyte-destination-tiny`",
        "`tiny-destination-renamed`",
    ] {
        assert!(text.contains(wanted), "{wanted} in {text}");
    }
    exec.uninstall().unwrap();
}

fn assert_mode_0600(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", path.display());
}

fn copy_dir(from: &Path, to: &Path) {
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

#[test]
fn two_installs_of_one_venv_at_once_both_succeed() {
    let p = packages();
    let exec = VenvExecutor::new("destination-tiny")
        .with_install_root(&p.root)
        .with_installer(Installer::Uv)
        .with_pip_url(&p.destination)
        .with_overrides(vec![p.dep_override.clone()]);
    // Without the install lock the second `uv venv` fails ("already exists") or pip runs into
    // a half-made venv.
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let exec = exec.clone();
            std::thread::spawn(move || exec.ensure_installation(true))
        })
        .collect();
    for h in handles {
        h.join().expect("thread").expect("install");
    }
    assert_eq!(exec.installed_version().as_deref(), Some("0.2.0"));
}
