//! HS256 deployments: a shared secret, the algorithm pinned to HS256.

// Setup helpers unwrap: a panic is how a test reports a broken fixture.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde_json::json;
use support::{
    SECRET, b64, claims, claims_with, forge_hs256, handmade, hs256_settings, now, sign_hs256,
};
use switchyard_auth::{
    AuthError, Authenticator, MAX_TOKEN_BYTES, Scope, Scopes, SetupError, TokenSpec, mint_hs256,
};
use switchyard_domain::TenantId;
use switchyard_runtime::settings::AuthSettings;

async fn authenticator() -> Authenticator {
    Authenticator::new(&hs256_settings()).await.unwrap()
}

async fn strict_authenticator() -> Authenticator {
    let settings = AuthSettings {
        issuer: Some("https://issuer.example".into()),
        audience: Some("switchyard".into()),
        ..hs256_settings()
    };
    Authenticator::new(&settings).await.unwrap()
}

async fn verdict(claims: serde_json::Value) -> Result<switchyard_auth::Principal, AuthError> {
    authenticator()
        .await
        .authenticate(&sign_hs256(SECRET.as_bytes(), &claims))
        .await
}

#[tokio::test]
async fn a_valid_token_yields_its_tenant_subject_scopes_and_expiry() {
    let exp = now() + 300;
    let principal = verdict(claims_with(&json!({"exp": exp}))).await.unwrap();
    assert_eq!(principal.tenant().as_str(), "acme");
    assert_eq!(principal.subject(), Some("user-1"));
    assert_eq!(principal.scopes().to_string(), "events:read events:write");
    assert_eq!(principal.expires_at().timestamp(), exp);
    assert_eq!(principal.require(Scope::EventsWrite), Ok(()));
    assert_eq!(
        principal.require(Scope::Admin),
        Err(AuthError::MissingScope {
            scope: Scope::Admin
        })
    );
}

#[tokio::test]
async fn an_admin_token_passes_every_scope_check() {
    let principal = verdict(claims_with(&json!({"scope": "admin"})))
        .await
        .unwrap();
    for scope in Scope::ALL {
        assert_eq!(principal.require(scope), Ok(()));
    }
}

#[tokio::test]
async fn an_okta_style_scp_array_grants_scopes() {
    let principal = verdict(claims_with(
        &json!({"scope": null, "scp": ["openid", "events:read"]}),
    ))
    .await
    .unwrap();
    assert_eq!(principal.scopes(), Scopes::from(Scope::EventsRead));
}

#[tokio::test]
async fn an_expired_token_is_refused_with_401() {
    let err = verdict(claims_with(&json!({"exp": now() - 120})))
        .await
        .unwrap_err();
    assert_eq!(err, AuthError::Expired);
    assert_eq!(err.status().as_u16(), 401);
}

