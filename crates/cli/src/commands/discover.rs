//! `abrs discover CONNECTOR --config CONFIG [--format table|json]`: the streams a source offers.

use std::io::Write;

use airbyte::protocol::{AirbyteCatalog, AirbyteStream};
use anyhow::{Context, Result};

use crate::connector_args::{ConfigArg, ConnectorArgs};

/// Output formats of `discover`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// One line per stream: name, sync modes, primary key, cursor, field count.
    Table,
    /// The catalog as the connector sent it (pretty JSON).
    Json,
}

/// Arguments of `abrs discover`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    connector: ConnectorArgs,
    #[command(flatten)]
    config: ConfigArg,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// Runs `abrs discover`.
pub fn run(args: Args) -> Result<()> {
    let config = args.config.load()?;
    let source = args.connector.source(Some(config))?;
    let catalog = source.discovered_catalog()?;
    let text = match args.format {
        Format::Json => {
            let mut t = serde_json::to_string_pretty(catalog).context("rendering the catalog")?;
            t.push('\n');
            t
        }
        Format::Table => table(catalog),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing to stdout")?;
    Ok(())
}

fn keys(paths: Option<&Vec<Vec<String>>>) -> String {
    match paths {
        Some(p) if !p.is_empty() => p
            .iter()
            .map(|path| path.join("."))
            .collect::<Vec<_>>()
            .join(", "),
        _ => "-".into(),
    }
}

fn row(s: &AirbyteStream) -> [String; 5] {
    let modes: Vec<&str> = s.supported_sync_modes.iter().map(|m| m.as_str()).collect();
    let fields = s
        .json_schema
        .get("properties")
        .and_then(|p| p.as_object())
        .map_or(0, |p| p.len());
    [
        s.name.clone(),
        if modes.is_empty() {
            "-".into()
        } else {
            modes.join(",")
        },
        keys(s.source_defined_primary_key.as_ref()),
        s.default_cursor_field
            .as_ref()
            .filter(|c| !c.is_empty())
            .map_or("-".into(), |c| c.join(".")),
        fields.to_string(),
    ]
}

/// The catalog as an aligned text table.
fn table(catalog: &AirbyteCatalog) -> String {
    let header = ["STREAM", "SYNC MODES", "PRIMARY KEY", "CURSOR", "FIELDS"].map(String::from);
    let rows: Vec<[String; 5]> = catalog.streams.iter().map(row).collect();
    let mut widths = header.each_ref().map(|h| h.chars().count());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for r in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = r
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
