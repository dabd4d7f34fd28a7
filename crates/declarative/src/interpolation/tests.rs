//! The CDK's Jinja behaviour (from `jinja.py`, `macros.py`, `filters.py` and the CDK's unit
//! tests' cases), end to end through [`Interpolator::eval`].

use serde_json::{Value as Json, json};

use super::*;

fn ctx() -> Context {
    Context::new(
        &json!({"field": "value", "number": 100, "start": "2022-01-01", "list": ["a", "b"], "nested": {"k": "v"}, "nothing": null}),
    )
}

fn eval(template: &str) -> Json {
    Interpolator::shared()
        .eval(template, &ctx(), None, None, None)
        .unwrap()
}

fn eval_err(template: &str) -> InterpolationError {
    Interpolator::shared()
        .eval(template, &ctx(), None, None, None)
        .unwrap_err()
}

#[test]
fn config_access_and_literal_evaluation() {
    assert_eq!(eval("{{ config['field'] }}"), json!("value"));
    assert_eq!(eval("{{ config.field }}"), json!("value"));
    assert_eq!(eval("{{ config['number'] }}"), json!(100));
    assert_eq!(eval("{{ config['number'] * 2 }}"), json!(200));
    assert_eq!(eval("{{ config['list'] }}"), json!(["a", "b"]));
    assert_eq!(eval("{{ config.nested }}"), json!({"k": "v"}));
    assert_eq!(eval("{{ True }}"), json!(true));
    assert_eq!(eval("{{ 1 == 1 }}"), json!(true));
    assert_eq!(eval("{{ config.nothing }}"), Json::Null);
    assert_eq!(eval("hello {{ config.field }}"), json!("hello value"));
    assert_eq!(eval("2022-01-01"), json!("2022-01-01"));
    assert_eq!(eval("plain text"), json!("plain text"));
    assert_eq!(
        eval("{{ '1' }}"),
        json!(1),
        "the CDK evaluates rendered text, so '1' becomes 1"
    );
    assert_eq!(eval("{{ 10 / 4 }}"), json!(2.5));
    assert_eq!(eval("{{ 4 / 2 }}"), json!(2.0));
    assert_eq!(
        eval("{{ config.get('missing', 'fallback') }}"),
        json!("fallback")
    );
    assert_eq!(eval("{{ config['field'].upper() }}"), json!("VALUE"));
    assert_eq!(eval("{{ 'a,b'.split(',') }}"), json!(["a", "b"]));
    assert_eq!(eval("{{ config['list'] | join('-') }}"), json!("a-b"));
    assert_eq!(
        eval("{% if config.number > 10 %}big{% else %}small{% endif %}"),
        json!("big")
    );
    assert_eq!(
        eval("{{ {'a': config.number, 'b': [1, none]} }}"),
        json!({"a": 100, "b": [1, null]})
    );
}

#[test]
fn valid_types_keep_the_text_when_the_literal_is_of_another_type() {
    let i = Interpolator::shared();
    assert_eq!(
        i.eval(
            "{{ config.number }}",
            &ctx(),
            None,
            None,
            Some(&[LiteralKind::Str])
        )
        .unwrap(),
        json!("100")
    );
    assert_eq!(
        i.eval(
            "{{ config.number }}",
            &ctx(),
            None,
            None,
            Some(&[LiteralKind::Int])
        )
        .unwrap(),
        json!(100)
    );
    assert_eq!(
        i.eval("{{ True }}", &ctx(), None, None, Some(&[LiteralKind::Int]))
            .unwrap(),
        json!(true)
    );
}

