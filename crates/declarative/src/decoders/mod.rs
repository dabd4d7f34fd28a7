//! Decoders: how a response body becomes the bodies records are extracted from (JSON, JSON
//! lines, lines of text, and the CDK's composite decoders: gzip, CSV, JSON items).

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::engine_error::{EngineError, Result};
use crate::factory::Node;
use crate::http::HttpResponse;

mod parsers;
mod xml;

pub use parsers::Parser;
pub use xml::xml_to_json;

/// A decoder: `JsonDecoder`, `JsonlDecoder`, or one of the CDK's `CompositeRawDecoder`s
/// (`GzipDecoder`, `CsvDecoder`) made of [`Parser`]s.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Decoder {
    /// One JSON document; a top-level list yields each item as a body.
    #[default]
    Json,
    /// One JSON document a line.
    Jsonl,
    /// A `CompositeRawDecoder`: the body through a parser (gzip, CSV, JSON inside them).
    Composite(Parser),
    /// `XmlDecoder`: the body as `xmltodict` reads it.
    Xml,
    /// `ZipfileDecoder`: each file of a zip archive through a parser.
    Zipfile(Parser),
    /// `IterableDecoder`: each line of the body as `{"record": line}`.
    Iterable,
}

impl Decoder {
    /// The decoder of a `decoder` node (`JsonDecoder` when absent).
    pub fn from_node(node: Option<Node<'_>>) -> Result<Self> {
        match node {
            None => Ok(Self::Json),
            Some(n) => match n.type_name() {
                "JsonDecoder" | "" => Ok(Self::Json),
                "JsonlDecoder" => Ok(Self::Jsonl),
                "GzipDecoder" | "CsvDecoder" | "JsonItemsDecoder" => {
                    Ok(Self::Composite(Parser::from_node(n)?))
                }
                "XmlDecoder" => Ok(Self::Xml),
                "IterableDecoder" => Ok(Self::Iterable),
                "ZipfileDecoder" => {
                    let inner_path = n.child_path("decoder");
                    let inner = n.child("decoder", &inner_path)?.ok_or_else(|| {
                        n.error("decoder", "ZipfileDecoder requires a decoder for its files")
                    })?;
                    Ok(Self::Zipfile(Parser::from_node(inner)?))
                }
                _ => Err(n.unsupported()),
            },
        }
    }

    /// The bodies of `response`, as the CDK's decoders yield them.
    ///
    /// `JsonDecoder`: a JSON list gives its items (whatever they are), any other document
    /// itself; an empty list, `null`, an empty body or one that is not JSON give one `{}`.
    /// `JsonlDecoder`: each line that parses as JSON (others are skipped, as the CDK logs and
    /// skips them); nothing for an empty body. A composite decoder gives what its parser
    /// yields; a body its parser cannot read is an error. `XmlDecoder`: the document as
    /// `xmltodict` reads it (one `{}` when it is not XML). `ZipfileDecoder`: what the parser
    /// yields for each file of the archive, in order (not a zip archive is an error).
    /// `IterableDecoder`: `{"record": line}` for each line of the body (empty lines inside it
    /// included, as `requests`' `iter_lines`); a body that is not UTF-8 is an error.
    /// `JsonItemsDecoder`: the elements of the list at its `items_path` (none when the path is
    /// not there); a body that is not JSON is an error.
    pub fn decode(&self, response: &HttpResponse) -> Result<Vec<Value>> {
        Ok(match self {
            Self::Json => self
                .decode_borrowed(response)?
                .into_iter()
                .map(Cow::into_owned)
                .collect(),
            Self::Jsonl => parsers::json_lines(&response.body, &response.url),
            Self::Composite(parser) => {
                parser
                    .parse(&response.body)
                    .map_err(|message| EngineError::Decode {
                        url: response.url.clone(),
                        message,
                    })?
            }
            Self::Xml => match xml::xml_to_json(&response.text()) {
                Some(v) => vec![v],
                None => {
                    tracing::warn!(url = %response.url, status = response.status, "the response cannot be parsed as XML; it gives no records");
                    vec![Value::Object(Map::new())]
                }
            },
            Self::Iterable => parsers::text_lines(&response.body)
                .map_err(|message| EngineError::Decode {
                    url: response.url.clone(),
                    message,
                })?
                .into_iter()
                .map(|line| serde_json::json!({ "record": line }))
                .collect(),
            Self::Zipfile(parser) => {
                parsers::unzip(&response.body, parser).map_err(|message| EngineError::Decode {
                    url: response.url.clone(),
                    message,
                })?
            }
        })
    }

