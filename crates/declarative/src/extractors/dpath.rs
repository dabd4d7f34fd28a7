//! The `dpath` library (2.2) on JSON values, as the CDK calls it: `get`, `values`, `new` and
//! `delete` with globs whose segments are `fnmatch` patterns (`*`, `?`, `[abc]`, `[!abc]`) or
//! `**` (any number of segments), list indices matched by their number (`"01"` is index 1).
//!
//! The library walks the whole document (every child of a node, then each child's own walk)
//! and keeps the paths that match; the functions here walk in that same order, so that
//! several matches come out as the CDK sees them.

use serde_json::{Map, Value};

/// One segment of a path in a document: a mapping key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A key of a mapping.
    Key(String),
    /// An index of a list.
    Index(usize),
}

/// One segment of a glob, as the CDK evaluates it: a string (a pattern), or an integer (a
/// field path segment like `"0"` evaluates to the number 0, which matches list indices only).
#[derive(Debug, Clone, PartialEq)]
pub enum Glob {
    /// A pattern.
    Str(String),
    /// A number: matches the list index it equals.
    Int(i64),
    /// Anything else (null, a list...): matches nothing.
    Never,
}

impl Glob {
    /// The glob segment of an evaluated template value.
    pub fn from_value(value: &Value) -> Self {
        match value {
            Value::String(s) => Self::Str(s.clone()),
            Value::Bool(b) => Self::Int(i64::from(*b)),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Self::Int(i),
                None => n
                    .as_f64()
                    .map_or(Self::Never, |f| Self::Int(f.trunc() as i64)),
            },
            _ => Self::Never,
        }
    }

    fn is_double_star(&self) -> bool {
        matches!(self, Self::Str(s) if s == "**")
    }
}

/// String globs.
pub fn globs(path: &[String]) -> Vec<Glob> {
    path.iter().map(|s| Glob::Str(s.clone())).collect()
}

/// Whether `value` is one of dpath's leaves (anything but a mapping or a list).
pub fn is_leaf(value: &Value) -> bool {
    !matches!(value, Value::Object(_) | Value::Array(_))
}

/// Python's `int(text)` for a string: surrounding whitespace, a sign, digits with single
/// underscores between them. `None` when Python raises `ValueError`.
pub fn python_int(text: &str) -> Option<i128> {
    let t = text.trim();
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let mut n: i128 = 0;
    for c in digits.chars() {
        if c == '_' {
            continue;
        }
        let d = c.to_digit(10)?;
        n = n.saturating_mul(10).saturating_add(i128::from(d));
    }
    Some(if negative { -n } else { n })
}

/// `fnmatch.fnmatchcase(name, pattern)`.
pub fn fnmatch(name: &str, pattern: &str) -> bool {
    let tokens = compile(pattern);
    let name: Vec<char> = name.chars().collect();
    match_tokens(&tokens, &name)
}

#[derive(Debug)]
enum Token {
    Any,
    One,
    Class(bool, Vec<(char, char)>),
    Lit(char),
}

fn compile(pattern: &str) -> Vec<Token> {
    let p: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < p.len() {
        let c = p[i];
        i += 1;
        match c {
            '*' => {
                if !matches!(out.last(), Some(Token::Any)) {
                    out.push(Token::Any);
                }
            }
            '?' => out.push(Token::One),
            '[' => {
                let mut j = i;
                if j < p.len() && p[j] == '!' {
                    j += 1;
                }
                if j < p.len() && p[j] == ']' {
                    j += 1;
                }
                while j < p.len() && p[j] != ']' {
                    j += 1;
                }
                if j >= p.len() {
                    out.push(Token::Lit('['));
                    continue;
                }
                let mut body = &p[i..j];
                i = j + 1;
                let negate = body.first() == Some(&'!');
                if negate {
                    body = &body[1..];
                }
                let mut ranges = Vec::new();
                let mut k = 0;
                while k < body.len() {
                    if k + 2 < body.len() && body[k + 1] == '-' {
                        // A reversed range (`z-a`) matches nothing, as Python drops it.
                        if body[k] <= body[k + 2] {
                            ranges.push((body[k], body[k + 2]));
                        }
                        k += 3;
                    } else {
                        ranges.push((body[k], body[k]));
                        k += 1;
                    }
                }
                out.push(Token::Class(negate, ranges));
            }
            other => out.push(Token::Lit(other)),
        }
    }
    out
}

