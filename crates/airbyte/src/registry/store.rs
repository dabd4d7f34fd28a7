//! Where the registry comes from: the network, a file, the last good copy on disk, or the
//! snapshot bundled in the binary.
//!
//! PyAirbyte fetches `oss_registry.json` once per process with no timeout and fails without the
//! network. Here, in order:
//!
//! * `AIRBYTE_LOCAL_REGISTRY=0|f|false`: no registry at all (as PyAirbyte).
//! * `AIRBYTE_LOCAL_REGISTRY=PATH`: that file; a bad file is an error (the user chose it).
//! * `AIRBYTE_OFFLINE_MODE` on: no network; the last good copy of the registry URL, else (for
//!   Airbyte's own registry) the bundled snapshot.
//! * else the URL (`AIRBYTE_LOCAL_REGISTRY=http(s)://…` or Airbyte's), fetched with a timeout;
//!   a good answer is kept on disk (`ABRS_REGISTRY_CACHE_DIR`, default
//!   `~/.cache/airbyte-rs/registry`); when the fetch fails (no network, an error status, a stall,
//!   a malformed or truncated file), the last good copy, else the bundled snapshot (Airbyte's URL
//!   only: a custom registry is never replaced by Airbyte's), each with a warning.
//!
//! What was loaded is kept for the rest of the process, per place.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;

use super::metadata::ConnectorMetadata;
use crate::error::{Error, Result};

/// The variable naming the registry: an `http(s)://` URL or a file (`0`/`false` turns it off).
pub const LOCAL_REGISTRY_ENV: &str = "AIRBYTE_LOCAL_REGISTRY";
/// The variable that keeps PyAirbyte (and us) off the network.
pub const OFFLINE_MODE_ENV: &str = "AIRBYTE_OFFLINE_MODE";
/// The directory of the last good copies of fetched registries.
pub const REGISTRY_CACHE_DIR_ENV: &str = "ABRS_REGISTRY_CACHE_DIR";
/// Seconds a registry fetch may take in all (default 20).
pub const REGISTRY_TIMEOUT_ENV: &str = "ABRS_REGISTRY_TIMEOUT";
/// Airbyte's OSS registry, as PyAirbyte fetches it.
pub const REGISTRY_URL: &str =
    "https://connectors.airbyte.com/files/registries/v0/oss_registry.json";

/// The snapshot bundled in the binary, written by `scripts/gen-registry-snapshot.py`.
const BUNDLED: &str = include_str!("../../data/registry_snapshot.json");

/// Where a loaded registry came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryOrigin {
    /// Fetched now from this URL.
    Url(String),
    /// Read from this file (`AIRBYTE_LOCAL_REGISTRY`).
    File(PathBuf),
    /// The last good copy of `url`, saved on disk at `path` when it was fetched.
    LastGoodCopy {
        /// The registry's URL.
        url: String,
        /// The copy.
        path: PathBuf,
    },
    /// The snapshot bundled in the binary, dated `date`.
    Bundled {
        /// When the snapshot was taken (`YYYY-MM-DD`).
        date: String,
    },
}

impl RegistryOrigin {
    /// Whether the registry is current (a fetch or the user's file): a name missing from a
    /// copy or the snapshot may be a connector newer than it.
    pub fn is_current(&self) -> bool {
        matches!(self, Self::Url(_) | Self::File(_))
    }
}

impl std::fmt::Display for RegistryOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Url(u) => write!(f, "{u}"),
            Self::File(p) => write!(f, "{}", p.display()),
            Self::LastGoodCopy { url, path } => {
                write!(f, "the last good copy of {url} ({})", path.display())
            }
            Self::Bundled { date } => write!(f, "the registry snapshot bundled with abrs ({date})"),
        }
    }
}

/// A loaded registry: every connector by name.
#[derive(Debug)]
pub struct Registry {
    /// Where it came from.
    pub origin: RegistryOrigin,
    /// The connectors, by name.
    pub connectors: BTreeMap<String, ConnectorMetadata>,
}

/// Where to look, from the environment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Place {
    Disabled,
    File(PathBuf),
    Url { url: String, offline: bool },
}

fn place() -> Place {
    let offline = super::env_bool(OFFLINE_MODE_ENV) == Some(true);
    match std::env::var(LOCAL_REGISTRY_ENV) {
        Ok(raw) if !raw.trim().is_empty() => {
            let raw = raw.trim().to_string();
            if matches!(raw.to_ascii_uppercase().as_str(), "0" | "F" | "FALSE") {
                Place::Disabled
            } else if raw.to_ascii_lowercase().starts_with("http://")
                || raw.to_ascii_lowercase().starts_with("https://")
            {
                Place::Url { url: raw, offline }
            } else {
                Place::File(PathBuf::from(raw))
            }
        }
        _ => Place::Url {
            url: REGISTRY_URL.to_string(),
            offline,
        },
    }
}

