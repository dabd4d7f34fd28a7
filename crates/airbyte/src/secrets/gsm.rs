//! Google Secret Manager through its REST API (PyAirbyte's `secrets/google_gsm.py`, which uses
//! the `google-cloud-secret-manager` client).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde_json::Value;

use super::SecretString;
use super::gsm_auth::{CachedToken, ServiceAccountKey, fetch_token, truncate};
use super::manager::{
    RegisterOptions, SecretManager, SecretManagerError, SecretSourceEnum, register_secret_manager,
};

/// The Secret Manager API's base URL.
pub const DEFAULT_GSM_BASE_URL: &str = "https://secretmanager.googleapis.com/v1";

/// What went wrong with Google Secret Manager. Messages never hold a secret value, a token or
/// the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GsmError {
    /// No credentials were given or found in the environment.
    #[error(
        "Google Secret Manager needs credentials and none were found. Pass `credentials_path` \
         (a service-account key file) or `credentials_json` (its JSON), or set \
         GOOGLE_APPLICATION_CREDENTIALS (the key file's path) or GCP_GSM_CREDENTIALS (the key's \
         JSON)."
    )]
    NoCredentials,
    /// Both `credentials_path` and `credentials_json` were given.
    #[error(
        "Google Secret Manager credentials were given twice. Pass `credentials_path` or \
         `credentials_json`, not both."
    )]
    BothCredentials,
    /// No project was given and the key names none.
    #[error(
        "No Google Cloud project was given for Secret Manager, and the service-account key names \
         none. Pass the project id."
    )]
    NoProject,
    /// The key file could not be read.
    #[error(
        "Could not read the Google credentials file {}: {source}. Check the path (given as \
         `credentials_path` or in GOOGLE_APPLICATION_CREDENTIALS).",
        path.display()
    )]
    CredentialsFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The credentials are not a usable service-account key.
    #[error(
        "The Google credentials {origin} are not a usable service-account key: {reason}. Create \
         a JSON key for a service account (IAM, Service accounts, Keys) and pass that."
    )]
    InvalidCredentials {
        /// Where they came from.
        origin: String,
        /// What is wrong (never the key's content).
        reason: String,
    },
    /// The token exchange failed.
    #[error(
        "Getting a Google access token from {url} failed: {reason}. Check that the service \
         account and its key exist and are enabled."
    )]
    Token {
        /// The token endpoint (the key's `token_uri`).
        url: String,
        /// Why.
        reason: String,
    },
    /// A Secret Manager request failed.
    #[error("The Google Secret Manager request {url} failed: {reason}")]
    Request {
        /// The request (no secret in it).
        url: String,
        /// Why, and what to do.
        reason: String,
    },
    /// A listed secret has no readable version.
    #[error(
        "The secret `{name}` has no enabled version to read. Add a version in Google Secret \
         Manager, or enable one."
    )]
    NoVersion {
        /// The secret's full name.
        name: String,
    },
    /// A payload that is not text, or not JSON when parsed as JSON.
    #[error("The secret `{name}` cannot be used: {reason}.")]
    BadPayload {
        /// The secret's full name.
        name: String,
        /// Why (never the value).
        reason: String,
    },
    /// `fetch_connector_secret` found nothing.
    #[error(
        "No secret of project `{project}` has the label `{label_key}={connector_name}`. Check the \
         connector name and that the secret has that label."
    )]
    NoConnectorSecret {
        /// The project.
        project: String,
        /// The connector.
        connector_name: String,
        /// The label key (`connector`).
        label_key: String,
    },
    /// Writing a secret to a file failed.
    #[error("Could not write the secret `{name}` to {}: {source}.", path.display())]
    Write {
        /// The secret's full name.
        name: String,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// How a [`GoogleGSMSecretManager`] is set up.
#[derive(Debug, Clone)]
pub struct GsmOptions {
    /// A service-account key file.
    pub credentials_path: Option<PathBuf>,
    /// A service-account key's JSON.
    pub credentials_json: Option<SecretString>,
    /// Register the manager as a secret source right away.
    pub auto_register: bool,
    /// When registering, ask it after the other sources instead of first.
    pub as_backup: bool,
    /// The API's base URL (default [`DEFAULT_GSM_BASE_URL`]); for tests and private endpoints.
    pub base_url: Option<String>,
    /// The limit for each request, response included (default 30 s; connecting: 10 s at most).
    pub timeout: Duration,
}

impl Default for GsmOptions {
    fn default() -> Self {
        Self {
            credentials_path: None,
            credentials_json: None,
            auto_register: false,
            as_backup: false,
            base_url: None,
            timeout: Duration::from_secs(30),
        }
    }
}

struct GsmClient {
    project: String,
    base_url: String,
    http: reqwest::blocking::Client,
    key: ServiceAccountKey,
    token: Mutex<Option<CachedToken>>,
}

/// Secrets from Google Secret Manager (`"google_gsm"`), PyAirbyte's `GoogleGSMSecretManager`.
/// Not a source until registered (`auto_register`, or [`register_secret_manager`]).
///
/// Credentials: `credentials_path` or `credentials_json`, else GOOGLE_APPLICATION_CREDENTIALS
/// (a key file's path), else GCP_GSM_CREDENTIALS (a key's JSON). It signs an RS256 JWT with the
/// key and exchanges it at the key's `token_uri` for an access token (renewed before it
/// expires). A secret name is looked up as its latest version; names already of the form
/// `projects/.../secrets/...` are used as they are.
///
/// ```no_run
/// use airbyte::secrets::{GoogleGSMSecretManager, GsmOptions};
/// let gsm = GoogleGSMSecretManager::new("my-project", GsmOptions::default())?;
/// let config = gsm.fetch_connector_secret("source-github")?.parse_json()?;
/// # Ok::<(), airbyte::secrets::GsmError>(())
/// ```
#[derive(Clone)]
pub struct GoogleGSMSecretManager {
    client: Arc<GsmClient>,
}

impl fmt::Debug for GoogleGSMSecretManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleGSMSecretManager")
            .field("project", &self.client.project)
            .field("base_url", &self.client.base_url)
            .finish_non_exhaustive()
    }
}

