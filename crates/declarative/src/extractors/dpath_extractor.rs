//! `DpathExtractor`: the records at a path of each decoded body (`["data", "*", "items"]`),
//! as the CDK's `DpathExtractor` finds them with the `dpath` library.

use serde_json::Value;

use super::dpath::{self, Glob};
use crate::decoders::Decoder;
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::http::HttpResponse;
use crate::interpolation::{Context, InterpolatedString};
use crate::truthiness::truthy;

/// A `DpathExtractor`.
#[derive(Debug)]
pub struct DpathExtractor {
    field_path: Vec<InterpolatedString>,
    decoder: Decoder,
    config: Value,
    path: ManifestPath,
}

impl DpathExtractor {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        if node.type_name() != "DpathExtractor" {
            return Err(node.unsupported());
        }
        if node.get("record_expander").is_some() {
            let path = node.child_path("record_expander");
            return Err(EngineError::UnsupportedComponent {
                at: path,
                type_name: "RecordExpander".into(),
            });
        }
        let field_path = node
            .opt_str_list("field_path")?
            .unwrap_or_default()
            .into_iter()
            .map(|s| InterpolatedString::new(s, node.parameters()))
            .collect();
        let decoder_path = node.child_path("decoder");
        Ok(Self {
            field_path,
            decoder: Decoder::from_node(node.child("decoder", &decoder_path)?)?,
            config: node.config().clone(),
            path: node.path.key("field_path"),
        })
    }

    /// An extractor of the whole body (`field_path: []`) with `decoder`: an async job's
    /// download extractor when the manifest names none.
    pub fn whole_body(decoder: Decoder, config: Value) -> Self {
        Self {
            field_path: Vec::new(),
            decoder,
            config,
            path: ManifestPath::root().key("download_extractor"),
        }
    }

    /// The extractor with another decoder (the retriever's, when it names one).
    pub fn with_decoder(mut self, decoder: Decoder) -> Self {
        self.decoder = decoder;
        self
    }

    /// The records of `response`, in order: for each decoded body, the list at the path (each
    /// item a record, nulls and non-mappings included, as the CDK yields them), or the one
    /// value there when it is not a list and not empty; the whole body for an empty path.
    /// With a `*` segment, every value the glob matches is a record.
    pub fn extract(&self, response: &HttpResponse) -> Result<Vec<Value>> {
        let context = Context::new(&self.config);
        let evaluated = self
            .field_path
            .iter()
            .map(|p| p.eval(&context))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| EngineError::interpolation(&self.path, e))?;
        let glob: Vec<Glob> = evaluated.iter().map(Glob::from_value).collect();
        let star = evaluated.iter().any(|v| v.as_str() == Some("*"));
        let fail = |message: String| EngineError::Decode {
            url: response.url.clone(),
            message: format!(
                "extracting the records at {:?}: {message}",
                self.path_text(&evaluated)
            ),
        };
        let mut out = Vec::new();
        // Bodies are borrowed from the parsed response: each record is copied once, here.
        let take = |out: &mut Vec<Value>, extracted: &Value| match extracted {
            Value::Array(items) => out.extend(items.iter().cloned()),
            v if truthy(v) => out.push(v.clone()),
            _ => {}
        };
        for body in self.decoder.decode_borrowed(response)? {
            if glob.is_empty() {
                take(&mut out, &body);
            } else if star {
                // Every value the glob matches is a record (a matched list included).
                out.extend(
                    dpath::values(&body, &glob)
                        .map_err(fail)?
                        .into_iter()
                        .cloned(),
                );
            } else if let Some(v) = dpath::get(&body, &glob).map_err(fail)? {
                take(&mut out, v);
            }
        }
        Ok(out)
    }

    /// The field path as plain keys through mappings, when it is one (no glob, no list index,
    /// the JSON decoder): then the records can be moved out of the parsed body instead of
    /// copied ([`DpathExtractor::take_records`]).
    pub fn plain_path(&self) -> Option<Vec<String>> {
        if self.decoder != Decoder::Json || self.field_path.is_empty() {
            return None;
        }
        let context = Context::new(&self.config);
        let mut keys = Vec::with_capacity(self.field_path.len());
        for segment in &self.field_path {
            let key = segment.eval(&context).ok()?;
            let key = key.as_str()?;
            if key.is_empty() || key.contains(['*', '?', '[', ']']) {
                return None;
            }
            keys.push(key.to_string());
        }
        Some(keys)
    }

    /// The records at `path` (from [`DpathExtractor::plain_path`]) of a body that is a
    /// mapping, borrowed: what [`DpathExtractor::extract`] would copy. `None` when the path
    /// runs through something that is not a mapping (the general extraction decides then).
    pub fn records_at<'a>(body: &'a Value, path: &[String]) -> Option<Vec<&'a Value>> {
        let mut at = body;
        for key in path {
            match at.as_object()?.get(key) {
                Some(v) => at = v,
                None => return Some(Vec::new()),
            }
        }
        Some(match at {
            Value::Array(items) => items.iter().collect(),
            v if truthy(v) => vec![v],
            _ => Vec::new(),
        })
    }

    /// The records at `path` moved out of `body` (which [`DpathExtractor::records_at`]
    /// accepted).
    pub fn take_records(mut body: Value, path: &[String]) -> Vec<Value> {
        let mut at = &mut body;
        for key in path {
            match at.as_object_mut().and_then(|m| m.get_mut(key)) {
                Some(v) => at = v,
                None => return Vec::new(),
            }
        }
        match std::mem::take(at) {
            Value::Array(items) => items,
            v if truthy(&v) => vec![v],
            _ => Vec::new(),
        }
    }

    fn path_text(&self, evaluated: &[Value]) -> Vec<String> {
        evaluated
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect()
    }
}

