use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use rdkafka::{
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    types::RDKafkaErrorCode,
};
use switchyard_runtime::settings::BusSettings;

use super::{BACKEND, base_config, publisher::KafkaPublisher};
use crate::{Admin, BusError};

pub(super) struct KafkaAdmin {
    admin: AdminClient<DefaultClientContext>,
    publisher: Arc<KafkaPublisher>,
    partitions: i32,
    replication: i32,
}

const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

impl KafkaAdmin {
    pub(super) fn new(
        settings: &BusSettings,
        publisher: Arc<KafkaPublisher>,
    ) -> Result<Self, BusError> {
        let admin = base_config(settings)
            .create()
            .map_err(|e| BusError::Config {
                backend: BACKEND,
                reason: e.to_string(),
            })?;
        Ok(Self {
            admin,
            publisher,
            partitions: i32::try_from(settings.partitions).unwrap_or(i32::MAX),
            replication: settings.kafka.replication_factor,
        })
    }
}

#[async_trait]
impl Admin for KafkaAdmin {
    async fn ensure_topics(&self, topics: &[String]) -> Result<(), BusError> {
        let new: Vec<NewTopic<'_>> = topics
            .iter()
            .map(|t| {
                NewTopic::new(
                    t,
                    self.partitions,
                    TopicReplication::Fixed(self.replication),
                )
            })
            .collect();
        let options = AdminOptions::new()
            .operation_timeout(Some(ADMIN_TIMEOUT))
            .request_timeout(Some(ADMIN_TIMEOUT));
        let results = self
            .admin
            .create_topics(&new, &options)
            .await
            .map_err(|e| BusError::Unavailable {
                backend: BACKEND,
                reason: e.to_string(),
            })?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(BusError::Unavailable {
                        backend: BACKEND,
                        reason: format!("cannot create topic {topic}: {code}"),
                    });
                }
            }
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), BusError> {
        let publisher = self.publisher.clone();
        // Metadata requests block the calling thread.
        tokio::task::spawn_blocking(move || {
            use rdkafka::producer::Producer as _;
            publisher
                .producer()
                .client()
                .fetch_metadata(None, Duration::from_secs(2))
                .map(|_| ())
        })
        .await
        .map_err(|e| BusError::Unavailable {
            backend: BACKEND,
            reason: e.to_string(),
        })?
        .map_err(|e| BusError::Unavailable {
            backend: BACKEND,
            reason: e.to_string(),
        })
    }
}
