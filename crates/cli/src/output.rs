//! How the CLI reports: errors as one paragraph on stderr, exit codes, progress spinners.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The exit code for an error: 2 for usage errors, 1 for the rest.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    match err.downcast_ref::<airbyte::Error>() {
        Some(e) if e.is_usage_error() => 2,
        _ => 1,
    }
}

/// Prints the error as one paragraph (plus the connector's log tail when there is one).
pub fn print_error(err: &anyhow::Error) {
    // Our errors already include their causes' words; add a cause only when it says something
    // new (context layers added with anyhow come first).
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if text.contains(part.trim()) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(part.trim());
    }
    eprintln!("Error: {text}");
    // PyAirbyte's AIRBYTE_PRINT_FULL_ERROR_LOGS (default on under CI): the whole connector log.
    if let Some(e) = err.downcast_ref::<airbyte::Error>()
        && airbyte::print_full_logs()
        && let Some(path) = e.log_file()
        && let Ok(log) = std::fs::read_to_string(path)
    {
        eprintln!("Full log of the connector ({}):\n{log}", path.display());
    }
}

/// A spinner on stderr while something slow runs; invisible when stderr is not a terminal.
pub fn spinner(message: impl Into<String>) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.into());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// `1234567` → `"1,234,567"`, for counts people read.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
