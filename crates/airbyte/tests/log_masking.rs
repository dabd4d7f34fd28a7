//! A connector that logs its own config leaks no secret: the connector's log file, and the log
//! tail quoted in errors, show `****` for the config's secret values.

use std::path::{Path, PathBuf};

use airbyte as ab;
use serde_json::json;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/source-fixture")
}

#[test]
fn secrets_a_connector_logs_are_masked_in_its_log() {
    let root = tempfile::tempdir().unwrap();
    // SAFETY: the only test of this binary that touches the environment.
    unsafe {
        std::env::set_var("AIRBYTE_LOGGING_ROOT", root.path());
        std::env::set_var("ABRS_TEST_LEAKED_TOKEN", "from-the-environment-777");
    }
    let options = ab::SourceOptions {
        local_executable: Some(fixture()),
        ..Default::default()
    };
    let source = ab::get_source(
        "source-fixture",
        Some(json!({"api_key": "sekrit-value-123", "leak_config_to_log": true})),
        options.clone(),
    )
    .unwrap();
    source.check().unwrap();
    let log = std::fs::read_dir(root.path().join("source-fixture"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .next()
        .unwrap_or_else(|| panic!("no log file"));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("my config is"), "{text}");
    assert!(!text.contains("sekrit-value-123"), "{text}");
    assert!(text.contains("\"api_key\": \"****\""), "{text}");
    assert!(text.contains("api_key=****"), "{text}");

    // A secret from a reference, and in the tail an error quotes.
    let failing = ab::get_source(
        "source-fixture",
        Some(
            json!({"api_key": "secret_reference::ABRS_TEST_LEAKED_TOKEN",
            "leak_config_to_log": true, "check_should_fail": true}),
        ),
        options,
    )
    .unwrap();
    let err = failing.check().unwrap_err().to_string();
    assert!(!err.contains("from-the-environment-777"), "{err}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("from-the-environment-777"), "{text}");
}
