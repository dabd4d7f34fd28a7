//! The CDK's manifest migrations (`airbyte_cdk/manifest_migrations`, registry version `*`):
//! 1. `HttpRequester.url_base` → `url`;
//! 2. `HttpRequester.path` → `url` (`urljoin(url + "/", path.lstrip("/"))`);
//! 3. `request_body_json` / `request_body_data` → `request_body` (`RequestBodyJsonObject`,
//!    `RequestBodyGraphQL` when it has a string `query`, `RequestBodyUrlEncodedForm`); a string
//!    `request_body_json` (a Jinja template) is left as it is.
//!
//! Components of type `DynamicDeclarativeStream` (and everything below them) are not migrated.
//! As in the CDK, if any migration fails (e.g. a `path` without a `url`), the manifest is kept
//! unmigrated. Each applied migration is traced in `metadata.applied_migrations`.

use serde_json::{Map, Value, json};

use crate::url_join::urljoin;

const NON_MIGRATABLE_TYPES: &[&str] = &["DynamicDeclarativeStream"];

struct Migration {
    name: &'static str,
    should_migrate: fn(&Map<String, Value>) -> bool,
    migrate: fn(&mut Map<String, Value>) -> Result<(), String>,
    validate: fn(&Map<String, Value>) -> bool,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "HttpRequesterUrlBaseToUrl",
        should_migrate: |c| is_type(c, "HttpRequester") && c.contains_key("url_base"),
        migrate: |c| {
            if let Some(v) = c.shift_remove("url_base") {
                c.insert("url".into(), v);
            }
            Ok(())
        },
        validate: |c| c.get("url").is_some_and(|u| !u.is_null()) && !c.contains_key("url_base"),
    },
    Migration {
        name: "HttpRequesterPathToUrl",
        should_migrate: |c| is_type(c, "HttpRequester") && c.contains_key("path"),
        migrate: migrate_path,
        validate: |c| c.get("url").is_some_and(|u| !u.is_null()) && !c.contains_key("path"),
    },
    Migration {
        name: "HttpRequesterRequestBodyJsonDataToRequestBody",
        should_migrate: |c| {
            is_type(c, "HttpRequester")
                && (c.get("request_body_json").is_some_and(|v| !v.is_string())
                    || c.contains_key("request_body_data"))
        },
        migrate: migrate_request_body,
        validate: |c| {
            let unmigrated = c.get("request_body_json").is_some_and(|v| !v.is_string())
                || c.contains_key("request_body_data");
            let string_json = c.get("request_body_json").is_some_and(Value::is_string);
            if string_json {
                !unmigrated
            } else {
                c.contains_key("request_body") && !unmigrated
            }
        },
    },
];

fn is_type(component: &Map<String, Value>, name: &str) -> bool {
    component.get("type").and_then(Value::as_str) == Some(name)
}

fn migrate_path(c: &mut Map<String, Value>) -> Result<(), String> {
    let path = match c.get("path") {
        Some(Value::String(p)) => p.trim_start_matches('/').to_string(),
        Some(Value::Null) | None => String::new(),
        Some(other) => return Err(format!("HttpRequester.path is not a string: {other}")),
    };
    let url = match c.get("url") {
        Some(Value::String(u)) => u.clone(),
        Some(other) => return Err(format!("HttpRequester.url is not a string: {other}")),
        None => return Err("HttpRequester has a path but no url or url_base".into()),
    };
    c.shift_remove("path");
    if !path.is_empty() {
        let base = if url.ends_with('/') {
            url
        } else {
            format!("{url}/")
        };
        c.insert(
            "url".into(),
            Value::String(urljoin(&base, &path).map_err(|e| e.to_string())?),
        );
    }
    Ok(())
}

fn migrate_request_body(c: &mut Map<String, Value>) -> Result<(), String> {
    if let Some(json_body) = c
        .get("request_body_json")
        .filter(|v| !v.is_string())
        .cloned()
    {
        let kind = match &json_body {
            Value::Object(m) if m.get("query").is_some_and(Value::is_string) => {
                "RequestBodyGraphQL"
            }
            Value::Object(_) => "RequestBodyJsonObject",
            // The CDK leaves other kinds (null, lists) in place.
            _ => "",
        };
        if !kind.is_empty() {
            c.insert(
                "request_body".into(),
                json!({"type": kind, "value": json_body}),
            );
            c.shift_remove("request_body_json");
        }
    }
    if let Some(data) = c.shift_remove("request_body_data") {
        c.insert(
            "request_body".into(),
            json!({"type": "RequestBodyUrlEncodedForm", "value": data}),
        );
    }
    Ok(())
}

