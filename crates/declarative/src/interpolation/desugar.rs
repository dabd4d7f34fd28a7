//! Datetime arithmetic for minijinja, whose values cannot overload operators: every `a + b`
//! and `a - b` in a template is rewritten to `__abrs_add(a, b)` / `__abrs_sub(a, b)` before
//! compiling, and those functions give Python's results for datetimes, dates and durations
//! (`now_utc() - duration('P1D')`) and the usual ones for numbers, strings and lists.
//!
//! The rewrite works on the parsed template (minijinja's AST, with source spans), so strings,
//! comments and raw text are never touched.

use minijinja::machinery::ast::{self, CallArg, Expr, Stmt};
use minijinja::machinery::parse;
use minijinja::syntax::SyntaxConfig;

/// The function `+` is rewritten to.
pub const ADD_FUNCTION: &str = "__abrs_add";
/// The function `-` is rewritten to.
pub const SUB_FUNCTION: &str = "__abrs_sub";
/// The function `%` is rewritten to (Python's string formatting and modulo).
pub const MOD_FUNCTION: &str = "__abrs_mod";
/// The function a single `<` is rewritten to (Jinja2 raises on ordering an undefined value).
pub const LT_FUNCTION: &str = "__abrs_lt";
/// The function a single `<=` is rewritten to.
pub const LE_FUNCTION: &str = "__abrs_le";
/// The function a single `>` is rewritten to.
pub const GT_FUNCTION: &str = "__abrs_gt";
/// The function a single `>=` is rewritten to.
pub const GE_FUNCTION: &str = "__abrs_ge";
/// The function a unary `-` on a non-constant is rewritten to.
pub const NEG_FUNCTION: &str = "__abrs_neg";

struct Edit {
    offset: usize,
    /// Ties at one offset: closing parentheses first (inner before outer), then opening ones
    /// (outer before inner).
    order: (u8, i64),
    /// Bytes of the source replaced (the operator), 0 for an insertion.
    replace: usize,
    text: &'static str,
}

/// The template with `+`/`-` rewritten, or `None` when it has none (or does not parse: the
/// compiler then reports the syntax error on the original text).
pub fn desugar(source: &str) -> Option<String> {
    if !source.contains(['+', '-', '%', '<', '>']) {
        return None;
    }
    let tree = parse(source, "<template>", SyntaxConfig::default()).ok()?;
    let mut edits = Vec::new();
    walk_stmt(&tree, source, &mut edits);
    if edits.is_empty() {
        return None;
    }
    edits.sort_by_key(|e| (e.offset, e.order));
    let mut out = String::with_capacity(source.len() + edits.len() * 12);
    let mut at = 0;
    for edit in edits {
        if edit.offset < at {
            return None; // overlapping edits: leave the template alone rather than garble it
        }
        out.push_str(source.get(at..edit.offset)?);
        out.push_str(edit.text);
        at = edit.offset + edit.replace;
    }
    out.push_str(source.get(at..)?);
    Some(out)
}

