//! Evaluates templates as the engine does, for comparing with the CDK.
//!
//! Reads `{"context": {"config": ..., "stream_slice": ...}, "cases": [{"template": "...",
//! "default": null}]}` on stdin and prints one JSON line per case: `{"ok": value}` or
//! `{"error": "..."}`.

use std::io::Read;

use abrs_declarative::{Context, Interpolator};
use serde_json::{Value, json};

fn main() -> std::process::ExitCode {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("cannot read stdin: {e}");
        return std::process::ExitCode::FAILURE;
    }
    let request: Value = match serde_json::from_str(&input) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("stdin is not JSON: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut context = Context::default();
    if let Some(vars) = request.get("context").and_then(Value::as_object) {
        for (name, value) in vars {
            context.set(name, value);
        }
    }
    let interpolator = Interpolator::shared();
    for case in request
        .get("cases")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let template = case
            .get("template")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let default = case.get("default").and_then(Value::as_str);
        let result = match interpolator.eval(template, &context, None, default, None) {
            Ok(v) => json!({"ok": v}),
            Err(e) => json!({"error": e.to_string()}),
        };
        println!("{result}");
    }
    std::process::ExitCode::SUCCESS
}
