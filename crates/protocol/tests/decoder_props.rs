//! Property tests: the line decoder never panics, whatever the bytes.

use abrs_protocol::{Decoded, decode_line, decode_message};
use proptest::prelude::*;

const SEEDS: &[&str] = &[
    r#"{"type":"RECORD","record":{"stream":"s","data":{"a":1},"emitted_at":1}}"#,
    r#"{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"s"},"stream_state":{"c":1}}}}"#,
    r#"{"type":"TRACE","trace":{"type":"ERROR","emitted_at":1.0,"error":{"message":"x"}}}"#,
    r#"{"type":"LOG","log":{"level":"INFO","message":"m"}}"#,
    r#"{"type":"CATALOG","catalog":{"streams":[{"name":"s","json_schema":{},"supported_sync_modes":["full_refresh"]}]}}"#,
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_line(&bytes);
        let _ = decode_message(&bytes);
    }

    #[test]
    fn mutated_messages_never_panic(
        seed in 0..SEEDS.len(),
        cut in 0usize..400,
        pos in 0usize..400,
        byte in any::<u8>(),
    ) {
        let mut line = SEEDS[seed].as_bytes().to_vec();
        if !line.is_empty() {
            let p = pos % line.len();
            line[p] = byte;
        }
        line.truncate(cut.min(line.len()));
        let _ = decode_line(&line);
        let _ = decode_message(&line);
    }

    #[test]
    fn records_with_any_strings_decode(stream in ".*", key in ".*", value in ".*", ts in any::<i64>()) {
        let line = serde_json::json!({
            "type": "RECORD",
            "record": {"stream": stream, "data": {key.clone(): value.clone()}, "emitted_at": ts}
        }).to_string();
        let Decoded::Record(r) = decode_line(line.as_bytes()).unwrap() else {
            panic!("not a record: {line}");
        };
        prop_assert_eq!(r.stream.as_ref(), stream.as_str());
        prop_assert_eq!(r.emitted_at, ts);
        let owned = r.to_owned_message().unwrap();
        prop_assert_eq!(owned.data[&key].as_str(), Some(value.as_str()));
    }
}

// The hand-written RECORD scanner against the serde path it short-cuts: generated RECORD lines
// (random keys, values, field order and whitespace), some of them mutated into unusual or
// invalid JSON.

const KNOWN_KEYS: &[&str] = &[
    "type",
    "record",
    "stream",
    "namespace",
    "emitted_at",
    "data",
    "meta",
];

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![4 => "[a-z_]{1,8}", 1 => ".{0,6}", 1 => Just("data".to_string())]
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-z ]{0,12}".prop_map(Value::String),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((json_key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = serde_json::Value> {
    proptest::collection::vec((json_key(), json_value()), 0..8)
        .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect()))
}

/// A value as text, compact or pretty (whitespace inside values is valid JSON too).
fn text(value: &serde_json::Value, pretty: bool) -> String {
    if pretty {
        serde_json::to_string_pretty(value).unwrap()
    } else {
        value.to_string()
    }
}

/// Whether a string serializes without escapes (the scanner only borrows those).
fn plain(s: &str) -> bool {
    serde_json::to_string(s).unwrap().len() == s.len() + 2
}

/// A key as it appears between its quotes in JSON.
fn escaped(key: &str) -> String {
    let quoted = serde_json::to_string(key).unwrap();
    quoted[1..quoted.len() - 1].to_string()
}

#[derive(Debug, Clone)]
struct RecordLine {
    ty: String,
    stream: String,
    namespace: Option<Option<String>>,
    emitted_at: Option<String>,
    data: serde_json::Value,
    meta: Option<serde_json::Value>,
    record_extra: Vec<(String, serde_json::Value)>,
    top_extra: Vec<(String, serde_json::Value)>,
    pretty: bool,
    ws: Vec<String>,
    order_seed: u64,
}

fn record_line() -> impl Strategy<Value = RecordLine> {
    let ts = prop_oneof![
        2 => any::<i64>().prop_map(|v| v.to_string()),
        1 => Just("null".to_string()),
        1 => any::<u64>().prop_map(|v| v.to_string()),
        1 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| serde_json::Value::from(f).to_string()),
        1 => Just("1.7e12".to_string()),
    ];
    (
        prop_oneof![8 => Just("RECORD".to_string()), 1 => Just("LOG".to_string()), 1 => Just("RECOR\\u0044".to_string())],
        prop_oneof![4 => "[a-zA-Z0-9_]{1,10}", 1 => ".{0,6}"],
        proptest::option::of(proptest::option::of(prop_oneof!["[a-z]{0,6}", ".{0,4}"])),
        proptest::option::of(ts),
        prop_oneof![8 => json_object(), 1 => json_value()],
        proptest::option::of(json_value()),
        proptest::collection::vec((json_key(), json_value()), 0..3),
        proptest::collection::vec((json_key(), json_value()), 0..3),
        any::<bool>(),
        proptest::collection::vec(prop_oneof![8 => Just(String::new()), 1 => "[ \t\r\n]{1,3}"], 64),
        any::<u64>(),
    )
        .prop_map(
            |(ty, stream, namespace, emitted_at, data, meta, record_extra, top_extra, pretty, ws, order_seed)| {
                RecordLine { ty, stream, namespace, emitted_at, data, meta, record_extra, top_extra, pretty, ws, order_seed }
            },
        )
}

