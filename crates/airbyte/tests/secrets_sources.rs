//! `get_secret` over the registered secret managers: order, registration, disabling, explicit
//! sources, defaults, prompts not allowed, failing managers, not-found errors; masking a real
//! connector's config. The tests share the process-wide list of sources, so they take a lock
//! and restore the default list.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ab::secrets::{
    DotenvSecretManager, EnvVarSecretManager, GetSecretOptions, RegisterOptions, SecretManager,
    SecretManagerError, SecretSource, SecretSourceEnum, SecretString, SecretsPrompt,
};
use airbyte as ab;
use serde_json::json;

static LOCK: Mutex<()> = Mutex::new(());

/// Holds the lock and puts the default sources back when dropped.
struct Sources(#[allow(dead_code)] MutexGuard<'static, ()>);

impl Drop for Sources {
    fn drop(&mut self) {
        reset();
    }
}

fn reset() {
    ab::secrets::clear_secret_sources();
    let defaults: [Arc<dyn SecretManager>; 3] = [
        Arc::new(SecretsPrompt::default()),
        Arc::new(DotenvSecretManager::default()),
        Arc::new(EnvVarSecretManager),
    ];
    for m in defaults {
        ab::secrets::register_secret_manager(m, RegisterOptions::default());
    }
}

fn sources() -> Sources {
    let guard = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    reset();
    Sources(guard)
}

fn names() -> Vec<String> {
    ab::secrets::secret_sources()
        .iter()
        .map(|m| m.name().to_string())
        .collect()
}

/// A store with fixed secrets.
struct Fixed {
    name: &'static str,
    secrets: Vec<(&'static str, &'static str)>,
}

impl SecretManager for Fixed {
    fn name(&self) -> &str {
        self.name
    }

    fn get_secret(&self, secret_name: &str) -> Result<Option<SecretString>, SecretManagerError> {
        Ok(self
            .secrets
            .iter()
            .find(|(k, _)| *k == secret_name)
            .map(|(_, v)| SecretString::new(*v)))
    }
}

fn fixed(name: &'static str, secrets: &[(&'static str, &'static str)]) -> Arc<dyn SecretManager> {
    Arc::new(Fixed {
        name,
        secrets: secrets.to_vec(),
    })
}

/// A store that cannot be reached.
struct Down;

impl SecretManager for Down {
    fn name(&self) -> &str {
        "down"
    }

    fn get_secret(&self, _: &str) -> Result<Option<SecretString>, SecretManagerError> {
        Err(SecretManagerError::new(
            "connection refused by vault.invalid",
        ))
    }

    fn describe_lookup(&self, secret_name: &str) -> String {
        format!("the vault at vault.invalid (key `{secret_name}`)")
    }
}

fn no_prompt() -> GetSecretOptions {
    GetSecretOptions {
        allow_prompt: false,
        ..Default::default()
    }
}

fn value(result: ab::Result<SecretString>) -> Option<String> {
    result.ok().map(SecretString::into_inner)
}

#[test]
fn the_default_sources_are_pyairbytes() {
    let _s = sources();
    assert_eq!(names(), ["env", "dotenv", "prompt"]);
    assert_eq!(SecretSourceEnum::GoogleGsm.to_string(), "google_gsm");
    assert_eq!(
        "dotenv".parse::<SecretSourceEnum>().ok(),
        Some(SecretSourceEnum::Dotenv)
    );
    assert!("colab".parse::<SecretSourceEnum>().is_err());
}

#[test]
fn custom_managers_come_first_backups_last_and_replace_clears() {
    let _s = sources();
    // SAFETY: these variable names are used by this test only.
    unsafe { std::env::set_var("ABRS_SRC_ORDER", "from-env") };
    assert_eq!(
        value(ab::get_secret("ABRS_SRC_ORDER")),
        Some("from-env".into())
    );

    ab::secrets::register_secret_manager(
        fixed("vault", &[("ABRS_SRC_ORDER", "from-vault")]),
        RegisterOptions::default(),
    );
    ab::secrets::register_secret_manager(
        fixed(
            "backup",
            &[("ABRS_SRC_ORDER", "from-backup"), ("ONLY_BACKUP", "b")],
        ),
        RegisterOptions {
            as_backup: true,
            ..Default::default()
        },
    );
    assert_eq!(names(), ["vault", "env", "dotenv", "prompt", "backup"]);
    assert_eq!(
        value(ab::get_secret("ABRS_SRC_ORDER")),
        Some("from-vault".into())
    );
    // The prompt is asked last even when a backup follows it in the list; not at all here.
    assert_eq!(
        value(ab::get_secret_with("ONLY_BACKUP", no_prompt())),
        Some("b".into())
    );

    // The same name replaces the registered one.
    ab::secrets::register_secret_manager(
        fixed("vault", &[("ABRS_SRC_ORDER", "from-vault-2")]),
        RegisterOptions::default(),
    );
    assert_eq!(names(), ["vault", "env", "dotenv", "prompt", "backup"]);
    assert_eq!(
        value(ab::get_secret("ABRS_SRC_ORDER")),
        Some("from-vault-2".into())
    );

    ab::secrets::disable_secret_source("vault");
    assert_eq!(
        value(ab::get_secret("ABRS_SRC_ORDER")),
        Some("from-env".into())
    );
    ab::secrets::disable_secret_source(SecretSourceEnum::Env);
    assert_eq!(
        value(ab::get_secret_with("ABRS_SRC_ORDER", no_prompt())),
        Some("from-backup".into())
    );

    ab::secrets::register_secret_manager(
        fixed("only", &[("X", "x")]),
        RegisterOptions {
            replace_existing: true,
            ..Default::default()
        },
    );
    assert_eq!(names(), ["only"]);
    unsafe { std::env::remove_var("ABRS_SRC_ORDER") };
}

#[test]
fn explicit_sources_defaults_and_references() {
    let _s = sources();
    unsafe { std::env::set_var("ABRS_SRC_EXPLICIT", "from-env") };
    ab::secrets::register_secret_manager(
        fixed("vault", &[("ABRS_SRC_EXPLICIT", "from-vault")]),
        RegisterOptions::default(),
    );
    let only = |sources: Vec<SecretSource>| GetSecretOptions {
        sources: Some(sources),
        ..no_prompt()
    };
    assert_eq!(
        value(ab::get_secret_with(
            "ABRS_SRC_EXPLICIT",
            only(vec![SecretSourceEnum::Env.into(), "vault".into()])
        )),
        Some("from-env".into())
    );
    // An unregistered manager given as such is asked too.
    let unregistered = fixed("elsewhere", &[("ABRS_SRC_EXPLICIT", "from-elsewhere")]);
    assert_eq!(
        value(ab::get_secret_with(
            "ABRS_SRC_EXPLICIT",
            only(vec![unregistered.into()])
        )),
        Some("from-elsewhere".into())
    );
    let err = ab::get_secret_with("ABRS_SRC_EXPLICIT", only(vec!["nope".into()])).err();
    assert!(
        matches!(&err, Some(ab::Error::Input { message, .. })
            if message.contains("`nope` is not registered")
                && message.contains("`vault`, `env`, `dotenv`, `prompt`")),
        "{err:?}"
    );

    // The prefix (and spaces after it) is ignored; references resolve through every source.
    assert_eq!(
        value(ab::get_secret("secret_reference::  ABRS_SRC_EXPLICIT")),
        Some("from-vault".into())
    );
    let hydrated = ab::secrets::hydrate_config(&json!({
        "a": ["secret_reference::ABRS_SRC_EXPLICIT"], "b": {"c": "plain"}}))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(hydrated, json!({"a": ["from-vault"], "b": {"c": "plain"}}));

    // Defaults: used when nothing has the secret; an empty default counts as none.
    let with_default = |d: &str| GetSecretOptions {
        default: Some(d.into()),
        ..no_prompt()
    };
    assert_eq!(
        value(ab::get_secret_with("ABRS_SRC_UNSET", with_default("dflt"))),
        Some("dflt".into())
    );
    assert_eq!(
        value(ab::get_secret_with(
            "ABRS_SRC_EXPLICIT",
            with_default("dflt")
        )),
        Some("from-vault".into())
    );
    assert!(ab::get_secret_with("ABRS_SRC_UNSET", with_default("")).is_err());

    assert!(ab::secrets::is_secret_available("ABRS_SRC_EXPLICIT"));
    assert!(!ab::secrets::is_secret_available("ABRS_SRC_UNSET"));
    assert_eq!(
        ab::secrets::try_get_secret("ABRS_SRC_EXPLICIT").map(SecretString::into_inner),
        Some("from-vault".into())
    );
    unsafe { std::env::remove_var("ABRS_SRC_EXPLICIT") };
}

#[test]
fn a_missing_secret_names_every_place_looked_in_and_no_value() {
    let _s = sources();
    ab::secrets::register_secret_manager(Arc::new(Down), RegisterOptions::default());
    // Empty values count as missing, from any source.
    unsafe { std::env::set_var("ABRS_SRC_MISSING", "") };
    ab::secrets::register_secret_manager(
        fixed("blank", &[("ABRS_SRC_MISSING", "")]),
        RegisterOptions {
            as_backup: true,
            ..Default::default()
        },
    );
    let err = ab::get_secret_with("ABRS_SRC_MISSING", no_prompt()).err();
    let text = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(
        matches!(&err, Some(ab::Error::SecretNotFound { secret, .. }) if secret == "ABRS_SRC_MISSING"),
        "{err:?}"
    );
    let cwd = std::env::current_dir().unwrap_or_else(|e| panic!("{e}"));
    let places = [
        "the vault at vault.invalid (key `ABRS_SRC_MISSING`) (which failed: connection refused by vault.invalid)",
        "the environment variable `ABRS_SRC_MISSING`",
        &format!("the file {}", cwd.join(".env").display()),
        "the secret manager `blank`",
        "no prompt (prompts were not allowed)",
    ];
    let mut at = 0;
    for place in places {
        let found = text[at..].find(place);
        assert!(found.is_some(), "`{place}` not (in order) in: {text}");
        at += found.unwrap_or(0);
    }

    // With prompts allowed but no terminal (or the prompt disabled), it says so.
    ab::secrets::disable_secret_source(SecretSourceEnum::Prompt);
    let text = ab::get_secret("ABRS_SRC_MISSING")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(!text.contains("prompt"), "{text}");
    ab::secrets::clear_secret_sources();
    let text = ab::get_secret("ABRS_SRC_MISSING")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(text.contains("no secret source is registered"), "{text}");
    unsafe { std::env::remove_var("ABRS_SRC_MISSING") };
}

#[test]
fn another_dotenv_file_is_a_source_of_its_own() {
    let _s = sources();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("team.env");
    std::fs::write(
        &path,
        "ABRS_SRC_TEAM=first\nnot a valid line SECRETVALUE\nexport ABRS_SRC_TEAM=second\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let team = DotenvSecretManager::new(&path);
    assert_eq!(team.name(), path.display().to_string());
    ab::secrets::register_secret_manager(
        Arc::new(team),
        RegisterOptions {
            as_backup: true,
            ..Default::default()
        },
    );
    assert_eq!(names().len(), 4);
    // A later definition wins; the unreadable line is skipped.
    assert_eq!(
        value(ab::get_secret_with("ABRS_SRC_TEAM", no_prompt())),
        Some("second".into())
    );
}

#[test]
fn a_connectors_config_is_masked_with_its_spec() {
    let fixture = format!(
        "{}/../../tests/fixtures/source-fixture",
        env!("CARGO_MANIFEST_DIR")
    );
    let source =
        ab::get_source(&fixture, None, Default::default()).unwrap_or_else(|e| panic!("{e}"));
    let spec = source.config_spec().unwrap_or_else(|e| panic!("{e}"));
    let config = json!({"count": 3, "api_key": "k-123", "mode": "normal",
        "nested": {"client_secret": "cs"}});
    assert_eq!(
        ab::secrets::mask_config(&config, Some(spec)),
        json!({"count": 3, "api_key": "****", "mode": "normal",
            "nested": {"client_secret": "****"}})
    );
    assert_eq!(
        ab::secrets::detect_hardcoded_secrets(&config, Some(spec)),
        ["/api_key"]
    );
    let referenced = json!({"count": 3, "api_key": "secret_reference::K"});
    assert!(ab::secrets::detect_hardcoded_secrets(&referenced, Some(spec)).is_empty());
}
