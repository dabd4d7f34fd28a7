//! The options of one request, gathered from the requester, the authenticator, the paginator
//! and the stream slicer, and combined as the CDK's `combine_mappings` does (a key given
//! twice is an error).

use serde_json::{Map, Value};

use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::interpolation::{
    Context, InterpolatedMapping, InterpolatedNestedMapping, InterpolatedString, LiteralKind,
};

/// Query parameters, headers and body parts of a request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestOptions {
    /// Query parameters.
    pub params: Map<String, Value>,
    /// Headers.
    pub headers: Map<String, Value>,
    /// Form body fields.
    pub body_data: Map<String, Value>,
    /// A raw (string) body, when `request_body_data` is a string.
    pub body_text: Option<String>,
    /// JSON body fields.
    pub body_json: Map<String, Value>,
}

impl RequestOptions {
    /// The mapping for one kind of injection.
    pub fn target(&mut self, into: super::InjectInto) -> &mut Map<String, Value> {
        match into {
            super::InjectInto::RequestParameter => &mut self.params,
            super::InjectInto::Header => &mut self.headers,
            super::InjectInto::BodyData => &mut self.body_data,
            super::InjectInto::BodyJson => &mut self.body_json,
        }
    }

    /// Adds `other`'s options; a key already set is an error (`Duplicate keys found`), except
    /// in JSON bodies, where nested mappings merge and equal values are allowed.
    pub fn combine(&mut self, other: RequestOptions) -> Result<()> {
        merge_flat(&mut self.params, other.params, "request parameter")?;
        merge_flat(&mut self.headers, other.headers, "header")?;
        merge_flat(&mut self.body_data, other.body_data, "body data field")?;
        merge_json(&mut self.body_json, other.body_json, "")?;
        if let Some(text) = other.body_text {
            if self.body_text.is_some() {
                return Err(EngineError::Input(
                    "Cannot combine multiple string options".into(),
                ));
            }
            self.body_text = Some(text);
        }
        if self.body_text.is_some() && !self.body_data.is_empty() {
            return Err(EngineError::Input(
                "Cannot combine multiple options if one is a string".into(),
            ));
        }
        Ok(())
    }
}

fn merge_flat(into: &mut Map<String, Value>, from: Map<String, Value>, what: &str) -> Result<()> {
    for (k, v) in from {
        if into.contains_key(&k) {
            return Err(EngineError::Input(format!(
                "Duplicate keys found: the {what} {k:?} is set twice (by the requester, the authenticator, the paginator or the stream slicer)"
            )));
        }
        into.insert(k, v);
    }
    Ok(())
}

fn merge_json(into: &mut Map<String, Value>, from: Map<String, Value>, at: &str) -> Result<()> {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (None, v) => {
                into.insert(k, v);
            }
            (Some(Value::Object(a)), Value::Object(b)) => merge_json(a, b, &format!("{at}{k}."))?,
            (Some(a), b) if *a == b => {}
            _ => {
                return Err(EngineError::Input(format!(
                    "Duplicate keys found: {at}{k} in the JSON body"
                )));
            }
        }
    }
    Ok(())
}

/// The requester's own options: `request_parameters`, `request_headers`,
/// `request_body_json`/`request_body_data` or `request_body`
/// (`InterpolatedRequestOptionsProvider`).
#[derive(Debug, Clone, Default)]
pub struct InterpolatedRequestOptions {
    params: Option<InterpolatedMapping>,
    params_text: Option<InterpolatedString>,
    headers: Option<InterpolatedMapping>,
    headers_text: Option<InterpolatedString>,
    body_data: Option<InterpolatedMapping>,
    body_text: Option<InterpolatedString>,
    body_json: Option<InterpolatedNestedMapping>,
    path: ManifestPath,
}

