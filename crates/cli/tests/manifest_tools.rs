//! `abrs manifest resolve`: the manifest as the engine sees it, for people who write manifests.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn manifest(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/manifests")
        .join(name)
}

#[test]
fn resolve_prints_references_types_and_parameters_resolved() {
    let out = Command::new(env!("CARGO_BIN_EXE_abrs"))
        .args(["manifest", "resolve", "--format", "json"])
        .arg(manifest("cursor_next_url.yaml"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("$ref"), "{text}");
    let tree: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let streams = tree["streams"]
        .as_array()
        .unwrap_or_else(|| panic!("{tree}"));
    let labels = streams
        .iter()
        .find(|s| s["name"] == "labels")
        .unwrap_or_else(|| panic!("{tree}"));
    assert_eq!(labels["type"], "DeclarativeStream");
    let requester = &labels["retriever"]["requester"];
    assert_eq!(requester["type"], "HttpRequester");
    // `$parameters` of the stream reach its components.
    assert_eq!(requester["$parameters"]["path"], "labels", "{requester}");
    assert_eq!(
        labels["retriever"]["record_selector"]["extractor"]["type"],
        "DpathExtractor"
    );

    // YAML by default; a manifest that is not one is an error that names the file.
    let out = Command::new(env!("CARGO_BIN_EXE_abrs"))
        .args(["manifest", "resolve"])
        .arg(manifest("cursor_next_url.yaml"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("type: DeclarativeStream"));
    let out = Command::new(env!("CARGO_BIN_EXE_abrs"))
        .args(["manifest", "resolve", "/nonexistent/manifest.yaml"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent/manifest.yaml"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
