//! Asking the user for a secret on the terminal, without echo (PyAirbyte's `secrets/prompt.py`).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Mutex, PoisonError};

use super::SecretString;
use super::manager::{SecretManager, SecretManagerError, SecretSourceEnum};

/// Prompts for a secret on the terminal (`"prompt"`), as PyAirbyte does with `getpass`: only
/// when standard input and output are terminals and `CI` is not set, and only when the lookup
/// allows prompts; [`get_secret`](super::get_secret) always asks it last. The typed value is not
/// echoed. An answer is kept for the rest of the process, so that a secret used by several
/// operations (validation, check, read) is asked once; an empty answer counts as missing.
///
/// The prompt reads `/dev/tty` and turns echo off with `stty`; where there is no `/dev/tty`
/// (Windows), it never prompts.
#[derive(Debug, Default)]
pub struct SecretsPrompt {
    answers: Mutex<HashMap<String, SecretString>>,
}

impl SecretsPrompt {
    /// Whether this process can prompt: stdin and stdout are terminals and `CI` is unset
    /// (PyAirbyte's `is_interactive`).
    pub fn is_interactive() -> bool {
        std::env::var_os("CI").is_none()
            && std::io::stdin().is_terminal()
            && std::io::stdout().is_terminal()
            && cfg!(unix)
    }
}

impl SecretManager for SecretsPrompt {
    fn name(&self) -> &str {
        SecretSourceEnum::Prompt.as_str()
    }

    fn get_secret(&self, secret_name: &str) -> Result<Option<SecretString>, SecretManagerError> {
        // The lock is held while prompting, so that two threads never prompt at once and a
        // second one waiting for the same secret gets the first one's answer.
        let mut answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = answers.get(secret_name) {
            return Ok(Some(known.clone()));
        }
        if !Self::is_interactive() {
            return Ok(None);
        }
        let answer = read_hidden(&format!("Enter the value for secret '{secret_name}': "))
            .map_err(|e| {
                SecretManagerError::new(format!("reading from the terminal failed: {e}"))
            })?;
        let answer = answer.trim_end_matches(['\r', '\n']).to_string();
        if answer.is_empty() {
            return Ok(None);
        }
        let secret = SecretString(answer);
        answers.insert(secret_name.to_string(), secret.clone());
        Ok(Some(secret))
    }

    fn describe_lookup(&self, _secret_name: &str) -> String {
        if Self::is_interactive() {
            "an interactive prompt".into()
        } else {
            "no prompt (not an interactive terminal)".into()
        }
    }
}

#[cfg(unix)]
fn read_hidden(prompt: &str) -> std::io::Result<String> {
    use std::io::{BufRead, Write};
    use std::process::{Command, Stdio};

    /// Turns echo back on however the read ends.
    struct EchoRestore(std::fs::File);
    impl Drop for EchoRestore {
        fn drop(&mut self) {
            if let Ok(tty) = self.0.try_clone() {
                let _ = Command::new("stty")
                    .arg("echo")
                    .stdin(Stdio::from(tty))
                    .status();
            }
        }
    }

    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    // Echo goes off before the prompt shows, so that nothing typed after it is echoed.
    let status = Command::new("stty")
        .arg("-echo")
        .stdin(Stdio::from(tty.try_clone()?))
        .status()?;
    if !status.success() {
        return Err(std::io::Error::other(
            "`stty -echo` failed, so the input would show",
        ));
    }
    let restore = EchoRestore(tty.try_clone()?);
    tty.write_all(prompt.as_bytes())?;
    tty.flush()?;
    let mut line = String::new();
    let read = std::io::BufReader::new(tty.try_clone()?).read_line(&mut line);
    drop(restore);
    // The newline the user typed was not echoed.
    let _ = tty.write_all(b"\n");
    read?;
    Ok(line)
}

#[cfg(not(unix))]
fn read_hidden(_prompt: &str) -> std::io::Result<String> {
    Err(std::io::Error::other(
        "prompting without echo is only supported on Unix terminals",
    ))
}
