//! `switchyard config check` run as a user runs it.

// Helpers outside #[test] functions panic to fail the test, like the tests themselves.
#![allow(clippy::unwrap_used)]

use std::{io::Write as _, process::Command};

const BINARY: &str = env!("CARGO_BIN_EXE_switchyard");

fn check(toml: &str, extra: &[&str]) -> std::process::Output {
    let mut file = tempfile::NamedTempFile::with_suffix(".toml").unwrap();
    file.write_all(toml.as_bytes()).unwrap();
    Command::new(BINARY)
        .args(["config", "check", "--config"])
        .arg(file.path())
        .args(extra)
        .env_remove("SWITCHYARD__BUS__BACKEND")
        .output()
        .unwrap()
}

#[test]
fn a_valid_file_is_summarised_and_unknown_keys_are_warned_about() {
    let out = check(
        "[bus]\nbackend = \"redis\"\ntopic_prefx = \"x\"\n\n[[sources]]\ntenant = \"acme\"\nid = \"rzp\"\nprovider = \"razorpay\"\nsecrets = [\"s\"]\n",
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("configuration OK") && stdout.contains("redis"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bus.topic_prefx"), "{stderr}");
}

#[test]
fn json_output_is_machine_readable() {
    let out = check("[bus]\nbackend = \"nats\"\n", &["--json"]);
    assert!(out.status.success());
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["bus"]["backend"], "nats");
}

#[test]
fn an_invalid_file_exits_2_naming_the_key() {
    let out = check("[bus]\nbackend = \"kafak\"\n", &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bus.backend") && stderr.contains("memory"),
        "{stderr}"
    );
}
