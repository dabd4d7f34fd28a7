//! `secret_reference::NAME` resolved from `.env` in the current directory. Alone in its test
//! binary because it changes the process's current directory.

use airbyte as ab;
use serde_json::json;

#[test]
fn secrets_come_from_dotenv_in_the_current_directory() {
    let fixture = format!(
        "{}/../../tests/fixtures/source-fixture",
        env!("CARGO_MANIFEST_DIR")
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join(".env"),
        "# test secrets\nABRS_DOTENV_ONLY_KEY=from-dotenv\nABRS_DOTENV_EMPTY=\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::env::set_current_dir(dir.path()).unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(
        ab::get_secret("ABRS_DOTENV_ONLY_KEY")
            .ok()
            .map(|s| s.into_inner())
            .as_deref(),
        Some("from-dotenv")
    );
    // SAFETY: single test in this binary.
    unsafe { std::env::set_var("ABRS_DOTENV_ONLY_KEY", "from-env") };
    assert_eq!(
        ab::get_secret("ABRS_DOTENV_ONLY_KEY")
            .ok()
            .map(|s| s.into_inner())
            .as_deref(),
        Some("from-env")
    );
    unsafe { std::env::remove_var("ABRS_DOTENV_ONLY_KEY") };

    // Empty counts as missing.
    let err = ab::get_secret_with(
        "ABRS_DOTENV_EMPTY",
        ab::GetSecretOptions {
            allow_prompt: false,
            ..Default::default()
        },
    )
    .err()
    .unwrap_or_else(|| panic!("empty"));
    assert!(err.to_string().contains(".env"), "{err}");

    let mut source =
        ab::get_source(&fixture, None, Default::default()).unwrap_or_else(|e| panic!("{e}"));
    source
        .set_config(
            json!({"count": 1, "api_key": "secret_reference::ABRS_DOTENV_ONLY_KEY"}),
            true,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        source.hydrated_config().ok().map(|c| c["api_key"].clone()),
        Some(json!("from-dotenv"))
    );
    source.check().unwrap_or_else(|e| panic!("{e}"));
}
