//! Corpus-style manifests run natively through `get_source(.., source_manifest)` into a DuckDB
//! cache and through `get_records`, against the declarative tests' mock HTTP server: the
//! configcat connector's manifest (copied unchanged: substreams, Basic auth, schema files in
//! the package) and `oauth_refresh_token.yaml` (an OAuth refresh-token grant, modelled on
//! strava's). The engine's own tests (`crates/declarative/tests`) check their requests exactly;
//! these check that the library runs them end to end.

#[path = "../../declarative/tests/support/mod.rs"]
mod support;

use std::path::Path;

use airbyte as ab;
use airbyte::arrow::util::display::array_value_to_string;
use serde_json::json;
use support::{MockResponse, MockServer, Routes, manifest_path};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn scalar(cache: &ab::DuckDbCache, sql: &str) -> String {
    let batches = cache.query(sql).unwrap();
    array_value_to_string(batches[0].column(0), 0).unwrap()
}

#[test]
fn a_substream_manifest_reads_parents_and_children_into_duckdb() {
    let server = MockServer::start(
        Routes::new()
            .get(
                "/v1/organizations",
                |_| json!([{"organizationId": "o-1", "name": "Org"}]),
            )
            .get(
                "/v1/organizations/o-1/members",
                |_| json!([{"userId": "u-1", "email": "u1@example.com"}]),
            )
            .get(
                "/v1/products",
                |_| json!([{"productId": "p-1", "name": "P1"}, {"productId": "p-2", "name": "P2"}]),
            )
            .get("/v1/products/*/tags", |r| {
                let product = r.path.split('/').nth(3).unwrap_or("?").to_string();
                // Distinct primary keys: the cache merges on `tagId`.
                let id: u64 = product.trim_start_matches("p-").parse().unwrap_or(0);
                json!([{"tagId": 10 + id, "name": format!("tag of {product}")}])
            })
            .get("/v1/products/*/environments", |r| {
                let product = r.path.split('/').nth(3).unwrap_or("?").to_string();
                json!([{"environmentId": format!("env-{product}"), "name": "production"}])
            }),
    );
    // The package as the wheel ships it, with its fixed URL pointed at the mock.
    let dir = tempfile::tempdir().unwrap();
    let package = manifest_path("source_configcat");
    copy_dir(&package, &dir.path().join("source_configcat"));
    let manifest = dir.path().join("source_configcat/manifest.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace(
            "https://api.configcat.com/v1",
            &format!("{}/v1", server.url()),
        ),
    )
    .unwrap();

    let mut src = ab::get_source(
        "source-configcat",
        Some(json!({"username": "cc-user", "password": "cc-pass-word"})),
        ab::SourceOptions {
            source_manifest: Some(ab::SourceManifest::Path(manifest)),
            ..Default::default()
        },
    )
    .expect("the source");
    src.check().expect("check");
    src.select_all_streams().unwrap();
    let cache = ab::DuckDbCache::new(dir.path().join("c.duckdb"));
    src.read(&cache, ab::ReadOptions::default()).expect("read");
    assert_eq!(scalar(&cache, "select count(*) from products"), "2");
    assert_eq!(
        scalar(
            &cache,
            "select string_agg(name, ',' order by name) from tags"
        ),
        "tag of p-1,tag of p-2",
        "one child request per parent record"
    );
    assert_eq!(
        scalar(
            &cache,
            "select string_agg(environmentid, ',' order by environmentid) from environments"
        ),
        "env-p-1,env-p-2"
    );
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.header("Authorization") == Some("Basic Y2MtdXNlcjpjYy1wYXNzLXdvcmQ=")),
        "Basic auth on every request"
    );
    let members: Vec<_> = src
        .get_records("organization_members", None)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(members.len(), 1);
}

#[test]
fn an_oauth_manifest_fetches_a_token_and_reads_into_duckdb() {
    let server = MockServer::start(
        Routes::new()
            .route("POST", "/oauth/token", |_| {
                MockResponse::json(
                    json!({"access_token": "access-1", "expires_in": 3600, "token_type": "Bearer"}),
                )
            })
            .route("GET", "/api/v3/athlete/activities", |r| {
                if r.header("Authorization") != Some("Bearer access-1") {
                    return MockResponse::status(401, json!({"message": "Authorization Error"}));
                }
                let page: u32 = r.param("page").and_then(|p| p.parse().ok()).unwrap_or(1);
                MockResponse::json(match page {
                    1 => json!([{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]),
                    2 => json!([{"id": 3, "name": "c"}]),
                    _ => json!([]),
                })
            }),
    );
    let mut src = ab::get_source(
        "source-strava-like",
        Some(json!({"base_url": server.url(), "client_id": "12345",
            "client_secret": "cafe0123beef", "refresh_token": "beef4567dead"})),
        ab::SourceOptions {
            source_manifest: Some(ab::SourceManifest::Path(manifest_path(
                "oauth_refresh_token.yaml",
            ))),
            ..Default::default()
        },
    )
    .expect("the source");
    src.select_all_streams().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = ab::DuckDbCache::new(dir.path().join("c.duckdb"));
    let result = src.read(&cache, ab::ReadOptions::default()).expect("read");
    assert_eq!(result.processed_records(), 3);
    let tokens = server
        .requests()
        .iter()
        .filter(|r| r.path == "/oauth/token")
        .count();
    assert_eq!(tokens, 1, "one token for every page");
}
