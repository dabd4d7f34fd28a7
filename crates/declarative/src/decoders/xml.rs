//! `XmlDecoder`: an XML body as the mapping Python's `xmltodict.parse` makes of it (the CDK's
//! decoder): attributes as `@name`, text beside attributes or children as `#text`, an element
//! with only text as that text (`None` when empty), repeated elements as lists, namespaces
//! kept as written in the names. A body that is not XML gives one `{}`.

use quick_xml::events::Event;
use serde_json::{Map, Value};

/// An element being read: its name, its attributes and children so far, its text.
struct Frame {
    name: String,
    item: Option<Map<String, Value>>,
    data: Option<String>,
}

/// What `xmltodict.parse` gives for `text`, or `None` when it is not well-formed XML.
pub fn xml_to_json(text: &str) -> Option<Value> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Map<String, Value>> = None;
    let open = |e: &quick_xml::events::BytesStart<'_>| -> Option<Frame> {
        let name = e.name().as_ref().to_string();
        let mut attrs = Map::new();
        for attr in e.attributes() {
            let attr = attr.ok()?;
            let key = attr.key.as_ref();
            let value = attr
                .normalized_value(quick_xml::XmlVersion::default())
                .ok()?;
            attrs.insert(format!("@{key}"), Value::String(value.into_owned()));
        }
        Some(Frame {
            name,
            item: (!attrs.is_empty()).then_some(attrs),
            data: None,
        })
    };
    let append = |stack: &mut Vec<Frame>, text: &str| {
        if let Some(top) = stack.last_mut() {
            top.data.get_or_insert_with(String::new).push_str(text);
        }
    };
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => stack.push(open(&e)?),
            Event::Empty(e) => {
                let frame = open(&e)?;
                close(frame.name, frame.item, frame.data, &mut stack, &mut root);
            }
            Event::End(_) => {
                let frame = stack.pop()?;
                close(frame.name, frame.item, frame.data, &mut stack, &mut root);
            }
            Event::Text(t) => append(&mut stack, &t.xml10_content()),
            Event::CData(t) => append(&mut stack, &t),
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().ok()? {
                    Some(c) => c.to_string(),
                    None => match &*r {
                        "amp" => "&".into(),
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "quot" => "\"".into(),
                        "apos" => "'".into(),
                        // expat refuses an entity it does not know.
                        _ => return None,
                    },
                };
                append(&mut stack, &resolved);
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return None;
    }
    root.map(Value::Object)
}

/// xmltodict's `endElement`: the element's value goes into its parent (or is the document).
fn close(
    name: String,
    item: Option<Map<String, Value>>,
    data: Option<String>,
    stack: &mut [Frame],
    root: &mut Option<Map<String, Value>>,
) {
    let data = data.map(|d| d.trim().to_string()).filter(|d| !d.is_empty());
    let value = match item {
        Some(mut item) => {
            if let Some(d) = data {
                push(&mut item, "#text".into(), Value::String(d));
            }
            Value::Object(item)
        }
        None => data.map_or(Value::Null, Value::String),
    };
    match stack.last_mut() {
        Some(parent) => push(parent.item.get_or_insert_with(Map::new), name, value),
        None => push(root.get_or_insert_with(Map::new), name, value),
    }
}

/// xmltodict's `push_data`: a repeated key becomes a list.
fn push(item: &mut Map<String, Value>, key: String, value: Value) {
    match item.get_mut(&key) {
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
        None => {
            item.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn as_xmltodict() {
        let xml = r#"<?xml version="1.0"?>
<root>
    <location id="123">
        San Francisco
    </location>
    <!-- a comment -->
    <item id="1" category="books"><name>Book &amp; Title</name><price>10.99</price></item>
    <item id="2"><name><![CDATA[<Gadget>]]></name><empty/><blank></blank></item>
    <ns:tag xmlns:ns="urn:x">&#65;b</ns:tag>
</root>"#;
        assert_eq!(
            xml_to_json(xml).unwrap(),
            json!({"root": {
                "location": {"@id": "123", "#text": "San Francisco"},
                "item": [
                    {"@id": "1", "@category": "books", "name": "Book & Title", "price": "10.99"},
                    {"@id": "2", "name": "<Gadget>", "empty": null, "blank": null}
                ],
                "ns:tag": {"@xmlns:ns": "urn:x", "#text": "Ab"}
            }})
        );
        assert_eq!(
            xml_to_json("<a>x<b>y</b>z</a>").unwrap(),
            json!({"a": {"b": "y", "#text": "xz"}})
        );
        assert_eq!(xml_to_json("not xml"), None);
        assert_eq!(xml_to_json("<a><b></a>"), None);
        assert_eq!(xml_to_json(""), None);
        assert_eq!(xml_to_json("<a>&nope;</a>"), None);
    }
}
