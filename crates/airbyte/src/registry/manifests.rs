//! The manifests of manifest-only connectors, by name: Airbyte's manifest URL (PyAirbyte's
//! pattern), else a copy saved when it was last fetched, else the connector's PyPI package.
//!
//! PyAirbyte only downloads
//! `https://connectors.airbyte.com/files/metadata/airbyte/{name}/{version}/manifest.yaml`
//! (`version` without a leading `v`, else `latest`) and fails offline. Here a fetched manifest
//! is kept under `<registry copies>/manifests/{name}/{version}/manifest.yaml`, and with no
//! network (or `AIRBYTE_OFFLINE_MODE`) that copy is used, else the manifest inside the
//! connector's wheel on PyPI (`airbyte-source-pokeapi` ships `source_pokeapi/manifest.yaml`).
//!
//! A manifest with Python components comes with its `components.py`: from `components.zip`
//! beside the manifest URL (as PyAirbyte's `_try_get_manifest_connector_files`; none on a 404),
//! kept beside the saved copy, or from beside the manifest in the wheel. It rides with the
//! manifest ([`abrs_declarative::components`]) to the Python CDK that runs it.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::store::{OFFLINE_MODE_ENV, copies_dir, http_get, save_copy};
use crate::error::{Error, Result};

/// Where Airbyte publishes connectors' metadata and manifests (overridable with
/// [`MANIFEST_BASE_URL_ENV`], e.g. for a mirror).
pub const MANIFEST_REGISTRY_URL: &str = "https://connectors.airbyte.com/files/metadata/airbyte";
/// The variable that replaces [`MANIFEST_REGISTRY_URL`].
pub const MANIFEST_BASE_URL_ENV: &str = "ABRS_MANIFEST_BASE_URL";

/// The version part of a manifest's place: the pin without a leading `v`, else `latest`.
pub fn manifest_version(version: Option<&str>) -> String {
    match version.map(str::trim) {
        Some(v) if !v.is_empty() => v.strip_prefix('v').unwrap_or(v).to_string(),
        _ => "latest".to_string(),
    }
}

/// The registry URL of connector `name`'s manifest at `version` (`latest` when `None`).
pub fn registry_manifest_url(name: &str, version: Option<&str>) -> String {
    let base = std::env::var(MANIFEST_BASE_URL_ENV)
        .ok()
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| MANIFEST_REGISTRY_URL.to_string());
    format!(
        "{}/{name}/{}/manifest.yaml",
        base.trim_end_matches('/'),
        manifest_version(version)
    )
}

/// Where a fetched manifest of `name` at `version` is kept.
pub fn saved_manifest_path(name: &str, version: Option<&str>) -> Option<PathBuf> {
    Some(
        copies_dir()?
            .join("manifests")
            .join(name)
            .join(manifest_version(version))
            .join("manifest.yaml"),
    )
}

/// Parses manifest text: a YAML mapping with `streams` or `dynamic_streams`.
fn parse_manifest(text: &str) -> std::result::Result<Value, String> {
    let value: Value =
        serde_saphyr::from_str(text).map_err(|e| format!("it is not valid YAML ({e})"))?;
    if !value.is_object()
        || (value.get("streams").is_none() && value.get("dynamic_streams").is_none())
    {
        return Err("it is not a declarative manifest (no `streams`)".into());
    }
    Ok(value)
}

/// The manifest of manifest-only connector `name` at `version`: where it came from, and its
/// content. Tries the manifest URL (unless offline), the saved copy, then the PyPI package.
pub fn connector_manifest(name: &str, version: Option<&str>) -> Result<(String, Value)> {
    let mut tried = Vec::new();
    let url = registry_manifest_url(name, version);
    let saved = saved_manifest_path(name, version);
    if super::env_bool(OFFLINE_MODE_ENV) == Some(true) {
        tried.push(format!("{url} (not fetched: {OFFLINE_MODE_ENV} is on)"));
    } else {
        match http_get(&url).and_then(|bytes| {
            let text = String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_string())?;
            parse_manifest(&text).map(|v| (text, v))
        }) {
            Ok((text, mut value)) => {
                if let Some(path) = &saved
                    && let Err(e) = save_copy(path, text.as_bytes())
                {
                    tracing::warn!("could not keep the manifest at {} ({e})", path.display());
                }
                if crate::native_manifest::needs_python(&value) {
                    let zip_url = components_url(&url);
                    match fetch_components(&zip_url) {
                        Ok(Some(code)) => {
                            keep_components(saved.as_deref(), &code);
                            abrs_declarative::components::attach(&mut value, code);
                        }
                        Ok(None) => {}
                        Err(why) => {
                            return Err(Error::Registry {
                                detail: format!(
                                    "the custom components of `{name}` ({zip_url}) could not be \
                                     fetched: {why}"
                                ),
                                guidance: "Check the network, or pass the manifest file with \
                                           its components.py beside it (`--manifest PATH`)."
                                    .into(),
                            });
                        }
                    }
                }
                return Ok((url, value));
            }
            Err(why) => tried.push(format!("{url} ({why})")),
        }
    }
    if let Some(path) = &saved {
        match std::fs::read_to_string(path) {
            Ok(text) => match parse_manifest(&text) {
                Ok(mut value) => {
                    if let Ok(code) = std::fs::read_to_string(path.with_file_name("components.py"))
                    {
                        abrs_declarative::components::attach(&mut value, code);
                    }
                    tracing::info!("using the saved manifest {}", path.display());
                    return Ok((path.display().to_string(), value));
                }
                Err(why) => tried.push(format!("the saved copy {} ({why})", path.display())),
            },
            Err(_) => tried.push(format!("a saved copy at {} (none)", path.display())),
        }
    }
    match from_pypi(name, version, saved.as_deref()) {
        Ok(found) => return Ok(found),
        Err(why) => tried.push(why),
    }
    Err(Error::Registry {
        detail: format!(
            "the manifest of manifest-only connector `{name}` ({}) could not be found; tried {}",
            manifest_version(version),
            tried.join("; ")
        ),
        guidance: "Check the name and version and the network, or pass the manifest file with \
                   source_manifest (CLI: `--manifest PATH`)."
            .into(),
    })
}

