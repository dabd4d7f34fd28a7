//! What a failing partition of a stream with a partition router and a cursor does, as in
//! airbyte-cdk 7.39.1's concurrent reader: the other partitions are still read, the stream
//! fails, and its state is emitted as it stands (the failed partition never closes, so the
//! global cursor and the parent state do not move). And a `check` naming a stream the
//! manifest lacks is the manifest's error, not a FAILED connection.

mod support;

use abrs_declarative::{DeclarativeSource, Manifest};
use serde_json::{Value, json};
use support::{Messages, MockResponse, MockServer, Routes, catalog};

fn manifest(base: &str, check: &str) -> Manifest {
    let text = format!(
        r##"
version: 6.44.0
type: DeclarativeSource
check: {{type: CheckStream, stream_names: [{check}]}}
streams:
  - type: DeclarativeStream
    name: lines
    primary_key: [id]
    incremental_sync:
      type: DatetimeBasedCursor
      cursor_field: updated
      datetime_format: "%s"
      cursor_datetime_formats: ["%s"]
      global_substream_cursor: true
      start_datetime: {{type: MinMaxDatetime, datetime: "1000", datetime_format: "%s"}}
    retriever:
      type: SimpleRetriever
      requester: {{type: HttpRequester, url_base: "{base}", path: "/invoices/{{{{ stream_partition.invoice_id }}}}/lines"}}
      record_selector: {{type: RecordSelector, extractor: {{type: DpathExtractor, field_path: [data]}}}}
      partition_router:
        type: SubstreamPartitionRouter
        parent_stream_configs:
          - type: ParentStreamConfig
            parent_key: id
            partition_field: invoice_id
            stream:
              type: DeclarativeStream
              name: invoices
              retriever:
                type: SimpleRetriever
                requester: {{type: HttpRequester, url_base: "{base}", path: /invoices}}
                record_selector: {{type: RecordSelector, extractor: {{type: DpathExtractor, field_path: [data]}}}}
spec:
  connection_specification: {{type: object}}
"##
    );
    Manifest::from_str(&text).expect("the manifest")
}

fn api() -> MockServer {
    MockServer::start(
        Routes::new()
            .get(
                "/invoices",
                |_| json!({"data": [{"id": "a"}, {"id": "bad"}, {"id": "c"}]}),
            )
            .route("GET", "/invoices/*/lines", |r| {
                if r.path.contains("bad") {
                    MockResponse::status(400, json!({"error": "broken"}))
                } else {
                    MockResponse::json(json!({"data": [{"id": r.path.clone(), "updated": "2000"}]}))
                }
            }),
    )
}

#[test]
fn a_failed_partition_fails_the_stream_after_the_others_and_the_state_stays() {
    let server = api();
    let source = DeclarativeSource::new(manifest(&server.url(), "lines"), json!({})).unwrap();
    let messages = Messages::read(&source, &catalog(&[("lines", "incremental")]), None);
    assert!(messages.result.is_err());
    let mut ids: Vec<Value> = messages
        .records("lines")
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    ids.sort_by_key(Value::to_string);
    assert_eq!(
        ids,
        vec![json!("/invoices/a/lines"), json!("/invoices/c/lines")]
    );
    assert_eq!(
        messages.final_state("lines"),
        // Partition `a` closed before `bad` opened: its parent state (none tracked: `{}`)
        // is the stream's; `c` closed after `bad` opened, so it moves nothing.
        json!({"use_global_cursor": true, "lookback_window": 0, "parent_state": {}})
    );
}

#[test]
fn a_check_of_a_stream_the_manifest_lacks_is_an_error() {
    let server = api();
    let source = DeclarativeSource::new(manifest(&server.url(), "nope"), json!({})).unwrap();
    let error = source.check_connection().unwrap_err().to_string();
    assert!(
        error.contains("check.stream_names") && error.contains("nope is not part of the catalog"),
        "{error}"
    );
    let source = DeclarativeSource::new(manifest(&server.url(), "lines"), json!({})).unwrap();
    assert_eq!(source.check_connection().unwrap(), (true, None));
}
