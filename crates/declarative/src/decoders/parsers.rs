//! The parsers of the CDK's `CompositeRawDecoder` (`GzipParser`, `JsonParser`,
//! `JsonLineParser`, `CsvParser`): bytes in, the bodies records are extracted from out.

use std::io::Read;

use serde_json::{Map, Value};

use crate::engine_error::Result;
use crate::factory::Node;

/// A parser of a composite decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parser {
    /// `JsonParser`: one document; a list yields its items. Not JSON is an error.
    Json,
    /// `JsonLineParser`: one document a line; lines that are not JSON are skipped.
    JsonLine,
    /// `CsvParser`: a mapping per row, keyed by the header row (Python's `csv.DictReader`).
    Csv {
        /// The field delimiter (`\t` written as an escape is a tab).
        delimiter: u8,
        /// Values that become null.
        set_values_to_none: Vec<String>,
    },
    /// `JsonItemsParser` (`JsonItemsDecoder`): the elements of the array at `items_path`, a
    /// dotted path in `ijson`'s syntax.
    JsonItems {
        /// The path's segments, with ijson's final `item` (an array's elements) appended.
        prefix: Vec<String>,
    },
    /// `GzipParser`: gunzips the data when it starts with gzip's magic bytes (else passes it
    /// on as it is) to the inner parser.
    Gzip(Box<Parser>),
}

impl Parser {
    /// The parser of a decoder node (`GzipDecoder`, `CsvDecoder`, `JsonDecoder`,
    /// `JsonlDecoder`), as the CDK's `_get_parser`.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        match node.type_name() {
            "JsonDecoder" | "" => Ok(Self::Json),
            "JsonlDecoder" => Ok(Self::JsonLine),
            "CsvDecoder" => {
                let written = node.opt_str("delimiter")?.unwrap_or_else(|| ",".into());
                let delimiter = unescape(&written);
                let [byte] = delimiter.as_bytes() else {
                    return Err(node.error(
                        "delimiter",
                        format!("the CSV delimiter must be one character, found {written:?}"),
                    ));
                };
                if let Some(encoding) = node.opt_str("encoding")?
                    && !is_utf8(&encoding)
                {
                    return Err(node.error(
                        "encoding",
                        format!("the native engine reads CSV as UTF-8 only, found {encoding:?}; run this manifest with the Python CDK instead (`--use-python`)"),
                    ));
                }
                Ok(Self::Csv {
                    delimiter: *byte,
                    set_values_to_none: node
                        .opt_str_list("set_values_to_none")?
                        .unwrap_or_default(),
                })
            }
            "JsonItemsDecoder" => {
                let items_path = node.opt_str("items_path")?.unwrap_or_default();
                if items_path.is_empty() {
                    return Err(node.error(
                        "items_path",
                        "JsonItemsDecoder requires a non-empty items_path (the dotted path of the records' array, such as data.users)",
                    ));
                }
                if let Some(encoding) = node.opt_str("encoding")?
                    && !is_utf8(&encoding)
                {
                    return Err(node.error(
                        "encoding",
                        format!("the native engine reads JSON as UTF-8 only, found {encoding:?}; run this manifest with the Python CDK instead (`--use-python`)"),
                    ));
                }
                let mut prefix: Vec<String> = items_path.split('.').map(str::to_string).collect();
                prefix.push("item".into());
                Ok(Self::JsonItems { prefix })
            }
            "GzipDecoder" => {
                let inner_path = node.child_path("decoder");
                let inner = node
                    .child("decoder", &inner_path)?
                    .ok_or_else(|| node.error("decoder", "GzipDecoder requires a decoder"))?;
                Ok(Self::Gzip(Box::new(Self::from_node(inner)?)))
            }
            _ => Err(node.unsupported()),
        }
    }

    /// The bodies in `data`; an error says why the data cannot be read.
    pub fn parse(&self, data: &[u8]) -> std::result::Result<Vec<Value>, String> {
        match self {
            Self::Json => match serde_json::from_slice::<Value>(data) {
                Ok(Value::Array(items)) => Ok(items),
                Ok(v) => Ok(vec![v]),
                Err(e) => Err(format!("Response JSON data failed to be parsed: {e}")),
            },
            Self::JsonLine => Ok(json_lines(data, "")),
            Self::JsonItems { prefix } => {
                let document = serde_json::from_slice::<Value>(data)
                    .map_err(|e| format!("Response JSON data failed to be parsed: {e}"))?;
                let mut out = Vec::new();
                json_items(document, prefix, &mut out);
                Ok(out)
            }
            Self::Csv {
                delimiter,
                set_values_to_none,
            } => csv_rows(data, *delimiter, set_values_to_none),
            Self::Gzip(inner) => {
                if data.starts_with(&[0x1f, 0x8b]) {
                    let mut out = Vec::new();
                    flate2::read::MultiGzDecoder::new(data)
                        .read_to_end(&mut out)
                        .map_err(|e| format!("cannot gunzip the response: {e}"))?;
                    inner.parse(&out)
                } else {
                    inner.parse(data)
                }
            }
        }
    }
}

