//! `$ref` and `#/...` references, resolved as the CDK's `ManifestReferenceResolver` does.
//!
//! * A string that starts with `#/` anywhere in the tree is replaced by the value it points at.
//! * A mapping with a `$ref` member becomes the referenced mapping overlaid with its own other
//!   members (Python's `ref | node`: the reference's keys first, the node's win); a reference to
//!   a non-mapping replaces the node, siblings and all.
//! * A path is looked up whole first, then split at its first `/`: `#/nested/path` finds a
//!   top-level key `nested/path` before `nested` → `path`. Numeric segments index lists.
//! * Values under `config_overrides` are copied unresolved (they hold config values).

use serde_json::{Map, Value};

use crate::error::{DeclarativeError, ManifestPath};

const REF_TAG: &str = "$ref";
const FIELDS_HOLDING_CONFIG_VALUES: &[&str] = &["config_overrides"];

/// Resolves every reference in `manifest`.
pub fn resolve_references(manifest: &Value) -> Result<Value, DeclarativeError> {
    let mut visited = Vec::new();
    evaluate(manifest, manifest, &ManifestPath::root(), &mut visited)
}

fn evaluate(
    node: &Value,
    manifest: &Value,
    at: &ManifestPath,
    visited: &mut Vec<String>,
) -> Result<Value, DeclarativeError> {
    match node {
        Value::Object(members) => {
            let mut evaluated = Map::with_capacity(members.len());
            for (key, value) in members {
                if key == REF_TAG {
                    continue;
                }
                let value = if FIELDS_HOLDING_CONFIG_VALUES.contains(&key.as_str()) {
                    value.clone()
                } else {
                    evaluate(value, manifest, &at.key(key), visited)?
                };
                evaluated.insert(key.clone(), value);
            }
            let Some(reference) = members.get(REF_TAG) else {
                return Ok(Value::Object(evaluated));
            };
            let ref_at = at.key(REF_TAG);
            if !matches!(reference, Value::String(s) if is_reference(s)) {
                return Err(DeclarativeError::InvalidReference {
                    at: ref_at,
                    reference: reference.to_string(),
                });
            }
            match evaluate(reference, manifest, &ref_at, visited)? {
                Value::Object(mut base) => {
                    for (key, value) in evaluated {
                        base.insert(key, value);
                    }
                    Ok(Value::Object(base))
                }
                other => Ok(other),
            }
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| evaluate(item, manifest, &at.index(i), visited))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::String(reference) if is_reference(reference) => {
            if visited.iter().any(|seen| seen == reference) {
                return Err(DeclarativeError::CircularReference {
                    at: at.clone(),
                    reference: reference.clone(),
                });
            }
            let target = lookup(reference, manifest).ok_or_else(|| {
                DeclarativeError::UndefinedReference {
                    at: at.clone(),
                    reference: reference.clone(),
                }
            })?;
            visited.push(reference.clone());
            let resolved = evaluate(target, manifest, at, visited);
            visited.pop();
            resolved
        }
        other => Ok(other.clone()),
    }
}

fn is_reference(s: &str) -> bool {
    s.starts_with("#/")
}