impl GoogleGSMSecretManager {
    /// The label that names a secret's connector.
    pub const CONNECTOR_LABEL: &'static str = "connector";

    /// A manager for `project` (empty: the key's `project_id`).
    pub fn new(project: impl Into<String>, options: GsmOptions) -> Result<Self, GsmError> {
        let (json, origin) = credentials(&options)?;
        let key = ServiceAccountKey::parse(&json, &origin)?;
        let mut project = project.into();
        if project.is_empty() {
            project = key.project_id().ok_or(GsmError::NoProject)?.to_string();
        }
        // reqwest is built without a bundled crypto provider: use ring, as the declarative
        // engine does (whichever installs it first wins; both install the same one).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(options.timeout.min(Duration::from_secs(10)))
            .timeout(options.timeout)
            .user_agent(concat!("airbyte-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GsmError::Request {
                url: "-".into(),
                reason: format!(
                    "cannot set up the HTTP client: {}",
                    crate::http_error::describe(&e)
                ),
            })?;
        let base_url = options
            .base_url
            .as_deref()
            .unwrap_or(DEFAULT_GSM_BASE_URL)
            .trim_end_matches('/')
            .to_string();
        let manager = Self {
            client: Arc::new(GsmClient {
                project,
                base_url,
                http,
                key,
                token: Mutex::new(None),
            }),
        };
        if options.auto_register {
            register_secret_manager(
                Arc::new(manager.clone()),
                RegisterOptions {
                    as_backup: options.as_backup,
                    replace_existing: false,
                },
            );
        }
        Ok(manager)
    }

    /// The project.
    pub fn project(&self) -> &str {
        &self.client.project
    }

    /// The secret's latest version (or the version a full name gives); `None` when the project
    /// has no such secret (or it is empty).
    pub fn get_secret(&self, secret_name: &str) -> Result<Option<SecretString>, GsmError> {
        match self.client.version_name(secret_name) {
            Some(full) => self.client.access(&full),
            None => Ok(None),
        }
    }

