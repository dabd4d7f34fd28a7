//! PyAirbyte's environment variables, checked in a child test process (setting variables in
//! this multi-threaded test process would race with the other tests).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use abrs_connectors::{DockerExecutor, Executor, Installer, Invocation, VenvExecutor};
use serde_json::json;

/// Runs the ignored test `name` of this binary with `env` set; asserts it passed.
fn run_child(name: &str, env: &[(&str, &Path)], extra: &[(&str, &str)]) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--ignored", "--exact", name, "--test-threads=1"])
        .env("ABRS_ENV_CHILD", "1")
        .env_remove("AIRBYTE_TEMP_DIR")
        .env_remove("AIRBYTE_LOGGING_ROOT")
        .env_remove("AIRBYTE_INSTALL_DIR")
        .env_remove("AIRBYTE_PROJECT_DIR")
        .env_remove("AIRBYTE_NO_UV");
    for (k, v) in env {
        cmd.env(k, v);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("1 passed"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn var(name: &str) -> PathBuf {
    PathBuf::from(std::env::var(name).unwrap())
}

#[test]
fn airbyte_dirs_are_honoured() {
    let root = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = ["tmp", "logs", "install", "project"]
        .iter()
        .map(|d| root.path().join(d))
        .collect();
    for d in &dirs {
        std::fs::create_dir_all(d).unwrap();
    }
    run_child(
        "child_all_dirs",
        &[
            ("AIRBYTE_TEMP_DIR", &dirs[0]),
            ("AIRBYTE_LOGGING_ROOT", &dirs[1]),
            ("AIRBYTE_INSTALL_DIR", &dirs[2]),
            ("AIRBYTE_PROJECT_DIR", &dirs[3]),
        ],
        &[("AIRBYTE_NO_UV", "Yes")],
    );
    run_child(
        "child_project_dir_only",
        &[("AIRBYTE_PROJECT_DIR", &dirs[3])],
        &[("AIRBYTE_NO_UV", "on")],
    );
}

#[test]
#[ignore = "run by airbyte_dirs_are_honoured with its environment"]
fn child_all_dirs() {
    if std::env::var_os("ABRS_ENV_CHILD").is_none() {
        return;
    }
    let (tmp, logs) = (var("AIRBYTE_TEMP_DIR"), var("AIRBYTE_LOGGING_ROOT"));
    let (install, project) = (var("AIRBYTE_INSTALL_DIR"), var("AIRBYTE_PROJECT_DIR"));
    assert_eq!(abrs_connectors::temp_root(), tmp);
    assert_eq!(abrs_connectors::logging_root(), logs);

    let exec = common::fixture();
    let process = exec.execute(Invocation::check(json!({}))).unwrap();
    assert!(process.files_dir().unwrap().starts_with(&tmp));
    let log_file = process.log_file().unwrap().to_path_buf();
    assert!(
        log_file.starts_with(logs.join("source-fixture")),
        "{}",
        log_file.display()
    );
    abrs_connectors::expect_message(process, abrs_protocol::MessageType::ConnectionStatus).unwrap();
    assert!(
        std::fs::read_to_string(&log_file)
            .unwrap()
            .contains("Checking the connection")
    );
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "temp files removed"
    );

    let venv = VenvExecutor::new("source-x");
    assert_eq!(venv.venv_path(), install.join(".venv-source-x"));
    assert_eq!(Installer::from_env(), Installer::Pip);
    let docker = DockerExecutor::new("source-x", None, None).unwrap();
    assert_eq!(docker.local_mount_dir(), project.join("source-x"));
}

#[test]
#[ignore = "run by airbyte_dirs_are_honoured with its environment"]
fn child_project_dir_only() {
    if std::env::var_os("ABRS_ENV_CHILD").is_none() {
        return;
    }
    let project = var("AIRBYTE_PROJECT_DIR");
    assert_eq!(
        VenvExecutor::new("source-x").venv_path(),
        project.join(".venv-source-x")
    );
    assert_eq!(
        abrs_connectors::logging_root(),
        PathBuf::from("/tmp/airbyte/logs")
    );
    // Only 1/true/yes mean "no uv".
    assert_eq!(Installer::from_env(), Installer::Uv);
}
