//! `abrs benchmark-source spec|check|discover|read`: the built-in synthetic source used by
//! `abrs benchmark` (hidden from `--help`).
//!
//! It is a real Airbyte source connector speaking the protocol on stdout, run as a subprocess
//! of `abrs benchmark` (`abrs benchmark-source read --config F --catalog F`), so that the path
//! measured is the one a real connector takes: pipe, line decoder, cache loader.
//!
//! One stream, `bench`, with the shape of the bench kit's `gen_records.py`: 11 typed fields
//! (integer primary key, strings, a nullable email/age/note, a number, a boolean, a date-time,
//! a date, an array of strings and an object with a nested object). Records are deterministic
//! for a given `seed`. Config: `{"num_records": N, "seed": S}` (defaults 500000 and 42).
//!
//! Lines are formatted by hand into one reused buffer (no serde on the hot path) and written in
//! 256 KiB blocks, several million records per second, so the source never limits a benchmark.
//! A STREAM STATE is emitted every 100,000 records and at the end.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// The stream the source offers.
pub const STREAM: &str = "bench";
/// Records between two STATE messages.
const STATE_EVERY: u64 = 100_000;
/// Records written when the config does not say.
const DEFAULT_RECORDS: u64 = 500_000;
const DEFAULT_SEED: u64 = 42;
/// Size of the output blocks.
const BLOCK: usize = 256 * 1024;
/// `emitted_at` of record 0 (milliseconds), as in `gen_records.py`.
const EMITTED_AT_BASE: u64 = 1_700_000_000_000;

/// Arguments of `abrs benchmark-source`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    verb: Verb,
}

/// The Airbyte source verbs.
#[derive(Debug, clap::Subcommand)]
enum Verb {
    /// Print the SPEC message.
    Spec,
    /// Validate the config and print a CONNECTION_STATUS message.
    Check {
        #[arg(long)]
        config: PathBuf,
    },
    /// Print the CATALOG message.
    Discover {
        #[arg(long)]
        config: PathBuf,
    },
    /// Print the records of the configured streams, with STATE messages.
    Read {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        catalog: PathBuf,
        /// Accepted for protocol compatibility; the stream is full refresh only.
        #[arg(long)]
        state: Option<PathBuf>,
    },
}

/// The config of the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchConfig {
    /// Records to emit.
    pub num_records: u64,
    /// Seed of the pseudo-random values.
    pub seed: u64,
}

impl BenchConfig {
    /// Reads `{"num_records": N, "seed": S}`; both are optional non-negative integers.
    pub fn from_value(config: &Value) -> std::result::Result<Self, String> {
        let Some(obj) = config.as_object() else {
            return Err("the config must be a JSON object".to_string());
        };
        let field = |name: &str, default: u64| -> std::result::Result<u64, String> {
            match obj.get(name) {
                None | Some(Value::Null) => Ok(default),
                Some(v) => v
                    .as_u64()
                    .or_else(|| {
                        // 5e5 written as a float is still a whole number of records.
                        v.as_f64()
                            .filter(|f| f.is_finite() && *f >= 0.0 && f.fract() == 0.0)
                            .filter(|f| *f < u64::MAX as f64)
                            .map(|f| f as u64)
                    })
                    .ok_or_else(|| format!("`{name}` must be a non-negative integer, got {v}")),
            }
        };
        Ok(Self {
            num_records: field("num_records", DEFAULT_RECORDS)?,
            seed: field("seed", DEFAULT_SEED)?,
        })
    }
}

