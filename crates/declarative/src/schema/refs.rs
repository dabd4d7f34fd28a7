//! `$ref` resolution in schema files, as the CDK's `ResourceSchemaLoader` does it with
//! `jsonref`: every reference is replaced by its (resolved) target, without the target's
//! `definitions`; the members beside a `$ref` are dropped.
//!
//! URIs are paths: the schema file itself sits at the package folder (`source_x/`), a
//! relative reference is joined to the URI of the document it is written in (RFC 3986, as
//! `urljoin`), and a file is then read from `source_x/schemas/shared/` (the CDK's loader
//! rewrites `source_x/` into `source_x/schemas/shared/`): `"$ref": "address.json"` is
//! `schemas/shared/address.json`, and in it `"../x.json"` is relative to that same tree.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::SchemaError;

/// Nesting of references beyond which a schema is taken as recursive (Python would exhaust
/// its stack on it).
const MAX_DEPTH: usize = 200;

struct Resolver {
    /// The package folder as a URI, ending with `/`.
    base: String,
    /// Loaded documents by URI (the root one at `base`).
    documents: HashMap<String, Value>,
    /// Resolved targets by full URI (a target resolves the same wherever it is used).
    resolved: HashMap<String, Value>,
}

/// The schema `raw` (read from a file of the package at `package_dir`) with its references
/// resolved.
pub(crate) fn resolve_schema_references(
    raw: Value,
    package_dir: &Path,
) -> Result<Value, SchemaError> {
    let absolute = std::path::absolute(package_dir).unwrap_or_else(|_| package_dir.to_path_buf());
    let mut base = absolute.to_string_lossy().into_owned();
    if !base.ends_with('/') {
        base.push('/');
    }
    let mut resolver = Resolver {
        documents: HashMap::from([(base.clone(), raw.clone())]),
        base: base.clone(),
        resolved: HashMap::new(),
    };
    let resolved = resolver.resolve(&raw, &base, 0)?;
    if resolved.is_object() {
        Ok(resolved)
    } else {
        Err(SchemaError::Value(format!(
            "Expected resolved to be a dict. Got {resolved}"
        )))
    }
}

impl Resolver {
    fn resolve(
        &mut self,
        value: &Value,
        document: &str,
        depth: usize,
    ) -> Result<Value, SchemaError> {
        if depth > MAX_DEPTH {
            return Err(SchemaError::Other(
                "maximum recursion depth exceeded while resolving the schema's $ref (a recursive schema)".into(),
            ));
        }
        match value {
            Value::Object(map) => {
                if let Some(Value::String(reference)) = map.get("$ref") {
                    let full = urljoin(document, reference);
                    if let Some(done) = self.resolved.get(&full) {
                        return Ok(done.clone());
                    }
                    let (target, uri) = self.dereference(&full)?;
                    let mut resolved = self.resolve(&target, &uri, depth + 1)?;
                    return match &mut resolved {
                        Value::Object(m) => {
                            m.shift_remove("definitions");
                            self.resolved.insert(full, resolved.clone());
                            Ok(resolved)
                        }
                        other => Err(SchemaError::Value(format!(
                            "Expected obj to be a dict. Got {other}"
                        ))),
                    };
                }
                let mut out = serde_json::Map::with_capacity(map.len());
                for (k, v) in map {
                    out.insert(k.clone(), self.resolve(v, document, depth + 1)?);
                }
                Ok(Value::Object(out))
            }
            Value::Array(items) => items
                .iter()
                .map(|v| self.resolve(v, document, depth + 1))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            other => Ok(other.clone()),
        }
    }

    /// The target of the reference `full` (joined to the URI of the document it is written
    /// in), and the URI of the document the target is in.
    fn dereference(&mut self, full: &str) -> Result<(Value, String), SchemaError> {
        let (uri, fragment) = match full.split_once('#') {
            Some((u, f)) => (u.to_string(), f.to_string()),
            None => (full.to_string(), String::new()),
        };
        let error = |message: String| {
            SchemaError::Other(format!("Error while resolving `{full}`: {message}"))
        };
        if !self.documents.contains_key(&uri) {
            let file = uri.replace(&self.base, &format!("{}/schemas/shared/", self.base));
            let text = std::fs::read_to_string(&file)
                .map_err(|e| error(format!("FileNotFoundError: cannot read {file}: {e}")))?;
            let doc: Value = serde_json::from_str(&text)
                .map_err(|e| error(format!("JSONDecodeError: {file}: {e}")))?;
            if !doc.is_object() {
                return Err(error(format!(
                    "ValueError: Expected to read a dictionary from {file}"
                )));
            }
            self.documents.insert(uri.clone(), doc);
        }
        let mut target = self.documents.get(&uri).unwrap_or(&Value::Null);
        if !fragment.is_empty() {
            let pointer = percent_decode(fragment.trim_start_matches('/'));
            for part in pointer.split('/') {
                let part = part.replace("~1", "/").replace("~0", "~");
                let next = match target {
                    Value::Object(m) => m.get(&part),
                    Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
                    _ => None,
                };
                target =
                    next.ok_or_else(|| error(format!("Unresolvable JSON pointer: {fragment:?}")))?;
            }
        }
        Ok((target.clone(), uri))
    }
}

