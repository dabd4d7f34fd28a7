//! The library against the fixture connector `tests/fixtures/source-fixture` (a local script).

use std::sync::{Arc, Mutex};

use airbyte as ab;
use airbyte::protocol::{DestinationSyncMode, SyncMode};
use serde_json::{Value, json};

fn fixture() -> String {
    format!(
        "{}/../../tests/fixtures/source-fixture",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn source(config: Option<Value>) -> ab::Source {
    ab::get_source(&fixture(), config, ab::SourceOptions::default())
        .unwrap_or_else(|e| panic!("get_source: {e}"))
}

#[test]
fn a_path_runs_as_a_local_executable() {
    let s = source(None);
    assert_eq!(s.name(), "source-fixture");
    assert!(matches!(
        s.executor_plan(),
        Some(ab::ExecutorPlan::Local { .. })
    ));
}

#[test]
fn spec_and_config_spec() {
    let s = source(None);
    let spec = s.spec().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        spec.documentation_url.as_deref(),
        Some("https://example.invalid/source-fixture")
    );
    let schema = s.config_spec().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(schema["properties"]["count"]["type"], "integer");

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let json_path = dir.path().join("spec.json");
    s.print_config_spec(ab::SpecFormat::Json, Some(&json_path))
        .unwrap_or_else(|e| panic!("{e}"));
    let back: Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(&back, schema);
    let yaml_path = dir.path().join("spec.yaml");
    s.print_config_spec(ab::SpecFormat::Yaml, Some(&yaml_path))
        .unwrap_or_else(|e| panic!("{e}"));
    let yaml = std::fs::read_to_string(&yaml_path).unwrap_or_default();
    let back = ab::config::parse_config_text(&yaml, "yaml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(&back, schema);
}

#[test]
fn check_succeeds_and_fails_with_the_connectors_message() {
    source(Some(json!({"count": 2})))
        .check()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = source(Some(json!({"check_should_fail": true})))
        .check()
        .err()
        .unwrap_or_else(|| panic!("check should fail"));
    assert!(matches!(err, ab::Error::CheckFailed { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("Connection check of `source-fixture` failed: "),
        "{text}"
    );
}

#[test]
fn without_config_check_and_discover_say_so() {
    let s = source(None);
    let err = s.check().err().unwrap_or_else(|| panic!("needs config"));
    assert!(
        matches!(err, ab::Error::ConfigurationMissing { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("set_config"), "{err}");
    assert!(matches!(
        s.get_available_streams(),
        Err(ab::Error::ConfigurationMissing { .. })
    ));
}

#[test]
fn discover_and_select() {
    let mut s = source(Some(json!({"count": 3})));
    let streams = s.get_available_streams().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(streams, ["users", "products", "PurchaseOrders"]);
    assert!(s.get_selected_streams().is_empty());
    s.select_streams(["users", "products"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.get_selected_streams(), ["users", "products"]);
    s.select_all_streams().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.get_selected_streams().len(), 3);
    s.select_streams("*").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.get_selected_streams().len(), 3);

    let err = s
        .select_streams(["users", "nope"])
        .err()
        .unwrap_or_else(|| panic!("unknown"));
    assert!(matches!(err, ab::Error::StreamNotFound { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "Stream `nope` was not found in connector `source-fixture`. Available streams: `users`, \
         `products`, `PurchaseOrders`. Use one of these names (they are case-sensitive)."
    );
    // The failed selection left the previous one alone.
    assert_eq!(s.get_selected_streams().len(), 3);
}

#[test]
fn selection_before_config_is_applied_by_set_config() {
    let mut s = source(None);
    s.select_streams(["products"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(s.get_selected_streams().is_empty());
    s.set_config(json!({"count": 1}), true)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.get_selected_streams(), ["products"]);

    let mut s = source(None);
    s.select_streams("nope").unwrap_or_else(|e| panic!("{e}"));
    let err = s
        .set_config(json!({}), false)
        .err()
        .unwrap_or_else(|| panic!("unknown stream"));
    assert!(matches!(err, ab::Error::StreamNotFound { .. }), "{err:?}");
}

#[test]
fn validation_reports_every_violation_with_its_path() {
    let mut s = source(None);
    let bad = json!({"count": -1, "mode": "bogus", "seed": "x", "api_key": 5});
    let err = s
        .set_config(bad, true)
        .err()
        .unwrap_or_else(|| panic!("invalid config"));
    let ab::Error::ValidationFailed { violations, .. } = &err else {
        panic!("expected ValidationFailed, got {err:?}")
    };
    let mut paths: Vec<&str> = violations.iter().map(|v| v.path.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["/api_key", "/count", "/mode", "/seed"]);
    let text = err.to_string();
    assert!(text.contains("4 problem(s)"), "{text}");
    for p in ["/count", "/mode", "/seed", "/api_key"] {
        assert!(text.contains(&format!("\n  - {p}: ")), "{text}");
    }
    // An invalid config is not stored.
    assert!(matches!(
        s.get_config(),
        Err(ab::Error::ConfigurationMissing { .. })
    ));
    // Without validation it is stored, and validate_config reports it later.
    s.set_config(json!({"count": "ten"}), false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        s.validate_config(None),
        Err(ab::Error::ValidationFailed { .. })
    ));
    s.validate_config(Some(&json!({"count": 10})))
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn secret_references_resolve_from_the_environment() {
    // SAFETY: a variable only this test uses.
    unsafe { std::env::set_var("ABRS_TEST_FIXTURE_KEY", "k-123") };
    let raw = json!({"count": 2, "api_key": "secret_reference::ABRS_TEST_FIXTURE_KEY"});
    let mut s = source(None);
    s.set_config(raw.clone(), true)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.get_config().ok(), Some(raw));
    let hydrated = s.hydrated_config().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(hydrated["api_key"], "k-123");
    s.check().unwrap_or_else(|e| panic!("{e}"));

    s.set_config(
        json!({"api_key": "secret_reference::ABRS_TEST_FIXTURE_MISSING"}),
        false,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let err = s.check().err().unwrap_or_else(|| panic!("missing secret"));
    assert!(matches!(err, ab::Error::SecretNotFound { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("`ABRS_TEST_FIXTURE_MISSING`"), "{text}");
    assert!(
        text.contains("environment variable") && text.contains(".env"),
        "{text}"
    );
}

#[test]
fn validation_masks_secret_values() {
    // SAFETY: a variable only this test uses.
    unsafe { std::env::set_var("ABRS_TEST_FIXTURE_BAD_COUNT", "hunter2") };
    let mut s = source(None);
    let err = s
        .set_config(
            json!({"count": "secret_reference::ABRS_TEST_FIXTURE_BAD_COUNT"}),
            true,
        )
        .err()
        .unwrap_or_else(|| panic!("a string count is invalid"));
    let text = err.to_string();
    assert!(text.contains("/count"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

#[test]
fn configured_catalog_rules_and_composite_key_overrides() {
    let mut s = source(Some(json!({})));
    s.select_streams(["users", "products"])
        .unwrap_or_else(|e| panic!("{e}"));
    s.set_primary_key("users", ["id", "name"]);
    s.set_cursor_key("Users", "created_at");

    let catalog = s
        .get_configured_catalog(None, false)
        .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = catalog
        .streams
        .iter()
        .map(|c| c.stream.name.as_str())
        .collect();
    assert_eq!(names, ["users", "products"]);
    let users = catalog.stream("users").unwrap_or_else(|| panic!("users"));
    assert_eq!(
        users.primary_key,
        Some(vec![vec!["id".to_string()], vec!["name".to_string()]])
    );
    assert_eq!(users.cursor_field, Some(vec!["created_at".to_string()]));
    assert_eq!(users.sync_mode, SyncMode::Incremental);
    assert_eq!(users.destination_sync_mode, DestinationSyncMode::Overwrite);
    assert_eq!(
        (
            users.generation_id,
            users.minimum_generation_id,
            users.sync_id
        ),
        (Some(1), Some(1), Some(1))
    );
    let products = catalog
        .stream("products")
        .unwrap_or_else(|| panic!("products"));
    assert_eq!(products.primary_key, Some(vec![vec!["id".to_string()]]));
    // products only supports full_refresh: asking for incremental would break the protocol.
    assert_eq!(products.sync_mode, SyncMode::FullRefresh);

    let full = s
        .get_configured_catalog(Some("*".into()), true)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(full.streams.len(), 3);
    assert!(
        full.streams
            .iter()
            .all(|c| c.sync_mode == SyncMode::FullRefresh)
    );
    let orders = full
        .stream("PurchaseOrders")
        .unwrap_or_else(|| panic!("orders"));
    assert_eq!(orders.primary_key, None);
    assert_eq!(orders.cursor_field, Some(vec!["id".to_string()]));

    let err = s.get_configured_catalog(Some(["nope"].into()), false).err();
    assert!(
        matches!(err, Some(ab::Error::StreamNotFound { .. })),
        "{err:?}"
    );
}

#[test]
fn get_records_is_lazy_and_case_insensitive() {
    let s = source(Some(json!({"count": 7})));
    let records: Vec<ab::StreamRecord> = s
        .get_records("users", Some(3))
        .unwrap_or_else(|e| panic!("{e}"))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(records.len(), 3);
    let r = &records[0];
    assert_eq!(r.get("ID"), Some(&json!(1)));
    assert!(r.contains_key("Contact.Email"));
    assert!(
        r.get("contact_email").is_some(),
        "normalized variant of `contact.email`"
    );
    assert!(r.get("_airbyte_raw_id").is_some());

    let all = s
        .get_records("users", None)
        .unwrap_or_else(|e| panic!("{e}"))
        .count();
    assert_eq!(all, 7);
    let err = s.get_records("Nope", Some(1)).err();
    assert!(
        matches!(err, Some(ab::Error::StreamNotFound { .. })),
        "{err:?}"
    );
}

#[test]
fn a_connector_crash_ends_get_records_with_an_error() {
    let s = source(Some(json!({"count": 5, "mode": "crash_mid_read"})));
    let items: Vec<_> = s
        .get_records("users", None)
        .unwrap_or_else(|e| panic!("{e}"))
        .collect();
    let last = items.last().unwrap_or_else(|| panic!("no items"));
    let err = last
        .as_ref()
        .err()
        .unwrap_or_else(|| panic!("the last item is the failure"));
    assert!(matches!(err, ab::Error::Connector { .. }), "{err:?}");
}

#[test]
fn control_messages_update_the_config_and_call_back() {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen_cb = Arc::clone(&seen);
    let options = ab::SourceOptions {
        config_change_callback: Some(Arc::new(move |c: &serde_json::Map<String, Value>| {
            seen_cb
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Value::Object(c.clone()));
        })),
        ..Default::default()
    };
    let s = ab::get_source(
        &fixture(),
        Some(json!({"count": 2, "emit_control": true})),
        options,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let n = s
        .get_records("users", None)
        .unwrap_or_else(|e| panic!("{e}"))
        .count();
    assert_eq!(n, 2);
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let config = s.get_config().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config, seen[0]);
    assert!(config.get("api_key").is_some(), "{config}");
}

#[test]
fn conflicting_options_are_input_errors() {
    let options = ab::SourceOptions {
        docker_image: Some("true".into()),
        local_executable: Some(fixture().into()),
        ..Default::default()
    };
    let err = ab::get_source("source-fixture", None, options).err();
    assert!(matches!(err, Some(ab::Error::Input { .. })), "{err:?}");
    let err = ab::get_source("/nonexistent/source-x", None, Default::default()).err();
    assert!(
        matches!(err, Some(ab::Error::ExecutableNotFound { .. })),
        "{err:?}"
    );
}

#[test]
fn sources_and_datasets_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<ab::Source>();
    send::<ab::LazyDataset>();
    send_sync::<ab::Error>();
}

#[test]
fn any_name_runs_with_a_local_executable() {
    let options = ab::SourceOptions {
        local_executable: Some(fixture().into()),
        ..Default::default()
    };
    let s =
        ab::get_source("source-unregistered-name", None, options).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.name(), "source-unregistered-name");
    assert!(s.spec().is_ok());
}

#[test]
fn get_records_options_shape_the_records() {
    let s = source(Some(json!({"count": 1})));
    let options = ab::GetRecordsOptions {
        limit: Some(1),
        normalize_field_names: true,
        prune_undeclared_fields: true,
        with_internal_columns: false,
    };
    let records: Vec<ab::StreamRecord> = s
        .get_records_with("users", options)
        .unwrap_or_else(|e| panic!("{e}"))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{e}"));
    let keys: Vec<&str> = records[0].keys().collect();
    assert!(keys.contains(&"contact_email"), "{keys:?}");
    assert!(!keys.iter().any(|k| k.starts_with("_airbyte")), "{keys:?}");
    assert_eq!(
        records[0].get("Contact.Email"),
        records[0].get("contact_email")
    );
    assert_eq!(keys.len(), 12, "{keys:?}");
}
