use std::path::PathBuf;

use serde::Deserialize;

/// `[processor]`: how raw webhooks become events.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ProcessorSettings {
    /// Directory of JSON Schemas loaded at start-up (see `schemas/README.md`); empty means
    /// no schemas, so every type passes unvalidated (except from `strict` sources).
    pub schemas_dir: PathBuf,
    /// Validate event data against the registered schema of its type.
    pub validate: bool,
    /// Most raw records of one partition handled, and their events published, at once.
    pub max_batch: usize,
}

impl Default for ProcessorSettings {
    fn default() -> Self {
        Self {
            schemas_dir: PathBuf::new(),
            validate: true,
            max_batch: 500,
        }
    }
}

impl ProcessorSettings {
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        if !(1..=10_000).contains(&self.max_batch) {
            return Err((
                "processor.max_batch".into(),
                "must be between 1 and 10000".into(),
            ));
        }
        Ok(())
    }
}
