//! Python's `urllib.parse.urljoin`, which the CDK uses to join `url_base` and `path`
//! (`HttpRequester._join_url` and the `path` → `url` manifest migration).

/// Why Python's `urlsplit` refuses a URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UrlJoinError(pub String);

/// Joins `url` onto `base` exactly as Python's `urljoin(base, url)` does for the schemes the
/// CDK meets (http, https, and none: Jinja templates such as `{{ config.base }}/`).
///
/// Fails where Python (3.11.4 and later) does: a host with unbalanced brackets, or brackets
/// around something that is not an IPv6 address (`https://{{ config['x'] }}.api.com`).
pub fn urljoin(base: &str, url: &str) -> Result<String, UrlJoinError> {
    if base.is_empty() {
        return Ok(url.to_string());
    }
    if url.is_empty() {
        return Ok(base.to_string());
    }
    let b = split(base)?;
    let u = split(url)?;
    Ok(join_parts(b, u, url))
}

fn join_parts(b: Parts, u: Parts, url: &str) -> String {
    let scheme = u
        .scheme
        .clone()
        .unwrap_or_else(|| b.scheme.clone().unwrap_or_default());
    let base_scheme = b.scheme.clone().unwrap_or_default();
    if scheme != base_scheme || !USES_RELATIVE.contains(&scheme.as_str()) {
        return url.to_string();
    }
    let mut netloc = u.netloc.clone();
    if USES_NETLOC.contains(&scheme.as_str()) {
        if netloc.is_some() {
            return unsplit(
                &scheme,
                netloc.as_deref(),
                &u.path,
                u.query.as_deref(),
                u.fragment.as_deref(),
            );
        }
        netloc = b.netloc.clone();
    }
    if u.path.is_empty() {
        let query = u.query.as_deref().or(b.query.as_deref());
        return unsplit(
            &scheme,
            netloc.as_deref(),
            &b.path,
            query,
            u.fragment.as_deref(),
        );
    }
    let segments: Vec<&str> = if u.path.starts_with('/') {
        u.path.split('/').collect()
    } else {
        let mut base_parts: Vec<&str> = b.path.split('/').collect();
        if base_parts.last().is_some_and(|last| !last.is_empty()) {
            base_parts.pop();
        }
        let mut segments: Vec<&str> = base_parts;
        segments.extend(u.path.split('/'));
        // Python drops empty segments between the first and the last.
        let n = segments.len();
        if n > 2 {
            let middle: Vec<&str> = segments[1..n - 1]
                .iter()
                .copied()
                .filter(|s| !s.is_empty())
                .collect();
            let (first, last) = (segments[0], segments[n - 1]);
            segments = std::iter::once(first)
                .chain(middle)
                .chain(std::iter::once(last))
                .collect();
        }
        segments
    };
    let mut resolved: Vec<&str> = Vec::with_capacity(segments.len());
    for segment in &segments {
        match *segment {
            ".." => {
                resolved.pop();
            }
            "." => {}
            other => resolved.push(other),
        }
    }
    if matches!(segments.last(), Some(&".") | Some(&"..")) {
        resolved.push("");
    }
    let joined = resolved.join("/");
    let path = if joined.is_empty() {
        "/".to_string()
    } else {
        joined
    };
    unsplit(
        &scheme,
        netloc.as_deref(),
        &path,
        u.query.as_deref(),
        u.fragment.as_deref(),
    )
}

const USES_RELATIVE: &[&str] = &[
    "", "ftp", "http", "gopher", "nntp", "imap", "wais", "file", "https", "shttp", "mms",
    "prospero", "rtsp", "rtsps", "rtspu", "sftp", "svn", "svn+ssh", "ws", "wss",
];
const USES_NETLOC: &[&str] = &[
    "",
    "ftp",
    "http",
    "gopher",
    "nntp",
    "telnet",
    "imap",
    "wais",
    "file",
    "mms",
    "https",
    "shttp",
    "snews",
    "prospero",
    "rtsp",
    "rtsps",
    "rtspu",
    "rsync",
    "svn",
    "svn+ssh",
    "sftp",
    "nfs",
    "git",
    "git+ssh",
    "ws",
    "wss",
    "itms-services",
];

struct Parts {
    scheme: Option<String>,
    netloc: Option<String>,
    path: String,
    query: Option<String>,
    fragment: Option<String>,
}

