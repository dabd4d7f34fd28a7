//! The Connector Builder's test read (`abrs_declarative::test_read`) against the mock API: a
//! stream of three partitions with three pages each, read two pages and two slices deep; the
//! requests, responses and records grouped per slice and page, the token masked.

mod support;

use abrs_declarative::test_read::{TestReadLimits, test_read};
use abrs_declarative::{DeclarativeSource, Manifest};
use serde_json::{Value, json};
use support::{MockServer, Routes};

const TOKEN: &str = "tr-secret-token-42";

const MANIFEST: &str = r#"
version: 6.0.0
type: DeclarativeSource
check: {type: CheckStream, stream_names: [items]}
streams:
  - type: DeclarativeStream
    name: items
    primary_key: [id]
    schema_loader: {type: InlineSchemaLoader, schema: {type: object}}
    retriever:
      type: SimpleRetriever
      requester:
        type: HttpRequester
        url_base: "{{ config['base_url'] }}"
        path: "/groups/{{ stream_partition.group }}/items"
        authenticator: {type: BearerAuthenticator, api_token: "{{ config['token'] }}"}
      record_selector:
        type: RecordSelector
        extractor: {type: DpathExtractor, field_path: [data]}
      paginator:
        type: DefaultPaginator
        page_token_option: {type: RequestOption, inject_into: request_parameter, field_name: page}
        pagination_strategy:
          type: CursorPagination
          cursor_value: "{{ response.next }}"
          stop_condition: "{{ not response.next }}"
      partition_router:
        type: ListPartitionRouter
        cursor_field: group
        values: [a, b, c]
spec:
  type: Spec
  connection_specification:
    type: object
    properties:
      base_url: {type: string}
      token: {type: string, airbyte_secret: true}
"#;

fn api() -> MockServer {
    MockServer::start(Routes::new().get("/groups/*/items", |r| {
        let group = r.path.split('/').nth(2).unwrap_or("?").to_string();
        let page: u32 = r.param("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let next = if page < 3 {
            json!(page + 1)
        } else {
            Value::Null
        };
        json!({"data": [{"id": format!("{group}{page}-1")}, {"id": format!("{group}{page}-2")}],
               "next": next, "echo": TOKEN})
    }))
}

fn source(server: &MockServer) -> DeclarativeSource {
    let manifest = Manifest::from_str(MANIFEST).expect("the manifest");
    DeclarativeSource::new(manifest, json!({"base_url": server.url(), "token": TOKEN}))
        .expect("the source")
}

#[test]
fn pages_and_slices_are_limited_and_grouped() {
    let server = api();
    let limits = TestReadLimits {
        pages_per_slice: 2,
        slices: 2,
        ..TestReadLimits::default()
    };
    let read = test_read(source(&server), "items", limits).expect("the test read");
    assert_eq!(read.error, None);
    // Two slices of two pages: four requests, none for the third slice or third pages.
    assert_eq!(server.requests().len(), 4);
    assert_eq!(read.slices.len(), 2);
    let partitions: Vec<&Value> = read.slices.iter().map(|s| &s.slice["partition"]).collect();
    assert_eq!(partitions, [&json!({"group": "a"}), &json!({"group": "b"})]);
    for (slice, group) in read.slices.iter().zip(["a", "b"]) {
        assert_eq!(slice.pages.len(), 2);
        for (i, page) in slice.pages.iter().enumerate() {
            let n = i + 1;
            let ids: Vec<&str> = page
                .records
                .iter()
                .filter_map(|r| r["id"].as_str())
                .collect();
            assert_eq!(ids, [format!("{group}{n}-1"), format!("{group}{n}-2")]);
            assert_eq!(page.request["method"], "GET");
            let url = page.request["url"].as_str().unwrap();
            assert!(url.contains(&format!("/groups/{group}/items")), "{url}");
            assert_eq!(url.contains("page=2"), n == 2, "{url}");
            assert_eq!(page.request["headers"]["Authorization"], "****");
            assert_eq!(page.response["status"], 200);
            assert!(page.response["body"].as_str().unwrap().contains("\"data\""));
        }
    }
    assert_eq!(read.record_count(), 8);
    // The token is nowhere: not in headers, not echoed in a body.
    let json_text = read.to_json().to_string();
    let text = read.to_text();
    assert!(!json_text.contains(TOKEN) && !text.contains(TOKEN));
    assert!(text.contains("slice 2: "), "{text}");
    assert!(
        text.contains("8 record(s) of stream items in 2 slice(s)"),
        "{text}"
    );
}

#[test]
fn bodies_are_cut_and_records_limited() {
    let server = api();
    let limits = TestReadLimits {
        records: 3,
        body_bytes: 20,
        ..TestReadLimits::default()
    };
    let read = test_read(source(&server), "items", limits).expect("the test read");
    // The read stops at the third record (second page of the first slice).
    assert_eq!(read.record_count(), 3);
    let body = read.slices[0].pages[0].response["body"].as_str().unwrap();
    assert!(body.ends_with("bytes in all)"), "{body}");
    assert!(body.chars().count() < 60, "{body}");
}

#[test]
fn an_unknown_stream_is_an_error_naming_the_streams() {
    let server = api();
    let e = test_read(source(&server), "nope", TestReadLimits::default()).unwrap_err();
    assert!(e.to_string().contains("its streams: items"), "{e}");
}