/// Applies the migrations to `manifest` (already resolved and propagated); returns the
/// migrated manifest, or the input unchanged when a migration fails.
pub fn apply_migrations(manifest: &Value) -> Value {
    let mut migrated = manifest.clone();
    let from_version = match manifest.get("version") {
        Some(Value::String(v)) => v.clone(),
        Some(other) => other.to_string(),
        None => "0.0.0".to_string(),
    };
    for migration in MIGRATIONS {
        let mut is_migrated = false;
        if process(&mut migrated, migration, &mut is_migrated).is_err() {
            return manifest.clone();
        }
        if is_migrated && let Value::Object(root) = &mut migrated {
            let metadata = root.entry("metadata").or_insert_with(|| json!({}));
            if let Value::Object(metadata) = metadata {
                let applied = metadata
                    .entry("applied_migrations")
                    .or_insert_with(|| json!([]));
                if let Value::Array(applied) = applied {
                    applied.push(json!({
                        "from_version": from_version,
                        "to_version": "*",
                        "migration": migration.name,
                        "migrated_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
                    }));
                }
            }
        }
    }
    migrated
}

fn process(node: &mut Value, migration: &Migration, is_migrated: &mut bool) -> Result<(), String> {
    match node {
        Value::Object(component) => {
            if let Some(t) = component.get("type") {
                if t.as_str()
                    .is_some_and(|t| NON_MIGRATABLE_TYPES.contains(&t))
                {
                    return Ok(());
                }
                if (migration.should_migrate)(component) {
                    (migration.migrate)(component)?;
                    *is_migrated = (migration.validate)(component);
                }
            }
            for value in component.values_mut() {
                process(value, migration, is_migrated)?;
            }
            Ok(())
        }
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|item| process(item, migration, is_migrated)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requester(v: Value) -> Value {
        let m = apply_migrations(
            &json!({"version": "6.1.0", "streams": [{"type": "DeclarativeStream", "retriever": {"requester": v}}]}),
        );
        m["streams"][0]["retriever"]["requester"].clone()
    }

    #[test]
    fn url_base_and_path_become_url() {
        let r = requester(
            json!({"type": "HttpRequester", "url_base": "https://api.x.com/v1", "path": "/users"}),
        );
        assert_eq!(
            r,
            json!({"type": "HttpRequester", "url": "https://api.x.com/v1/users"})
        );
        let r = requester(
            json!({"type": "HttpRequester", "url_base": "{{ config['base'] }}", "path": "items/{{ stream_slice.id }}"}),
        );
        assert_eq!(r["url"], "{{ config['base'] }}/items/{{ stream_slice.id }}");
        let r = requester(json!({"type": "HttpRequester", "url_base": "https://a/", "path": ""}));
        assert_eq!(r, json!({"type": "HttpRequester", "url": "https://a/"}));
    }

    #[test]
    fn request_bodies_become_typed_request_body() {
        let r = requester(
            json!({"type": "HttpRequester", "url": "u", "request_body_json": {"a": "{{ config.a }}"}}),
        );
        assert_eq!(
            r["request_body"],
            json!({"type": "RequestBodyJsonObject", "value": {"a": "{{ config.a }}"}})
        );
        assert!(r.get("request_body_json").is_none());
        let r = requester(
            json!({"type": "HttpRequester", "url": "u", "request_body_json": {"query": "{ a }"}}),
        );
        assert_eq!(r["request_body"]["type"], "RequestBodyGraphQL");
        let r = requester(
            json!({"type": "HttpRequester", "url": "u", "request_body_data": {"k": "v"}}),
        );
        assert_eq!(
            r["request_body"],
            json!({"type": "RequestBodyUrlEncodedForm", "value": {"k": "v"}})
        );
        let r = requester(
            json!({"type": "HttpRequester", "url": "u", "request_body_json": "{\"a\": 1}"}),
        );
        assert_eq!(
            r["request_body_json"], "{\"a\": 1}",
            "a string body is a template: left alone"
        );
        assert!(r.get("request_body").is_none());
    }

    #[test]
    fn migrations_are_traced_and_a_failing_one_keeps_the_original() {
        let m = apply_migrations(
            &json!({"version": "6.1.0", "r": {"type": "HttpRequester", "url_base": "https://a"}}),
        );
        let applied = m["metadata"]["applied_migrations"].as_array().unwrap();
        assert_eq!(applied.len(), 1);
        assert_eq!(applied[0]["migration"], "HttpRequesterUrlBaseToUrl");
        assert_eq!(applied[0]["from_version"], "6.1.0");
        let original = json!({"a": {"type": "HttpRequester", "url_base": "https://a"}, "b": {"type": "HttpRequester", "path": "/x"}});
        assert_eq!(apply_migrations(&original), original);
        // Python's urljoin refuses brackets in a host: the CDK then keeps the whole manifest as it was.
        let original = json!({"r": {"type": "HttpRequester", "url_base": "https://{{ config['user'] }}.api.com/v3", "path": "/x"}});
        assert_eq!(apply_migrations(&original), original);
    }

    #[test]
    fn dynamic_streams_are_not_migrated() {
        let original = json!({"dynamic_streams": [{"type": "DynamicDeclarativeStream", "stream_template": {"retriever": {"requester": {"type": "HttpRequester", "url_base": "https://a"}}}}]});
        assert_eq!(apply_migrations(&original), original);
    }
}