fn match_tokens(tokens: &[Token], name: &[char]) -> bool {
    match tokens.split_first() {
        None => name.is_empty(),
        Some((Token::Any, rest)) => (0..=name.len()).any(|i| match_tokens(rest, &name[i..])),
        Some((token, rest)) => {
            let Some((c, tail)) = name.split_first() else {
                return false;
            };
            let ok = match token {
                Token::One => true,
                Token::Lit(l) => l == c,
                Token::Class(negate, ranges) => {
                    ranges.iter().any(|(a, b)| a <= c && c <= b) != *negate
                }
                Token::Any => true,
            };
            ok && match_tokens(rest, tail)
        }
    }
}

fn segment_matches(segment: &Seg, glob: &Glob) -> bool {
    match (segment, glob) {
        (Seg::Index(i), Glob::Int(g)) => i64::try_from(*i).is_ok_and(|i| i == *g),
        (Seg::Index(i), Glob::Str(g)) => match python_int(g) {
            // `s == int(g)`, and otherwise `fnmatchcase(<int>, g)`, a TypeError: no match.
            Some(n) => i128::try_from(*i).is_ok_and(|i| i == n),
            None => fnmatch(&i.to_string(), g),
        },
        (Seg::Key(k), Glob::Str(g)) => fnmatch(k, g),
        _ => false,
    }
}

/// `dpath.segments.match(path, glob)`; an error for a glob with two `**`.
pub fn matches(path: &[Seg], glob: &[Glob]) -> Result<bool, String> {
    let stars: Vec<usize> = glob
        .iter()
        .enumerate()
        .filter(|(_, g)| g.is_double_star())
        .map(|(i, _)| i)
        .collect();
    if stars.len() > 1 {
        return Err(format!(
            "Invalid glob. Only one '**' is permitted per glob: {}",
            describe(glob)
        ));
    }
    let star = Glob::Str("*".into());
    let expanded: Vec<&Glob> = match stars.first() {
        Some(&ss) if path.len() >= glob.len() => {
            let mut v: Vec<&Glob> = glob[..ss].iter().collect();
            v.extend(std::iter::repeat_n(&star, path.len() - glob.len() + 1));
            v.extend(glob[ss + 1..].iter());
            v
        }
        Some(&ss) if path.len() + 1 == glob.len() => {
            glob[..ss].iter().chain(glob[ss + 1..].iter()).collect()
        }
        _ => glob.iter().collect(),
    };
    if expanded.len() != path.len() {
        return Ok(false);
    }
    Ok(path
        .iter()
        .zip(expanded)
        .all(|(s, g)| segment_matches(s, g)))
}

