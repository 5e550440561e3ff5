//! CloudEvents JSON event format (structured mode). JSON data is embedded byte for byte, so
//! decoding gives back exactly the data bytes that were encoded.

use std::collections::BTreeMap;

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use bytes::Bytes;
use serde::Serialize;
use serde_json::value::RawValue;

use super::{CONTENT_TYPE, CodecError, STRUCTURED_JSON, format_time, parse_attr, parse_time};
use crate::{Event, Headers, Message, event::SPEC_VERSION};

#[derive(Serialize)]
struct Document<'a> {
    specversion: &'static str,
    id: &'a str,
    source: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    datacontenttype: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dataschema: Option<&'a str>,
    tenant: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    traceparent: Option<&'a str>,
    #[serde(flatten)]
    extensions: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Data<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_base64: Option<String>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Data<'a> {
    Json(&'a RawValue),
    Text(&'a str),
}

/// The media-type essence: `Application/JSON; charset=utf-8` → `application/json`.
fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Absent `datacontenttype` means JSON in the JSON event format.
fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_none_or(|ct| {
        let essence = essence(ct);
        essence == "application/json" || essence == "text/json" || essence.ends_with("+json")
    })
}

fn is_text(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| essence(ct).starts_with("text/"))
}

impl Event {
    /// Encodes the event as a JSON CloudEvent. JSON data is embedded as is, text data as a
    /// string, anything else (or JSON with surrounding whitespace) as `data_base64`.
    #[must_use]
    pub fn to_structured_json(&self) -> Vec<u8> {
        let data = self.data();
        let utf8 = std::str::from_utf8(data).ok();
        let json = utf8
            .filter(|_| is_json(self.data_content_type()))
            .and_then(|s| serde_json::from_str::<&RawValue>(s).ok())
            // Only byte-exact embedding: surrounding whitespace would be lost otherwise, and a
            // literal `null` reads back as "no data" in the JSON format.
            .filter(|raw| raw.get().len() == data.len() && raw.get() != "null");
        let (data_field, data_base64) = if data.is_empty() {
            (None, None)
        } else if let Some(raw) = json {
            (Some(Data::Json(raw)), None)
        } else if let Some(text) = utf8.filter(|_| is_text(self.data_content_type())) {
            (Some(Data::Text(text)), None)
        } else {
            (None, Some(BASE64.encode(data)))
        };
        let document = Document {
            specversion: SPEC_VERSION,
            id: self.id().as_str(),
            source: self.source(),
            event_type: self.event_type().as_str(),
            time: format_time(self.time()),
            subject: self.subject(),
            datacontenttype: self.data_content_type(),
            dataschema: self.data_schema(),
            tenant: self.tenant().as_str(),
            traceparent: self.traceparent().map(AsRef::as_ref),
            extensions: self.extensions(),
            data: data_field,
            data_base64,
        };
        // Serializing borrowed strings and a validated RawValue into memory has no failure
        // path; an empty document would fail loudly at the receiver rather than panic here.
        serde_json::to_vec(&document).unwrap_or_default()
    }

    /// Encodes the event as a structured-mode record (`content-type:
    /// application/cloudevents+json`), for consumers that want one self-contained value.
    #[must_use]
    pub fn to_structured(&self) -> Message {
        let mut headers = Headers::with_capacity(1);
        headers.append(CONTENT_TYPE, Bytes::from_static(STRUCTURED_JSON.as_bytes()));
        Message {
            key: Some(Bytes::copy_from_slice(self.tenant().as_str().as_bytes())),
            headers,
            payload: self.to_structured_json().into(),
        }
    }

    /// Decodes a JSON CloudEvent.
    pub fn from_structured_json(json: &[u8]) -> Result<Self, CodecError> {
        let members: BTreeMap<String, &RawValue> = serde_json::from_slice(json)?;
        let string = |name: &str| -> Result<Option<String>, CodecError> {
            match members.get(name).map(|raw| raw.get()) {
                None | Some("null") => Ok(None),
                Some(raw) => serde_json::from_str(raw)
                    .map(Some)
                    .map_err(|_| CodecError::NotAString(name.to_owned())),
            }
        };
        let required = |name: &'static str| string(name)?.ok_or(CodecError::MissingAttribute(name));

        let spec = required("specversion")?;
        if spec != SPEC_VERSION {
            return Err(CodecError::UnsupportedSpecVersion(spec));
        }
        let content_type = string("datacontenttype")?;
        let data = decode_data(&members, content_type.as_deref(), string("data_base64")?)?;
        let traceparent = string("traceparent")?
            .map(|tp| parse_attr("traceparent", &tp))
            .transpose()?;
        let mut builder = Event::builder(
            parse_attr("tenant", &required("tenant")?)?,
            parse_attr("id", &required("id")?)?,
            required("source")?,
            parse_attr("type", &required("type")?)?,
        )
        .time(parse_time(&required("time")?)?)
        .subject(string("subject")?)
        .data_schema(string("dataschema")?)
        .traceparent(traceparent)
        .data(content_type, data);
        for (name, raw) in &members {
            if KNOWN.contains(&name.as_str()) || raw.get() == "null" {
                continue;
            }
            // Extensions may be strings, numbers or booleans in JSON; we keep them as their
            // canonical string form, which is how binary mode carries them anyway.
            let value =
                serde_json::from_str::<String>(raw.get()).unwrap_or_else(|_| raw.get().to_owned());
            builder = builder.extension(name.clone(), value);
        }
        Ok(builder.build()?)
    }
}

const KNOWN: &[&str] = &[
    "specversion",
    "id",
    "source",
    "type",
    "time",
    "subject",
    "datacontenttype",
    "dataschema",
    "tenant",
    "traceparent",
    "data",
    "data_base64",
];

fn decode_data(
    members: &BTreeMap<String, &RawValue>,
    content_type: Option<&str>,
    base64: Option<String>,
) -> Result<Bytes, CodecError> {
    let data = members
        .get("data")
        .map(|raw| raw.get())
        .filter(|raw| *raw != "null");
    match (data, base64) {
        (Some(_), Some(_)) => Err(CodecError::DataConflict),
        (None, Some(encoded)) => BASE64
            .decode(encoded)
            .map(Bytes::from)
            .map_err(|_| CodecError::InvalidBase64),
        (None, None) => Ok(Bytes::new()),
        (Some(raw), None) if is_json(content_type) => Ok(Bytes::copy_from_slice(raw.as_bytes())),
        // Non-JSON data in the JSON format is a string holding the text itself.
        (Some(raw), None) => Ok(serde_json::from_str::<String>(raw)
            .map_or_else(|_| Bytes::copy_from_slice(raw.as_bytes()), Bytes::from)),
    }
}