    /// The project's secrets that match a Secret Manager filter, e.g.
    /// `labels.connector=source-github` (see Google's filtering docs), every page of them.
    pub fn fetch_secrets(&self, filter_string: &str) -> Result<Vec<GSMSecretHandle>, GsmError> {
        let client = &self.client;
        let base = format!("{}/projects/{}/secrets", client.base_url, client.project);
        let mut handles = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut url = url::Url::parse(&base).map_err(|e| GsmError::Request {
                url: base.clone(),
                reason: format!("not a valid URL ({e}); check `base_url` and the project id"),
            })?;
            {
                let mut query = url.query_pairs_mut();
                if !filter_string.is_empty() {
                    query.append_pair("filter", filter_string);
                }
                query.append_pair("pageSize", "100");
                if let Some(t) = &page_token {
                    query.append_pair("pageToken", t);
                }
            }
            let url = url.to_string();
            let page = client.get_json(&url)?.ok_or_else(|| GsmError::Request {
                url: url.clone(),
                reason: format!(
                    "HTTP 404: the project `{}` was not found; check the project id",
                    client.project
                ),
            })?;
            for secret in page
                .get("secrets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(name) = secret.get("name").and_then(Value::as_str) else {
                    continue;
                };
                let labels = secret
                    .get("labels")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                            .collect()
                    })
                    .unwrap_or_default();
                handles.push(GSMSecretHandle {
                    secret_name: name.to_string(),
                    labels,
                    manager: self.clone(),
                });
            }
            match page.get("nextPageToken").and_then(Value::as_str) {
                Some(next) if !next.is_empty() => {
                    if page_token.as_deref() == Some(next) {
                        return Err(GsmError::Request {
                            url,
                            reason: "the server returned the same page token twice".into(),
                        });
                    }
                    page_token = Some(next.to_string());
                }
                _ => return Ok(handles),
            }
        }
    }

    /// The secrets with the label `label_key=label_value`.
    pub fn fetch_secrets_by_label(
        &self,
        label_key: &str,
        label_value: &str,
    ) -> Result<Vec<GSMSecretHandle>, GsmError> {
        self.fetch_secrets(&format!("labels.{label_key}={label_value}"))
    }

    /// The secrets labeled `connector=<connector_name>`.
    pub fn fetch_connector_secrets(
        &self,
        connector_name: &str,
    ) -> Result<Vec<GSMSecretHandle>, GsmError> {
        self.fetch_secrets_by_label(Self::CONNECTOR_LABEL, connector_name)
    }

    /// The first secret labeled `connector=<connector_name>`; an error when there is none.
    pub fn fetch_connector_secret(
        &self,
        connector_name: &str,
    ) -> Result<GSMSecretHandle, GsmError> {
        self.fetch_connector_secrets(connector_name)?
            .into_iter()
            .next()
            .ok_or_else(|| GsmError::NoConnectorSecret {
                project: self.client.project.clone(),
                connector_name: connector_name.to_string(),
                label_key: Self::CONNECTOR_LABEL.to_string(),
            })
    }
}

impl SecretManager for GoogleGSMSecretManager {
    fn name(&self) -> &str {
        SecretSourceEnum::GoogleGsm.as_str()
    }

    fn get_secret(&self, secret_name: &str) -> Result<Option<SecretString>, SecretManagerError> {
        GoogleGSMSecretManager::get_secret(self, secret_name)
            .map_err(|e| SecretManagerError::new(e.to_string()))
    }

    fn describe_lookup(&self, secret_name: &str) -> String {
        format!(
            "Google Secret Manager (project `{}`, secret `{secret_name}`)",
            self.client.project
        )
    }
}

/// One secret found by [`GoogleGSMSecretManager::fetch_secrets`]: its name and labels; the value
/// is read when asked for.
#[derive(Clone)]
pub struct GSMSecretHandle {
    secret_name: String,
    labels: BTreeMap<String, String>,
    manager: GoogleGSMSecretManager,
}

impl fmt::Debug for GSMSecretHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GSMSecretHandle")
            .field("secret_name", &self.secret_name)
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

impl GSMSecretHandle {
    /// The secret's full name (`projects/<project>/secrets/<id>`).
    pub fn secret_name(&self) -> &str {
        &self.secret_name
    }

    /// The secret's labels.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }

    /// The latest version's value.
    pub fn get_value(&self) -> Result<SecretString, GsmError> {
        self.manager
            .get_secret(&self.secret_name)?
            .ok_or_else(|| GsmError::NoVersion {
                name: self.secret_name.clone(),
            })
    }

    /// The latest version's value, parsed as JSON (a connector config, a key).
    pub fn parse_json(&self) -> Result<Value, GsmError> {
        let value = self.get_value()?;
        serde_json::from_str(value.expose()).map_err(|e| GsmError::BadPayload {
            name: self.secret_name.clone(),
            reason: format!("it is not valid JSON ({e})"),
        })
    }

    /// Writes the value to a file readable by its owner only; says so on stderr unless
    /// `silent`.
    pub fn write_to_file(&self, file_path: &Path, silent: bool) -> Result<(), GsmError> {
        let value = self.get_value()?;
        if !silent {
            let short = self
                .secret_name
                .rsplit('/')
                .next()
                .unwrap_or(&self.secret_name);
            let shown = std::path::absolute(file_path).unwrap_or_else(|_| file_path.to_path_buf());
            eprintln!("Writing secret '{short}' to '{}'", shown.display());
        }
        write_private(file_path, value.expose().as_bytes()).map_err(|source| GsmError::Write {
            name: self.secret_name.clone(),
            path: file_path.to_path_buf(),
            source,
        })
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)
}

