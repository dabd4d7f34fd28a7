//! `abrs documents CONNECTOR|--cache FILE --stream S [--title F] [--content F,…]
//! [--metadata F,…] [--render-metadata] [--primary-key F,…] [--format markdown|jsonl]
//! [--limit N]`: a stream's records as documents for LLM pipelines (PyAirbyte's
//! `get_documents` / `to_documents`).

use std::io::{ErrorKind, Write};

use airbyte as ab;
use airbyte::documents::{Document, DocumentRenderer};
use anyhow::{Context, Result};

use crate::connector_args::{ConnectorArgs, RunArgs};

/// How to print documents.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// Each document's Markdown content, documents separated by a `---` line.
    Markdown,
    /// One JSON object per document, per line: id, content, metadata, last_modified.
    Jsonl,
}

/// Arguments of `abrs documents`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A connector to read from: a name (`source-faker`) or a path to a local executable.
    #[arg(value_name = "CONNECTOR", required_unless_present = "cache")]
    connector: Option<String>,
    /// The connector config: a JSON/YAML file, or inline JSON/YAML starting with `{`
    /// (default: `{}`).
    #[arg(long, short = 'c', value_name = "CONFIG", conflicts_with = "cache")]
    config: Option<String>,
    /// Read the stream from this cache (a DuckDB file or a PostgreSQL URL) instead of a
    /// connector.
    #[arg(long, value_name = "FILE.duckdb|URL", conflicts_with = "connector")]
    cache: Option<String>,
    /// The cache's table prefix (with --cache).
    #[arg(long, value_name = "PREFIX", default_value = "", requires = "cache")]
    table_prefix: String,
    /// The stream to render.
    #[arg(long, short = 's', value_name = "NAME")]
    stream: String,
    /// The property whose value is the document's `# title`.
    #[arg(long, value_name = "FIELD")]
    title: Option<String>,
    /// The properties that make the content, comma-separated (several get `## Title Case`
    /// headers). Default: none, and the content is the metadata as YAML.
    #[arg(long, value_name = "F,…", value_delimiter = ',')]
    content: Vec<String>,
    /// The metadata properties, comma-separated. Default: every property that is neither the
    /// title nor content.
    #[arg(long, value_name = "F,…", value_delimiter = ',')]
    metadata: Vec<String>,
    /// Also render the metadata (as a YAML block) above the content.
    #[arg(long)]
    render_metadata: bool,
    /// The properties whose values make the document ids, comma-separated. Default: the
    /// stream's primary key (from a connector), else each record's `_airbyte_raw_id`.
    #[arg(long, value_name = "F,…", value_delimiter = ',')]
    primary_key: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "markdown")]
    format: Format,
    /// Stop after N documents (a connector is stopped).
    #[arg(long, short = 'n', value_name = "N")]
    limit: Option<usize>,
    #[command(flatten)]
    run: RunArgs,
}

fn list(items: &[String]) -> Option<Vec<String>> {
    let items: Vec<String> = items
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    (!items.is_empty()).then_some(items)
}

/// Runs `abrs documents`.
pub fn run(args: Args) -> Result<()> {
    let renderer = DocumentRenderer {
        title_property: args.title.clone(),
        content_properties: list(&args.content),
        metadata_properties: list(&args.metadata),
        render_metadata: args.render_metadata,
        primary_key_properties: list(&args.primary_key),
        cursor_property: None,
    };
    let mut out = std::io::stdout().lock();
    let printed = match (&args.cache, &args.connector) {
        (Some(spec), _) => {
            let cache = super::read::parse_cache(Some(spec.as_str()), &args.table_prefix)?;
            if let Some(duck) = cache.as_duckdb()
                && !duck.db_path().exists()
            {
                return Err(ab::Error::input(
                    format!("there is no cache at {}", duck.db_path().display()),
                    "run `abrs read CONNECTOR --config CONFIG --cache FILE` first",
                )
                .into());
            }
            let dataset = cache.dataset(&args.stream).map_err(ab::Error::from)?;
            let docs = dataset.to_documents(renderer).map_err(ab::Error::from)?;
            let docs = docs.map(|d| d.map_err(ab::Error::from));
            print(
                docs.take(args.limit.unwrap_or(usize::MAX)),
                args.format,
                &mut out,
            )?
        }
        (None, Some(connector)) => {
            let config = match &args.config {
                Some(text) => crate::connector_args::load_config(text)?,
                None => serde_json::json!({}),
            };
            let connector = ConnectorArgs {
                connector: connector.clone(),
                run: args.run.clone(),
            };
            let source = connector.source(Some(config))?;
            let records = source.get_records(&args.stream, args.limit)?;
            let _guard = crate::interrupt::guard_connector(records.connector_pid());
            print(records.to_documents(renderer), args.format, &mut out)?
        }
        (None, None) => {
            return Err(ab::Error::input(
                "no connector and no --cache were given",
                "name a connector, or pass --cache FILE.duckdb",
            )
            .into());
        }
    };
    tracing::info!("{printed} document(s) of stream `{}` printed", args.stream);
    Ok(())
}

/// Prints documents as they come; a closed stdout (`| head`) ends quietly.
fn print(
    docs: impl Iterator<Item = ab::Result<Document>>,
    format: Format,
    out: &mut impl Write,
) -> Result<u64> {
    let mut count: u64 = 0;
    for doc in docs {
        let doc = doc?;
        let written = match format {
            Format::Jsonl => serde_json::to_writer(&mut *out, &doc)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n")),
            Format::Markdown => write_markdown(out, &doc, count == 0),
        };
        match written {
            Ok(()) => count += 1,
            Err(e) if e.kind() == ErrorKind::BrokenPipe => return Ok(count),
            Err(e) => return Err(e).context("writing documents to stdout"),
        }
    }
    match out.flush() {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => {
            Err(e).context("writing documents to stdout")
        }
        _ => Ok(count),
    }
}

/// A document's content, ending with a newline, after a `---` line (a thematic break, with a
/// blank line before it so it is not read as a heading underline) unless it is the first.
fn write_markdown(out: &mut impl Write, doc: &Document, first: bool) -> std::io::Result<()> {
    if !first {
        out.write_all(b"\n---\n\n")?;
    }
    out.write_all(doc.content.as_bytes())?;
    if !doc.content.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    Ok(())
}