fn walk_stmts(stmts: &[Stmt<'_>], source: &str, edits: &mut Vec<Edit>) {
    for stmt in stmts {
        walk_stmt(stmt, source, edits);
    }
}

fn walk_stmt(stmt: &Stmt<'_>, source: &str, edits: &mut Vec<Edit>) {
    match stmt {
        Stmt::Template(t) => walk_stmts(&t.children, source, edits),
        Stmt::EmitExpr(e) => walk_expr(&e.expr, source, edits),
        Stmt::EmitRaw(_) => {}
        Stmt::ForLoop(f) => {
            walk_expr(&f.iter, source, edits);
            if let Some(filter) = &f.filter_expr {
                walk_expr(filter, source, edits);
            }
            walk_stmts(&f.body, source, edits);
            walk_stmts(&f.else_body, source, edits);
        }
        Stmt::IfCond(i) => {
            walk_expr(&i.expr, source, edits);
            walk_stmts(&i.true_body, source, edits);
            walk_stmts(&i.false_body, source, edits);
        }
        Stmt::WithBlock(w) => {
            for (_, value) in &w.assignments {
                walk_expr(value, source, edits);
            }
            walk_stmts(&w.body, source, edits);
        }
        Stmt::Set(s) => walk_expr(&s.expr, source, edits),
        Stmt::SetBlock(s) => walk_stmts(&s.body, source, edits),
        Stmt::AutoEscape(a) => walk_stmts(&a.body, source, edits),
        Stmt::FilterBlock(f) => walk_stmts(&f.body, source, edits),
        Stmt::Block(b) => walk_stmts(&b.body, source, edits),
        Stmt::Macro(m) => {
            for default in &m.defaults {
                walk_expr(default, source, edits);
            }
            walk_stmts(&m.body, source, edits);
        }
        Stmt::CallBlock(c) => {
            walk_call(&c.call, source, edits);
            walk_stmts(&c.macro_decl.body, source, edits);
        }
        Stmt::Do(d) => walk_call(&d.call, source, edits),
        Stmt::Import(_) | Stmt::FromImport(_) | Stmt::Extends(_) | Stmt::Include(_) => {}
    }
}

fn walk_call(call: &ast::Call<'_>, source: &str, edits: &mut Vec<Edit>) {
    walk_expr(&call.expr, source, edits);
    walk_args(&call.args, source, edits);
}

fn walk_args(args: &[CallArg<'_>], source: &str, edits: &mut Vec<Edit>) {
    for arg in args {
        match arg {
            CallArg::Pos(e)
            | CallArg::Kwarg(_, e)
            | CallArg::PosSplat(e)
            | CallArg::KwargSplat(e) => walk_expr(e, source, edits),
        }
    }
}

fn walk_expr(expr: &Expr<'_>, source: &str, edits: &mut Vec<Edit>) {
    match expr {
        Expr::Var(_) | Expr::Const(_) => {}
        Expr::Slice(s) => {
            walk_expr(&s.expr, source, edits);
            for part in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                walk_expr(part, source, edits);
            }
        }
        Expr::UnaryOp(u) => {
            if matches!(u.op, ast::UnaryOpKind::Neg) && !matches!(u.expr, Expr::Const(_)) {
                rewrite_negation(u.span().start_offset as usize, &u.expr, source, edits);
            }
            walk_expr(&u.expr, source, edits);
        }
        Expr::BinOp(b) => {
            let function = match b.op {
                ast::BinOpKind::Add => Some(ADD_FUNCTION),
                ast::BinOpKind::Sub => Some(SUB_FUNCTION),
                ast::BinOpKind::Rem => Some(MOD_FUNCTION),
                ast::BinOpKind::Lt => Some(LT_FUNCTION),
                ast::BinOpKind::Lte => Some(LE_FUNCTION),
                ast::BinOpKind::Gt => Some(GT_FUNCTION),
                ast::BinOpKind::Gte => Some(GE_FUNCTION),
                _ => None,
            };
            if let Some(function) = function {
                rewrite_binop(b.span(), &b.left, &b.right, function, source, edits);
            }
            walk_expr(&b.left, source, edits);
            walk_expr(&b.right, source, edits);
        }
        Expr::Compare(c) => {
            // Only a single comparison: a chain (`a < b < c`) stays as minijinja evaluates it.
            if let [only] = c.ops.as_slice() {
                let function = match only.op {
                    ast::CompareOpKind::Lt => Some(LT_FUNCTION),
                    ast::CompareOpKind::Lte => Some(LE_FUNCTION),
                    ast::CompareOpKind::Gt => Some(GT_FUNCTION),
                    ast::CompareOpKind::Gte => Some(GE_FUNCTION),
                    _ => None,
                };
                if let Some(function) = function {
                    rewrite_binop(c.span(), &c.expr, &only.expr, function, source, edits);
                }
            }
            walk_expr(&c.expr, source, edits);
            for op in &c.ops {
                walk_expr(&op.expr, source, edits);
            }
        }
        Expr::IfExpr(i) => {
            walk_expr(&i.test_expr, source, edits);
            walk_expr(&i.true_expr, source, edits);
            if let Some(f) = &i.false_expr {
                walk_expr(f, source, edits);
            }
        }
        Expr::Filter(f) => {
            if let Some(e) = &f.expr {
                walk_expr(e, source, edits);
            }
            walk_args(&f.args, source, edits);
        }
        Expr::Test(t) => {
            walk_expr(&t.expr, source, edits);
            walk_args(&t.args, source, edits);
        }
        Expr::GetAttr(g) => walk_expr(&g.expr, source, edits),
        Expr::GetItem(g) => {
            walk_expr(&g.expr, source, edits);
            walk_expr(&g.subscript_expr, source, edits);
        }
        Expr::Call(c) => walk_call(c, source, edits),
        Expr::List(l) => l.items.iter().for_each(|e| walk_expr(e, source, edits)),
        Expr::Tuple(t) => t.items.iter().for_each(|e| walk_expr(e, source, edits)),
        Expr::Map(m) => m
            .keys
            .iter()
            .chain(&m.values)
            .for_each(|e| walk_expr(e, source, edits)),
    }
}

/// `left OP right` spanning `span` → `FUNCTION(left , right)`: the call opens where the
/// expression starts, the operator becomes a comma, the call closes where it ends.
fn rewrite_binop(
    span: minijinja::machinery::Span,
    left: &Expr<'_>,
    right: &Expr<'_>,
    function: &'static str,
    source: &str,
    edits: &mut Vec<Edit>,
) {
    let Some(&(_, op, opening)) = OPERATORS.iter().find(|(f, _, _)| *f == function) else {
        return;
    };
    let _ = span; // minijinja's spans of some nodes (comparisons, filters) are not their text's
    let (_, left_end) = extent(left);
    let (right_start, _) = extent(right);
    let (gap_start, gap_end) = (left_end, right_start);
    let Some(gap) = source.get(gap_start..gap_end) else {
        return;
    };
    // The gap holds only the operator, blanks and the operands' own parentheses.
    let Some(op_at) = gap.find(op) else { return };
    let (before, after) = (&gap[..op_at], &gap[op_at + op.len()..]);
    if before
        .chars()
        .chain(after.chars())
        .any(|c| !(c == '(' || c == ')' || c.is_whitespace()))
    {
        return;
    }
    // Parentheses closing the left operand open before it; those opening the right one close
    // after it: the call spans them.
    let Some(start) = extend_left(source, extent(left).0, before.matches(')').count()) else {
        return;
    };
    let Some(end) = extend_right(source, extent(right).1, after.matches('(').count()) else {
        return;
    };
    let length = (end - start) as i64;
    edits.push(Edit {
        offset: start,
        order: (1, -length),
        replace: 0,
        text: opening,
    });
    edits.push(Edit {
        offset: gap_start + op_at,
        order: (1, 0),
        replace: op.len(),
        text: ",",
    });
    edits.push(Edit {
        offset: end,
        order: (0, length),
        replace: 0,
        text: ")",
    });
}

/// `-operand` → `__abrs_neg(operand)` (Jinja2 raises on negating an undefined value;
/// minijinja's error would not say it was undefined).
fn rewrite_negation(minus_at: usize, operand: &Expr<'_>, source: &str, edits: &mut Vec<Edit>) {
    if source.get(minus_at..minus_at + 1) != Some("-") {
        return;
    }
    let (start, end) = extent(operand);
    let Some(between) = source.get(minus_at + 1..start) else {
        return;
    };
    if between.chars().any(|c| !(c == '(' || c.is_whitespace())) {
        return;
    }
    let Some(end) = extend_right(source, end, between.matches('(').count()) else {
        return;
    };
    let length = (end - minus_at) as i64;
    edits.push(Edit {
        offset: minus_at,
        order: (1, -length),
        replace: 1,
        text: "__abrs_neg(",
    });
    edits.push(Edit {
        offset: end,
        order: (0, length),
        replace: 0,
        text: ")",
    });
}

/// Where the text of `expr` starts and ends: the widest of its own span and its children's
/// (a filter's span starts at the filter's name, a comparison's before its left operand).
fn extent(expr: &Expr<'_>) -> (usize, usize) {
    let own = expr.span();
    let mut range = (own.start_offset as usize, own.end_offset as usize);
    for child in children(expr) {
        let (s, e) = extent(child);
        range = (range.0.min(s), range.1.max(e));
    }
    range
}

/// The direct sub-expressions of `expr`.
fn children<'a>(expr: &'a Expr<'a>) -> Vec<&'a Expr<'a>> {
    let args = |args: &'a [CallArg<'a>]| -> Vec<&'a Expr<'a>> {
        args.iter()
            .map(|a| match a {
                CallArg::Pos(e)
                | CallArg::Kwarg(_, e)
                | CallArg::PosSplat(e)
                | CallArg::KwargSplat(e) => e,
            })
            .collect()
    };
    match expr {
        Expr::Var(_) | Expr::Const(_) => Vec::new(),
        Expr::Slice(s) => std::iter::once(&s.expr)
            .chain([&s.start, &s.stop, &s.step].into_iter().flatten())
            .collect(),
        Expr::UnaryOp(u) => vec![&u.expr],
        Expr::BinOp(b) => vec![&b.left, &b.right],
        Expr::Compare(c) => std::iter::once(&c.expr)
            .chain(c.ops.iter().map(|o| &o.expr))
            .collect(),
        Expr::IfExpr(i) => [
            Some(&i.test_expr),
            Some(&i.true_expr),
            i.false_expr.as_ref(),
        ]
        .into_iter()
        .flatten()
        .collect(),
        Expr::Filter(f) => f.expr.iter().chain(args(&f.args)).collect(),
        Expr::Test(t) => std::iter::once(&t.expr).chain(args(&t.args)).collect(),
        Expr::GetAttr(g) => vec![&g.expr],
        Expr::GetItem(g) => vec![&g.expr, &g.subscript_expr],
        Expr::Call(c) => std::iter::once(&c.expr).chain(args(&c.args)).collect(),
        Expr::List(l) => l.items.iter().collect(),
        Expr::Tuple(t) => t.items.iter().collect(),
        Expr::Map(m) => m.keys.iter().chain(&m.values).collect(),
    }
}