impl GsmClient {
    /// The version to read for a name, or `None` when no Secret Manager secret can have it.
    fn version_name(&self, secret_name: &str) -> Option<String> {
        let mut full = if secret_name.contains("projects/") {
            let ok = secret_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:".contains(c))
                && !secret_name
                    .split('/')
                    .any(|s| s.is_empty() || s == "." || s == "..");
            if !ok {
                return None;
            }
            secret_name.to_string()
        } else {
            // Secret ids: letters, digits, `-` and `_`, at most 255 of them.
            let ok = !secret_name.is_empty()
                && secret_name.len() <= 255
                && secret_name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return None;
            }
            format!("projects/{}/secrets/{secret_name}", self.project)
        };
        if !full.contains("/versions/") {
            full.push_str("/versions/latest");
        }
        Some(full)
    }

    /// Reads a version; `None` on 404 or an empty value.
    fn access(&self, version: &str) -> Result<Option<SecretString>, GsmError> {
        let url = format!("{}/{version}:access", self.base_url);
        let Some(body) = self.get_json(&url)? else {
            return Ok(None);
        };
        let bad = |reason: &str| GsmError::BadPayload {
            name: version.to_string(),
            reason: reason.to_string(),
        };
        let data = body
            .get("payload")
            .and_then(|p| p.get("data"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let bytes = STANDARD
            .decode(data)
            .or_else(|_| URL_SAFE.decode(data))
            .map_err(|_| bad("the payload is not base64"))?;
        let text = String::from_utf8(bytes).map_err(|_| bad("the value is not UTF-8 text"))?;
        Ok((!text.is_empty()).then_some(SecretString(text)))
    }

    /// A valid access token, fetched when there is none or it is about to expire.
    fn token(&self, renew: bool) -> Result<SecretString, GsmError> {
        let mut slot = self.token.lock().unwrap_or_else(PoisonError::into_inner);
        if !renew && let Some(t) = slot.as_ref().filter(|t| t.is_fresh()) {
            return Ok(t.token.clone());
        }
        let fresh = fetch_token(&self.http, &self.key)?;
        let token = fresh.token.clone();
        *slot = Some(fresh);
        Ok(token)
    }

    /// GETs a JSON document with the access token: `None` on 404. A 401 gets one more try with
    /// a new token.
    fn get_json(&self, url: &str) -> Result<Option<Value>, GsmError> {
        let failed = |reason: String| GsmError::Request {
            url: url.to_string(),
            reason,
        };
        let mut renew = false;
        loop {
            let token = self.token(renew)?;
            let response = self
                .http
                .get(url)
                .bearer_auth(token.expose())
                .header("accept", "application/json")
                .send()
                .map_err(|e| failed(crate::http_error::describe(&e)))?;
            let status = response.status();
            if status == reqwest::StatusCode::UNAUTHORIZED && !renew {
                renew = true;
                continue;
            }
            if status == reqwest::StatusCode::NOT_FOUND {
                return Ok(None);
            }
            let text = response
                .text()
                .map_err(|e| failed(crate::http_error::describe(&e)))?;
            if !status.is_success() {
                return Err(failed(self.status_reason(status, &text)));
            }
            // serde_json's messages give a position, never the (possibly secret) text.
            return serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| failed(format!("the response is not JSON ({e})")));
        }
    }

    /// An error status with Google's message (`{"error": {"message": ...}}`) and what to do.
    fn status_reason(&self, status: reqwest::StatusCode, body: &str) -> String {
        let message = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| {
                v.get("error")
                    .and_then(|e| e.get("message"))
                    .and_then(Value::as_str)
                    .map(|m| truncate(m, 300))
            })
            .unwrap_or_else(|| "no error message".into());
        let hint = match status.as_u16() {
            401 => " The access token was refused; check the service-account key.".to_string(),
            403 => format!(
                " The service account needs the role Secret Manager Secret Accessor (and Viewer, \
                 to list secrets) on project `{}`, and the Secret Manager API must be enabled.",
                self.project
            ),
            429 | 500..=599 => " Try again later.".to_string(),
            _ => String::new(),
        };
        format!("HTTP {status} ({message}).{hint}")
    }
}

/// Where the key comes from: the options, else the environment.
fn credentials(options: &GsmOptions) -> Result<(SecretString, String), GsmError> {
    let from_file = |path: &Path| {
        std::fs::read_to_string(path)
            .map(|text| {
                (
                    SecretString(text),
                    format!("in the file {}", path.display()),
                )
            })
            .map_err(|source| GsmError::CredentialsFile {
                path: path.to_path_buf(),
                source,
            })
    };
    match (&options.credentials_path, &options.credentials_json) {
        (Some(_), Some(_)) => Err(GsmError::BothCredentials),
        (Some(path), None) => from_file(path),
        (None, Some(json)) => Ok((json.clone(), "given as `credentials_json`".into())),
        (None, None) => {
            if let Some(path) =
                std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS").filter(|p| !p.is_empty())
            {
                return from_file(Path::new(&path));
            }
            match std::env::var("GCP_GSM_CREDENTIALS") {
                Ok(json) if !json.is_empty() => {
                    Ok((SecretString(json), "in GCP_GSM_CREDENTIALS".into()))
                }
                _ => Err(GsmError::NoCredentials),
            }
        }
    }
}
