//! `switchyard dev`: every service in one process on one port, a demo tenant, and what to
//! paste next (switchyard-dev does the work; this prints it).

use std::{io::IsTerminal as _, process::ExitCode, time::Duration};

use switchyard_dev::{Demo, Generated, Loopback, Options, SERVICE};
use switchyard_runtime::settings::{BusBackend, Settings};

pub async fn run(options: Options) -> ExitCode {
    let sources = switchyard_dev::sources(&options, std::env::vars().collect());
    let mut loaded = match Settings::load(&sources) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("switchyard dev: {error}");
            return ExitCode::from(2);
        }
    };
    let generated = switchyard_dev::complete(&mut loaded.settings);
    let summary = Summary::of(&loaded.settings, generated);
    let auth = loaded.settings.auth.clone();
    let loopback = Loopback::default();
    switchyard_runtime::run_loaded(&SERVICE, loaded, move |settings| async move {
        let service = switchyard_dev::build(settings, &loopback).await?;
        let addr = service.local_addr();
        let shutdown = service.shutdown_handle();
        let stopping = shutdown.clone();
        shutdown.spawn(async move {
            tokio::select! {
                () = stopping.triggered() => {}
                result = switchyard_dev::seed(addr, &auth, &loopback) => match result {
                    Ok(demo) => banner(&demo, &summary),
                    Err(error) => eprintln!("switchyard dev: the demo tenant was not set up: {error}"),
                },
            }
        });
        Ok(service)
    })
    .await
}

/// What the banner says about where things are kept.
struct Summary {
    bus: BusBackend,
    store: String,
    generated: Generated,
}

impl Summary {
    fn of(settings: &Settings, generated: Generated) -> Self {
        use secrecy::ExposeSecret as _;
        let url = settings.database.url.expose_secret();
        let store = if url.starts_with("memory:") {
            "memory (gone when this process exits)".to_owned()
        } else {
            "PostgreSQL (database.url)".to_owned()
        };
        Self {
            bus: settings.bus.backend,
            store,
            generated,
        }
    }
}

fn banner(demo: &Demo, summary: &Summary) {
    let Demo {
        base_url,
        token,
        console_url,
        curl,
        first_delivery,
    } = demo;
    let styled = std::io::stdout().is_terminal();
    let bold = |text: &str| {
        if styled {
            format!("\x1b[1m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    };
    println!();
    println!("{}", bold("Switchyard is running"));
    println!(
        "  every service on {base_url}  (bus: {}, store: {})",
        summary.bus, summary.store
    );
    println!(
        "  a demo webhook went ingest → processor → dispatcher → {base_url}/dev/loopback in {}",
        millis(*first_delivery)
    );
    println!();
    println!("{}", bold("Console"));
    println!("  {console_url}");
    println!();
    println!(
        "{}",
        bold("Send a signed Razorpay webhook to the demo source")
    );
    println!("  {curl}");
    println!();
    println!("{}", bold("Token for tenant demo (admin, 24 h)"));
    println!("  export SWITCHYARD_API={base_url} SWITCHYARD_TOKEN={token}");
    println!("  switchyard events        # search what arrived");
    println!(
        "  switchyard tail --stream {}  # follow it live",
        ws(base_url)
    );
    if summary.generated.auth_secret || summary.generated.sealing_key {
        println!();
        println!(
            "  (auth.jwt_hs256_secret and secrets.keys were generated for this run; set them in \
             --config or SWITCHYARD__* to keep tokens and stored secrets valid across restarts)"
        );
    }
    println!();
}

fn millis(elapsed: Duration) -> String {
    format!("{} ms", elapsed.as_millis())
}

fn ws(base_url: &str) -> String {
    base_url.replacen("http", "ws", 1)
}
