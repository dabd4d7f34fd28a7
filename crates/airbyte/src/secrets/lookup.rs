//! `get_secret`: asking the registered managers in order (PyAirbyte's `secrets/util.py`).

use std::sync::Arc;

use super::manager::{SecretManager, SecretSource, SecretSourceEnum, secret_sources};
use super::{SECRET_REFERENCE_PREFIX, SecretString};
use crate::error::{Error, Result};

/// How [`get_secret_with`] looks a secret up; the default is [`get_secret`]'s (every registered
/// source, prompt allowed).
#[derive(Debug, Clone)]
pub struct GetSecretOptions {
    /// The sources to ask, in order (default: every registered one). Kinds and names must be
    /// registered; managers are asked whether registered or not.
    pub sources: Option<Vec<SecretSource>>,
    /// The value when no source has the secret (an empty default counts as none).
    pub default: Option<SecretString>,
    /// Whether the prompt may be asked (last, and only on a terminal).
    pub allow_prompt: bool,
}

impl Default for GetSecretOptions {
    fn default() -> Self {
        Self {
            sources: None,
            default: None,
            allow_prompt: true,
        }
    }
}

/// Looks a secret up in every registered source (custom managers, the environment, `./.env`,
/// Google Secret Manager when registered, then a prompt on a terminal), as PyAirbyte's
/// `get_secret(name)`. A `secret_reference::` prefix on `name` is ignored.
///
/// Fails with [`Error::SecretNotFound`], naming the secret and every place looked in, when no
/// source has a non-empty value.
pub fn get_secret(name: &str) -> Result<SecretString> {
    get_secret_with(name, GetSecretOptions::default())
}

/// [`get_secret`] with PyAirbyte's `sources`, `default` and `allow_prompt`.
///
/// A source that fails (a secret store that cannot be reached) is logged and skipped; its
/// failure is part of the not-found error. The prompt is always asked last, and only with
/// `allow_prompt`. A kind or name in `sources` that is not registered is an [`Error::Input`]
/// listing the registered ones.
pub fn get_secret_with(name: &str, options: GetSecretOptions) -> Result<SecretString> {
    let name = bare_name(name);
    let registered = secret_sources();
    let mut managers: Vec<Arc<dyn SecretManager>> = match &options.sources {
        None => registered.clone(),
        Some(sources) => sources
            .iter()
            .map(|s| resolve(s, &registered))
            .collect::<Result<_>>()?,
    };
    let prompt = SecretSourceEnum::Prompt.as_str();
    let prompts: Vec<_> = managers
        .iter()
        .filter(|m| m.name() == prompt)
        .cloned()
        .collect();
    managers.retain(|m| m.name() != prompt);
    let prompt_skipped = !options.allow_prompt && !prompts.is_empty();
    if options.allow_prompt {
        managers.extend(prompts);
    }

    let mut looked_in = Vec::new();
    for manager in &managers {
        match manager.get_secret(name) {
            Ok(Some(value)) if !value.is_empty() => return Ok(value),
            Ok(_) => looked_in.push(manager.describe_lookup(name)),
            Err(e) => {
                tracing::warn!(
                    "secret source `{}` failed while looking up `{name}`: {e}",
                    manager.name()
                );
                looked_in.push(format!(
                    "{} (which failed: {e})",
                    manager.describe_lookup(name)
                ));
            }
        }
    }
    if let Some(default) = options.default.filter(|d| !d.is_empty()) {
        return Ok(default);
    }
    if prompt_skipped {
        looked_in.push("no prompt (prompts were not allowed)".into());
    }
    if looked_in.is_empty() {
        looked_in.push("nowhere: no secret source is registered".into());
    }
    Err(Error::SecretNotFound {
        secret: name.to_string(),
        looked_in: looked_in.join(", then "),
    })
}

/// Looks a secret up without prompting; `None` when no source has it (PyAirbyte's
/// `try_get_secret`). A `secret_reference::` prefix on `name` is ignored.
pub fn try_get_secret(name: &str) -> Option<SecretString> {
    get_secret_with(
        name,
        GetSecretOptions {
            allow_prompt: false,
            ..Default::default()
        },
    )
    .ok()
}

/// Whether some source has the secret, without prompting (PyAirbyte's `is_secret_available`).
pub fn is_secret_available(name: &str) -> bool {
    try_get_secret(name).is_some()
}

/// The name without a `secret_reference::` prefix (and the spaces after it).
pub(crate) fn bare_name(name: &str) -> &str {
    match name.strip_prefix(SECRET_REFERENCE_PREFIX) {
        Some(rest) => rest.trim_start(),
        None => name,
    }
}

fn resolve(
    source: &SecretSource,
    registered: &[Arc<dyn SecretManager>],
) -> Result<Arc<dyn SecretManager>> {
    if let SecretSource::Manager(m) = source {
        return Ok(m.clone());
    }
    registered
        .iter()
        .find(|m| m.name() == source.name())
        .cloned()
        .ok_or_else(|| {
            let available: Vec<String> = registered
                .iter()
                .map(|m| format!("`{}`", m.name()))
                .collect();
            Error::input(
                format!(
                    "the secret source `{}` is not registered (registered: {})",
                    source.name(),
                    if available.is_empty() {
                        "none".to_string()
                    } else {
                        available.join(", ")
                    }
                ),
                "register it first (register_secret_manager), or leave it out of `sources`",
            )
        })
}
