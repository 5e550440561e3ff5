//! `switchyard`: the command-line tool. It prints for people (and `--json` for scripts), so
//! writing to stdout and stderr is its interface.
//!
//! Today: `switchyard config check`. `switchyard dev` and the operator commands (`send`,
//! `tail`, `events`, `dlq`, `token`) arrive with step 9 of the roadmap.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod config_check;

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
    }
}
