//! The connector registry: fetched from a (mock) URL with a timeout, kept as the last good copy,
//! bundled for offline use; manifest-only connectors by name (saved copy, PyPI wheel).
//!
//! The registry is loaded once per process per place and configured by environment variables,
//! so the tests here take a lock and each uses its own mock server URL.

#[path = "support/files_server.rs"]
mod files_server;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use ab::registry::{self, InstallType, RegistryOrigin};
use airbyte as ab;
use files_server::{Answer, FilesServer};
use serde_json::json;

static ENV: Mutex<()> = Mutex::new(());

/// Sets the registry's variables for one test (cleared first).
fn env(vars: &[(&str, &str)]) {
    for k in [
        registry::LOCAL_REGISTRY_ENV,
        registry::OFFLINE_MODE_ENV,
        registry::REGISTRY_CACHE_DIR_ENV,
        registry::REGISTRY_TIMEOUT_ENV,
        ab::registry::manifests::MANIFEST_BASE_URL_ENV,
    ] {
        // SAFETY: the tests of this file hold ENV while they touch the environment.
        unsafe { std::env::remove_var(k) };
    }
    for (k, v) in vars {
        // SAFETY: as above.
        unsafe { std::env::set_var(k, v) };
    }
}

fn lock() -> std::sync::MutexGuard<'static, ()> {
    ENV.lock().unwrap_or_else(|e| e.into_inner())
}

fn registry_doc() -> String {
    json!({"sources": [
        {"dockerRepository": "airbyte/source-faker", "dockerImageTag": "6.2.20", "name": "Faker",
         "language": "python", "sourceDefinitionId": "dfd88b22",
         "remoteRegistries": {"pypi": {"enabled": true, "packageName": "airbyte-source-faker"}}},
        {"dockerRepository": "airbyte/source-pokeapi", "dockerImageTag": "0.3.9",
         "language": "manifest-only"},
        {"dockerRepository": "airbyte/source-postgres", "language": "java"}
    ], "destinations": [
        {"dockerRepository": "airbyte/destination-duckdb", "language": "python",
         "destinationDefinitionId": "94bd199c",
         "remoteRegistries": {"pypi": {"enabled": true, "packageName": "airbyte-destination-duckdb"}}}
    ]})
    .to_string()
}

#[test]
fn offline_the_bundled_snapshot_answers() {
    let _g = lock();
    let copies = tempfile::tempdir().unwrap();
    env(&[
        (registry::OFFLINE_MODE_ENV, "1"),
        (
            registry::REGISTRY_CACHE_DIR_ENV,
            &copies.path().to_string_lossy(),
        ),
    ]);
    let all = ab::get_available_connectors(InstallType::Any).unwrap();
    assert!(all.len() > 500, "{}", all.len());
    let yaml = ab::get_available_connectors(InstallType::Yaml).unwrap();
    assert!(yaml.contains(&"source-pokeapi".to_string()));
    assert!(!yaml.contains(&"source-faker".to_string()));
    let python = ab::get_available_connectors(InstallType::Python).unwrap();
    assert!(python.contains(&"source-faker".to_string()));
    let meta = ab::get_connector_metadata("source-faker").unwrap().unwrap();
    assert_eq!(
        meta.pypi_package_name.as_deref(),
        Some("airbyte-source-faker")
    );
    assert_eq!(meta.display_name.as_deref(), Some("Sample Data (Faker)"));
    assert_eq!(meta.default_install_type(), InstallType::Python);
    assert_eq!(
        meta.suggested_streams,
        Some(vec!["users".into(), "products".into(), "purchases".into()])
    );
    let origin = registry::get_registry().unwrap().unwrap().origin.clone();
    assert!(
        matches!(origin, RegistryOrigin::Bundled { .. }),
        "{origin:?}"
    );

    let err = ab::get_connector_metadata("source-fakr")
        .unwrap_err()
        .to_string();
    assert!(err.contains("did you mean source-faker"), "{err}");
    assert!(err.contains("bundled"), "{err}");
}

