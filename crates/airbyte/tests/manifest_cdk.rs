//! A declarative manifest (`tests/fixtures/manifests/items.yaml`) run through
//! `SourceOptions::source_manifest`: airbyte-cdk's `source-declarative-manifest`, installed from
//! PyPI by our venv executor, against the test's own mock HTTP server on loopback.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;

use support::items_api::{manifest, mock_api};

use airbyte as ab;
use airbyte::arrow::util::display::array_value_to_string;
use serde_json::{Value, json};

fn install_root() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".cache/airbyte-rs/test-venvs")
}

fn source(config: Value) -> ab::Source {
    ab::get_source(
        "source-items",
        Some(config),
        ab::SourceOptions {
            source_manifest: Some(ab::SourceManifest::Path(manifest())),
            // The CDK, not the native engine (the default for manifests without Python code).
            use_python: Some(ab::UsePython::Yes),
            install_root: Some(install_root()),
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("installing airbyte-cdk for the manifest: {e}"))
}

#[test]
fn a_manifest_reads_every_page_into_duckdb_through_the_cdk() {
    let (base, seen) = mock_api();
    let mut src = source(json!({"api_key": "k3y", "base_url": base}));
    // The spec is the manifest's own (answered without Python).
    assert_eq!(
        src.config_spec().unwrap()["required"],
        json!(["api_key", "base_url"])
    );
    src.check().expect("check");
    assert_eq!(src.get_available_streams().unwrap(), ["items"]);
    src.select_all_streams().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = ab::DuckDbCache::new(dir.path().join("items.duckdb"));
    let result = src.read(&cache, ab::ReadOptions::default()).expect("read");
    assert_eq!(result.processed_records(), 5);
    let batches = cache
        .query("select string_agg(name, ',' order by id) from items")
        .unwrap();
    let names = array_value_to_string(batches[0].column(0), 0).unwrap();
    assert_eq!(names, "item 1,item 2,item 3,item 4,item 5");

    let requests = seen.lock().unwrap().clone();
    let pages: BTreeSet<String> = requests
        .iter()
        .filter(|(t, _)| t.starts_with("/items"))
        .map(|(t, _)| t.clone())
        .collect();
    assert!(pages.contains("/items?page=3"), "paginated: {pages:?}");
    assert!(
        requests.iter().all(|(_, k)| k.as_deref() == Some("k3y")),
        "the API key went in the header: {requests:?}"
    );

    // get_records runs the same way, without a cache.
    let records: Vec<_> = src
        .get_records("items", Some(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(records.len(), 3);
}

#[test]
fn a_rejected_key_fails_check_with_the_cdks_words() {
    let (base, _) = mock_api();
    let src = source(json!({"api_key": "wrong", "base_url": base}));
    let err = src.check().expect_err("a 401 fails check");
    let text = err.to_string();
    assert!(text.contains("source-items"), "{text}");
    assert!(
        text.contains("401") || text.to_lowercase().contains("unauthorized"),
        "{text}"
    );
}
