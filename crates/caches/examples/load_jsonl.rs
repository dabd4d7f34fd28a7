//! Loads a file of Airbyte protocol lines into a DuckDB cache and reports the rate: the
//! loader's share of the reference pipeline, without a connector process.
//!
//! `cargo run --release -p abrs-caches --example load_jsonl -- RECORDS.jsonl CATALOG_STREAM.json OUT.duckdb [STRATEGY]`
//! (the bench kit's `connector/catalog_stream.json` is an `AirbyteStream`).

use std::io::BufRead;
use std::time::Instant;

use abrs_caches::{DuckDbCache, LoadOptions, WriteStrategy};
use abrs_protocol::{
    AirbyteStream, ConfiguredAirbyteCatalog, ConfiguredAirbyteStream, Decoded, DestinationSyncMode,
    SyncMode, decode_line_with,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: load_jsonl RECORDS.jsonl STREAM.json OUT.duckdb [STRATEGY]".into());
    }
    let stream: AirbyteStream = serde_json::from_slice(&std::fs::read(&args[2])?)?;
    let strategy: WriteStrategy = args.get(4).map_or(Ok(WriteStrategy::Auto), |s| s.parse())?;
    let catalog = ConfiguredAirbyteCatalog {
        streams: vec![ConfiguredAirbyteStream {
            stream,
            sync_mode: SyncMode::FullRefresh,
            cursor_field: None,
            destination_sync_mode: DestinationSyncMode::Append,
            primary_key: None,
            generation_id: None,
            minimum_generation_id: None,
            sync_id: None,
            extra: Default::default(),
        }],
        extra: Default::default(),
    };
    let mut cache = DuckDbCache::new(&args[3]);
    if let Ok(limit) = std::env::var("ABRS_DUCKDB_MEMORY_LIMIT") {
        cache = cache.with_memory_limit(limit);
    }
    let start = Instant::now();
    let mut writer =
        cache.begin_load("source-bench", &catalog, strategy, LoadOptions::default())?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&args[1])?);
    let mut line = Vec::with_capacity(4096);
    let mut members = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        match decode_line_with(&line, &mut members) {
            Ok(Decoded::Record(r)) => writer.record(&r)?,
            Ok(Decoded::Message(m)) => {
                if let Some(s) = &m.state {
                    writer.state(s)?;
                }
            }
            _ => {}
        }
    }
    let summary = writer.finish()?;
    let secs = start.elapsed().as_secs_f64();
    let n = summary.total_records();
    println!(
        "{n} records in {secs:.2} s = {:.0} records/s ({summary:?})",
        n as f64 / secs
    );
    Ok(())
}