/// The manifest inside the connector's wheel on PyPI, saved as the copy when found.
fn from_pypi(
    name: &str,
    version: Option<&str>,
    saved: Option<&Path>,
) -> std::result::Result<(String, Value), String> {
    let package = format!("airbyte-{name}");
    let requirement = match manifest_version(version).as_str() {
        "latest" => package.clone(),
        v => format!("{package}=={v}"),
    };
    let staging = std::env::temp_dir().join(format!(
        "abrs-manifest-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let result = (|| {
        abrs_connectors::unpack_package(name, &requirement, &staging)
            .map_err(|e| format!("the PyPI package {requirement} ({e})"))?;
        let module = name.replace('-', "_");
        let path = staging.join(&module).join("manifest.yaml");
        let text = std::fs::read_to_string(&path).map_err(|_| {
            format!("the PyPI package {requirement} (it has no {module}/manifest.yaml)")
        })?;
        let mut value = parse_manifest(&text)
            .map_err(|why| format!("{module}/manifest.yaml of {requirement} ({why})"))?;
        if let Some(saved) = saved
            && let Err(e) = save_copy(saved, text.as_bytes())
        {
            tracing::warn!("could not keep the manifest at {} ({e})", saved.display());
        }
        if let Ok(code) = std::fs::read_to_string(staging.join(&module).join("components.py")) {
            keep_components(saved, &code);
            abrs_declarative::components::attach(&mut value, code);
        }
        tracing::info!("using the manifest of the PyPI package {requirement}");
        Ok((format!("{module}/manifest.yaml from {requirement}"), value))
    })();
    let _ = std::fs::remove_dir_all(&staging);
    result
}

/// Where the registry serves a manifest's custom components: `components.zip` beside it.
pub fn components_url(manifest_url: &str) -> String {
    match manifest_url.strip_suffix("manifest.yaml") {
        Some(base) => format!("{base}components.zip"),
        None => format!("{}/components.zip", manifest_url.trim_end_matches('/')),
    }
}

/// `components.py` out of the `components.zip` at `url`; `None` when there is none (a 404).
fn fetch_components(url: &str) -> std::result::Result<Option<String>, String> {
    match http_get(url) {
        Ok(bytes) => abrs_declarative::components::components_py_from_zip(&bytes).map(Some),
        Err(why) if why.starts_with("HTTP 404") => Ok(None),
        Err(why) => Err(why),
    }
}

/// Keeps `code` as `components.py` beside the saved manifest copy (used offline later).
fn keep_components(saved: Option<&Path>, code: &str) {
    if let Some(saved) = saved {
        let path = saved.with_file_name("components.py");
        if let Err(e) = save_copy(&path, code.as_bytes()) {
            tracing::warn!("could not keep the components at {} ({e})", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_urls() {
        assert_eq!(manifest_version(None), "latest");
        assert_eq!(manifest_version(Some("v0.3.9")), "0.3.9");
        assert_eq!(manifest_version(Some(" ")), "latest");
        assert!(
            registry_manifest_url("source-pokeapi", Some("0.3.9"))
                .ends_with("/source-pokeapi/0.3.9/manifest.yaml")
        );
    }

    #[test]
    fn manifest_shape() {
        assert!(parse_manifest("version: 6.0.0\nstreams: []\n").is_ok());
        assert!(
            parse_manifest("just: text\n")
                .unwrap_err()
                .contains("no `streams`")
        );
        assert!(
            parse_manifest("a: [")
                .unwrap_err()
                .contains("not valid YAML")
        );
    }
}