/// `urllib.parse.urljoin` for path URIs (no scheme).
pub(crate) fn urljoin(base: &str, reference: &str) -> String {
    let is_url = reference.split_once(':').is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
    });
    if is_url {
        return reference.to_string();
    }
    let (path, fragment) = match reference.split_once('#') {
        Some((p, f)) => (p, Some(f)),
        None => (reference, None),
    };
    let base_path = base.split_once('#').map_or(base, |(p, _)| p);
    let joined = if path.is_empty() {
        base_path.to_string()
    } else {
        let mut segments: Vec<&str> = if path.starts_with('/') {
            path.split('/').collect()
        } else {
            let mut base_parts: Vec<&str> = base_path.split('/').collect();
            if base_parts.last().is_some_and(|p| !p.is_empty()) {
                base_parts.pop();
            }
            let mut all: Vec<&str> = base_parts;
            all.extend(path.split('/'));
            // Empty segments in the middle are dropped (no redundant slashes).
            let n = all.len();
            if n > 2 {
                let middle: Vec<&str> = all[1..n - 1]
                    .iter()
                    .copied()
                    .filter(|s| !s.is_empty())
                    .collect();
                let first = all[0];
                let last = all[n - 1];
                all = std::iter::once(first)
                    .chain(middle)
                    .chain(std::iter::once(last))
                    .collect();
            }
            all
        };
        let mut resolved: Vec<&str> = Vec::new();
        for seg in &segments {
            match *seg {
                ".." => {
                    resolved.pop();
                }
                "." => {}
                s => resolved.push(s),
            }
        }
        if segments.last().is_some_and(|s| *s == "." || *s == "..") {
            resolved.push("");
        }
        segments.clear();
        let text = resolved.join("/");
        if text.is_empty() {
            "/".to_string()
        } else {
            text
        }
    };
    match fragment {
        Some(f) => format!("{joined}#{f}"),
        None => joined,
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn urljoin_as_python() {
        for (b, r, expected) in [
            ("/a/b/", "x.json", "/a/b/x.json"),
            ("/a/b/", "../x.json", "/a/x.json"),
            ("/a/b/", "../../../x.json", "x.json"),
            ("/a/b/c.json", "d/e.json", "/a/b/d/e.json"),
            (
                "/a/b/n/c.json",
                "../x.json#/definitions/y",
                "/a/b/x.json#/definitions/y",
            ),
            ("/a/b/", "#/definitions/x", "/a/b/#/definitions/x"),
            ("/a/b/", "./x.json", "/a/b/x.json"),
            ("/a/b/", "/abs/x.json", "/abs/x.json"),
            ("/a/b/", "x//y.json", "/a/b/x/y.json"),
            ("/a/b/", "..", "/a/"),
            ("/a/b/", ".", "/a/b/"),
            ("/a/b/c.json", "", "/a/b/c.json"),
        ] {
            assert_eq!(urljoin(b, r), expected, "{b} + {r}");
        }
    }

    #[test]
    fn resolves_shared_files_and_local_definitions() {
        let dir = std::env::temp_dir().join(format!("abrs-refs-{}", std::process::id()));
        let shared = dir.join("schemas/shared/network");
        std::fs::create_dir_all(&shared).unwrap();
        std::fs::write(dir.join("schemas/shared/address.json"), r#"{"type": "object", "definitions": {"x": 1}, "properties": {"city": {"type": "string"}}}"#).unwrap();
        std::fs::write(
            shared.join("location.json"),
            r#"{"type": "object", "properties": {"address": {"$ref": "../address.json"}}}"#,
        )
        .unwrap();
        let raw = json!({
            "definitions": {"id": {"type": "integer"}},
            "properties": {
                "id": {"$ref": "#/definitions/id", "description": "dropped"},
                "loc": {"$ref": "network/location.json"},
                "addr": {"$ref": "address.json#/properties/city"}
            }
        });
        let resolved = resolve_schema_references(raw, &dir).unwrap();
        assert_eq!(
            resolved,
            json!({
                "definitions": {"id": {"type": "integer"}},
                "properties": {
                    "id": {"type": "integer"},
                    "loc": {"type": "object", "properties": {"address": {"type": "object", "properties": {"city": {"type": "string"}}}}},
                    "addr": {"type": "string"}
                }
            })
        );
        assert!(resolve_schema_references(json!({"a": {"$ref": "missing.json"}}), &dir).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
