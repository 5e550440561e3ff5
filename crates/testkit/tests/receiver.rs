//! The test receiver's own check. The delivery tests trust its verdict on every signature,
//! so it must refuse what it should: `selftest.py` sends it forged, stale, unsigned and
//! rotated-key requests (signed with the `standardwebhooks` package) and every path mode.

use std::process::Command;

#[test]
fn the_independent_verifier_refuses_forged_stale_and_unsigned_requests() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/receiver/selftest.py");
    let output = Command::new("python3")
        .arg(script)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed to run {script}: {e}"));
    assert!(
        output.status.success(),
        "{script} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
