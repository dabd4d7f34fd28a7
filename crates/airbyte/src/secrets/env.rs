//! Secrets from the environment and from `.env` files (PyAirbyte's `secrets/env_vars.py`).

use std::path::PathBuf;

use super::SecretString;
use super::manager::{SecretManager, SecretManagerError, SecretSourceEnum};

/// Secrets from the process environment (`"env"`). An empty variable counts as missing.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvVarSecretManager;

impl SecretManager for EnvVarSecretManager {
    fn name(&self) -> &str {
        SecretSourceEnum::Env.as_str()
    }

    fn get_secret(&self, secret_name: &str) -> Result<Option<SecretString>, SecretManagerError> {
        Ok(std::env::var(secret_name)
            .ok()
            .filter(|v| !v.is_empty())
            .map(SecretString))
    }

    fn describe_lookup(&self, secret_name: &str) -> String {
        format!("the environment variable `{secret_name}`")
    }
}

/// Secrets from a `.env` file: by default `.env` in the current directory (`"dotenv"`), read
/// at each lookup so that edits and directory changes count. A later definition of a name wins,
/// as when the file is sourced by a shell; unreadable lines are skipped with a warning; a
/// missing file has no secrets.
#[derive(Debug, Clone, Default)]
pub struct DotenvSecretManager {
    dotenv_path: Option<PathBuf>,
    name: Option<String>,
}

impl DotenvSecretManager {
    /// A manager for another file. Its name is the path (as in PyAirbyte), so it can be
    /// registered next to the default `dotenv` one.
    pub fn new(dotenv_path: impl Into<PathBuf>) -> Self {
        let dotenv_path = dotenv_path.into();
        Self {
            name: Some(dotenv_path.display().to_string()),
            dotenv_path: Some(dotenv_path),
        }
    }

    /// The file this manager reads now.
    pub fn path(&self) -> PathBuf {
        match &self.dotenv_path {
            Some(p) => p.clone(),
            None => std::env::current_dir()
                .map(|d| d.join(".env"))
                .unwrap_or_else(|_| PathBuf::from(".env")),
        }
    }
}

impl SecretManager for DotenvSecretManager {
    fn name(&self) -> &str {
        // PyAirbyte names the default one "env", which hides the environment source when both
        // are looked up by name; here it is "dotenv", as its SecretSourceEnum value says.
        self.name
            .as_deref()
            .unwrap_or(SecretSourceEnum::Dotenv.as_str())
    }

    fn get_secret(&self, secret_name: &str) -> Result<Option<SecretString>, SecretManagerError> {
        let path = self.path();
        let Ok(iter) = dotenvy::from_path_iter(&path) else {
            return Ok(None);
        };
        let mut found = None;
        for item in iter {
            match item {
                Ok((key, value)) if key == secret_name => found = Some(value),
                Ok(_) => {}
                // dotenvy's parse errors quote the offending line, which may hold a secret:
                // say only where it is.
                Err(_) => tracing::warn!("skipping an unreadable line of {}", path.display()),
            }
        }
        Ok(found.filter(|v| !v.is_empty()).map(SecretString))
    }

    fn describe_lookup(&self, _secret_name: &str) -> String {
        format!("the file {}", self.path().display())
    }
}