/// What `parser` yields for each file of the zip archive `data`, in the archive's order
/// (directories are skipped).
pub(super) fn unzip(data: &[u8], parser: &Parser) -> std::result::Result<Vec<Value>, String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(data))
        .map_err(|e| format!("Received an invalid zip file in response: {e}"))?;
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut file = archive
            .by_index(i)
            .map_err(|e| format!("cannot read file {i} of the zip archive: {e}"))?;
        if file.is_dir() {
            continue;
        }
        let name = file.name().map(|n| n.into_owned()).unwrap_or_default();
        let mut content = Vec::new();
        file.read_to_end(&mut content)
            .map_err(|e| format!("cannot unzip {name}: {e}"))?;
        out.extend(
            parser
                .parse(&content)
                .map_err(|e| format!("Failed to parse file: {name} from zip file: {e}"))?,
        );
    }
    Ok(out)
}

/// The values of `value` at the ijson `prefix`: a segment names a mapping's member, and
/// `item` also each element of a list (so `data.users` + `item` gives the elements of the list
/// at `data.users`, and nothing when there is none).
fn json_items(value: Value, prefix: &[String], out: &mut Vec<Value>) {
    let Some((segment, rest)) = prefix.split_first() else {
        out.push(value);
        return;
    };
    match value {
        Value::Array(items) if segment == "item" => {
            for item in items {
                json_items(item, rest, out);
            }
        }
        Value::Object(mut members) => {
            if let Some(member) = members.remove(segment.as_str()) {
                json_items(member, rest, out);
            }
        }
        _ => {}
    }
}

/// Each line of `data` as text, split as Python's `bytes.splitlines` (what `requests`'
/// `iter_lines` gives the CDK's `IterableDecoder`).
pub(super) fn text_lines(data: &[u8]) -> std::result::Result<Vec<String>, String> {
    let text =
        std::str::from_utf8(data).map_err(|e| format!("the response is not UTF-8 text: {e}"))?;
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['\n', '\r']) {
            None => {
                lines.push(rest.to_string());
                break;
            }
            Some(i) => {
                lines.push(rest[..i].to_string());
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[i + skip..];
            }
        }
    }
    Ok(lines)
}

/// Each line of `data` that is JSON (others are skipped with a warning, as the CDK does).
pub(super) fn json_lines(data: &[u8], url: &str) -> Vec<Value> {
    data.split(|b| *b == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .filter_map(|line| match serde_json::from_slice(line) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(url = %url, "cannot parse a line as JSON: {e}");
                None
            }
        })
        .collect()
}

