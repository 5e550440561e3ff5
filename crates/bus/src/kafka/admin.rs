use std::{
    sync::Arc,
    time::{Duration, UNIX_EPOCH},
};

use async_trait::async_trait;
use rdkafka::{
    Offset, TopicPartitionList,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    consumer::{BaseConsumer, CommitMode, Consumer as _},
    error::KafkaResult,
    types::RDKafkaErrorCode,
};
use switchyard_runtime::settings::BusSettings;

use super::{BACKEND, base_config, map_error, publisher::KafkaPublisher};
use crate::{Admin, BusError, SeekTo};

pub(super) struct KafkaAdmin {
    settings: BusSettings,
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
            settings: settings.clone(),
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

    async fn reset_group(
        &self,
        group: &str,
        topics: &[String],
        to: SeekTo,
    ) -> Result<(), BusError> {
        let consumer: BaseConsumer = base_config(&self.settings)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()
            .map_err(|e| BusError::Config {
                backend: BACKEND,
                reason: e.to_string(),
            })?;
        let topics = topics.to_vec();
        // Metadata, watermark, time-index and commit requests all block the calling thread.
        tokio::task::spawn_blocking(move || reset_offsets(&consumer, &topics, to))
            .await
            .map_err(|e| BusError::Unavailable {
                backend: BACKEND,
                reason: e.to_string(),
            })?
            .map_err(|e| map_error(&e))
    }
}

/// Commits, on behalf of the (stopped) group, the offset `to` names in every partition.
fn reset_offsets(consumer: &BaseConsumer, topics: &[String], to: SeekTo) -> KafkaResult<()> {
    let mut positions = TopicPartitionList::new();
    let mut ends = Vec::new();
    for topic in topics {
        let metadata = consumer.fetch_metadata(Some(topic), ADMIN_TIMEOUT)?;
        for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
            let (low, high) = consumer.fetch_watermarks(topic, partition.id(), ADMIN_TIMEOUT)?;
            ends.push((topic.clone(), partition.id(), high));
            let offset = match to {
                SeekTo::Earliest => Offset::Offset(low),
                SeekTo::Latest => Offset::Offset(high),
                SeekTo::Time(time) => {
                    let millis = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
                    Offset::Offset(i64::try_from(millis).unwrap_or(i64::MAX))
                }
            };
            positions.add_partition_offset(topic, partition.id(), offset)?;
        }
    }
    if matches!(to, SeekTo::Time(_)) {
        positions = consumer.offsets_for_times(positions, ADMIN_TIMEOUT)?;
        // No record at or after the time: the group starts at the end of that partition.
        for (topic, partition, high) in ends {
            if let Some(mut element) = positions.find_partition(&topic, partition)
                && !matches!(element.offset(), Offset::Offset(_))
            {
                element.set_offset(Offset::Offset(high))?;
            }
        }
    }
    consumer.commit(&positions, CommitMode::Sync)
}