#[test]
fn empty_or_undefined_falls_back_to_the_default() {
    let i = Interpolator::shared();
    assert_eq!(
        i.eval("{{ config.missing }}", &ctx(), None, Some("default"), None)
            .unwrap(),
        json!("default")
    );
    assert_eq!(
        i.eval(
            "{{ config.missing.deeper }}",
            &ctx(),
            None,
            Some("{{ 5 }}"),
            None
        )
        .unwrap(),
        json!(5)
    );
    assert_eq!(
        i.eval("{{ config.missing }}", &ctx(), None, None, None)
            .unwrap(),
        Json::Null
    );
    let e = i
        .eval(
            "{{ config.missing.deeper }}",
            &ctx(),
            None,
            Some("{{ config.missing.deeper }}"),
            None,
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            InterpolationError::Render {
                undefined: true,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn undeclared_variables_and_stream_state_are_errors() {
    let e = eval_err("{{ response.next }}");
    assert!(
        matches!(&e, InterpolationError::UndeclaredVariables { names, .. } if names == &["response".to_string()]),
        "{e}"
    );
    let e = eval_err("{{ stream_state.get('updated_at') }}");
    assert!(
        matches!(e, InterpolationError::UnsupportedVariable { .. }),
        "{e}"
    );
    assert!(
        matches!(
            eval_err("{{ range(3) }}"),
            InterpolationError::UndeclaredVariables { .. }
        ),
        "range is removed as in the CDK"
    );
    assert!(matches!(
        eval_err("{{ config[ }}"),
        InterpolationError::Syntax { .. }
    ));
    let with_response = ctx().with("response", &json!({"next": "abc"}));
    assert_eq!(
        Interpolator::shared()
            .eval("{{ response.next }}", &with_response, None, None, None)
            .unwrap(),
        json!("abc")
    );
    let set_inside = Interpolator::shared()
        .eval("{% set x = 2 %}{{ x }}", &ctx(), None, None, None)
        .unwrap();
    assert_eq!(set_inside, json!(2));
}

#[test]
fn stream_slice_aliases_and_attributes() {
    let slice = StreamSlice::new(
        &json!({"parent_id": "p1"}),
        &json!({"start_time": "2024-01-01"}),
        &json!({"name": "extra"}),
    );
    let c = ctx().with_stream_slice(slice);
    let i = Interpolator::shared();
    let ev = |t: &str| i.eval(t, &c, None, None, None).unwrap();
    assert_eq!(ev("{{ stream_slice['start_time'] }}"), json!("2024-01-01"));
    assert_eq!(ev("{{ stream_interval.start_time }}"), json!("2024-01-01"));
    assert_eq!(ev("{{ stream_partition.parent_id }}"), json!("p1"));
    assert_eq!(ev("{{ stream_partition.get('parent_id') }}"), json!("p1"));
    assert_eq!(
        ev("{{ stream_slice.partition }}"),
        json!({"parent_id": "p1"})
    );
    assert_eq!(
        ev("{{ stream_slice.extra_fields['name'] }}"),
        json!("extra")
    );
    assert_eq!(
        ev("{{ stream_slice.cursor_slice.start_time }}"),
        json!("2024-01-01")
    );
}

#[test]
fn parameters_are_visible() {
    let params = Value::from(minijinja::value::Serde(
        json!({"name": "users", "path": "/u"}),
    ));
    let v = Interpolator::shared()
        .eval(
            "{{ parameters.name }}{{ parameters['path'] }}",
            &ctx(),
            Some(&params),
            None,
            None,
        )
        .unwrap();
    assert_eq!(v, json!("users/u"));
}

#[test]
fn macros() {
    assert_eq!(eval("{{ max(2, 3) }}"), json!(3));
    assert_eq!(eval("{{ min([4, 1, 3]) }}"), json!(1));
    assert_eq!(
        eval("{{ max('2022-01-01', '2021-01-01') }}"),
        json!("2022-01-01")
    );
    assert_eq!(eval("{{ timestamp(1646006400) }}"), json!(1646006400));
    assert_eq!(
        eval("{{ timestamp(1658505815.223235) }}"),
        json!(1658505815)
    );
    assert_eq!(eval("{{ timestamp('2022-02-28') }}"), json!(1646006400.0));
    assert_eq!(
        eval("{{ str_to_datetime('2022-01-14') }}"),
        json!("2022-01-14 00:00:00+00:00")
    );
    assert_eq!(
        eval("{{ str_to_datetime('2022-01-14T05:00:00+05:00').isoformat() }}"),
        json!("2022-01-14T00:00:00+00:00")
    );
    assert_eq!(
        eval("{{ format_datetime('2022-01-01T13:45:30', '%Y-%m-%d') }}"),
        json!("2022-01-01")
    );
    assert_eq!(
        eval("{{ format_datetime(config.start, '%s') }}"),
        json!(1640995200)
    );
    assert_eq!(
        eval("{{ format_datetime(1640995200, '%Y-%m-%dT%H:%M:%SZ') }}"),
        json!("2022-01-01T00:00:00Z")
    );

    assert_eq!(
        eval("{{ format_datetime('01/02/2022', '%Y-%m-%d', input_format='%m/%d/%Y') }}"),
        json!("2022-01-02")
    );
    assert_eq!(
        eval(
            "{{ format_datetime(str_to_datetime('2022-01-01T00:00:00.5Z'), '%Y-%m-%dT%H:%M:%S.%_msZ') }}"
        ),
        json!("2022-01-01T00:00:00. 1sZ"),
        "a datetime goes to Python's strftime, where glibc reads %_m as a space-padded month"
    );
    assert_eq!(
        eval("{{ format_datetime('2022-01-01T00:00:00.5Z', '%Y-%m-%dT%H:%M:%S.%_msZ') }}"),
        json!("2022-01-01T00:00:00.500Z")
    );
    assert_eq!(
        eval("{{ format_datetime('2022-01-01', '%ms') }}"),
        json!(1640995200000u64)
    );
    assert_eq!(
        eval("{{ format_datetime('2022-01-01', '%epoch_microseconds') }}"),
        json!(1640995200000000u64)
    );
    assert_eq!(eval("{{ sanitize_url('a b/c') }}"), json!("a+b%2Fc"));
    assert_eq!(
        eval("{{ camel_case_to_snake_case('CamelCase') }}"),
        json!("camel_case")
    );
    let uuid = eval("{{ generate_uuid() }}");
    assert_eq!(uuid.as_str().map(str::len), Some(36));
    assert_eq!(eval("{{ duration('P1D') }}"), json!("1 day, 0:00:00"));
    assert!(matches!(
        eval_err("{{ duration('1D') }}"),
        InterpolationError::Render {
            undefined: false,
            ..
        }
    ));
    // A Python TypeError gives the template text itself (the CDK's `except TypeError: return s`).
    assert_eq!(eval("{{ max(1, 'a') }}"), json!("{{ max(1, 'a') }}"));
    assert_eq!(eval("{{ 'a' + 1 }}"), json!("{{ 'a' + 1 }}"));
    assert_eq!(eval("{{ none + 1 }}"), json!("{{ none + 1 }}"));
    assert_eq!(
        eval("{{ format_datetime('01/02/2022', '%Y-%m-%d', '%m/%d/%Y') }}"),
        json!("2022-01-02")
    );
    assert!(
        matches!(
            eval_err("{{ format_datetime('1640995200123', '%Y', '%ms') }}"),
            InterpolationError::Render { .. }
        ),
        "a string with an input format goes to strptime, which has no %ms"
    );
}

#[test]
fn now_today_and_day_delta() {
    let now = chrono::Utc::now();
    let today = now.date_naive().format("%Y-%m-%d").to_string();
    let yesterday = (now - chrono::TimeDelta::days(1))
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    // Around midnight the date can move between the two reads: accept either day.
    let is_today_or_next = |s: &str| {
        s == today
            || s == (now + chrono::TimeDelta::days(1))
                .date_naive()
                .format("%Y-%m-%d")
                .to_string()
    };
    assert!(is_today_or_next(
        eval("{{ today_utc() }}").as_str().unwrap_or_default()
    ));
    assert!(is_today_or_next(
        eval("{{ now_utc().strftime('%Y-%m-%d') }}")
            .as_str()
            .unwrap_or_default()
    ));
    assert!(is_today_or_next(
        eval("{{ today_with_timezone('UTC') }}")
            .as_str()
            .unwrap_or_default()
    ));
    // IANA zones (pytz's names): a date within a day of UTC's, and unknown names fail.
    for zone in ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/Paris"] {
        let date = eval(&format!("{{{{ today_with_timezone('{zone}') }}}}"));
        let day = chrono::NaiveDate::parse_from_str(date.as_str().unwrap_or_default(), "%Y-%m-%d")
            .unwrap_or_else(|e| panic!("{zone}: {date}: {e}"));
        let utc = chrono::Utc::now().date_naive();
        assert!((day - utc).num_days().abs() <= 1, "{zone}: {day} vs {utc}");
    }
    assert!(matches!(
        eval_err("{{ today_with_timezone('Mars/Olympus') }}"),
        InterpolationError::Render { .. }
    ));
    let delta = eval("{{ day_delta(-1, format='%Y-%m-%d') }}");
    assert!(
        delta == json!(yesterday) || delta == json!(today),
        "{delta}"
    );
    let full = eval("{{ day_delta(1) }}");
    assert!(
        full.as_str().is_some_and(
            |s| s.len() == "2024-01-01T00:00:00.000000+0000".len() && s.ends_with("+0000")
        ),
        "{full}"
    );
    let rendered = eval("{{ now_utc() }}");
    assert!(
        rendered
            .as_str()
            .is_some_and(|s| s.ends_with("+00:00") && s.contains(' ')),
        "{rendered}"
    );
}

#[test]
fn datetime_arithmetic() {
    assert_eq!(
        eval("{{ (str_to_datetime('2024-03-01') - duration('P1D')).strftime('%Y-%m-%d') }}"),
        json!("2024-02-29")
    );
    assert_eq!(
        eval("{{ str_to_datetime('2024-03-01') + duration('PT1H') }}"),
        json!("2024-03-01 01:00:00+00:00")
    );
    assert_eq!(
        eval("{{ (str_to_datetime('2024-03-31') - duration('P1M')).date() }}"),
        json!("2024-02-29")
    );
    assert_eq!(
        eval(
            "{{ (str_to_datetime('2024-03-02') - str_to_datetime('2024-03-01')).total_seconds() }}"
        ),
        json!(86400.0)
    );
    assert_eq!(
        eval("{{ str_to_datetime('2024-03-02') > str_to_datetime('2024-03-01') }}"),
        json!(true)
    );
    assert_eq!(
        eval("{{ max(str_to_datetime('2024-03-02'), str_to_datetime('2024-03-01')).day }}"),
        json!(2)
    );
    assert_eq!(
        eval("{{ (now_utc() - duration('P30D')) < now_utc() }}"),
        json!(true)
    );
    assert_eq!(eval("{{ config.number - 1 + 2 }}"), json!(101));
    assert_eq!(eval("{{ 'a' + 'b' }}"), json!("ab"));
    assert_eq!(eval("{{ config.list + ['c'] }}"), json!(["a", "b", "c"]));
    assert_eq!(eval("{{ -config.number }}"), json!(-100));
    assert_eq!(
        eval("{{ (str_to_datetime('2024-01-01') - duration('P1D')).timestamp() | int }}"),
        json!(1703980800)
    );
    assert_eq!(
        eval("{{ config.missing.x - 1 }}"),
        Json::Null,
        "undefined: the (absent) default"
    );
    let e = Interpolator::shared()
        .render("{{ config.missing.x - 1 }}", &ctx(), None)
        .unwrap_err();
    assert!(
        matches!(
            e,
            InterpolationError::Render {
                undefined: true,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn filters() {
    assert_eq!(
        eval("{{ 'client:secret' | base64encode }}"),
        json!("Y2xpZW50OnNlY3JldA==")
    );
    assert_eq!(
        eval("{{ 'Y2xpZW50OnNlY3JldA==' | base64decode }}"),
        json!("client:secret")
    );
    assert_eq!(
        eval("{{ 'abc' | hash }}"),
        json!("900150983cd24fb0d6963f7d28e17f72")
    );
    assert_eq!(
        eval("{{ 'abc' | hash('sha256') }}"),
        json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    assert_eq!(
        eval("{{ 'a' | hash('md5', 'bc') }}"),
        json!("900150983cd24fb0d6963f7d28e17f72")
    );
    assert!(matches!(
        eval_err("{{ 'a' | hash('nope') }}"),
        InterpolationError::Render { .. }
    ));
    assert_eq!(
        eval("{{ 'The quick brown fox jumps over the lazy dog' | hmac('key') }}"),
        json!("f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8")
    );
    assert_eq!(
        eval("{{ config.nested | string }}"),
        json!("{\"k\": \"v\"}"),
        "string keeps JSON text"
    );
    assert_eq!(eval("{{ config.number | string }}"), json!("100"));
    assert_eq!(eval("{{ 'x' | string }}"), json!("x"));
    assert_eq!(eval("{{ '5' | int + 1 }}"), json!(6));
    assert_eq!(eval("{{ config.list | length }}"), json!(2));
    // Python's re.search / re.sub (answers from CPython).
    assert_eq!(eval("{{ 'a1b2' | regex_search('(\\d)') }}"), json!(1));
    assert_eq!(
        eval("{{ 'page=7&x=1' | regex_search('page=(\\d+)') }}"),
        json!(7)
    );
    // No match (or no group) renders "", and an empty result falls back to the default.
    assert_eq!(eval("{{ 'abc' | regex_search('(\\d)') }}"), Json::Null);
    assert_eq!(
        eval("{{ 'abc' | regex_search('b') }}"),
        Json::Null,
        "no group"
    );
    assert_eq!(
        eval("{{ 'a-b-c' | regex_replace('-', '_') }}"),
        json!("a_b_c")
    );
    assert_eq!(
        // `\\2` in the Jinja literal is the two characters `\2` (`'\2'` would be "\x02").
        eval("{{ 'John Smith' | regex_replace('(\\w+) (\\w+)', '\\\\2, \\\\1') }}"),
        json!("Smith, John")
    );
    assert_eq!(
        eval("{{ 'x1y' | regex_replace('(?P<d>\\d)', '[\\g<d>]$') }}"),
        json!("x[1]$y")
    );
    assert_eq!(
        eval("{{ 'foobar' | regex_replace('o(?=b)', '0') }}"),
        json!("fo0bar"),
        "lookahead, as Python's re"
    );
    assert!(matches!(
        eval_err("{{ 'a' | regex_search('(') }}"),
        InterpolationError::Render { .. }
    ));
}

#[test]
fn interpolated_string_boolean_mapping() {
    let params = json!({"name": "users"});
    let params = params.as_object().unwrap();
    let s = InterpolatedString::new("{{ parameters.name }}-{{ config.field }}", params);
    assert_eq!(s.eval(&ctx()).unwrap(), json!("users-value"));
    let plain = InterpolatedString::new("https://api.example.com", params);
    assert_eq!(
        plain.eval(&ctx()).unwrap(),
        json!("https://api.example.com")
    );
    assert_eq!(
        plain.eval(&ctx()).unwrap(),
        json!("https://api.example.com")
    );
    let with_default =
        InterpolatedString::new("{{ config.missing }}", params).with_default("{{ config.number }}");
    assert_eq!(with_default.eval(&ctx()).unwrap(), json!(100));
    let no_default = InterpolatedString::new("{{ config.missing }}", params);
    assert_eq!(
        no_default.eval(&ctx()).unwrap(),
        json!(""),
        "the string is its own default"
    );
    assert!(
        InterpolatedString::new("{{ config.missing.x }}", params)
            .eval(&ctx())
            .is_err()
    );
    assert_eq!(
        InterpolatedString::new("{{ config.number }}", params)
            .eval_to_string(&ctx())
            .unwrap(),
        "100"
    );

    for (condition, expected) in [
        ("{{ config.number > 1 }}", true),
        ("{{ config.missing }}", false),
        ("{{ config.nothing }}", false),
        ("{{ [] }}", false),
        ("{{ 0 }}", false),
        ("{{ '0.0' }}", false),
        ("{{ 'false' }}", false),
        ("{{ config.field }}", true),
        ("{{ config.list }}", true),
        ("False", false),
        ("anything", true),
    ] {
        assert_eq!(
            InterpolatedBoolean::new(condition, params)
                .eval(&ctx())
                .unwrap(),
            expected,
            "{condition}"
        );
    }
    assert!(
        InterpolatedBoolean::from_json(&json!(true), params)
            .eval(&ctx())
            .unwrap()
    );

    let mapping = json!({"{{ parameters.name }}_key": "{{ config.number }}", "limit": 10, "str": "{{ config.field }}", "1": "x"});
    let m = InterpolatedMapping::new(mapping.as_object().unwrap().clone(), params)
        .eval(&ctx(), None)
        .unwrap();
    assert_eq!(
        Json::Object(m),
        json!({"users_key": 100, "limit": 10, "str": "value", "1": "x"})
    );
    let strings_only = InterpolatedMapping::new(
        json!({"n": "{{ config.number }}"})
            .as_object()
            .unwrap()
            .clone(),
        params,
    )
    .eval(&ctx(), Some(&[LiteralKind::Str]))
    .unwrap();
    assert_eq!(strings_only["n"], json!("100"));

    let nested = InterpolatedNestedMapping::new(
        json!({"a": {"b": "{{ config.number }}", "gone": "{{ config.nothing }}"}, "l": ["{{ config.field }}", 1]}),
        params,
    );
    assert_eq!(
        nested.eval(&ctx()).unwrap(),
        json!({"a": {"b": 100}, "l": ["value", 1]})
    );
}

#[test]
fn python_rendering_of_values() {
    assert_eq!(
        Interpolator::shared()
            .render(
                "{{ config.nested }} {{ True }} {{ none }} {{ 1.0 }}",
                &ctx(),
                None
            )
            .unwrap(),
        "{'k': 'v'} True None 1.0"
    );
    assert_eq!(
        Interpolator::shared()
            .render("{{ str_to_datetime('2024-01-01').date() }}", &ctx(), None)
            .unwrap(),
        "2024-01-01"
    );
}

#[test]
fn isoformat_takes_pythons_timespec() {
    assert_eq!(
        eval("{{ str_to_datetime('2024-01-02T03:04:05.123456Z').isoformat('T', 'seconds') }}"),
        json!("2024-01-02T03:04:05+00:00")
    );
    assert_eq!(
        eval(
            "{{ str_to_datetime('2024-01-02T03:04:05.123456Z').isoformat(timespec='milliseconds') }}"
        ),
        json!("2024-01-02T03:04:05.123+00:00")
    );
}
