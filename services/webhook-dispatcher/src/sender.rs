//! One HTTP attempt: sign, POST, classify the outcome.
//!
//! The client is built for untrusted destinations: no proxy (a proxy would resolve names
//! itself, out of reach of the address guard), no redirects (a 3xx to a private address is
//! a classic SSRF bypass; a moved endpoint must be changed by its owner), every resolved
//! address checked at connect time ([`GuardedResolver`]), literal-address URLs checked before
//! the request, and a hard deadline covering the connect, the request and the body read.

use std::{
    error::Error as _,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use bytes::{Bytes, BytesMut};
use reqwest::{Client, redirect};
use switchyard_signatures::Signer;
use url::Url;

use crate::ssrf::{AddressPolicy, GuardedResolver, Refused};

/// Bytes of the response body kept for the delivery log.
pub const EXCERPT_BYTES: usize = 1024;
/// Bytes of a response body read (then discarded) so the connection can be reused; a larger
/// body closes the connection instead of costing more time.
const DRAIN_BYTES: usize = 64 * 1024;

/// Why an attempt failed, as a metric label and for the delivery log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No complete answer within the timeout.
    Timeout,
    /// The name did not resolve.
    Dns,
    /// TCP connect refused or reset.
    Connect,
    /// TLS handshake or certificate failure.
    Tls,
    /// The address is refused by the SSRF policy.
    RefusedAddress,
    /// A non-2xx status (`410` is [`Failure::Gone`]).
    Status,
    /// `410 Gone`: the endpoint asks to be disabled.
    Gone,
    /// Not sent: the endpoint's circuit is open.
    CircuitOpen,
    /// Anything else on the way (a malformed response, an I/O error mid-body).
    Other,
}

impl Failure {
    /// Every class, in declaration order.
    pub const ALL: [Self; 9] = [
        Self::Timeout,
        Self::Dns,
        Self::Connect,
        Self::Tls,
        Self::RefusedAddress,
        Self::Status,
        Self::Gone,
        Self::CircuitOpen,
        Self::Other,
    ];

    /// The metric label.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Dns => "dns",
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::RefusedAddress => "refused_address",
            Self::Status => "status",
            Self::Gone => "gone",
            Self::CircuitOpen => "circuit_open",
            Self::Other => "other",
        }
    }
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// HTTP status, when a response came.
    pub status: Option<u16>,
    /// Why it failed; `None` on a 2xx.
    pub failure: Option<(Failure, String)>,
    /// The first [`EXCERPT_BYTES`] of the response body.
    pub excerpt: Bytes,
    /// When the request started.
    pub started: SystemTime,
    /// How long it took.
    pub duration: Duration,
}

impl Outcome {
    /// A failure that happened without a request.
    #[must_use]
    pub fn not_sent(failure: Failure, reason: String) -> Self {
        Self {
            status: None,
            failure: Some((failure, reason)),
            excerpt: Bytes::new(),
            started: SystemTime::now(),
            duration: Duration::ZERO,
        }
    }
}

/// Builds and sends attempts; cheap to share (the connection pool is inside).
#[derive(Clone)]
pub struct Sender {
    client: Client,
    policy: AddressPolicy,
    timeout: Duration,
}

/// The HTTP client could not be built (TLS backend initialisation).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct ClientError(#[from] reqwest::Error);

impl Sender {
    /// A sender enforcing `policy`, giving each attempt `timeout`, keeping up to
    /// `idle_per_host` idle connections per endpoint host.
    pub fn new(
        policy: AddressPolicy,
        timeout: Duration,
        idle_per_host: usize,
        user_agent: &str,
    ) -> Result<Self, ClientError> {
        let client = Client::builder()
            .user_agent(user_agent)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(redirect::Policy::none())
            .no_proxy()
            .dns_resolver(GuardedResolver::new(policy))
            .pool_max_idle_per_host(idle_per_host)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .build()?;
        Ok(Self {
            client,
            policy,
            timeout,
        })
    }

    /// POSTs `body` (a structured-mode CloudEvent) to `url` as delivery `msg_id`, signed by
    /// each of `signers`.
    pub async fn send(&self, url: &Url, msg_id: &str, signers: &[Signer], body: Bytes) -> Outcome {
        let started = SystemTime::now();
        let clock = Instant::now();
        let finish = |status, failure, excerpt| Outcome {
            status,
            failure,
            excerpt,
            started,
            duration: clock.elapsed(),
        };
        if let Err(refused) = self.policy.check_url(url) {
            return finish(
                None,
                Some((Failure::RefusedAddress, refused.to_string())),
                Bytes::new(),
            );
        }
        let timestamp = started
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let signature = signers
            .iter()
            .map(|s| s.sign(msg_id, timestamp, &body))
            .collect::<Vec<_>>()
            .join(" ");
        let request = self
            .client
            .post(url.clone())
            .header(
                "content-type",
                "application/cloudevents+json; charset=utf-8",
            )
            .header("webhook-id", msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body);
        let exchange = async {
            let mut response = request.send().await?;
            let status = response.status();
            let mut excerpt = BytesMut::new();
            let mut read = 0;
            while read < DRAIN_BYTES {
                let Some(chunk) = response.chunk().await? else {
                    break;
                };
                read += chunk.len();
                let room = EXCERPT_BYTES.saturating_sub(excerpt.len());
                excerpt.extend_from_slice(&chunk[..room.min(chunk.len())]);
            }
            Ok::<_, reqwest::Error>((status, excerpt.freeze()))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Err(_) => finish(
                None,
                Some((
                    Failure::Timeout,
                    format!("no answer within {:?}", self.timeout),
                )),
                Bytes::new(),
            ),
            Ok(Err(error)) => finish(None, Some(classify(&error)), Bytes::new()),
            Ok(Ok((status, excerpt))) if status.is_success() => {
                finish(Some(status.as_u16()), None, excerpt)
            }
            Ok(Ok((status, excerpt))) => {
                let failure = if status == reqwest::StatusCode::GONE {
                    Failure::Gone
                } else {
                    Failure::Status
                };
                finish(
                    Some(status.as_u16()),
                    Some((failure, format!("endpoint answered {status}"))),
                    excerpt,
                )
            }
        }
    }
}

/// Names the cause of a transport error from its source chain.
fn classify(error: &reqwest::Error) -> (Failure, String) {
    let mut chain = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<Refused>() {
            return (Failure::RefusedAddress, refused.to_string());
        }
        chain.push(cause.to_string());
        source = cause.source();
    }
    let detail = if chain.is_empty() {
        error.to_string()
    } else {
        chain.join(": ")
    };
    let lower = detail.to_ascii_lowercase();
    let failure = if error.is_timeout() {
        Failure::Timeout
    } else if lower.contains("dns error") || lower.contains("failed to lookup") {
        Failure::Dns
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
    {
        Failure::Tls
    } else if error.is_connect() {
        Failure::Connect
    } else {
        Failure::Other
    };
    (failure, detail)
}
