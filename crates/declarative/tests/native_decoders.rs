//! The retriever's decoder reads the responses records are extracted from, as airbyte-cdk
//! 7.39.1's factory hands it to the extractor: XML (`xmltodict`'s shape), CSV, gzip and zip
//! archives, against the mock API.

mod support;

use std::io::Write;

use abrs_declarative::{DeclarativeSource, Manifest};
use serde_json::json;
use support::{Messages, MockResponse, MockServer, Routes, catalog};

fn manifest(base: &str) -> Manifest {
    let stream = |name: &str, decoder: &str, path: &str| {
        format!(
            r#"
  - type: DeclarativeStream
    name: {name}
    retriever:
      type: SimpleRetriever
      decoder: {decoder}
      requester: {{type: HttpRequester, url_base: "{base}", path: /{name}}}
      record_selector: {{type: RecordSelector, extractor: {{type: DpathExtractor, field_path: {path}}}}}"#
        )
    };
    // Pages of XML: the paginator reads the decoded document too.
    let paged = format!(
        r#"
  - type: DeclarativeStream
    name: xml_pages
    retriever:
      type: SimpleRetriever
      decoder: {{type: XmlDecoder}}
      requester: {{type: HttpRequester, url_base: "{base}", path: /xml_pages}}
      record_selector: {{type: RecordSelector, extractor: {{type: DpathExtractor, field_path: [feed, item]}}}}
      paginator:
        type: DefaultPaginator
        page_token_option: {{type: RequestOption, inject_into: request_parameter, field_name: after}}
        pagination_strategy:
          type: CursorPagination
          cursor_value: "{{{{ response.feed.next }}}}"
          stop_condition: "{{{{ not response.feed.next }}}}""#
    );
    let text = format!(
        "version: 6.44.0\ntype: DeclarativeSource\ncheck: {{type: CheckStream, stream_names: [xml]}}\nstreams:{}{}{}{}{paged}\nspec:\n  connection_specification: {{type: object}}\n",
        stream("xml", "{type: XmlDecoder}", "[feed, item]"),
        stream(
            "csv",
            "{type: CsvDecoder, delimiter: ';', set_values_to_none: ['']}",
            "[]"
        ),
        stream(
            "gz",
            "{type: GzipDecoder, decoder: {type: JsonlDecoder}}",
            "[]"
        ),
        stream(
            "zipped",
            "{type: ZipfileDecoder, decoder: {type: CsvDecoder}}",
            "[]"
        ),
    );
    Manifest::from_str(&text).expect("the manifest")
}

fn bytes(content_type: &str, body: Vec<u8>) -> MockResponse {
    MockResponse {
        status: 200,
        headers: vec![("Content-Type".into(), content_type.into())],
        body,
    }
}

fn api() -> MockServer {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"{\"n\": 1}\n{\"n\": 2}\n").unwrap();
    let gz = gz.finish().unwrap();
    let mut zipped = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut zipped);
        let options = zip::write::SimpleFileOptions::default();
        z.start_file("part-1.csv", options).unwrap();
        z.write_all(b"id,v\n1,a\n").unwrap();
        z.start_file("part-2.csv", options).unwrap();
        z.write_all(b"id,v\n2,b\n").unwrap();
        z.finish().unwrap();
    }
    let zipped = zipped.into_inner();
    MockServer::start(
        Routes::new()
            .route("GET", "/xml", |_| {
                bytes(
                    "application/xml",
                    br#"<feed><item id="1"><title>A &amp; B</title></item><item id="2"><title>C</title></item></feed>"#.to_vec(),
                )
            })
            .route("GET", "/xml_pages", |r| {
                let body: &[u8] = if r.param("after") == Some("p2") {
                    b"<feed><item><n>2</n></item></feed>"
                } else {
                    b"<feed><next>p2</next><item><n>1</n></item></feed>"
                };
                bytes("text/xml", body.to_vec())
            })
            .route("GET", "/csv", |_| bytes("text/csv", b"id;name\n1;x\n2;\n".to_vec()))
            .route("GET", "/gz", move |_| bytes("application/gzip", gz.clone()))
            .route("GET", "/zipped", move |_| bytes("application/zip", zipped.clone())),
    )
}

#[test]
fn each_decoder_gives_the_cdks_records() {
    let server = api();
    let source = DeclarativeSource::new(manifest(&server.url()), json!({})).expect("source");
    let messages = Messages::read(
        &source,
        &catalog(&[
            ("xml", "full_refresh"),
            ("csv", "full_refresh"),
            ("gz", "full_refresh"),
            ("zipped", "full_refresh"),
            ("xml_pages", "full_refresh"),
        ]),
        None,
    );
    assert_eq!(messages.result, Ok(()), "{:?}", messages.errors());
    assert_eq!(
        messages.records("xml"),
        vec![
            json!({"@id": "1", "title": "A & B"}),
            json!({"@id": "2", "title": "C"})
        ]
    );
    // A null value is dropped from the record's top level, as the CDK's serializer does.
    assert_eq!(
        messages.records("csv"),
        vec![json!({"id": "1", "name": "x"}), json!({"id": "2"})]
    );
    assert_eq!(
        messages.records("gz"),
        vec![json!({"n": 1}), json!({"n": 2})]
    );
    assert_eq!(
        messages.records("xml_pages"),
        vec![json!({"n": "1"}), json!({"n": "2"})]
    );
    assert_eq!(server.requests_to("/xml_pages").len(), 2);
    assert_eq!(
        messages.records("zipped"),
        vec![json!({"id": "1", "v": "a"}), json!({"id": "2", "v": "b"})]
    );
}
