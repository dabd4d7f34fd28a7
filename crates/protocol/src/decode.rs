//! Turning one line of connector output into a message, fast and without panicking.
//!
//! RECORD lines are most of any sync, so they take a fast path: only the envelope is parsed and
//! `data` stays a borrowed [`RawValue`] that the consumer (a cache loader, a printer) parses once,
//! straight into its own representation. Every other message is parsed fully.
//!
//! Even that envelope parse, done by serde_json, was a large share of a sync's CPU, so every line
//! first goes through a hand-written scanner (`envelope_scan`) that validates the whole line in
//! one pass and recognises the plain RECORD shape connectors print. It answers only when it is
//! sure serde would give the same record; anything unusual (escaped keys or stream names,
//! duplicate fields, float timestamps, other types, invalid JSON, …) falls back to the serde
//! path below, which alone decides those lines and their errors.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::envelope_scan::{scan_record, scan_record_with};
use crate::messages::{AirbyteMessage, AirbyteRecordMessage, AirbyteRecordMessageMeta};

/// A line that is not a usable Airbyte message.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The line is not JSON at all (a connector printing to stdout, a stray progress bar, …).
    #[error("not a JSON line ({source}): {excerpt}")]
    NotJson {
        excerpt: String,
        #[source]
        source: serde_json::Error,
    },
    /// JSON, but not an object with a `type`.
    #[error("JSON, but not an Airbyte message (no \"type\"): {excerpt}")]
    NotAMessage { excerpt: String },
    /// A message whose fields do not match the protocol.
    #[error("malformed {kind} message ({source}): {excerpt}")]
    Malformed {
        kind: String,
        excerpt: String,
        #[source]
        source: serde_json::Error,
    },
}

impl DecodeError {
    /// The start of the offending line, for logs and error messages.
    pub fn excerpt(&self) -> &str {
        match self {
            Self::NotJson { excerpt, .. }
            | Self::NotAMessage { excerpt }
            | Self::Malformed { excerpt, .. } => excerpt,
        }
    }
}

/// The longest excerpt of a bad line kept in an error.
const EXCERPT_CHARS: usize = 200;

/// The start of a line as text, lossy and bounded, for error messages.
pub fn excerpt(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(&line[..line.len().min(EXCERPT_CHARS * 4)]);
    let mut out: String = text.chars().take(EXCERPT_CHARS).collect();
    if out.len() < text.len() || line.len() > EXCERPT_CHARS * 4 {
        out.push('…');
    }
    out
}

/// A RECORD message whose `data` has not been parsed yet.
#[derive(Debug, Clone)]
pub struct RecordRef<'a> {
    pub stream: Cow<'a, str>,
    pub namespace: Option<Cow<'a, str>>,
    /// Milliseconds since the Unix epoch.
    pub emitted_at: i64,
    /// The record's `data` object, unparsed.
    pub data: &'a RawValue,
    /// The record's `meta`, unparsed, when present.
    pub meta: Option<&'a RawValue>,
    /// Where each top-level member of `data` lies, in order, when the decoder found them while
    /// validating the line ([`decode_line_with`]); `None` otherwise, and whenever a key of `data`
    /// has escapes. Consumers that look values up by key use it to skip a second pass over
    /// `data`; when it is `Some`, it describes `data` exactly.
    pub members: Option<&'a [MemberSpan]>,
}

/// One top-level member of a record's `data`: byte ranges, relative to the start of `data`'s
/// text, of its key (inside the quotes, without escapes) and of its value.
///
/// ```
/// use abrs_protocol::{decode_line_with, Decoded};
/// let line = br#"{"type":"RECORD","record":{"stream":"s","data":{"id": 7},"emitted_at":5}}"#;
/// let mut members = Vec::new();
/// let Ok(Decoded::Record(r)) = decode_line_with(line, &mut members) else { panic!() };
/// let m = r.members.unwrap()[0];
/// let data = r.data.get();
/// assert_eq!(&data[m.key_start as usize..m.key_end as usize], "id");
/// assert_eq!(&data[m.value_start as usize..m.value_end as usize], "7");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberSpan {
    pub key_start: u32,
    pub key_end: u32,
    pub value_start: u32,
    pub value_end: u32,
}

