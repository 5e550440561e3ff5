//! Placeholder while this backend is written; `Bus::connect` reports it as unavailable.

use switchyard_runtime::settings::BusSettings;

use crate::{Bus, BusError};

/// Connects to this backend (not written yet).
pub async fn connect(_settings: &BusSettings) -> Result<Bus, BusError> {
    Err(BusError::Config {
        backend: "nats",
        reason: "this backend is not written yet".into(),
    })
}