/// The offset `count` opening parentheses (and blanks) before `from`.
fn extend_left(source: &str, mut from: usize, mut count: usize) -> Option<usize> {
    while count > 0 {
        let c = source.get(..from)?.chars().next_back()?;
        from -= c.len_utf8();
        match c {
            '(' => count -= 1,
            c if c.is_whitespace() => {}
            _ => return None,
        }
    }
    Some(from)
}

/// The offset `count` closing parentheses (and blanks) after `from`.
fn extend_right(source: &str, mut from: usize, mut count: usize) -> Option<usize> {
    while count > 0 {
        let c = source.get(from..)?.chars().next()?;
        from += c.len_utf8();
        match c {
            ')' => count -= 1,
            c if c.is_whitespace() => {}
            _ => return None,
        }
    }
    Some(from)
}

/// Each rewritten function with the operator it replaces and the call's opening text.
const OPERATORS: &[(&str, &str, &str)] = &[
    (ADD_FUNCTION, "+", "__abrs_add("),
    (SUB_FUNCTION, "-", "__abrs_sub("),
    (MOD_FUNCTION, "%", "__abrs_mod("),
    (LT_FUNCTION, "<", "__abrs_lt("),
    (LE_FUNCTION, "<=", "__abrs_le("),
    (GT_FUNCTION, ">", "__abrs_gt("),
    (GE_FUNCTION, ">=", "__abrs_ge("),
];

