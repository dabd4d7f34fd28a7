//! `abrs records CONNECTOR --config CONFIG --stream NAME [--limit N]`: records as JSON lines.

use std::io::{ErrorKind, Write};

use airbyte as ab;
use anyhow::{Context, Result};

use crate::connector_args::{ConfigArg, ConnectorArgs};

/// Arguments of `abrs records`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    connector: ConnectorArgs,
    #[command(flatten)]
    config: ConfigArg,
    /// The stream to read.
    #[arg(long, short = 's', value_name = "NAME")]
    stream: String,
    /// Stop after N records (the connector is stopped).
    #[arg(long, short = 'n', value_name = "N")]
    limit: Option<usize>,
    /// Also print `_airbyte_raw_id`, `_airbyte_extracted_at` and `_airbyte_meta`.
    #[arg(long)]
    with_internal_columns: bool,
    /// Keep fields the stream's schema does not declare.
    #[arg(long)]
    keep_undeclared_fields: bool,
    /// Normalize field names (`My Field` → `my_field`), as caches do.
    #[arg(long)]
    normalize_field_names: bool,
}

/// Runs `abrs records`: one JSON object per line on stdout.
pub fn run(args: Args) -> Result<()> {
    let config = args.config.load()?;
    let source = args.connector.source(Some(config))?;
    let options = ab::GetRecordsOptions {
        limit: args.limit,
        normalize_field_names: args.normalize_field_names,
        prune_undeclared_fields: !args.keep_undeclared_fields,
        with_internal_columns: args.with_internal_columns,
    };
    let records = source.get_records_with(&args.stream, options)?;
    let _guard = crate::interrupt::guard_connector(records.connector_pid());
    // Stdout is line-buffered: each record shows as soon as the connector sends it, also when
    // piped (`| jq`, `| head`); the connector, not this write, bounds the speed here.
    let mut out = std::io::stdout().lock();
    let mut count: u64 = 0;
    for record in records {
        let record = record?;
        let written = serde_json::to_writer(&mut out, &record)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"));
        match written {
            Ok(()) => count += 1,
            // The reader went away (`| head`): stop quietly, the connector is stopped on drop.
            Err(e) if e.kind() == ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(e).context("writing records to stdout"),
        }
    }
    match out.flush() {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => {
            return Err(e).context("writing records to stdout");
        }
        _ => {}
    }
    tracing::info!("{count} record(s) of stream `{}` printed", args.stream);
    Ok(())
}
