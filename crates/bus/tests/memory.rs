//! The bus contract on the in-process backend.

mod contract;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use switchyard_bus::{Bus, Publisher, memory::MemoryBroker};
use switchyard_runtime::settings::BusSettings;

struct Memory;

fn settings(partitions: u32) -> BusSettings {
    BusSettings {
        partitions,
        ..BusSettings::default()
    }
}

#[async_trait]
impl contract::Harness for Memory {
    async fn bus(&self, partitions: u32) -> Bus {
        Bus::memory(&MemoryBroker::new(partitions), &settings(partitions))
    }

    async fn stopped_publisher(&self) -> Arc<dyn Publisher> {
        let broker = MemoryBroker::new(1);
        broker.set_available(false);
        Bus::memory(&broker, &settings(1)).publisher
    }

    fn settle(&self) -> Duration {
        Duration::from_millis(100)
    }

    async fn private_broker(&self) -> Box<dyn contract::PrivateBroker> {
        Box::new(PrivateMemory(MemoryBroker::new(2)))
    }
}

/// The in-process broker "restarts" by refusing service for a moment: its data lives in the
/// process, as it would on a broker with durable storage.
struct PrivateMemory(MemoryBroker);

#[async_trait]
impl contract::PrivateBroker for PrivateMemory {
    async fn bus(&self, partitions: u32) -> Bus {
        Bus::memory(&self.0, &settings(partitions))
    }

    async fn restart(&mut self) {
        self.0.set_available(false);
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.0.set_available(true);
    }
}

contract_tests!(Memory);
seek_tests!(Memory);
