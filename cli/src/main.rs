//! `switchyard`: the command-line tool. It prints for people (and `--json` for scripts), so
//! writing to stdout and stderr is its interface.
//!
//! `dev` (every service in one process, with a demo tenant), `config check`, `token` (a dev
//! JWT), `send` (a provider-signed test webhook), and the operator commands over the API:
//! `publish`, `events`, `deliveries`, `dlq list|redrive`, `tail`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod api;
mod config_check;
mod dev;
mod send;
mod token;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "switchyard", version, about = "Switchyard event platform tool")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every service in this process on one port (127.0.0.1:8080 unless `http.bind`
    /// says otherwise), on the in-memory bus and store unless configured otherwise, with a
    /// demo tenant: a Razorpay source and an endpoint served by dev itself.
    Dev {
        /// TOML file, as the services read it (default: $SWITCHYARD_CONFIG).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        /// The bus: memory (default), kafka, redis or nats (their addresses from the
        /// configuration, e.g. SWITCHYARD__BUS__KAFKA__BROKERS).
        #[arg(long)]
        bus: Option<switchyard_runtime::settings::BusBackend>,
        /// PostgreSQL instead of the in-memory store.
        #[arg(long, env = "SWITCHYARD_DEV_DATABASE_URL")]
        database_url: Option<String>,
    },
    /// Work with configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Mint a JWT for the gateway and websocket-gateway, signed with `auth.jwt_hs256_secret`
    /// (from `--config`/`SWITCHYARD__*`, or `--secret`). Prints the token.
    Token {
        /// The tenant the token scopes everything to.
        #[arg(long)]
        tenant: String,
        /// A scope (events:read, events:write, admin); repeat for several. Default: admin.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// The `sub` claim (websocket-gateway's own events).
        #[arg(long)]
        sub: Option<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3_600)]
        ttl_secs: u64,
        /// HS256 secret, instead of the configured one.
        #[arg(long)]
        secret: Option<String>,
        /// TOML file (default: $SWITCHYARD_CONFIG).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        /// Print a JSON object instead of the bare token.
        #[arg(long)]
        json: bool,
    },
    /// Publish an event through the gateway (the outbox).
    Publish {
        /// Event type, e.g. `order.created`.
        #[arg(long = "type")]
        event_type: String,
        /// What it is about.
        #[arg(long)]
        subject: Option<String>,
        /// The data, as JSON text.
        #[arg(long)]
        data: Option<String>,
        /// Makes a retry safe: the same key publishes once.
        #[arg(long)]
        idempotency_key: Option<String>,
        #[command(flatten)]
        target: api::Target,
    },
    /// Search the event store, newest first.
    Events {
        /// Type or pattern, e.g. `razorpay.payment.*`.
        #[arg(long = "type")]
        event_type: Option<String>,
        /// Exactly this subject.
        #[arg(long)]
        subject: Option<String>,
        /// Events at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Events before this time (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// How many (1 to 1000).
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[command(flatten)]
        target: api::Target,
    },
    /// Every delivery attempt of one event.
    Deliveries {
        /// The event id.
        event_id: String,
        #[command(flatten)]
        target: api::Target,
    },
    /// Dead letters: list them, or send one again.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Follow live events (websocket-gateway) until Ctrl-C.
    Tail {
        /// The websocket-gateway's base URL.
        #[arg(long, env = "SWITCHYARD_STREAM", default_value = "ws://127.0.0.1:8082")]
        stream: String,
        /// Type patterns, comma-separated: `a.b.*,c.d`.
        #[arg(long)]
        types: Option<String>,
        /// Exactly this subject.
        #[arg(long)]
        subject: Option<String>,
        #[command(flatten)]
        target: api::Target,
    },
    /// Sign a test webhook as the provider would and post it to a source's URL on ingest
    /// (`http://host:8081/webhooks/<tenant>/<source>`). Exits 0 on a 2xx answer.
    Send {
        /// The source's URL.
        url: String,
        /// razorpay, stripe, github, shopify, standard-webhooks or hmac.
        #[arg(long)]
        provider: String,
        /// The source's secret.
        #[arg(long)]
        secret: String,
        /// The body to send (`-` for stdin); default: a sample of the provider's common event.
        #[arg(long, value_name = "PATH")]
        body: Option<PathBuf>,
        /// The delivery id (its own header per provider); default: a fresh one.
        #[arg(long)]
        id: Option<String>,
        /// `hmac` only: the signature header.
        #[arg(long, default_value = "x-signature")]
        hmac_header: String,
        /// `hmac` only: hex or base64.
        #[arg(long, default_value = "hex")]
        hmac_encoding: String,
        /// `hmac` only: text before the signature, e.g. `sha256=`.
        #[arg(long, default_value = "")]
        hmac_prefix: String,
        /// Print a JSON object.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum DlqCommand {
    /// Dead letters, newest first.
    List {
        /// Only failed deliveries to this endpoint.
        #[arg(long)]
        endpoint: Option<String>,
        #[command(flatten)]
        target: api::Target,
    },
    /// Send one again: a failed delivery to its endpoint only, anything else to its topic.
    Redrive {
        /// Its id (from `dlq list`).
        id: String,
        #[command(flatten)]
        target: api::Target,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Load the configuration exactly as every service will (defaults, file, SWITCHYARD__*
    /// environment), report errors and unknown keys, and summarise the result.
    Check {
        /// TOML file (default: $SWITCHYARD_CONFIG).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        /// Print a JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Dev {
            config,
            bus,
            database_url,
        } => {
            let options = switchyard_dev::Options {
                config,
                bus,
                database_url,
            };
            match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(dev::run(options)),
                Err(error) => {
                    eprintln!("switchyard: cannot start the async runtime: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Config(ConfigCommand::Check { config, json }) => config_check::run(config, json),
        Command::Token {
            tenant,
            scopes,
            sub,
            ttl_secs,
            secret,
            config,
            json,
        } => token::run(&token::Request {
            tenant,
            scopes,
            subject: sub,
            ttl_secs,
            secret,
            config,
            json,
        }),
        Command::Send {
            url,
            provider,
            secret,
            body,
            id,
            hmac_header,
            hmac_encoding,
            hmac_prefix,
            json,
        } => {
            let request = send::Request {
                url,
                provider,
                secret,
                body,
                id,
                hmac_header,
                hmac_encoding,
                hmac_prefix,
                json,
            };
            block_on(send::run(&request))
        }
        Command::Publish {
            event_type,
            subject,
            data,
            idempotency_key,
            target,
        } => block_on(api::run(
            &target,
            api::Command::Publish {
                event_type,
                subject,
                data,
                idempotency_key,
            },
        )),
        Command::Events {
            event_type,
            subject,
            since,
            until,
            limit,
            target,
        } => {
            let query = [
                ("type", event_type),
                ("subject", subject),
                ("since", since),
                ("until", until),
                ("limit", Some(limit.to_string())),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
            block_on(api::run(&target, api::Command::Events { query }))
        }
        Command::Deliveries { event_id, target } => {
            block_on(api::run(&target, api::Command::Deliveries { event_id }))
        }
        Command::Dlq(DlqCommand::List { endpoint, target }) => {
            block_on(api::run(&target, api::Command::DlqList { endpoint }))
        }
        Command::Dlq(DlqCommand::Redrive { id, target }) => {
            block_on(api::run(&target, api::Command::DlqRedrive { id }))
        }
        Command::Tail {
            stream,
            types,
            subject,
            target,
        } => block_on(api::run(
            &target,
            api::Command::Tail {
                stream,
                types,
                subject,
            },
        )),
    }
}

/// Runs an async command on a runtime of its own (only the network commands need one).
fn block_on(command: impl Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(command),
        Err(error) => {
            eprintln!("switchyard: cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}
