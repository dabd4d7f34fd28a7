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
