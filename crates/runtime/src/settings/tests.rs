use std::io::Write as _;

use secrecy::ExposeSecret;

use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn load(file: Option<&str>, pairs: &[(&str, &str)]) -> Result<Loaded, SettingsError> {
    let file = file.map(|toml| {
        let mut f = tempfile::NamedTempFile::with_suffix(".toml").unwrap();
        f.write_all(toml.as_bytes()).unwrap();
        f.into_temp_path()
    });
    Settings::load(&Sources {
        file: file.as_ref().map(|p| p.to_path_buf()),
        env: env(pairs),
        defaults: vec![("http.bind", "0.0.0.0:8081".into())],
    })
}

#[test]
fn defaults_need_no_file_and_no_environment() {
    let loaded = load(None, &[]).unwrap();
    let s = loaded.settings;
    assert_eq!(s.http.bind.port(), 8081, "the service default applies");
    assert_eq!(s.bus.backend, BusBackend::Kafka);
    assert_eq!(s.bus.topics().events(), "switchyard.events");
    assert_eq!(s.bus.kafka.brokers, "127.0.0.1:9092");
    assert_eq!(
        s.bus.group("processor"),
        "processor",
        "DESIGN's group names"
    );
    assert_eq!(s.shutdown.drain_timeout_secs, 20);
    assert!(loaded.unknown_keys.is_empty());
}

#[test]
fn environment_overrides_file_which_overrides_defaults() {
    let toml = r#"
        [http]
        bind = "127.0.0.1:7000"
        [bus]
        backend = "redis"
        topic_prefix = "from-file"
    "#;
    let s = load(Some(toml), &[("SWITCHYARD__BUS__TOPIC_PREFIX", "from-env")])
        .unwrap()
        .settings;
    assert_eq!(s.http.bind.port(), 7000);
    assert_eq!(s.bus.backend, BusBackend::Redis);
    assert_eq!(s.bus.topic_prefix.as_str(), "from-env");
}

#[test]
fn nested_environment_keys_reach_nested_sections() {
    let s = load(
        None,
        &[("SWITCHYARD__BUS__KAFKA__BROKERS", "k1:9092,k2:9092")],
    )
    .unwrap()
    .settings;
    assert_eq!(s.bus.kafka.brokers, "k1:9092,k2:9092");
}

#[test]
fn config_file_can_come_from_switchyard_config() {
    let mut f = tempfile::NamedTempFile::with_suffix(".toml").unwrap();
    f.write_all(b"[bus]\nbackend = \"nats\"\n").unwrap();
    let path = f.path().to_string_lossy().into_owned();
    let loaded = Settings::load(&Sources {
        env: env(&[(CONFIG_FILE_VAR, &path)]),
        ..Sources::default()
    })
    .unwrap();
    assert_eq!(loaded.settings.bus.backend, BusBackend::Nats);
    assert_eq!(loaded.file.as_deref(), Some(f.path()));
}

