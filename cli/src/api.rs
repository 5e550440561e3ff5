//! The operator commands over the gateway's REST API and the websocket-gateway's stream:
//! `publish`, `events`, `deliveries`, `dlq list|redrive` and `tail`. People get one line per
//! item; `--json` prints the API's JSON (one object per line for `tail`) for scripts.

use std::{path::PathBuf, process::ExitCode};

use futures::StreamExt as _;
use reqwest::Method;
use serde_json::{Value, json};

/// Where the API is and who calls it.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// The gateway's base URL.
    #[arg(long, env = "SWITCHYARD_API", default_value = "http://127.0.0.1:8080")]
    pub api: String,
    /// A bearer token; without one, `--tenant` mints an admin token from the configured
    /// `auth.jwt_hs256_secret` (as `switchyard token` does).
    #[arg(long, env = "SWITCHYARD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The tenant to mint a token for when no `--token` is given.
    #[arg(long)]
    pub tenant: Option<String>,
    /// TOML file with `[auth]` (default: $SWITCHYARD_CONFIG).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Print JSON instead of lines for people.
    #[arg(long)]
    pub json: bool,
}

impl Target {
    fn token(&self) -> Result<String, String> {
        if let Some(token) = &self.token {
            return Ok(token.clone());
        }
        let tenant = self
            .tenant
            .clone()
            .ok_or("no token: pass --token (or SWITCHYARD_TOKEN), or --tenant to mint one")?;
        crate::token::mint(&crate::token::Request {
            tenant,
            scopes: Vec::new(),
            subject: None,
            ttl_secs: 3_600,
            secret: None,
            config: self.config.clone(),
            json: false,
        })
        .map(|(token, _)| token)
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let token = self.token()?;
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| e.to_string())?;
        let url = format!("{}{path}", self.api.trim_end_matches('/'));
        let mut request = client.request(method, &url).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("cannot reach {url}: {e}"))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            Ok(body)
        } else {
            let detail = body["detail"].as_str().unwrap_or("no detail");
            Err(format!("{status}: {detail}"))
        }
    }
}