impl RecordLine {
    /// Whether the scanner must take this line (unmutated): the plain shape, nothing unusual.
    fn expect_fast(&self) -> bool {
        let unknown_ok = |extra: &[(String, serde_json::Value)]| {
            let mut seen = std::collections::HashSet::new();
            extra
                .iter()
                .all(|(k, _)| plain(k) && !KNOWN_KEYS.contains(&k.as_str()) && seen.insert(k))
        };
        self.ty == "RECORD"
            && plain(&self.stream)
            && self
                .namespace
                .as_ref()
                .is_none_or(|n| n.as_deref().is_none_or(plain))
            && self
                .emitted_at
                .as_deref()
                .is_none_or(|t| t == "null" || t.parse::<i64>().is_ok())
            && self.data.is_object()
            && unknown_ok(&self.record_extra)
            && unknown_ok(&self.top_extra)
    }

    /// The line, and the offsets just inside the top-level and the record's opening braces.
    fn build(&self, deep: Option<usize>) -> (String, usize, usize) {
        let mut ws = self.ws.iter().cycle();
        let mut w = || ws.next().cloned().unwrap_or_default();
        let mut record: Vec<(String, String)> = vec![(
            "stream".into(),
            serde_json::Value::from(self.stream.as_str()).to_string(),
        )];
        if let Some(ns) = &self.namespace {
            record.push(("namespace".into(), serde_json::json!(ns).to_string()));
        }
        if let Some(ts) = &self.emitted_at {
            record.push(("emitted_at".into(), ts.clone()));
        }
        let data = match deep {
            Some(n) => format!(r#"{{"d":{}1{}}}"#, "[".repeat(n), "]".repeat(n)),
            None => text(&self.data, self.pretty),
        };
        record.push(("data".into(), data));
        if let Some(meta) = &self.meta {
            record.push(("meta".into(), text(meta, self.pretty)));
        }
        for (k, v) in &self.record_extra {
            record.push((escaped(k), text(v, self.pretty)));
        }
        let mut top: Vec<(String, Option<String>)> = vec![
            ("type".into(), Some(format!("\"{}\"", self.ty))),
            ("record".into(), None),
        ];
        for (k, v) in &self.top_extra {
            top.push((escaped(k), Some(text(v, self.pretty))));
        }
        // A deterministic shuffle from the seed, so that shrinking keeps the order.
        let mut seed = self.order_seed;
        let mut shuffle = |n: usize| -> Vec<usize> {
            let mut idx: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                idx.swap(i, (seed >> 33) as usize % (i + 1));
            }
            idx
        };
        let record_order = shuffle(record.len());
        let top_order = shuffle(top.len());
        let mut line = String::from("{");
        let top_inner = line.len();
        let mut record_inner = 0;
        for (n, &i) in top_order.iter().enumerate() {
            if n > 0 {
                line += &(w() + ",");
            }
            let (k, v) = &top[i];
            line += &format!("{}\"{k}\"{}:{}", w(), w(), w());
            match v {
                Some(v) => line += v,
                None => {
                    line.push('{');
                    record_inner = line.len();
                    for (m, &j) in record_order.iter().enumerate() {
                        if m > 0 {
                            line += &(w() + ",");
                        }
                        let (k, v) = &record[j];
                        line += &format!("{}\"{k}\"{}:{}{v}", w(), w(), w());
                    }
                    line += &(w() + "}");
                }
            }
        }
        line += &(w() + "}");
        (line, top_inner, record_inner)
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Insert(usize, &'static str),
    Replace(usize, u8),
    Append(&'static str),
    DuplicateInRecord(&'static str),
    DuplicateAtTop(&'static str),
    Deep(usize),
}

fn mutation() -> impl Strategy<Value = Option<Mutation>> {
    const INSERTS: &[&str] = &[
        "\u{1}", "\0", "\t", "\u{c}", "\\x", "\\u12", "\\u12G4", "\\", "\"", "01", "-", "1.", "1e",
        ".5", "+1", ",", ":", "}", "]", "{", "[", "tru", "nul", "\u{a0}", " ",
    ];
    const APPENDS: &[&str] = &["x", " }", ",", "\u{c}", "{}", " 1", "]"];
    const DUPLICATES: &[&str] = &[
        r#""stream":"d","#,
        r#""namespace":null,"#,
        r#""emitted_at":1,"#,
        r#""data":{},"#,
        r#""meta":null,"#,
        r#""type":"RECORD","#,
        r#""record":{"stream":"s","data":{}},"#,
        r#""other":1,"other":2,"#,
    ];
    proptest::option::weighted(
        0.6,
        prop_oneof![
            any::<usize>().prop_map(Mutation::Truncate),
            (any::<usize>(), proptest::sample::select(INSERTS))
                .prop_map(|(p, s)| Mutation::Insert(p, s)),
            (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Replace(p, b)),
            proptest::sample::select(APPENDS).prop_map(Mutation::Append),
            proptest::sample::select(DUPLICATES).prop_map(Mutation::DuplicateInRecord),
            proptest::sample::select(DUPLICATES).prop_map(Mutation::DuplicateAtTop),
            (100usize..160).prop_map(Mutation::Deep),
        ],
    )
}

fn mutated(rec: &RecordLine, m: &Option<Mutation>) -> Vec<u8> {
    let deep = match m {
        Some(Mutation::Deep(n)) => Some(*n),
        _ => None,
    };
    let (line, top_inner, record_inner) = rec.build(deep);
    let mut line = line.into_bytes();
    let len = line.len();
    match m {
        None | Some(Mutation::Deep(_)) => {}
        Some(Mutation::Truncate(p)) => line.truncate(p % len),
        Some(Mutation::Insert(p, s)) => {
            let p = p % (len + 1);
            line.splice(p..p, s.bytes());
        }
        Some(Mutation::Replace(p, b)) => line[p % len] = *b,
        Some(Mutation::Append(s)) => line.extend_from_slice(s.as_bytes()),
        Some(Mutation::DuplicateInRecord(s)) => {
            line.splice(record_inner..record_inner, s.bytes());
        }
        Some(Mutation::DuplicateAtTop(s)) => {
            line.splice(top_inner..top_inner, s.bytes());
        }
    }
    line
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn scanner_agrees_with_serde(rec in record_line(), m in mutation()) {
        let line = mutated(&rec, &m);
        let fast = abrs_protocol::scan_record(&line);
        let slow = abrs_protocol::decode_line_serde(&line);
        if let Some(f) = &fast {
            let Ok(Decoded::Record(s)) = &slow else {
                panic!("scanner took a line serde gives {slow:?}: {}", String::from_utf8_lossy(&line));
            };
            prop_assert_eq!(&f.stream, &s.stream);
            prop_assert_eq!(&f.namespace, &s.namespace);
            prop_assert_eq!(f.emitted_at, s.emitted_at);
            prop_assert_eq!(f.data.get(), s.data.get());
            prop_assert_eq!(f.meta.map(|m| m.get()), s.meta.map(|m| m.get()));
        }
        // The same pass with the members of `data` recorded: same lines, same record, and
        // members that describe `data` exactly (serde's walk), unless a key has escapes.
        let mut members = Vec::new();
        let with = abrs_protocol::scan_record_with(&line, &mut members);
        prop_assert_eq!(with.is_some(), fast.is_some());
        if let (Some(f), Some(w)) = (&fast, &with) {
            prop_assert_eq!(f.data.get(), w.data.get());
            prop_assert_eq!(&f.stream, &w.stream);
            prop_assert_eq!(f.emitted_at, w.emitted_at);
            let data = w.data.get();
            let walk = abrs_protocol::object_members_serde(data).expect("data the scanner accepted");
            match w.members {
                Some(found) => {
                    prop_assert_eq!(found.len(), walk.len());
                    for (m, (key, value)) in found.iter().zip(&walk) {
                        prop_assert_eq!(&data[m.key_start as usize..m.key_end as usize], key.as_str());
                        prop_assert_eq!(&data[m.value_start as usize..m.value_end as usize], value.get());
                    }
                }
                None => prop_assert!(data.contains('\\'), "no members for {}", data),
            }
        }
        if m.is_none() && rec.expect_fast() {
            prop_assert!(fast.is_some(), "scanner refused {}", String::from_utf8_lossy(&line));
        }
        // What callers see is exactly the serde path's answer, errors included.
        let got = format!("{:?}", decode_line(&line));
        prop_assert_eq!(got, format!("{slow:?}"));
    }
}
