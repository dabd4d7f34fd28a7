//! `DynamicDeclarativeStream`: streams made from a template by `ConfigComponentsResolver`
//! (one per config entry) and `HttpComponentsResolver` (one per record an API lists), as
//! airbyte-cdk 7.39.1 makes them, against the mock API; `CheckDynamicStream` reads the first
//! of them.

mod support;

use abrs_declarative::{DeclarativeSource, Manifest};
use serde_json::json;
use support::{Messages, MockServer, Routes, catalog};

fn manifest(base: &str) -> Manifest {
    let text = format!(
        r##"
version: 6.44.0
type: DeclarativeSource
check: {{type: CheckDynamicStream, stream_count: 1}}
definitions:
  template:
    type: DeclarativeStream
    name: placeholder
    primary_key: [id]
    retriever:
      type: SimpleRetriever
      requester: {{type: HttpRequester, url_base: "{base}", path: /placeholder}}
      record_selector: {{type: RecordSelector, extractor: {{type: DpathExtractor, field_path: [rows]}}}}
dynamic_streams:
  - type: DynamicDeclarativeStream
    stream_template: {{$ref: "#/definitions/template"}}
    components_resolver:
      type: ConfigComponentsResolver
      stream_config:
        type: StreamConfig
        configs_pointer: [tables]
      components_mapping:
        - type: ComponentMappingDefinition
          field_path: [name]
          value: "{{{{ components_values.name }}}}"
        - type: ComponentMappingDefinition
          field_path: [retriever, requester, path]
          value: "/config/{{{{ components_values.name }}}}"
        - type: ComponentMappingDefinition
          field_path: [retriever, requester, request_parameters]
          value: "{{{{ {{'limit': components_values.limit}} }}}}"
          create_or_update: true
          condition: "{{{{ components_values.limit }}}}"
  - type: DynamicDeclarativeStream
    name: listed
    stream_template: {{$ref: "#/definitions/template"}}
    components_resolver:
      type: HttpComponentsResolver
      retriever:
        type: SimpleRetriever
        requester: {{type: HttpRequester, url_base: "{base}", path: /tables}}
        record_selector: {{type: RecordSelector, extractor: {{type: DpathExtractor, field_path: [tables]}}}}
      components_mapping:
        - type: ComponentMappingDefinition
          field_path: [name]
          value: "api_{{{{ components_values.id }}}}"
        - type: ComponentMappingDefinition
          field_path: [retriever, requester, path]
          value: "/api/{{{{ components_values.id }}}}"
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
                "/tables",
                |_| json!({"tables": [{"id": "t1"}, {"id": "t2"}]}),
            )
            .get(
                "/config/*",
                |r| json!({"rows": [{"id": r.path.clone(), "limit": r.param("limit")}]}),
            )
            .get("/api/*", |r| json!({"rows": [{"id": r.path.clone()}]})),
    )
}

#[test]
fn streams_are_made_from_the_config_and_from_the_api() {
    let server = api();
    let config = json!({"tables": [{"name": "users", "limit": 5}, {"name": "teams"}]});
    let source = DeclarativeSource::new(manifest(&server.url()), config).expect("source");
    let catalog_value = source.discover().expect("discover");
    let names: Vec<&str> = catalog_value["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["users", "teams", "api_t1", "api_t2"]);
    let messages = Messages::read(
        &source,
        &catalog(&[
            ("users", "full_refresh"),
            ("teams", "full_refresh"),
            ("api_t2", "full_refresh"),
        ]),
        None,
    );
    assert_eq!(messages.result, Ok(()), "{:?}", messages.errors());
    assert_eq!(
        messages.records("users"),
        vec![json!({"id": "/config/users", "limit": "5"})]
    );
    // `condition` is false without a limit: no request_parameters are created.
    assert_eq!(
        messages.records("teams"),
        vec![json!({"id": "/config/teams"})]
    );
    assert_eq!(messages.records("api_t2"), vec![json!({"id": "/api/t2"})]);
    assert_eq!(source.check_connection().expect("check"), (true, None));
}

#[test]
fn a_duplicate_dynamic_stream_name_is_an_error() {
    let server = api();
    let config = json!({"tables": [{"name": "same"}, {"name": "same"}]});
    let source = DeclarativeSource::new(manifest(&server.url()), config).expect("source");
    let error = source.discover().unwrap_err().to_string();
    assert!(error.contains("duplicate name: same"), "{error}");
}