fn describe(glob: &[Glob]) -> String {
    glob.iter()
        .map(|g| match g {
            Glob::Str(s) => s.clone(),
            Glob::Int(i) => i.to_string(),
            Glob::Never => "?".into(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// dpath's walk: every child of `value` (with its path), then each child's own walk; stops
/// when `visit` returns `false`. Children deeper than `max_depth` are not visited.
fn walk<'a>(
    value: &'a Value,
    location: &mut Vec<Seg>,
    max_depth: Option<usize>,
    visit: &mut dyn FnMut(&[Seg], &'a Value) -> bool,
) -> bool {
    if max_depth.is_some_and(|d| location.len() >= d) {
        return true;
    }
    let children: Vec<(Seg, &'a Value)> = match value {
        Value::Object(map) => map.iter().map(|(k, v)| (Seg::Key(k.clone()), v)).collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (Seg::Index(i), v))
            .collect(),
        _ => return true,
    };
    for (seg, child) in &children {
        location.push(seg.clone());
        let go_on = visit(location, child);
        location.pop();
        if !go_on {
            return false;
        }
    }
    for (seg, child) in children {
        location.push(seg);
        let go_on = walk(child, location, max_depth, visit);
        location.pop();
        if !go_on {
            return false;
        }
    }
    true
}

fn max_depth(glob: &[Glob]) -> Option<usize> {
    if glob.iter().any(Glob::is_double_star) {
        None
    } else {
        Some(glob.len())
    }
}

/// Every (path, value) matching `glob`, in dpath's walk order; `limit` stops the walk early.
fn search<'a>(
    value: &'a Value,
    glob: &[Glob],
    limit: Option<usize>,
) -> Result<Vec<(Vec<Seg>, &'a Value)>, String> {
    let mut found = Vec::new();
    let mut error = None;
    walk(value, &mut Vec::new(), max_depth(glob), &mut |path, v| {
        match matches(path, glob) {
            Ok(true) => found.push((path.to_vec(), v)),
            Ok(false) => {}
            Err(e) => {
                error = Some(e);
                return false;
            }
        }
        limit.is_none_or(|l| found.len() < l)
    });
    match error {
        Some(e) => Err(e),
        None => Ok(found),
    }
}

/// `dpath.values(value, glob)`: every matching value, in walk order.
pub fn values<'a>(value: &'a Value, glob: &[Glob]) -> Result<Vec<&'a Value>, String> {
    Ok(search(value, glob, None)?
        .into_iter()
        .map(|(_, v)| v)
        .collect())
}

/// `dpath.get(value, glob, default=...)`: the one matching value (`None` when there is none);
/// an empty glob is the value itself; several matches are an error, as in the library.
pub fn get<'a>(value: &'a Value, glob: &[Glob]) -> Result<Option<&'a Value>, String> {
    if glob.is_empty() {
        return Ok(Some(value));
    }
    let mut found = search(value, glob, Some(2))?;
    if found.len() > 1 {
        return Err(format!(
            "dpath.get() globs must match only one leaf: {}",
            describe(glob)
        ));
    }
    Ok(found.pop().map(|(_, v)| v))
}

/// The value at a concrete `path`, `None` when it is not there (`dpath.segments.has`/`get`).
pub fn at<'a>(value: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    let mut current = value;
    for seg in path {
        current = match (current, seg) {
            (Value::Object(map), Seg::Key(k)) => map.get(k)?,
            (Value::Array(items), Seg::Index(i)) => items.get(*i)?,
            (Value::Array(items), Seg::Key(k)) if is_decimal(k) => {
                items.get(k.parse::<usize>().ok()?)?
            }
            _ => return None,
        };
    }
    Some(current)
}