#[cfg(test)]
mod tests {
    use super::desugar;

    #[test]
    fn binops_become_calls() {
        assert_eq!(
            desugar("{{ now_utc() - duration('P1D') }}").as_deref(),
            Some("{{ __abrs_sub(now_utc() , duration('P1D')) }}")
        );
        assert_eq!(
            desugar("{{ (now_utc() - duration('P1D')).strftime('%Y') }}").as_deref(),
            Some("{{ (__abrs_sub(now_utc() , duration('P1D'))).strftime('%Y') }}")
        );
        assert_eq!(
            desugar("{{ a - b - c }}").as_deref(),
            Some("{{ __abrs_sub(__abrs_sub(a , b) , c) }}")
        );
        assert_eq!(
            desugar("{{ (a + b) - c }}").as_deref(),
            Some("{{ __abrs_sub((__abrs_add(a , b)) , c) }}")
        );
        assert_eq!(
            desugar("{{ a - (b + c) * 2 }}").as_deref(),
            Some("{{ __abrs_sub(a , (__abrs_add(b , c)) * 2) }}")
        );
        assert_eq!(
            desugar("{% set x = n + 1 %}{{ x if x > 0 else -1 }}").as_deref(),
            Some("{% set x = __abrs_add(n , 1) %}{{ x if __abrs_gt(x , 0) else -1 }}")
        );
    }

