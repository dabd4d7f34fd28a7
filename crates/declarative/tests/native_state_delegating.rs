//! `StateDelegatingStream` (the full-refresh stream without a state, the incremental one with
//! it) and `lazy_read_pointer` (a child's first page read out of its parent's record, as the
//! CDK's `LazySimpleRetriever` does on a first sync), against the mock API.

mod support;

use abrs_declarative::{DeclarativeSource, Manifest};
use serde_json::{Value, json};
use support::{Messages, MockServer, Routes, catalog};

fn manifest(base: &str) -> Manifest {
    let text = format!(
        r##"
version: 6.44.0
type: DeclarativeSource
check: {{type: CheckStream, stream_names: [items]}}
definitions:
  requester: {{type: HttpRequester, url_base: "{base}"}}
  selector: {{type: RecordSelector, extractor: {{type: DpathExtractor, field_path: [data]}}}}
  cursor:
    type: DatetimeBasedCursor
    cursor_field: updated
    datetime_format: "%s"
    cursor_datetime_formats: ["%s"]
    start_datetime: {{type: MinMaxDatetime, datetime: "1000", datetime_format: "%s"}}
streams:
  - type: StateDelegatingStream
    name: items
    full_refresh_stream:
      type: DeclarativeStream
      name: items
      primary_key: [id]
      incremental_sync: {{$ref: "#/definitions/cursor"}}
      retriever:
        type: SimpleRetriever
        requester: {{$ref: "#/definitions/requester", path: /items}}
        record_selector: {{$ref: "#/definitions/selector"}}
    incremental_stream:
      type: DeclarativeStream
      name: items
      primary_key: [id]
      incremental_sync: {{$ref: "#/definitions/cursor"}}
      retriever:
        type: SimpleRetriever
        requester:
          $ref: "#/definitions/requester"
          path: /events
          request_parameters: {{since: "{{{{ stream_interval.start_time }}}}"}}
        record_selector: {{$ref: "#/definitions/selector"}}
  - type: DeclarativeStream
    name: invoice_lines
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
      requester: {{$ref: "#/definitions/requester", path: "/invoices/{{{{ stream_partition.invoice_id }}}}/lines"}}
      record_selector: {{$ref: "#/definitions/selector"}}
      paginator:
        type: DefaultPaginator
        page_token_option: {{type: RequestOption, inject_into: request_parameter, field_name: starting_after}}
        pagination_strategy:
          type: CursorPagination
          cursor_value: "{{{{ response.data[-1].id }}}}"
          stop_condition: "{{{{ not response.has_more }}}}"
      partition_router:
        type: SubstreamPartitionRouter
        parent_stream_configs:
          - type: ParentStreamConfig
            parent_key: id
            partition_field: invoice_id
            lazy_read_pointer: [lines]
            stream:
              type: DeclarativeStream
              name: invoices
              retriever:
                type: SimpleRetriever
                requester: {{$ref: "#/definitions/requester", path: /invoices}}
                record_selector: {{$ref: "#/definitions/selector"}}
spec:
  connection_specification: {{type: object}}
"##
    );
    Manifest::from_str(&text).expect("the manifest")
}

fn api() -> MockServer {
    MockServer::start(
        Routes::new()
            .get("/items", |_| json!({"data": [{"id": 1, "updated": "2000"}]}))
            .get("/events", |_| json!({"data": [{"id": 1, "updated": "3000"}]}))
            .get("/invoices", |_| {
                json!({"data": [
                    {"id": "in_1", "lines": {"data": [{"id": "l1", "updated": "2000"}], "has_more": true}},
                    {"id": "in_2", "lines": {"data": [{"id": "l3", "updated": "2000"}], "has_more": false}},
                ]})
            })
            .get("/invoices/*/lines", |r| {
                if r.param("starting_after") == Some("l1") {
                    json!({"data": [{"id": "l2", "updated": "2100"}], "has_more": false})
                } else {
                    json!({"data": [{"id": format!("fetched-{}", r.path), "updated": "2200"}], "has_more": false})
                }
            }),
    )
}

fn ids(records: Vec<Value>) -> Vec<String> {
    let mut ids: Vec<String> = records
        .iter()
        .map(|r| {
            r["id"]
                .as_str()
                .map_or_else(|| r["id"].to_string(), str::to_string)
        })
        .collect();
    ids.sort();
    ids
}

#[test]
fn without_state_the_full_refresh_stream_is_read_with_state_the_incremental_one() {
    let server = api();
    let source = DeclarativeSource::new(manifest(&server.url()), json!({})).expect("source");
    let discovered = source.discover().expect("discover");
    assert_eq!(discovered["streams"][0]["name"], "items");
    let catalog = catalog(&[("items", "incremental")]);
    let first = Messages::read(&source, &catalog, None);
    assert_eq!(first.result, Ok(()), "{:?}", first.errors());
    assert_eq!(
        first.records("items"),
        vec![json!({"id": 1, "updated": "2000"})]
    );
    assert_eq!(first.final_state("items"), json!({"updated": "2000"}));
    assert_eq!(server.requests_to("/items").len(), 1);
    assert!(server.requests_to("/events").is_empty());

    let second = Messages::read(&source, &catalog, Some(&first.state_for_next_read()));
    assert_eq!(second.result, Ok(()), "{:?}", second.errors());
    assert_eq!(
        second.records("items"),
        vec![json!({"id": 1, "updated": "3000"})]
    );
    assert_eq!(
        server.requests_to("/items").len(),
        1,
        "the full refresh stream is not read again"
    );
    assert_eq!(
        server.requests_to("/events")[0].param("since"),
        Some("2000")
    );
}

#[test]
fn a_first_sync_reads_the_childs_first_page_from_the_parent_record() {
    let server = api();
    let source = DeclarativeSource::new(manifest(&server.url()), json!({})).expect("source");
    let catalog = catalog(&[("invoice_lines", "incremental")]);
    let first = Messages::read(&source, &catalog, None);
    assert_eq!(first.result, Ok(()), "{:?}", first.errors());
    assert_eq!(ids(first.records("invoice_lines")), ["l1", "l2", "l3"]);
    // Only the second page of in_1 is requested; in_2 has no more pages.
    let lines: Vec<(String, Option<String>)> = server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/lines"))
        .map(|r| {
            (
                r.path.clone(),
                r.param("starting_after").map(str::to_string),
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![("/invoices/in_1/lines".to_string(), Some("l1".to_string()))]
    );

    // With a state, the child is requested as usual.
    server.clear();
    let second = Messages::read(&source, &catalog, Some(&first.state_for_next_read()));
    assert_eq!(second.result, Ok(()), "{:?}", second.errors());
    assert_eq!(
        ids(second.records("invoice_lines")),
        [
            "fetched-/invoices/in_1/lines",
            "fetched-/invoices/in_2/lines"
        ]
    );
}
