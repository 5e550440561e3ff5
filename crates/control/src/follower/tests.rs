use std::sync::Mutex;

use chrono::Duration as Span;
use secrecy::{ExposeSecret as _, SecretString};
use switchyard_bus::memory::MemoryBroker;
use switchyard_runtime::settings::{BusSettings, Provider, TransformSettings};

use super::*;
use crate::{EndpointSpec, PreviousSecret, SourceSpec};

const KEY: &str = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";

/// Keeps what it was told, as `(key, version, first secret)`.
#[derive(Default)]
struct Recorder {
    kind: Option<Kind>,
    log: Mutex<Vec<(String, i64, Option<String>)>>,
}

impl Apply for Recorder {
    fn kind(&self) -> Kind {
        self.kind.unwrap_or(Kind::Source)
    }

    fn apply(
        &self,
        change: &ConfigChange,
        sealer: &Sealer,
        now: DateTime<Utc>,
    ) -> Result<(), ControlError> {
        let secret = match change {
            ConfigChange::SourceUpserted { spec, .. } => Some(
                spec.to_settings(sealer)?.secrets[0]
                    .expose_secret()
                    .to_owned(),
            ),
            ConfigChange::EndpointUpserted { spec, .. } => {
                let settings = spec.to_settings(sealer, now)?;
                Some(format!(
                    "{}+{}",
                    settings.secret.expose_secret(),
                    settings.previous_secrets.len()
                ))
            }
            _ => None,
        };
        lock(&self.log).push((change.key(), change.version(), secret));
        Ok(())
    }
}

fn sealer() -> Sealer {
    Sealer::new(&[SecretString::from(KEY)]).unwrap_or_else(|e| panic!("{e}"))
}

fn source(version: i64, secret: &str) -> ConfigChange {
    ConfigChange::SourceUpserted {
        version,
        spec: SourceSpec {
            tenant: "acme".parse().unwrap_or_else(|e| panic!("{e}")),
            id: "rzp".parse().unwrap_or_else(|e| panic!("{e}")),
            provider: Provider::Razorpay,
            secrets: vec![
                sealer()
                    .seal(&SecretString::from(secret))
                    .unwrap_or_else(|e| panic!("{e}")),
            ],
            allow_ips: vec!["0.0.0.0/0".parse().unwrap_or_else(|e| panic!("{e}"))],
            rate_limit_per_sec: 10,
            max_body_bytes: 4096,
            hmac: None,
            strict: false,
            transform: TransformSettings::default(),
            paused: false,
        },
    }
}

fn deleted(version: i64) -> ConfigChange {
    ConfigChange::SourceDeleted {
        tenant: "acme".parse().unwrap_or_else(|e| panic!("{e}")),
        id: "rzp".parse().unwrap_or_else(|e| panic!("{e}")),
        version,
    }
}

fn settings(keys: &[&str]) -> Settings {
    let mut settings = Settings::default();
    settings.bus.partitions = 3;
    settings.secrets.keys = keys.iter().map(|k| SecretString::from(*k)).collect();
    settings
}

fn follower(recorder: &Arc<Recorder>, keys: &[&str]) -> Follower {
    Follower::new("test", &settings(keys), recorder.clone()).unwrap_or_else(|e| panic!("{e}"))
}

fn log(recorder: &Recorder) -> Vec<(String, i64, Option<String>)> {
    lock(&recorder.log).clone()
}

#[test]
fn only_changes_newer_than_the_applied_version_are_applied() {
    let recorder = Arc::new(Recorder::default());
    let follower = follower(&recorder, &[KEY]);
    let now = Utc::now();
    let inner = &follower.inner;
    inner.take(&source(0, "static"), now);
    assert!(log(&recorder).is_empty(), "version 0 is the static entry's");
    inner.take(&source(2, "two"), now);
    inner.take(&source(1, "one"), now);
    inner.take(&source(2, "two again"), now);
    inner.take(&deleted(3), now);
    inner.take(&source(3, "three"), now);
    inner.take(&source(4, "four"), now);
    let versions: Vec<(i64, Option<String>)> =
        log(&recorder).into_iter().map(|(_, v, s)| (v, s)).collect();
    assert_eq!(
        versions,
        [(2, Some("two".into())), (3, None), (4, Some("four".into()))]
    );
}

