//! Managing sources and endpoints through the real gateway: secrets generated, shown once and
//! sealed at rest; optimistic concurrency; every change enqueued for the config topic in the
//! write's own transaction; tenant isolation; bad input refused with the field named.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Gateway, admin, token};
use switchyard_auth::Scope;
use switchyard_testkit::unique_name;

#[tokio::test]
async fn an_endpoint_lives_through_create_read_replace_rotate_and_delete() {
    let gateway = Gateway::start(&[]).await;
    let acme = unique_name("acme");
    let ops = admin(&acme);

    let created = gateway
        .post(
            "/v1/endpoints",
            &ops,
            &json!({ "id": "orders", "url": "https://orders.example/hooks", "event_types": ["order.*"] }),
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 30,
        "{secret}"
    );
    assert_eq!(created.body["endpoint"]["version"], 1);
    assert_eq!(created.header("etag"), Some("\"1\""));

    // Shown once: reads never carry it, and the database holds it only sealed.
    let read = gateway.get("/v1/endpoints/orders", &ops).await;
    assert_eq!(read.status, 200);
    assert!(!read.body.to_string().contains(&secret[6..]), "{read:?}");
    assert_eq!(read.body["event_types"], json!(["order.*"]));
    let stored: Value = gateway
        .database
        .client()
        .await
        .query_one("SELECT spec FROM endpoints WHERE tenant = $1", &[&acme])
        .await
        .unwrap()
        .get(0);
    assert!(
        !stored.to_string().contains(&secret[6..]),
        "stored in the clear: {stored}"
    );
    assert!(
        stored["secret"].as_str().unwrap().starts_with("sealed:v1:"),
        "{stored}"
    );

    // Optimistic concurrency.
    let body = json!({ "url": "https://orders.example/v2", "paused": true });
    let stale = gateway
        .call(
            Method::PUT,
            "/v1/endpoints/orders",
            Some(&ops),
            Some(&body),
            &[("if-match", "\"7\"")],
        )
        .await;
    stale.assert_problem(409, "conflict");
    let replaced = gateway
        .call(
            Method::PUT,
            "/v1/endpoints/orders",
            Some(&ops),
            Some(&body),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(replaced.status, 200, "{replaced:?}");
    assert_eq!(replaced.body["paused"], true);
    assert_eq!(replaced.body["version"], 2);
    assert!(
        replaced.body.get("secret").is_none(),
        "a replace keeps the secret and does not show it"
    );

    let rotated = gateway
        .call(
            Method::POST,
            "/v1/endpoints/orders/rotate-secret",
            Some(&ops),
            None,
            &[],
        )
        .await;
    assert_eq!(rotated.status, 200, "{rotated:?}");
    let new_secret = rotated.body["secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    assert_eq!(
        rotated.body["endpoint"]["previous_secrets_expire_at"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let deleted = gateway
        .call(
            Method::DELETE,
            "/v1/endpoints/orders",
            Some(&ops),
            None,
            &[],
        )
        .await;
    assert_eq!(deleted.status, 204);
    gateway
        .get("/v1/endpoints/orders", &ops)
        .await
        .assert_problem(404, "not-found");
    gateway
        .call(
            Method::DELETE,
            "/v1/endpoints/orders",
            Some(&ops),
            None,
            &[],
        )
        .await
        .assert_problem(404, "not-found");

    // Every change went to the config topic's outbox, in order, keyed per entity.
    let key = format!("endpoint/{acme}/orders");
    assert_eq!(
        gateway.config_rows(&acme).await,
        [
            (
                "switchyard.config.endpoint.upserted".to_owned(),
                key.clone()
            ),
            (
                "switchyard.config.endpoint.upserted".to_owned(),
                key.clone()
            ),
            (
                "switchyard.config.endpoint.upserted".to_owned(),
                key.clone()
            ),
            ("switchyard.config.endpoint.deleted".to_owned(), key),
        ]
    );
    // Re-created, it continues above the deletion's version.
    let again = gateway
        .post(
            "/v1/endpoints",
            &ops,
            &json!({ "id": "orders", "url": "https://orders.example/hooks" }),
        )
        .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body["endpoint"]["version"], 5);
}

#[tokio::test]
async fn a_source_gets_a_generated_secret_or_keeps_the_providers_and_rotates_with_overlap() {
    let gateway = Gateway::start(&[]).await;
    let acme = unique_name("acme");
    let ops = admin(&acme);
    let generated = gateway
        .post(
            "/v1/sources",
            &ops,
            &json!({ "id": "razorpay", "provider": "razorpay", "rate_limit_per_sec": 50 }),
        )
        .await;
    assert_eq!(generated.status, 201, "{generated:?}");
    assert!(generated.body["secret"].is_string());
    assert_eq!(
        generated.body["source"]["webhook_path"],
        format!("/webhooks/{acme}/razorpay")
    );
    assert_eq!(
        generated.body["source"]["settings"]["rate_limit_per_sec"],
        50
    );
    assert_eq!(generated.body["source"]["secrets"], 1);

    let given = gateway
        .post(
            "/v1/sources",
            &ops,
            &json!({ "id": "stripe", "provider": "stripe", "secret": "whsec_from_stripe" }),
        )
        .await;
    assert_eq!(given.status, 201);
    assert!(
        given.body.get("secret").is_none(),
        "a provider-issued secret is not echoed"
    );
    gateway
        .post(
            "/v1/sources",
            &ops,
            &json!({ "id": "stripe", "provider": "stripe" }),
        )
        .await
        .assert_problem(409, "conflict");

    let rotated = gateway
        .call(
            Method::POST,
            "/v1/sources/stripe/rotate-secret",
            Some(&ops),
            Some(&json!({ "secret": "whsec_next" })),
            &[],
        )
        .await;
    assert_eq!(rotated.status, 200, "{rotated:?}");
    assert_eq!(
        rotated.body["source"]["secrets"], 2,
        "old and new verify during the rotation"
    );

    let hmac = gateway
        .call(
            Method::PUT,
            "/v1/sources/custom",
            Some(&ops),
            Some(&json!({ "provider": "hmac", "hmac": { "header": "X-Sig", "encoding": "hex" }, "transform": { "drop": ["/card"] } })),
            &[],
        )
        .await;
    assert_eq!(hmac.status, 201, "{hmac:?}");
    let listed = gateway.get("/v1/sources?limit=2", &ops).await;
    let ids: Vec<_> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["custom", "razorpay"]);
    let rest = gateway
        .get(
            &format!(
                "/v1/sources?limit=2&after={}",
                listed.body["next_cursor"].as_str().unwrap()
            ),
            &ops,
        )
        .await;
    assert_eq!(rest.body["data"][0]["id"], "stripe");
}

#[tokio::test]
async fn bad_sources_and_endpoints_are_refused_naming_the_field_and_nothing_is_written() {
    let gateway = Gateway::start(&[]).await;
    let acme = unique_name("acme");
    let ops = admin(&acme);
    let endpoints = [
        (json!({ "id": "a", "url": "http://plain.example/" }), "url"),
        (json!({ "id": "a", "url": "ftp://x.example/" }), "url"),
        (json!({ "id": "a", "url": "not a url" }), "url"),
        (
            json!({ "id": "a", "url": "https://x.example/", "event_types": ["pay*"] }),
            "event_types",
        ),
        (
            json!({ "id": "a", "url": "https://x.example/", "event_types": [] }),
            "event_types",
        ),
        (
            json!({ "id": "has space", "url": "https://x.example/" }),
            "id",
        ),
        (json!({ "url": "https://x.example/" }), "id"),
        (
            json!({ "id": "a", "url": "https://x.example/", "secret": "whsec_mine" }),
            "unknown field",
        ),
    ];
    for (body, field) in endpoints {
        let answer = gateway.post("/v1/endpoints", &ops, &body).await;
        answer.assert_problem(400, "invalid-request");
        assert!(
            answer.body["detail"].as_str().unwrap().contains(field),
            "{body}: {answer:?}"
        );
    }
    let sources = [
        (json!({ "id": "s", "provider": "paypal" }), "provider"),
        (json!({ "id": "s", "provider": "hmac" }), "hmac"),
        (
            json!({ "id": "s", "provider": "github", "allow_ips": ["10.0.0.0/33"] }),
            "allow_ips",
        ),
        (
            json!({ "id": "s", "provider": "github", "rate_limit_per_sec": 0 }),
            "rate_limit_per_sec",
        ),
        (
            json!({ "id": "s", "provider": "github", "transform": { "drop": ["card"] } }),
            "transform.drop",
        ),
    ];
    for (body, field) in sources {
        let answer = gateway.post("/v1/sources", &ops, &body).await;
        answer.assert_problem(400, "invalid-request");
        assert!(
            answer.body["detail"].as_str().unwrap().contains(field),
            "{body}: {answer:?}"
        );
    }
    let mismatch = gateway
        .call(
            Method::PUT,
            "/v1/endpoints/a",
            Some(&ops),
            Some(&json!({ "id": "b", "url": "https://x.example/" })),
            &[],
        )
        .await;
    mismatch.assert_problem(400, "invalid-request");
    assert!(
        gateway.config_rows(&acme).await.is_empty(),
        "nothing refused reached the outbox"
    );
}

#[tokio::test]
async fn another_tenant_and_tokens_without_admin_never_see_or_change_a_tenants_configuration() {
    let gateway = Gateway::start(&[]).await;
    let (acme, globex) = (unique_name("acme"), unique_name("globex"));
    let created = gateway
        .post(
            "/v1/endpoints",
            &admin(&acme),
            &json!({ "id": "orders", "url": "https://orders.example/" }),
        )
        .await;
    assert_eq!(created.status, 201);
    gateway
        .post(
            "/v1/sources",
            &admin(&acme),
            &json!({ "id": "gh", "provider": "github" }),
        )
        .await;

    let theirs = admin(&globex);
    for (method, path, body) in [
        (Method::GET, "/v1/endpoints/orders", None),
        (Method::DELETE, "/v1/endpoints/orders", None),
        (Method::POST, "/v1/endpoints/orders/rotate-secret", None),
        (
            Method::POST,
            "/v1/endpoints/orders/replay",
            Some(json!({ "since": "2026-01-01T00:00:00Z" })),
        ),
        (Method::GET, "/v1/sources/gh", None),
        (Method::DELETE, "/v1/sources/gh", None),
        (Method::POST, "/v1/sources/gh/rotate-secret", None),
        (
            Method::POST,
            "/v1/dlq/0190c0de-0000-7000-8000-000000000000/redrive",
            None,
        ),
        // Last: a PUT creates globex's own endpoint of that id; acme's stays untouched.
        (
            Method::PUT,
            "/v1/endpoints/orders",
            Some(json!({ "url": "https://evil.example/" })),
        ),
    ] {
        let answer = gateway
            .call(method.clone(), path, Some(&theirs), body.as_ref(), &[])
            .await;
        if method == Method::PUT {
            assert_eq!(answer.status, 201, "{path}: {answer:?}");
        } else {
            assert_eq!(answer.status, 404, "{method} {path}: {answer:?}");
            answer.assert_problem(404, "not-found");
        }
    }
    let listed = gateway.get("/v1/endpoints", &theirs).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
    let ours = gateway.get("/v1/endpoints/orders", &admin(&acme)).await;
    assert_eq!(ours.body["url"], "https://orders.example/");
    assert_eq!(ours.body["version"], 1);

    let gql = gateway
        .graphql(
            &theirs,
            r#"{ source(id: "gh") { id } endpoints { data { id url } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(gql.body["data"]["source"], Value::Null, "{gql:?}");
    assert_eq!(
        gql.body["data"]["endpoints"]["data"][0]["url"],
        "https://evil.example/"
    );

    // events:read and events:write do not manage configuration.
    let writer = token(&acme, &[Scope::EventsRead, Scope::EventsWrite]);
    gateway
        .get("/v1/endpoints", &writer)
        .await
        .assert_problem(403, "insufficient-scope");
    gateway
        .post(
            "/v1/sources",
            &writer,
            &json!({ "id": "x", "provider": "github" }),
        )
        .await
        .assert_problem(403, "insufficient-scope");
    gateway
        .get("/v1/dlq", &writer)
        .await
        .assert_problem(403, "insufficient-scope");
}

#[tokio::test]
async fn graphql_manages_endpoints_like_rest() {
    let gateway = Gateway::start(&[("SWITCHYARD__GATEWAY__ALLOW_HTTP_ENDPOINTS", "true")]).await;
    let acme = unique_name("acme");
    let ops = admin(&acme);
    let created = gateway
        .graphql(
            &ops,
            r#"mutation { createEndpoint(input: { id: "local", url: "http://127.0.0.1:9/hook", eventTypes: ["a.*"] }) { secret endpoint { id version eventTypes } } }"#,
            json!({}),
        )
        .await;
    assert!(created.body["errors"].is_null(), "{created:?}");
    assert!(
        created.body["data"]["createEndpoint"]["secret"]
            .as_str()
            .unwrap()
            .starts_with("whsec_")
    );
    let rest = gateway.get("/v1/endpoints/local", &ops).await;
    assert_eq!(rest.body["event_types"], json!(["a.*"]));
    assert_eq!(rest.body["url"], "http://127.0.0.1:9/hook");
    let gql = gateway
        .graphql(
            &ops,
            r#"{ endpoint(id: "local") { id url eventTypes paused version } }"#,
            json!({}),
        )
        .await;
    let e = &gql.body["data"]["endpoint"];
    assert_eq!(e["url"], rest.body["url"]);
    assert_eq!(e["version"], rest.body["version"]);
    let conflict = gateway
        .graphql(
            &ops,
            r#"mutation { replaceEndpoint(id: "local", ifVersion: 9, input: { url: "http://127.0.0.1:9/x" }) { version } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        conflict.body["errors"][0]["extensions"]["status"], 409,
        "{conflict:?}"
    );
    let deleted = gateway
        .graphql(
            &ops,
            r#"mutation { deleteEndpoint(id: "local") }"#,
            json!({}),
        )
        .await;
    assert_eq!(deleted.body["data"]["deleteEndpoint"], true);
    let again = gateway
        .graphql(
            &ops,
            r#"mutation { deleteEndpoint(id: "local") }"#,
            json!({}),
        )
        .await;
    assert_eq!(again.body["data"]["deleteEndpoint"], false);
}
