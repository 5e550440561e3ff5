//! The demo tenant, made through the public API the way a user would make it: a Razorpay
//! source, the [`Loopback`] endpoint subscribed to everything, then one signed webhook sent
//! and followed until the endpoint has verified its delivery. What it returns is what
//! `switchyard dev` prints: the console's address, a token, and a `curl` that sends another.

use std::{
    net::SocketAddr,
    time::{Duration, Instant, SystemTime},
};

use reqwest::{Client, Method, StatusCode};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use switchyard_auth::{Scope, Scopes, TokenSpec, mint_hs256};
use switchyard_domain::TenantId;
use switchyard_runtime::settings::AuthSettings;
use switchyard_signatures::{Scheme, sign_request};

use crate::loopback::{self, Loopback};

/// The demo tenant.
pub const TENANT: &str = "demo";
/// Its Razorpay source (`/webhooks/demo/razorpay`).
pub const SOURCE: &str = "razorpay";
/// Its endpoint, served by dev itself.
pub const ENDPOINT: &str = "loopback";
/// How long the demo token lasts.
const TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long each step may take: a Kafka broker's consumer groups take seconds to settle.
const STEP: Duration = Duration::from_secs(60);
/// How long a first webhook may take before another is sent (see [`deliver_first`]).
const RESEND_AFTER: Duration = Duration::from_secs(5);

/// What the demo is made of, for the banner.
#[derive(Debug, Clone)]
pub struct Demo {
    /// Where everything is served, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    /// The demo tenant's admin token.
    pub token: String,
    /// The console, signed in with [`Demo::token`].
    pub console_url: String,
    /// A `curl` command that sends a signed Razorpay webhook to the demo source.
    pub curl: String,
    /// How long the first webhook took from ingest to the loopback endpoint.
    pub first_delivery: Duration,
}

/// Why the demo could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// No HS256 secret to mint the demo token with.
    #[error("cannot mint a demo token: {0}")]
    Token(String),
    /// A step did not finish in time.
    #[error("{step} did not finish within {}s: {last}", STEP.as_secs())]
    TimedOut {
        /// Which step.
        step: &'static str,
        /// The last answer or error seen.
        last: String,
    },
    /// A request to dev's own server failed.
    #[error("{step}: {error}")]
    Request {
        /// Which step.
        step: &'static str,
        /// What failed.
        error: String,
    },
    /// The API refused a request.
    #[error("{step}: the API answered {status}: {body}")]
    Refused {
        /// Which step.
        step: &'static str,
        /// Its status.
        status: StatusCode,
        /// Its body.
        body: String,
    },
}

/// Makes the demo on the dev server at `addr` (its HS256 secret in `auth`) and waits until
/// one webhook has gone all the way round.
///
/// # Errors
/// See [`SeedError`].
pub async fn seed(
    addr: SocketAddr,
    auth: &AuthSettings,
    loopback: &Loopback,
) -> Result<Demo, SeedError> {
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        addr.ip().to_string()
    };
    let base_url = format!("http://{host}:{}", addr.port());
    let token = demo_token(auth)?;
    let api = Api {
        http: Client::new(),
        base_url: base_url.clone(),
        token: token.clone(),
    };
    api.wait_ready().await?;

    // Made afresh each start, so the secrets below are the ones in force even when a
    // PostgreSQL store kept an earlier run's.
    let source_secret = hex_secret();
    api.replace(
        "create the demo source",
        SOURCE,
        "sources",
        json!({ "id": SOURCE, "provider": "razorpay", "secret": source_secret }),
    )
    .await?;
    let endpoint = api
        .replace(
            "create the demo endpoint",
            ENDPOINT,
            "endpoints",
            json!({ "id": ENDPOINT, "url": format!("{base_url}{}", loopback::PATH) }),
        )
        .await?;
    let secret = endpoint["secret"].as_str().unwrap_or_default();
    loopback
        .trust(&SecretString::from(secret.to_owned()))
        .map_err(|e| SeedError::Request {
            step: "trust the demo endpoint's secret",
            error: e.to_string(),
        })?;

    let source_url = format!("{base_url}/webhooks/{TENANT}/{SOURCE}");
    let body = sample_webhook();
    let secret = SecretString::from(source_secret);
    let first_delivery = deliver_first(&api, loopback, &source_url, &secret, &body).await?;
    Ok(Demo {
        console_url: format!("{base_url}/console/#token={token}"),
        curl: curl(&source_url, &secret, &body),
        first_delivery,
        base_url,
        token,
    })
}

/// Sends webhooks until one reaches the loopback endpoint. The source reaches ingest and the
/// endpoint reaches the dispatcher through the config topic, each in its own time: a webhook
/// that overtakes the endpoint's arrival at the dispatcher is processed while the dispatcher
/// knows no endpoint for it, so after a quiet [`RESEND_AFTER`] another one (a new event) goes.
/// Returns how long the delivered one took from ingest's answer.
async fn deliver_first(
    api: &Api,
    loopback: &Loopback,
    url: &str,
    secret: &SecretString,
    body: &str,
) -> Result<Duration, SeedError> {
    let started = Instant::now();
    let seen = loopback.count();
    while started.elapsed() < STEP {
        api.send_webhook(url, secret, body).await?;
        let accepted = Instant::now();
        if loopback.wait_beyond(seen, RESEND_AFTER).await {
            return Ok(accepted.elapsed());
        }
    }
    Err(SeedError::TimedOut {
        step: "delivering the first webhook to the demo endpoint",
        last: format!("see {}/console/ for its delivery attempts", api.base_url),
    })
}

