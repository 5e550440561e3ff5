//! `switchyard token` and `switchyard send` run as an operator runs them: the token passes the
//! services' own verification, and a sent webhook passes an independent signature check.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use switchyard_auth::{Authenticator, Scope};
use switchyard_runtime::settings::AuthSettings;
use switchyard_testkit::receiver::PyReceiver;

const BINARY: &str = env!("CARGO_BIN_EXE_switchyard");
const SECRET: &str = "a cli test secret of at least 32 bytes!";

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .env_remove("SWITCHYARD_CONFIG")
        .env_remove("SWITCHYARD__AUTH__JWT_HS256_SECRET");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_owned()
}

#[tokio::test]
async fn a_minted_token_is_accepted_by_the_services_verifier_with_its_claims() {
    let verifier = Authenticator::new(&AuthSettings {
        jwt_hs256_secret: SECRET.into(),
        ..AuthSettings::default()
    })
    .await
    .unwrap();
    let out = run(
        &[
            "token",
            "--tenant",
            "acme",
            "--scope",
            "events:read",
            "--sub",
            "user_1",
            "--secret",
            SECRET,
        ],
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    let principal = verifier.authenticate(&text(&out.stdout)).await.unwrap();
    assert_eq!(principal.tenant().as_str(), "acme");
    assert_eq!(principal.subject(), Some("user_1"));
    assert!(principal.allows(Scope::EventsRead));
    assert!(!principal.allows(Scope::EventsWrite));

    // The configured secret by default; admin by default.
    let out = run(
        &["token", "--tenant", "globex", "--json"],
        &[("SWITCHYARD__AUTH__JWT_HS256_SECRET", SECRET)],
    );
    assert!(out.status.success(), "{out:?}");
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["scope"], "admin");
    let principal = verifier
        .authenticate(answer["token"].as_str().unwrap())
        .await
        .unwrap();
    assert!(principal.allows(Scope::Admin));
}

#[test]
fn a_token_without_a_secret_or_with_a_bad_scope_is_refused_saying_why() {
    let out = run(&["token", "--tenant", "acme"], &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        text(&out.stderr).contains("auth.jwt_hs256_secret"),
        "{out:?}"
    );
    let out = run(
        &[
            "token", "--tenant", "acme", "--scope", "root", "--secret", SECRET,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--scope"), "{out:?}");
    let out = run(
        &["token", "--tenant", "not a tenant", "--secret", SECRET],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--tenant"), "{out:?}");
}

#[tokio::test]
async fn a_sent_webhook_passes_an_independent_signature_check() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let receiver = PyReceiver::start(&[secret]).await.unwrap();
    let url = receiver.url("/ok/cli");
    let out = tokio::task::spawn_blocking(move || {
        run(
            &[
                "send",
                &url,
                "--provider",
                "standard-webhooks",
                "--secret",
                secret,
                "--id",
                "msg_cli_1",
                "--json",
            ],
            &[],
        )
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["status"], 200);
    let log = receiver.log(Some("cli")).await.unwrap();
    assert_eq!(log.len(), 1);
    assert!(log[0].verified, "{:?}", log[0]);
    assert_eq!(log[0].webhook_id.as_deref(), Some("msg_cli_1"));
    assert_eq!(log[0].body["type"], "user.created");

    // A non-2xx answer is a failure exit; an unknown provider a usage error.
    let url = receiver.url("/status/500/cli");
    let out = tokio::task::spawn_blocking(move || {
        run(
            &[
                "send",
                &url,
                "--provider",
                "standard-webhooks",
                "--secret",
                secret,
            ],
            &[],
        )
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let out = run(
        &[
            "send",
            "http://127.0.0.1:9/",
            "--provider",
            "paypal",
            "--secret",
            "s",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--provider"), "{out:?}");
}