/// The value `reference` (`#/a/b/0`) points at, with the CDK's whole-key-first rule.
fn lookup<'m>(reference: &str, manifest: &'m Value) -> Option<&'m Value> {
    let mut rest = reference.strip_prefix("#/")?;
    let mut node = manifest;
    while !rest.is_empty() {
        if let Value::Object(members) = node
            && let Some(found) = members.get(rest)
        {
            return Some(found);
        }
        let (head, tail) = rest.split_once('/').unwrap_or((rest, ""));
        node = match node {
            Value::Object(members) => members.get(head)?,
            Value::Array(items) => {
                let index: i64 = head.parse().ok()?;
                let index = if index < 0 {
                    items.len().checked_sub(index.unsigned_abs() as usize)?
                } else {
                    index as usize
                };
                items.get(index)?
            }
            _ => return None,
        };
        rest = tail;
    }
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_references_are_replaced_by_their_target() {
        let m = json!({"key": 1234, "reference": "#/key", "kv": {"k1": "v1"}, "same": "#/kv"});
        let r = resolve_references(&m).unwrap();
        assert_eq!(r["reference"], json!(1234));
        assert_eq!(r["same"], json!({"k1": "v1"}));
    }

    #[test]
    fn dollar_ref_is_overlaid_by_its_siblings_in_python_dict_order() {
        let m = json!({"kv": {"k1": "v1", "k2": "v2"}, "x": {"k3": "v3", "$ref": "#/kv", "k1": "over"}});
        let r = resolve_references(&m).unwrap();
        assert_eq!(r["x"], json!({"k1": "over", "k2": "v2", "k3": "v3"}));
        let keys: Vec<&String> = r["x"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["k1", "k2", "k3"]);
    }

    #[test]
    fn nested_paths_whole_key_first_and_list_indices() {
        let m = json!({
            "dict": {"limit": 50},
            "nested": {"path": "first one"},
            "nested/path": "uh oh",
            "list": [10, {"a": 11}],
            "a": "#/dict/limit", "b": "#/nested/path", "c": "#/list/1/a", "d": "#/list/-2"
        });
        let r = resolve_references(&m).unwrap();
        assert_eq!(r["a"], json!(50));
        assert_eq!(r["b"], json!("uh oh"));
        assert_eq!(r["c"], json!(11));
        assert_eq!(r["d"], json!(10));
    }

    #[test]
    fn references_inside_definitions_chain_and_a_ref_to_a_scalar_replaces_the_node() {
        let m = json!({
            "definitions": {"base": {"url": "https://x", "auth": "#/definitions/auth"}, "auth": {"type": "NoAuth"}, "n": 5},
            "streams": [{"requester": {"$ref": "#/definitions/base", "path": "/a"}}, {"$ref": "#/definitions/n", "ignored": 1}]
        });
        let r = resolve_references(&m).unwrap();
        assert_eq!(
            r["streams"][0]["requester"],
            json!({"url": "https://x", "auth": {"type": "NoAuth"}, "path": "/a"})
        );
        assert_eq!(r["streams"][1], json!(5));
    }

    #[test]
    fn an_undefined_reference_names_where_it_was_written() {
        let m = json!({"streams": [{}, {}, {"retriever": {"requester": {"$ref": "#/definitions/nope"}}}], "definitions": {}});
        let e = resolve_references(&m).unwrap_err();
        assert_eq!(
            e.to_string(),
            "streams[2].retriever.requester.$ref: #/definitions/nope not found (no such key in the manifest)"
        );
    }

    #[test]
    fn circular_references_are_reported() {
        let m = json!({"definitions": {"a": {"$ref": "#/definitions/b"}, "b": {"$ref": "#/definitions/a"}}, "s": "#/definitions/a"});
        let e = resolve_references(&m).unwrap_err();
        assert!(
            matches!(e, DeclarativeError::CircularReference { .. }),
            "{e}"
        );
    }

    #[test]
    fn the_same_reference_twice_side_by_side_is_no_cycle() {
        let m =
            json!({"d": {"x": 1}, "l": ["#/d", "#/d"], "m": {"a": "#/d", "b": {"$ref": "#/d"}}});
        let r = resolve_references(&m).unwrap();
        assert_eq!(r["l"], json!([{"x": 1}, {"x": 1}]));
        assert_eq!(r["m"]["b"], json!({"x": 1}));
    }

    #[test]
    fn config_overrides_are_copied_verbatim_and_a_bad_ref_value_is_an_error() {
        let m = json!({"d": 1, "c": {"config_overrides": {"v": "#/d"}}});
        assert_eq!(
            resolve_references(&m).unwrap()["c"]["config_overrides"]["v"],
            json!("#/d")
        );
        let m = json!({"s": {"$ref": "definitions/x"}});
        assert!(matches!(
            resolve_references(&m),
            Err(DeclarativeError::InvalidReference { .. })
        ));
    }
}
