//! The README's library quickstart: read the real `source-faker` from PyPI into the default
//! DuckDB cache and query it. Run with `cargo run --release -p airbyte --example quickstart`.

use airbyte as ab;
use serde_json::json;

fn main() -> ab::Result<()> {
    let mut source = ab::get_source(
        "source-faker",
        Some(json!({"count": 100})),
        ab::SourceOptions::default(),
    )?;
    source.check()?;
    source.select_all_streams()?;

    let cache = ab::default_cache();
    let result = source.read(&cache, ab::ReadOptions::default())?;
    for name in result.stream_names() {
        println!("{name}: {} rows", result.get(name)?.len()?);
    }

    let users = result.get("users")?.with_filter("age > 30");
    println!("users over 30: {}", users.len()?);
    for batch in users.to_arrow(50)? {
        println!("an Arrow batch of {} rows", batch.num_rows());
    }
    let batches = cache.query("select count(*) as purchases from purchases")?;
    println!("{batches:?}");

    // Write the cached streams to a destination: only what it has not confirmed yet.
    let destination = ab::get_noop_destination(); // or ab::get_destination("destination-…", …)
    let written = destination.write(&result, ab::WriteOptions::default())?;
    println!(
        "{} records written, {:?} committed",
        written.processed_records(),
        written.committed_records()
    );
    Ok(())
}
