//! The `abrs` binary against the fixture connectors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

#[path = "../../airbyte/tests/support/files_server.rs"]
mod files_server;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture() -> String {
    repo()
        .join("tests/fixtures/source-fixture")
        .to_string_lossy()
        .into_owned()
}

fn abrs_in(dir: Option<&Path>, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_abrs"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    cmd.output().unwrap_or_else(|e| panic!("running abrs: {e}"))
}

fn abrs(args: &[&str]) -> Output {
    abrs_in(None, args, &[])
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Asserts the exit code and that a failure is reported as one `Error:` paragraph, not a
/// Rust debug dump.
fn expect(o: &Output, want: i32) {
    assert_eq!(
        code(o),
        want,
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
    if want != 0 {
        let err = stderr(o);
        // Ours: "Error: <paragraph>"; clap's usage errors: "error: …".
        assert!(
            err.contains("Error: ") || err.starts_with("error: "),
            "{err}"
        );
        assert!(
            !err.contains("Error {") && !err.contains("panicked"),
            "{err}"
        );
    }
}

#[test]
fn spec_as_json_and_yaml() {
    let o = abrs(&["spec", &fixture()]);
    expect(&o, 0);
    let spec: Value = serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        spec["connectionSpecification"]["properties"]["count"]["type"],
        "integer"
    );

    let o = abrs(&["spec", &fixture(), "--format", "yaml"]);
    expect(&o, 0);
    let text = stdout(&o);
    assert!(text.contains("connectionSpecification:"), "{text}");
    let back = airbyte::config::parse_config_text(&text, "yaml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, spec);
}

#[test]
fn check_ok_and_failing() {
    let o = abrs(&["check", &fixture(), "--config", r#"{"count": 1}"#]);
    expect(&o, 0);
    assert!(stdout(&o).contains("succeeded"), "{}", stdout(&o));

    let o = abrs(&["check", &fixture(), "--config", "{check_should_fail: true}"]);
    expect(&o, 1);
    assert!(
        stderr(&o).contains("Connection check of `source-fixture` failed"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn config_from_json_and_yaml_files() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let yaml = dir.path().join("config.yaml");
    std::fs::write(&yaml, "count: 2\nseed: 3\n").unwrap_or_else(|e| panic!("{e}"));
    let json_file = dir.path().join("config.json");
    std::fs::write(&json_file, r#"{"count": 2}"#).unwrap_or_else(|e| panic!("{e}"));
    for path in [&yaml, &json_file] {
        let o = abrs(&["check", &fixture(), "--config", &path.to_string_lossy()]);
        expect(&o, 0);
    }
    let o = abrs(&["check", &fixture(), "--config", "/nonexistent/config.json"]);
    expect(&o, 2);
    assert!(
        stderr(&o).contains("/nonexistent/config.json"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn discover_as_table_and_json() {
    let o = abrs(&["discover", &fixture(), "--config", "{}"]);
    expect(&o, 0);
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("STREAM"), "{text}");
    assert!(
        lines[1].starts_with("users ") && lines[1].contains("full_refresh,incremental"),
        "{text}"
    );
    assert!(lines[1].contains("updated_at"), "{text}");
    assert!(lines[2].starts_with("products "), "{text}");
    assert!(lines[3].starts_with("PurchaseOrders "), "{text}");

    let o = abrs(&["discover", &fixture(), "--config", "{}", "--format", "json"]);
    expect(&o, 0);
    let catalog: Value = serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = catalog["streams"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["users", "products", "PurchaseOrders"]);
}

#[test]
fn records_prints_json_lines() {
    let o = abrs(&[
        "records",
        &fixture(),
        "--config",
        r#"{"count": 20}"#,
        "--stream",
        "users",
        "--limit",
        "5",
    ]);
    expect(&o, 0);
    let text = stdout(&o);
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(rows.len(), 5, "{text}");
    let ids: Vec<i64> = rows.iter().filter_map(|r| r["id"].as_i64()).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    assert!(rows[0].get("_airbyte_raw_id").is_none());
    assert!(rows[0].get("contact.email").is_some());

    let o = abrs(&[
        "records",
        &fixture(),
        "-c",
        "{count: 3}",
        "-s",
        "products",
        "--with-internal-columns",
    ]);
    expect(&o, 0);
    let first: Value = serde_json::from_str(stdout(&o).lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(first.get("_airbyte_extracted_at").is_some(), "{first}");
}

#[test]
fn unknown_stream_is_a_usage_error_naming_the_streams() {
    let o = abrs(&["records", &fixture(), "--config", "{}", "--stream", "Users"]);
    expect(&o, 2);
    let err = stderr(&o);
    assert!(
        err.contains("Stream `Users` was not found in connector `source-fixture`. Available streams: `users`, `products`, `PurchaseOrders`."),
        "{err}"
    );
}

#[test]
fn exit_codes_for_usage_errors() {
    expect(&abrs(&["check", &fixture()]), 2); // --config missing (clap)
    expect(&abrs(&["bogus"]), 2);
    expect(&abrs(&["spec", &fixture(), "--format", "xml"]), 2);
    let o = abrs(&["spec", &fixture(), "--docker-image", "--pip-url", "x"]);
    expect(&o, 2);
    assert!(stderr(&o).contains("only one of"), "{}", stderr(&o));
    let o = abrs(&["spec", "/nonexistent/source-x"]);
    expect(&o, 2);
    assert!(
        stderr(&o).contains("/nonexistent/source-x"),
        "{}",
        stderr(&o)
    );
    assert_eq!(code(&abrs(&["--help"])), 0);
}

#[test]
fn a_crashing_connector_exits_1() {
    let o = abrs(&[
        "records",
        &fixture(),
        "--config",
        r#"{"mode": "crash_mid_read"}"#,
        "--stream",
        "users",
    ]);
    expect(&o, 1);
    assert!(stderr(&o).contains("source-fixture"), "{}", stderr(&o));
}

#[test]
fn check_validates_the_config_against_the_spec_first() {
    // Both violations, with their JSON paths; the connector's check never runs (it would fail
    // with its own message, `check_should_fail`).
    let bad = r#"{"count": "abc", "mode": "x", "check_should_fail": true}"#;
    let o = abrs(&["check", &fixture(), "--config", bad]);
    expect(&o, 1);
    let err = stderr(&o);
    assert!(
        err.contains("2 problem(s)")
            && err.contains("  - /count: \"abc\" is not of type \"integer\"")
            && err.contains("  - /mode: "),
        "{err}"
    );
    assert!(!err.contains("Connection check of"), "{err}");
    assert!(stdout(&o).is_empty());

    // --skip-validation hands the value to the connector as before.
    let o = abrs(&[
        "check",
        &fixture(),
        "--config",
        r#"{"count": "abc"}"#,
        "--skip-validation",
    ]);
    expect(&o, 0);

    // Destinations are validated against their own spec.
    let dest = repo().join("tests/fixtures/destination-fixture");
    let dest = dest.to_string_lossy();
    let o = abrs(&["check", &dest, "--config", r#"{"crash_after": "many"}"#]);
    expect(&o, 1);
    assert!(stderr(&o).contains("  - /crash_after: "), "{}", stderr(&o));
    let o = abrs(&["check", "noop", "--config", "{}"]);
    expect(&o, 0);
    assert!(stdout(&o).contains("succeeded"), "{}", stdout(&o));
}

#[test]
fn validate_prints_the_spec_and_lists_every_violation() {
    let o = abrs(&["validate", "--connector", &fixture()]);
    expect(&o, 0);
    assert!(
        stderr(&o).contains("connectionSpecification:"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());

    let o = abrs(&[
        "validate",
        "--connector",
        &fixture(),
        "--config",
        r#"{"count": -1, "mode": "x"}"#,
    ]);
    expect(&o, 1);
    let err = stderr(&o);
    assert!(
        err.contains("2 problem(s)") && err.contains("  - /count: ") && err.contains("  - /mode: "),
        "{err}"
    );

    let o = abrs(&[
        "validate",
        "--connector",
        &fixture(),
        "--config",
        r#"{"count": 1}"#,
    ]);
    expect(&o, 0);
    assert!(
        stderr(&o).contains("Validation and check succeeded"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn secrets_from_env_and_dotenv() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join(".env"), "ABRS_CLI_DOTENV_KEY=abc\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let config = r#"{"api_key": "secret_reference::ABRS_CLI_DOTENV_KEY", "count": 1}"#;
    let o = abrs_in(
        Some(dir.path()),
        &["check", &fixture(), "--config", config],
        &[],
    );
    expect(&o, 0);
    // From the environment, with no .env around.
    let o = abrs_in(
        None,
        &["check", &fixture(), "--config", config],
        &[("ABRS_CLI_DOTENV_KEY", "x")],
    );
    expect(&o, 0);
    // pyab's `SECRET:NAME` form in --config.
    let o = abrs_in(
        None,
        &[
            "check",
            &fixture(),
            "--config",
            r#"{"api_key": "SECRET:ABRS_CLI_DOTENV_KEY"}"#,
        ],
        &[("ABRS_CLI_DOTENV_KEY", "y")],
    );
    expect(&o, 0);
    // Missing everywhere.
    let o = abrs(&["check", &fixture(), "--config", config]);
    expect(&o, 1);
    assert!(
        stderr(&o).contains("Secret `ABRS_CLI_DOTENV_KEY` was not found"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn docker_image_command_line() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let argv_file = dir.path().join("argv.json");
    let fake_docker = repo().join("tests/fixtures/fake-docker");
    let path = format!(
        "{}:{}",
        fake_docker.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let project = dir.path().join("project");
    let o = abrs_in(
        None,
        &["spec", "source-x", "--docker-image", "img:1"],
        &[
            ("PATH", &path),
            ("FAKE_DOCKER_ARGV_FILE", &argv_file.to_string_lossy()),
            ("AIRBYTE_PROJECT_DIR", &project.to_string_lossy()),
        ],
    );
    expect(&o, 0);
    let spec: Value = serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        spec["connectionSpecification"],
        json!({"type": "object", "properties": {}})
    );

    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(&argv_file).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    let argv: Vec<&str> = record["argv"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(argv.len(), 9, "{argv:?}");
    assert_eq!(&argv[..4], ["run", "--rm", "-i", "--volume"]);
    assert_eq!(
        argv[4],
        format!("{}:/local", project.join("source-x").display())
    );
    assert_eq!(argv[5], "--volume");
    assert!(argv[6].ends_with(":/airbyte/tmp"), "{argv:?}");
    assert_eq!(&argv[7..], ["img:1", "spec"]);

    // Without an image, `airbyte/<name>:<version>`.
    let o = abrs_in(
        None,
        &[
            "check",
            "source-x",
            "--docker-image",
            "--version",
            "2.0",
            "--config",
            "{}",
        ],
        &[
            ("PATH", &path),
            ("FAKE_DOCKER_ARGV_FILE", &argv_file.to_string_lossy()),
            ("AIRBYTE_PROJECT_DIR", &project.to_string_lossy()),
        ],
    );
    expect(&o, 0);
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(&argv_file).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    let argv: Vec<&str> = record["argv"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        &argv[7..],
        [
            "airbyte/source-x:2.0",
            "check",
            "--config",
            "/airbyte/tmp/config.json"
        ]
    );
    assert_eq!(record["mounted_files"]["/airbyte/tmp/config.json"], "{}");
}

#[test]
fn registry_file_decides_how_to_run() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let registry = dir.path().join("oss_registry.json");
    let doc = json!({"sources": [
        {"dockerRepository": "airbyte/source-dockeronly", "dockerImageTag": "1.2.3", "language": "java"},
        {"dockerRepository": "airbyte/source-manifesty", "language": "manifest-only"}
    ], "destinations": []});
    std::fs::write(&registry, doc.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let argv_file = dir.path().join("argv.json");
    let fake_docker = repo().join("tests/fixtures/fake-docker");
    let path = format!(
        "{}:{}",
        fake_docker.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = [
        ("PATH", path.as_str()),
        ("FAKE_DOCKER_ARGV_FILE", &*argv_file.to_string_lossy()),
        ("AIRBYTE_PROJECT_DIR", &*dir.path().to_string_lossy()),
        ("AIRBYTE_LOCAL_REGISTRY", &*registry.to_string_lossy()),
    ];
    let o = abrs_in(None, &["spec", "source-dockeronly"], &env);
    expect(&o, 0);
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(&argv_file).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        record["argv"][7], "airbyte/source-dockeronly:latest",
        "{record}"
    );

    // A manifest-only connector: its manifest from Airbyte's manifest URL (here a mock), run
    // natively.
    let server = files_server::FilesServer::start();
    server.set(
        "/source-manifesty/latest/manifest.yaml",
        files_server::Answer::Body("200 OK", MANIFESTY.to_string()),
    );
    let copies = dir.path().join("registry-copies");
    let mut with_manifests = env.to_vec();
    with_manifests.push(("ABRS_MANIFEST_BASE_URL", &server.base));
    with_manifests.push((
        "ABRS_REGISTRY_CACHE_DIR",
        copies.to_str().unwrap_or_default(),
    ));
    let o = abrs_in(None, &["spec", "source-manifesty"], &with_manifests);
    expect(&o, 0);
    assert!(stdout(&o).contains("manifesty_key"), "{}", stdout(&o));
    assert!(
        copies
            .join("manifests/source-manifesty/latest/manifest.yaml")
            .exists()
    );

    let o = abrs_in(None, &["spec", "source-not-in-registry"], &env);
    expect(&o, 2);
    assert!(stderr(&o).contains("not in"), "{}", stderr(&o));

    // A remote registry (a mock): the same decision; a second process fetches it again.
    server.set(
        "/oss_registry.json",
        files_server::Answer::Body("200 OK", doc.to_string()),
    );
    let url = format!("{}/oss_registry.json", server.base);
    let mut remote = with_manifests.clone();
    remote[3] = ("AIRBYTE_LOCAL_REGISTRY", &url);
    let _ = std::fs::remove_file(&argv_file);
    let o = abrs_in(None, &["spec", "source-dockeronly"], &remote);
    expect(&o, 0);
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(&argv_file).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        record["argv"][7], "airbyte/source-dockeronly:latest",
        "{record}"
    );
    assert_eq!(server.hits("/oss_registry.json"), 1);
    // The server goes away: offline mode uses the copy kept by that fetch.
    server.set(
        "/oss_registry.json",
        files_server::Answer::Body("500 Internal Server Error", String::new()),
    );
    let o = abrs_in(
        None,
        &["connector-info", "source-dockeronly", "--format", "json"],
        &remote,
    );
    expect(&o, 0);
    let info: Value = serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(info["latest_available_version"], "1.2.3");
    // Offline mode with an explicit Docker image: no registry lookup at all.
    let mut offline = remote.to_vec();
    offline.push(("AIRBYTE_OFFLINE_MODE", "1"));
    let o = abrs_in(
        None,
        &["spec", "source-dockeronly", "--docker-image"],
        &offline,
    );
    expect(&o, 0);
}

const MANIFESTY: &str = r#"version: 6.0.0
type: DeclarativeSource
check: {type: CheckStream, stream_names: [things]}
streams:
  - type: DeclarativeStream
    name: things
    schema_loader: {type: InlineSchemaLoader, schema: {type: object}}
    retriever:
      type: SimpleRetriever
      requester: {type: HttpRequester, url_base: "http://127.0.0.1:9", path: /things}
      record_selector: {type: RecordSelector, extractor: {type: DpathExtractor, field_path: []}}
spec:
  type: Spec
  connection_specification:
    type: object
    properties: {manifesty_key: {type: string}}
"#;

#[test]
fn install_a_local_executable_checks_it() {
    let o = abrs(&["install", &fixture()]);
    expect(&o, 0);
    assert!(
        stdout(&o).contains("Connector `source-fixture` is installed"),
        "{}",
        stdout(&o)
    );
}
