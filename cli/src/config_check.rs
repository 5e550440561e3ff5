//! `switchyard config check`.

use std::{path::PathBuf, process::ExitCode};

use serde_json::json;
use switchyard_runtime::settings::{Loaded, Settings, Sources};

pub fn run(file: Option<PathBuf>, as_json: bool) -> ExitCode {
    let sources = Sources {
        file,
        env: std::env::vars().collect(),
        defaults: Vec::new(),
    };
    match Settings::load(&sources) {
        Ok(loaded) => {
            if as_json {
                println!("{}", summary(&loaded));
            } else {
                print_text(&loaded);
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            if as_json {
                println!("{}", json!({ "ok": false, "error": error.to_string() }));
            } else {
                eprintln!("switchyard: {error}");
            }
            ExitCode::from(2)
        }
    }
}

fn summary(loaded: &Loaded) -> serde_json::Value {
    let s = &loaded.settings;
    json!({
        "ok": true,
        "file": loaded.file,
        "unknown_keys": loaded.unknown_keys,
        "bus": {
            "backend": s.bus.backend.as_str(),
            "topic_prefix": s.bus.topic_prefix.as_str(),
        },
        "sources": s.sources.iter().map(|x| format!("{}/{}", x.tenant, x.id)).collect::<Vec<_>>(),
        "endpoints": s.endpoints.iter().map(|x| format!("{}/{}", x.tenant, x.id)).collect::<Vec<_>>(),
    })
}

fn print_text(loaded: &Loaded) {
    let s = &loaded.settings;
    match &loaded.file {
        Some(file) => println!("configuration OK ({})", file.display()),
        None => println!("configuration OK (defaults and environment; no file)"),
    }
    println!(
        "  bus        {}, topics {}.*",
        s.bus.backend,
        s.bus.topic_prefix.as_str()
    );
    println!("  sources    {}", s.sources.len());
    println!("  endpoints  {}", s.endpoints.len());
    for key in &loaded.unknown_keys {
        eprintln!("warning: unknown key {key} is ignored by every service (a typo?)");
    }
}