/// Runs `abrs benchmark-source`.
pub fn run(args: Args) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.verb {
        Verb::Spec => writeln!(out, "{}", spec_message())?,
        Verb::Check { config } => {
            let status = match read_config(&config) {
                Ok(_) => json!({"status": "SUCCEEDED"}),
                Err(e) => json!({"status": "FAILED", "message": format!("{e:#}")}),
            };
            writeln!(
                out,
                "{}",
                json!({"type": "CONNECTION_STATUS", "connectionStatus": status})
            )?;
        }
        Verb::Discover { config } => {
            report_config_error(&mut out, read_config(&config))?;
            writeln!(
                out,
                "{}",
                json!({"type": "CATALOG", "catalog": {"streams": [stream_schema()]}})
            )?;
        }
        Verb::Read {
            config,
            catalog,
            state: _,
        } => {
            let config = report_config_error(&mut out, read_config(&config))?;
            let selected = read_selected(&catalog)
                .with_context(|| format!("reading the catalog {}", catalog.display()))?;
            if selected {
                write_records(&mut out, config)?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// On a config error, emits a TRACE ERROR (config_error) before failing, as connectors do.
fn report_config_error(out: &mut impl Write, config: Result<BenchConfig>) -> Result<BenchConfig> {
    match config {
        Ok(c) => Ok(c),
        Err(e) => {
            let message = format!("{e:#}");
            let trace = json!({"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": 0,
                "error": {"message": message, "failure_type": "config_error"}}});
            writeln!(out, "{trace}")?;
            Err(e)
        }
    }
}

fn read_config(path: &Path) -> Result<BenchConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the config {}", path.display()))?;
    let value: Value = serde_json::from_str(&text)
        .with_context(|| format!("the config {} is not JSON", path.display()))?;
    BenchConfig::from_value(&value).map_err(anyhow::Error::msg)
}

/// Whether the configured catalog selects the `bench` stream.
fn read_selected(path: &Path) -> Result<bool> {
    let text = std::fs::read_to_string(path)?;
    let catalog: Value = serde_json::from_str(&text)?;
    let Some(streams) = catalog.get("streams").and_then(Value::as_array) else {
        bail!("it has no `streams` array");
    };
    Ok(streams.iter().any(|s| {
        s.pointer("/stream/name").and_then(Value::as_str) == Some(STREAM)
            && s.pointer("/stream/namespace").is_none_or(Value::is_null)
    }))
}

fn spec_message() -> Value {
    json!({"type": "SPEC", "spec": {
        "documentationUrl": "https://docs.airbyte.com/integrations/sources/e2e-test",
        "connectionSpecification": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "title": "abrs benchmark source",
            "type": "object",
            "properties": {
                "num_records": {"type": "integer", "minimum": 0, "default": DEFAULT_RECORDS,
                    "description": "Records to emit."},
                "seed": {"type": "integer", "minimum": 0, "default": DEFAULT_SEED,
                    "description": "Seed of the pseudo-random values."}
            },
            "additionalProperties": true
        }
    }})
}

/// The `bench` stream, as in the bench kit's `catalog_stream.json`.
pub fn stream_schema() -> Value {
    json!({
        "name": STREAM,
        "json_schema": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "email": {"type": ["null", "string"]},
                "age": {"type": ["null", "integer"]},
                "score": {"type": "number"},
                "active": {"type": "boolean"},
                "created_at": {"type": "string", "format": "date-time",
                    "airbyte_type": "timestamp_with_timezone"},
                "birth_date": {"type": "string", "format": "date"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "address": {"type": "object", "properties": {
                    "street": {"type": "string"},
                    "city": {"type": "string"},
                    "zip": {"type": "string"},
                    "geo": {"type": "object", "properties": {
                        "lat": {"type": "number"}, "lon": {"type": "number"}}}}},
                "note": {"type": ["null", "string"]}
            }
        },
        "supported_sync_modes": ["full_refresh"],
        "source_defined_primary_key": [["id"]]
    })
}

const FIRST: [&str; 10] = [
    "Ada", "Linus", "Grace", "Alan", "Barbara", "Dennis", "Ken", "Margaret", "Edsger", "Frances",
];
const FIRST_LOWER: [&str; 10] = [
    "ada", "linus", "grace", "alan", "barbara", "dennis", "ken", "margaret", "edsger", "frances",
];
const LAST: [&str; 10] = [
    "Lovelace", "Torvalds", "Hopper", "Turing", "Liskov", "Ritchie", "Thompson", "Hamilton",
    "Dijkstra", "Allen",
];
const LAST_LOWER: [&str; 10] = [
    "lovelace", "torvalds", "hopper", "turing", "liskov", "ritchie", "thompson", "hamilton",
    "dijkstra", "allen",
];
const CITIES: [&str; 8] = [
    "Paris", "Berlin", "Lisbon", "Austin", "Osaka", "Nairobi", "Quito", "Oslo",
];
const TAGS: [&str; 8] = [
    "alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta",
];

/// SplitMix64: tiny, fast, good enough for synthetic data, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` ≤ 2^32; the multiply-shift bias is irrelevant here).
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() >> 32) * n) >> 32
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> (usize, &'a str) {
        let i = self.below(items.len() as u64) as usize;
        (i, items[i])
    }
}

/// Appends `n` as at least two digits (`07`).
fn push_2(buf: &mut Vec<u8>, n: u64) {
    if n < 10 {
        buf.push(b'0');
    }
    push_int(buf, n);
}

fn push_int(buf: &mut Vec<u8>, n: u64) {
    let mut b = itoa::Buffer::new();
    buf.extend_from_slice(b.format(n).as_bytes());
}

