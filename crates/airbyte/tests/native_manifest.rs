//! A declarative manifest (`tests/fixtures/manifests/items.yaml`) run through
//! `SourceOptions::source_manifest` by the native engine (the default for manifests without
//! Python code): in-process, no venv, against the test's own mock HTTP server on loopback.

mod support;

use std::collections::BTreeSet;

use airbyte as ab;
use airbyte::arrow::util::display::array_value_to_string;
use serde_json::{Value, json};
use support::items_api::{manifest, mock_api};

fn source(config: Value) -> ab::Source {
    ab::get_source(
        "source-items",
        Some(config),
        ab::SourceOptions {
            source_manifest: Some(ab::SourceManifest::Path(manifest())),
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("a manifest runs natively without installing anything: {e}"))
}

#[test]
fn a_manifest_reads_every_page_into_duckdb_natively() {
    let (base, seen) = mock_api();
    let mut src = source(json!({"api_key": "k3y", "base_url": base}));
    assert!(
        src.executor().describe().contains("natively"),
        "{}",
        src.executor().describe()
    );
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
    // PageIncrement from page 1 without inject_on_first_request: no page on the first request.
    assert_eq!(
        pages,
        BTreeSet::from([
            "/items".into(),
            "/items?page=2".into(),
            "/items?page=3".into()
        ]),
        "{requests:?}"
    );
    assert!(
        requests.iter().all(|(_, k)| k.as_deref() == Some("k3y")),
        "the API key went in the header: {requests:?}"
    );

    let records: Vec<_> = src
        .get_records("items", Some(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(records.len(), 3);
}

#[test]
fn a_rejected_key_fails_check_naming_the_request_with_the_key_masked() {
    let (base, _) = mock_api();
    let src = source(json!({"api_key": "wrong-key-123", "base_url": base}));
    let err = src.check().expect_err("a 401 fails check");
    let text = err.to_string();
    assert!(text.contains("source-items"), "{text}");
    assert!(text.contains("401"), "{text}");
    assert!(text.contains("/items"), "the request is named: {text}");
    assert!(!text.contains("wrong-key-123"), "the key is masked: {text}");
}

#[test]
fn a_manifest_given_by_url_is_downloaded_and_run() {
    let (base, _) = mock_api();
    let mut src = ab::get_source(
        "source-items",
        Some(json!({"api_key": "k3y", "base_url": base})),
        ab::SourceOptions {
            source_manifest: Some(ab::SourceManifest::Url(format!("{base}/manifest.yaml"))),
            ..Default::default()
        },
    )
    .expect("the manifest is downloaded");
    src.select_all_streams().unwrap();
    let records: Vec<_> = src
        .get_records("items", None)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(records.len(), 5);
    assert_eq!(
        ab::registry_manifest_url("source-pokeapi", None),
        "https://connectors.airbyte.com/files/metadata/airbyte/source-pokeapi/latest/manifest.yaml"
    );
}

#[test]
fn a_manifest_with_python_components_runs_with_the_cdk() {
    let manifest = json!({"version": "6.0.0", "type": "DeclarativeSource",
        "streams": [{"type": "DeclarativeStream", "name": "x", "retriever": {
            "type": "CustomRetriever", "class_name": "source_x.components.R"}}]});
    assert!(ab::native_manifest::needs_python(&manifest));
    let plan = ab::choose_executor(
        "source-x",
        &ab::SourceOptions {
            source_manifest: Some(ab::SourceManifest::Inline(manifest)),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        matches!(plan, ab::ExecutorPlan::Declarative { native: false, .. }),
        "{plan:?}"
    );
}
