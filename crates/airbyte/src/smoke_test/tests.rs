use std::collections::HashSet;

use abrs_connectors::{Executor, Invocation};
use abrs_protocol::{
    AirbyteMessage, ConfiguredAirbyteCatalog, ConfiguredAirbyteStream, DestinationSyncMode,
    MessageType, StreamStatus, SyncMode,
};
use serde_json::{Value, json};

use super::*;
use crate::GetRecordsOptions;

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn by_name(name: &str) -> Scenario {
    scenarios()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no scenario {name}"))
}

fn names(scenarios: &[Scenario]) -> Vec<&str> {
    scenarios.iter().map(|s| s.name.as_str()).collect()
}

const PYAIRBYTE_NAMES: [&str; 22] = [
    "basic_types",
    "timestamp_types",
    "large_decimals_and_numbers",
    "nested_json_objects",
    "null_handling",
    "column_naming_edge_cases",
    "table_naming_edge_cases",
    "CamelCaseStreamName",
    "wide_table_50_columns",
    "empty_stream",
    "single_record_stream",
    "large_batch_stream",
    "unicode_and_special_strings",
    "schema_with_no_primary_key",
    "long_column_names",
    "duplicate_primary_keys",
    "time_types",
    "union_types",
    "array_of_primitives",
    "large_string_values",
    "sparse_records",
    "special_number_values",
];

#[test]
fn the_scenarios_are_pyairbytes_in_order() {
    assert_eq!(names(&scenarios()), PYAIRBYTE_NAMES);
    assert_eq!(scenario_names(), PYAIRBYTE_NAMES);
}

#[test]
fn fast_is_all_but_large_batch() -> TestResult {
    let all = select_scenarios("all")?;
    let fast = select_scenarios("fast")?;
    let all_names: HashSet<&str> = names(&all).into_iter().collect();
    assert!(names(&fast).iter().all(|n| all_names.contains(n)));
    assert_eq!(fast.len(), all.len() - 1);
    assert!(!names(&fast).contains(&LARGE_BATCH_STREAM));
    assert!(fast.iter().all(|s| s.fast));
    assert_eq!(
        all.iter()
            .filter(|s| !s.fast)
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        [LARGE_BATCH_STREAM]
    );
    // Keywords are matched loosely, as PyAirbyte does.
    assert_eq!(select_scenarios(" FAST ")?.len(), fast.len());
    assert_eq!(select_scenarios("All")?.len(), all.len());
    Ok(())
}

#[test]
fn every_schema_is_an_object_schema_with_properties() {
    for s in scenarios() {
        assert_eq!(s.json_schema["type"], "object", "{}", s.name);
        let props = s.json_schema["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{}: no properties", s.name));
        assert!(!props.is_empty(), "{}", s.name);
        assert!(
            jsonschema::validator_for(&s.json_schema).is_ok(),
            "{}: not a valid JSON schema",
            s.name
        );
        // Primary key fields are declared, and every record has them.
        for path in s.primary_key.iter().flatten() {
            assert_eq!(path.len(), 1, "{}", s.name);
            assert!(props.contains_key(&path[0]), "{}", s.name);
            assert!(s.records.iter().all(|r| r.contains_key(&path[0])));
        }
        // Records only use declared fields (destinations create columns from the schema).
        for r in &s.records {
            for key in r.keys() {
                assert!(props.contains_key(key), "{}: {key} not declared", s.name);
            }
        }
    }
}

/// Airbyte's `*_without_timezone` types are strings PyAirbyte marks with the strict RFC 3339
/// formats `time`/`date-time`, which require an offset: their records do not match those
/// formats (on purpose: that is what the scenario tests), so the format is dropped there.
fn without_naive_formats(schema: &Value) -> Value {
    let mut schema = schema.clone();
    if let Some(props) = schema["properties"].as_object_mut() {
        for prop in props.values_mut() {
            let naive = prop["airbyte_type"]
                .as_str()
                .is_some_and(|t| t.ends_with("without_timezone"));
            if naive && let Some(p) = prop.as_object_mut() {
                p.remove("format");
            }
        }
    }
    schema
}

