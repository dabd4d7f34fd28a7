//! The stream of a RECORD line, without reading the rest of it: what a sync needs to pass a
//! source's records on to a destination as they are.

/// The stream name of a RECORD line whose envelope starts the usual way,
/// `{"type":"RECORD","record":{"stream":"NAME"` (any JSON whitespace between tokens), without
/// looking at the rest of the line. `None` for any other shape (other key orders, a
/// `namespace` before `stream`, escapes in the name, other message types): decode those with
/// [`crate::decode_line`].
///
/// Nothing after the stream name is checked, so the line may still be invalid JSON: this is
/// for passing lines on unchanged to a consumer that parses them itself.
///
/// ```
/// use abrs_protocol::peek_record_stream;
/// let line = br#"{"type": "RECORD", "record": {"stream": "users", "data": {"id": 1}, "emitted_at": 1}}"#;
/// assert_eq!(peek_record_stream(line), Some("users"));
/// assert_eq!(peek_record_stream(br#"{"type":"STATE","state":{}}"#), None);
/// ```
pub fn peek_record_stream(line: &[u8]) -> Option<&str> {
    let mut p = Peek { s: line, i: 0 };
    p.token(b"{")?;
    p.token(br#""type""#)?;
    p.token(b":")?;
    p.token(br#""RECORD""#)?;
    p.token(b",")?;
    p.token(br#""record""#)?;
    p.token(b":")?;
    p.token(b"{")?;
    p.token(br#""stream""#)?;
    p.token(b":")?;
    p.token(b"\"")?;
    let rest = &line[p.i..];
    let end = rest
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    if rest[end] != b'"' {
        return None;
    }
    std::str::from_utf8(&rest[..end]).ok()
}

struct Peek<'a> {
    s: &'a [u8],
    i: usize,
}

impl Peek<'_> {
    /// Skips JSON whitespace, then expects `t`.
    fn token(&mut self, t: &[u8]) -> Option<()> {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
        if self.s.get(self.i..self.i + t.len())? == t {
            self.i += t.len();
            Some(())
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_usual_envelope_is_peeked() {
        assert_eq!(
            peek_record_stream(br#"{"type":"RECORD","record":{"stream":"a b","data":{}}}"#),
            Some("a b")
        );
        assert_eq!(
            peek_record_stream("{\"type\":\"RECORD\",\"record\":{\"stream\":\"東京\"".as_bytes()),
            Some("東京")
        );
        for other in [
            &br#"{"record":{"stream":"a"},"type":"RECORD"}"#[..],
            br#"{"type":"RECORD","record":{"namespace":"n","stream":"a"}}"#,
            br#"{"type":"RECORD","record":{"stream":"a\"b"}}"#,
            br#"{"type":"RECORD","record":{"stream":"a"#,
            br#"{"type":"RECORDS","record":{"stream":"a"}}"#,
            b"",
            b"not json",
        ] {
            assert_eq!(
                peek_record_stream(other),
                None,
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }
}
