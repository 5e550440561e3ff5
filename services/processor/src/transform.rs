//! A source's declarative transformation (`[sources.transform]`): rename and drop fields by
//! JSON Pointer, read the subject or the type from a pointer. No scripting: what an operator
//! can configure is exactly what this file does.

use serde_json::Value;
use switchyard_runtime::settings::TransformSettings;

use crate::providers::{Mapped, id_string};

/// A source's transformation, ready to apply.
#[derive(Debug, Clone, Default)]
pub struct Transform {
    rename: Vec<(String, String)>,
    drop: Vec<String>,
    subject: Option<String>,
    event_type: Option<String>,
}

impl Transform {
    /// From configuration (pointers are validated when settings load).
    #[must_use]
    pub fn new(settings: &TransformSettings) -> Self {
        let non_empty = |s: &String| (!s.is_empty()).then(|| s.clone());
        Self {
            rename: settings
                .rename
                .iter()
                .map(|r| (r.from.clone(), r.to.clone()))
                .collect(),
            drop: settings.drop.clone(),
            subject: non_empty(&settings.subject),
            event_type: non_empty(&settings.event_type),
        }
    }

    /// Whether applying it can change the data (if not, the raw bytes are kept as they are).
    #[must_use]
    pub fn changes_data(&self) -> bool {
        !self.rename.is_empty() || !self.drop.is_empty()
    }

    /// Applies the renames and drops to `data`, then overrides the subject and type of
    /// `mapped` where pointers are configured. A pointer that finds nothing changes nothing.
    pub fn apply(&self, source: &str, data: &mut Value, mapped: &mut Mapped) {
        for (from, to) in &self.rename {
            if let Some(value) = take(data, from) {
                put(data, to, value);
            }
        }
        for pointer in &self.drop {
            take(data, pointer);
        }
        if let Some(subject) = self
            .subject
            .as_deref()
            .and_then(|p| data.pointer(p))
            .and_then(id_string)
        {
            mapped.subject = Some(subject);
        }
        if let Some(name) = self
            .event_type
            .as_deref()
            .and_then(|p| data.pointer(p))
            .and_then(Value::as_str)
        {
            mapped.event_type = format!("{source}.{name}");
        }
    }
}

/// Splits `/a/b/c` into the parent pointer `/a/b` and the unescaped last token `c`.
fn split(pointer: &str) -> Option<(&str, String)> {
    let at = pointer.rfind('/')?;
    let token = pointer[at + 1..].replace("~1", "/").replace("~0", "~");
    Some((&pointer[..at], token))
}

/// Removes and returns the value at `pointer`.
fn take(data: &mut Value, pointer: &str) -> Option<Value> {
    let (parent, token) = split(pointer)?;
    match data.pointer_mut(parent)? {
        Value::Object(map) => map.remove(&token),
        Value::Array(items) => {
            let index: usize = token.parse().ok()?;
            (index < items.len()).then(|| items.remove(index))
        }
        _ => None,
    }
}

/// Sets the value at `pointer`; its parent must be an object.
fn put(data: &mut Value, pointer: &str, value: Value) {
    if let Some((parent, token)) = split(pointer)
        && let Some(Value::Object(map)) = data.pointer_mut(parent)
    {
        map.insert(token, value);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use switchyard_runtime::settings::RenameField;

    use super::*;

    fn mapped() -> Mapped {
        Mapped {
            event_type: "acme.webhook".into(),
            subject: None,
            time: None,
        }
    }

    #[test]
    fn renames_drops_and_reads_subject_and_type_by_pointer() {
        let transform = Transform::new(&TransformSettings {
            rename: vec![RenameField {
                from: "/payload/payment/entity/notes".into(),
                to: "/payload/payment/entity/metadata".into(),
            }],
            drop: vec![
                "/payload/payment/entity/card".into(),
                "/does/not/exist".into(),
            ],
            subject: "/payload/payment/entity/id".into(),
            event_type: "/kind".into(),
        });
        let mut data = json!({"kind": "paid", "payload": {"payment": {"entity": {
            "id": "pay_1", "notes": {"a": 1}, "card": {"last4": "1111"}
        }}}});
        let mut m = mapped();
        transform.apply("acme", &mut data, &mut m);
        assert_eq!(
            data,
            json!({"kind": "paid", "payload": {"payment": {"entity": {"id": "pay_1", "metadata": {"a": 1}}}}})
        );
        assert_eq!(m.subject.as_deref(), Some("pay_1"));
        assert_eq!(m.event_type, "acme.paid");
        assert!(transform.changes_data());
    }

    #[test]
    fn escaped_tokens_and_array_items_are_understood() {
        let transform = Transform::new(&TransformSettings {
            drop: vec!["/a~1b".into(), "/list/0".into()],
            ..TransformSettings::default()
        });
        let mut data = json!({"a/b": 1, "list": [1, 2], "keep": true});
        transform.apply("s", &mut data, &mut mapped());
        assert_eq!(data, json!({"list": [2], "keep": true}));
    }

    #[test]
    fn an_empty_transformation_changes_nothing() {
        let transform = Transform::default();
        assert!(!transform.changes_data());
        let mut data = json!({"a": 1});
        let mut m = mapped();
        transform.apply("s", &mut data, &mut m);
        assert_eq!((data, m), (json!({"a": 1}), mapped()));
    }
}
