//! JWKS deployments, against a real HTTP server publishing real public keys.

// Setup helpers unwrap: a panic is how a test reports a broken fixture.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use serde_json::json;
use support::{
    JwksServer, SigningKey, claims, eager_tuning, forge_hs256, handmade, jwks, jwks_settings, keys,
};
use switchyard_auth::{AuthError, Authenticator, JwksError, SetupError, Tuning};
use tokio_util::sync::CancellationToken;

async fn start(keys: &[&SigningKey], tuning: Tuning) -> (JwksServer, Authenticator) {
    let server = JwksServer::start(jwks(keys)).await;
    let auth = Authenticator::with_tuning(&jwks_settings(server.url()), tuning)
        .await
        .unwrap();
    (server, auth)
}

#[tokio::test]
async fn tokens_signed_by_a_published_key_validate_for_each_key_type() {
    let rsa = SigningKey::rsa("rsa-1");
    let ec = SigningKey::ec("ec-1");
    let ed = SigningKey::ed("ed-1");
    let (_server, auth) = start(&[&rsa, &ec, &ed], Tuning::default()).await;
    for key in [&rsa, &ec, &ed] {
        let principal = auth.authenticate(&key.sign(&claims())).await;
        assert_eq!(
            principal.map(|p| p.tenant().to_string()),
            Ok("acme".to_owned()),
            "{}",
            key.kid
        );
    }
}

