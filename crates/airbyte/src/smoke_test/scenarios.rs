//! The predefined scenarios, as PyAirbyte 0.71 defines them
//! (`airbyte/cli/smoke_test_source/_scenarios.py`): same names, descriptions, schemas, primary
//! keys and records, in the same order.

use std::f64::consts::PI;

use serde_json::{Map, Value, json};

use super::Scenario;

/// The number of records `large_batch_stream` has by default.
pub const DEFAULT_LARGE_BATCH_COUNT: usize = 1000;

/// The name of the one high-volume ("slow") predefined scenario.
pub const LARGE_BATCH_STREAM: &str = "large_batch_stream";

/// PyAirbyte's schemas declare draft-07.
const DRAFT_07: &str = "http://json-schema.org/draft-07/schema#";

/// An object schema with these properties (the shape of every predefined schema).
pub(super) fn object_schema(properties: Value) -> Value {
    json!({
        "$schema": DRAFT_07,
        "type": "object",
        "properties": properties,
    })
}

/// A record from a `json!` object literal.
fn record(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        // Every call site passes an object literal; anything else is a typo caught by the tests
        // (a record with no fields).
        _ => Map::new(),
    }
}

/// A fast scenario whose primary key, when it has one, is the single field `primary_key`.
fn scenario(
    name: &str,
    description: &str,
    properties: Value,
    primary_key: Option<&str>,
    records: Vec<Value>,
) -> Scenario {
    Scenario {
        name: name.to_string(),
        description: description.to_string(),
        json_schema: object_schema(properties),
        primary_key: primary_key.map(|field| vec![vec![field.to_string()]]),
        records: records.into_iter().map(record).collect(),
        fast: true,
    }
}

/// All predefined scenarios, in PyAirbyte's order.
pub(super) fn predefined() -> Vec<Scenario> {
    vec![
        basic_types(),
        timestamp_types(),
        large_decimals_and_numbers(),
        nested_json_objects(),
        null_handling(),
        column_naming_edge_cases(),
        table_naming_edge_cases(),
        camel_case_stream_name(),
        wide_table_50_columns(),
        empty_stream(),
        single_record_stream(),
        large_batch_scenario(DEFAULT_LARGE_BATCH_COUNT),
        unicode_and_special_strings(),
        schema_with_no_primary_key(),
        long_column_names(),
        duplicate_primary_keys(),
        time_types(),
        union_types(),
        array_of_primitives(),
        large_string_values(),
        sparse_records(),
        special_number_values(),
    ]
}

pub(super) fn basic_types_properties() -> Value {
    json!({
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "amount": {"type": "number"},
        "is_active": {"type": "boolean"},
    })
}

pub(super) fn basic_types_records() -> Vec<Value> {
    vec![
        json!({"id": 1, "name": "Alice", "amount": 100.50, "is_active": true}),
        json!({"id": 2, "name": "Bob", "amount": 0.0, "is_active": false}),
        json!({"id": 3, "name": "", "amount": -99.99, "is_active": true}),
    ]
}

fn basic_types() -> Scenario {
    scenario(
        "basic_types",
        "Covers fundamental column types: string, integer, number, boolean.",
        basic_types_properties(),
        Some("id"),
        basic_types_records(),
    )
}

fn timestamp_types() -> Scenario {
    scenario(
        "timestamp_types",
        "Covers date and timestamp formats including ISO 8601 variations.",
        json!({
            "id": {"type": "integer"},
            "created_date": {"type": "string", "format": "date"},
            "updated_at": {"type": "string", "format": "date-time"},
            "epoch_seconds": {"type": "integer"},
        }),
        Some("id"),
        vec![
            json!({
                "id": 1,
                "created_date": "2024-01-15",
                "updated_at": "2024-01-15T10:30:00Z",
                "epoch_seconds": 1_705_312_200_i64,
            }),
            json!({
                "id": 2,
                "created_date": "1970-01-01",
                "updated_at": "1970-01-01T00:00:00+00:00",
                "epoch_seconds": 0,
            }),
            json!({
                "id": 3,
                "created_date": "2099-12-31",
                "updated_at": "2099-12-31T23:59:59.999999Z",
                "epoch_seconds": 4_102_444_799_i64,
            }),
        ],
    )
}