#[test]
fn a_bad_backend_names_the_key_the_accepted_values_and_the_variable() {
    let err = load(None, &[("SWITCHYARD__BUS__BACKEND", "kafak")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("bus.backend"), "{err}");
    for accepted in ["kafka", "redis", "nats", "memory"] {
        assert!(err.contains(accepted), "{err}");
    }
    assert!(err.contains("SWITCHYARD__BUS__BACKEND"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn a_bad_value_in_a_list_names_its_index() {
    let toml = r#"
        [[sources]]
        tenant = "acme"
        id = "razorpay"
        provider = "razorpay"
        secrets = ["s1"]

        [[sources]]
        tenant = "bad tenant"
        id = "github"
        provider = "github"
        secrets = ["s2"]
    "#;
    let err = load(Some(toml), &[]).unwrap_err().to_string();
    assert!(err.contains("sources[1].tenant"), "{err}");
    assert!(err.contains("tenant id"), "{err}");
}

#[test]
fn wrong_types_and_rule_violations_are_refused() {
    let cases: &[(&str, &str, &str)] = &[
        ("SWITCHYARD__HTTP__BIND", "not-an-address", "http.bind"),
        (
            "SWITCHYARD__SHUTDOWN__DRAIN_TIMEOUT_SECS",
            "soon",
            "shutdown.drain_timeout_secs",
        ),
        (
            "SWITCHYARD__BUS__TOPIC_PREFIX",
            "has space",
            "bus.topic_prefix",
        ),
        (
            "SWITCHYARD__TELEMETRY__LOG_LEVEL",
            "info,=[",
            "telemetry.log_level",
        ),
        (
            "SWITCHYARD__AUTH__JWT_HS256_SECRET",
            "short",
            "auth.jwt_hs256_secret",
        ),
        // Default publish deadline is 10 s: a producer lingering longer fails every record.
        (
            "SWITCHYARD__BUS__GROUP_PREFIX",
            "has space.",
            "bus.group_prefix",
        ),
        (
            "SWITCHYARD__BUS__KAFKA__LINGER_MS",
            "20000",
            "bus.kafka.linger_ms",
        ),
    ];
    for (var, value, key) in cases {
        let err = load(None, &[(var, value)]).unwrap_err().to_string();
        assert!(err.contains(key), "{var}={value}: {err}");
    }
}

#[test]
fn source_and_endpoint_rules_are_checked() {
    let duplicate = r#"
        [[sources]]
        tenant = "acme"
        id = "razorpay"
        provider = "razorpay"
        secrets = ["s1"]
        [[sources]]
        tenant = "acme"
        id = "razorpay"
        provider = "razorpay"
        secrets = ["s2"]
    "#;
    assert!(
        load(Some(duplicate), &[])
            .unwrap_err()
            .to_string()
            .contains("duplicate source")
    );

    let hmac_without_header = r#"
        [[sources]]
        tenant = "acme"
        id = "custom"
        provider = "hmac"
        secrets = ["s1"]
    "#;
    assert!(
        load(Some(hmac_without_header), &[])
            .unwrap_err()
            .to_string()
            .contains("sources[0].hmac")
    );

    let bad_secret = r#"
        [[endpoints]]
        tenant = "acme"
        id = "orders"
        url = "https://orders.example/hooks"
        secret = "plain"
    "#;
    assert!(
        load(Some(bad_secret), &[])
            .unwrap_err()
            .to_string()
            .contains("endpoints[0].secret")
    );

    let bad_pattern = r#"
        [[endpoints]]
        tenant = "acme"
        id = "orders"
        url = "https://orders.example/hooks"
        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        event_types = ["razorpay.pay*"]
    "#;
    assert!(
        load(Some(bad_pattern), &[])
            .unwrap_err()
            .to_string()
            .contains("endpoints[0].event_types")
    );
}

#[test]
fn a_full_source_and_endpoint_parse_with_defaults() {
    let toml = r#"
        [[sources]]
        tenant = "acme"
        id = "custom"
        provider = "hmac"
        secrets = ["old", "new"]
        allow_ips = ["10.0.0.0/8", "2001:db8::/32"]
        hmac = { header = "X-Signature", encoding = "base64", prefix = "sha256=" }

        [[endpoints]]
        tenant = "acme"
        id = "orders"
        url = "https://orders.example/hooks"
        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    "#;
    let s = load(Some(toml), &[]).unwrap().settings;
    let source = &s.sources[0];
    assert_eq!(source.provider, Provider::Hmac);
    assert_eq!(source.secrets.len(), 2);
    assert_eq!(source.allow_ips.len(), 2);
    assert_eq!(source.rate_limit_per_sec, 100);
    assert_eq!(source.max_body_bytes, 262_144);
    assert_eq!(
        source.hmac.as_ref().map(|h| h.encoding),
        Some(HmacEncoding::Base64)
    );
    assert_eq!(s.endpoints[0].event_types[0].as_str(), "*");
}

#[test]
fn unknown_keys_are_reported_not_fatal() {
    let toml = "[bus]\nbackedn = \"redis\"\n[mystery]\nx = 1\n";
    let loaded = load(Some(toml), &[]).unwrap();
    assert!(
        loaded.unknown_keys.contains(&"bus.backedn".to_owned()),
        "{:?}",
        loaded.unknown_keys
    );
    assert!(
        loaded.unknown_keys.contains(&"mystery".to_owned()),
        "{:?}",
        loaded.unknown_keys
    );
}

#[test]
fn missing_or_broken_files_are_clear_errors() {
    let missing = Settings::load(&Sources {
        file: Some("/nonexistent/switchyard.toml".into()),
        ..Sources::default()
    });
    assert!(matches!(missing, Err(SettingsError::File { .. })));
    let broken = load(Some("[bus\nbackend ="), &[]).unwrap_err();
    assert!(matches!(broken, SettingsError::File { .. }), "{broken}");
}

#[test]
fn secrets_never_reach_debug_output() {
    let toml = r#"
        [auth]
        jwt_hs256_secret = "0123456789abcdef0123456789abcdef-very-secret"
        [database]
        url = "postgres://app:hunter2@db/switchyard"
    "#;
    let s = load(Some(toml), &[]).unwrap().settings;
    let debug = format!("{s:?}");
    assert!(
        !debug.contains("very-secret") && !debug.contains("hunter2"),
        "{debug}"
    );
    assert!(
        s.auth
            .jwt_hs256_secret
            .expose_secret()
            .ends_with("very-secret")
    );
}

#[test]
fn otlp_endpoint_comes_from_the_standard_variable() {
    let s = load(
        None,
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")],
    )
    .unwrap()
    .settings;
    assert_eq!(
        s.telemetry.otlp_endpoint.as_deref(),
        Some("http://collector:4318")
    );
    assert_eq!(
        env_var_for("bus.kafka.brokers"),
        "SWITCHYARD__BUS__KAFKA__BROKERS"
    );
}
