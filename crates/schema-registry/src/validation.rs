//! The outcome of validating one event's data, and how violations are worded.

use std::fmt::Write as _;

use jsonschema::Validator;
use serde_json::Value;

/// At most this many violations are reported; one more line says how many were left out, so a
/// huge bad payload cannot produce a huge rejection reason.
pub const MAX_VIOLATIONS: usize = 10;

/// A violation message longer than this is cut (the validator quotes the offending value, which
/// may be a whole object).
const MAX_MESSAGE_CHARS: usize = 200;

/// The outcome of [`SchemaRegistry::validate`](crate::SchemaRegistry::validate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validation<'a> {
    /// The data is valid against the schema of this `(type, version)`.
    Valid {
        /// The version validated against.
        version: u32,
        /// Stable identifier of the schema, for the CloudEvents `dataschema` attribute, e.g.
        /// `urn:switchyard:schema:razorpay.payment.captured:v1`. It is the schema's `$id`.
        schema_uri: &'a str,
    },
    /// No schema is registered for this type (or for this version of it).
    Unknown,
    /// The data violates the schema.
    Invalid {
        /// The version validated against.
        version: u32,
        /// One line per violation, `<JSON Pointer of the value>: <what is wrong>`, e.g.
        /// `/payload/payment/entity/amount: "abc" is not of type "integer"` (`(root)` for the
        /// whole document). At most [`MAX_VIOLATIONS`], then a line saying how many more there
        /// were. Never empty.
        violations: Vec<String>,
    },
}

impl Validation<'_> {
    /// Whether the data is valid against a registered schema.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        matches!(self, Self::Valid { .. })
    }
}

/// Describes why `data` fails `validator`. Only called once the fast `is_valid` said no: error
/// collection allocates a message and a location per error.
pub(crate) fn violations(validator: &Validator, data: &Value) -> Vec<String> {
    let mut errors = validator.iter_errors(data);
    let mut lines: Vec<String> = errors
        .by_ref()
        .take(MAX_VIOLATIONS)
        .map(|error| {
            let pointer = error.instance_path().as_str();
            let pointer = if pointer.is_empty() {
                "(root)"
            } else {
                pointer
            };
            let mut line = format!("{pointer}: ");
            let start = line.len();
            let _ = write!(line, "{error}");
            truncate_message(&mut line, start);
            line
        })
        .collect();
    let more = errors.count();
    if more > 0 {
        lines.push(format!("... and {more} more violation(s)"));
    }
    if lines.is_empty() {
        // `is_valid` and `iter_errors` disagree: not expected, but never report "invalid" with
        // no reason.
        lines.push("(root): invalid, but the validator gave no detail".to_owned());
    }
    lines
}

fn truncate_message(line: &mut String, start: usize) {
    if let Some((cut, _)) = line[start..].char_indices().nth(MAX_MESSAGE_CHARS) {
        line.truncate(start + cut);
        line.push_str("...");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn validator(schema: &Value) -> Validator {
        jsonschema::draft202012::new(schema).unwrap()
    }

    #[test]
    fn violations_name_the_pointer_and_the_problem() {
        let v = validator(&json!({
            "type": "object",
            "required": ["id"],
            "properties": {"amount": {"type": "integer"}}
        }));
        let lines = violations(&v, &json!({"amount": "abc"}));
        assert!(
            lines.contains(&r#"/amount: "abc" is not of type "integer""#.to_owned()),
            "{lines:?}"
        );
        assert!(
            lines.contains(&r#"(root): "id" is a required property"#.to_owned()),
            "{lines:?}"
        );
    }

    #[test]
    fn violations_are_capped_with_a_count_of_the_rest() {
        let v = validator(&json!({"type": "array", "items": {"type": "integer"}}));
        let data = Value::Array((0..25).map(|i| json!(i.to_string())).collect());
        let lines = violations(&v, &data);
        assert_eq!(lines.len(), MAX_VIOLATIONS + 1);
        assert_eq!(lines[0], r#"/0: "0" is not of type "integer""#);
        assert_eq!(lines[MAX_VIOLATIONS], "... and 15 more violation(s)");
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let v = validator(&json!({"type": "integer"}));
        let lines = violations(&v, &json!("é".repeat(500)));
        assert_eq!(lines.len(), 1);
        let message = lines[0].strip_prefix("(root): ").unwrap();
        assert!(message.ends_with("..."));
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS + 3);
    }
}