impl InterpolatedRequestOptions {
    /// Reads the options from an `HttpRequester` node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        let params = node.parameters();
        let mut out = Self {
            path: node.path.clone(),
            ..Self::default()
        };
        match node.get("request_parameters") {
            None => {}
            Some(Value::Object(m)) => {
                out.params = Some(InterpolatedMapping::new(m.clone(), params))
            }
            Some(Value::String(s)) => {
                out.params_text = Some(InterpolatedString::new(s.clone(), params))
            }
            Some(_) => return Err(node.error("request_parameters", "expected a mapping")),
        }
        match node.get("request_headers") {
            None => {}
            Some(Value::Object(m)) => {
                out.headers = Some(InterpolatedMapping::new(m.clone(), params))
            }
            Some(Value::String(s)) => {
                out.headers_text = Some(InterpolatedString::new(s.clone(), params))
            }
            Some(_) => return Err(node.error("request_headers", "expected a mapping")),
        }
        let set_body_json = |v: &Value| InterpolatedNestedMapping::new(v.clone(), params);
        if let Some(v) = node.get("request_body_json") {
            out.body_json = Some(set_body_json(v));
        }
        match node.get("request_body_data") {
            None => {}
            Some(Value::Object(m)) => {
                out.body_data = Some(InterpolatedMapping::new(m.clone(), params))
            }
            Some(Value::String(s)) => {
                out.body_text = Some(InterpolatedString::new(s.clone(), params))
            }
            Some(_) => {
                return Err(node.error("request_body_data", "expected a mapping or a string"));
            }
        }
        if let Some(body) = node.opt_object("request_body")? {
            let kind = body.get("type").and_then(Value::as_str).unwrap_or("");
            let value = body.get("value").cloned().unwrap_or(Value::Null);
            match kind {
                "RequestBodyJsonObject" | "RequestBodyJson" => {
                    out.body_json = Some(set_body_json(&value))
                }
                "RequestBodyUrlEncodedForm" | "RequestBodyData" => match value {
                    Value::Object(m) => out.body_data = Some(InterpolatedMapping::new(m, params)),
                    Value::String(s) => out.body_text = Some(InterpolatedString::new(s, params)),
                    _ => return Err(node.error("request_body", "expected a mapping value")),
                },
                "RequestBodyPlainText" => {
                    out.body_text = Some(InterpolatedString::new(
                        value.as_str().unwrap_or_default().to_string(),
                        params,
                    ))
                }
                other => {
                    return Err(node.error(
                        "request_body",
                        format!("request_body of type {other:?} is not supported"),
                    ));
                }
            }
        }
        if out.body_json.is_some() && (out.body_data.is_some() || out.body_text.is_some()) {
            return Err(EngineError::manifest(
                node.path,
                "RequestOptionsProvider should only contain either 'request_body_data' or 'request_body_json' not both",
            ));
        }
        Ok(out)
    }

    /// The options for one request, evaluated in `context`.
    pub fn eval(&self, context: &Context) -> Result<RequestOptions> {
        let err = |e| EngineError::interpolation(&self.path, e);
        let mut out = RequestOptions::default();
        let valid = [LiteralKind::Str, LiteralKind::List];
        if let Some(p) = &self.params {
            out.params = drop_nulls(p.eval(context, Some(&valid)).map_err(err)?);
        }
        if let Some(p) = &self.params_text
            && let Value::Object(m) = p.eval(context).map_err(err)?
        {
            out.params = drop_nulls(m);
        }
        if let Some(h) = &self.headers {
            out.headers = drop_nulls(h.eval(context, None).map_err(err)?);
        }
        if let Some(h) = &self.headers_text
            && let Value::Object(m) = h.eval(context).map_err(err)?
        {
            out.headers = drop_nulls(m);
        }
        if let Some(b) = &self.body_data {
            out.body_data = drop_nulls(b.eval(context, Some(&valid)).map_err(err)?);
        }
        if let Some(t) = &self.body_text {
            match t.eval(context).map_err(err)? {
                Value::Object(m) => out.body_data = drop_nulls(m),
                Value::String(s) if s.is_empty() => {}
                Value::Null => {}
                Value::String(s) => out.body_text = Some(s),
                other => out.body_text = Some(other.to_string()),
            }
        }
        if let Some(j) = &self.body_json {
            match j.eval(context).map_err(err)? {
                Value::Object(m) => out.body_json = drop_nulls(m),
                Value::Null => {}
                other => {
                    return Err(EngineError::manifest(
                        &self.path,
                        format!("request_body_json must evaluate to a mapping, found {other}"),
                    ));
                }
            }
        }
        Ok(out)
    }
}

fn drop_nulls(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter().filter(|(_, v)| !v.is_null()).collect()
}