/// `dpath.get` with a path of plain strings: the value at `path` (list items by index), or
/// `None` (also when a glob in it matches several values).
pub fn dpath_get<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    dpath::get(value, &dpath::globs(path)).ok().flatten()
}

/// `dpath.values` with a path of plain strings: every value matching the glob `path`, in the
/// library's order.
pub fn dpath_values<'a>(value: &'a Value, path: &[String]) -> Vec<&'a Value> {
    dpath::values(value, &dpath::globs(path)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factory::BuildEnv;
    use serde_json::json;

    fn extract(field_path: Value, body: &str) -> Result<Vec<Value>> {
        let node = json!({"type": "DpathExtractor", "field_path": field_path, "$parameters": {"name": "items"}});
        let env = BuildEnv {
            config: json!({"key": "data"}),
            directory: None,
            ..Default::default()
        };
        let path = ManifestPath::root();
        let e = DpathExtractor::from_node(Node::new(&node, &path, &env).unwrap()).unwrap();
        let response = HttpResponse::new(200, vec![], body.as_bytes().to_vec(), "http://x".into());
        e.extract(&response)
    }

    #[test]
    fn extracts_as_the_cdk() {
        assert_eq!(
            extract(json!(["data"]), r#"{"data": [{"a": 1}, {"a": 2}]}"#).unwrap(),
            vec![json!({"a": 1}), json!({"a": 2})]
        );
        // A mapping at the path is one record; an empty one none; a missing path none.
        assert_eq!(
            extract(json!(["data"]), r#"{"data": {"a": 1}}"#).unwrap(),
            vec![json!({"a": 1})]
        );
        assert!(
            extract(json!(["data"]), r#"{"data": {}}"#)
                .unwrap()
                .is_empty()
        );
        assert!(
            extract(json!(["nope"]), r#"{"data": [1]}"#)
                .unwrap()
                .is_empty()
        );
        assert!(
            extract(json!(["data"]), r#"{"data": null}"#)
                .unwrap()
                .is_empty()
        );
        // Nulls in the list are records (the selector fails on them, as the CDK does).
        assert_eq!(
            extract(json!(["data"]), r#"{"data": [null, {"a": 1}]}"#).unwrap(),
            vec![Value::Null, json!({"a": 1})]
        );
        // Templates, with the config and the parameters.
        assert_eq!(
            extract(
                json!(["{{ config.key }}", "{{ parameters.name }}"]),
                r#"{"data": {"items": [1]}}"#
            )
            .unwrap(),
            vec![json!(1)]
        );
        // Empty path: the body; a list body gives each item.
        assert_eq!(
            extract(json!([]), r#"[{"a": 1}, {"a": 2}]"#).unwrap(),
            vec![json!({"a": 1}), json!({"a": 2})]
        );
        assert_eq!(
            extract(json!([]), r#"{"a": 1}"#).unwrap(),
            vec![json!({"a": 1})]
        );
        assert!(extract(json!([]), "[]").unwrap().is_empty());
        assert!(extract(json!([]), "not json").unwrap().is_empty());
        // A list body with a path: the path in each item.
        assert_eq!(
            extract(json!(["d"]), r#"[{"d": [1]}, {"d": [2, 3]}]"#).unwrap(),
            vec![json!(1), json!(2), json!(3)]
        );
        // `*`: every match is a record (lists are not flattened).
        assert_eq!(
            extract(
                json!(["data", "*", "items"]),
                r#"{"data": [{"items": [1]}, {"items": [2]}, {"x": 0}]}"#
            )
            .unwrap(),
            vec![json!([1]), json!([2])]
        );
        assert_eq!(
            extract(
                json!(["data", "*"]),
                r#"{"data": {"a": {"id": 1}, "b": {"id": 2}}}"#
            )
            .unwrap(),
            vec![json!({"id": 1}), json!({"id": 2})]
        );
        // A segment that evaluates to a number matches list indices.
        assert_eq!(
            extract(json!(["data", "0"]), r#"{"data": [{"a": 1}, {"a": 2}]}"#).unwrap(),
            vec![json!({"a": 1})]
        );
        // A glob without `*` that matches twice: the library's error.
        assert!(extract(json!(["data", "?"]), r#"{"data": {"a": [1], "b": [2]}}"#).is_err());
    }

    #[test]
    fn plain_helpers() {
        let body = json!({"data": [{"items": [1, 2]}, {"items": [3]}]});
        let p = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            dpath_get(&body, &p(&["data", "1", "items"])),
            Some(&json!([3]))
        );
        assert_eq!(
            dpath_values(&body, &p(&["data", "*", "items"])),
            vec![&json!([1, 2]), &json!([3])]
        );
    }
}
