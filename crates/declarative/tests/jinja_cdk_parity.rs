//! Every case of `fixtures/jinja_cdk_7.39.1.json` evaluates as airbyte-cdk 7.39.1's
//! `JinjaInterpolation.eval` did on the same context (hand-written cases and the templates of
//! five corpus manifests; the CDK's answers were recorded with `fixtures/gen_jinja_cdk.py`).

use abrs_declarative::{Context, Interpolator};
use serde_json::Value;

#[test]
fn evaluates_as_the_cdk() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/jinja_cdk_7.39.1.json"
    ))
    .expect("fixture");
    let fixture: Value = serde_json::from_str(&text).expect("fixture is JSON");
    let mut context = Context::default();
    for (name, value) in fixture["context"].as_object().expect("context") {
        context.set(name, value);
    }
    let cases = fixture["cases"].as_array().expect("cases");
    let mut failures = Vec::new();
    for case in cases {
        let template = case["template"].as_str().expect("template");
        let default = case.get("default").and_then(Value::as_str);
        let ours = Interpolator::shared().eval(template, &context, None, default, None);
        match (case.get("cdk"), &ours) {
            (Some(expected), Ok(got)) if expected == got => {}
            (None, Err(_)) => {}
            _ => failures.push(format!(
                "{template:?}: CDK {:?}, ours {ours:?}",
                case.get("cdk").or(case.get("cdk_error"))
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(cases.len() > 200);
}