/// `urlsplit`: scheme (letters first, then letters, digits, `+-.`), `//netloc`, path, `?query`, `#fragment`.
fn split(url: &str) -> Result<Parts, UrlJoinError> {
    let cleaned: String = url
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();
    let mut rest = cleaned.as_str();
    let mut scheme = None;
    if let Some(colon) = rest.find(':')
        && colon > 0
    {
        let candidate = &rest[..colon];
        let mut chars = candidate.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        if first_ok
            && candidate
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        {
            scheme = Some(candidate.to_ascii_lowercase());
            rest = &rest[colon + 1..];
        }
    }
    let mut netloc = None;
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        netloc = Some(after[..end].to_string());
        rest = &after[end..];
    }
    let mut fragment = None;
    if let Some(hash) = rest.find('#') {
        fragment = Some(rest[hash + 1..].to_string());
        rest = &rest[..hash];
    }
    let mut query = None;
    if let Some(q) = rest.find('?') {
        query = Some(rest[q + 1..].to_string());
        rest = &rest[..q];
    }
    if let Some(n) = &netloc {
        check_brackets(n)?;
    }
    Ok(Parts {
        scheme,
        netloc,
        path: rest.to_string(),
        query,
        fragment,
    })
}

fn check_brackets(netloc: &str) -> Result<(), UrlJoinError> {
    let (open, close) = (netloc.contains('['), netloc.contains(']'));
    if open != close {
        return Err(UrlJoinError("Invalid IPv6 URL".into()));
    }
    if open {
        let host = netloc
            .split_once('[')
            .map_or("", |(_, r)| r.split_once(']').map_or(r, |(h, _)| h));
        if host.starts_with('v') {
            return Ok(()); // IPvFuture
        }
        let address = host.split_once('%').map_or(host, |(a, _)| a);
        if address.parse::<std::net::Ipv6Addr>().is_err() {
            let message = if address.parse::<std::net::Ipv4Addr>().is_ok() {
                "An IPv4 address cannot be in brackets".to_string()
            } else {
                format!("{host:?} does not appear to be an IPv4 or IPv6 address")
            };
            return Err(UrlJoinError(message));
        }
    }
    Ok(())
}

fn unsplit(
    scheme: &str,
    netloc: Option<&str>,
    path: &str,
    query: Option<&str>,
    fragment: Option<&str>,
) -> String {
    let mut url = path.to_string();
    let has_netloc = netloc.is_some_and(|n| !n.is_empty());
    if has_netloc || (!scheme.is_empty() && USES_NETLOC.contains(&scheme) && !url.starts_with("//"))
    {
        if !url.is_empty() && !url.starts_with('/') {
            url.insert(0, '/');
        }
        url = format!("//{}{url}", netloc.unwrap_or(""));
    }
    if !scheme.is_empty() {
        url = format!("{scheme}:{url}");
    }
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        url.push('?');
        url.push_str(q);
    }
    if let Some(f) = fragment.filter(|f| !f.is_empty()) {
        url.push('#');
        url.push_str(f);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::urljoin;

    #[test]
    fn matches_python_urljoin() {
        // Expected values from CPython 3.11's urllib.parse.urljoin.
        let cases = [
            (
                "https://example.com/api/",
                "endpoint",
                "https://example.com/api/endpoint",
            ),
            (
                "https://example.com/api",
                "endpoint",
                "https://example.com/endpoint",
            ),
            ("https://example.com/api/", "", "https://example.com/api/"),
            (
                "https://example.com/api/v1/",
                "../v2/items?x=1",
                "https://example.com/api/v2/items?x=1",
            ),
            (
                "https://example.com/api/",
                "https://other.org/x",
                "https://other.org/x",
            ),
            (
                "https://example.com/api/",
                "/root",
                "https://example.com/root",
            ),
            ("https://example.com", "items", "https://example.com/items"),
            ("https://example.com/a/?q=1", "b", "https://example.com/a/b"),
            (
                "{{ config['base_url'] }}/",
                "items/{{ stream_slice.id }}",
                "{{ config['base_url'] }}/items/{{ stream_slice.id }}",
            ),
            (
                "https://{{ config.domain }}.x.com/v2/",
                "users",
                "https://{{ config.domain }}.x.com/v2/users",
            ),
            (
                "https://example.com/api/",
                "./a/./b",
                "https://example.com/api/a/b",
            ),
        ];
        for (base, url, expected) in cases {
            assert_eq!(
                urljoin(base, url).as_deref(),
                Ok(expected),
                "urljoin({base:?}, {url:?})"
            );
        }
    }

    #[test]
    fn brackets_in_the_host_fail_as_in_python() {
        let e = urljoin("https://{{ config['account'] }}.api.com/", "x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"'account'\" does not appear to be an IPv4 or IPv6 address"
        );
        assert!(urljoin("https://[::1]:8080/a/", "b").is_ok_and(|u| u == "https://[::1]:8080/a/b"));
        assert!(urljoin("https://[1.2.3.4]/", "b").is_err());
        assert!(urljoin("https://a]b/", "c").is_err());
        assert!(
            urljoin("{{ config['base'] }}/", "c").is_ok(),
            "no netloc, no check"
        );
    }
}