#[test]
fn records_conform_to_their_schema() {
    for s in scenarios() {
        let schema = without_naive_formats(&s.json_schema);
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("{}: {e}", s.name));
        for (i, r) in s.records.iter().enumerate() {
            let value = Value::Object(r.clone());
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{} record {i}: {errors:?}", s.name);
        }
    }
}

#[test]
fn record_contents_match_pyairbyte() {
    let counts: Vec<(String, usize)> = scenarios()
        .into_iter()
        .map(|s| (s.name, s.records.len()))
        .collect();
    let expected = [
        3, 3, 3, 2, 3, 1, 1, 1, 2, 0, 1, 1000, 4, 3, 1, 6, 3, 3, 3, 2, 7, 7,
    ];
    assert_eq!(
        counts.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
        expected,
        "{counts:?}"
    );

    let wide = by_name("wide_table_50_columns");
    assert_eq!(
        wide.json_schema["properties"].as_object().map(|p| p.len()),
        Some(50)
    );
    assert_eq!(wide.records[0]["col_001"], "val_1");
    assert_eq!(wide.records[0]["col_049"], "val_49");
    assert_eq!(wide.records[1]["col_049"], Value::Null);

    let batch = by_name(LARGE_BATCH_STREAM);
    assert_eq!(
        Value::Object(batch.records[0].clone()),
        json!({"id": 1, "name": "record_000001", "value": 1.1, "category": "cat_b"})
    );
    assert_eq!(batch.records[999]["id"], 1000);
    assert_eq!(batch.records[999]["name"], "record_001000");
    assert_eq!(batch.records[4]["category"], "cat_a");
    assert_eq!(large_batch_scenario(0).records.len(), 0);
    assert_eq!(large_batch_scenario(5).records.len(), 5);

    let strings = by_name("large_string_values");
    let len = |i: usize, k: &str| strings.records[i][k].as_str().map(str::len);
    assert_eq!(len(0, "short_value"), Some(1_000));
    assert_eq!(len(0, "medium_value"), Some(10_000));
    assert_eq!(len(0, "large_value"), Some(100_000));
    assert_eq!(len(1, "medium_value"), Some(45 * 250 - 1));
    assert_eq!(len(1, "large_value"), Some(41 * 2500 - 1));

    let numbers = by_name("special_number_values");
    let line =
        serde_json::to_string(&Value::Object(numbers.records[1].clone())).unwrap_or_default();
    assert!(line.contains("5e-324"), "{line}");
    assert_eq!(numbers.records[3]["integer_value"], i64::MAX);
    assert_eq!(numbers.records[4]["integer_value"], i64::MIN);

    let unicode = by_name("unicode_and_special_strings");
    assert_eq!(unicode.records[1]["unicode_text"], "Café naïve résumé");
    assert_eq!(unicode.records[2]["unicode_text"], "你好世界");
    assert_eq!(unicode.records[3]["unicode_text"], "АБВГ");

    assert_eq!(by_name("schema_with_no_primary_key").primary_key, None);
    assert_eq!(
        by_name("basic_types").primary_key,
        Some(vec![vec!["id".to_string()]])
    );
}

#[test]
fn a_list_selects_in_the_predefined_order() -> TestResult {
    let picked = select_scenarios(" null_handling , basic_types,,null_handling ")?;
    assert_eq!(names(&picked), ["basic_types", "null_handling"]);
    assert!(select_scenarios("")?.is_empty());
    Ok(())
}

#[test]
fn unknown_names_are_an_input_error_listing_the_valid_ones() {
    let err = match select_scenarios("basic_types,nope,camelcasestreamname") {
        Err(e) => e,
        Ok(s) => panic!("selected {:?}", names(&s)),
    };
    assert!(matches!(err, Error::Input { .. }), "{err:?}");
    assert!(err.is_usage_error());
    let text = err.to_string();
    assert!(text.contains("`nope`"), "{text}");
    assert!(
        text.contains("`camelcasestreamname` is spelled `CamelCaseStreamName`"),
        "{text}"
    );
    for name in PYAIRBYTE_NAMES {
        assert!(
            text.contains(&format!("`{name}`")),
            "{name} missing: {text}"
        );
    }
    assert!(!text.contains("`basic_types` is spelled"), "{text}");
}