#[test]
fn a_change_that_cannot_be_unsealed_is_skipped_and_a_later_one_still_applies() {
    let recorder = Arc::new(Recorder::default());
    let follower = follower(&recorder, &[]);
    let now = Utc::now();
    follower.inner.take(&source(1, "sealed"), now);
    assert!(log(&recorder).is_empty());
    follower.inner.take(&deleted(2), now);
    assert_eq!(log(&recorder).len(), 1, "a delete needs no key");
}

#[test]
fn an_endpoint_is_applied_again_when_its_previous_secret_expires() {
    let recorder = Arc::new(Recorder {
        kind: Some(Kind::Endpoint),
        ..Recorder::default()
    });
    let follower = follower(&recorder, &[KEY]);
    let now = Utc::now();
    let seal = |s: &str| {
        sealer()
            .seal(&SecretString::from(s))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let change = ConfigChange::EndpointUpserted {
        version: 1,
        spec: EndpointSpec {
            tenant: "acme".parse().unwrap_or_else(|e| panic!("{e}")),
            id: "orders".parse().unwrap_or_else(|e| panic!("{e}")),
            url: "https://orders.example/h"
                .parse()
                .unwrap_or_else(|e| panic!("{e}")),
            secret: seal("whsec_bmV3"),
            previous_secrets: vec![PreviousSecret {
                secret: seal("whsec_b2xk"),
                expires_at: now + Span::seconds(60),
            }],
            paused: false,
            event_types: vec!["*".parse().unwrap_or_else(|e| panic!("{e}"))],
        },
    };
    follower.inner.take(&change, now);
    follower.inner.reapply(&change, now + Span::seconds(61));
    let secrets: Vec<Option<String>> = log(&recorder).into_iter().map(|(_, _, s)| s).collect();
    assert_eq!(
        secrets,
        [Some("whsec_bmV3+1".into()), Some("whsec_bmV3+0".into())]
    );
    assert!(lock(&follower.inner.applied).expiring.is_empty());
}

/// The whole loop on the memory bus: changes published before the follower starts are
/// applied before it reports ready; later ones follow; other kinds and garbage are skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_catches_up_then_reports_ready_and_keeps_following() {
    let settings = settings(&[KEY]);
    let broker = MemoryBroker::new(settings.bus.partitions);
    let bus = Bus::memory(
        &broker,
        &BusSettings {
            partitions: settings.bus.partitions,
            ..settings.bus.clone()
        },
    );
    let topic = settings.bus.topics().config();
    bus.admin
        .ensure_topics(std::slice::from_ref(&topic))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let publish = |change: ConfigChange| {
        let bus = bus.clone();
        let topic = topic.clone();
        async move {
            let message = change.to_message().unwrap_or_else(|e| panic!("{e}"));
            bus.publisher
                .publish(&topic, message)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
    };
    publish(source(1, "first")).await;
    publish(source(2, "second")).await;
    bus.publisher
        .publish(&topic, Message::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let recorder = Arc::new(Recorder::default());
    let follower =
        Follower::new("test", &settings, recorder.clone()).unwrap_or_else(|e| panic!("{e}"));
    let ready = follower.readiness_check();
    assert!(ready.check().await.is_err(), "not ready before it ran");
    let shutdown = Shutdown::new();
    let running = tokio::spawn(follower.run(bus.clone(), shutdown.clone()));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while ready.check().await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never caught up with {topic}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        log(&recorder).last().map(|(_, v, _)| *v),
        Some(2),
        "everything published before the start is applied before ready"
    );

    publish(deleted(3)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while log(&recorder).len() < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            log(&recorder)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.trigger();
    running.await.unwrap_or_else(|e| panic!("{e}"));
}
