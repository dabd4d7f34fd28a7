//! Secrets: `get_secret`, the secret managers it asks, `secret_reference::NAME` values in configs,
//! and masking configs for display (PyAirbyte's `airbyte/secrets`).
//!
//! [`get_secret`] asks the registered secret managers in order: custom managers registered with
//! [`register_secret_manager`] (the last registered first), the environment
//! ([`EnvVarSecretManager`]), the `.env` file of the current directory ([`DotenvSecretManager`]),
//! then, on a terminal and only when allowed, a prompt that does not echo ([`SecretsPrompt`]).
//! Google Secret Manager ([`GoogleGSMSecretManager`]) is asked once it is registered. An empty
//! value counts as missing. A secret nobody has is an [`Error::SecretNotFound`] that names the
//! secret and every place looked in, never a value.
//!
//! Config values of the form `secret_reference::NAME`, nested anywhere in objects and arrays,
//! are replaced by the secret before the config is validated and before it is written to the
//! connector's (private) config file; the config the user set is kept as given, so
//! `get_config()` never reveals a secret that came from a reference. [`mask_config`] gives a
//! copy of a config fit to show, and [`detect_hardcoded_secrets`] finds secrets written into a
//! config instead of referenced.
//!
//! ```
//! use airbyte as ab;
//! // SAFETY of the example: single-threaded doctest.
//! unsafe { std::env::set_var("MY_DOC_TOKEN", "s3cr3t") };
//! let token = ab::get_secret("MY_DOC_TOKEN").unwrap();
//! assert_eq!(token.expose(), "s3cr3t");
//! assert_eq!(format!("{token:?}"), "<SecretString: ****>");
//!
//! let options = ab::secrets::GetSecretOptions {
//!     sources: Some(vec![ab::secrets::SecretSourceEnum::Env.into()]),
//!     default: Some("fallback".into()),
//!     allow_prompt: false,
//! };
//! let other = ab::secrets::get_secret_with("MY_DOC_UNSET", options).unwrap();
//! assert_eq!(other.expose(), "fallback");
//! ```

use std::fmt;

use serde_json::Value;

use crate::error::{Error, Result};

mod env;
mod gsm;
mod gsm_auth;
mod hydration;
mod lookup;
mod manager;
mod masking;
mod prompt;

pub use env::{DotenvSecretManager, EnvVarSecretManager};
pub use gsm::{
    DEFAULT_GSM_BASE_URL, GSMSecretHandle, GoogleGSMSecretManager, GsmError, GsmOptions,
};
pub(crate) use hydration::secret_values;
pub use hydration::{hydrate_config, is_secret_reference};
pub use lookup::{
    GetSecretOptions, get_secret, get_secret_with, is_secret_available, try_get_secret,
};
pub use manager::{
    RegisterOptions, SecretManager, SecretManagerError, SecretSource, SecretSourceEnum,
    clear_secret_sources, disable_secret_source, register_secret_manager, secret_sources,
};
pub use masking::{MASK, detect_hardcoded_secrets, global_secret_mask, mask_config};
pub use prompt::SecretsPrompt;

/// The prefix that marks a config value as a reference to a secret.
pub const SECRET_REFERENCE_PREFIX: &str = "secret_reference::";

/// A secret value. `Debug` and `Display` print `****`; [`SecretString::expose`] gives the value.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The secret value, consuming the wrapper.
    pub fn into_inner(self) -> String {
        self.0
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the value is one valid JSON document.
    pub fn is_json(&self) -> bool {
        serde_json::from_str::<serde::de::IgnoredAny>(&self.0).is_ok()
    }

    /// Parses the value as JSON (e.g. a service-account key stored in one variable). The error
    /// gives the position and the length of the value, never the value.
    pub fn parse_json(&self) -> Result<Value> {
        serde_json::from_str(&self.0).map_err(|e| {
            Error::input(
                format!(
                    "the secret is not valid JSON ({e}; the value has {} characters)",
                    self.0.chars().count()
                ),
                "store the secret as one JSON document",
            )
        })
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self(value.to_string())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<SecretString: ****>")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_masked() {
        let s = SecretString::new("x");
        assert_eq!(format!("{s} {s:?}"), "**** <SecretString: ****>");
        assert_eq!(
            format!("{:?}", Some(vec![s])),
            "Some([<SecretString: ****>])"
        );
    }

    #[test]
    fn json_errors_do_not_show_the_value() {
        let s = SecretString::new("{\"a\": hunter2}");
        assert!(!s.is_json());
        let err = s
            .parse_json()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("not valid JSON"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(SecretString::new("{\"a\": 1}").is_json());
    }
}
