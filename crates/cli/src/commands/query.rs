//! `abrs query [--cache FILE.duckdb] SQL [--format table|json|csv]`: SQL over a cache.

use std::io::Write;
use std::path::PathBuf;

use airbyte as ab;
use airbyte::arrow;
use anyhow::{Context, Result};

/// How to print query results.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// An aligned text table.
    Table,
    /// One JSON object per row, per line.
    Json,
    /// CSV with a header line.
    Csv,
}

/// Arguments of `abrs query`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The SQL to run (DuckDB dialect); tables are named after the streams.
    #[arg(value_name = "SQL")]
    sql: String,
    /// The DuckDB file (default: the default cache).
    #[arg(long, value_name = "FILE.duckdb")]
    cache: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// Runs `abrs query`.
pub fn run(args: Args) -> Result<()> {
    let cache = match &args.cache {
        Some(path) => ab::DuckDbCache::new(path),
        None => ab::default_cache(),
    };
    if !cache.db_path().exists() {
        return Err(ab::Error::input(
            format!("there is no cache at {}", cache.db_path().display()),
            "run `abrs read CONNECTOR --config CONFIG` first, or pass the file with --cache",
        )
        .into());
    }
    let batches = cache.query(&args.sql)?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Table => {
            let table = arrow::util::pretty::pretty_format_batches(&batches)
                .context("formatting the result as a table")?;
            writeln!(out, "{table}")?;
        }
        Format::Json => {
            let mut writer = arrow::json::LineDelimitedWriter::new(&mut out);
            for batch in &batches {
                writer.write(batch).context("writing the result as JSON")?;
            }
            writer.finish().context("writing the result as JSON")?;
        }
        Format::Csv => {
            let mut writer = arrow::csv::Writer::new(&mut out);
            for batch in &batches {
                writer.write(batch).context("writing the result as CSV")?;
            }
        }
    }
    out.flush()?;
    Ok(())
}
