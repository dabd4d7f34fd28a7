//! A single-pass, validating scanner for the common shape of a RECORD line.
//!
//! serde_json's derived envelope (see `decode.rs`) validates the line too, but pays for generic
//! visitor machinery and raw-value buffering on every line, which made it a large share of a
//! whole sync's CPU. This scanner only recognises the plain shape connectors actually print and
//! answers `None` for anything else (escaped keys, escaped `stream`, duplicate fields, float
//! timestamps, arrays used as structs, deep nesting, invalid JSON, …), so that the serde path
//! keeps deciding every unusual case, errors included. The contract, checked by the property
//! tests in `tests/decoder_props.rs`: whenever this returns `Some`, the serde path accepts the
//! line and returns the same record.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::value::{BorrowedStrDeserializer, Error as ValueError, MapDeserializer};
use serde_json::value::RawValue;

use crate::decode::{MemberSpan, RecordRef};

/// Containers nested inside one skipped value: a `u128` holds one bit per level. Deeper values
/// are rare enough to leave to serde.
const MAX_DEPTH: u32 = 128;

/// The map key serde_json's `&RawValue` deserializer expects from a non-JSON deserializer (it is
/// how a `RawValue` round-trips through other serde formats). If a future serde_json renamed it,
/// `raw_value` would fail, every line would take the serde path and the unit tests would say so.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// Borrows a span the scanner has already validated as a serde_json [`RawValue`].
///
/// `RawValue::from_string` would allocate and `serde_json::from_str` would validate the span a
/// second time; handing the span to the `&RawValue` deserializer through serde's own value
/// deserializers costs one short key comparison and needs no `unsafe`.
fn raw_value(json: &str) -> Option<&RawValue> {
    let entry = (
        RAW_VALUE_TOKEN,
        BorrowedStrDeserializer::<ValueError>::new(json),
    );
    <&RawValue>::deserialize(MapDeserializer::<_, ValueError>::new(std::iter::once(
        entry,
    )))
    .ok()
}

const ONES: u64 = u64::MAX / 255;
const HIGHS: u64 = ONES << 7;

/// A mask whose lowest set high bit marks the first byte of `w` (little-endian) that is `"`,
/// `\` or a control character. Bits above it may be false positives (borrows propagate upwards
/// only), so only the lowest one is used.
#[inline(always)]
fn special_mask(w: u64) -> u64 {
    let ctrl = w.wrapping_sub(ONES * 0x20) & !w;
    let quote = w ^ (ONES * u64::from(b'"'));
    let quote = quote.wrapping_sub(ONES) & !quote;
    let backslash = w ^ (ONES * u64::from(b'\\'));
    let backslash = backslash.wrapping_sub(ONES) & !backslash;
    (ctrl | quote | backslash) & HIGHS
}

/// Up to 8 bytes from `i` as a little-endian word, padded with spaces (neither special in a
/// string nor a digit), and how many are real; `None` at the end of the line.
#[inline(always)]
fn word(b: &[u8], i: usize) -> Option<(u64, usize)> {
    match b.get(i..i + 8).and_then(|c| <[u8; 8]>::try_from(c).ok()) {
        Some(chunk) => Some((u64::from_le_bytes(chunk), 8)),
        None => tail_word(b, i),
    }
}

/// The last, short word of the line: out of line since it is only met once per line at most.
#[cold]
#[inline(never)]
fn tail_word(b: &[u8], i: usize) -> Option<(u64, usize)> {
    let rest = b.get(i..).filter(|r| !r.is_empty())?;
    let mut buf = [b' '; 8];
    for (d, s) in buf.iter_mut().zip(rest) {
        *d = *s;
    }
    Some((u64::from_le_bytes(buf), rest.len()))
}

/// The index and value of the first byte at or after `i` that ends a plain run of string
/// content: `"`, `\` or a control character.
#[inline(always)]
fn find_special(b: &[u8], mut i: usize) -> Option<(usize, u8)> {
    loop {
        let (w, n) = word(b, i)?;
        let m = special_mask(w);
        if m != 0 {
            let bit = m.trailing_zeros();
            // The padding is never special, so this byte is real. It is taken from the word
            // rather than reloaded, which would wait on `trailing_zeros`.
            return Some((i + (bit / 8) as usize, (w >> (bit & !7)) as u8));
        }
        if n < 8 {
            return None;
        }
        i += 8;
    }
}

