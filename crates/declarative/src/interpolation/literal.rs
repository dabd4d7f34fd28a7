//! Python's `ast.literal_eval` over a rendered template, as the CDK applies it to every result:
//! `"1"` → 1, `"True"` → true, `"[1, 'a']"` → a list, `"'x'"` → `x`; anything that is not a
//! literal (`2024-01-01`, `abc`, `1+2j`) stays the string it was.

use serde_json::{Map, Number, Value};

/// The Python type a literal evaluated to (the CDK's `valid_types` check needs it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiteralKind {
    /// `str` (and `bytes`, which JSON cannot tell apart).
    Str,
    /// `int` (Python's `bool` is an `int` too: see [`LiteralKind::accepts`]).
    Int,
    /// `float`.
    Float,
    /// `bool`.
    Bool,
    /// `None`.
    None,
    /// `list`.
    List,
    /// `tuple`.
    Tuple,
    /// `dict`.
    Dict,
    /// `set`.
    Set,
}

impl LiteralKind {
    /// Whether a value of kind `self` passes `isinstance(value, wanted)`.
    pub fn accepts(wanted: LiteralKind, actual: LiteralKind) -> bool {
        wanted == actual || (wanted == LiteralKind::Int && actual == LiteralKind::Bool)
    }
}

/// Evaluates `text` as a Python literal; `None` when it is not one (the caller keeps the string).
pub fn literal_eval(text: &str) -> Option<(Value, LiteralKind)> {
    let text = text.trim_start_matches([' ', '\t']);
    let mut parser = Parser {
        s: text.as_bytes(),
        text,
        pos: 0,
        depth: 0,
    };
    let value = parser.top()?;
    parser.skip_ws(true);
    if parser.pos != parser.s.len() {
        return None;
    }
    match value {
        Lit::Complex => None,
        Lit::Value(v, k) => Some((v, k)),
    }
}

enum Lit {
    Value(Value, LiteralKind),
    Complex,
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
    depth: usize,
}

