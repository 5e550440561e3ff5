use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

/// `[secrets]`: the keys that seal the secrets of sources and endpoints configured at run time
/// (in PostgreSQL and on the config topic). Each is the standard base64 of 32 random bytes
/// (`openssl rand -base64 32`). The first seals; every one unseals, so a key is rotated by
/// putting the new one first and dropping the old one once nothing sealed with it is left.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SecretsSettings {
    /// Sealing keys, newest first. Empty: nothing can be sealed or unsealed. In the
    /// environment, one comma-separated list: `SWITCHYARD__SECRETS__KEYS=k1,k2`.
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub keys: Vec<SecretString>,
}

/// Base64 characters of 32 bytes, padding aside: 32 * 8 bits need 43 six-bit characters.
const KEY_CHARS: usize = 43;

impl SecretsSettings {
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        for (i, key) in self.keys.iter().enumerate() {
            if !is_base64_of_32_bytes(key.expose_secret()) {
                return Err((
                    "secrets.keys".into(),
                    format!(
                        "key {} of {} is not the base64 of exactly 32 bytes (make one with `openssl rand -base64 32`)",
                        i + 1,
                        self.keys.len()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Standard or URL-safe alphabet, padded or not. The runtime does not decode keys (the
/// control crate does); it only refuses what can never be a key, at start-up.
fn is_base64_of_32_bytes(text: &str) -> bool {
    let text = text.trim();
    let unpadded = text.trim_end_matches('=');
    let padding = text.len() - unpadded.len();
    let alphabet = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_');
    unpadded.len() == KEY_CHARS && padding <= 1 && unpadded.bytes().all(alphabet)
}

/// A TOML list, or one string of comma-separated entries: an environment variable can only
/// carry a string, and base64 keys never contain a comma.
fn list_or_comma_separated<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SecretString>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrText {
        List(Vec<String>),
        Text(String),
    }
    let entries = match ListOrText::deserialize(d)? {
        ListOrText::List(list) => list,
        ListOrText::Text(text) => text.split(',').map(str::to_owned).collect(),
    };
    Ok(entries
        .into_iter()
        .map(|key| key.trim().to_owned())
        .filter(|key| !key.is_empty())
        .map(SecretString::from)
        .collect())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret as _;

    use super::super::{Settings, SettingsError, Sources};

    const KEY_A: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";
    const KEY_B: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn load(file: Option<&str>, env: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("switchyard.toml");
        std::fs::write(&path, file.unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
        let sources = Sources {
            file: file.map(|_| path.clone()),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<HashMap<_, _>>(),
            defaults: Vec::new(),
        };
        Settings::load(&sources).map(|loaded| loaded.settings)
    }

    fn exposed(settings: &Settings) -> Vec<&str> {
        settings
            .secrets
            .keys
            .iter()
            .map(|k| k.expose_secret())
            .collect()
    }

    #[test]
    fn keys_come_from_the_file_or_a_comma_separated_variable() {
        let from_file = load(
            Some(&format!("[secrets]\nkeys = [{KEY_A:?}, {KEY_B:?}]\n")),
            &[],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(exposed(&from_file), [KEY_A, KEY_B]);

        let from_env = load(
            None,
            &[("SWITCHYARD__SECRETS__KEYS", &format!("{KEY_B},{KEY_A}"))],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(exposed(&from_env), [KEY_B, KEY_A]);
        let one =
            load(None, &[("SWITCHYARD__SECRETS__KEYS", KEY_A)]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(exposed(&one), [KEY_A]);
        assert!(
            load(None, &[])
                .unwrap_or_else(|e| panic!("{e}"))
                .secrets
                .keys
                .is_empty()
        );
    }

    #[test]
    fn a_key_that_is_not_32_bytes_of_base64_is_refused_naming_the_key_and_variable() {
        let error = load(None, &[("SWITCHYARD__SECRETS__KEYS", "c2hvcnQ=")])
            .err()
            .unwrap_or_else(|| panic!("a short key was accepted"))
            .to_string();
        assert!(error.contains("secrets.keys"), "{error}");
        assert!(error.contains("32 bytes"), "{error}");
        assert!(error.contains("SWITCHYARD__SECRETS__KEYS"), "{error}");
        assert!(
            !error.contains("c2hvcnQ"),
            "the key itself is never shown: {error}"
        );
    }

    #[test]
    fn keys_never_reach_debug_output() {
        let settings =
            load(None, &[("SWITCHYARD__SECRETS__KEYS", KEY_A)]).unwrap_or_else(|e| panic!("{e}"));
        let debug = format!("{:?}", settings.secrets);
        assert!(!debug.contains(&KEY_A[..20]), "{debug}");
    }
}