/// A mask with the high bit set in exactly the bytes of `w` that are not ASCII digits: no carry
/// crosses bytes since each sum stays below 0x100.
#[inline(always)]
fn non_digit_mask(w: u64) -> u64 {
    let x = w ^ (ONES * u64::from(b'0'));
    (((x & (ONES * 0x7f)) + ONES * 0x76) | x) & HIGHS
}

/// The index after the escape whose letter (after the backslash) is at `i`.
#[inline]
fn escape_end(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(i + 1),
        b'u' => {
            let hex = b.get(i + 1..i + 5)?;
            hex.iter().all(u8::is_ascii_hexdigit).then_some(i + 5)
        }
        _ => None,
    }
}

/// Whether `c` is JSON whitespace (form feed and others are not).
#[inline(always)]
fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

/// The byte at `i`; NUL past the end, which no structural position accepts.
#[inline(always)]
fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

/// The first index at or after `i` that is not whitespace.
#[inline(always)]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    // Compact JSON has none: every byte that may follow is above the space.
    if at(b, i) > b' ' {
        return i;
    }
    while is_ws(at(b, i)) {
        i += 1;
    }
    i
}

// The skipping functions below work on a slice and an index held in locals, which keeps them
// in registers across the hot loop; each returns the index after what it skipped.

/// Skips the string whose opening quote is at `i`.
#[inline(always)]
fn skip_string(b: &[u8], i: usize) -> Option<usize> {
    let (end, c) = find_special(b, i + 1)?;
    if c == b'"' {
        return Some(end + 1);
    }
    skip_string_from(b, end, c)
}

/// The rest of a string from its first escape (or control character), out of line because
/// most strings have none.
#[inline(never)]
fn skip_string_from(b: &[u8], mut i: usize, mut c: u8) -> Option<usize> {
    loop {
        match c {
            b'"' => return Some(i + 1),
            b'\\' => (i, c) = find_special(b, escape_end(b, i + 1)?)?,
            _ => return None,
        }
    }
}

/// Skips a key (any valid string, escapes included) at `i`, its colon and the whitespace
/// after it.
#[inline(always)]
fn skip_key(b: &[u8], i: usize) -> Option<usize> {
    if at(b, i) != b'"' {
        return None;
    }
    let i = skip_ws(b, skip_string(b, i)?);
    if at(b, i) != b':' {
        return None;
    }
    Some(skip_ws(b, i + 1))
}

#[inline(always)]
fn literal(b: &[u8], i: usize, lit: &[u8]) -> Option<usize> {
    (b.get(i..i + lit.len())? == lit).then_some(i + lit.len())
}

