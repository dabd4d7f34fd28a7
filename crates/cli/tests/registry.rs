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

#[test]
fn the_global_log_follows_pyairbyte_layout() {
    let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/source-fixture");
    for structured in ["0", "1"] {
        let o = Command::new(env!("CARGO_BIN_EXE_abrs"))
            .arg("spec")
            .arg(&fixture)
            .env("AIRBYTE_LOGGING_ROOT", root.path())
            .env("AIRBYTE_STRUCTURED_LOGGING", structured)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    let day = chrono_free_today(root.path());
    let logs: Vec<_> = std::fs::read_dir(&day)
        .unwrap_or_else(|e| panic!("{}: {e}", day.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    assert_eq!(logs.len(), 2, "{logs:?}");
    let mut texts: Vec<String> = logs
        .iter()
        .map(|p| {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            assert!(
                name.starts_with("airbyte-log-") && name.ends_with(".log"),
                "{name}"
            );
            std::fs::read_to_string(p).unwrap_or_default()
        })
        .collect();
    texts.sort_by_key(|t| t.starts_with('{'));
    // Plain: `YYYY-MM-DD HH:MM:SS - INFO - source …: the local executable …`.
    assert!(
        texts[0].contains(" - INFO - source source-fixture: the local executable"),
        "{}",
        texts[0]
    );
    // Structured: one JSON object a line, structlog's keys.
    let line: Value = serde_json::from_str(texts[1].lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {}", texts[1]));
    assert_eq!(line["level"], "info");
    assert!(
        line["event"]
            .as_str()
            .is_some_and(|e| e.contains("source-fixture")),
        "{line}"
    );
    assert!(line["timestamp"].is_string());
}

/// The one dated directory under the log root.
fn chrono_free_today(root: &std::path::Path) -> std::path::PathBuf {
    let dirs: Vec<_> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .is_some_and(|n| n.len() == 10 && n.to_string_lossy().starts_with("20"))
        })
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}