fn at_mut<'a>(value: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    let mut current = value;
    for seg in path {
        current = match (current, seg) {
            (Value::Object(map), Seg::Key(k)) => map.get_mut(k)?,
            (Value::Array(items), Seg::Index(i)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(current)
}

/// Python's `str.isdecimal()` for the digits JSON keys carry.
fn is_decimal(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit())
}

/// `dpath.new(value, path, new_value)`: sets `new_value` at `path`, creating the mappings
/// (or lists, before a decimal segment) on the way, padding lists with nulls. An error where
/// the library raises: an intermediate value that is a leaf (`PathNotFound`), a non-decimal
/// segment on a list.
pub fn new(value: &mut Value, path: &[String], new_value: Value) -> Result<(), String> {
    let Some((last, intermediate)) = path.split_last() else {
        return Err("an empty path".into());
    };
    let mut current = value;
    for (i, segment) in intermediate.iter().enumerate() {
        let next_is_list = is_decimal(&path[i + 1]);
        let fresh = || {
            if next_is_list {
                Value::Array(Vec::new())
            } else {
                Value::Object(Map::new())
            }
        };
        current = match current {
            Value::Object(map) => map.entry(segment.clone()).or_insert_with(fresh),
            Value::Array(items) => {
                let index = list_index(segment, path)?;
                if index >= items.len() {
                    items.resize(index + 1, Value::Null);
                    items[index] = fresh();
                }
                &mut items[index]
            }
            _ => return Err(format!("Path: {path:?}[{i}] is not found")),
        };
        if is_leaf(current) {
            return Err(format!("Path: {path:?}[{i}] is a value, not a mapping"));
        }
    }
    match current {
        Value::Object(map) => {
            map.insert(last.clone(), new_value);
        }
        Value::Array(items) => {
            let index = list_index(last, path)?;
            if index >= items.len() {
                items.resize(index + 1, Value::Null);
            }
            items[index] = new_value;
        }
        _ => return Err(format!("Path: {path:?} is not found")),
    }
    Ok(())
}

fn list_index(segment: &str, path: &[String]) -> Result<usize, String> {
    if !is_decimal(segment) {
        return Err(format!(
            "list indices must be integers, not {segment:?} (path {path:?})"
        ));
    }
    segment
        .parse()
        .map_err(|_| format!("the list index {segment} of path {path:?} is too large"))
}

/// A `dpath.delete` filter: whether a leaf value is removed.
pub type LeafFilter<'a> = &'a mut dyn FnMut(&Value) -> Result<bool, String>;

/// `dpath.delete(value, glob, afilter)`: removes every value matching `glob` (list items
/// are set to null unless last, as the library does); with a filter, every leaf anywhere
/// for which it holds is removed too (the library's `(matched and not afilter) or selected`).
/// Returns how many were removed (the library raises `PathNotFound` for none).
pub fn delete(
    value: &mut Value,
    glob: &[Glob],
    mut filter: Option<LeafFilter<'_>>,
) -> Result<usize, String> {
    // The library lists every (path, value) first, then deletes while checking that each path
    // is still there; a filter sees the values as listed.
    let mut pairs: Vec<(Vec<Seg>, Option<Value>)> = Vec::new();
    let depth = if filter.is_some() {
        None
    } else {
        max_depth(glob)
    };
    let has_filter = filter.is_some();
    walk(value, &mut Vec::new(), depth, &mut |path, v| {
        let leaf = (has_filter && is_leaf(v)).then(|| v.clone());
        pairs.push((path.to_vec(), leaf));
        true
    });
    let mut deleted = 0;
    for (path, leaf) in pairs {
        if at(value, &path).is_none() {
            continue;
        }
        let matched = matches(&path, glob)?;
        let selected = match (&mut filter, &leaf) {
            (Some(f), Some(v)) => f(v)?,
            _ => false,
        };
        if (matched && !has_filter) || selected {
            let Some((key, parent_path)) = path.split_last() else {
                continue;
            };
            match (at_mut(value, parent_path), key) {
                (Some(Value::Object(map)), Seg::Key(k)) => {
                    map.shift_remove(k);
                }
                (Some(Value::Array(items)), Seg::Index(i)) => {
                    if *i + 1 == items.len() {
                        items.pop();
                    } else if let Some(item) = items.get_mut(*i) {
                        *item = Value::Null;
                    }
                }
                _ => continue,
            }
            deleted += 1;
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn g(items: &[&str]) -> Vec<Glob> {
        items.iter().map(|s| Glob::Str((*s).to_string())).collect()
    }

    #[test]
    fn fnmatch_is_python_fnmatchcase() {
        assert!(fnmatch("data", "data"));
        assert!(!fnmatch("Data", "data"));
        assert!(fnmatch("items_1", "items_?"));
        assert!(fnmatch("abc", "a*"));
        assert!(fnmatch("b", "[abc]"));
        assert!(!fnmatch("d", "[abc]"));
        assert!(fnmatch("d", "[!abc]"));
        assert!(fnmatch("q", "[a-z]"));
        assert!(fnmatch("[x", "[x"));
        assert!(fnmatch("a/b", "*"));
    }

    #[test]
    fn list_indices_match_by_number() {
        let body = json!({"data": ["a", "b", "c"]});
        assert_eq!(get(&body, &g(&["data", "01"])).unwrap(), Some(&json!("b")));
        assert_eq!(
            get(&body, &[Glob::Str("data".into()), Glob::Int(2)]).unwrap(),
            Some(&json!("c"))
        );
        // A number never matches a mapping key.
        let keyed = json!({"data": {"0": 1}});
        assert_eq!(
            get(&keyed, &[Glob::Str("data".into()), Glob::Int(0)]).unwrap(),
            None
        );
        assert_eq!(get(&keyed, &g(&["data", "0"])).unwrap(), Some(&json!(1)));
    }

    #[test]
    fn get_and_values() {
        let body = json!({"data": [{"items": [1, 2]}, {"items": [3]}], "meta": {"a": {"x": 1}, "b": {"x": 2}}});
        assert_eq!(
            get(&body, &g(&["data", "1", "items"])).unwrap(),
            Some(&json!([3]))
        );
        assert_eq!(get(&body, &g(&["nope"])).unwrap(), None);
        assert_eq!(
            get(&body, &g(&["data", "0", "items", "0", "deeper"])).unwrap(),
            None
        );
        assert!(get(&body, &g(&["meta", "?", "x"])).is_err());
        assert_eq!(
            values(&body, &g(&["data", "*", "items"])).unwrap(),
            vec![&json!([1, 2]), &json!([3])]
        );
        assert_eq!(
            values(&body, &g(&["meta", "*", "x"])).unwrap(),
            vec![&json!(1), &json!(2)]
        );
        // `**`: any depth, in the walk's order (children first, then each child's walk).
        let nested = json!({"a": {"id": 1, "b": {"id": 2}}, "id": 0});
        assert_eq!(
            values(&nested, &g(&["**", "id"])).unwrap(),
            vec![&json!(0), &json!(1), &json!(2)]
        );
        assert!(values(&nested, &g(&["**", "**"])).is_err());
    }

    #[test]
    fn new_creates_parents_and_pads_lists() {
        let mut r = json!({"k": "v"});
        new(&mut r, &["a".into(), "b".into()], json!(1)).unwrap();
        assert_eq!(r, json!({"k": "v", "a": {"b": 1}}));
        new(&mut r, &["l".into(), "2".into()], json!("x")).unwrap();
        assert_eq!(r["l"], json!([null, null, "x"]));
        // An existing null on the way is a leaf.
        assert!(new(&mut r, &["l".into(), "0".into(), "z".into()], json!(true)).is_err());
        new(&mut r, &["m".into(), "1".into(), "z".into()], json!(true)).unwrap();
        assert_eq!(r["m"], json!([null, {"z": true}]));
        // Through a leaf: the library's PathNotFound.
        assert!(new(&mut r, &["k".into(), "x".into()], json!(1)).is_err());
        let mut with_null = json!({"a": null});
        assert!(new(&mut with_null, &["a".into(), "b".into()], json!(1)).is_err());
    }

    #[test]
    fn delete_as_the_library() {
        let mut r = json!({"a": 1, "b": {"c": 2, "d": 3}, "l": [1, 2, 3]});
        assert_eq!(delete(&mut r, &g(&["b", "c"]), None).unwrap(), 1);
        assert_eq!(r, json!({"a": 1, "b": {"d": 3}, "l": [1, 2, 3]}));
        assert_eq!(delete(&mut r, &g(&["l", "0"]), None).unwrap(), 1);
        assert_eq!(r["l"], json!([null, 2, 3]));
        assert_eq!(delete(&mut r, &g(&["l", "*"]), None).unwrap(), 3);
        assert_eq!(r["l"], json!([null, null]));
        assert_eq!(delete(&mut r, &g(&["nope"]), None).unwrap(), 0);
        // With a filter: every leaf it selects, wherever it is.
        let mut r = json!({"a": "", "b": {"c": "", "d": "x"}, "e": "y"});
        let mut f = |v: &Value| Ok(v == &json!(""));
        assert_eq!(delete(&mut r, &g(&["e"]), Some(&mut f)).unwrap(), 2);
        assert_eq!(r, json!({"b": {"d": "x"}, "e": "y"}));
    }
}