/// The first index at or after `i` that is not an ASCII digit.
#[inline(always)]
fn skip_digits(b: &[u8], mut i: usize) -> usize {
    while let Some((w, _)) = word(b, i) {
        let m = non_digit_mask(w);
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        // The padding is not a digit, so a word without a flag was all real bytes.
        i += 8;
    }
    i
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`; whatever follows is the caller's to check
/// (a digit after a leading zero then fails there).
#[inline(always)]
fn skip_number(b: &[u8], mut i: usize) -> Option<usize> {
    if at(b, i) == b'-' {
        i += 1;
    }
    match at(b, i) {
        b'0' => i += 1,
        b'1'..=b'9' => i = skip_digits(b, i + 1),
        _ => return None,
    }
    if at(b, i) == b'.' {
        let end = skip_digits(b, i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
    }
    if matches!(at(b, i), b'e' | b'E') {
        i += 1;
        if matches!(at(b, i), b'+' | b'-') {
            i += 1;
        }
        let end = skip_digits(b, i);
        if end == i {
            return None;
        }
        i = end;
    }
    Some(i)
}

/// Skips and validates the JSON value at `i` (no whitespace before it), iteratively: one bit
/// per open container (set for objects) says which closer and which member syntax is expected.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    skip_value_within(b, i, MAX_DEPTH)
}

/// [`skip_value`] with at most `max_depth` open containers.
#[inline(always)]
fn skip_value_within(b: &[u8], mut i: usize, max_depth: u32) -> Option<usize> {
    let mut stack: u128 = 0;
    let mut depth: u32 = 0;
    'value: loop {
        match at(b, i) {
            b'"' => i = skip_string(b, i)?,
            open @ (b'{' | b'[') => {
                let object = open == b'{';
                i = skip_ws(b, i + 1);
                if at(b, i) == if object { b'}' } else { b']' } {
                    i += 1;
                } else {
                    if depth >= max_depth {
                        return None;
                    }
                    stack = (stack << 1) | u128::from(object);
                    depth += 1;
                    if object {
                        i = skip_key(b, i)?;
                    }
                    continue 'value;
                }
            }
            b't' => i = literal(b, i, b"true")?,
            b'f' => i = literal(b, i, b"false")?,
            b'n' => i = literal(b, i, b"null")?,
            b'-' | b'0'..=b'9' => i = skip_number(b, i)?,
            _ => return None,
        }
        // A value ended: close every container that ends here, or move to the next element.
        while depth > 0 {
            i = skip_ws(b, i);
            let in_object = stack & 1 == 1;
            match at(b, i) {
                b',' => {
                    i = skip_ws(b, i + 1);
                    if in_object {
                        i = skip_key(b, i)?;
                    }
                    continue 'value;
                }
                b'}' if in_object => {}
                b']' if !in_object => {}
                _ => return None,
            }
            i += 1;
            stack >>= 1;
            depth -= 1;
        }
        return Some(i);
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    text: &'a str,
    i: usize,
    /// Where to record `data`'s members, when the caller wants them.
    members: Option<&'a mut Vec<MemberSpan>>,
    /// Whether `members` describes `data` (no key of `data` had escapes).
    members_found: bool,
}

impl<'a> Scanner<'a> {
    /// The byte at the cursor; NUL past the end, which no structural position accepts.
    #[inline(always)]
    fn peek(&self) -> u8 {
        at(self.b, self.i)
    }

    #[inline(always)]
    fn ws(&mut self) {
        self.i = skip_ws(self.b, self.i);
    }

    /// The content span of a string without escapes at the cursor; escaped strings are refused
    /// because serde would unescape them.
    #[inline(always)]
    fn plain_span(&mut self) -> Option<(usize, usize)> {
        if self.peek() != b'"' {
            return None;
        }
        let start = self.i + 1;
        match find_special(self.b, start)? {
            (end, b'"') => {
                self.i = end + 1;
                Some((start, end))
            }
            _ => None,
        }
    }

    /// A string without escapes at the cursor, borrowed from the line.
    #[inline]
    fn plain_string(&mut self) -> Option<&'a str> {
        let (start, end) = self.plain_span()?;
        self.text.get(start..end)
    }

    /// An object key and its colon, leaving the cursor on the value. Escaped keys are refused:
    /// serde matches field names after unescaping.
    #[inline]
    fn key(&mut self) -> Option<&'a [u8]> {
        let (start, end) = self.plain_span()?;
        let key = self.b.get(start..end)?;
        self.ws();
        if self.peek() != b':' {
            return None;
        }
        self.i += 1;
        self.ws();
        Some(key)
    }

    /// After a member: `,` (cursor on the next key) or `}` (consumed); `Some(false)` for the end.
    #[inline]
    fn next_member(&mut self) -> Option<bool> {
        self.ws();
        match self.peek() {
            b',' => {
                self.i += 1;
                self.ws();
                Some(true)
            }
            b'}' => {
                self.i += 1;
                Some(false)
            }
            _ => None,
        }
    }

    /// The opening brace of an object at the cursor; `Some(false)` for `{}` (consumed whole).
    #[inline]
    fn open_object(&mut self) -> Option<bool> {
        if self.peek() != b'{' {
            return None;
        }
        self.i += 1;
        self.ws();
        if self.peek() == b'}' {
            self.i += 1;
            return Some(false);
        }
        Some(true)
    }

    /// An integer that fits `i64`; fractions, exponents and overflow are left to serde, which
    /// reads them as floats.
    fn integer(&mut self) -> Option<i64> {
        let negative = self.peek() == b'-';
        let start = self.i + usize::from(negative);
        let end = skip_digits(self.b, start);
        let digits = self.b.get(start..end)?;
        // Empty, or a leading zero (invalid JSON unless alone), or a float: serde decides.
        if digits.is_empty()
            || (digits.len() > 1 && digits.first() == Some(&b'0'))
            || matches!(at(self.b, end), b'.' | b'e' | b'E')
        {
            return None;
        }
        // Accumulated negatively so that i64::MIN fits.
        let mut value: i64 = 0;
        for &d in digits {
            value = value.checked_mul(10)?.checked_sub(i64::from(d - b'0'))?;
        }
        self.i = end;
        if negative {
            Some(value)
        } else {
            value.checked_neg()
        }
    }

    /// Skips a value and returns its text.
    #[inline]
    fn raw(&mut self) -> Option<&'a str> {
        let start = self.i;
        self.i = skip_value(self.b, start)?;
        self.text.get(start..self.i)
    }

    /// The `data` object at the cursor, validated exactly as [`Self::raw`] would, recording each
    /// top-level member's key and value spans into `members` on the way: the loader then needs
    /// no second pass over `data` to find its columns.
    fn data_members(&mut self) -> Option<&'a str> {
        let members = self.members.as_deref_mut()?;
        members.clear();
        let b = self.b;
        let start = self.i;
        let mut plain = true;
        let mut i = skip_ws(b, start + 1);
        if at(b, i) != b'}' {
            loop {
                if at(b, i) != b'"' {
                    return None;
                }
                let key_start = i + 1;
                let (key_end, c) = find_special(b, key_start)?;
                i = if c == b'"' {
                    key_end + 1
                } else {
                    // An escaped key: still validated, but its text is not the key.
                    plain = false;
                    skip_string_from(b, key_end, c)?
                };
                i = skip_ws(b, i);
                if at(b, i) != b':' {
                    return None;
                }
                let value_start = skip_ws(b, i + 1);
                // `data` itself is one level, as when it is skipped whole.
                i = skip_value_within(b, value_start, MAX_DEPTH - 1)?;
                if plain {
                    // Offsets fit: the caller refuses lines longer than `u32::MAX`.
                    members.push(MemberSpan {
                        key_start: (key_start - start) as u32,
                        key_end: (key_end - start) as u32,
                        value_start: (value_start - start) as u32,
                        value_end: (i - start) as u32,
                    });
                }
                i = skip_ws(b, i);
                match at(b, i) {
                    b',' => i = skip_ws(b, i + 1),
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        self.i = i + 1;
        self.members_found = plain;
        self.text.get(start..self.i)
    }

    /// `null`, or a value read by `read`, at the cursor.
    fn nullable<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.peek() == b'n' {
            self.i = literal(self.b, self.i, b"null")?;
            Some(None)
        } else {
            read(self).map(Some)
        }
    }

    /// The `record` object at the cursor.
    fn record(&mut self) -> Option<RecordRef<'a>> {
        let mut stream = None;
        let mut namespace: Option<Option<&'a str>> = None;
        let mut emitted_at: Option<Option<i64>> = None;
        let mut data = None;
        let mut meta = None;
        let mut more = self.open_object()?;
        while more {
            // serde refuses a repeated field, so a repeat is left to it.
            match self.key()? {
                b"stream" if stream.is_none() => stream = Some(self.plain_string()?),
                b"namespace" if namespace.is_none() => {
                    namespace = Some(self.nullable(Self::plain_string)?);
                }
                b"emitted_at" if emitted_at.is_none() => {
                    emitted_at = Some(self.nullable(Self::integer)?);
                }
                b"data" if data.is_none() => {
                    if self.peek() != b'{' {
                        return None;
                    }
                    data = Some(match self.members.is_some() {
                        true => self.data_members()?,
                        false => self.raw()?,
                    });
                }
                b"meta" if meta.is_none() => meta = Some(self.raw()?),
                b"stream" | b"namespace" | b"emitted_at" | b"data" | b"meta" => return None,
                _ => self.i = skip_value(self.b, self.i)?,
            }
            more = self.next_member()?;
        }
        let data = raw_value(data?)?;
        let meta = match meta {
            Some(m) if m != "null" => Some(raw_value(m)?),
            _ => None,
        };
        Some(RecordRef {
            stream: Cow::Borrowed(stream?),
            namespace: namespace.flatten().map(Cow::Borrowed),
            emitted_at: emitted_at.flatten().unwrap_or(0),
            data,
            meta,
            members: None,
        })
    }
}

/// Scans a line (already trimmed of surrounding whitespace) as a plain RECORD message.
///
/// `Some` only for a valid JSON object that serde's envelope would read as the same record;
/// `None` for anything else, valid or not, which the caller then hands to serde.
pub fn scan_record(line: &[u8]) -> Option<RecordRef<'_>> {
    scan_line(line, None)
}

/// [`scan_record`], also recording the top-level members of `data` into `members`
/// ([`RecordRef::members`]).
pub fn scan_record_with<'a>(
    line: &'a [u8],
    members: &'a mut Vec<MemberSpan>,
) -> Option<RecordRef<'a>> {
    // Member offsets are `u32`; a longer line (absurd, but possible) goes without them.
    let members = (u32::try_from(line.len()).is_ok()).then_some(members);
    scan_line(line, members)
}

fn scan_line<'a>(
    line: &'a [u8],
    members: Option<&'a mut Vec<MemberSpan>>,
) -> Option<RecordRef<'a>> {
    // SIMD validation: std's took ~3% of a whole load's CPU on long ASCII lines.
    let text = simdutf8::basic::from_utf8(line).ok()?;
    let mut s = Scanner {
        b: line,
        text,
        i: 0,
        members,
        members_found: false,
    };
    let mut ty: Option<&str> = None;
    let mut record = None;
    let mut more = s.open_object()?;
    while more {
        match s.key()? {
            // Connectors print `type` first, so other messages cost little before serde.
            b"type" if ty.is_none() => match s.plain_string()? {
                "RECORD" => ty = Some("RECORD"),
                _ => return None,
            },
            b"record" if record.is_none() => record = Some(s.record()?),
            b"type" | b"record" => return None,
            _ => s.i = skip_value(s.b, s.i)?,
        }
        more = s.next_member()?;
    }
    if s.i != line.len() || ty != Some("RECORD") {
        return None;
    }
    let mut record = record?;
    if s.members_found
        && let Some(members) = s.members.take()
    {
        let members: &'a [MemberSpan] = members;
        record.members = Some(members);
    }
    Some(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `scan_record`, checked against `scan_record_with`: both accept the same lines, and the
    /// members found describe `data` exactly.
    fn scan(line: &str) -> Option<RecordRef<'_>> {
        let plain = scan_record(line.as_bytes());
        let mut members = Vec::new();
        let with = scan_record_with(line.as_bytes(), &mut members);
        assert_eq!(plain.is_some(), with.is_some(), "{line}");
        if let (Some(p), Some(w)) = (&plain, &with) {
            assert_eq!(p.data.get(), w.data.get());
            assert!(p.members.is_none());
            check_members(w.data.get(), w.members);
        }
        plain
    }

    /// `members` against serde's own walk of `data`'s top-level members.
    fn check_members(data: &str, members: Option<&[MemberSpan]>) {
        let walk = crate::decode::object_members_serde(data).unwrap();
        let Some(members) = members else {
            // Only escaped keys withhold the members.
            assert!(data.contains('\\'), "no members for {data}");
            return;
        };
        assert_eq!(members.len(), walk.len(), "{data}");
        for (m, (key, value)) in members.iter().zip(&walk) {
            assert_eq!(
                &data[m.key_start as usize..m.key_end as usize],
                key,
                "{data}"
            );
            let v = &data[m.value_start as usize..m.value_end as usize];
            assert_eq!(v, value.get(), "{data}");
        }
    }

    #[test]
    fn members_of_data_are_found_in_the_same_pass() {
        let line = r#"{"type":"RECORD","record":{"stream":"s","data": { "a" : 1 ,"b":{"c":[1,{"d":"}"}]},"é\u00e9":null, "":"x" } ,"emitted_at":5}}"#;
        let mut members = Vec::new();
        let r = scan_record_with(line.as_bytes(), &mut members).unwrap();
        // An escaped key: validated, but no members.
        assert!(r.members.is_none());
        let line = line.replace("\\u00e9", "");
        let r = scan_record_with(line.as_bytes(), &mut members).unwrap();
        let data = r.data.get();
        let found: Vec<(&str, &str)> = r
            .members
            .unwrap()
            .iter()
            .map(|m| {
                (
                    &data[m.key_start as usize..m.key_end as usize],
                    &data[m.value_start as usize..m.value_end as usize],
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                ("a", "1"),
                ("b", r#"{"c":[1,{"d":"}"}]}"#),
                ("é", "null"),
                ("", r#""x""#)
            ]
        );
        let empty = r#"{"type":"RECORD","record":{"stream":"s","data":{ }}}"#;
        let r = scan_record_with(empty.as_bytes(), &mut members).unwrap();
        assert_eq!(r.members, Some(&[][..]));
        assert!(scan(empty).is_some());
    }

    const BASE: &str = r#"{"type":"RECORD","record":{"stream":"s","data":{"a":1},"emitted_at":5}}"#;

    #[test]
    fn raw_value_borrows_without_copying() {
        let text = r#"{"a": [1, "x"]}"#;
        let raw = raw_value(text).expect("serde_json's RawValue token changed");
        assert_eq!(raw.get(), text);
        assert!(std::ptr::eq(raw.get().as_ptr(), text.as_ptr()));
    }

    #[test]
    fn accepts_the_plain_shape() {
        let r = scan(BASE).unwrap();
        assert_eq!(r.stream, "s");
        assert!(matches!(r.stream, Cow::Borrowed(_)));
        assert_eq!(r.namespace, None);
        assert_eq!(r.emitted_at, 5);
        assert_eq!(r.data.get(), r#"{"a":1}"#);
        assert!(r.meta.is_none());
    }

    #[test]
    fn accepts_any_order_whitespace_and_unknown_keys() {
        let line = "{ \"x\" : [ 1 , { \"y\" : null } ] ,\t\"record\"\r\n: { \"data\" : { \"k\" : \"v\\n\\u00e9\" } , \"meta\" : { \"changes\" : [ ] } , \"namespace\" : \"ns\" , \"stream\" : \"s\" , \"emitted_at\" : -12 , \"z\" : true } , \"type\" : \"RECORD\" }";
        let r = scan(line).unwrap();
        assert_eq!(r.stream, "s");
        assert_eq!(r.namespace.as_deref(), Some("ns"));
        assert_eq!(r.emitted_at, -12);
        assert_eq!(r.data.get(), r#"{ "k" : "v\n\u00e9" }"#);
        assert_eq!(r.meta.map(RawValue::get), Some(r#"{ "changes" : [ ] }"#));
    }

    #[test]
    fn null_fields_are_absent() {
        let line = r#"{"type":"RECORD","record":{"stream":"s","namespace":null,"emitted_at":null,"data":{},"meta":null}}"#;
        let r = scan(line).unwrap();
        assert_eq!(r.namespace, None);
        assert_eq!(r.emitted_at, 0);
        assert_eq!(r.data.get(), "{}");
        assert!(r.meta.is_none());
        let line = r#"{"type":"RECORD","record":{"stream":"s","data":{},"meta":"m"}}"#;
        assert_eq!(scan(line).unwrap().meta.map(RawValue::get), Some(r#""m""#));
    }

    #[test]
    fn integer_timestamps_at_the_limits() {
        let at = |v: &str| {
            let line = format!(
                r#"{{"type":"RECORD","record":{{"stream":"s","data":{{}},"emitted_at":{v}}}}}"#
            );
            scan(&line).map(|r| r.emitted_at)
        };
        assert_eq!(at("0"), Some(0));
        assert_eq!(at("-0"), Some(0));
        assert_eq!(at("9223372036854775807"), Some(i64::MAX));
        assert_eq!(at("-9223372036854775808"), Some(i64::MIN));
        for fallback in [
            "9223372036854775808",
            "-9223372036854775809",
            "1.5",
            "1e3",
            "1E3",
            "1.0",
        ] {
            assert_eq!(at(fallback), None, "{fallback}");
        }
        for invalid in ["01", "-", "+1", "1.", "1e", "--1", "\"5\"", "true", "nul"] {
            assert_eq!(at(invalid), None, "{invalid}");
        }
    }

    #[test]
    fn unusual_shapes_fall_back() {
        for line in [
            // Escapes where serde would unescape before matching or borrowing.
            r#"{"typ\u0065":"RECORD","record":{"stream":"s","data":{}}}"#,
            r#"{"type":"RECORD","record":{"str\u0065am":"s","data":{}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s\"q","data":{}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","namespace":"n\/s","data":{}}}"#,
            r#"{"type":"RECOR\u0044","record":{"stream":"s","data":{}}}"#,
            // Duplicates, which serde refuses.
            r#"{"type":"RECORD","type":"RECORD","record":{"stream":"s","data":{}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{}},"record":{"stream":"s","data":{}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","stream":"s","data":{}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","namespace":null,"namespace":null,"data":{}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","emitted_at":1,"emitted_at":1,"data":{}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{},"data":{}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{},"meta":null,"meta":1}}"#,
            // Other types and shapes.
            r#"{"type":"LOG","record":{"stream":"s","data":{}}}"#,
            r#"{"record":{"stream":"s","data":{}}}"#,
            r#"{"type":null,"record":{"stream":"s","data":{}}}"#,
            r#"{"type":"RECORD"}"#,
            r#"{"type":"RECORD","record":null}"#,
            r#"{"type":"RECORD","record":["s",null,1,{}]}"#,
            r#"["RECORD",{"stream":"s","data":{}}]"#,
            r#"{"type":"RECORD","record":{"data":{}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s"}}"#,
            r#"{"type":"RECORD","record":{"stream":null,"data":{}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","namespace":1,"data":{}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":[1]}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":null}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":"{}"}}"#,
        ] {
            assert!(scan(line).is_none(), "{line}");
        }
    }

    #[test]
    fn invalid_json_is_refused() {
        let bad = [
            "",
            "{",
            "}",
            // Truncations and trailing garbage.
            &BASE[..BASE.len() - 1],
            &format!("{BASE}x"),
            &format!("{BASE} }}"),
            &format!("{BASE},"),
            // Structure.
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":1,}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":1},}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":[1,]}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":[1}}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":{1:2}}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a" 1}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":1 "b":2}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{'a':1}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":1}},,"x":1}"#,
            // Literals and numbers.
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":tru}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":True}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":nulll}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":01}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":1.}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":.5}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":1e}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":1e+}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":+1}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":-}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":NaN}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":0x1}}}"#,
            // Strings.
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":"\x"}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":"\u12"}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":"\u12g4"}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":"\"}}}"#,
            "{\"type\":\"RECORD\",\"record\":{\"stream\":\"s\",\"data\":{\"a\":\"tab\there\"}}}",
            "{\"type\":\"RECORD\",\"record\":{\"stream\":\"s\",\"data\":{\"a\":\"nul\0\"}}}",
            "{\"type\":\"RECORD\",\"record\":{\"stream\":\"s\",\"data\":{\"a\x01\":1}}}",
            // Whitespace serde does not accept.
            "{\"type\":\"RECORD\",\"record\":{\"stream\":\"s\",\"data\":{\"a\":\x0c1}}}",
            "{\"type\":\"RECORD\",\"record\":{\"stream\":\"s\",\"data\":{\"a\":\u{a0}1}}}",
        ];
        for line in bad {
            assert!(scan(line).is_none(), "{line:?}");
            assert!(
                serde_json::from_str::<serde::de::IgnoredAny>(line).is_err(),
                "serde accepts {line:?}"
            );
        }
        let mut invalid_utf8 = BASE.as_bytes().to_vec();
        invalid_utf8[BASE.find("\"a\"").unwrap() + 1] = 0xff;
        assert!(scan_record(&invalid_utf8).is_none());
    }

    #[test]
    fn nesting_is_bounded() {
        let nested = |n: usize| {
            format!(
                r#"{{"type":"RECORD","record":{{"stream":"s","data":{{"a":{}1{}}}}}}}"#,
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        // `data` itself is one level.
        assert!(scan(&nested(127)).is_some());
        assert!(scan(&nested(128)).is_none());
        assert!(scan(&nested(10_000)).is_none());
        let objects = format!(
            r#"{{"type":"RECORD","record":{{"stream":"s","data":{}1{}}}}}"#,
            r#"{"a":"#.repeat(128),
            "}".repeat(128)
        );
        assert!(scan(&objects).is_some());
    }

    #[test]
    fn accepted_lines_match_the_serde_path() {
        let ts = |v: &str| {
            format!(r#"{{"type":"RECORD","record":{{"stream":"s","data":{{}},"emitted_at":{v}}}}}"#)
        };
        let mut lines: Vec<String> = [
            "0",
            "-0",
            "null",
            "9223372036854775807",
            "-9223372036854775808",
        ]
        .into_iter()
        .map(ts)
        .collect();
        lines.push(BASE.into());
        lines.push(r#"{"type":"RECORD","record":{"stream":"é","namespace":"n","data":{"\u0000":"\ud800"},"meta":[null]},"x":{}}"#.into());
        lines.push(
            r#"{"record":{"meta":null,"data":{"a":{"b":[]}},"stream":""},"type":"RECORD"}"#.into(),
        );
        for line in &lines {
            let fast = scan(line).unwrap_or_else(|| panic!("refused {line}"));
            let Ok(crate::Decoded::Record(slow)) = crate::decode_line_serde(line.as_bytes()) else {
                panic!("serde refuses {line}");
            };
            assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "{line}");
        }
    }

    #[test]
    fn masks_flag_exactly_the_right_bytes() {
        for b in 0..=255u8 {
            let w = u64::from_le_bytes([b'5', b, b'5', b'5', b'5', b'5', b'5', b]);
            let expected = if b.is_ascii_digit() {
                0
            } else {
                0x80 << 8 | 0x80 << 56
            };
            assert_eq!(non_digit_mask(w), expected, "{b:#x}");
            let w = u64::from_le_bytes([b'a', b, b'a', b'a', b'a', b'a', b'a', b'a']);
            let special = b == b'"' || b == b'\\' || b < 0x20;
            assert_eq!(special_mask(w).trailing_zeros() == 15, special, "{b:#x}");
            assert_eq!(special_mask(w) == 0, !special, "{b:#x}");
        }
    }

    #[test]
    fn numbers_cross_word_boundaries() {
        let line = |n: &str| {
            format!(r#"{{"type":"RECORD","record":{{"stream":"s","data":{{"k":{n}}}}}}}"#)
        };
        for len in 1..24 {
            let n = "1".to_string() + &"2".repeat(len - 1);
            for ok in [
                n.clone(),
                format!("-{n}"),
                format!("{n}.{n}"),
                format!("{n}e-{n}"),
                format!("0.{n}E+{n}"),
            ] {
                assert!(scan(&line(&ok)).is_some(), "{ok}");
                assert!(scan(&line(&format!("[{ok}]"))).is_some(), "{ok}");
            }
            for bad in [
                format!("{n}."),
                format!("{n}e"),
                format!("0{n}"),
                format!("{n}.e1"),
                format!("{n}x"),
            ] {
                assert!(scan(&line(&bad)).is_none(), "{bad}");
            }
        }
    }

    #[test]
    fn long_strings_cross_word_boundaries() {
        for len in 0..40 {
            for (special, ok) in [
                ("", true),
                ("\\\"", true),
                ("\\u00E9", true),
                ("\x1f", false),
            ] {
                for at in [0, len / 2, len] {
                    let mut s = "é".repeat(len / 2) + &"x".repeat(len - len / 2);
                    let at = s.char_indices().nth(at).map_or(s.len(), |(i, _)| i);
                    s.insert_str(at, special);
                    let line = format!(
                        r#"{{"type":"RECORD","record":{{"stream":"s","data":{{"k":"{s}"}}}}}}"#
                    );
                    assert_eq!(scan(&line).is_some(), ok, "{line:?}");
                }
            }
        }
    }
}
