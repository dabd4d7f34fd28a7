//! `abrs connectors [--type T] [--search WORD] [--format table|json]`: the connectors the
//! registry lists (PyAirbyte's `get_available_connectors`), with how each installs.

use std::io::Write;

use airbyte as ab;
use anyhow::{Context, Result};

/// Output formats of `connectors` and `connector-info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// JSON (every metadata field), for scripts.
    Json,
}

/// Arguments of `abrs connectors`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which connectors: installable (what this machine can run: everything with Docker,
    /// else Python and manifest-only), python, yaml (manifest-only), docker, java, or any.
    #[arg(long = "type", default_value = "installable", value_parser = parse_install_type)]
    install_type: ab::InstallType,
    /// Only names (or display names) containing this word, case-insensitive.
    #[arg(long)]
    search: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// Parses `--type`.
pub fn parse_install_type(text: &str) -> std::result::Result<ab::InstallType, String> {
    ab::InstallType::parse(text).ok_or_else(|| {
        format!(
            "`{text}` is not an install type; use installable, python, yaml, docker, java or any"
        )
    })
}

/// A line saying where the registry came from, for stderr.
pub fn origin_line() -> Result<Option<String>> {
    Ok(ab::registry::get_registry()?.map(|r| format!("registry: {}", r.origin)))
}

/// Runs `abrs connectors`.
pub fn run(args: Args) -> Result<()> {
    let mut list = ab::registry::list_connectors(args.install_type)?;
    if let Some(word) = &args.search {
        let word = word.to_lowercase();
        list.retain(|m| {
            m.name.to_lowercase().contains(&word)
                || m.display_name
                    .as_deref()
                    .is_some_and(|d| d.to_lowercase().contains(&word))
        });
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &list)?;
            writeln!(out)?;
        }
        Format::Table => {
            if let Some(line) = origin_line()? {
                eprintln!("{line}");
            } else {
                eprintln!(
                    "the registry is turned off ({}=0): no connectors to list",
                    ab::registry::LOCAL_REGISTRY_ENV
                );
            }
            let rows: Vec<[String; 4]> = list
                .iter()
                .map(|m| {
                    [
                        m.name.clone(),
                        m.latest_available_version.clone().unwrap_or_default(),
                        m.default_install_type().as_str().to_string(),
                        m.language.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            write_table(
                &mut out,
                ["NAME", "VERSION", "INSTALLS AS", "LANGUAGE"],
                &rows,
            )?;
            eprintln!("{} connectors", list.len());
        }
    }
    out.flush().context("writing to stdout")?;
    Ok(())
}

/// Writes `rows` under `header` in columns two spaces apart.
fn write_table(out: &mut impl Write, header: [&str; 4], rows: &[[String; 4]]) -> Result<()> {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 4]| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  "));
            }
        }
        text.trim_end().to_string()
    };
    writeln!(out, "{}", line(header))?;
    for row in rows {
        writeln!(out, "{}", line([&row[0], &row[1], &row[2], &row[3]]))?;
    }
    Ok(())
}
