//! `abrs documents` from a connector and from a cache, against the fixture source.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixture() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/source-fixture")
        .to_string_lossy()
        .into_owned()
}

fn abrs(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_abrs"))
        .args(args)
        .current_dir(dir)
        .env("AIRBYTE_LOGGING_ROOT", dir.join("logs"))
        .output()
        .unwrap_or_else(|e| panic!("running abrs: {e}"))
}

fn ok(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn jsonl(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn documents_from_a_connector_as_markdown_and_jsonl() {
    let dir = tempfile::tempdir().expect("tmp");
    let fx = fixture();
    let common = [
        "documents",
        fx.as_str(),
        "--config",
        r#"{"count": 3}"#,
        "--stream",
        "users",
        "--title",
        "name",
        "--content",
        "tags,address",
    ];
    let text = ok(&abrs(
        dir.path(),
        &[&common[..], &["--limit", "2"]].concat(),
    ));
    let want = "# Grace\n\n## Tags\n\n['t1', 't1']\n\n\n## Address\n\n\
                {'street': '1 Main St', 'city': 'Zürich', 'geo': {'lat': -76.5, 'lng': -150.75}}\
                \n\n\n---\n\n# Linus\n\n## Tags\n\n['t2', 't2']\n\n\n## Address\n\n\
                {'street': '2 Main St', 'city': 'São Paulo', 'geo': {'lat': -63.5, 'lng': -121.75}}\n\n";
    assert_eq!(text, want);

    let docs = jsonl(&ok(&abrs(
        dir.path(),
        &[&common[..], &["--format", "jsonl"]].concat(),
    )));
    assert_eq!(docs.len(), 3);
    // Ids are the stream's primary key (`id`); last_modified its cursor (`updated_at`).
    assert_eq!(docs[0]["id"], "1");
    assert_eq!(docs[2]["id"], "3");
    assert_eq!(docs[0]["last_modified"], "2024-01-01T00:01:00Z");
    assert_eq!(docs[0]["metadata"]["age"], 27);
    assert!(docs[0]["metadata"].get("name").is_none());
    assert!(docs[0]["metadata"].get("tags").is_none());
}

#[test]
fn documents_from_a_cache_and_bad_input() {
    let dir = tempfile::tempdir().expect("tmp");
    let fx = fixture();
    let cache: PathBuf = dir.path().join("c.duckdb");
    let cache_arg = cache.to_string_lossy().into_owned();
    ok(&abrs(
        dir.path(),
        &[
            "read",
            &fx,
            "--config",
            r#"{"count": 4}"#,
            "--cache",
            &cache_arg,
        ],
    ));
    let text = ok(&abrs(
        dir.path(),
        &[
            "documents",
            "--cache",
            &cache_arg,
            "--stream",
            "products",
            "--metadata",
            "id,price",
            "--render-metadata",
            "--content",
            "name",
            "--format",
            "jsonl",
            "--primary-key",
            "id",
        ],
    ));
    let docs = jsonl(&text);
    assert_eq!(docs.len(), 5);
    assert_eq!(docs[0]["id"], "1");
    assert_eq!(
        docs[0]["content"],
        "```yaml\nid: 1\nprice: 11.49\n```\nProduct 1"
    );

    // Without --primary-key the ids are the raw ids; --limit stops early.
    let text = ok(&abrs(
        dir.path(),
        &[
            "documents",
            "--cache",
            &cache_arg,
            "--stream",
            "users",
            "--limit",
            "2",
            "--format",
            "jsonl",
        ],
    ));
    let docs = jsonl(&text);
    assert_eq!(docs.len(), 2);
    let id = docs[0]["id"].as_str().expect("an id");
    assert_eq!(docs[0]["metadata"]["_airbyte_raw_id"], id);
    assert!(
        docs[0]["content"]
            .as_str()
            .expect("text")
            .starts_with("```yaml\n_airbyte_extracted_at: ")
    );

    // An unknown property is a usage error naming it; so is a missing cache.
    let o = abrs(
        dir.path(),
        &[
            "documents",
            "--cache",
            &cache_arg,
            "--stream",
            "users",
            "--title",
            "nope",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`nope`") && err.contains("contact_email"),
        "{err}"
    );
    let o = abrs(
        dir.path(),
        &[
            "documents",
            "--cache",
            "missing.duckdb",
            "--stream",
            "users",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    // A connector and a cache at once is a usage error too.
    let o = abrs(
        dir.path(),
        &["documents", &fx, "--cache", &cache_arg, "--stream", "users"],
    );
    assert_eq!(o.status.code(), Some(2));
}
