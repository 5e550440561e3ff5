use std::{sync::Arc, time::Duration};

use async_nats::{client::RequestErrorKind, jetstream::consumer::DeliverPolicy};
use async_trait::async_trait;
use bytes::Bytes;

use super::{
    API_TIMEOUT, Config, Connection,
    consumer::{consumer_config, is_not_found},
    names,
    topology::Topology,
    unavailable, within,
};
use crate::{Admin, BusError, SeekTo};

/// How long `ping` waits: a readiness probe must answer quickly.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

pub(super) struct NatsAdmin {
    connection: Connection,
    topology: Arc<Topology>,
    config: Arc<Config>,
}

impl NatsAdmin {
    pub(super) fn new(
        connection: Connection,
        topology: Arc<Topology>,
        config: Arc<Config>,
    ) -> Self {
        Self {
            connection,
            topology,
            config,
        }
    }
}

#[async_trait]
impl Admin for NatsAdmin {
    async fn ensure_topics(&self, topics: &[String]) -> Result<(), BusError> {
        for topic in topics {
            self.topology.ensure(topic).await?;
        }
        Ok(())
    }

    /// Asks JetStream for the account's information: it answers only when the connection is
    /// up and JetStream is enabled for the account. The answer is read loosely (an error
    /// object or not), as its exact fields differ between server versions.
    async fn ping(&self) -> Result<(), BusError> {
        let request = self.connection.client.request("$JS.API.INFO", Bytes::new());
        match within(PING_TIMEOUT, request).await {
            Ok(Ok(answer)) if is_api_error(&answer.payload) => Err(unavailable(
                "JetStream account info",
                String::from_utf8_lossy(&answer.payload),
            )),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.kind() == RequestErrorKind::NoResponders => Err(unavailable(
                "ping",
                "JetStream is not enabled on the server",
            )),
            Ok(Err(e)) => Err(unavailable("JetStream account info", e)),
            Err(_) if !self.connection.connected() => {
                Err(unavailable("ping", "not connected to the server"))
            }
            Err(timeout) => Err(timeout),
        }
    }

    /// Creates the group's consumer on every partition afresh at the new start (`All`, `New`
    /// or `ByStartTime`), which also drops its unacknowledged deliveries. A member still
    /// running would lose its consumer and reopen it at the new position.
    async fn reset_group(
        &self,
        group: &str,
        topics: &[String],
        to: SeekTo,
    ) -> Result<(), BusError> {
        let policy = match to {
            SeekTo::Earliest => DeliverPolicy::All,
            SeekTo::Latest => DeliverPolicy::New,
            SeekTo::Time(time) => DeliverPolicy::ByStartTime {
                start_time: time.into(),
            },
        };
        let js = &self.connection.js;
        for topic in topics {
            let stream = names::stream(topic);
            for partition in 0..self.topology.partitions(topic).await? {
                let name = names::consumer(group, partition);
                let deleted =
                    within(API_TIMEOUT, js.delete_consumer_from_stream(&name, &stream)).await?;
                if let Err(e) = deleted
                    && !is_not_found(e.kind())
                {
                    return Err(unavailable(&format!("deleting consumer {name}"), e));
                }
                let config = consumer_config(&self.config, group, topic, partition, policy);
                within(API_TIMEOUT, js.create_consumer_on_stream(config, &stream))
                    .await?
                    .map_err(|e| unavailable(&format!("creating consumer {name}"), e))?;
            }
            tracing::info!(group, topic, ?to, "group position reset");
        }
        Ok(())
    }
}

/// Whether a JetStream API answer is an error (`{"type":..., "error":{"code":...}}`).
fn is_api_error(payload: &[u8]) -> bool {
    payload.windows(8).any(|w| w == b"\"error\":")
}
