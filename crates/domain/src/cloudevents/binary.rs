//! Kafka protocol binding, binary content mode: attributes in `ce_*` headers, data as the
//! record value, `datacontenttype` as the `content-type` header, key = tenant id.

use bytes::Bytes;

use super::{CONTENT_TYPE, CodecError, format_time, parse_attr, parse_time};
use crate::{Event, Headers, Message, event::SPEC_VERSION};

const PREFIX: &str = "ce_";

impl Event {
    /// Encodes the event as a binary-mode record, keyed by tenant so one tenant's events keep
    /// their order on one partition.
    #[must_use]
    pub fn to_binary(&self) -> Message {
        let mut headers = Headers::with_capacity(8 + self.extensions().len());
        headers.append(
            "ce_specversion",
            Bytes::from_static(SPEC_VERSION.as_bytes()),
        );
        headers.append("ce_id", self.id().as_str().to_owned());
        headers.append("ce_source", self.source().to_owned());
        headers.append("ce_type", self.event_type().as_str().to_owned());
        headers.append("ce_time", format_time(self.time()));
        headers.append("ce_tenant", self.tenant().as_str().to_owned());
        if let Some(subject) = self.subject() {
            headers.append("ce_subject", subject.to_owned());
        }
        if let Some(schema) = self.data_schema() {
            headers.append("ce_dataschema", schema.to_owned());
        }
        if let Some(traceparent) = self.traceparent() {
            headers.append("ce_traceparent", traceparent.as_str().to_owned());
        }
        for (name, value) in self.extensions() {
            headers.append(format!("{PREFIX}{name}"), value.clone());
        }
        if let Some(content_type) = self.data_content_type() {
            headers.append(CONTENT_TYPE, content_type.to_owned());
        }
        Message {
            key: Some(Bytes::copy_from_slice(self.tenant().as_str().as_bytes())),
            headers,
            payload: self.data().clone(),
        }
    }

    /// Decodes a binary-mode record. The tenant comes from `ce_tenant`, not the key: the key
    /// is only a partitioning hint.
    pub fn from_binary(message: &Message) -> Result<Self, CodecError> {
        let mut attrs = BinaryAttributes::default();
        for header in &message.headers {
            let value = || {
                std::str::from_utf8(&header.value)
                    .map_err(|_| CodecError::NotUtf8(header.name.clone()))
            };
            if header.name == CONTENT_TYPE {
                attrs.content_type = Some(value()?.to_owned());
                continue;
            }
            let Some(attribute) = header.name.strip_prefix(PREFIX) else {
                continue;
            };
            let value = value()?;
            match attribute {
                "specversion" => attrs.spec_version = Some(value),
                "id" => attrs.id = Some(value),
                "source" => attrs.source = Some(value),
                "type" => attrs.event_type = Some(value),
                "time" => attrs.time = Some(value),
                "tenant" => attrs.tenant = Some(value),
                "subject" => attrs.subject = Some(value.to_owned()),
                "dataschema" => attrs.data_schema = Some(value.to_owned()),
                "traceparent" => attrs.traceparent = Some(value),
                extension => attrs
                    .extensions
                    .push((extension.to_owned(), value.to_owned())),
            }
        }
        attrs.into_event(message.payload.clone())
    }
}

#[derive(Default)]
struct BinaryAttributes<'a> {
    spec_version: Option<&'a str>,
    id: Option<&'a str>,
    source: Option<&'a str>,
    event_type: Option<&'a str>,
    time: Option<&'a str>,
    tenant: Option<&'a str>,
    subject: Option<String>,
    data_schema: Option<String>,
    traceparent: Option<&'a str>,
    content_type: Option<String>,
    extensions: Vec<(String, String)>,
}

impl BinaryAttributes<'_> {
    fn into_event(self, data: Bytes) -> Result<Event, CodecError> {
        let spec = self
            .spec_version
            .ok_or(CodecError::MissingAttribute("specversion"))?;
        if spec != SPEC_VERSION {
            return Err(CodecError::UnsupportedSpecVersion(spec.to_owned()));
        }
        let id = parse_attr("id", self.id.ok_or(CodecError::MissingAttribute("id"))?)?;
        let source = self.source.ok_or(CodecError::MissingAttribute("source"))?;
        let event_type = parse_attr(
            "type",
            self.event_type
                .ok_or(CodecError::MissingAttribute("type"))?,
        )?;
        let time = parse_time(self.time.ok_or(CodecError::MissingAttribute("time"))?)?;
        let tenant = parse_attr(
            "tenant",
            self.tenant.ok_or(CodecError::MissingAttribute("tenant"))?,
        )?;
        let traceparent = self
            .traceparent
            .map(|tp| parse_attr("traceparent", tp))
            .transpose()?;
        let mut builder = Event::builder(tenant, id, source, event_type)
            .time(time)
            .subject(self.subject)
            .data_schema(self.data_schema)
            .traceparent(traceparent)
            .data(self.content_type, data);
        for (name, value) in self.extensions {
            builder = builder.extension(name, value);
        }
        Ok(builder.build()?)
    }
}