#[test]
fn custom_scenarios_from_json_and_yaml() -> TestResult {
    let dir = tempfile::tempdir()?;
    let json_file = dir.path().join("custom.json");
    std::fs::write(
        &json_file,
        r#"[{"name": "my_stream", "json_schema": {"type": "object", "properties": {"k": {"type": "string"}}},
             "records": [{"k": "a"}, {"k": "b"}], "primary_key": [["k"]], "extra_key": 1}]"#,
    )?;
    let loaded = load_custom_scenarios(&json_file)?;
    assert_eq!(loaded.len(), 1);
    let s = &loaded[0];
    assert_eq!(s.name, "my_stream");
    assert_eq!(s.description, "Custom injected scenario");
    assert_eq!(s.primary_key, Some(vec![vec!["k".to_string()]]));
    assert_eq!(s.records.len(), 2);
    assert!(s.fast);

    let yaml_file = dir.path().join("custom.yaml");
    std::fs::write(
        &yaml_file,
        "custom_scenarios:\n  - name: a\n    description: first\n    json_schema: {type: object}\n  - name: b\n    json_schema:\n      type: object\n      properties:\n        id: {type: integer}\n    records:\n      - id: 1\n    primary_key: null\n",
    )?;
    let loaded = load_custom_scenarios(&yaml_file)?;
    assert_eq!(names(&loaded), ["a", "b"]);
    assert_eq!(loaded[0].description, "first");
    assert!(loaded[0].records.is_empty());
    assert_eq!(loaded[1].primary_key, None);
    assert_eq!(loaded[1].records[0]["id"], 1);
    Ok(())
}

#[test]
fn custom_scenario_errors_say_what_is_wrong() {
    let err_of = |value: Value| match parse_custom_scenarios(&value, "the test document") {
        Err(e) => e.to_string(),
        Ok(s) => panic!("accepted {:?}", names(&s)),
    };
    let cases = [
        (json!("text"), "a list of scenarios"),
        (json!({"other": []}), "`custom_scenarios` key"),
        (json!([1]), "at index 0 must be an object"),
        (json!([{"json_schema": {}}]), "at index 0 is missing 'name'"),
        (
            json!([{"name": "x"}]),
            "'x' must provide 'json_schema' as an object",
        ),
        (
            json!([{"name": "x", "json_schema": {}, "records": {}}]),
            "invalid 'records'",
        ),
        (
            json!([{"name": "x", "json_schema": {}, "records": [1]}]),
            "record at index 0 must be an object",
        ),
        (
            json!([{"name": "x", "json_schema": {}, "primary_key": "id"}]),
            "invalid 'primary_key'",
        ),
        (
            json!([{"name": "x", "json_schema": {}}, {"name": "x", "json_schema": {}}]),
            "used twice",
        ),
    ];
    for (value, expected) in cases {
        let text = err_of(value);
        assert!(text.contains(expected), "{expected}: {text}");
        assert!(text.contains("the test document"), "{text}");
    }
    let missing = std::path::Path::new("/nonexistent/custom.yaml");
    let text = match load_custom_scenarios(missing) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("read a missing file"),
    };
    assert!(text.contains("/nonexistent/custom.yaml"), "{text}");
}

#[test]
fn custom_names_must_not_shadow_selected_ones() -> TestResult {
    let custom = parse_custom_scenarios(
        &json!([{"name": "basic_types", "json_schema": {"type": "object"}}]),
        "x",
    )?;
    let err = merge_scenarios(select_scenarios("fast")?, custom.clone());
    assert!(
        matches!(&err, Err(Error::Input { message, .. }) if message.contains("basic_types")),
        "{err:?}"
    );
    // Not selected: no clash.
    let merged = merge_scenarios(select_scenarios("null_handling")?, custom)?;
    assert_eq!(names(&merged), ["null_handling", "basic_types"]);
    Ok(())
}

#[test]
fn preflight_is_basic_types_under_its_own_name() {
    let preflight = preflight_scenario();
    let basic = by_name(PREFLIGHT_SCENARIO);
    assert_eq!(preflight.name, PREFLIGHT_STREAM_NAME);
    assert_eq!(preflight.json_schema, basic.json_schema);
    assert_eq!(preflight.records, basic.records);
    assert_eq!(preflight.primary_key, basic.primary_key);
}