    /// [`Decoder::decode`], borrowing the bodies of a JSON response from its parsed body
    /// (parsed once per response) instead of copying them: records are then copied once, when
    /// they are extracted.
    pub fn decode_borrowed<'a>(&self, response: &'a HttpResponse) -> Result<Vec<Cow<'a, Value>>> {
        if *self == Self::Json {
            return Ok(match response.json() {
                Some(Value::Array(items)) if !items.is_empty() => {
                    items.iter().map(Cow::Borrowed).collect()
                }
                Some(Value::Array(_)) | Some(Value::Null) => {
                    vec![Cow::Owned(Value::Object(Map::new()))]
                }
                Some(v) => vec![Cow::Borrowed(v)],
                None => {
                    if !response.body.is_empty() {
                        tracing::warn!(url = %response.url, "the response is not JSON; it gives no records");
                    }
                    vec![Cow::Owned(Value::Object(Map::new()))]
                }
            });
        }
        Ok(self.decode(response)?.into_iter().map(Cow::Owned).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(decoder: Decoder, body: &str) -> Vec<Value> {
        decoder
            .decode(&HttpResponse::new(
                200,
                vec![],
                body.as_bytes().to_vec(),
                "http://x".into(),
            ))
            .unwrap()
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

    #[test]
    fn iterable_gives_each_line_as_a_record() {
        assert_eq!(
            decode(Decoder::Iterable, "a,b\r\n\nc\rd\n"),
            vec![
                json!({"record": "a,b"}),
                json!({"record": ""}),
                json!({"record": "c"}),
                json!({"record": "d"})
            ]
        );
        assert!(decode(Decoder::Iterable, "").is_empty());
        let bad = HttpResponse::new(200, vec![], vec![0xff, b'\n'], "http://x".into());
        assert!(Decoder::Iterable.decode(&bad).is_err());
    }

    fn json_items(items_path: &str) -> Decoder {
        let env = crate::factory::BuildEnv::default();
        let path = crate::error::ManifestPath::root().key("decoder");
        let value = json!({"type": "JsonItemsDecoder", "items_path": items_path});
        Decoder::from_node(Some(Node::new(&value, &path, &env).unwrap())).unwrap()
    }

    #[test]
    fn json_items_as_ijson() {
        let body =
            r#"{"data": {"users": [{"id": 1}, {"id": 2}], "pages": [[1, 2], [3]]}, "n": 1.5}"#;
        assert_eq!(
            decode(json_items("data.users"), body),
            vec![json!({"id": 1}), json!({"id": 2})]
        );
        // `item` also steps into each element of a list on the way.
        assert_eq!(
            decode(json_items("data.pages.item"), body),
            vec![json!(1), json!(2), json!(3)]
        );
        assert!(decode(json_items("data.missing"), body).is_empty());
        assert!(decode(json_items("n"), body).is_empty());
        let bad = HttpResponse::new(200, vec![], b"<html>".to_vec(), "http://x".into());
        assert!(json_items("data").decode(&bad).is_err());
        let env = crate::factory::BuildEnv::default();
        let path = crate::error::ManifestPath::root().key("decoder");
        let value = json!({"type": "JsonItemsDecoder", "items_path": ""});
        let error = Decoder::from_node(Some(Node::new(&value, &path, &env).unwrap())).unwrap_err();
        assert!(
            error.to_string().contains("non-empty items_path"),
            "{error}"
        );
    }
}