fn demo_token(auth: &AuthSettings) -> Result<String, SeedError> {
    let secret = &auth.jwt_hs256_secret;
    if secret.expose_secret().is_empty() {
        return Err(SeedError::Token(
            "auth.jwt_hs256_secret is not set (with JWKS, bring your own tokens)".into(),
        ));
    }
    let tenant = TenantId::parse(TENANT).map_err(|e| SeedError::Token(e.to_string()))?;
    let spec = TokenSpec::new(tenant, Scopes::from(Scope::Admin), TOKEN_TTL).for_settings(auth);
    mint_hs256(secret, &spec).map_err(|e| SeedError::Token(e.to_string()))
}

fn hex_secret() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

fn sample_webhook() -> String {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    json!({
        "entity": "event", "event": "payment.captured", "contains": ["payment"],
        "created_at": now,
        "payload": { "payment": { "entity": {
            "id": "pay_demo_1", "amount": 50_000, "currency": "INR", "status": "captured"
        } } }
    })
    .to_string()
}

fn signature(secret: &SecretString, body: &str) -> String {
    sign_request(
        &Scheme::Razorpay,
        secret,
        body.as_bytes(),
        SystemTime::now(),
        "",
    )
    .ok()
    .and_then(|headers| headers.into_iter().next())
    .map(|(_, value)| value)
    .unwrap_or_default()
}

/// The command a user pastes. No delivery id header: ingest gives each paste an event of
/// its own instead of treating the second as the provider's retry of the first.
fn curl(url: &str, secret: &SecretString, body: &str) -> String {
    format!(
        "curl -i {url} -H 'content-type: application/json' -H 'x-razorpay-signature: {}' --data '{body}'",
        signature(secret, body)
    )
}

struct Api {
    http: Client,
    base_url: String,
    token: String,
}

impl Api {
    async fn wait_ready(&self) -> Result<(), SeedError> {
        let started = Instant::now();
        let url = format!("{}/readyz", self.base_url);
        loop {
            let last = match self.http.get(&url).send().await {
                Ok(answer) if answer.status().is_success() => return Ok(()),
                Ok(answer) => answer.text().await.unwrap_or_default(),
                Err(error) => error.to_string(),
            };
            if started.elapsed() > STEP {
                return Err(SeedError::TimedOut {
                    step: "waiting for every service to be ready",
                    last,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn call(
        &self,
        step: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), SeedError> {
        let mut request = self
            .http
            .request(method, format!("{}/v1/{path}", self.base_url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let answer = request.send().await.map_err(|e| SeedError::Request {
            step,
            error: e.to_string(),
        })?;
        let status = answer.status();
        let body = answer.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// Deletes `collection/id` if it exists and creates it from `spec`: the answer carries
    /// the new secret.
    async fn replace(
        &self,
        step: &'static str,
        id: &str,
        collection: &str,
        spec: Value,
    ) -> Result<Value, SeedError> {
        let path = format!("{collection}/{id}");
        let (status, body) = self.call(step, Method::DELETE, &path, None).await?;
        if !(status.is_success() || status == StatusCode::NOT_FOUND) {
            return Err(SeedError::Refused {
                step,
                status,
                body: body.to_string(),
            });
        }
        let (status, body) = self
            .call(step, Method::POST, collection, Some(&spec))
            .await?;
        if status != StatusCode::CREATED {
            return Err(SeedError::Refused {
                step,
                status,
                body: body.to_string(),
            });
        }
        Ok(body)
    }

    /// Posts the webhook until ingest takes it: the new source reaches ingest through the
    /// config topic moments after the API made it, and until then ingest answers 404.
    async fn send_webhook(
        &self,
        url: &str,
        secret: &SecretString,
        body: &str,
    ) -> Result<(), SeedError> {
        let started = Instant::now();
        let delivery_id = format!("evt_{}", uuid::Uuid::now_v7().simple());
        loop {
            let answer = self
                .http
                .post(url)
                .header("content-type", "application/json")
                .header("x-razorpay-signature", signature(secret, body))
                .header("x-razorpay-event-id", &delivery_id)
                .body(body.to_owned())
                .send()
                .await;
            let last = match answer {
                Ok(answer) if answer.status().is_success() => return Ok(()),
                Ok(answer) => format!(
                    "{}: {}",
                    answer.status(),
                    answer.text().await.unwrap_or_default()
                ),
                Err(error) => error.to_string(),
            };
            if started.elapsed() > STEP {
                return Err(SeedError::TimedOut {
                    step: "sending the first webhook",
                    last,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
