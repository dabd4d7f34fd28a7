//! `abrs query [--cache FILE.duckdb|URL] SQL [--format table|json|csv]`: SQL over a cache.

use std::io::Write;

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
    /// The SQL to run (the cache's dialect: DuckDB or PostgreSQL); tables are named after the
    /// streams.
    #[arg(value_name = "SQL")]
    sql: String,
    /// The cache: a DuckDB file or a PostgreSQL URL,
    /// `postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?schema=S]` (password also from
    /// PGPASSWORD; PASSWORD may be `secret_reference::NAME`). Default: the default cache.
    #[arg(long, value_name = "FILE.duckdb|URL")]
    cache: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// Runs `abrs query`.
pub fn run(args: Args) -> Result<()> {
    let cache = super::read::parse_cache(args.cache.as_deref(), "")?;
    if let Some(duck) = cache.as_duckdb()
        && !duck.db_path().exists()
    {
        return Err(ab::Error::input(
            format!("there is no cache at {}", duck.db_path().display()),
            "run `abrs read CONNECTOR --config CONFIG` first, or pass the file with --cache",
        )
        .into());
    }
    let batches = cache.query(&args.sql).map_err(ab::Error::from)?;
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