// ---- the in-process source ----------------------------------------------------------------

#[test]
fn the_source_returns_the_scenario_records() -> TestResult {
    let picked = select_scenarios("basic_types,unicode_and_special_strings,nested_json_objects")?;
    let mut source = scenario_source(picked.clone());
    assert_eq!(source.name(), SOURCE_NAME);
    source.check()?;
    assert_eq!(source.get_available_streams()?, names(&picked));
    source.select_all_streams()?;
    assert_eq!(source.get_selected_streams(), names(&picked));
    for scenario in &picked {
        let got: Vec<_> = source
            .get_records(&scenario.name, None)?
            .map(|r| r.map(|r| r.data_without_internal_columns()))
            .collect::<Result<_>>()?;
        assert_eq!(got, scenario.records, "{}", scenario.name);
    }
    // The stream's declared fields are filled in, as for any source.
    let mut source = scenario_source(select_scenarios("sparse_records")?);
    source.select_all_streams()?;
    let opts = GetRecordsOptions {
        with_internal_columns: false,
        ..Default::default()
    };
    let got: Vec<_> = source
        .get_records_with("sparse_records", opts)?
        .collect::<Result<_>>()?;
    assert_eq!(got.len(), 7);
    assert_eq!(got[0].get("col_a"), Some(&json!("only_a")));
    assert_eq!(got[0].get("col_b"), Some(&Value::Null));
    Ok(())
}

#[test]
fn discover_describes_each_scenario() -> TestResult {
    let source = scenario_source_in_namespace(select_scenarios("all")?, Some("zz_ns"));
    let catalog = source.discovered_catalog()?;
    assert_eq!(catalog.streams.len(), PYAIRBYTE_NAMES.len());
    for (stream, scenario) in catalog.streams.iter().zip(scenarios()) {
        assert_eq!(stream.name, scenario.name);
        assert_eq!(stream.json_schema, scenario.json_schema);
        assert_eq!(stream.source_defined_primary_key, scenario.primary_key);
        assert_eq!(stream.supported_sync_modes, [SyncMode::FullRefresh]);
        assert_eq!(stream.source_defined_cursor, Some(false));
        assert_eq!(stream.namespace.as_deref(), Some("zz_ns"));
    }
    let spec = source.spec()?;
    assert_eq!(spec.connection_specification["type"], "object");
    assert!(spec.connection_specification["properties"]["namespace"].is_object());
    Ok(())
}

fn configured(scenario: &Scenario) -> ConfiguredAirbyteStream {
    ConfiguredAirbyteStream {
        stream: abrs_protocol::AirbyteStream::new(
            scenario.name.clone(),
            scenario.json_schema.clone(),
            vec![SyncMode::FullRefresh],
        ),
        sync_mode: SyncMode::FullRefresh,
        cursor_field: None,
        destination_sync_mode: DestinationSyncMode::Overwrite,
        primary_key: scenario.primary_key.clone(),
        generation_id: None,
        minimum_generation_id: None,
        sync_id: None,
        extra: Default::default(),
    }
}

