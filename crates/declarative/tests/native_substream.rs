//! The configcat connector's manifest (copied unchanged, `source_configcat/manifest.yaml`) against
//! the mock API: SubstreamPartitionRouters (a child request per parent record, the parent's
//! key in the child's path), BasicHttpAuthenticator, schema files found beside the manifest,
//! string references in `streams`. The expected requests are those airbyte-cdk 7.39.1 sends for
//! this manifest (recorded by running the CDK against a twin of this mock); the CDK caches
//! parent responses, so how often a parent is requested again is not compared, only which
//! requests are sent and that every child partition is requested once.

mod support;

use std::collections::BTreeSet;

use abrs_declarative::DeclarativeSource;
use serde_json::{Value, json};
use support::{
    Messages, MockServer, RecordedRequest, Routes, catalog, load_manifest_rewritten, manifest_path,
};

const MANIFEST: &str = "source_configcat/manifest.yaml";
const FIXED_URL: &str = "https://api.configcat.com/v1";
/// base64("cc-user:cc-pass-word")
const BASIC: &str = "Basic Y2MtdXNlcjpjYy1wYXNzLXdvcmQ=";

fn product_number(r: &RecordedRequest) -> u64 {
    r.path
        .split('/')
        .nth(3)
        .and_then(|p| p.strip_prefix("p-"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn api() -> MockServer {
    MockServer::start(
        Routes::new()
            .get("/v1/organizations", |_| json!([{"organizationId": "o-1", "name": "Org"}]))
            .get("/v1/organizations/o-1/members", |_| {
                json!([{"userId": "u-1", "email": "u1@example.com"}])
            })
            .get("/v1/products", |_| {
                json!([{"productId": "p-1", "name": "P1"}, {"productId": "p-2", "name": "P2"}])
            })
            .get("/v1/products/*/tags", |r| {
                let n = product_number(r);
                json!([{"tagId": 10 + n, "name": format!("tag of p-{n}")}])
            })
            .get("/v1/products/*/environments", |r| {
                json!([{"environmentId": format!("env-p-{}", product_number(r)), "name": "production"}])
            }),
    )
}

fn source(server: &MockServer) -> DeclarativeSource {
    let manifest = load_manifest_rewritten(MANIFEST, FIXED_URL, &format!("{}/v1", server.url()));
    DeclarativeSource::new(
        manifest,
        json!({"username": "cc-user", "password": "cc-pass-word"}),
    )
    .expect("the source")
}

fn sorted(mut records: Vec<Value>) -> Vec<Value> {
    records.sort_by_key(|r| r.to_string());
    records
}

#[test]
fn spec_is_the_inlined_package_spec() {
    let spec = DeclarativeSource::spec(&load_manifest_rewritten(MANIFEST, FIXED_URL, "http://x"))
        .expect("spec");
    assert_eq!(
        spec["documentationUrl"],
        "https://docs.airbyte.com/integrations/sources/configcat"
    );
    assert_eq!(spec["connectionSpecification"]["title"], "Configcat Spec");
    assert_eq!(
        spec["connectionSpecification"]["required"],
        json!(["username", "password"])
    );
}

#[test]
fn discover_reads_the_schema_files_of_the_package() {
    let server = api();
    let catalog = source(&server).discover().expect("discover");
    let streams = catalog["streams"].as_array().expect("streams");
    let names: Vec<&str> = streams
        .iter()
        .map(|s| s["name"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        names,
        [
            "organizations",
            "organization_members",
            "products",
            "tags",
            "environments"
        ]
    );
    let keys = [
        "organizationId",
        "userId",
        "productId",
        "tagId",
        "environmentId",
    ];
    for (stream, key) in streams.iter().zip(keys) {
        let name = stream["name"].as_str().unwrap_or("?");
        let file = manifest_path(&format!("source_configcat/schemas/{name}.json"));
        let schema: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("schema file"))
                .expect("JSON schema");
        assert_eq!(stream["json_schema"], schema, "{name}");
        assert_eq!(
            stream["source_defined_primary_key"],
            json!([[key]]),
            "{name}"
        );
        assert_eq!(
            stream["supported_sync_modes"],
            json!(["full_refresh"]),
            "{name}"
        );
    }
}

#[test]
fn check_reads_organizations_with_basic_auth() {
    let server = api();
    assert_eq!(source(&server).check(), (true, None));
    let first = server.requests().first().cloned().expect("a request");
    assert_eq!(first.line(), "GET /v1/organizations");
    assert_eq!(first.header("Authorization"), Some(BASIC));
}

#[test]
fn read_requests_each_child_partition_once() {
    let server = api();
    let out = Messages::read(
        &source(&server),
        &catalog(&[
            ("organizations", "full_refresh"),
            ("organization_members", "full_refresh"),
            ("products", "full_refresh"),
            ("tags", "full_refresh"),
            ("environments", "full_refresh"),
        ]),
        None,
    );
    assert_eq!(out.result, Ok(()), "{:#?}", out.all);

    let distinct: BTreeSet<String> = server.sorted_lines().into_iter().collect();
    assert_eq!(
        distinct.iter().map(String::as_str).collect::<Vec<_>>(),
        [
            "GET /v1/organizations",
            "GET /v1/organizations/o-1/members",
            "GET /v1/products",
            "GET /v1/products/p-1/environments",
            "GET /v1/products/p-1/tags",
            "GET /v1/products/p-2/environments",
            "GET /v1/products/p-2/tags",
        ]
    );
    for child in [
        "/v1/organizations/o-1/members",
        "/v1/products/p-1/tags",
        "/v1/products/p-2/tags",
        "/v1/products/p-1/environments",
        "/v1/products/p-2/environments",
    ] {
        assert_eq!(server.requests_to(child).len(), 1, "{child} once");
    }
    for r in server.requests() {
        assert_eq!(r.header("Authorization"), Some(BASIC), "{}", r.line());
    }

    assert_eq!(
        out.records("organizations"),
        [json!({"organizationId": "o-1", "name": "Org"})]
    );
    assert_eq!(
        out.records("organization_members"),
        [json!({"userId": "u-1", "email": "u1@example.com"})]
    );
    assert_eq!(out.records("products").len(), 2);
    // Child records are the API's, as they are: no partition field added.
    assert_eq!(
        sorted(out.records("tags")),
        [
            json!({"tagId": 11, "name": "tag of p-1"}),
            json!({"tagId": 12, "name": "tag of p-2"}),
        ]
    );
    assert_eq!(
        sorted(out.records("environments")),
        [
            json!({"environmentId": "env-p-1", "name": "production"}),
            json!({"environmentId": "env-p-2", "name": "production"}),
        ]
    );
    for stream in [
        "organizations",
        "organization_members",
        "products",
        "tags",
        "environments",
    ] {
        assert_eq!(
            out.final_state(stream),
            json!({"__ab_no_cursor_state_message": true}),
            "{stream}"
        );
    }
    let text = support::dump(&out);
    assert!(!text.contains("cc-pass-word"), "the password leaked");
}

#[test]
fn a_child_alone_still_reads_its_parent() {
    let server = api();
    let out = Messages::read(
        &source(&server),
        &catalog(&[("tags", "full_refresh")]),
        None,
    );
    assert_eq!(out.result, Ok(()), "{:#?}", out.all);
    assert_eq!(out.records("tags").len(), 2);
    assert!(
        out.records("products").is_empty(),
        "the parent's records are not emitted"
    );
    assert!(!server.requests_to("/v1/products").is_empty());
    assert!(server.requests_to("/v1/organizations").is_empty());
}