/// Appends `units / 10^decimals` as a JSON number with up to `decimals` fractional digits
/// (trailing zeros trimmed, at least one kept: `12.5`, `3.0`, `-0.25`).
fn push_fixed(buf: &mut Vec<u8>, units: i64, decimals: u32) {
    let scale = 10u64.pow(decimals);
    if units < 0 {
        buf.push(b'-');
    }
    let abs = units.unsigned_abs();
    push_int(buf, abs / scale);
    buf.push(b'.');
    let mut frac = abs % scale;
    let mut digits = decimals;
    while digits > 1 && frac.is_multiple_of(10) {
        frac /= 10;
        digits -= 1;
    }
    let mut b = itoa::Buffer::new();
    let s = b.format(frac);
    for _ in s.len()..digits as usize {
        buf.push(b'0');
    }
    buf.extend_from_slice(s.as_bytes());
}

/// Appends one RECORD line for record `id` (1-based).
fn push_record(buf: &mut Vec<u8>, rng: &mut Rng, id: u64) {
    let (fi, first) = rng.pick(&FIRST);
    let (li, last) = rng.pick(&LAST);
    buf.extend_from_slice(br#"{"type":"RECORD","record":{"stream":"bench","data":{"id":"#);
    push_int(buf, id);
    buf.extend_from_slice(br#","name":""#);
    buf.extend_from_slice(first.as_bytes());
    buf.push(b' ');
    buf.extend_from_slice(last.as_bytes());
    buf.extend_from_slice(br#"","email":""#);
    buf.extend_from_slice(FIRST_LOWER[fi].as_bytes());
    buf.push(b'.');
    buf.extend_from_slice(LAST_LOWER[li].as_bytes());
    push_int(buf, id);
    buf.extend_from_slice(br#"@example.com","age":"#);
    if rng.chance(5) {
        buf.extend_from_slice(b"null");
    } else {
        push_int(buf, rng.range(18, 90));
    }
    buf.extend_from_slice(br#","score":"#);
    push_fixed(buf, rng.range(0, 10_000_000) as i64, 4);
    buf.extend_from_slice(br#","active":"#);
    buf.extend_from_slice(if rng.chance(70) { b"true" } else { b"false" });
    buf.extend_from_slice(br#","created_at":"2024-"#);
    push_2(buf, rng.range(1, 12));
    buf.push(b'-');
    push_2(buf, rng.range(1, 28));
    buf.push(b'T');
    push_2(buf, rng.range(0, 23));
    buf.push(b':');
    push_2(buf, rng.range(0, 59));
    buf.push(b':');
    push_2(buf, rng.range(0, 59));
    buf.extend_from_slice(br#"+00:00","birth_date":""#);
    push_int(buf, rng.range(1940, 2005));
    buf.push(b'-');
    push_2(buf, rng.range(1, 12));
    buf.push(b'-');
    push_2(buf, rng.range(1, 28));
    buf.extend_from_slice(br#"","tags":["#);
    let count = rng.range(0, 3);
    let mut used = 0u8;
    let mut written = 0;
    while written < count {
        let i = rng.below(TAGS.len() as u64) as usize;
        if used & (1 << i) != 0 {
            continue;
        }
        used |= 1 << i;
        if written > 0 {
            buf.push(b',');
        }
        buf.push(b'"');
        buf.extend_from_slice(TAGS[i].as_bytes());
        buf.push(b'"');
        written += 1;
    }
    buf.extend_from_slice(br#"],"address":{"street":""#);
    push_int(buf, rng.range(1, 999));
    buf.extend_from_slice(br#" Main St","city":""#);
    buf.extend_from_slice(rng.pick(&CITIES).1.as_bytes());
    buf.extend_from_slice(br#"","zip":""#);
    push_int(buf, rng.range(10_000, 99_999));
    buf.extend_from_slice(br#"","geo":{"lat":"#);
    push_fixed(buf, rng.range(0, 18_000_000) as i64 - 9_000_000, 5);
    buf.extend_from_slice(br#","lon":"#);
    push_fixed(buf, rng.range(0, 36_000_000) as i64 - 18_000_000, 5);
    buf.extend_from_slice(br#"}},"note":"#);
    if rng.chance(20) {
        buf.extend_from_slice(br#""some free text note""#);
    } else {
        buf.extend_from_slice(b"null");
    }
    buf.extend_from_slice(br#"},"emitted_at":"#);
    push_int(buf, EMITTED_AT_BASE + id);
    buf.extend_from_slice(b"}}\n");
}

fn push_state(buf: &mut Vec<u8>, emitted: u64) {
    buf.extend_from_slice(
        br#"{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"bench"},"stream_state":{"records_emitted":"#,
    );
    push_int(buf, emitted);
    buf.extend_from_slice(br#"}},"sourceStats":{"recordCount":"#);
    push_int(buf, emitted);
    buf.extend_from_slice(b".0}}}\n");
}

fn push_status(buf: &mut Vec<u8>, status: &str) {
    buf.extend_from_slice(br#"{"type":"TRACE","trace":{"type":"STREAM_STATUS","emitted_at":"#);
    push_int(buf, EMITTED_AT_BASE);
    buf.extend_from_slice(br#","stream_status":{"stream_descriptor":{"name":"bench"},"status":""#);
    buf.extend_from_slice(status.as_bytes());
    buf.extend_from_slice(b"\"}}}\n");
}

/// Writes the `read` output: STARTED, the records with a STATE every [`STATE_EVERY`] and at
/// the end, COMPLETE.
pub fn write_records(out: &mut impl Write, config: BenchConfig) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(BLOCK + 4096);
    let mut rng = Rng(config.seed);
    push_status(&mut buf, "STARTED");
    for id in 1..=config.num_records {
        push_record(&mut buf, &mut rng, id);
        if id.is_multiple_of(STATE_EVERY) {
            push_state(&mut buf, id);
        }
        if buf.len() >= BLOCK {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    if !config.num_records.is_multiple_of(STATE_EVERY) || config.num_records == 0 {
        push_state(&mut buf, config.num_records);
    }
    push_status(&mut buf, "COMPLETE");
    out.write_all(&buf)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_output(n: u64) -> String {
        let mut out = Vec::new();
        write_records(
            &mut out,
            BenchConfig {
                num_records: n,
                seed: 7,
            },
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    fn output(n: u64) -> Vec<Value> {
        raw_output(n)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn records_are_valid_typed_json_with_states() {
        let text = raw_output(250_001);
        let lines: Vec<&str> = text.lines().collect();
        let records: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.starts_with(r#"{"type":"RECORD""#))
            .collect();
        assert_eq!(records.len(), 250_001);
        let states: Vec<Value> = lines
            .iter()
            .filter(|l| l.starts_with(r#"{"type":"STATE""#))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(states.len(), 3, "at 100k, 200k and the end");
        assert_eq!(
            states[2]["state"]["stream"]["stream_state"]["records_emitted"],
            250_001
        );
        for (i, line) in records.iter().enumerate().step_by(97) {
            let r: Value = serde_json::from_str(line).unwrap();
            let d = &r["record"]["data"];
            assert_eq!(d.as_object().unwrap().len(), 11);
            assert_eq!(d["id"], i as u64 + 1);
            assert!(d["score"].is_f64());
            assert!(d["active"].is_boolean());
            assert!(d["age"].is_null() || d["age"].is_u64());
            assert!(d["note"].is_null() || d["note"].is_string());
            assert_eq!(d["created_at"].as_str().unwrap().len(), 25);
            assert_eq!(d["birth_date"].as_str().unwrap().len(), 10);
            assert!(d["tags"].as_array().unwrap().len() <= 3);
            let lat = d["address"]["geo"]["lat"].as_f64().unwrap();
            assert!((-90.0..=90.0).contains(&lat));
        }
        let first: Value = serde_json::from_str(lines[0]).unwrap();
        let last: Value = serde_json::from_str(lines[lines.len() - 1]).unwrap();
        assert_eq!(first["trace"]["stream_status"]["status"], "STARTED");
        assert_eq!(last["trace"]["stream_status"]["status"], "COMPLETE");
    }

    #[test]
    fn output_is_deterministic() {
        assert_eq!(output(1000), output(1000));
    }

    #[test]
    fn fixed_point_numbers() {
        let fmt = |u, d| {
            let mut b = Vec::new();
            push_fixed(&mut b, u, d);
            String::from_utf8(b).unwrap()
        };
        assert_eq!(fmt(1_234_567, 4), "123.4567");
        assert_eq!(fmt(30_000, 4), "3.0");
        assert_eq!(fmt(1_250, 4), "0.125");
        assert_eq!(fmt(-25_000, 5), "-0.25");
        assert_eq!(fmt(-100, 5), "-0.001");
        assert_eq!(fmt(0, 4), "0.0");
    }

    #[test]
    fn config_parsing() {
        assert_eq!(
            BenchConfig::from_value(&json!({"num_records": 5e5})),
            Ok(BenchConfig {
                num_records: 500_000,
                seed: 42
            })
        );
        assert!(BenchConfig::from_value(&json!({"num_records": -1})).is_err());
        assert!(BenchConfig::from_value(&json!({"num_records": "x"})).is_err());
        assert!(BenchConfig::from_value(&json!([])).is_err());
    }
}