/// Python's `csv.DictReader`: the first row names the fields; a row with fewer values gives
/// nulls for the missing ones, one with more puts the rest in a list under `null`'s key
/// (Python's `None` key, which `json.dumps` writes as `"null"`).
fn csv_rows(
    data: &[u8],
    delimiter: u8,
    set_values_to_none: &[String],
) -> std::result::Result<Vec<Value>, String> {
    let data = data
        .strip_prefix(b"\xef\xbb\xbf".as_slice())
        .unwrap_or(data);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(data);
    let mut rows = reader.records();
    let header: Vec<String> = match rows.next() {
        None => return Ok(Vec::new()),
        Some(row) => row
            .map_err(|e| format!("cannot read the CSV header: {e}"))?
            .iter()
            .map(str::to_string)
            .collect(),
    };
    let mut out = Vec::new();
    for row in rows {
        let row = row.map_err(|e| format!("cannot read a CSV row: {e}"))?;
        // DictReader skips rows without any field.
        if row.is_empty() || (row.len() == 1 && row.get(0) == Some("")) {
            continue;
        }
        let mut map = Map::new();
        for (i, name) in header.iter().enumerate() {
            let value = match row.get(i) {
                Some(v) if set_values_to_none.iter().any(|n| n == v) => Value::Null,
                Some(v) => Value::String(v.to_string()),
                None => Value::Null,
            };
            map.insert(name.clone(), value);
        }
        if row.len() > header.len() {
            let rest = row
                .iter()
                .skip(header.len())
                .map(|v| Value::String(v.to_string()))
                .collect();
            map.insert("null".into(), Value::Array(rest));
        }
        out.push(Value::Object(map));
    }
    Ok(out)
}

/// A delimiter written with a backslash escape (`\t`), as the CDK decodes it.
fn unescape(written: &str) -> String {
    match written {
        "\\t" => "\t".into(),
        "\\n" => "\n".into(),
        "\\r" => "\r".into(),
        "\\\\" => "\\".into(),
        other => other.to_string(),
    }
}

fn is_utf8(encoding: &str) -> bool {
    matches!(
        encoding.to_ascii_lowercase().replace('_', "-").as_str(),
        "utf-8" | "utf8" | "utf" | "ascii" | "us-ascii"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_json_and_plain_data_pass_through() {
        let p = Parser::Gzip(Box::new(Parser::Json));
        assert_eq!(
            p.parse(&gzip(br#"[{"a": 1}, {"a": 2}]"#)).unwrap(),
            vec![json!({"a": 1}), json!({"a": 2})]
        );
        assert_eq!(p.parse(br#"{"a": 1}"#).unwrap(), vec![json!({"a": 1})]);
        assert!(p.parse(b"not json").is_err());
        let p = Parser::Gzip(Box::new(Parser::JsonLine));
        assert_eq!(
            p.parse(&gzip(b"{\"a\": 1}\nbad\n{\"a\": 2}\n")).unwrap(),
            vec![json!({"a": 1}), json!({"a": 2})]
        );
    }

    #[test]
    fn zip_files_in_order_through_the_parser() {
        let mut buffer = std::io::Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buffer);
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            z.start_file("b.jsonl", options).unwrap();
            z.write_all(b"{\"n\": 1}\n{\"n\": 2}\n").unwrap();
            z.add_directory("dir/", options).unwrap();
            z.start_file("a.jsonl", options).unwrap();
            z.write_all(b"{\"n\": 3}\n").unwrap();
            z.finish().unwrap();
        }
        assert_eq!(
            unzip(buffer.get_ref(), &Parser::JsonLine).unwrap(),
            vec![json!({"n": 1}), json!({"n": 2}), json!({"n": 3})]
        );
        assert!(unzip(b"not a zip", &Parser::JsonLine).is_err());
    }

    #[test]
    fn csv_as_python_dict_reader() {
        let p = Parser::Csv {
            delimiter: b',',
            set_values_to_none: vec!["".into(), "NA".into()],
        };
        assert_eq!(
            p.parse(b"\xef\xbb\xbfid,name,note\n1,\"a, b\",NA\n2,c\n\n3,d,,extra\n")
                .unwrap(),
            vec![
                json!({"id": "1", "name": "a, b", "note": null}),
                json!({"id": "2", "name": "c", "note": null}),
                json!({"id": "3", "name": "d", "note": null, "null": ["extra"]}),
            ]
        );
        let tabs = Parser::Csv {
            delimiter: unescape("\\t").as_bytes()[0],
            set_values_to_none: vec![],
        };
        assert_eq!(
            tabs.parse(b"a\tb\n1\t2\n").unwrap(),
            vec![json!({"a": "1", "b": "2"})]
        );
        assert!(tabs.parse(b"").unwrap().is_empty());
    }
}