#[tokio::test]
async fn expiry_within_the_clock_leeway_is_tolerated() {
    assert!(
        verdict(claims_with(&json!({"exp": now() - 5})))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_token_without_exp_is_refused() {
    assert_eq!(
        verdict(claims_with(&json!({"exp": null}))).await,
        Err(AuthError::MissingClaim { claim: "exp" })
    );
}

#[tokio::test]
async fn exp_or_nbf_of_the_wrong_type_is_refused_not_ignored() {
    assert_eq!(
        verdict(claims_with(&json!({"exp": "never"}))).await,
        Err(AuthError::MissingClaim { claim: "exp" })
    );
    assert_eq!(
        verdict(claims_with(&json!({"nbf": "99999999999"}))).await,
        Err(AuthError::InvalidClaim { claim: "nbf" })
    );
}

#[tokio::test]
async fn a_token_not_yet_valid_is_refused() {
    assert_eq!(
        verdict(claims_with(&json!({"nbf": now() + 120}))).await,
        Err(AuthError::NotYetValid)
    );
    assert!(
        verdict(claims_with(&json!({"nbf": now() + 5})))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_refused() {
    let token = sign_hs256(b"another-secret-0123456789abcdef0", &claims());
    assert_eq!(
        authenticator().await.authenticate(&token).await,
        Err(AuthError::BadSignature)
    );
}

#[tokio::test]
async fn a_tampered_payload_is_refused() {
    let token = sign_hs256(SECRET.as_bytes(), &claims());
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = b64(claims_with(&json!({"tenant": "globex", "scope": "admin"})).to_string());
    let forged = parts.join(".");
    assert_eq!(
        authenticator().await.authenticate(&forged).await,
        Err(AuthError::BadSignature)
    );
}

#[tokio::test]
async fn alg_none_is_refused_with_or_without_a_signature() {
    let auth = authenticator().await;
    let none = handmade(&json!({"alg": "none", "typ": "JWT"}), &claims(), "");
    assert_eq!(auth.authenticate(&none).await, Err(AuthError::Unsigned));
    let none_signed = handmade(&json!({"alg": "none"}), &claims(), "c2ln");
    assert_eq!(
        auth.authenticate(&none_signed).await,
        Err(AuthError::Unsigned)
    );
}

#[tokio::test]
async fn an_unsigned_hs256_token_is_refused() {
    let unsigned = handmade(&json!({"alg": "HS256"}), &claims(), "");
    assert_eq!(
        authenticator().await.authenticate(&unsigned).await,
        Err(AuthError::Unsigned)
    );
}

#[tokio::test]
async fn another_hmac_algorithm_with_the_right_secret_is_refused() {
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims(),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        authenticator().await.authenticate(&token).await,
        Err(AuthError::AlgorithmNotAllowed { expected: "HS256" })
    );
    // Same with a header the library would not even parse.
    let odd = forge_hs256(&json!({"alg": "hs256"}), &claims(), SECRET.as_bytes());
    assert_eq!(
        authenticator().await.authenticate(&odd).await,
        Err(AuthError::AlgorithmNotAllowed { expected: "HS256" })
    );
}

#[tokio::test]
async fn a_missing_tenant_is_refused() {
    assert_eq!(
        verdict(claims_with(&json!({"tenant": null}))).await,
        Err(AuthError::MissingTenant)
    );
}

#[tokio::test]
async fn a_tenant_that_is_not_a_tenant_id_is_refused() {
    for tenant in [json!("../x"), json!("acme/../globex"), json!(""), json!(7)] {
        let err = verdict(claims_with(&json!({"tenant": tenant})))
            .await
            .unwrap_err();
        assert!(
            matches!(err, AuthError::InvalidTenant { .. }),
            "{tenant}: {err:?}"
        );
        assert_eq!(err.status().as_u16(), 401);
    }
}

#[tokio::test]
async fn issuer_and_audience_are_checked_when_configured() {
    let auth = strict_authenticator().await;
    let sign = |changes: &serde_json::Value| sign_hs256(SECRET.as_bytes(), &claims_with(changes));
    let good = json!({"iss": "https://issuer.example", "aud": "switchyard"});
    assert!(auth.authenticate(&sign(&good)).await.is_ok());
    let with_list = json!({"iss": "https://issuer.example", "aud": ["other", "switchyard"]});
    assert!(auth.authenticate(&sign(&with_list)).await.is_ok());

    for (changes, expected) in [
        (
            json!({"iss": "https://evil.example", "aud": "switchyard"}),
            AuthError::WrongIssuer,
        ),
        (
            json!({"iss": "https://issuer.example", "aud": "other"}),
            AuthError::WrongAudience,
        ),
        (
            json!({"aud": "switchyard"}),
            AuthError::MissingClaim { claim: "iss" },
        ),
        (
            json!({"iss": "https://issuer.example"}),
            AuthError::MissingClaim { claim: "aud" },
        ),
    ] {
        assert_eq!(
            auth.authenticate(&sign(&changes)).await,
            Err(expected),
            "{changes}"
        );
    }
}

#[tokio::test]
async fn issuer_and_audience_are_ignored_when_not_configured() {
    assert!(
        verdict(claims_with(&json!({"iss": "anyone", "aud": "anything"})))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn malformed_tokens_are_refused() {
    let auth = authenticator().await;
    for token in [
        "garbage",
        "only.two",
        "a.b.c.d",
        "!!!.???.***",
        "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln",
    ] {
        let err = auth.authenticate(token).await.unwrap_err();
        assert!(
            matches!(err, AuthError::Malformed { .. } | AuthError::BadSignature),
            "{token}: {err:?}"
        );
        assert_eq!(err.status().as_u16(), 401);
    }
    assert_eq!(auth.authenticate("").await, Err(AuthError::MissingToken));
}

#[tokio::test]
async fn a_huge_token_is_refused_before_any_decoding() {
    let auth = authenticator().await;
    // A syntactically plausible token, so only the size check can stop it early.
    let huge = handmade(
        &json!({"alg": "HS256"}),
        &claims_with(&json!({"pad": "x".repeat(1 << 20)})),
        "c2ln",
    );
    assert!(huge.len() > MAX_TOKEN_BYTES);
    let started = Instant::now();
    for _ in 0..1_000 {
        assert_eq!(auth.authenticate(&huge).await, Err(AuthError::TooLong));
    }
    // 1,000 decodes of a 1.4 MB token would take seconds; length checks take microseconds.
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn a_minted_token_round_trips_through_the_authenticator() {
    let settings = AuthSettings {
        issuer: Some("https://issuer.example".into()),
        audience: Some("switchyard".into()),
        ..hs256_settings()
    };
    let spec = TokenSpec::new(
        TenantId::parse("acme").unwrap(),
        Scopes::from(Scope::EventsWrite).with(Scope::EventsRead),
        Duration::from_secs(600),
    )
    .subject("svc-orders")
    .for_settings(&settings);
    let token = mint_hs256(&settings.jwt_hs256_secret, &spec).unwrap();
    let principal = Authenticator::new(&settings)
        .await
        .unwrap()
        .authenticate(&token)
        .await
        .unwrap();
    assert_eq!(principal.tenant().as_str(), "acme");
    assert_eq!(principal.subject(), Some("svc-orders"));
    assert_eq!(principal.scopes().to_string(), "events:read events:write");
    let remaining = principal.expires_at().timestamp() - now();
    assert!((590..=600).contains(&remaining), "{remaining}");
}

#[tokio::test]
async fn a_token_without_scopes_authenticates_but_passes_no_scope_check() {
    let spec = TokenSpec::new(
        TenantId::parse("acme").unwrap(),
        Scopes::NONE,
        Duration::from_secs(60),
    );
    let token = mint_hs256(&SecretString::from(SECRET), &spec).unwrap();
    let principal = authenticator().await.authenticate(&token).await.unwrap();
    assert!(principal.scopes().is_empty());
    assert!(principal.require(Scope::EventsRead).is_err());
}

#[tokio::test]
async fn settings_that_cannot_work_are_refused_at_start() {
    let none = AuthSettings::default();
    assert!(matches!(
        Authenticator::new(&none).await,
        Err(SetupError::NotConfigured)
    ));
    let both = AuthSettings {
        jwks_url: Some("https://idp.example/jwks.json".parse().unwrap()),
        ..hs256_settings()
    };
    assert!(matches!(
        Authenticator::new(&both).await,
        Err(SetupError::BothConfigured)
    ));
    let short = AuthSettings {
        jwt_hs256_secret: SecretString::from("short"),
        ..AuthSettings::default()
    };
    assert!(matches!(
        Authenticator::new(&short).await,
        Err(SetupError::SecretTooShort)
    ));
    let ftp = AuthSettings {
        jwks_url: Some("ftp://idp.example/jwks.json".parse().unwrap()),
        ..AuthSettings::default()
    };
    assert!(matches!(
        Authenticator::new(&ftp).await,
        Err(SetupError::UnsupportedJwksUrl)
    ));
}

#[tokio::test]
async fn messages_never_echo_the_token() {
    let token = sign_hs256(b"another-secret-0123456789abcdef0", &claims());
    let err = authenticator()
        .await
        .authenticate(&token)
        .await
        .unwrap_err();
    let problem = serde_json::to_value(err.to_problem()).unwrap();
    let body = problem.to_string();
    assert!(!body.contains(&token[..20]));
    assert!(!body.contains(SECRET));
    assert_eq!(problem["type"], "urn:switchyard:problem:invalid-token");
    assert_eq!(problem["status"], 401);
}