#[tokio::test]
async fn keys_published_without_alg_are_pinned_by_their_type() {
    let rsa = SigningKey::rsa("rsa-1");
    let ec = SigningKey::ec("ec-1");
    let server = JwksServer::start(json!({
        "keys": [rsa.jwk_without_alg(), ec.jwk_without_alg()]
    }))
    .await;
    let auth = Authenticator::new(&jwks_settings(server.url()))
        .await
        .unwrap();
    assert!(auth.authenticate(&rsa.sign(&claims())).await.is_ok());
    assert!(auth.authenticate(&ec.sign(&claims())).await.is_ok());
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_refused() {
    let rsa = SigningKey::rsa("rsa-1");
    let (_server, auth) = start(&[&rsa], Tuning::default()).await;
    // The classic confusion attack: the public key's PEM bytes as an HMAC secret, with and
    // without naming the key.
    for header in [
        json!({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}),
        json!({"alg": "HS256", "typ": "JWT"}),
    ] {
        let forged = forge_hs256(&header, &claims(), keys::RSA_A_PUBLIC.as_bytes());
        let err = auth.authenticate(&forged).await.unwrap_err();
        assert_eq!(
            err,
            AuthError::AlgorithmNotAllowed { expected: "RS256" },
            "{header}"
        );
    }
    let jwk = rsa.jwk();
    let forged = forge_hs256(
        &json!({"alg": "HS256", "kid": "rsa-1"}),
        &claims(),
        jwk["n"].as_str().unwrap().as_bytes(),
    );
    assert!(auth.authenticate(&forged).await.is_err());
}

#[tokio::test]
async fn a_header_alg_that_differs_from_the_keys_algorithm_is_refused() {
    let rsa = SigningKey::rsa("rsa-1");
    let ec = SigningKey::ec("ec-1");
    let (_server, auth) = start(&[&rsa, &ec], Tuning::default()).await;
    // Signed by the EC key but naming the RSA key: the RSA key's algorithm decides.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("rsa-1".into());
    let token = jsonwebtoken::encode(
        &header,
        &claims(),
        &jsonwebtoken::EncodingKey::from_ec_pem(keys::EC_B_PRIVATE.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(
        auth.authenticate(&token).await,
        Err(AuthError::AlgorithmNotAllowed { expected: "RS256" })
    );
    // PS256 is RSA too, but not what the key is pinned to.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
    header.kid = Some("rsa-1".into());
    let token = jsonwebtoken::encode(
        &header,
        &claims(),
        &jsonwebtoken::EncodingKey::from_rsa_pem(keys::RSA_A_PRIVATE.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(
        auth.authenticate(&token).await,
        Err(AuthError::AlgorithmNotAllowed { expected: "RS256" })
    );
}

#[tokio::test]
async fn alg_none_naming_a_published_key_is_refused() {
    let rsa = SigningKey::rsa("rsa-1");
    let (_server, auth) = start(&[&rsa], Tuning::default()).await;
    let none = handmade(&json!({"alg": "none", "kid": "rsa-1"}), &claims(), "");
    assert_eq!(auth.authenticate(&none).await, Err(AuthError::Unsigned));
}

#[tokio::test]
async fn an_altered_token_fails_the_signature_check() {
    let rsa = SigningKey::rsa("rsa-1");
    let (_server, auth) = start(&[&rsa], Tuning::default()).await;
    let token = rsa.sign(&claims());
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let mut bytes = signature.as_bytes().to_vec();
    bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
    let altered = format!("{signed}.{}", String::from_utf8(bytes).unwrap());
    assert_eq!(
        auth.authenticate(&altered).await,
        Err(AuthError::BadSignature)
    );
}

#[tokio::test]
async fn an_expired_jwks_token_is_refused() {
    let ec = SigningKey::ec("ec-1");
    let (_server, auth) = start(&[&ec], Tuning::default()).await;
    let expired = ec.sign(&support::claims_with(
        &json!({"exp": support::now() - 3600}),
    ));
    assert_eq!(auth.authenticate(&expired).await, Err(AuthError::Expired));
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_by_one_refresh_on_its_unknown_kid() {
    let old = SigningKey::rsa("2024-01");
    let new = SigningKey::ec("2024-07");
    let (server, auth) = start(&[&old], eager_tuning()).await;
    assert_eq!(server.hits(), 1);

    server.publish(jwks(&[&old, &new]));
    let principal = auth.authenticate(&new.sign(&claims())).await;
    assert!(principal.is_ok(), "{principal:?}");
    assert_eq!(server.hits(), 2, "exactly one refetch");

    // Known kids need no fetch.
    for _ in 0..5 {
        assert!(auth.authenticate(&new.sign(&claims())).await.is_ok());
        assert!(auth.authenticate(&old.sign(&claims())).await.is_ok());
    }
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn concurrent_requests_with_a_new_kid_share_one_fetch() {
    let old = SigningKey::rsa("old");
    let new = SigningKey::ed("new");
    let (server, auth) = start(&[&old], eager_tuning()).await;
    server.publish(jwks(&[&old, &new]));
    let token = new.sign(&claims());
    let results = futures::future::join_all((0..16).map(|_| auth.authenticate(&token))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_flood_of_unknown_kids_fetches_at_most_once_per_interval() {
    let key = SigningKey::rsa("real");
    let (server, auth) = start(&[&key], Tuning::default()).await;
    for i in 0..50 {
        let bogus = SigningKey::ec(&format!("bogus-{i}"));
        assert_eq!(
            auth.authenticate(&bogus.sign(&claims())).await,
            Err(AuthError::UnknownKey)
        );
    }
    // The start-up load counts as the interval's fetch.
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn an_unknown_kid_after_a_refresh_is_refused_with_401() {
    let key = SigningKey::rsa("real");
    let (server, auth) = start(&[&key], eager_tuning()).await;
    let err = auth
        .authenticate(&SigningKey::ec("nope").sign(&claims()))
        .await
        .unwrap_err();
    assert_eq!(err, AuthError::UnknownKey);
    assert_eq!(err.status().as_u16(), 401);
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn the_last_keys_keep_working_while_the_jwks_server_is_down() {
    let key = SigningKey::rsa("rsa-1");
    let (server, auth) = start(&[&key], eager_tuning()).await;
    server.stop().await;

    assert!(matches!(
        auth.refresh_keys().await,
        Err(JwksError::Request(_))
    ));
    let principal = auth.authenticate(&key.sign(&claims())).await;
    assert!(principal.is_ok(), "{principal:?}");

    // A kid we cannot look up while the IdP is down is an outage, not a forgery.
    let err = auth
        .authenticate(&SigningKey::ec("new").sign(&claims()))
        .await
        .unwrap_err();
    assert_eq!(err, AuthError::KeysUnavailable);
    assert_eq!(err.status().as_u16(), 503);
    assert!(err.retry_after().is_some());
}

#[tokio::test]
async fn a_broken_jwks_answer_never_replaces_good_keys() {
    let key = SigningKey::rsa("rsa-1");
    let (server, auth) = start(&[&key], eager_tuning()).await;
    let token = key.sign(&claims());

    server.fail_with(500);
    assert!(matches!(
        auth.refresh_keys().await,
        Err(JwksError::Status(500))
    ));
    assert!(auth.authenticate(&token).await.is_ok());

    server.serve_raw("<html>oops</html>");
    assert!(matches!(
        auth.refresh_keys().await,
        Err(JwksError::Parse(_))
    ));
    assert!(auth.authenticate(&token).await.is_ok());

    server.publish(json!({"keys": []}));
    assert!(matches!(
        auth.refresh_keys().await,
        Err(JwksError::NoUsableKey { .. })
    ));
    assert!(auth.authenticate(&token).await.is_ok());

    server.serve_raw(format!(
        r#"{{"keys":[],"pad":"{}"}}"#,
        "x".repeat(300 * 1024)
    ));
    assert!(matches!(
        auth.refresh_keys().await,
        Err(JwksError::TooLarge)
    ));
    assert!(auth.authenticate(&token).await.is_ok());

    // Once the IdP recovers, refreshes apply again.
    server.publish(jwks(&[&key]));
    assert!(auth.refresh_keys().await.is_ok());
}

#[tokio::test]
async fn the_background_refresh_drops_a_retired_key_and_stops_on_shutdown() {
    let retired = SigningKey::rsa("retired");
    let current = SigningKey::ec("current");
    let tuning = Tuning {
        jwks_refresh_interval: Duration::from_millis(50),
        ..Tuning::default()
    };
    let (server, auth) = start(&[&retired, &current], tuning).await;
    let stop = CancellationToken::new();
    let task = tokio::spawn({
        let auth = auth.clone();
        let stop = stop.clone();
        async move { auth.keep_keys_fresh(stop).await }
    });

    server.publish(jwks(&[&current]));
    let token = retired.sign(&claims());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    // The unknown-kid path is rate-limited (30 s), so only the background task can retire it.
    while auth.authenticate(&token).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the retired key was never dropped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(auth.authenticate(&token).await, Err(AuthError::UnknownKey));
    assert!(auth.authenticate(&current.sign(&claims())).await.is_ok());

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the refresh task stops on shutdown")
        .unwrap();
}

#[tokio::test]
async fn a_token_without_kid_uses_the_only_key_and_is_refused_when_there_are_several() {
    let key = SigningKey::rsa("only");
    let (_server, auth) = start(&[&key], Tuning::default()).await;
    assert!(
        auth.authenticate(&key.sign_without_kid(&claims()))
            .await
            .is_ok()
    );

    let other = SigningKey::ec("other");
    let (_server, auth) = start(&[&key, &other], Tuning::default()).await;
    assert_eq!(
        auth.authenticate(&key.sign_without_kid(&claims())).await,
        Err(AuthError::UnknownKey)
    );
}

#[tokio::test]
async fn start_up_fails_when_the_jwks_cannot_be_loaded() {
    let server = JwksServer::start(json!({"keys": []})).await;
    let url = server.url();
    assert!(matches!(
        Authenticator::new(&jwks_settings(url.clone())).await,
        Err(SetupError::Jwks(JwksError::NoUsableKey { .. }))
    ));
    server.stop().await;
    assert!(matches!(
        Authenticator::with_tuning(&jwks_settings(url), eager_tuning()).await,
        Err(SetupError::Jwks(JwksError::Request(_)))
    ));
}