fn large_decimals_and_numbers() -> Scenario {
    scenario(
        "large_decimals_and_numbers",
        "Tests handling of very large numbers, high precision decimals, and boundary values.",
        json!({
            "id": {"type": "integer"},
            "big_integer": {"type": "integer"},
            "precise_decimal": {"type": "number"},
            "small_decimal": {"type": "number"},
        }),
        Some("id"),
        vec![
            json!({
                "id": 1,
                "big_integer": 9_999_999_999_999_999_i64,
                "precise_decimal": PI,
                "small_decimal": 0.000001,
            }),
            json!({
                "id": 2,
                "big_integer": -9_999_999_999_999_999_i64,
                "precise_decimal": -0.1,
                "small_decimal": 1e-10,
            }),
            json!({
                "id": 3,
                "big_integer": 0,
                "precise_decimal": 99_999_999.999_999_99_f64,
                "small_decimal": 0.0,
            }),
        ],
    )
}

fn nested_json_objects() -> Scenario {
    scenario(
        "nested_json_objects",
        "Tests nested object and array handling in destination columns.",
        json!({
            "id": {"type": "integer"},
            "metadata": {
                "type": "object",
                "properties": {
                    "source": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                },
            },
            "nested_deep": {
                "type": "object",
                "properties": {
                    "level1": {
                        "type": "object",
                        "properties": {
                            "level2": {
                                "type": "object",
                                "properties": {
                                    "value": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
            "items_array": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "sku": {"type": "string"},
                        "qty": {"type": "integer"},
                    },
                },
            },
        }),
        Some("id"),
        vec![
            json!({
                "id": 1,
                "metadata": {"source": "api", "tags": ["a", "b", "c"]},
                "nested_deep": {"level1": {"level2": {"value": "deep"}}},
                "items_array": [{"sku": "ABC", "qty": 10}],
            }),
            json!({
                "id": 2,
                "metadata": {"source": "manual", "tags": []},
                "nested_deep": {"level1": {"level2": {"value": ""}}},
                "items_array": [],
            }),
        ],
    )
}

fn null_handling() -> Scenario {
    scenario(
        "null_handling",
        "Tests null values across all column types and patterns.",
        json!({
            "id": {"type": "integer"},
            "nullable_string": {"type": ["null", "string"]},
            "nullable_integer": {"type": ["null", "integer"]},
            "nullable_number": {"type": ["null", "number"]},
            "nullable_boolean": {"type": ["null", "boolean"]},
            "nullable_object": {
                "type": ["null", "object"],
                "properties": {"key": {"type": "string"}},
            },
            "always_null": {"type": ["null", "string"]},
        }),
        Some("id"),
        vec![
            json!({
                "id": 1,
                "nullable_string": "present",
                "nullable_integer": 42,
                "nullable_number": PI,
                "nullable_boolean": true,
                "nullable_object": {"key": "val"},
                "always_null": null,
            }),
            json!({
                "id": 2,
                "nullable_string": null,
                "nullable_integer": null,
                "nullable_number": null,
                "nullable_boolean": null,
                "nullable_object": null,
                "always_null": null,
            }),
            json!({
                "id": 3,
                "nullable_string": "",
                "nullable_integer": 0,
                "nullable_number": 0.0,
                "nullable_boolean": false,
                "nullable_object": {},
                "always_null": null,
            }),
        ],
    )
}

fn column_naming_edge_cases() -> Scenario {
    scenario(
        "column_naming_edge_cases",
        "Tests special characters, casing, and reserved words in column names.",
        json!({
            "id": {"type": "integer"},
            "CamelCaseColumn": {"type": "string"},
            "ALLCAPS": {"type": "string"},
            "snake_case_column": {"type": "string"},
            "column-with-dashes": {"type": "string"},
            "column.with.dots": {"type": "string"},
            "column with spaces": {"type": "string"},
            "select": {"type": "string"},
            "from": {"type": "string"},
            "order": {"type": "string"},
            "group": {"type": "string"},
        }),
        Some("id"),
        vec![json!({
            "id": 1,
            "CamelCaseColumn": "camel",
            "ALLCAPS": "caps",
            "snake_case_column": "snake",
            "column-with-dashes": "dashes",
            "column.with.dots": "dots",
            "column with spaces": "spaces",
            "select": "reserved_select",
            "from": "reserved_from",
            "order": "reserved_order",
            "group": "reserved_group",
        })],
    )
}

fn id_value_properties() -> Value {
    json!({
        "id": {"type": "integer"},
        "value": {"type": "string"},
    })
}

fn table_naming_edge_cases() -> Scenario {
    scenario(
        "table_naming_edge_cases",
        "Stream with special characters in the name to test table naming.",
        id_value_properties(),
        Some("id"),
        vec![json!({"id": 1, "value": "table_name_test"})],
    )
}

fn camel_case_stream_name() -> Scenario {
    scenario(
        "CamelCaseStreamName",
        "Stream with CamelCase name to test case handling.",
        id_value_properties(),
        Some("id"),
        vec![json!({"id": 1, "value": "camel_case_stream_test"})],
    )
}

fn wide_table_50_columns() -> Scenario {
    // `id` plus col_001 … col_049: 50 columns.
    let column = |i: usize| format!("col_{i:03}");
    let mut properties = Map::new();
    properties.insert("id".into(), json!({"type": "integer"}));
    let mut full = Map::new();
    full.insert("id".into(), json!(1));
    let mut empty = Map::new();
    empty.insert("id".into(), json!(2));
    for i in 1..50 {
        properties.insert(column(i), json!({"type": ["null", "string"]}));
        full.insert(column(i), json!(format!("val_{i}")));
        empty.insert(column(i), Value::Null);
    }
    scenario(
        "wide_table_50_columns",
        "Tests a wide table with 50 columns.",
        Value::Object(properties),
        Some("id"),
        vec![Value::Object(full), Value::Object(empty)],
    )
}

fn empty_stream() -> Scenario {
    scenario(
        "empty_stream",
        "A stream that emits zero records, testing empty dataset handling.",
        id_value_properties(),
        Some("id"),
        vec![],
    )
}

fn single_record_stream() -> Scenario {
    scenario(
        "single_record_stream",
        "A stream with exactly one record.",
        id_value_properties(),
        Some("id"),
        vec![json!({"id": 1, "value": "only_record"})],
    )
}

/// `large_batch_stream` with `record_count` records (PyAirbyte's `large_batch_record_count`
/// setting; 0 gives an empty stream). The only high-volume scenario: not in `fast`.
///
/// Record `i` (from 1) is `{"id": i, "name": "record_00000i", "value": i * 1.1, "category":
/// "cat_a".."cat_e" by i mod 5}`.
pub fn large_batch_scenario(record_count: usize) -> Scenario {
    const CATEGORIES: [&str; 5] = ["cat_a", "cat_b", "cat_c", "cat_d", "cat_e"];
    let records = (1..=record_count)
        .map(|i| {
            json!({
                "id": i,
                "name": format!("record_{i:06}"),
                "value": i as f64 * 1.1,
                "category": CATEGORIES[i % CATEGORIES.len()],
            })
        })
        .collect();
    Scenario {
        fast: false,
        ..scenario(
            LARGE_BATCH_STREAM,
            "A stream that generates a configurable number of records for batch testing.",
            json!({
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "value": {"type": "number"},
                "category": {"type": "string"},
            }),
            Some("id"),
            records,
        )
    }
}

fn unicode_and_special_strings() -> Scenario {
    scenario(
        "unicode_and_special_strings",
        "Tests unicode characters, emoji, escape sequences, and special string values.",
        json!({
            "id": {"type": "integer"},
            "unicode_text": {"type": "string"},
            "special_chars": {"type": "string"},
        }),
        Some("id"),
        vec![
            json!({
                "id": 1,
                "unicode_text": "Hello World",
                "special_chars": "line1\nline2\ttab",
            }),
            json!({
                "id": 2,
                "unicode_text": "Caf\u{e9} na\u{ef}ve r\u{e9}sum\u{e9}",
                "special_chars": "quote\"inside",
            }),
            json!({
                "id": 3,
                "unicode_text": "\u{4f60}\u{597d}\u{4e16}\u{754c}",
                "special_chars": "back\\slash",
            }),
            json!({
                "id": 4,
                "unicode_text": "\u{410}\u{411}\u{412}\u{413}",
                "special_chars": "",
            }),
        ],
    )
}

fn schema_with_no_primary_key() -> Scenario {
    scenario(
        "schema_with_no_primary_key",
        "A stream without a primary key, testing append-only behavior.",
        json!({
            "event_id": {"type": "string"},
            "event_type": {"type": "string"},
            "payload": {"type": "string"},
        }),
        None,
        vec![
            json!({"event_id": "evt_001", "event_type": "click", "payload": "{}"}),
            json!({"event_id": "evt_001", "event_type": "click", "payload": "{}"}),
            json!({
                "event_id": "evt_002",
                "event_type": "view",
                "payload": "{\"page\": \"home\"}",
            }),
        ],
    )
}

fn long_column_names() -> Scenario {
    const LONG_1: &str = "a_very_long_column_name_that_exceeds_typical_database_limits_and_should_be_truncated_or_handled_gracefully_by_the_destination";
    const LONG_2: &str = "another_extremely_verbose_column_name_designed_to_test_the_absolute_maximum_length_that_any_reasonable_database_would_support";
    scenario(
        "long_column_names",
        "Tests handling of very long column names that may exceed database limits.",
        json!({
            "id": {"type": "integer"},
            LONG_1: {"type": "string"},
            LONG_2: {"type": "string"},
        }),
        Some("id"),
        vec![json!({"id": 1, LONG_1: "long_col_1", LONG_2: "long_col_2"})],
    )
}

fn duplicate_primary_keys() -> Scenario {
    scenario(
        "duplicate_primary_keys",
        "Tests dedup behavior when multiple records share the same primary key. Destinations \
         should keep the latest record per key.",
        json!({
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "updated_value": {"type": "string"},
        }),
        Some("id"),
        vec![
            json!({"id": 1, "name": "Alice", "updated_value": "first"}),
            json!({"id": 2, "name": "Bob", "updated_value": "first"}),
            json!({"id": 1, "name": "Alice", "updated_value": "second"}),
            json!({"id": 3, "name": "Charlie", "updated_value": "first"}),
            json!({"id": 2, "name": "Bob", "updated_value": "second"}),
            json!({"id": 1, "name": "Alice", "updated_value": "third"}),
        ],
    )
}

fn time_types() -> Scenario {
    scenario(
        "time_types",
        "Tests time-with-timezone and time-without-timezone formats. These are commonly \
         mishandled by destinations.",
        json!({
            "id": {"type": "integer"},
            "time_no_tz": {
                "type": "string",
                "format": "time",
                "airbyte_type": "time_without_timezone",
            },
            "time_with_tz": {
                "type": "string",
                "format": "time",
                "airbyte_type": "time_with_timezone",
            },
            "timestamp_no_tz": {
                "type": "string",
                "format": "date-time",
                "airbyte_type": "timestamp_without_timezone",
            },
        }),
        Some("id"),
        vec![
            json!({
                "id": 1,
                "time_no_tz": "10:30:00",
                "time_with_tz": "10:30:00+05:30",
                "timestamp_no_tz": "2024-01-15T10:30:00",
            }),
            json!({
                "id": 2,
                "time_no_tz": "00:00:00",
                "time_with_tz": "00:00:00Z",
                "timestamp_no_tz": "1970-01-01T00:00:00",
            }),
            json!({
                "id": 3,
                "time_no_tz": "23:59:59.999999",
                "time_with_tz": "23:59:59.999999-08:00",
                "timestamp_no_tz": "2099-12-31T23:59:59.999999",
            }),
        ],
    )
}

fn union_types() -> Scenario {
    scenario(
        "union_types",
        "Tests columns with oneOf/anyOf schemas where a field can hold values of different \
         types. Union handling is a frequent source of destination bugs.",
        json!({
            "id": {"type": "integer"},
            "string_or_integer": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "number_or_null": {"oneOf": [{"type": "number"}, {"type": "null"}]},
            "object_or_string": {
                "oneOf": [
                    {
                        "type": "object",
                        "properties": {"key": {"type": "string"}},
                    },
                    {"type": "string"},
                ],
            },
        }),
        Some("id"),
        vec![
            json!({
                "id": 1,
                "string_or_integer": "hello",
                "number_or_null": PI,
                "object_or_string": {"key": "value"},
            }),
            json!({
                "id": 2,
                "string_or_integer": 42,
                "number_or_null": null,
                "object_or_string": "just_a_string",
            }),
            json!({
                "id": 3,
                "string_or_integer": "",
                "number_or_null": 0.0,
                "object_or_string": {},
            }),
        ],
    )
}

fn array_of_primitives() -> Scenario {
    scenario(
        "array_of_primitives",
        "Tests arrays containing primitive types (strings, integers, mixed). Complements \
         nested_json_objects which only tests arrays of objects.",
        json!({
            "id": {"type": "integer"},
            "string_array": {"type": "array", "items": {"type": "string"}},
            "integer_array": {"type": "array", "items": {"type": "integer"}},
            "mixed_array": {"type": "array"},
            "empty_typed_array": {"type": "array", "items": {"type": "number"}},
        }),
        Some("id"),
        vec![
            json!({
                "id": 1,
                "string_array": ["a", "b", "c"],
                "integer_array": [1, 2, 3],
                "mixed_array": ["text", 42, true, null, PI],
                "empty_typed_array": [],
            }),
            json!({
                "id": 2,
                "string_array": [],
                "integer_array": [0, -1, 999_999_999],
                "mixed_array": [{"nested": "object"}, [1, 2]],
                "empty_typed_array": [0.0, 1e10, -99.99],
            }),
            json!({
                "id": 3,
                "string_array": ["", "  ", "normal"],
                "integer_array": [],
                "mixed_array": [],
                "empty_typed_array": [PI],
            }),
        ],
    )
}

fn large_string_values() -> Scenario {
    scenario(
        "large_string_values",
        "Tests handling of very long string values that may exceed column size limits or \
         buffer sizes in destinations.",
        json!({
            "id": {"type": "integer"},
            "short_value": {"type": "string"},
            "medium_value": {"type": "string"},
            "large_value": {"type": "string"},
        }),
        Some("id"),
        // ~1 KB, ~10 KB and ~100 KB strings, then realistic text of similar sizes.
        vec![
            json!({
                "id": 1,
                "short_value": "x".repeat(1_000),
                "medium_value": "y".repeat(10_000),
                "large_value": "z".repeat(100_000),
            }),
            json!({
                "id": 2,
                "short_value": "Hello, World!",
                "medium_value": "The quick brown fox jumps over the lazy dog. "
                    .repeat(250)
                    .trim(),
                "large_value": "Pack my box with five dozen liquor jugs. ".repeat(2500).trim(),
            }),
        ],
    )
}

fn sparse_records() -> Scenario {
    scenario(
        "sparse_records",
        "Tests records where different rows have different subsets of columns populated. \
         Destinations must handle missing fields gracefully.",
        json!({
            "id": {"type": "integer"},
            "col_a": {"type": ["null", "string"]},
            "col_b": {"type": ["null", "integer"]},
            "col_c": {"type": ["null", "number"]},
            "col_d": {"type": ["null", "boolean"]},
            "col_e": {"type": ["null", "string"]},
        }),
        Some("id"),
        vec![
            json!({"id": 1, "col_a": "only_a"}),
            json!({"id": 2, "col_b": 42}),
            json!({"id": 3, "col_c": PI}),
            json!({"id": 4, "col_d": true}),
            json!({"id": 5, "col_e": "only_e"}),
            json!({
                "id": 6,
                "col_a": "all",
                "col_b": 99,
                "col_c": 1.0,
                "col_d": false,
                "col_e": "present",
            }),
            json!({"id": 7}),
        ],
    )
}

fn special_number_values() -> Scenario {
    scenario(
        "special_number_values",
        "Tests boundary and special numeric values including very large and very small floats. \
         These commonly break destinations that use fixed-precision numeric types.",
        json!({
            "id": {"type": "integer"},
            "float_value": {"type": "number"},
            "integer_value": {"type": "integer"},
        }),
        Some("id"),
        vec![
            json!({"id": 1, "float_value": f64::MAX, "integer_value": 1}),
            // The smallest positive subnormal double, 5e-324.
            json!({"id": 2, "float_value": f64::from_bits(1), "integer_value": -1}),
            json!({"id": 3, "float_value": f64::MIN, "integer_value": 0}),
            json!({"id": 4, "float_value": -f64::from_bits(1), "integer_value": i64::MAX}),
            json!({"id": 5, "float_value": 0.0, "integer_value": i64::MIN}),
            json!({"id": 6, "float_value": 1.0, "integer_value": i32::MAX}),
            json!({"id": 7, "float_value": -1.0, "integer_value": i32::MIN}),
        ],
    )
}
