//! How the library's own HTTP calls (the registry, Google Secret Manager) describe a failure.

/// A reqwest error with its causes (its top-level message alone says little). reqwest's
/// messages name the URL, which holds no secret here.
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    if e.is_timeout() {
        text.push_str(" (timed out)");
    }
    text
}
