//! `$ref` resolution without I/O: schemas may only point inside themselves (`#/...`) or at the
//! `$id` of another file loaded from the same directory.
//!
//! jsonschema would report a dangling reference too, but only while compiling the event schema
//! that reaches it, and without saying which shared definition holds it. Checking every file up
//! front names the file at fault.

use std::{collections::HashMap, path::Path};

use serde_json::Value;

use crate::RegistryError;

/// A retriever that refuses everything: whatever is not loaded from the directory does not exist.
/// (jsonschema is built without its network and file resolvers; this makes the refusal say why.)
pub(crate) struct OfflineRetriever;

impl jsonschema::Retrieve for OfflineRetriever {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!(
            "{uri} is not the $id of a file in the schema directory (schemas are never fetched)"
        )
        .into())
    }
}

/// Keywords whose values are instance data, not subschemas: a `"$ref"` key inside them is not a
/// reference.
const DATA_KEYWORDS: [&str; 4] = ["const", "enum", "default", "examples"];

/// Checks every `$ref` of `schema` (loaded from `path`) that leaves the document: it must be an
/// absolute URI whose part before `#` is a key of `ids` (the `$id`s of the loaded files).
pub(crate) fn check_external_refs<V>(
    path: &Path,
    schema: &Value,
    ids: &HashMap<String, V>,
) -> Result<(), RegistryError> {
    let mut refs = Vec::new();
    collect_refs(schema, &mut refs);
    for reference in refs {
        if reference.starts_with('#') {
            continue; // Local: jsonschema checks the pointer when it compiles.
        }
        let base = reference
            .split_once('#')
            .map_or(reference, |(base, _)| base);
        let problem = if !is_absolute(base) {
            "is relative; refer to another file by its full $id, e.g. urn:switchyard:def:razorpay:payment"
        } else if ids.contains_key(base) {
            continue;
        } else {
            "names no $id loaded from the schema directory"
        };
        return Err(RegistryError::UnresolvableRef {
            path: path.to_path_buf(),
            detail: format!("{reference:?} {problem}"),
        });
    }
    Ok(())
}

fn collect_refs<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("$ref", Value::String(reference)) => out.push(reference),
                    (keyword, _) if DATA_KEYWORDS.contains(&keyword) => {}
                    _ => collect_refs(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}

/// `scheme:...` per RFC 3986: a letter, then letters, digits, `+`, `-` or `.`, then `:`.
fn is_absolute(uri: &str) -> bool {
    uri.split_once(':').is_some_and(|(scheme, _)| {
        let mut chars = scheme.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ids() -> HashMap<String, ()> {
        HashMap::from([("urn:switchyard:def:razorpay:payment".to_owned(), ())])
    }

    #[test]
    fn local_and_loaded_references_pass() {
        let schema = json!({
            "properties": {
                "a": {"$ref": "#/$defs/a"},
                "b": {"$ref": "urn:switchyard:def:razorpay:payment"},
                "c": {"$ref": "urn:switchyard:def:razorpay:payment#/properties/id"},
                "d": {"const": {"$ref": "not a reference"}}
            },
            "$defs": {"a": {"type": "string"}}
        });
        check_external_refs(Path::new("x.json"), &schema, &ids()).unwrap();
    }

    #[test]
    fn dangling_and_relative_references_name_the_file_and_the_reference() {
        for (reference, why) in [
            ("urn:switchyard:def:razorpay:nope", "names no $id"),
            ("https://example.com/schema.json", "names no $id"),
            ("payment.json", "is relative"),
            ("../_defs/payment.json#/x", "is relative"),
        ] {
            let schema = json!({"items": [{"allOf": [{"$ref": reference}]}]});
            let err = check_external_refs(Path::new("dir/x.v1.json"), &schema, &ids()).unwrap_err();
            let message = err.to_string();
            assert!(
                message.starts_with("dir/x.v1.json: unresolvable $ref"),
                "{message}"
            );
            assert!(
                message.contains(reference) && message.contains(why),
                "{message}"
            );
        }
    }
}
