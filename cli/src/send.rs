//! `switchyard send`: signs a webhook the way its provider does and posts it, to try a source
//! end to end (`POST /webhooks/{tenant}/{source}` on ingest) without the provider.

use std::{path::PathBuf, process::ExitCode, time::SystemTime};

use secrecy::SecretString;
use serde_json::{Value, json};
use switchyard_signatures::{DEFAULT_TOLERANCE, Encoding, Scheme, sign_request};

/// What to send.
pub struct Request {
    pub url: String,
    pub provider: String,
    pub secret: String,
    pub body: Option<PathBuf>,
    pub id: Option<String>,
    pub hmac_header: String,
    pub hmac_encoding: String,
    pub hmac_prefix: String,
    pub json: bool,
}

/// Providers `send` signs for, in the order `--help` lists them.
pub const PROVIDERS: &[&str] = &[
    "razorpay",
    "stripe",
    "github",
    "shopify",
    "standard-webhooks",
    "hmac",
];

pub async fn run(request: &Request) -> ExitCode {
    match send(request).await {
        Ok((status, answer)) => {
            if request.json {
                println!("{}", json!({ "status": status, "answer": answer }));
            } else {
                println!("{status} {answer}");
            }
            if (200..300).contains(&status) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("switchyard send: {error}");
            ExitCode::from(2)
        }
    }
}

async fn send(request: &Request) -> Result<(u16, Value), String> {
    let scheme = scheme(request)?;
    let id = request.id.clone().unwrap_or_else(|| {
        let uuid = uuid::Uuid::now_v7().simple().to_string();
        format!("msg_{}", &uuid[uuid.len() - 20..])
    });
    let body = match &request.body {
        Some(path) if path.as_os_str() == "-" => {
            let mut text = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut text)
                .map_err(|e| format!("--body -: {e}"))?;
            text
        }
        Some(path) => std::fs::read(path).map_err(|e| format!("--body {}: {e}", path.display()))?,
        None => sample(&request.provider, &id).to_string().into_bytes(),
    };
    let secret = SecretString::from(request.secret.clone());
    let mut headers = sign_request(&scheme, &secret, &body, SystemTime::now(), &id)
        .map_err(|e| format!("--secret: {e}"))?;
    headers.extend(delivery_headers(&request.provider, &id));
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let mut post = client
        .post(&request.url)
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers {
        post = post.header(name, value);
    }
    let response = post
        .send()
        .await
        .map_err(|e| format!("cannot post to {}: {e}", request.url))?;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let answer = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, answer))
}

fn scheme(request: &Request) -> Result<Scheme, String> {
    Ok(match request.provider.as_str() {
        "razorpay" => Scheme::Razorpay,
        "stripe" => Scheme::Stripe {
            tolerance: DEFAULT_TOLERANCE,
        },
        "github" => Scheme::Github,
        "shopify" => Scheme::Shopify,
        "standard-webhooks" => Scheme::StandardWebhooks {
            tolerance: DEFAULT_TOLERANCE,
        },
        "hmac" => Scheme::Hmac {
            header: request.hmac_header.clone(),
            encoding: match request.hmac_encoding.as_str() {
                "hex" => Encoding::Hex,
                "base64" => Encoding::Base64,
                other => return Err(format!("--hmac-encoding: {other:?} is not hex or base64")),
            },
            prefix: request.hmac_prefix.clone(),
        },
        other => {
            return Err(format!(
                "--provider: unknown {other:?}; one of {}",
                PROVIDERS.join(", ")
            ));
        }
    })
}

/// The provider's own delivery-id headers (unsigned), which ingest uses to spot a repeat.
fn delivery_headers(provider: &str, id: &str) -> Vec<(String, String)> {
    let pair = |name: &str, value: &str| (name.to_owned(), value.to_owned());
    match provider {
        "razorpay" => vec![pair("x-razorpay-event-id", id)],
        "github" => vec![
            pair("x-github-delivery", id),
            pair("x-github-event", "push"),
        ],
        "shopify" => vec![
            pair("x-shopify-webhook-id", id),
            pair("x-shopify-topic", "orders/create"),
        ],
        _ => Vec::new(),
    }
}

/// A small, realistic body of each provider's most common event.
fn sample(provider: &str, id: &str) -> Value {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    match provider {
        "razorpay" => json!({
            "entity": "event", "event": "payment.captured", "contains": ["payment"], "created_at": now,
            "payload": { "payment": { "entity": { "id": format!("pay_{id}"), "amount": 50_000, "currency": "INR", "status": "captured" } } }
        }),
        "stripe" => json!({
            "id": format!("evt_{id}"), "object": "event", "type": "payment_intent.succeeded", "created": now,
            "data": { "object": { "id": format!("pi_{id}"), "object": "payment_intent", "amount": 2_000, "currency": "usd" } }
        }),
        "github" => json!({
            "ref": "refs/heads/main", "after": "0000000000000000000000000000000000000001",
            "repository": { "full_name": "acme/app" }, "pusher": { "name": "switchyard" }
        }),
        "shopify" => {
            json!({ "id": 820_982_911_946_154_508_u64, "email": "jon@example.com", "total_price": "10.00", "currency": "USD" })
        }
        "standard-webhooks" => {
            json!({ "type": "user.created", "timestamp": now, "data": { "id": format!("user_{id}") } })
        }
        _ => json!({ "kind": "test", "id": id }),
    }
}
