//! `switchyard`: the command-line tool. It prints for people (and `--json` for scripts), so
//! writing to stdout and stderr is its interface.
//!
//! Today: `config check`, `token` (a dev JWT) and `send` (a provider-signed test webhook).
//! `switchyard dev` and the operator commands `tail`, `events` and `dlq` arrive with step 9 of
//! the roadmap.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod config_check;
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
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(send::run(&request)),
                Err(error) => {
                    eprintln!("switchyard send: cannot start the async runtime: {error}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