type Loaded = HashMap<Place, Arc<Registry>>;

fn loaded() -> &'static Mutex<Loaded> {
    static LOADED: OnceLock<Mutex<Loaded>> = OnceLock::new();
    LOADED.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The registry for the current environment, loaded once per process (per place);
/// `Ok(None)` when `AIRBYTE_LOCAL_REGISTRY` turns it off.
pub fn load() -> Result<Option<Arc<Registry>>> {
    let place = place();
    if place == Place::Disabled {
        return Ok(None);
    }
    if let Some(r) = loaded().lock().ok().and_then(|m| m.get(&place).cloned()) {
        return Ok(Some(r));
    }
    let registry = Arc::new(load_from(&place)?);
    if let Ok(mut m) = loaded().lock() {
        m.insert(place, registry.clone());
    }
    Ok(Some(registry))
}

/// Loads the registry again, ignoring what this process loaded before (PyAirbyte's
/// `force_refresh`).
pub fn reload() -> Result<Option<Arc<Registry>>> {
    if let Ok(mut m) = loaded().lock() {
        m.remove(&place());
    }
    load()
}

fn load_from(place: &Place) -> Result<Registry> {
    match place {
        Place::Disabled => Err(Error::Registry {
            detail: "the registry is turned off".into(),
            guidance: format!("unset {LOCAL_REGISTRY_ENV}"),
        }),
        Place::File(path) => {
            let guidance = format!(
                "Point {LOCAL_REGISTRY_ENV} at a readable oss_registry.json-shaped file, or unset \
                 it to use Airbyte's registry."
            );
            let bytes = std::fs::read(path).map_err(|e| Error::Registry {
                detail: format!("reading {} failed ({e})", path.display()),
                guidance: guidance.clone(),
            })?;
            let connectors = parse(&bytes).map_err(|detail| Error::Registry {
                detail: format!("{} {detail}", path.display()),
                guidance,
            })?;
            Ok(Registry {
                origin: RegistryOrigin::File(path.clone()),
                connectors,
            })
        }
        Place::Url { url, offline } => {
            let fetched = if *offline {
                Err(format!(
                    "{OFFLINE_MODE_ENV} is on, so {url} was not fetched"
                ))
            } else {
                fetch(url)
            };
            match fetched {
                Ok(connectors) => Ok(Registry {
                    origin: RegistryOrigin::Url(url.clone()),
                    connectors,
                }),
                Err(why) => fallback(url, *offline, &why),
            }
        }
    }
}

/// After a failed (or skipped) fetch: the last good copy, else the bundled snapshot.
fn fallback(url: &str, offline: bool, why: &str) -> Result<Registry> {
    let copy = copy_path(url);
    if let Some(path) = &copy
        && let Ok(bytes) = std::fs::read(path)
        && let Ok(connectors) = parse(&bytes)
    {
        if !offline {
            tracing::warn!(
                "the connector registry could not be fetched ({why}); using the last good copy \
                 {}",
                path.display()
            );
        }
        return Ok(Registry {
            origin: RegistryOrigin::LastGoodCopy {
                url: url.to_string(),
                path: path.clone(),
            },
            connectors,
        });
    }
    if url == REGISTRY_URL {
        let registry = bundled()?;
        if !offline {
            tracing::warn!(
                "the connector registry could not be fetched ({why}) and there is no saved copy; \
                 using {}",
                registry.origin
            );
        }
        return Ok(registry);
    }
    Err(Error::Registry {
        detail: format!("{url} could not be fetched ({why}), and no copy of it was saved before"),
        guidance: format!(
            "Check the URL and the network, point {LOCAL_REGISTRY_ENV} at a local file, or unset \
             it to use Airbyte's registry (bundled with abrs for offline use)."
        ),
    })
}

/// The snapshot bundled in the binary.
pub fn bundled() -> Result<Registry> {
    let bad = |detail: String| Error::Registry {
        detail: format!("the bundled registry snapshot {detail}"),
        guidance: "rebuild abrs after running scripts/gen-registry-snapshot.py".into(),
    };
    let doc: Value =
        serde_json::from_str(BUNDLED).map_err(|e| bad(format!("is not valid JSON ({e})")))?;
    let connectors = connectors_of(&doc).map_err(bad)?;
    let date = doc
        .get("snapshot_date")
        .and_then(Value::as_str)
        .unwrap_or("undated")
        .to_string();
    Ok(Registry {
        origin: RegistryOrigin::Bundled { date },
        connectors,
    })
}