impl RecordRef<'_> {
    /// Parses `data` and `meta` into an owned record message.
    pub fn to_owned_message(&self) -> Result<AirbyteRecordMessage, serde_json::Error> {
        let meta = match self.meta {
            Some(m) => serde_json::from_str::<Option<AirbyteRecordMessageMeta>>(m.get())?,
            None => None,
        };
        Ok(AirbyteRecordMessage {
            namespace: self.namespace.as_ref().map(|n| n.to_string()),
            stream: self.stream.to_string(),
            data: serde_json::from_str(self.data.get())?,
            emitted_at: self.emitted_at,
            meta,
            extra: Default::default(),
        })
    }
}

/// One decoded line.
#[derive(Debug, Clone)]
pub enum Decoded<'a> {
    /// A RECORD, with its data left unparsed.
    Record(RecordRef<'a>),
    /// Any other message, fully parsed.
    Message(Box<AirbyteMessage>),
    /// A blank line (ignored by the protocol).
    Blank,
}

/// One pass over a line: the type, and a RECORD's fields (with `data` kept raw). Lines of other
/// types skip `record` (absent) and are parsed again in full.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    ty: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    record: Option<RecordEnvelope<'a>>,
}

/// Only the type, for classifying lines the one-pass envelope rejected.
#[derive(Deserialize)]
struct TypeOnly<'a> {
    #[serde(rename = "type", borrow)]
    ty: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RecordEnvelope<'a> {
    #[serde(borrow)]
    stream: Cow<'a, str>,
    #[serde(borrow, default)]
    namespace: Option<Cow<'a, str>>,
    #[serde(default)]
    emitted_at: Option<serde_json::Number>,
    #[serde(borrow)]
    data: &'a RawValue,
    #[serde(borrow, default)]
    meta: Option<&'a RawValue>,
}

/// Why the one-pass envelope failed: not JSON, JSON but no message, or a malformed message of
/// some type (the line is parsed again, on the error path only).
fn classify_failure(line: &[u8], source: serde_json::Error) -> DecodeError {
    match serde_json::from_slice::<TypeOnly<'_>>(line) {
        Ok(TypeOnly { ty: Some(ty) }) => DecodeError::Malformed {
            kind: ty.into_owned(),
            excerpt: excerpt(line),
            source,
        },
        Ok(TypeOnly { ty: None }) => DecodeError::NotAMessage {
            excerpt: excerpt(line),
        },
        Err(_) if serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok() => {
            DecodeError::NotAMessage {
                excerpt: excerpt(line),
            }
        }
        Err(_) => DecodeError::NotJson {
            excerpt: excerpt(line),
            source,
        },
    }
}

fn trim(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &line[start..end]
}

fn emitted_at_millis(n: Option<&serde_json::Number>) -> i64 {
    match n {
        None => 0,
        Some(n) => n.as_i64().unwrap_or_else(|| {
            // Some connectors write a float; saturating `as` keeps any finite value in range.
            n.as_f64().map_or(0, |f| f as i64)
        }),
    }
}

/// Decodes one line of connector output.
///
/// Never panics, whatever the bytes: invalid UTF-8, truncated JSON and wrong shapes all come
/// back as a [`DecodeError`].
///
/// ```
/// use abrs_protocol::{decode_line, Decoded};
/// let line = br#"{"type":"RECORD","record":{"stream":"users","data":{"id":1},"emitted_at":5}}"#;
/// match decode_line(line).unwrap() {
///     Decoded::Record(r) => {
///         assert_eq!(r.stream, "users");
///         assert_eq!(r.data.get(), r#"{"id":1}"#);
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
pub fn decode_line(line: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let line = trim(line);
    if line.is_empty() {
        return Ok(Decoded::Blank);
    }
    if let Some(record) = scan_record(line) {
        return Ok(Decoded::Record(record));
    }
    decode_with_serde(line)
}

