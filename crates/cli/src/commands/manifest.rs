//! `abrs manifest resolve M [--format yaml|json] [--migrate]` and `abrs manifest test-read M
//! --config C --stream S [--pages N] [--slices N]`: the tools of the Connector Builder for
//! people who write manifests. `resolve` prints the manifest as the engine sees it: `$ref`s
//! and `#/definitions/…` references resolved, default component types filled in and
//! `$parameters` pushed down (the Builder's `resolve_manifest` action). `test-read` reads one
//! stream a few pages and slices deep and prints, per slice and page, the request (secrets
//! masked), the response (body cut) and the records (the Builder's `test_read` action).

use std::io::Write;
use std::path::PathBuf;

use airbyte as ab;
use anyhow::{Context, Result};

use ab::declarative::test_read::{TestReadLimits, test_read};
use ab::declarative::{LoadOptions, Manifest};

/// Output formats of `manifest resolve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// YAML (the manifest's own language).
    Yaml,
    /// Pretty-printed JSON.
    Json,
}

/// Arguments of `abrs manifest`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

/// What to do with the manifest.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Print the manifest after references, default types and `$parameters`.
    Resolve {
        /// The manifest (YAML or JSON).
        manifest: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "yaml")]
        format: Format,
        /// Also apply the CDK's migrations of deprecated fields (as the Connector Builder).
        #[arg(long)]
        migrate: bool,
    },
    /// Read one stream a few pages and slices deep, showing each request, response and the
    /// records of each page.
    TestRead {
        /// The manifest (YAML or JSON).
        manifest: PathBuf,
        /// The config (JSON).
        #[arg(long)]
        config: PathBuf,
        /// The stream to read.
        #[arg(long)]
        stream: String,
        /// Pages read per slice.
        #[arg(long, default_value_t = 5)]
        pages: usize,
        /// Slices read.
        #[arg(long, default_value_t = 5)]
        slices: usize,
        /// Records read in all (the read stops after them).
        #[arg(long, default_value_t = 100)]
        records: usize,
        /// Bytes of each response body shown.
        #[arg(long, default_value_t = 2000)]
        body_bytes: usize,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: ReadFormat,
    },
}

/// Output formats of `manifest test-read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReadFormat {
    /// For people: slices, pages, requests, responses and records, indented.
    Text,
    /// One JSON document: `{"stream", "slices": [{"stream", "slice", "pages": [{"request",
    /// "response", "records"}]}], "error"}`.
    Json,
}

/// Runs `abrs manifest`.
pub fn run(args: Args) -> Result<()> {
    match args.action {
        Action::Resolve {
            manifest,
            format,
            migrate,
        } => {
            let loaded = Manifest::from_path_with(&manifest, LoadOptions { migrate })
                .with_context(|| format!("loading the manifest {}", manifest.display()))?;
            let tree = serde_json::Value::Object(loaded.tree().clone());
            let text = match format {
                Format::Json => serde_json::to_string_pretty(&tree)? + "\n",
                Format::Yaml => ab::SpecFormat::Yaml.render(&tree)?,
            };
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush().context("writing to stdout")?;
            Ok(())
        }
        Action::TestRead {
            manifest,
            config,
            stream,
            pages,
            slices,
            records,
            body_bytes,
            format,
        } => {
            let loaded = Manifest::from_path(&manifest)
                .with_context(|| format!("loading the manifest {}", manifest.display()))?;
            let text = std::fs::read_to_string(&config)
                .with_context(|| format!("cannot read the config file {}", config.display()))?;
            let config: serde_json::Value = serde_json::from_str(&text).with_context(|| {
                format!("the config file {} is not valid JSON", config.display())
            })?;
            let source = ab::declarative::DeclarativeSource::new(loaded, config)
                .context("setting up the manifest's source")?;
            let limits = TestReadLimits {
                pages_per_slice: pages.max(1),
                slices: slices.max(1),
                records: records.max(1),
                body_bytes,
            };
            let read = test_read(source, &stream, limits)
                .with_context(|| format!("test-reading stream {stream}"))?;
            let text = match format {
                ReadFormat::Json => serde_json::to_string_pretty(&read.to_json())? + "\n",
                ReadFormat::Text => read.to_text(),
            };
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush().context("writing to stdout")?;
            match read.error {
                // What was read is printed; the run still fails, as the read did.
                Some(e) => Err(anyhow::anyhow!("the test read failed: {e}")),
                None => Ok(()),
            }
        }
    }
}