fn timeout() -> Duration {
    std::env::var(REGISTRY_TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(20))
}

/// GETs the registry, checks it and keeps a copy; the error says why in a few words.
fn fetch(url: &str) -> std::result::Result<BTreeMap<String, ConnectorMetadata>, String> {
    let bytes = http_get(url)?;
    let connectors = parse(&bytes)?;
    if let Some(path) = copy_path(url)
        && let Err(e) = save_copy(&path, &bytes)
    {
        tracing::warn!(
            "could not keep a copy of the registry at {} ({e})",
            path.display()
        );
    }
    Ok(connectors)
}

/// GETs `url` with the registry's timeout: the body of a 2xx answer, else why not.
pub(super) fn http_get(url: &str) -> std::result::Result<Vec<u8>, String> {
    // reqwest is built without a bundled crypto provider: use ring (as the declarative engine).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let total = timeout();
    let client = reqwest::blocking::Client::builder()
        .connect_timeout(total.min(Duration::from_secs(10)))
        .timeout(total)
        .user_agent(concat!("airbyte-rs/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("no HTTP client: {e}"))?;
    let response = client.get(url).send().map_err(|e| describe(&e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    Ok(response.bytes().map_err(|e| describe(&e))?.to_vec())
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return format!(
            "no answer within {:.0} s ({REGISTRY_TIMEOUT_ENV})",
            timeout().as_secs_f64()
        );
    }
    crate::http_error::describe(e)
}

/// Reads `oss_registry.json`'s shape; the error completes "<place> …".
fn parse(bytes: &[u8]) -> std::result::Result<BTreeMap<String, ConnectorMetadata>, String> {
    let doc: Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("is not valid JSON (truncated or not a registry?): {e}"))?;
    connectors_of(&doc)
}

/// The connectors of a parsed `oss_registry.json`, by name.
fn connectors_of(doc: &Value) -> std::result::Result<BTreeMap<String, ConnectorMetadata>, String> {
    let Some(sources) = doc.get("sources").and_then(Value::as_array) else {
        return Err("is not a connector registry: it has no `sources` list".into());
    };
    let destinations = doc
        .get("destinations")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut out = BTreeMap::new();
    for entry in sources.iter().chain(destinations) {
        if let Some(m) = ConnectorMetadata::from_entry(entry) {
            out.insert(m.name.clone(), m);
        }
    }
    if out.is_empty() {
        tracing::warn!("the connector registry lists no connectors");
    }
    Ok(out)
}

/// The directory of saved copies.
pub fn copies_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(REGISTRY_CACHE_DIR_ENV).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("airbyte-rs").join("registry"))
}

/// The saved copy of `url`: `oss_registry.json` for Airbyte's, a name made of the URL otherwise.
fn copy_path(url: &str) -> Option<PathBuf> {
    let dir = copies_dir()?;
    if url == REGISTRY_URL {
        return Some(dir.join("oss_registry.json"));
    }
    let mut name: String = url
        .split("://")
        .nth(1)
        .unwrap_or(url)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    name.truncate(120);
    Some(dir.join(format!("registry-{name}.json")))
}

/// Writes the copy whole or not at all (a temporary file renamed over the old one).
pub(super) fn save_copy(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("json.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_snapshot_loads() {
        let r = bundled().unwrap_or_else(|e| panic!("{e}"));
        assert!(r.connectors.len() > 500, "{}", r.connectors.len());
        assert!(r.connectors.contains_key("source-faker"));
        assert!(r.connectors.contains_key("destination-duckdb"));
        assert!(matches!(&r.origin, RegistryOrigin::Bundled { date } if date == "2025-01-29"));
    }

    #[test]
    fn parse_rejects_what_is_not_a_registry() {
        assert!(
            parse(b"{\"sources\": [")
                .unwrap_err()
                .contains("not valid JSON")
        );
        assert!(parse(b"[1,2]").unwrap_err().contains("no `sources`"));
        let ok = parse(br#"{"sources":[{"dockerRepository":"airbyte/source-a"}]}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok.keys().collect::<Vec<_>>(), ["source-a"]);
    }

    #[test]
    fn copy_names() {
        let p = copy_path("https://example.com/my/registry.json?x=1")
            .unwrap_or_else(|| panic!("a dir"));
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        assert_eq!(name, "registry-example.com_my_registry.json_x_1.json");
    }
}