const MAX_DEPTH: usize = 200;

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    /// Skips blanks; newlines only inside brackets (or at the very end, `allow_newline`).
    fn skip_ws(&mut self, allow_newline: bool) {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\x0c' => self.pos += 1,
                b'\r' | b'\n' if self.depth > 0 || allow_newline => self.pos += 1,
                b'\\' if self.s.get(self.pos + 1) == Some(&b'\n') => self.pos += 2,
                b'#' => {
                    while self.peek().is_some_and(|c| c != b'\n') {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
    }

    /// A top-level expression: `1, 2` is a tuple there.
    fn top(&mut self) -> Option<Lit> {
        self.skip_ws(false);
        let first = self.expr()?;
        self.skip_ws(false);
        if self.peek() != Some(b',') {
            return Some(first);
        }
        let mut items = vec![as_value(first)?];
        while self.peek() == Some(b',') {
            self.pos += 1;
            self.skip_ws(false);
            if self.pos >= self.s.len() || matches!(self.peek(), Some(b'\n' | b'\r')) {
                break;
            }
            items.push(as_value(self.expr()?)?);
            self.skip_ws(false);
        }
        Some(Lit::Value(Value::Array(items), LiteralKind::Tuple))
    }

    fn expr(&mut self) -> Option<Lit> {
        self.skip_ws(false);
        let c = self.peek()?;
        match c {
            b'+' | b'-' => {
                self.pos += 1;
                self.skip_ws(false);
                // Python takes one sign on a number constant, not `--1`.
                if matches!(self.peek(), Some(b'+' | b'-')) {
                    return None;
                }
                let operand = self.expr()?;
                let Lit::Value(v, kind) = operand else {
                    return Some(Lit::Complex);
                };
                let negate = c == b'-';
                let v = match (kind, &v) {
                    (LiteralKind::Int | LiteralKind::Bool, _) if !negate => {
                        Value::Number(int_of(&v)?)
                    }
                    (LiteralKind::Int | LiteralKind::Bool, _) => negate_int(&v)?,
                    (LiteralKind::Float, Value::Number(n)) => {
                        let f = n.as_f64()?;
                        Value::Number(Number::from_f64(if negate { -f } else { f })?)
                    }
                    _ => return None,
                };
                let kind = if kind == LiteralKind::Bool {
                    LiteralKind::Int
                } else {
                    kind
                };
                self.after_number(Lit::Value(v, kind))
            }
            b'0'..=b'9' | b'.' => {
                let n = self.number()?;
                self.after_number(n)
            }
            b'"' | b'\'' => self.strings(),
            b'r' | b'R' | b'b' | b'B' | b'u' | b'U' if self.is_string_prefix() => self.strings(),
            b'[' => self.sequence(b']', LiteralKind::List),
            b'(' => self.sequence(b')', LiteralKind::Tuple),
            b'{' => self.mapping(),
            _ => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    self.pos += 1;
                }
                match &self.text[start..self.pos] {
                    "set" if self.text[self.pos..].trim_start().starts_with("()") => {
                        self.skip_ws(false);
                        self.pos += 2;
                        Some(Lit::Value(Value::Array(Vec::new()), LiteralKind::Set))
                    }
                    "True" => Some(Lit::Value(Value::Bool(true), LiteralKind::Bool)),
                    "False" => Some(Lit::Value(Value::Bool(false), LiteralKind::Bool)),
                    "None" => Some(Lit::Value(Value::Null, LiteralKind::None)),
                    _ => None,
                }
            }
        }
    }

    /// `a + bj` / `a - bj` are complex literals for Python; anything else after a number fails.
    fn after_number(&mut self, n: Lit) -> Option<Lit> {
        let save = self.pos;
        self.skip_ws(false);
        if matches!(self.peek(), Some(b'+' | b'-')) {
            self.pos += 1;
            self.skip_ws(false);
            if let Some(Lit::Complex) = self.number() {
                return Some(Lit::Complex);
            }
            return None;
        }
        self.pos = save;
        Some(n)
    }

    fn is_string_prefix(&self) -> bool {
        let rest = &self.s[self.pos..];
        let prefix_len = rest
            .iter()
            .take(2)
            .take_while(|c| matches!(c, b'r' | b'R' | b'b' | b'B' | b'u' | b'U'))
            .count();
        matches!(rest.get(prefix_len), Some(b'"' | b'\''))
    }

    fn number(&mut self) -> Option<Lit> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
        {
            let c = self.s[self.pos];
            self.pos += 1;
            if matches!(c, b'e' | b'E')
                && matches!(self.peek(), Some(b'+' | b'-'))
                && !self.text[start..].starts_with("0x")
            {
                self.pos += 1;
            }
        }
        let raw = &self.text[start..self.pos];
        if raw.ends_with(['j', 'J']) {
            return Some(Lit::Complex);
        }
        if raw.contains("__") || raw.starts_with('_') || raw.ends_with('_') {
            return None;
        }
        let cleaned = raw.replace('_', "");
        let lower = cleaned.to_ascii_lowercase();
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
            if let Some(digits) = lower.strip_prefix(prefix) {
                let n = u64::from_str_radix(digits, radix).ok()?;
                return Some(Lit::Value(Value::Number(n.into()), LiteralKind::Int));
            }
        }
        if lower.bytes().all(|c| c.is_ascii_digit()) {
            // Python 3 rejects leading zeros in decimal integers (`01`), except `0`, `00`.
            if lower.len() > 1 && lower.starts_with('0') && lower.bytes().any(|c| c != b'0') {
                return None;
            }
            if let Ok(n) = lower.parse::<u64>() {
                return Some(Lit::Value(Value::Number(n.into()), LiteralKind::Int));
            }
            // Bigger than JSON's integers: the nearest float, as JSON readers would.
            let f: f64 = lower.parse().ok()?;
            return Some(Lit::Value(
                Value::Number(Number::from_f64(f)?),
                LiteralKind::Int,
            ));
        }
        let valid_float = lower
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'+' | b'-'))
            && lower.bytes().any(|c| c.is_ascii_digit());
        if !valid_float {
            return None;
        }
        let f: f64 = lower.parse().ok()?;
        // `1e400` is `inf` in Python, which JSON cannot hold: keep the text.
        Some(Lit::Value(
            Value::Number(Number::from_f64(f)?),
            LiteralKind::Float,
        ))
    }

    /// One or more adjacent string literals (Python concatenates them).
    fn strings(&mut self) -> Option<Lit> {
        let mut out = String::new();
        loop {
            out.push_str(&self.string()?);
            let save = self.pos;
            self.skip_ws(false);
            let next_is_string = matches!(self.peek(), Some(b'"' | b'\''))
                || (self.peek().is_some_and(|c| c.is_ascii_alphabetic())
                    && self.is_string_prefix());
            if !next_is_string {
                self.pos = save;
                break;
            }
        }
        Some(Lit::Value(Value::String(out), LiteralKind::Str))
    }

    fn string(&mut self) -> Option<String> {
        let mut raw = false;
        while let Some(c) = self.peek() {
            match c {
                b'r' | b'R' => raw = true,
                b'b' | b'B' | b'u' | b'U' => {}
                _ => break,
            }
            self.pos += 1;
        }
        let quote = self.peek()?;
        let triple = self.s.get(self.pos..self.pos + 3) == Some(&[quote, quote, quote][..]);
        self.pos += if triple { 3 } else { 1 };
        let mut out = String::new();
        loop {
            let rest = self.text.get(self.pos..)?;
            let c = rest.chars().next()?;
            if c == quote as char {
                if !triple {
                    self.pos += 1;
                    return Some(out);
                }
                if rest.as_bytes().get(..3) == Some(&[quote, quote, quote][..]) {
                    self.pos += 3;
                    return Some(out);
                }
            }
            if !triple && c == '\n' {
                return None;
            }
            if c == '\\' && !raw {
                self.pos += 1;
                let e = self.text.get(self.pos..)?.chars().next()?;
                self.pos += e.len_utf8();
                match e {
                    '\n' => {}
                    '\\' => out.push('\\'),
                    '\'' => out.push('\''),
                    '"' => out.push('"'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'v' => out.push('\x0b'),
                    'x' => out.push(self.hex_escape(2)?),
                    'u' => out.push(self.hex_escape(4)?),
                    'U' => out.push(self.hex_escape(8)?),
                    '0'..='7' => {
                        let mut n = e.to_digit(8)?;
                        for _ in 0..2 {
                            match self.peek() {
                                Some(d @ b'0'..=b'7') => {
                                    n = n * 8 + u32::from(d - b'0');
                                    self.pos += 1;
                                }
                                _ => break,
                            }
                        }
                        out.push(char::from_u32(n)?);
                    }
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
                continue;
            }
            if c == '\\' && raw {
                // In a raw string a backslash still protects the quote from ending it.
                out.push('\\');
                self.pos += 1;
                if let Some(next) = self.text.get(self.pos..)?.chars().next() {
                    out.push(next);
                    self.pos += next.len_utf8();
                }
                continue;
            }
            out.push(c);
            self.pos += c.len_utf8();
        }
    }

    fn hex_escape(&mut self, digits: usize) -> Option<char> {
        let hex = self.text.get(self.pos..self.pos + digits)?;
        self.pos += digits;
        char::from_u32(u32::from_str_radix(hex, 16).ok()?)
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    fn sequence(&mut self, close: u8, kind: LiteralKind) -> Option<Lit> {
        self.pos += 1;
        self.enter()?;
        let mut items = Vec::new();
        let mut saw_comma = false;
        loop {
            self.skip_ws(false);
            if self.peek() == Some(close) {
                self.pos += 1;
                break;
            }
            items.push(self.expr()?);
            self.skip_ws(false);
            match self.peek()? {
                b',' => {
                    saw_comma = true;
                    self.pos += 1;
                }
                c if c == close => {
                    self.pos += 1;
                    break;
                }
                _ => return None,
            }
        }
        self.depth -= 1;
        if kind == LiteralKind::Tuple && items.len() == 1 && !saw_comma {
            return items.pop(); // `(x)` is just `x`
        }
        let values = items
            .into_iter()
            .map(as_value)
            .collect::<Option<Vec<_>>>()?;
        Some(Lit::Value(Value::Array(values), kind))
    }

    fn mapping(&mut self) -> Option<Lit> {
        self.pos += 1;
        self.enter()?;
        let mut map = Map::new();
        let mut set: Vec<Value> = Vec::new();
        let mut is_set = None;
        loop {
            self.skip_ws(false);
            if self.peek() == Some(b'}') {
                self.pos += 1;
                break;
            }
            let (key, key_kind) = match self.expr()? {
                Lit::Value(v, k) => (v, k),
                Lit::Complex => return Some(Lit::Complex),
            };
            self.skip_ws(false);
            let this_is_set = self.peek() != Some(b':');
            if *is_set.get_or_insert(this_is_set) != this_is_set {
                return None;
            }
            if matches!(
                key_kind,
                LiteralKind::List | LiteralKind::Dict | LiteralKind::Set
            ) {
                return None; // unhashable: a TypeError in Python, so no literal
            }
            if this_is_set {
                if !set.contains(&key) {
                    set.push(key);
                }
            } else {
                self.pos += 1;
                let value = as_value(self.expr()?)?;
                map.insert(key_string(&key), value);
            }
            self.skip_ws(false);
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    break;
                }
                _ => return None,
            }
        }
        self.depth -= 1;
        Some(match is_set {
            Some(true) => Lit::Value(Value::Array(set), LiteralKind::Set),
            _ => Lit::Value(Value::Object(map), LiteralKind::Dict),
        })
    }
}