#[test]
fn read_sends_status_records_and_state_per_stream() -> TestResult {
    let picked = select_scenarios("empty_stream,single_record_stream,duplicate_primary_keys")?;
    let executor = ScenarioExecutor::new(picked.clone());
    // Catalog order, not scenario order; an unknown stream is skipped.
    let mut streams: Vec<_> = picked.iter().rev().map(configured).collect();
    streams.insert(1, configured(&preflight_scenario()));
    let catalog = ConfiguredAirbyteCatalog {
        streams,
        extra: Default::default(),
    };
    let before = chrono::Utc::now().timestamp_millis();
    let process = executor.execute(Invocation::read(json!({"namespace": "ns1"}), catalog))?;
    let messages: Vec<AirbyteMessage> = process
        .into_messages()
        .collect::<std::result::Result<_, _>>()?;

    let mut outline = Vec::new();
    for m in &messages {
        match m.r#type {
            MessageType::Trace => {
                let status = m.trace.as_ref().and_then(|t| t.stream_status.as_ref());
                let status = status.ok_or("a trace that is not a stream status")?;
                assert_eq!(status.stream_descriptor.namespace.as_deref(), Some("ns1"));
                let word = match status.status {
                    StreamStatus::Started => "STARTED",
                    StreamStatus::Running => "RUNNING",
                    StreamStatus::Complete => "COMPLETE",
                    _ => "OTHER",
                };
                outline.push(format!("{word} {}", status.stream_descriptor.name));
            }
            MessageType::Record => {
                let r = m.record.as_ref().ok_or("empty record")?;
                assert_eq!(r.namespace.as_deref(), Some("ns1"));
                assert!(r.emitted_at >= before && r.emitted_at < before + 60_000);
                outline.push(format!("RECORD {}", r.stream));
            }
            MessageType::State => {
                let state = m.state.as_ref().ok_or("empty state")?;
                let stream = state.stream.as_ref().ok_or("not a stream state")?;
                assert_eq!(
                    stream.stream_state,
                    Some(json!({"scenario_complete": true}))
                );
                assert_eq!(stream.stream_descriptor.namespace.as_deref(), Some("ns1"));
                let count = state.source_stats.as_ref().and_then(|s| s.record_count);
                outline.push(format!(
                    "STATE {} {}",
                    stream.stream_descriptor.name,
                    count.unwrap_or(-1.0)
                ));
            }
            ref other => panic!("unexpected {other:?}"),
        }
    }
    let mut expected = Vec::new();
    for (name, n) in [
        ("duplicate_primary_keys", 6),
        ("single_record_stream", 1),
        ("empty_stream", 0),
    ] {
        expected.push(format!("STARTED {name}"));
        expected.push(format!("RUNNING {name}"));
        expected.extend((0..n).map(|_| format!("RECORD {name}")));
        expected.push(format!("STATE {name} {n}"));
        expected.push(format!("COMPLETE {name}"));
    }
    assert_eq!(outline, expected);
    Ok(())
}

#[test]
fn check_fails_without_scenarios_and_on_a_bad_namespace() -> TestResult {
    let source = scenario_source(Vec::new());
    let err = source
        .check()
        .err()
        .ok_or("check passed with no scenarios")?;
    assert!(matches!(err, Error::CheckFailed { .. }), "{err:?}");
    assert!(err.to_string().contains("no scenarios"), "{err}");

    let mut source = scenario_source(select_scenarios("basic_types")?);
    source.set_config(json!({"namespace": 7}), false)?;
    let err = source.check().err().ok_or("check passed")?;
    assert!(err.to_string().contains("`namespace`"), "{err}");
    let err = source.discovered_catalog().err().ok_or("discover passed")?;
    assert!(err.to_string().contains("`namespace`"), "{err}");
    // The spec rejects it too.
    assert!(source.set_config(json!({"namespace": 7}), true).is_err());
    Ok(())
}

#[test]
fn the_executor_is_always_installed() -> TestResult {
    let executor = ScenarioExecutor::new(vec![by_name("basic_types"), by_name("basic_types")]);
    assert_eq!(executor.scenarios().len(), 1);
    executor.ensure_installation(false)?;
    executor.install()?;
    assert!(executor.uninstall().is_err());
    assert_eq!(executor.describe(), "<in-process source-smoke-test>");
    assert!(format!("{executor:?}").contains("basic_types"));
    Ok(())
}

#[test]
fn all_scenarios_load_into_a_duckdb_cache() -> TestResult {
    let dir = tempfile::tempdir()?;
    let cache = crate::DuckDbCache::new(dir.path().join("smoke.duckdb"));
    let mut source = scenario_source(select_scenarios("all")?);
    source.select_all_streams()?;
    let result = source.read(&cache, crate::ReadOptions::default())?;
    for scenario in scenarios() {
        let dataset = result.get(&scenario.name)?;
        // duplicate_primary_keys is merged on its key: the latest of each of 3 ids stays.
        let expected = if scenario.name == "duplicate_primary_keys" {
            3
        } else {
            scenario.records.len() as u64
        };
        assert_eq!(dataset.len()?, expected, "{}", scenario.name);
    }
    Ok(())
}
