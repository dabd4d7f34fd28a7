//! The [`SecretManager`] trait and the process-wide list of registered managers that
//! [`get_secret`](super::get_secret) asks (PyAirbyte's `secrets/base.py` and `secrets/config.py`).

use std::fmt;
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use super::SecretString;
use super::env::{DotenvSecretManager, EnvVarSecretManager};
use super::prompt::SecretsPrompt;

/// The built-in kinds of secret source (PyAirbyte's `SecretSourceEnum`; there is no
/// `google_colab` here, as a Rust process does not run in a Colab kernel).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretSourceEnum {
    /// The process environment (`"env"`).
    Env,
    /// The `.env` file of the current directory (`"dotenv"`).
    Dotenv,
    /// Google Secret Manager (`"google_gsm"`), once a [`GoogleGSMSecretManager`] is registered.
    ///
    /// [`GoogleGSMSecretManager`]: super::GoogleGSMSecretManager
    GoogleGsm,
    /// An interactive prompt on the terminal (`"prompt"`), always asked last.
    Prompt,
}

impl SecretSourceEnum {
    /// The source's name, as PyAirbyte spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Env => "env",
            Self::Dotenv => "dotenv",
            Self::GoogleGsm => "google_gsm",
            Self::Prompt => "prompt",
        }
    }
}

impl fmt::Display for SecretSourceEnum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SecretSourceEnum {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Env, Self::Dotenv, Self::GoogleGsm, Self::Prompt]
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| {
                crate::Error::input(
                    format!("`{s}` is not a secret source"),
                    "use one of env, dotenv, google_gsm, prompt",
                )
            })
    }
}

/// Why a secret manager could not answer (as opposed to not having the secret). The message
/// never holds a secret value.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SecretManagerError {
    message: String,
}

impl SecretManagerError {
    /// An error with this message (which must not contain secret values).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// A store of secrets that [`get_secret`](super::get_secret) can ask (PyAirbyte's
/// `SecretManager`). Implement it for a custom store and [`register_secret_manager`] it.
///
/// ```
/// use std::sync::Arc;
/// use airbyte::secrets::{self, SecretManager, SecretManagerError, SecretString};
///
/// struct Vault;
/// impl SecretManager for Vault {
///     fn name(&self) -> &str { "vault" }
///     fn get_secret(&self, name: &str) -> Result<Option<SecretString>, SecretManagerError> {
///         Ok((name == "DOC_VAULT_KEY").then(|| SecretString::new("from-vault")))
///     }
/// }
/// secrets::register_secret_manager(Arc::new(Vault), Default::default());
/// assert_eq!(secrets::get_secret("DOC_VAULT_KEY").unwrap().expose(), "from-vault");
/// secrets::disable_secret_source("vault");
/// ```
pub trait SecretManager: Send + Sync {
    /// The name sources are matched by: a [`SecretSourceEnum`] name for the built-in managers.
    /// Registering a manager replaces a registered one with the same name.
    fn name(&self) -> &str;

    /// The secret, `Ok(None)` when this manager does not have it. An empty value counts as
    /// missing. An `Err` means the store could not be asked (the lookup goes on with the next
    /// manager, and the failure is reported if no manager has the secret).
    fn get_secret(&self, secret_name: &str) -> Result<Option<SecretString>, SecretManagerError>;

    /// Where this manager looks for `secret_name`, for the error when no manager has it.
    fn describe_lookup(&self, secret_name: &str) -> String {
        let _ = secret_name;
        format!("the secret manager `{}`", self.name())
    }
}

impl fmt::Debug for dyn SecretManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretManager({})", self.name())
    }
}

/// A secret source to ask, for [`GetSecretOptions::sources`](super::GetSecretOptions) and
/// [`disable_secret_source`]: a built-in kind, the name of a registered manager, or a manager.
#[derive(Clone, Debug)]
pub enum SecretSource {
    /// The registered manager of this kind.
    Enum(SecretSourceEnum),
    /// The registered manager with this name.
    Name(String),
    /// This manager (registered or not).
    Manager(Arc<dyn SecretManager>),
}

impl SecretSource {
    /// The name the source is matched by.
    pub fn name(&self) -> &str {
        match self {
            Self::Enum(e) => e.as_str(),
            Self::Name(n) => n,
            Self::Manager(m) => m.name(),
        }
    }
}

impl From<SecretSourceEnum> for SecretSource {
    fn from(value: SecretSourceEnum) -> Self {
        Self::Enum(value)
    }
}

impl From<&str> for SecretSource {
    fn from(value: &str) -> Self {
        Self::Name(value.to_string())
    }
}

impl From<String> for SecretSource {
    fn from(value: String) -> Self {
        Self::Name(value)
    }
}

impl From<Arc<dyn SecretManager>> for SecretSource {
    fn from(value: Arc<dyn SecretManager>) -> Self {
        Self::Manager(value)
    }
}

/// How [`register_secret_manager`] places a manager.
#[derive(Debug, Clone, Copy, Default)]
pub struct RegisterOptions {
    /// Ask it after the others instead of first.
    pub as_backup: bool,
    /// Unregister every other source first (the environment and `.env` included).
    pub replace_existing: bool,
}

fn default_sources() -> Vec<Arc<dyn SecretManager>> {
    vec![
        Arc::new(EnvVarSecretManager),
        Arc::new(DotenvSecretManager::default()),
        Arc::new(SecretsPrompt::default()),
    ]
}

static SOURCES: LazyLock<RwLock<Vec<Arc<dyn SecretManager>>>> =
    LazyLock::new(|| RwLock::new(default_sources()));

/// The registered managers, in the order they are asked.
pub fn secret_sources() -> Vec<Arc<dyn SecretManager>> {
    SOURCES
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// Registers a secret manager (PyAirbyte's `register_secret_manager`): asked first, or last
/// with `as_backup`; with `replace_existing` the other sources are unregistered first. A
/// registered manager with the same name is replaced.
pub fn register_secret_manager(manager: Arc<dyn SecretManager>, options: RegisterOptions) {
    let mut sources = SOURCES.write().unwrap_or_else(PoisonError::into_inner);
    if options.replace_existing {
        sources.clear();
    }
    sources.retain(|m| m.name() != manager.name());
    if options.as_backup {
        sources.push(manager);
    } else {
        sources.insert(0, manager);
    }
}

/// Unregisters a source (a kind, a name, or a manager, matched by name); PyAirbyte's
/// `disable_secret_source`. Nothing happens when none is registered.
pub fn disable_secret_source(source: impl Into<SecretSource>) {
    let source = source.into();
    SOURCES
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|m| m.name() != source.name());
}

/// Unregisters every source, the built-in ones included (PyAirbyte's `clear_secret_sources`).
pub fn clear_secret_sources() {
    SOURCES
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
}
