//! The key-value buckets of the consumer groups.
//!
//! A bucket is created as its backing stream (`KV_<bucket>` on `$KV.<bucket>.>`, the layout
//! every NATS client reads as a key-value bucket) rather than through the client's
//! `create_key_value`, which first reads the account's JetStream limits in a format only
//! servers from 2.10 on send.

use std::time::Duration;

use async_nats::jetstream::{
    self, ErrorCode,
    context::{CreateStreamErrorKind, GetStreamErrorKind},
    kv,
    stream::{self, DiscardPolicy, StorageType},
};

use super::{API_TIMEOUT, unavailable, within};
use crate::BusError;

/// Opens bucket `name` (history 1; keys vanish `max_age` after their last write, never when
/// zero), creating it if needed.
pub(super) async fn open_bucket(
    js: &jetstream::Context,
    name: &str,
    max_age: Duration,
    replicas: usize,
) -> Result<kv::Store, BusError> {
    let stream_name = format!("KV_{name}");
    match within(API_TIMEOUT, js.get_stream(&stream_name)).await? {
        Ok(_) => {}
        Err(e) if stream_missing(e.kind()) => {
            let config = stream::Config {
                name: stream_name,
                description: Some("Switchyard consumer groups".into()),
                subjects: vec![format!("$KV.{name}.>")],
                max_messages_per_subject: 1,
                max_age,
                storage: StorageType::File,
                num_replicas: replicas,
                discard: DiscardPolicy::New,
                allow_rollup: true,
                deny_delete: true,
                allow_direct: true,
                ..stream::Config::default()
            };
            match within(API_TIMEOUT, js.create_stream(config)).await? {
                Ok(_) => tracing::info!(bucket = name, ?max_age, "bucket created"),
                // Another member created it first.
                Err(e) if name_taken(e.kind()) => {}
                Err(e) => return Err(unavailable(&format!("creating bucket {name}"), e)),
            }
        }
        Err(e) => return Err(unavailable(&format!("bucket {name}"), e)),
    }
    within(API_TIMEOUT, js.get_key_value(name))
        .await?
        .map_err(|e| unavailable(&format!("bucket {name}"), e))
}

fn stream_missing(kind: GetStreamErrorKind) -> bool {
    matches!(kind, GetStreamErrorKind::JetStream(e) if e.error_code() == ErrorCode::STREAM_NOT_FOUND)
}

fn name_taken(kind: CreateStreamErrorKind) -> bool {
    matches!(kind, CreateStreamErrorKind::JetStream(e) if e.error_code() == ErrorCode::STREAM_NAME_EXIST)
}