/// [`decode_line`], and for a RECORD the top-level members of its `data`
/// ([`RecordRef::members`]), found in the same pass that validates the line. `members` is a
/// buffer the caller keeps between lines, so that the common case allocates nothing.
pub fn decode_line_with<'a>(
    line: &'a [u8],
    members: &'a mut Vec<MemberSpan>,
) -> Result<Decoded<'a>, DecodeError> {
    let line = trim(line);
    if line.is_empty() {
        return Ok(Decoded::Blank);
    }
    if let Some(record) = scan_record_with(line, members) {
        return Ok(Decoded::Record(record));
    }
    decode_with_serde(line)
}

/// [`decode_line`] without the hand-written RECORD scanner: the reference it must agree with,
/// public for the property tests and benchmarks only.
#[doc(hidden)]
pub fn decode_line_serde(line: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let line = trim(line);
    if line.is_empty() {
        return Ok(Decoded::Blank);
    }
    decode_with_serde(line)
}

/// The top-level members of a JSON object in order, as serde_json reads them: the reference
/// that [`RecordRef::members`] agrees with, public for the property tests only.
#[doc(hidden)]
pub fn object_members_serde(data: &str) -> Result<Vec<(String, &RawValue)>, serde_json::Error> {
    struct Walk;
    impl<'de> serde::de::Visitor<'de> for Walk {
        type Value = Vec<(String, &'de RawValue)>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                out.push((key, map.next_value()?));
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_str(data);
    serde::Deserializer::deserialize_map(&mut de, Walk)
}

/// The serde path for a trimmed, non-blank line.
fn decode_with_serde(line: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let envelope: Envelope<'_> = match serde_json::from_slice(line) {
        Ok(e) => e,
        Err(source) => {
            // A non-RECORD message with an odd `record` field is still that message.
            if let Ok(m) = serde_json::from_slice::<AirbyteMessage>(line)
                && m.r#type != crate::enums::MessageType::Record
            {
                return Ok(Decoded::Message(Box::new(m)));
            }
            return Err(classify_failure(line, source));
        }
    };
    let Some(ty) = envelope.ty else {
        return Err(DecodeError::NotAMessage {
            excerpt: excerpt(line),
        });
    };
    if ty == "RECORD"
        && let Some(rec) = envelope.record
    {
        if !rec.data.get().starts_with('{') {
            return Err(DecodeError::Malformed {
                kind: "RECORD".into(),
                excerpt: excerpt(line),
                source: serde::de::Error::custom("record.data is not an object"),
            });
        }
        return Ok(Decoded::Record(RecordRef {
            stream: rec.stream,
            namespace: rec.namespace,
            emitted_at: emitted_at_millis(rec.emitted_at.as_ref()),
            data: rec.data,
            meta: rec.meta.filter(|m| m.get() != "null"),
            members: None,
        }));
    }
    serde_json::from_slice::<AirbyteMessage>(line)
        .map(|m| Decoded::Message(Box::new(m)))
        .map_err(|source| DecodeError::Malformed {
            kind: ty.into_owned(),
            excerpt: excerpt(line),
            source,
        })
}

/// Decodes a line into an owned message, parsing a RECORD's data too.
pub fn decode_message(line: &[u8]) -> Result<Option<AirbyteMessage>, DecodeError> {
    match decode_line(line)? {
        Decoded::Blank => Ok(None),
        Decoded::Message(m) => Ok(Some(*m)),
        Decoded::Record(r) => {
            let rec = r
                .to_owned_message()
                .map_err(|source| DecodeError::Malformed {
                    kind: "RECORD".into(),
                    excerpt: excerpt(line),
                    source,
                })?;
            Ok(Some(AirbyteMessage::record(rec)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::*;

    #[test]
    fn record_fast_path_keeps_data_raw() {
        let line = br#"{"type":"RECORD","record":{"stream":"s\"q","namespace":"ns","data":{"a":[1,2],"b":null},"emitted_at":1.7e12,"meta":{"changes":[]}}}"#;
        let Decoded::Record(r) = decode_line(line).unwrap() else {
            panic!()
        };
        assert_eq!(r.stream, "s\"q");
        assert_eq!(r.namespace.as_deref(), Some("ns"));
        assert_eq!(r.emitted_at, 1_700_000_000_000);
        assert_eq!(r.data.get(), r#"{"a":[1,2],"b":null}"#);
        assert!(r.meta.is_some());
        let owned = r.to_owned_message().unwrap();
        assert_eq!(owned.data["a"], serde_json::json!([1, 2]));
    }

    #[test]
    fn other_messages_parse_fully() {
        let line = br#"{"type":"STATE","state":{"type":"GLOBAL","global":{"shared_state":{"lsn":5},"stream_states":[{"stream_descriptor":{"name":"a"},"stream_state":{"c":1}}]},"sourceStats":{"recordCount":3.0}}}"#;
        let Decoded::Message(m) = decode_line(line).unwrap() else {
            panic!()
        };
        let st = m.state.unwrap();
        assert_eq!(st.kind(), StateType::Global);
        let g = st.global.unwrap();
        assert_eq!(g.stream_states[0].stream_descriptor.name, "a");
        assert_eq!(st.source_stats.unwrap().record_count, Some(3.0));
    }

    #[test]
    fn errors_are_classified() {
        assert!(matches!(
            decode_line(b"hello world"),
            Err(DecodeError::NotJson { .. })
        ));
        assert!(matches!(
            decode_line(b"[1,2]"),
            Err(DecodeError::NotAMessage { .. })
        ));
        assert!(matches!(
            decode_line(b"{\"a\":1}"),
            Err(DecodeError::NotAMessage { .. })
        ));
        assert!(matches!(
            decode_line(br#"{"type":"RECORD","record":{"data":{}}}"#),
            Err(DecodeError::Malformed { .. })
        ));
        assert!(matches!(
            decode_line(br#"{"type":"RECORD","record":{"stream":"s","data":[1]}}"#),
            Err(DecodeError::Malformed { .. })
        ));
        assert!(matches!(decode_line(b"  \r"), Ok(Decoded::Blank)));
    }

    #[test]
    fn a_stray_record_field_is_classified_by_type() {
        let line = br#"{"type":"LOG","record":null,"log":{"level":"INFO","message":"m"}}"#;
        let Decoded::Message(m) = decode_line(line).unwrap() else {
            panic!()
        };
        assert_eq!(m.log.unwrap().message, "m");
        let line = br#"{"type":"LOG","record":"oops","log":{"level":"INFO","message":"m"}}"#;
        assert!(matches!(
            decode_line(line),
            Err(DecodeError::Malformed { ref kind, .. }) if kind == "LOG"
        ));
        assert!(matches!(
            decode_line(br#"{"type":"RECORD","record":"oops"}"#),
            Err(DecodeError::Malformed { .. })
        ));
    }

    #[test]
    fn unknown_fields_round_trip() {
        let text = r#"{"type":"TRACE","trace":{"type":"ERROR","emitted_at":1.0,"error":{"message":"boom","failure_type":"config_error","future_field":{"x":1}},"new_top":true},"also_new":[1]}"#;
        let m = decode_message(text.as_bytes()).unwrap().unwrap();
        let back: serde_json::Value = serde_json::from_str(&m.to_line()).unwrap();
        let orig: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(back, orig);
        let err = m.trace.unwrap().error.unwrap();
        assert_eq!(err.failure_type, Some(FailureType::ConfigError));
    }
}
