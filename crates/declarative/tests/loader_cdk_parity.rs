//! `fixtures/loader_manifest.yaml` loads into exactly the tree airbyte-cdk 7.39.1 builds from
//! it (same values, same key order), without and with the manifest migrations
//! (`fixtures/gen_loader_cdk.py` recorded the CDK's trees).

use abrs_declarative::{LoadOptions, Manifest};
use serde_json::Value;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

fn blank_migration_times(tree: &mut Value) {
    if let Some(Value::Array(traces)) = tree.pointer_mut("/metadata/applied_migrations") {
        for trace in traces {
            trace["migrated_at"] = Value::String(String::new());
        }
    }
}

#[test]
fn loads_as_the_cdk_preprocesses() {
    let expected: Value = serde_json::from_str(&fixture("loader_cdk_7.39.1.json")).expect("JSON");
    let text = fixture("loader_manifest.yaml");

    let plain = Manifest::from_str(&text).expect("loads");
    let ours = Value::Object(plain.tree().clone());
    assert_eq!(ours, expected["preprocessed"]);
    assert_eq!(
        serde_json::to_string(&ours).ok(),
        serde_json::to_string(&expected["preprocessed"]).ok(),
        "key order"
    );

    let migrated = Manifest::from_str_with(&text, LoadOptions { migrate: true }).expect("loads");
    let mut ours = Value::Object(migrated.tree().clone());
    blank_migration_times(&mut ours);
    assert_eq!(ours, expected["migrated"]);
    assert_eq!(
        serde_json::to_string(&ours).ok(),
        serde_json::to_string(&expected["migrated"]).ok(),
        "key order"
    );
}
