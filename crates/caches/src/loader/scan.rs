//! Finding a record's column values in its `data` text: one pass over the top-level object.

use std::collections::HashMap;
use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use abrs_protocol::MemberSpan;

use crate::names::Normalizer;

/// Resolves a record's keys to columns.
pub(crate) struct KeyIndex {
    /// Property name → column.
    pub(crate) exact: HashMap<Box<str>, usize>,
    /// Normalized property name → first column with that name (record keys are matched
    /// case-insensitively, like PyAirbyte's StreamRecord).
    pub(crate) normalized: HashMap<String, usize>,
    /// The key seen at each position of the previous records, and its column.
    pub(crate) by_position: Vec<(Box<str>, Option<usize>)>,
    /// The backend's name normalizer (for `normalized`).
    pub(crate) normalizer: Normalizer,
}

impl KeyIndex {
    pub(crate) fn lookup(&mut self, pos: usize, key: &str) -> Option<usize> {
        if let Some((k, col)) = self.by_position.get(pos)
            && same_key(k.as_bytes(), key.as_bytes())
        {
            return *col;
        }
        let col = self.exact.get(key).copied().or_else(|| {
            self.normalizer
                .normalize(key)
                .ok()
                .and_then(|n| self.normalized.get(&n).copied())
        });
        if pos < 256 {
            let entry = (Box::<str>::from(key), col);
            if pos < self.by_position.len() {
                self.by_position[pos] = entry;
            } else if pos == self.by_position.len() {
                self.by_position.push(entry);
            }
        }
        col
    }
}

/// `a == b`, inlined for the short keys of records: a call to `memcmp` per key was 2.5% of
/// a load's CPU.
#[inline(always)]
pub(crate) fn same_key(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.len() > 16 {
        return a == b;
    }
    a.iter().zip(b).all(|(x, y)| x == y)
}

/// Where a value lies in the record's data text.
#[derive(Clone, Copy)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) len: u32,
}

pub(crate) struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = std::borrow::Cow<'de, str>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = std::borrow::Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Owned(v.to_owned()))
    }
}

/// Walks the top-level object, recording where each column's value is.
pub(crate) struct DataVisitor<'a> {
    pub(crate) keys: &'a mut KeyIndex,
    pub(crate) spans: &'a mut [Option<Span>],
    pub(crate) base: usize,
}

impl<'de> Visitor<'de> for DataVisitor<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut pos = 0;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match self.keys.lookup(pos, &key) {
                Some(col) => {
                    let raw: &'de RawValue = map.next_value()?;
                    let text = raw.get();
                    // Last occurrence wins for duplicate keys, as in Python's json.
                    self.spans[col] = Some(Span {
                        start: (text.as_ptr() as usize).wrapping_sub(self.base) as u32,
                        len: text.len() as u32,
                    });
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            pos += 1;
        }
        Ok(())
    }
}

/// The fast path of [`DataVisitor`]: one pass over the top-level object, no validation
/// (`data` is a [`RawValue`], whose JSON the envelope's parse already checked) and no visitor
/// machinery. Returns `false`, with `spans` possibly half filled, on anything it does not
/// handle (not an object, a key with escapes): the caller then takes the serde path, which
/// gives the exact behaviour and errors. Measured: about 3× faster than the serde walk.
pub(crate) fn scan_object(data: &str, keys: &mut KeyIndex, spans: &mut [Option<Span>]) -> bool {
    let b = data.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return false;
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return true;
    }
    let mut pos = 0;
    loop {
        if b.get(i) != Some(&b'"') {
            return false;
        }
        let (key_end, escaped) = string_end(b, i);
        if escaped {
            return false;
        }
        // Between two quotes of the valid UTF-8 text `data`, so on character boundaries.
        let Some(key) = data.get(i + 1..key_end.saturating_sub(1)) else {
            return false;
        };
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return false;
        }
        i = skip_ws(b, i + 1);
        let end = value_end(b, i);
        if end <= i || end > b.len() {
            return false;
        }
        if let Some(col) = keys.lookup(pos, key) {
            // Last occurrence wins for duplicate keys, as in Python's json.
            spans[col] = Some(Span {
                start: i as u32,
                len: (end - i) as u32,
            });
        }
        pos += 1;
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => return true,
            _ => return false,
        }
    }
}

/// [`scan_object`]'s work already done by the line decoder: the columns' values from the
/// members it found while validating the line ([`RecordRef::members`]). `false` if a span does
/// not lie in `data` on character boundaries (a hand-made `RecordRef`), for the serde path to
/// decide, rather than a value silently read as NULL.
pub(crate) fn spans_from_members(
    data: &str,
    members: &[MemberSpan],
    keys: &mut KeyIndex,
    spans: &mut [Option<Span>],
) -> bool {
    for (pos, m) in members.iter().enumerate() {
        let Some(key) = data.get(m.key_start as usize..m.key_end as usize) else {
            return false;
        };
        if let Some(col) = keys.lookup(pos, key) {
            let value = data.get(m.value_start as usize..m.value_end as usize);
            if value.is_none_or(str::is_empty) {
                return false;
            }
            // Last occurrence wins for duplicate keys, as in Python's json.
            spans[col] = Some(Span {
                start: m.value_start,
                len: m.value_end - m.value_start,
            });
        }
    }
    true
}

pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// The index after the closing quote of the string starting at `b[i] == '"'` (`b.len() + 1`
/// when unterminated, which the caller rejects), and whether the string has escapes.
pub(crate) fn string_end(b: &[u8], i: usize) -> (usize, bool) {
    let mut j = i + 1;
    let mut escaped = false;
    while let Some(k) = memchr::memchr2(b'"', b'\\', &b[j.min(b.len())..]) {
        let at = j + k;
        if b[at] == b'"' {
            return (at + 1, escaped);
        }
        escaped = true;
        j = at + 2;
    }
    (b.len() + 1, escaped)
}

/// The index after the JSON value starting at `i`.
pub(crate) fn value_end(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => string_end(b, i).0,
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j).0;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            b.len() + 1
        }
        Some(_) => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                j += 1;
            }
            j
        }
        None => i,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_index(names: &[&str]) -> KeyIndex {
        KeyIndex {
            exact: names
                .iter()
                .enumerate()
                .map(|(i, n)| (Box::<str>::from(*n), i))
                .collect(),
            normalized: HashMap::new(),
            by_position: Vec::new(),
            normalizer: Normalizer::LowerCase,
        }
    }

    #[derive(Clone, Copy)]
    enum Walk {
        /// The line decoder's members of `data` (`decode_line_with`).
        Members,
        /// The loader's own fast scan.
        Scan,
        /// serde, which decides whatever the others decline.
        Serde,
    }

    /// The values (as text) each column gets by one way of walking `data`; `None` when that
    /// way declines.
    fn spans_of(data: &str, walk: Walk) -> Option<Vec<Option<String>>> {
        let mut keys = key_index(&["a", "b", "c"]);
        let mut spans = vec![None; 3];
        if let Walk::Members = walk {
            let line = format!(r#"{{"type":"RECORD","record":{{"stream":"s","data":{data}}}}}"#);
            let mut members = Vec::new();
            let Ok(abrs_protocol::Decoded::Record(r)) =
                abrs_protocol::decode_line_with(line.as_bytes(), &mut members)
            else {
                return None;
            };
            let data = r.data.get();
            if !spans_from_members(data, r.members?, &mut keys, &mut spans) {
                return None;
            }
            return Some(
                spans
                    .iter()
                    .map(|s| {
                        s.map(|s| data[s.start as usize..(s.start + s.len) as usize].to_string())
                    })
                    .collect(),
            );
        }
        if let Walk::Scan = walk {
            if !scan_object(data, &mut keys, &mut spans) {
                return None;
            }
        } else {
            let visitor = DataVisitor {
                keys: &mut keys,
                spans: &mut spans,
                base: data.as_ptr() as usize,
            };
            let mut de = serde_json::Deserializer::from_str(data);
            serde::Deserializer::deserialize_map(&mut de, visitor).ok()?;
        }
        Some(
            spans
                .iter()
                .map(|s| s.map(|s| data[s.start as usize..(s.start + s.len) as usize].to_string()))
                .collect(),
        )
    }

    #[test]
    fn members_that_do_not_fit_data_are_declined() {
        // A hand-made `RecordRef` may carry any spans: they are checked, never trusted to index.
        let data = r#"{"a":1,"é":2}"#;
        let member = |key_start, key_end, value_start, value_end| MemberSpan {
            key_start,
            key_end,
            value_start,
            value_end,
        };
        for bad in [
            member(2, 99, 5, 6),   // key past the end
            member(9, 10, 12, 13), // key inside a multi-byte character
            member(2, 3, 5, 99),   // value past the end
            member(2, 3, 6, 5),    // value ends before it starts
            member(2, 3, 9, 12),   // value starts inside a multi-byte character
        ] {
            let mut keys = key_index(&["a", "b", "c"]);
            let mut spans = vec![None; 3];
            assert!(
                !spans_from_members(data, &[bad], &mut keys, &mut spans),
                "{bad:?}"
            );
        }
        let mut keys = key_index(&["a", "b", "c"]);
        let mut spans = vec![None; 3];
        assert!(spans_from_members(
            data,
            &[member(2, 3, 5, 6)],
            &mut keys,
            &mut spans
        ));
        assert!(matches!(spans[0], Some(Span { start: 5, len: 1 })));
    }

    #[test]
    fn fast_walks_match_the_serde_walk() {
        for data in [
            r#"{"a":1,"b":"x","c":null}"#,
            r#" { "a" : -1.5e3 , "b" : "q\"}]" , "z": {"a":[1,{"b":"]"}]}, "c": [ ] } "#,
            r#"{"c":{"x":"\\"},"a":true,"a":false}"#,
            r#"{}"#,
            r#"{"b":"ünï\u00e9","zz":[[],[{}]],"c":"a,b}"}"#,
        ] {
            let serde = spans_of(data, Walk::Serde);
            assert_eq!(spans_of(data, Walk::Scan), serde, "{data}");
            assert_eq!(spans_of(data, Walk::Members), serde, "{data}");
        }
        // Declined (the serde path handles them): not an object, a key with escapes.
        for data in [r#"[1,2]"#, r#""a""#, r#"{"\u0061":1}"#] {
            assert_eq!(spans_of(data, Walk::Scan), None, "{data}");
            assert_eq!(spans_of(data, Walk::Members), None, "{data}");
        }
    }
}