    #[test]
    fn single_ordering_comparisons_become_calls() {
        assert_eq!(
            desugar("{{ a > 0 and b <= c }}").as_deref(),
            Some("{{ __abrs_gt(a , 0) and __abrs_le(b , c) }}")
        );
        assert_eq!(
            desugar("{{ (a - 1) >= 2 }}").as_deref(),
            Some("{{ __abrs_ge((__abrs_sub(a , 1)) , 2) }}")
        );
        assert_eq!(
            desugar("{{ r['x'] > 0 and r.y == 'f' }}").as_deref(),
            Some("{{ __abrs_gt(r['x'] , 0) and r.y == 'f' }}")
        );
        assert_eq!(desugar("{{ 1 < a < 3 }}"), None, "chains are left alone");
        assert_eq!(
            desugar("{{ -config.x }}").as_deref(),
            Some("{{ __abrs_neg(config.x) }}")
        );
        assert_eq!(
            desugar("{{ -(a + 1) }}").as_deref(),
            Some("{{ __abrs_neg((__abrs_add(a , 1))) }}")
        );
        assert_eq!(
            desugar("{{ '5' | int + 1 }}").as_deref(),
            Some("{{ __abrs_add('5' | int , 1) }}")
        );
        assert_eq!(
            desugar("{{ x | f(1) - 2 }}").as_deref(),
            Some("{{ __abrs_sub(x | f(1) , 2) }}")
        );
        assert_eq!(
            desugar("{{ ids | length > 1 }}").as_deref(),
            Some("{{ __abrs_gt(ids | length , 1) }}")
        );
        assert_eq!(
            desugar("{{ a.b.c - 1 }}").as_deref(),
            Some("{{ __abrs_sub(a.b.c , 1) }}")
        );
        assert_eq!(
            desugar("{{ a.m(c)[0] >= b['k'] }}").as_deref(),
            Some("{{ __abrs_ge(a.m(c)[0] , b['k']) }}")
        );
        assert_eq!(
            desugar("{{ not x > 1 }}").as_deref(),
            Some("{{ not __abrs_gt(x , 1) }}")
        );
        assert_eq!(
            desugar("{{ (x|length) > 1 }}").as_deref(),
            Some("{{ __abrs_gt((x|length) , 1) }}")
        );
        assert_eq!(
            desugar("{{ 'a' if x else 'b' ~ y - 1 }}").as_deref(),
            Some("{{ 'a' if x else __abrs_sub('b' ~ y , 1) }}"),
            "`~` binds tighter than `-`, as in Jinja2"
        );
        assert_eq!(desugar("{{ a == b }}"), None);
    }

    #[test]
    fn modulo_becomes_a_call_but_tags_do_not() {
        assert_eq!(
            desugar("{% if x %}{{ '%s-%s' % (a, b) }}{% endif %}").as_deref(),
            Some("{% if x %}{{ __abrs_mod('%s-%s' , (a, b)) }}{% endif %}")
        );
        assert_eq!(desugar("{% if x %}100%{% endif %}"), None);
    }

    #[test]
    fn strings_raw_text_and_unary_minus_are_untouched() {
        assert_eq!(desugar("a-b {{ 'x - y' }} {# c - d #}"), None);
        assert_eq!(desugar("{{ -1 }} {{ x|default('-') }}"), None);
        assert_eq!(desugar("{{ a * b }}"), None);
    }
}
