//! What the auth tests share: signing keys, claim builders, settings, and a real JWKS server.

// Helpers panic on setup failure, as tests do; each test binary uses part of them.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

pub mod keys;

use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use actix_web::{App, HttpResponse, HttpServer, dev::ServerHandle, web};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, jwk::Jwk};
use secrecy::SecretString;
use serde_json::{Value, json};
use switchyard_auth::Tuning;
use switchyard_runtime::settings::AuthSettings;
use tokio::task::JoinHandle;
use url::Url;

/// A 32-byte HS256 secret.
pub const SECRET: &str = "test-secret-0123456789abcdef0123";

/// Seconds since the epoch.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Valid claims for tenant `acme`, expiring in five minutes.
pub fn claims() -> Value {
    json!({
        "tenant": "acme",
        "sub": "user-1",
        "scope": "events:read events:write",
        "iat": now(),
        "exp": now() + 300,
    })
}

/// `claims()` with `changes` merged in; a `null` removes the claim.
pub fn claims_with(changes: &Value) -> Value {
    let mut claims = claims();
    let map = claims.as_object_mut().unwrap();
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            map.remove(name);
        } else {
            map.insert(name.clone(), value.clone());
        }
    }
    claims
}

/// `[auth]` with the HS256 secret.
pub fn hs256_settings() -> AuthSettings {
    AuthSettings {
        jwt_hs256_secret: SecretString::from(SECRET),
        ..AuthSettings::default()
    }
}

/// `[auth]` with a JWKS URL.
pub fn jwks_settings(url: Url) -> AuthSettings {
    AuthSettings {
        jwks_url: Some(url),
        ..AuthSettings::default()
    }
}

/// No minimum between unknown-`kid` refetches, so a test can rotate keys right after start.
pub fn eager_tuning() -> Tuning {
    Tuning {
        jwks_min_refetch_interval: Duration::ZERO,
        jwks_fetch_timeout: Duration::from_secs(2),
        ..Tuning::default()
    }
}

/// Signs `claims` with HS256 under `secret`.
pub fn sign_hs256(secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

/// base64url without padding, as in a JWT.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token assembled by hand from a header and claims, with `signature` as its third part.
pub fn handmade(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        b64(header.to_string()),
        b64(claims.to_string())
    )
}

/// HMAC-SHA256 of a handmade token's `header.payload` under `secret`, for forgeries.
pub fn forge_hs256(header: &Value, claims: &Value, secret: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let signing_input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", b64(mac.finalize().into_bytes()))
}

/// An asymmetric key the tests sign with, and publish in the JWKS.
pub struct SigningKey {
    pub kid: String,
    pub algorithm: Algorithm,
    key: EncodingKey,
}

impl SigningKey {
    /// The fixed RSA key, as RS256.
    pub fn rsa(kid: &str) -> Self {
        Self::new(
            kid,
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(keys::RSA_A_PRIVATE.as_bytes()).unwrap(),
        )
    }

    /// The fixed P-256 key, as ES256.
    pub fn ec(kid: &str) -> Self {
        Self::new(
            kid,
            Algorithm::ES256,
            EncodingKey::from_ec_pem(keys::EC_B_PRIVATE.as_bytes()).unwrap(),
        )
    }

    /// The fixed Ed25519 key, as EdDSA.
    pub fn ed(kid: &str) -> Self {
        Self::new(
            kid,
            Algorithm::EdDSA,
            EncodingKey::from_ed_pem(keys::ED_C_PRIVATE.as_bytes()).unwrap(),
        )
    }

    fn new(kid: &str, algorithm: Algorithm, key: EncodingKey) -> Self {
        Self {
            kid: kid.to_owned(),
            algorithm,
            key,
        }
    }

    /// The public JWK, with `kid`, `alg` and `use: sig`.
    pub fn jwk(&self) -> Value {
        let mut jwk = Jwk::from_encoding_key(&self.key, self.algorithm).unwrap();
        jwk.common.key_id = Some(self.kid.clone());
        jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
        serde_json::to_value(jwk).unwrap()
    }

    /// The public JWK without `alg`, as many IdPs publish it.
    pub fn jwk_without_alg(&self) -> Value {
        let mut jwk = self.jwk();
        jwk.as_object_mut().unwrap().remove("alg");
        jwk
    }

    /// `claims` signed with this key, the header naming its `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }

    /// `claims` signed with this key, the header without `kid`.
    pub fn sign_without_kid(&self, claims: &Value) -> String {
        jsonwebtoken::encode(&Header::new(self.algorithm), claims, &self.key).unwrap()
    }
}

/// A JWKS document of `keys`' public JWKs.
pub fn jwks(keys: &[&SigningKey]) -> Value {
    json!({ "keys": keys.iter().map(|key| key.jwk()).collect::<Vec<_>>() })
}

/// What the JWKS server answers.
enum Answer {
    Document(Value),
    Status(u16),
    Raw(String),
}

struct ServerState {
    answer: Mutex<Answer>,
    hits: AtomicUsize,
}

impl ServerState {
    fn with_answer<T>(&self, f: impl FnOnce(&mut Answer) -> T) -> T {
        f(&mut self.answer.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A real HTTP server on a free loopback port answering `GET /jwks.json`. Stopped on drop.
pub struct JwksServer {
    url: Url,
    state: Arc<ServerState>,
    handle: ServerHandle,
    task: JoinHandle<std::io::Result<()>>,
}

impl JwksServer {
    /// Starts serving `document`.
    pub async fn start(document: Value) -> Self {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(ServerState {
            answer: Mutex::new(Answer::Document(document)),
            hits: AtomicUsize::new(0),
        });
        let data = web::Data::from(Arc::clone(&state));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/jwks.json", web::get().to(serve))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        let task = tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}/jwks.json")
                .parse()
                .unwrap(),
            state,
            handle,
            task,
        }
    }

    /// The JWKS URL.
    pub fn url(&self) -> Url {
        self.url.clone()
    }

    /// Requests answered so far.
    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    /// Serves `document` from now on (a key rotation).
    pub fn publish(&self, document: Value) {
        self.state
            .with_answer(|answer| *answer = Answer::Document(document));
    }

    /// Answers every request with `status` from now on.
    pub fn fail_with(&self, status: u16) {
        self.state
            .with_answer(|answer| *answer = Answer::Status(status));
    }

    /// Answers every request with `body` as JSON from now on.
    pub fn serve_raw(&self, body: impl Into<String>) {
        let body = body.into();
        self.state.with_answer(|answer| *answer = Answer::Raw(body));
    }

    /// Stops the server: connections are refused from now on.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(state: web::Data<ServerState>) -> HttpResponse {
    state.hits.fetch_add(1, Ordering::SeqCst);
    state.with_answer(|answer| match answer {
        Answer::Document(document) => HttpResponse::Ok().json(&*document),
        Answer::Status(status) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(*status).unwrap()).finish()
        }
        Answer::Raw(body) => HttpResponse::Ok()
            .content_type("application/json")
            .body(body.clone()),
    })
}