fn as_value(lit: Lit) -> Option<Value> {
    match lit {
        Lit::Value(v, _) => Some(v),
        Lit::Complex => None,
    }
}

fn int_of(v: &Value) -> Option<Number> {
    match v {
        Value::Bool(b) => Some(Number::from(u8::from(*b))),
        Value::Number(n) => Some(n.clone()),
        _ => None,
    }
}

fn negate_int(v: &Value) -> Option<Value> {
    let n = int_of(v)?;
    if let Some(u) = n.as_u64()
        && u <= i64::MAX as u64 + 1
    {
        return Some(Value::Number(Number::from(
            (u as i128).wrapping_neg() as i64
        )));
    }
    if let Some(i) = n.as_i64() {
        return Some(Value::Number(Number::from(i.checked_neg()?)));
    }
    Some(Value::Number(Number::from_f64(-n.as_f64()?)?))
}

/// A Python dict key as a JSON member name (`str(key)` for non-strings).
fn key_string(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(s: &str) -> Option<Value> {
        literal_eval(s).map(|(v, _)| v)
    }

    #[test]
    fn scalars() {
        assert_eq!(ev("1"), Some(json!(1)));
        assert_eq!(ev("-1"), Some(json!(-1)));
        assert_eq!(ev("+ 2"), Some(json!(2)));
        assert_eq!(ev("1.5"), Some(json!(1.5)));
        assert_eq!(ev("1e3"), Some(json!(1000.0)));
        assert_eq!(ev("1_000"), Some(json!(1000)));
        assert_eq!(ev("0x1F"), Some(json!(31)));
        assert_eq!(ev("True"), Some(json!(true)));
        assert_eq!(ev("None"), Some(Value::Null));
        assert_eq!(ev("  5"), Some(json!(5)));
        assert_eq!(ev("5\n"), Some(json!(5)));
        assert_eq!(ev("'abc'"), Some(json!("abc")));
        assert_eq!(ev(r#""a\nb" 'c'"#), Some(json!("a\nbc")));
        assert_eq!(ev(r#"r'\d+'"#), Some(json!("\\d+")));
        assert_eq!(ev(r#""""{"a": 1}""""#), Some(json!("{\"a\": 1}")));
        assert_eq!(ev("'\\u00e9\\x41'"), Some(json!("éA")));
    }

    #[test]
    fn not_literals_stay_strings() {
        for s in [
            "2024-01-01",
            "2024-1-1",
            "abc",
            "1+2j",
            "3j",
            "01",
            "hello world",
            "",
            "inf",
            "[1, 2",
            "{'a': [1]",
            "a, b",
            "1 2",
            "{[1]: 2}",
            "f'x'",
            "1e400",
            "true",
            "1\n2",
        ] {
            assert_eq!(ev(s), None, "{s:?}");
        }
    }

    #[test]
    fn containers() {
        assert_eq!(
            ev("[1, 'a', None, True]"),
            Some(json!([1, "a", null, true]))
        );
        assert_eq!(ev("[]"), Some(json!([])));
        assert_eq!(ev("(1,)"), Some(json!([1])));
        assert_eq!(
            literal_eval("(1, 2)").map(|(_, k)| k),
            Some(LiteralKind::Tuple)
        );
        assert_eq!(ev("(7)"), Some(json!(7)));
        assert_eq!(ev("1, 2"), Some(json!([1, 2])));
        assert_eq!(
            ev("{'a': 1, 'b': [1, 2], 'c': {'d': None},}"),
            Some(json!({"a": 1, "b": [1, 2], "c": {"d": null}}))
        );
        assert_eq!(ev("{1: 'x'}"), Some(json!({"1": "x"})));
        assert_eq!(ev("{1, 2, 2}"), Some(json!([1, 2])));
        assert_eq!(ev("set()"), Some(json!([])));
        assert_eq!(ev("--1"), None);
        assert_eq!(ev("{'a': 1, 'a': 2}"), Some(json!({"a": 2})));
        assert_eq!(ev("[\n  1,\n  2\n]"), Some(json!([1, 2])));
    }

    #[test]
    fn kinds_for_valid_types() {
        assert_eq!(
            literal_eval("True").map(|(_, k)| k),
            Some(LiteralKind::Bool)
        );
        assert!(LiteralKind::accepts(LiteralKind::Int, LiteralKind::Bool));
        assert!(!LiteralKind::accepts(LiteralKind::Str, LiteralKind::Int));
        assert_eq!(literal_eval("-True"), Some((json!(-1), LiteralKind::Int)));
    }
}
