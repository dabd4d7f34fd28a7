//! `abrs connectors` and `abrs connector-info` on a machine that has never been online: the
//! bundled registry snapshot answers.

use std::process::{Command, Output};

use serde_json::Value;

fn offline(args: &[&str]) -> (Output, tempfile::TempDir) {
    let copies = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_abrs"))
        .args(args)
        .env("AIRBYTE_OFFLINE_MODE", "1")
        .env("ABRS_REGISTRY_CACHE_DIR", copies.path())
        .env_remove("AIRBYTE_LOCAL_REGISTRY")
        .output()
        .unwrap_or_else(|e| panic!("running abrs: {e}"));
    (out, copies)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn connectors_lists_the_bundled_registry() {
    let (o, _d) = offline(&["connectors", "--type", "yaml", "--search", "poke"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let mut lines = out.lines();
    assert!(
        lines.next().unwrap_or_default().starts_with("NAME"),
        "{out}"
    );
    let row: Vec<&str> = lines
        .find(|l| l.starts_with("source-pokeapi "))
        .unwrap_or_else(|| panic!("{out}"))
        .split_whitespace()
        .collect();
    assert_eq!(row, ["source-pokeapi", "0.3.9", "yaml", "manifest-only"]);
    let err = text(&o.stderr);
    assert!(err.contains("bundled with abrs (2025-01-29)"), "{err}");

    let (o, _d) = offline(&[
        "connectors",
        "--type",
        "python",
        "--search",
        "faker",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let list: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}"));
    let faker = list
        .as_array()
        .and_then(|l| l.iter().find(|m| m["name"] == "source-faker"))
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(faker["pypi_package_name"], "airbyte-source-faker");
    assert_eq!(
        faker["install_types"],
        serde_json::json!(["python", "docker"])
    );

    let (o, _d) = offline(&["connectors", "--type", "any"]);
    let n = text(&o.stdout).lines().count() - 1;
    assert!(n > 550, "{n} connectors");
}

#[test]
fn connector_info_and_unknown_names() {
    let (o, _d) = offline(&["connector-info", "destination-duckdb"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains("connector_type            destination"),
        "{out}"
    );
    assert!(
        out.contains("docker_repository         airbyte/destination-duckdb"),
        "{out}"
    );

    let (o, _d) = offline(&["connector-info", "source-fakr"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("did you mean source-faker"), "{err}");

    let (o, _d) = offline(&["connectors", "--type", "cobol"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("not an install type"),
        "{}",
        text(&o.stderr)
    );
}
