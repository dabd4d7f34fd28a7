//! Acceptance: the real `airbyte-source-faker` from PyPI, installed by our own install code into
//! a persistent dir (`$HOME/.cache/airbyte-rs/test-venvs`) so that re-runs are fast.
//!
//! One test runs the steps in order, so that the install happens once.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn install_dir() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".cache/airbyte-rs/test-venvs")
}

fn abrs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_abrs"))
        .args(args)
        .env("AIRBYTE_INSTALL_DIR", install_dir())
        .env_remove("AIRBYTE_LOCAL_REGISTRY")
        .output()
        .unwrap_or_else(|e| panic!("running abrs: {e}"))
}

fn ok(o: &Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout:\n{out}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

#[test]
fn source_faker_from_pypi() {
    let config = r#"{"count": 10}"#;

    let installed = ok(&abrs(&["install", "source-faker"]));
    assert!(
        installed.contains("Connector `source-faker` is installed (version "),
        "{installed}"
    );

    let spec: Value = serde_json::from_str(&ok(&abrs(&["spec", "source-faker"])))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        spec["connectionSpecification"]["properties"]["count"].is_object(),
        "{spec}"
    );

    ok(&abrs(&["check", "source-faker", "--config", config]));

    let catalog: Value = serde_json::from_str(&ok(&abrs(&[
        "discover",
        "source-faker",
        "--config",
        config,
        "--format",
        "json",
    ])))
    .unwrap_or_else(|e| panic!("{e}"));
    let mut names: Vec<&str> = catalog["streams"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["name"].as_str()).collect())
        .unwrap_or_default();
    names.sort_unstable();
    assert_eq!(names, ["products", "purchases", "users"]);

    let out = ok(&abrs(&[
        "records",
        "source-faker",
        "--config",
        config,
        "--stream",
        "users",
        "--limit",
        "5",
    ]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    for line in lines {
        let row: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(row["id"].is_i64(), "{row}");
        assert!(row["email"].is_string(), "{row}");
    }
}
