//! Documents from a real DuckDB cache loaded with the fixture source, and from `get_records`.

use std::collections::HashSet;
use std::path::Path;

use airbyte as ab;
use airbyte::documents::DocumentRenderer;
use serde_json::json;

fn fixture_source(config: serde_json::Value) -> ab::Source {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/source-fixture");
    let mut source =
        ab::get_source(&path.to_string_lossy(), Some(config), Default::default()).expect("source");
    source.select_all_streams().expect("select");
    source
}

#[test]
fn cached_dataset_to_documents() {
    let dir = tempfile::tempdir().expect("tmp");
    let cache = ab::DuckDbCache::new(dir.path().join("c.duckdb"));
    let source = fixture_source(json!({"count": 20, "products_count": 3}));
    let result = source.read(&cache, Default::default()).expect("read");
    let users = result.get("users").expect("users");

    // PyAirbyte's defaults: no title, no content → the metadata (every column) as YAML.
    let docs: Vec<ab::Document> = users
        .to_documents(DocumentRenderer::new())
        .expect("documents")
        .collect::<Result<_, _>>()
        .expect("rendered");
    assert_eq!(docs.len(), 20);
    let ids: HashSet<_> = docs.iter().map(|d| d.id.clone().expect("an id")).collect();
    assert_eq!(ids.len(), 20, "raw ids are unique");
    let first = &docs[0];
    assert_eq!(first.metadata["_airbyte_raw_id"], json!(first.id.clone()));
    assert!(
        first
            .content
            .starts_with("```yaml\n_airbyte_extracted_at: '"),
        "{}",
        first.content
    );
    assert!(
        first
            .content
            .contains("\naddress:\n  city: \"Z\\xFCrich\"\n  geo:\n    lat: -76.5\n")
    );
    assert!(
        first.content.contains("\ntags:\n- t1\n- t1\n"),
        "{}",
        first.content
    );
    assert!(first.content.ends_with("```\n"));

    // Title, several contents with headers, chosen metadata, ids from the primary key, a
    // filter, and the documents streamed (taken lazily).
    let renderer = DocumentRenderer::new()
        .title("name")
        .content(["nickname", "contact_email"])
        .metadata(["id", "age"])
        .render_metadata(true)
        .primary_key(["id"])
        .cursor("updated_at");
    let doc = users
        .with_filter("id = 2")
        .to_documents(renderer)
        .expect("documents")
        .next()
        .expect("one")
        .expect("rendered");
    assert_eq!(
        doc.content,
        "# Linus\n\n```yaml\nage: 34\nid: 2\n```\n## Nickname\n\nNone\n\n\n\
         ## Contact Email\n\nuser2@example.com\n\n"
    );
    assert_eq!(doc.id.as_deref(), Some("2"));
    assert_eq!(
        doc.last_modified.map(|t| t.to_rfc3339()),
        Some("2024-01-01T00:02:00+00:00".into())
    );
    assert_eq!(
        doc.metadata,
        json!({"id": 2, "age": 34})
            .as_object()
            .cloned()
            .unwrap_or_default()
    );

    // A property the table does not have fails on the first record, naming it.
    let mut bad = users
        .to_documents(DocumentRenderer::new().content(["nope"]))
        .expect("documents");
    let err = bad.next().expect("an item").expect_err("unknown");
    assert!(err.to_string().contains("`nope`"), "{err}");
    assert!(bad.next().is_none(), "the iteration ends after an error");
}

#[test]
fn get_documents_from_a_running_source() {
    let source = fixture_source(json!({"count": 5}));
    let renderer = DocumentRenderer::new().title("name").content(["age"]);
    let docs: Vec<ab::Document> = source
        .get_documents("users", Some(2), renderer)
        .expect("documents")
        .collect::<ab::Result<_>>()
        .expect("rendered");
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].content, "# Grace\n\n27");
    assert_eq!(docs[0].to_string(), "# Grace\n\n27");
    // The stream's primary key and cursor, from the catalog.
    assert_eq!(docs[1].id.as_deref(), Some("2"));
    assert_eq!(
        docs[1].last_modified.map(|t| t.to_rfc3339()),
        Some("2024-01-01T00:02:00+00:00".into())
    );
    assert!(docs[0].metadata.contains_key("_airbyte_raw_id"));

    // A stream without a primary key gets the raw ids.
    let orders: Vec<ab::Document> = source
        .get_records("PurchaseOrders", Some(1))
        .expect("records")
        .to_documents(DocumentRenderer::new().content(["status"]))
        .collect::<ab::Result<_>>()
        .expect("rendered");
    assert_eq!(
        orders[0].id.as_ref(),
        orders[0].metadata["_airbyte_raw_id"]
            .as_str()
            .map(str::to_string)
            .as_ref()
    );
}