#[test]
fn a_fetched_registry_is_kept_and_used_when_the_server_fails() {
    let _g = lock();
    let server = FilesServer::start();
    server.set("/oss_registry.json", Answer::Body("200 OK", registry_doc()));
    let copies = tempfile::tempdir().unwrap();
    let url = format!("{}/oss_registry.json", server.base);
    env(&[
        (registry::LOCAL_REGISTRY_ENV, &url),
        (
            registry::REGISTRY_CACHE_DIR_ENV,
            &copies.path().to_string_lossy(),
        ),
    ]);
    let names = ab::get_available_connectors(InstallType::Any).unwrap();
    assert_eq!(
        names,
        [
            "destination-duckdb",
            "source-faker",
            "source-pokeapi",
            "source-postgres"
        ]
    );
    // Once per process: a second call does not fetch again.
    ab::get_available_connectors(InstallType::Any).unwrap();
    assert_eq!(server.hits("/oss_registry.json"), 1);
    let r = registry::get_registry().unwrap().unwrap();
    assert_eq!(r.origin, RegistryOrigin::Url(url.clone()));
    let meta = ab::get_connector_metadata("destination-duckdb")
        .unwrap()
        .unwrap();
    assert_eq!(meta.connector_type, "destination");
    assert_eq!(meta.definition_id.as_deref(), Some("94bd199c"));
    // A name the (current) registry lacks is an error, not a guess.
    let err = ab::get_source("source-fakerr", None, Default::default())
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("did you mean source-faker"),
        "{err}"
    );

    // The server now fails in three ways; each time the saved copy answers.
    for answer in [
        Answer::Body("500 Internal Server Error", "oops".into()),
        Answer::Body("200 OK", registry_doc()[..40].to_string()),
        Answer::Body("200 OK", "[1, 2, 3]".into()),
    ] {
        server.set("/oss_registry.json", answer);
        let r = registry::store::reload().unwrap().unwrap();
        assert!(
            matches!(r.origin, RegistryOrigin::LastGoodCopy { .. }),
            "{:?}",
            r.origin
        );
        assert_eq!(r.connectors.len(), 4);
    }
}

#[test]
fn a_registry_that_stalls_times_out() {
    let _g = lock();
    let server = FilesServer::start();
    server.set("/stall.json", Answer::Stall);
    let copies = tempfile::tempdir().unwrap();
    env(&[
        (
            registry::LOCAL_REGISTRY_ENV,
            &format!("{}/stall.json", server.base),
        ),
        (
            registry::REGISTRY_CACHE_DIR_ENV,
            &copies.path().to_string_lossy(),
        ),
        (registry::REGISTRY_TIMEOUT_ENV, "1"),
    ]);
    let started = Instant::now();
    let err = ab::get_available_connectors(InstallType::Any).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let text = err.to_string();
    assert!(matches!(err, ab::Error::Registry { .. }), "{err:?}");
    assert!(text.contains("no answer within 1 s"), "{text}");
    assert!(text.contains("no copy of it was saved"), "{text}");
}

#[test]
fn a_registry_file_and_turning_it_off() {
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("registry.json");
    std::fs::write(&file, "{\"sources\": [").unwrap();
    env(&[(registry::LOCAL_REGISTRY_ENV, &file.to_string_lossy())]);
    let err = ab::get_connector_metadata("source-faker").unwrap_err();
    assert!(matches!(err, ab::Error::Registry { .. }), "{err:?}");
    assert!(err.to_string().contains("not valid JSON"), "{err}");

    env(&[(registry::LOCAL_REGISTRY_ENV, "false")]);
    assert_eq!(ab::get_connector_metadata("source-faker").unwrap(), None);
    assert!(
        ab::get_available_connectors(InstallType::Any)
            .unwrap()
            .is_empty()
    );
}

const SMALL_MANIFEST: &str = r#"version: 6.0.0
type: DeclarativeSource
check: {type: CheckStream, stream_names: [things]}
streams:
  - type: DeclarativeStream
    name: things
    schema_loader: {type: InlineSchemaLoader, schema: {type: object, properties: {id: {type: integer}}}}
    retriever:
      type: SimpleRetriever
      requester: {type: HttpRequester, url_base: "http://127.0.0.1:9", path: /things}
      record_selector: {type: RecordSelector, extractor: {type: DpathExtractor, field_path: []}}
