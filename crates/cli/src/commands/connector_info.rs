//! `abrs connector-info NAME [--format table|json]`: everything the registry says of one
//! connector (PyAirbyte's `get_connector_metadata`), and how `abrs` would run it.

use std::io::Write;

use airbyte as ab;
use anyhow::{Context, Result};

use super::connectors::{Format, origin_line};

/// Arguments of `abrs connector-info`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The connector's name, e.g. `source-faker`.
    name: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// Runs `abrs connector-info`.
pub fn run(args: Args) -> Result<()> {
    let Some(meta) = ab::get_connector_metadata(&args.name)? else {
        anyhow::bail!(
            "the registry is turned off ({}=0), so there is nothing to say about `{}`; unset it",
            ab::registry::LOCAL_REGISTRY_ENV,
            args.name
        );
    };
    let mut out = std::io::stdout().lock();
    if args.format == Format::Json {
        serde_json::to_writer_pretty(&mut out, &meta)?;
        writeln!(out)?;
        return Ok(out.flush()?);
    }
    if let Some(line) = origin_line()? {
        eprintln!("{line}");
    }
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let install_types: Vec<&str> = meta.install_types.iter().map(|t| t.as_str()).collect();
    let fields: Vec<(&str, String)> = vec![
        ("name", meta.name.clone()),
        ("display_name", opt(&meta.display_name)),
        ("connector_type", meta.connector_type.clone()),
        ("definition_id", opt(&meta.definition_id)),
        ("docker_repository", meta.docker_repository.clone()),
        (
            "latest_available_version",
            opt(&meta.latest_available_version),
        ),
        ("pypi_package_name", opt(&meta.pypi_package_name)),
        ("language", opt(&meta.language)),
        ("install_types", install_types.join(", ")),
        (
            "default_install_type",
            meta.default_install_type().as_str().into(),
        ),
        (
            "suggested_streams",
            meta.suggested_streams
                .as_ref()
                .map(|s| s.join(", "))
                .unwrap_or_else(|| "-".into()),
        ),
        ("support_level", opt(&meta.support_level)),
        ("release_stage", opt(&meta.release_stage)),
        ("source_type", opt(&meta.source_type)),
        ("documentation_url", opt(&meta.documentation_url)),
        ("release_date", opt(&meta.release_date)),
        ("github_issue_label", opt(&meta.github_issue_label)),
        ("license", opt(&meta.license)),
    ];
    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in fields {
        writeln!(out, "{k:<width$}  {v}")?;
    }
    out.flush().context("writing to stdout")?;
    Ok(())
}
