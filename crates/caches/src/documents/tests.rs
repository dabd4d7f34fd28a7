//! The renderer against PyAirbyte 0.71.3's own output (`expected.rs`, generated once by running
//! its `DocumentRenderer` on the same records).

#[rustfmt::skip]
mod expected;

use serde_json::{Map, Value, json};

use super::*;

fn record(i: usize) -> Map<String, Value> {
    match serde_json::from_str(expected::RECORDS[i]) {
        Ok(Value::Object(map)) => map,
        other => panic!("record {i} is not an object: {other:?}"),
    }
}

#[test]
fn renders_exactly_as_pyairbyte() {
    for case in &expected::CASES {
        let renderer = DocumentRenderer {
            title_property: case.title.map(str::to_string),
            content_properties: case.content.map(|c| names(c.iter().copied())),
            metadata_properties: case.metadata.map(|c| names(c.iter().copied())),
            render_metadata: case.render_metadata,
            ..Default::default()
        };
        let doc = renderer
            .render_document(&record(case.record))
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(doc.content, case.content_out, "case {}", case.name);
        let want: Value = serde_json::from_str(case.metadata_out).expect("metadata JSON");
        assert_eq!(
            Value::Object(doc.metadata.clone()),
            want,
            "case {}",
            case.name
        );
        let want_keys: Vec<&String> = want.as_object().expect("object").keys().collect();
        assert_eq!(
            doc.metadata.keys().collect::<Vec<_>>(),
            want_keys,
            "{}",
            case.name
        );
        assert_eq!(doc.to_string(), doc.content);
    }
}

#[test]
fn ids_come_from_the_primary_key_else_the_raw_id() {
    let r = record(0);
    let by_raw_id = DocumentRenderer::new().render_document(&r).expect("doc");
    assert_eq!(
        by_raw_id.id.as_deref(),
        Some("06b0eb3a-66e6-7c6c-8000-337402abcf3b")
    );
    let by_key = DocumentRenderer::new()
        .primary_key(["id", "name"])
        .cursor("joined")
        .render_document(&r)
        .expect("doc");
    assert_eq!(by_key.id.as_deref(), Some("1|Ada"));
    assert_eq!(
        by_key.last_modified.map(|t| t.to_rfc3339()),
        Some("2024-01-01T00:01:00+00:00".to_string())
    );
    let without = DocumentRenderer::new()
        .render_document(&record(2))
        .expect("doc");
    assert_eq!(without.id, None);
    assert_eq!(without.last_modified, None);
}

#[test]
fn an_unknown_property_is_an_error_naming_it() {
    let err = DocumentRenderer::new()
        .title("nope")
        .render_document(&record(2))
        .expect_err("no such property");
    let text = err.to_string();
    assert!(text.contains("`nope`") && text.contains("title") && text.contains("first_name"));
}

#[test]
fn metadata_properties_are_fixed_at_the_first_record() {
    let records = vec![
        Ok::<_, DocumentError>(
            json!({"a": 1, "b": 2})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        ),
        Ok(json!({"a": 3, "b": 4, "c": 5})
            .as_object()
            .cloned()
            .unwrap_or_default()),
    ];
    let docs: Vec<Document> = DocumentRenderer::new()
        .content(["a"])
        .render_documents(records.into_iter())
        .collect::<Result<_, _>>()
        .expect("docs");
    assert_eq!(docs[0].content, "1");
    assert_eq!(docs[1].content, "3");
    assert_eq!(
        docs[1].metadata,
        json!({"b": 4}).as_object().cloned().unwrap_or_default()
    );
}

#[test]
fn documents_serialize_with_pyairbytes_field_names() {
    let doc = DocumentRenderer::new()
        .content(["name"])
        .primary_key(["id"])
        .render_document(&record(0))
        .expect("doc");
    let v = serde_json::to_value(&doc).expect("json");
    assert_eq!(v["id"], json!("1"));
    assert_eq!(v["content"], json!("Ada"));
    assert_eq!(v["last_modified"], Value::Null);
    assert!(v["metadata"].is_object());
    assert_eq!(doc.page_content(), "Ada");
}

#[test]
fn title_case_keeps_the_rest_of_each_word() {
    assert_eq!(title_case("first_name"), "First Name");
    assert_eq!(title_case("camelCase_x"), "CamelCase X");
    assert_eq!(title_case("_airbyte_raw_id"), " Airbyte Raw Id");
}