spec:
  type: Spec
  connection_specification: {type: object, properties: {}}
"#;

#[test]
fn manifest_only_connectors_by_name_from_url_then_saved_copy() {
    let _g = lock();
    let server = FilesServer::start();
    server.set(
        "/source-pokeapi/0.3.9/manifest.yaml",
        Answer::Body("200 OK", SMALL_MANIFEST.into()),
    );
    let copies = tempfile::tempdir().unwrap();
    let copies_dir = copies.path().to_string_lossy().into_owned();
    env(&[
        (registry::OFFLINE_MODE_ENV, "0"),
        (registry::LOCAL_REGISTRY_ENV, "false"),
        (registry::REGISTRY_CACHE_DIR_ENV, &copies_dir),
        (ab::registry::manifests::MANIFEST_BASE_URL_ENV, &server.base),
    ]);
    let (origin, manifest) =
        ab::registry::manifests::connector_manifest("source-pokeapi", Some("v0.3.9")).unwrap();
    assert!(
        origin.ends_with("/source-pokeapi/0.3.9/manifest.yaml"),
        "{origin}"
    );
    assert_eq!(manifest["streams"][0]["name"], "things");
    let saved =
        ab::registry::manifests::saved_manifest_path("source-pokeapi", Some("0.3.9")).unwrap();
    assert!(saved.exists());

    // Offline, from the bundled registry: the connector is manifest-only, its manifest the
    // saved copy, run natively.
    env(&[
        (registry::OFFLINE_MODE_ENV, "1"),
        (registry::REGISTRY_CACHE_DIR_ENV, &copies_dir),
    ]);
    let options = ab::SourceOptions {
        version: Some("0.3.9".into()),
        ..Default::default()
    };
    let plan = ab::choose_executor("source-pokeapi", &options).unwrap();
    match &plan {
        ab::ExecutorPlan::Declarative { origin, native, .. } => {
            assert!(*native);
            assert_eq!(origin, &saved.display().to_string());
        }
        other => panic!("{other:?}"),
    }
    let source = ab::get_source("source-pokeapi", None, options).unwrap();
    let spec = source.config_spec().unwrap();
    assert_eq!(spec["type"], "object", "{spec}");
    assert_eq!(server.hits("/source-pokeapi/0.3.9/manifest.yaml"), 1);
}

/// The manifest of a manifest-only connector from its wheel on PyPI (a real package, fetched
/// by pip as a user's machine would), offline for Airbyte's own servers.
#[test]
fn manifest_only_connector_from_its_pypi_wheel() {
    let _g = lock();
    let copies = tempfile::tempdir().unwrap();
    env(&[
        (registry::OFFLINE_MODE_ENV, "1"),
        (
            registry::REGISTRY_CACHE_DIR_ENV,
            &copies.path().to_string_lossy(),
        ),
    ]);
    let options = ab::SourceOptions {
        version: Some("0.2.15".into()),
        ..Default::default()
    };
    let plan = ab::choose_executor("source-pokeapi", &options).unwrap_or_else(|e| panic!("{e}"));
    match &plan {
        ab::ExecutorPlan::Declarative {
            origin,
            native,
            manifest,
            ..
        } => {
            assert!(
                origin.contains("airbyte-source-pokeapi==0.2.15"),
                "{origin}"
            );
            assert!(*native, "pokeapi's manifest needs no Python");
            assert!(
                manifest["streams"]
                    .as_array()
                    .is_some_and(|s| !s.is_empty())
            );
        }
        other => panic!("{other:?}"),
    }
    let saved =
        ab::registry::manifests::saved_manifest_path("source-pokeapi", Some("0.2.15")).unwrap();
    assert!(saved.exists(), "the manifest is kept for the next time");
    let source = ab::get_source("source-pokeapi", None, options).unwrap();
    let spec = source.config_spec().unwrap();
    assert!(spec["properties"].get("pokemon_name").is_some(), "{spec}");
}
