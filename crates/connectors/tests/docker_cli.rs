//! Docker command lines, checked through a fake `docker` (there is no Docker engine here).

mod common;

use abrs_connectors::{ConnectorError, DockerExecutor, Executor, Invocation};
use abrs_protocol::ConnectionStatusKind;
use common::fixtures;
use serde_json::{Value, json};

fn fake_docker_dir() -> std::path::PathBuf {
    fixtures().join("fake-docker")
}

fn path_with_fake_docker() -> String {
    format!(
        "{}:{}",
        fake_docker_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn docker_run_command_line_mounts_and_maps_files() {
    let project = tempfile::tempdir().unwrap();
    let argv_file = project.path().join("argv.json");
    let exec = DockerExecutor::new("source-x", None, Some("1.2.3"))
        .unwrap()
        .with_host_network(true)
        .with_project_dir(project.path())
        .with_env("PATH", path_with_fake_docker())
        .with_env("FAKE_DOCKER_ARGV_FILE", argv_file.to_str().unwrap());
    exec.ensure_installation(false).unwrap();
    assert!(exec.describe().contains("airbyte/source-x:1.2.3"));

    let config = json!({"api_key": "k", "n": 1});
    let status = abrs_connectors::check(&exec, &config).unwrap();
    assert_eq!(status.status, ConnectionStatusKind::Succeeded);

    let seen: Value = serde_json::from_str(&std::fs::read_to_string(&argv_file).unwrap()).unwrap();
    let argv: Vec<String> = serde_json::from_value(seen["argv"].clone()).unwrap();
    let local = project.path().join("source-x");
    assert!(local.is_dir(), "the /local mount dir is created by us");
    assert_eq!(
        argv[..6],
        [
            "run",
            "--rm",
            "-i",
            "--volume",
            &format!("{}:/local", local.display()),
            "--volume"
        ]
    );
    assert!(argv[6].ends_with(":/airbyte/tmp"), "{argv:?}");
    assert_eq!(
        argv[7..],
        [
            "--network",
            "host",
            "airbyte/source-x:1.2.3",
            "check",
            "--config",
            "/airbyte/tmp/config.json"
        ]
    );
    // The file is really in the dir mounted at /airbyte/tmp.
    let mounted: Value = serde_json::from_str(
        seen["mounted_files"]["/airbyte/tmp/config.json"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(mounted, config);
    let host_tmp = argv[6].trim_end_matches(":/airbyte/tmp");
    assert!(
        !std::path::Path::new(host_tmp).exists(),
        "temp dir removed after the run"
    );

    // spec: no file arguments, no host network by default, explicit docker program.
    let exec = DockerExecutor::new("source-y", Some("me/custom:7"), None)
        .unwrap()
        .with_project_dir(project.path())
        .with_docker_program(fake_docker_dir().join("docker"))
        .with_env("FAKE_DOCKER_ARGV_FILE", argv_file.to_str().unwrap());
    abrs_connectors::spec(&exec).unwrap();
    let seen: Value = serde_json::from_str(&std::fs::read_to_string(&argv_file).unwrap()).unwrap();
    let argv: Vec<String> = serde_json::from_value(seen["argv"].clone()).unwrap();
    assert_eq!(argv[argv.len() - 2..], ["me/custom:7", "spec"]);
    assert!(!argv.contains(&"--network".to_string()));
    assert_eq!(exec.installed_version().as_deref(), Some("7"));
}

#[test]
fn docker_maps_paths_under_local_and_rejects_others() {
    let project = tempfile::tempdir().unwrap();
    let exec = DockerExecutor::new("source-x", None, None)
        .unwrap()
        .with_project_dir(project.path())
        .with_docker_program("/usr/bin/false");
    let local = project.path().join("source-x");
    std::fs::create_dir_all(local.join("data")).unwrap();
    let inside = local.join("data/in.csv");
    std::fs::write(&inside, "a").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let cmd = exec
        .command(
            &[
                "read".into(),
                "--file".into(),
                inside.to_str().unwrap().into(),
                "/not/a/file".into(),
            ],
            tmp.path(),
        )
        .unwrap();
    assert_eq!(
        cmd.args[cmd.args.len() - 4..],
        ["read", "--file", "/local/data/in.csv", "/not/a/file"]
    );
    assert!(cmd.args.contains(&"airbyte/source-x:latest".to_string()));

    let outside = tempfile::NamedTempFile::new().unwrap();
    let err = exec
        .command(&[outside.path().to_str().unwrap().into()], tmp.path())
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::InvalidOptions { .. }),
        "{err:?}"
    );
}

#[test]
fn docker_image_tag_rules_and_missing_docker() {
    assert_eq!(
        DockerExecutor::new("source-z", None, None).unwrap().image(),
        "airbyte/source-z:latest"
    );
    assert_eq!(
        DockerExecutor::new("source-z", Some("reg:5000/a/b"), Some("2"))
            .unwrap()
            .image(),
        "reg:5000/a/b:2"
    );
    let err = DockerExecutor::new("source-z", Some("a/b:1"), Some("2")).unwrap_err();
    assert!(err.to_string().contains("already has a tag"), "{err}");

    let exec = DockerExecutor::new("source-z", None, None)
        .unwrap()
        .with_env("PATH", "/nonexistent-dir");
    let err = exec.ensure_installation(true).unwrap_err();
    assert!(matches!(err, ConnectorError::ExecutableNotFound { .. }));
    assert!(
        err.to_string().contains("docker") && err.to_string().contains("/nonexistent-dir"),
        "{err}"
    );
    assert!(matches!(
        exec.execute(Invocation::spec()),
        Err(ConnectorError::ExecutableNotFound { .. })
    ));
}
