//! `POST /webhooks/{tenant}/{source}` against the real binary on a Kafka-protocol broker: what
//! is accepted lands on the raw topic byte for byte; everything else gets the right problem
//! and lands nowhere.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use support::{
    Ingest, client, expect_accepted, expect_problem, hmac_sha256, post_razorpay, raw_exchange,
    razorpay_signature, source,
};

const SECRET: &str = "rzp_webhook_secret";

fn razorpay_config(extra: &str) -> String {
    source("acme", "razorpay", "razorpay", &[SECRET], extra)
}

#[tokio::test]
async fn a_signed_webhook_is_acknowledged_only_with_its_exact_bytes_on_the_raw_topic() {
    let ingest = Ingest::start(&razorpay_config("")).await;
    let mut reader = ingest.raw_reader().await;
    // Not UTF-8 and not JSON: we never reparse what we verify.
    let body: &[u8] = b"{\"event\":\"payment.captured\",\"raw\":\"\xff\xfe\x00\x01\"}";
    let response = post_razorpay(&ingest.url("acme", "razorpay"), SECRET, "evt_rzp_1", body).await;
    let (id, duplicate) = expect_accepted(response).await;
    assert!(!duplicate);

    let (key, raw) = reader.next().await;
    assert_eq!(
        key.as_deref(),
        Some(&b"acme"[..]),
        "record key is the tenant"
    );
    assert_eq!(&raw.body[..], body, "exact body bytes");
    assert_eq!(raw.event_id, id);
    assert_eq!(raw.tenant, "acme");
    assert_eq!(raw.source, "razorpay");
    assert_eq!(raw.provider, "razorpay");
    assert_eq!(raw.delivery_id, "evt_rzp_1");
    assert_eq!(raw.remote_ip, "127.0.0.1");
    let received = raw.received_at.expect("received_at");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (now - received.seconds).abs() < 60,
        "received_at {received:?}"
    );
    let header = |name: &str| {
        raw.headers
            .iter()
            .find(|h| h.name == name)
            .map(|h| h.value.to_vec())
    };
    assert_eq!(
        header("content-type").as_deref(),
        Some(&b"application/json"[..])
    );
    assert_eq!(
        header("x-razorpay-event-id").as_deref(),
        Some(&b"evt_rzp_1"[..])
    );
    assert_eq!(
        header("x-razorpay-signature"),
        None,
        "signatures are settled at ingest"
    );

    let metrics = ingest.metrics().await;
    assert!(
        metrics.contains(r#"switchyard_ingest_webhooks_total{tenant="acme",source="razorpay",outcome="accepted"} 1"#),
        "{metrics}"
    );
    reader.expect_no_more(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_repeated_delivery_answers_the_same_id_and_is_published_once() {
    let ingest = Ingest::start(&razorpay_config("")).await;
    let mut reader = ingest.raw_reader().await;
    let url = ingest.url("acme", "razorpay");
    let (first, _) =
        expect_accepted(post_razorpay(&url, SECRET, "evt_dup", b"{\"a\":1}").await).await;
    let (again, duplicate) =
        expect_accepted(post_razorpay(&url, SECRET, "evt_dup", b"{\"a\":1}").await).await;
    assert_eq!(first, again);
    assert!(duplicate, "the repeat says it is a duplicate");
    let (other, _) =
        expect_accepted(post_razorpay(&url, SECRET, "evt_other", b"{\"a\":1}").await).await;
    assert_ne!(first, other, "another delivery id is another event");

    assert_eq!(reader.next().await.1.event_id, first);
    assert_eq!(reader.next().await.1.event_id, other);
    reader.expect_no_more(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn missing_and_forged_signatures_are_rejected_with_401() {
    let ingest = Ingest::start(&razorpay_config("")).await;
    let mut reader = ingest.raw_reader().await;
    let url = ingest.url("acme", "razorpay");
    let body = b"{\"event\":\"payment.captured\"}";

    let missing = client()
        .post(&url)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let problem = expect_problem(missing, 401, "invalid-signature").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("x-razorpay-signature"),
        "{problem}"
    );

    let forged = client()
        .post(&url)
        .header(
            "x-razorpay-signature",
            razorpay_signature("not-the-secret", body),
        )
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    expect_problem(forged, 401, "invalid-signature").await;

    let tampered = client()
        .post(&url)
        .header("x-razorpay-signature", razorpay_signature(SECRET, body))
        .body(b"{\"event\":\"payment.refunded\"}".to_vec())
        .send()
        .await
        .unwrap();
    expect_problem(tampered, 401, "invalid-signature").await;

    let not_hex = client()
        .post(&url)
        .header("x-razorpay-signature", "zz-not-hex")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    expect_problem(not_hex, 401, "invalid-signature").await;
    reader.expect_no_more(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn expired_and_future_standard_webhooks_timestamps_are_rejected_with_401() {
    let key = b"0123456789abcdef0123456789abcdef";
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    );
    let config = source("acme", "svix", "standard-webhooks", &[&secret], "");
    let ingest = Ingest::start(&config).await;
    let mut reader = ingest.raw_reader().await;
    let url = ingest.url("acme", "svix");
    let body = b"{\"type\":\"invoice.paid\"}";
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let post = |timestamp: i64, id: &'static str| {
        let signature = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(
            key,
            &[
                id.as_bytes(),
                b".",
                timestamp.to_string().as_bytes(),
                b".",
                body,
            ],
        ));
        client()
            .post(&url)
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", format!("v1,{signature}"))
            .body(body.to_vec())
            .send()
    };
    expect_problem(
        post(now - 3_600, "msg_old").await.unwrap(),
        401,
        "invalid-signature",
    )
    .await;
    expect_problem(
        post(now + 3_600, "msg_future").await.unwrap(),
        401,
        "invalid-signature",
    )
    .await;
    let (id, _) = expect_accepted(post(now - 10, "msg_fresh").await.unwrap()).await;
    let raw = reader.next().await.1;
    assert_eq!(raw.event_id, id);
    assert_eq!(raw.delivery_id, "msg_fresh");
    reader.expect_no_more(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn during_rotation_both_secrets_verify_and_a_removed_secret_stops_verifying() {
    let rotating = source(
        "acme",
        "razorpay",
        "razorpay",
        &["new-secret", "old-secret"],
        "",
    );
    let ingest = Ingest::start(&rotating).await;
    let url = ingest.url("acme", "razorpay");
    expect_accepted(post_razorpay(&url, "old-secret", "evt_r1", b"{}").await).await;
    expect_accepted(post_razorpay(&url, "new-secret", "evt_r2", b"{}").await).await;
    drop(ingest);

    let rotated = source("acme", "razorpay", "razorpay", &["new-secret"], "");
    let ingest = Ingest::start(&rotated).await;
    let url = ingest.url("acme", "razorpay");
    let stale = post_razorpay(&url, "old-secret", "evt_r3", b"{}").await;
    expect_problem(stale, 401, "invalid-signature").await;
    expect_accepted(post_razorpay(&url, "new-secret", "evt_r4", b"{}").await).await;
}

#[tokio::test]
async fn unknown_tenants_and_sources_get_404_and_wrong_methods_405() {
    let ingest = Ingest::start(&razorpay_config("")).await;
    ingest.wait_ready().await;
    let body = b"{}";
    let unknown_source = post_razorpay(&ingest.url("acme", "stripe"), SECRET, "e1", body).await;
    expect_problem(unknown_source, 404, "unknown-source").await;
    let unknown_tenant = post_razorpay(&ingest.url("globex", "razorpay"), SECRET, "e2", body).await;
    expect_problem(unknown_tenant, 404, "unknown-source").await;
    let get = client()
        .get(ingest.url("acme", "razorpay"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 405);
    let metrics = ingest.metrics().await;
    assert!(
        metrics.contains(r#"switchyard_ingest_webhooks_total{tenant="unknown",source="unknown",outcome="unknown_source"} 2"#),
        "unknown URLs are counted without minting labels: {metrics}"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413_before_it_is_read_whole() {
    let ingest = Ingest::start(&razorpay_config("max_body_bytes = 1024")).await;
    let url = ingest.url("acme", "razorpay");
    let big = vec![b'x'; 1025];
    expect_problem(
        post_razorpay(&url, SECRET, "big1", &big).await,
        413,
        "body-too-large",
    )
    .await;

    // A declared 1 GiB body: the answer comes after a handful of bytes, not after a gigabyte.
    let head = format!(
        "POST /webhooks/acme/razorpay HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nx-razorpay-signature: 00\r\n\r\nxxxx",
        1u64 << 30
    );
    let answer = raw_exchange(&ingest.addr(), head.as_bytes(), Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "answer: {answer:?}");

    // No length declared (chunked): refused as soon as the chunks pass the limit.
    let mut chunked = b"POST /webhooks/acme/razorpay HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nx-razorpay-signature: 00\r\n\r\n".to_vec();
    for _ in 0..3 {
        chunked.extend_from_slice(b"200\r\n");
        chunked.extend_from_slice(&[b'y'; 0x200]);
        chunked.extend_from_slice(b"\r\n");
    }
    let answer = raw_exchange(&ingest.addr(), &chunked, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "answer: {answer:?}");
}

#[tokio::test]
async fn a_body_trickled_slower_than_the_deadline_gets_408() {
    let ingest = Ingest::start_with(
        &razorpay_config(""),
        &switchyard_testkit::infra::kafka_brokers(),
        &switchyard_testkit::unique_name("ingest"),
        &[("SWITCHYARD__INGEST__BODY_TIMEOUT_SECS", "1")],
    )
    .await;
    let head = b"POST /webhooks/acme/razorpay HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nx-razorpay-signature: 00\r\n\r\n5\r\nhello\r\n";
    let started = std::time::Instant::now();
    let answer = raw_exchange(&ingest.addr(), head, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "answer: {answer:?}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "cut off near the deadline"
    );
}

#[tokio::test]
async fn an_address_outside_the_allowlist_gets_403_and_so_does_a_spoofed_forwarded_for() {
    let config = razorpay_config(r#"allow_ips = ["10.0.0.0/8", "2001:db8::/32"]"#);
    let ingest = Ingest::start(&config).await;
    let url = ingest.url("acme", "razorpay");
    let body = b"{}";
    expect_problem(
        post_razorpay(&url, SECRET, "ip1", body).await,
        403,
        "ip-not-allowed",
    )
    .await;

    // 127.0.0.1 is not a trusted proxy, so its claim to be 10.1.2.3 is ignored.
    let spoofed = client()
        .post(&url)
        .header("x-razorpay-signature", razorpay_signature(SECRET, body))
        .header("x-forwarded-for", "10.1.2.3")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    expect_problem(spoofed, 403, "ip-not-allowed").await;
}

#[tokio::test]
async fn a_trusted_proxy_is_believed_about_the_client_address() {
    let config = format!(
        "[ingest]\ntrusted_proxies = [\"127.0.0.0/8\"]\n{}",
        razorpay_config(r#"allow_ips = ["10.0.0.0/8"]"#)
    );
    let ingest = Ingest::start(&config).await;
    let mut reader = ingest.raw_reader().await;
    let url = ingest.url("acme", "razorpay");
    let body = b"{}";
    let post = |forwarded: &'static str, id: &'static str| {
        client()
            .post(&url)
            .header("x-razorpay-signature", razorpay_signature(SECRET, body))
            .header("x-razorpay-event-id", id)
            .header("x-forwarded-for", forwarded)
            .body(body.to_vec())
            .send()
    };
    expect_accepted(post("203.0.113.50, 10.1.2.3", "xff1").await.unwrap()).await;
    assert_eq!(reader.next().await.1.remote_ip, "10.1.2.3");
    // The client cannot slip an allowed address in to the left of its own.
    expect_problem(
        post("10.1.2.3, 203.0.113.50", "xff2").await.unwrap(),
        403,
        "ip-not-allowed",
    )
    .await;
}

#[tokio::test]
async fn a_burst_over_the_source_rate_gets_429_with_retry_after() {
    let ingest = Ingest::start(&razorpay_config("rate_limit_per_sec = 3")).await;
    let url = ingest.url("acme", "razorpay");
    let mut accepted = 0;
    let mut limited = None;
    for i in 0..10 {
        let response = post_razorpay(&url, SECRET, &format!("burst{i}"), b"{}").await;
        if response.status().as_u16() == 202 {
            accepted += 1;
        } else {
            limited = Some(response);
            break;
        }
    }
    assert_eq!(accepted, 3, "the burst allowance is one second's worth");
    let limited = limited.expect("the fourth request is limited");
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry_after, 1, "the next request passes within a second");
    expect_problem(limited, 429, "rate-limited").await;
}

#[tokio::test]
async fn a_client_over_its_own_budget_gets_429_on_any_url() {
    let config = format!("[ingest]\nrate_limit_per_ip = 2\n{}", razorpay_config(""));
    let ingest = Ingest::start(&config).await;
    ingest.wait_ready().await;
    let url = ingest.url("nobody", "nothing");
    expect_problem(
        post_razorpay(&url, SECRET, "a", b"{}").await,
        404,
        "unknown-source",
    )
    .await;
    expect_problem(
        post_razorpay(&url, SECRET, "b", b"{}").await,
        404,
        "unknown-source",
    )
    .await;
    let limited = post_razorpay(&ingest.url("acme", "razorpay"), SECRET, "c", b"{}").await;
    expect_problem(limited, 429, "rate-limited").await;
}

/// Each provider's scheme on the real binary, and the delivery id each one keys on.
#[tokio::test]
async fn every_provider_is_verified_and_keyed_by_its_own_delivery_id() {
    let config = [
        source("acme", "stripe", "stripe", &["whsec_stripe"], ""),
        source("acme", "github", "github", &["gh-secret"], ""),
        source("acme", "shopify", "shopify", &["shpss_secret"], ""),
        source(
            "acme",
            "custom",
            "hmac",
            &["custom-secret"],
            r#"hmac = { header = "X-Signature", encoding = "base64", prefix = "sha256=", id_header = "X-Delivery" }"#,
        ),
    ]
    .concat();
    let ingest = Ingest::start(&config).await;
    let mut reader = ingest.raw_reader().await;
    let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(bytes);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();

    let stripe_body = br#"{"id":"evt_1Stripe","type":"payment_intent.succeeded"}"#;
    let stripe_signature = hex::encode(hmac_sha256(
        b"whsec_stripe",
        &[now.as_bytes(), b".", stripe_body],
    ));
    let stripe = client()
        .post(ingest.url("acme", "stripe"))
        .header("stripe-signature", format!("t={now},v1={stripe_signature}"))
        .body(stripe_body.to_vec());
    let github_body = br#"{"zen":"Keep it logically awesome."}"#;
    let github = client()
        .post(ingest.url("acme", "github"))
        .header("x-github-event", "ping")
        .header("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
        .header(
            "x-hub-signature-256",
            format!(
                "sha256={}",
                hex::encode(hmac_sha256(b"gh-secret", &[github_body]))
            ),
        )
        .body(github_body.to_vec());
    let shopify_body = br#"{"id":820982911946154508}"#;
    let shopify = client()
        .post(ingest.url("acme", "shopify"))
        .header("x-shopify-topic", "orders/create")
        .header(
            "x-shopify-webhook-id",
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        )
        .header(
            "x-shopify-hmac-sha256",
            b64(hmac_sha256(b"shpss_secret", &[shopify_body])),
        )
        .body(shopify_body.to_vec());
    let custom_body = b"plain text, not JSON";
    let custom = client()
        .post(ingest.url("acme", "custom"))
        .header("x-delivery", "d-42")
        .header(
            "x-signature",
            format!(
                "sha256={}",
                b64(hmac_sha256(b"custom-secret", &[custom_body]))
            ),
        )
        .body(custom_body.to_vec());

    let mut expected = Vec::new();
    for (request, delivery_id) in [
        (stripe, "evt_1Stripe"),
        (github, "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        (shopify, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"),
        (custom, "d-42"),
    ] {
        let retry = request.try_clone().unwrap();
        let (id, _) = expect_accepted(request.send().await.unwrap()).await;
        let (again, duplicate) = expect_accepted(retry.send().await.unwrap()).await;
        assert_eq!(
            (again.as_str(), duplicate),
            (id.as_str(), true),
            "{delivery_id} repeats as itself"
        );
        expected.push((id, delivery_id));
    }
    for (id, delivery_id) in expected {
        let raw = reader.next().await.1;
        assert_eq!(
            (raw.event_id.as_str(), raw.delivery_id.as_str()),
            (id.as_str(), delivery_id)
        );
    }
    reader.expect_no_more(Duration::from_secs(1)).await;

    // A malformed header of each kind is a clear 401, never a 500.
    for (source_id, header, value) in [
        ("stripe", "stripe-signature", "garbage"),
        ("github", "x-hub-signature-256", "sha1=abc"),
        ("shopify", "x-shopify-hmac-sha256", "%%%"),
        ("custom", "x-signature", "md5=abc"),
    ] {
        let response = client()
            .post(ingest.url("acme", source_id))
            .header(header, value)
            .body("{}")
            .send()
            .await
            .unwrap();
        expect_problem(response, 401, "invalid-signature").await;
    }
}

#[tokio::test]
async fn an_unknown_source_gets_503_while_the_run_time_sources_are_loading() {
    // No broker: the config topic cannot be read, so the run-time sources never finish
    // loading. A source missing now may be one created through the API: retry, not 404.
    let ingest = Ingest::start_with(
        &razorpay_config(""),
        "127.0.0.1:1",
        &switchyard_testkit::unique_name("ingest"),
        &[],
    )
    .await;
    let answer = post_razorpay(&ingest.url("acme", "created-by-api"), SECRET, "e1", b"{}").await;
    assert_eq!(
        answer
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    expect_problem(answer, 503, "sources-loading").await;
}