/// An operator command.
pub enum Command {
    Publish {
        event_type: String,
        subject: Option<String>,
        data: Option<String>,
        idempotency_key: Option<String>,
    },
    Events {
        query: Vec<(&'static str, String)>,
    },
    Deliveries {
        event_id: String,
    },
    DlqList {
        endpoint: Option<String>,
    },
    DlqRedrive {
        id: String,
    },
    Tail {
        stream: String,
        types: Option<String>,
        subject: Option<String>,
    },
}

pub async fn run(target: &Target, command: Command) -> ExitCode {
    match execute(target, command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("switchyard: {error}");
            ExitCode::FAILURE
        }
    }
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

async fn execute(target: &Target, command: Command) -> Result<(), String> {
    match command {
        Command::Publish {
            event_type,
            subject,
            data,
            idempotency_key,
        } => {
            let data: Value = match data {
                Some(text) => serde_json::from_str(&text).map_err(|e| format!("--data: {e}"))?,
                None => Value::Null,
            };
            let mut body = json!({ "type": event_type, "data": data });
            if let Some(subject) = subject {
                body["subject"] = json!(subject);
            }
            let path = "/v1/events";
            let answer = match idempotency_key {
                None => target.call(Method::POST, path, Some(body)).await?,
                Some(key) => publish_with_key(target, body, &key).await?,
            };
            print(target, &answer, |a| {
                format!(
                    "{}{}",
                    a["id"].as_str().unwrap_or_default(),
                    if a["duplicate"] == true {
                        " (already published)"
                    } else {
                        ""
                    }
                )
            });
        }
        Command::Events { query } => {
            let query: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{k}={}", encode(v)))
                .collect();
            let answer = target
                .call(
                    Method::GET,
                    &format!("/v1/events?{}", query.join("&")),
                    None,
                )
                .await?;
            if target.json {
                println!("{answer}");
            } else {
                for event in answer["data"].as_array().into_iter().flatten() {
                    println!("{}", event_line(event));
                }
            }
        }
        Command::Deliveries { event_id } => {
            let answer = target
                .call(
                    Method::GET,
                    &format!("/v1/events/{}/deliveries", encode(&event_id)),
                    None,
                )
                .await?;
            if target.json {
                println!("{answer}");
            } else {
                for a in answer.as_array().into_iter().flatten() {
                    println!(
                        "#{} {:<10} {:>3} {} {} {}ms {}",
                        a["attempt"],
                        a["outcome"].as_str().unwrap_or_default(),
                        a["response_status"],
                        a["endpoint_id"].as_str().unwrap_or_default(),
                        a["url"].as_str().unwrap_or_default(),
                        a["duration_ms"],
                        a["error"].as_str().unwrap_or_default()
                    );
                }
            }
        }
        Command::DlqList { endpoint } => {
            let path = match endpoint {
                Some(endpoint) => format!("/v1/dlq?endpoint={}", encode(&endpoint)),
                None => "/v1/dlq".to_owned(),
            };
            let answer = target.call(Method::GET, &path, None).await?;
            if target.json {
                println!("{answer}");
            } else {
                for d in answer["data"].as_array().into_iter().flatten() {
                    println!("{}", dead_letter_line(d));
                }
            }
        }
        Command::DlqRedrive { id } => {
            let answer = target
                .call(
                    Method::POST,
                    &format!("/v1/dlq/{}/redrive", encode(&id)),
                    None,
                )
                .await?;
            print(target, &answer, |d| {
                format!("redriven: {}", dead_letter_line(d))
            });
        }
        Command::Tail {
            stream,
            types,
            subject,
        } => tail(target, &stream, types, subject).await?,
    }
    Ok(())
}

async fn publish_with_key(target: &Target, body: Value, key: &str) -> Result<Value, String> {
    let token = target.token()?;
    let url = format!("{}/v1/events", target.api.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .post(&url)
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        Ok(answer)
    } else {
        Err(format!(
            "{status}: {}",
            answer["detail"].as_str().unwrap_or("no detail")
        ))
    }
}

fn print(target: &Target, value: &Value, line: impl Fn(&Value) -> String) {
    if target.json {
        println!("{value}");
    } else {
        println!("{}", line(value));
    }
}

fn event_line(event: &Value) -> String {
    format!(
        "{}  {:<32} {}  {}",
        event["time"].as_str().unwrap_or_default(),
        event["type"].as_str().unwrap_or_default(),
        event["id"].as_str().unwrap_or_default(),
        event["subject"].as_str().unwrap_or_default()
    )
}

fn dead_letter_line(d: &Value) -> String {
    format!(
        "{}  {}  {}  {}  {}",
        d["id"].as_str().unwrap_or_default(),
        d["dead_lettered_at"].as_str().unwrap_or_default(),
        d["endpoint"].as_str().unwrap_or("-"),
        d["event_id"].as_str().unwrap_or("-"),
        d["reason"].as_str().unwrap_or_default()
    )
}

/// Follows the live stream until it ends or Ctrl-C.
async fn tail(
    target: &Target,
    stream: &str,
    types: Option<String>,
    subject: Option<String>,
) -> Result<(), String> {
    let token = target.token()?;
    let mut url = format!(
        "{}/v1/ws?token={}",
        stream.trim_end_matches('/'),
        encode(&token)
    );
    if let Some(types) = types {
        url.push_str(&format!("&types={}", encode(&types)));
    }
    if let Some(subject) = subject {
        url.push_str(&format!("&subject={}", encode(&subject)));
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .map_err(|e| format!("cannot open the stream at {stream}: {e}"))?;
    loop {
        let message = tokio::select! {
            message = socket.next() => message,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let Some(message) = message else {
            return Ok(());
        };
        match message.map_err(|e| format!("stream: {e}"))? {
            tokio_tungstenite::tungstenite::Message::Text(text) => {
                if target.json {
                    println!("{text}");
                } else if let Ok(event) = serde_json::from_str::<Value>(&text) {
                    println!("{}", event_line(&event));
                }
            }
            tokio_tungstenite::tungstenite::Message::Close(frame) => {
                if let Some(frame) = frame {
                    eprintln!("stream closed: {} {}", frame.code, frame.reason);
                }
                return Ok(());
            }
            _ => {}
        }
    }
}
