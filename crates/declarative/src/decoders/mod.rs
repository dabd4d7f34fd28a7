//! Decoders: how a response body becomes the bodies records are extracted from.

use serde_json::{Map, Value};

use crate::engine_error::Result;
use crate::factory::Node;
use crate::http::HttpResponse;

/// A decoder (`JsonDecoder`, `JsonlDecoder`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Decoder {
    /// One JSON document; a top-level list yields each item as a body.
    #[default]
    Json,
    /// One JSON document a line.
    Jsonl,
}

impl Decoder {
    /// The decoder of a `decoder` node (`JsonDecoder` when absent).
    pub fn from_node(node: Option<Node<'_>>) -> Result<Self> {
        match node {
            None => Ok(Self::Json),
            Some(n) => match n.type_name() {
                "JsonDecoder" | "" => Ok(Self::Json),
                "JsonlDecoder" => Ok(Self::Jsonl),
                _ => Err(n.unsupported()),
            },
        }
    }

    /// The bodies of `response`, as the CDK's decoders yield them.
    ///
    /// `JsonDecoder`: a JSON list gives its items (whatever they are), any other document
    /// itself; an empty list, `null`, an empty body or one that is not JSON give one `{}`.
    /// `JsonlDecoder`: each line that parses as JSON (others are skipped, as the CDK logs and
    /// skips them); nothing for an empty body.
    pub fn decode(&self, response: &HttpResponse) -> Vec<Value> {
        match self {
            Self::Json => match response.json() {
                Some(Value::Array(items)) if !items.is_empty() => items.clone(),
                Some(Value::Array(_)) | Some(Value::Null) => vec![Value::Object(Map::new())],
                Some(v) => vec![v.clone()],
                None => {
                    if !response.body.is_empty() {
                        tracing::warn!(url = %response.url, "the response is not JSON; it gives no records");
                    }
                    vec![Value::Object(Map::new())]
                }
            },
            Self::Jsonl => response
                .body
                .split(|b| *b == b'\n')
                .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
                .filter_map(|line| match serde_json::from_slice(line) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        tracing::warn!(url = %response.url, "cannot parse a line as JSON: {e}");
                        None
                    }
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(decoder: Decoder, body: &str) -> Vec<Value> {
        decoder.decode(&HttpResponse::new(
            200,
            vec![],
            body.as_bytes().to_vec(),
            "http://x".into(),
        ))
    }

    #[test]
    fn json_as_the_cdk() {
        assert_eq!(decode(Decoder::Json, r#"{"a": 1}"#), vec![json!({"a": 1})]);
        assert_eq!(
            decode(Decoder::Json, r#"[1, {"a": 1}, null]"#),
            vec![json!(1), json!({"a": 1}), Value::Null]
        );
        assert_eq!(decode(Decoder::Json, "[]"), vec![json!({})]);
        assert_eq!(decode(Decoder::Json, "null"), vec![json!({})]);
        assert_eq!(decode(Decoder::Json, ""), vec![json!({})]);
        assert_eq!(decode(Decoder::Json, "<html>"), vec![json!({})]);
        assert_eq!(decode(Decoder::Json, "0"), vec![json!(0)]);
    }

    #[test]
    fn jsonl_as_the_cdk() {
        assert_eq!(
            decode(Decoder::Jsonl, "{\"a\": 1}\n\nbad\n{\"a\": 2}\r\n"),
            vec![json!({"a": 1}), json!({"a": 2})]
        );
        assert!(decode(Decoder::Jsonl, "").is_empty());
    }
}
