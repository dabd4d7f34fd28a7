//! PyYAML's YAML 1.1 implicit resolvers (`yaml/resolver.py`): whether a plain scalar would be
//! read back as something other than a string, in which case `yaml.dump` quotes it.

/// Whether PyYAML would read the plain scalar `s` back as something other than a string
/// (bool, int, float, null, timestamp, merge, value), so that it must be quoted.
pub(super) fn resolves_to_other_type(s: &str) -> bool {
    // Resolvers are looked up by the first character; Python's `$` also matches before a
    // final newline.
    let first = s.chars().next();
    let body = s.strip_suffix('\n').unwrap_or(s);
    match first {
        None => true, // '' is null
        Some(c) => {
            ("yYnNtTfFoO".contains(c) && is_bool(body))
                || ("-+0123456789.".contains(c) && is_float(body))
                || ("-+0123456789".contains(c) && is_int(body))
                || (c == '<' && body == "<<")
                || ("~nN".contains(c) && matches!(body, "~" | "null" | "Null" | "NULL" | ""))
                || (c.is_ascii_digit() && is_timestamp(body))
                || (c == '=' && body == "=")
        }
    }
}

fn is_bool(s: &str) -> bool {
    matches!(
        s,
        "yes"
            | "Yes"
            | "YES"
            | "no"
            | "No"
            | "NO"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

/// A tiny cursor for the resolver grammars.
struct P<'a> {
    b: &'a [u8],
    i: usize,
}

impl P<'_> {
    fn eat(&mut self, f: impl Fn(u8) -> bool) -> bool {
        if self.b.get(self.i).is_some_and(|&c| f(c)) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn eat_all(&mut self, f: impl Fn(u8) -> bool) -> usize {
        let start = self.i;
        while self.eat(&f) {}
        self.i - start
    }
    fn lit(&mut self, s: &str) -> bool {
        if self.b[self.i..].starts_with(s.as_bytes()) {
            self.i += s.len();
            true
        } else {
            false
        }
    }
    fn sign(&mut self) {
        self.eat(|c| c == b'-' || c == b'+');
    }
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
    /// `(?::[0-5]?[0-9])+`
    fn sexagesimal(&mut self) -> bool {
        let mut any = false;
        loop {
            let save = self.i;
            if !self.eat(|c| c == b':') {
                break;
            }
            let d = self.eat_all(|c| c.is_ascii_digit());
            // [0-5]?[0-9]: one digit, or two with the first in 0-5.
            let ok = d == 1 || (d == 2 && self.b[self.i - 2] <= b'5');
            if !ok {
                self.i = save;
                break;
            }
            any = true;
        }
        any
    }
    /// `(?:[eE][-+][0-9]+)?` then the end.
    fn exponent_then_end(&mut self) -> bool {
        if self.eat(|c| c == b'e' || c == b'E')
            && (!self.eat(|c| c == b'-' || c == b'+') || self.eat_all(|c| c.is_ascii_digit()) == 0)
        {
            return false;
        }
        self.done()
    }
}

fn digit_(c: u8) -> bool {
    c.is_ascii_digit() || c == b'_'
}

fn is_int(s: &str) -> bool {
    let alt = |f: &dyn Fn(&mut P) -> bool| {
        let mut p = P {
            b: s.as_bytes(),
            i: 0,
        };
        f(&mut p)
    };
    alt(&|p| {
        p.sign();
        p.lit("0b") && p.eat_all(|c| c == b'0' || c == b'1' || c == b'_') > 0 && p.done()
    }) || alt(&|p| {
        p.sign();
        p.lit("0") && p.eat_all(|c| (b'0'..=b'7').contains(&c) || c == b'_') > 0 && p.done()
    }) || alt(&|p| {
        p.sign();
        if p.lit("0") {
            return p.done();
        }
        p.eat(|c| (b'1'..=b'9').contains(&c)) && {
            p.eat_all(digit_);
            p.done()
        }
    }) || alt(&|p| {
        p.sign();
        p.lit("0x") && p.eat_all(|c| c.is_ascii_hexdigit() || c == b'_') > 0 && p.done()
    }) || alt(&|p| {
        p.sign();
        p.eat(|c| (b'1'..=b'9').contains(&c)) && {
            p.eat_all(digit_);
            p.sexagesimal() && p.done()
        }
    })
}

fn is_float(s: &str) -> bool {
    let alt = |f: &dyn Fn(&mut P) -> bool| {
        let mut p = P {
            b: s.as_bytes(),
            i: 0,
        };
        f(&mut p)
    };
    alt(&|p| {
        p.sign();
        p.eat(|c| c.is_ascii_digit()) && {
            p.eat_all(digit_);
            p.lit(".") && {
                p.eat_all(digit_);
                p.exponent_then_end()
            }
        }
    }) || alt(&|p| {
        p.lit(".") && p.eat(|c| c.is_ascii_digit()) && {
            p.eat_all(digit_);
            p.exponent_then_end()
        }
    }) || alt(&|p| {
        p.sign();
        p.eat(|c| c.is_ascii_digit()) && {
            p.eat_all(digit_);
            p.sexagesimal() && p.lit(".") && {
                p.eat_all(digit_);
                p.done()
            }
        }
    }) || alt(&|p| {
        p.sign();
        p.lit(".") && (p.lit("inf") || p.lit("Inf") || p.lit("INF")) && p.done()
    }) || alt(&|p| p.lit(".") && (p.lit("nan") || p.lit("NaN") || p.lit("NAN")) && p.done())
}

fn is_timestamp(s: &str) -> bool {
    let mut p = P {
        b: s.as_bytes(),
        i: 0,
    };
    let digits = |p: &mut P, min: usize, max: usize| {
        let n = p.eat_all(|c| c.is_ascii_digit());
        (min..=max).contains(&n)
    };
    // YYYY-MM-DD alone.
    {
        let mut q = P {
            b: s.as_bytes(),
            i: 0,
        };
        if digits(&mut q, 4, 4)
            && q.lit("-")
            && digits(&mut q, 2, 2)
            && q.lit("-")
            && digits(&mut q, 2, 2)
            && q.done()
        {
            return true;
        }
    }
    if !(digits(&mut p, 4, 4)
        && p.lit("-")
        && digits(&mut p, 1, 2)
        && p.lit("-")
        && digits(&mut p, 1, 2))
    {
        return false;
    }
    if !(p.eat(|c| c == b'T' || c == b't') || p.eat_all(|c| c == b' ' || c == b'\t') > 0) {
        return false;
    }
    if !(digits(&mut p, 1, 2)
        && p.lit(":")
        && digits(&mut p, 2, 2)
        && p.lit(":")
        && digits(&mut p, 2, 2))
    {
        return false;
    }
    if p.lit(".") {
        p.eat_all(|c| c.is_ascii_digit());
    }
    if p.done() {
        return true;
    }
    p.eat_all(|c| c == b' ' || c == b'\t');
    if p.lit("Z") {
        return p.done();
    }
    if !p.eat(|c| c == b'-' || c == b'+') || !digits(&mut p, 1, 2) {
        return false;
    }
    if p.lit(":") && !digits(&mut p, 2, 2) {
        return false;
    }
    p.done()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolvers_match_yaml_1_1() {
        for s in [
            "",
            "~",
            "null",
            "true",
            "No",
            "off",
            "12",
            "-1_000",
            "0b101",
            "017",
            "0x1F",
            "1:30",
            "1.5",
            "-.inf",
            "+1.5",
            "2024-1-1 1:00:00",
            ".inf",
            ".NaN",
            "190:20:30.15",
            "1.",
            "2024-01-01",
            "2024-01-01T00:01:00Z",
            "2001-12-14 21:59:43.10 -5",
            "2001-12-14t21:59:43.10-05:00",
            "<<",
            "=",
            "7\n",
        ] {
            assert!(
                resolves_to_other_type(s),
                "{s:?} should resolve to a non-str"
            );
        }
        for s in [
            "abc",
            "-.5e+3",
            "1e5",
            "0o17",
            "08",
            "1:60",
            "2024-1-1",
            "2024-01-01T00:01",
            "yes!",
            "\n",
            "-",
            "1.5e5",
            "0xG",
            "+",
            "12:",
        ] {
            assert!(!resolves_to_other_type(s), "{s:?} should stay a str");
        }
    }
}
