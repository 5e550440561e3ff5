//! Placeholder in the lead's mirror.
use crate::{Bus, BusError};
use switchyard_runtime::settings::BusSettings;
/// Placeholder.
pub async fn connect(_settings: &BusSettings) -> Result<Bus, BusError> {
    Err(BusError::Config {
        backend: "redis",
        reason: "not in this mirror".into(),
    })
}
