//! The real gateway binary on a database of its own: publishing through the outbox with
//! idempotency, searching and reading events, tenant isolation on every route, refused
//! tokens and bodies, rate limits, and GraphQL answering what REST answers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Gateway, admin, event, token};
use switchyard_auth::Scope;
use switchyard_testkit::{jwt, unique_name};

#[tokio::test]
async fn a_publish_is_stored_once_per_idempotency_key_and_refused_without_write_scope() {
    let gateway = Gateway::start(&[]).await;
    let acme = unique_name("acme");
    let writer = token(&acme, &[Scope::EventsWrite]);
    let body = json!({ "type": "order.created", "subject": "ord_1", "data": { "total": 42 } });

    let first = gateway
        .call(
            Method::POST,
            "/v1/events",
            Some(&writer),
            Some(&body),
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(first.status, 202, "{first:?}");
    assert_eq!(first.body["duplicate"], false);
    let id = first.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("evt_"), "{id}");

    let again = gateway
        .call(
            Method::POST,
            "/v1/events",
            Some(&writer),
            Some(&body),
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(again.status, 202, "{again:?}");
    assert_eq!(again.body["id"], id.as_str());
    assert_eq!(again.body["duplicate"], true);

    let other = gateway.post("/v1/events", &writer, &body).await;
    assert_eq!(other.status, 202, "{other:?}");
    assert_ne!(other.body["id"], id.as_str());
    assert_eq!(gateway.outbox_rows(&acme).await, 2);

    // The same key in another tenant is another event.
    let globex = unique_name("globex");
    let theirs = gateway
        .call(
            Method::POST,
            "/v1/events",
            Some(&token(&globex, &[Scope::EventsWrite])),
            Some(&body),
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(theirs.status, 202);
    assert_ne!(theirs.body["id"], id.as_str());

    let reader = token(&acme, &[Scope::EventsRead]);
    gateway
        .post("/v1/events", &reader, &body)
        .await
        .assert_problem(403, "insufficient-scope");
    assert_eq!(
        gateway.outbox_rows(&acme).await,
        2,
        "a refused publish stores nothing"
    );
}

#[tokio::test]
async fn many_concurrent_publishes_share_commits_and_each_gets_its_own_answer() {
    let gateway = std::sync::Arc::new(Gateway::start(&[]).await);
    let acme = unique_name("acme");
    let writer = token(&acme, &[Scope::EventsWrite]);
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..300 {
        let (gateway, writer) = (gateway.clone(), writer.clone());
        tasks.spawn(async move {
            let key = format!("key-{}", n % 200);
            let body = json!({ "type": "load.test", "data": { "n": n } });
            gateway
                .call(
                    Method::POST,
                    "/v1/events",
                    Some(&writer),
                    Some(&body),
                    &[("idempotency-key", &key)],
                )
                .await
        });
    }
    let mut ids = std::collections::HashMap::new();
    while let Some(answer) = tasks.join_next().await {
        let answer = answer.unwrap();
        assert_eq!(answer.status, 202, "{answer:?}");
        *ids.entry(answer.body["id"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    assert_eq!(ids.len(), 200, "one event per key");
    assert_eq!(gateway.outbox_rows(&acme).await, 200);
}

#[tokio::test]
async fn bad_bodies_are_refused_with_a_problem_naming_the_field() {
    let gateway = Gateway::start(&[("SWITCHYARD__GATEWAY__MAX_BODY_BYTES", "2048")]).await;
    let acme = unique_name("acme");
    let writer = token(&acme, &[Scope::EventsWrite]);
    let cases = [
        (json!({ "type": "bad type!", "data": {} }), "type"),
        (
            json!({ "type": "a.b", "data": {}, "tenant": "other" }),
            "unknown field",
        ),
        (json!({ "data": {} }), "type"),
        (json!({ "type": 7 }), "invalid type"),
        (json!({ "type": "a.b", "subject": "" }), "subject"),
    ];
    for (body, needle) in cases {
        let answer = gateway.post("/v1/events", &writer, &body).await;
        answer.assert_problem(400, "invalid-request");
        let detail = answer.body["detail"].as_str().unwrap();
        assert!(detail.contains(needle), "{body}: {detail}");
    }
    gateway
        .post_raw(
            "/v1/events",
            &writer,
            "application/json",
            b"{\"type\": ".to_vec(),
        )
        .await
        .assert_problem(400, "invalid-request");
    gateway
        .post_raw("/v1/events", &writer, "text/plain", b"hello".to_vec())
        .await
        .assert_problem(400, "invalid-request");
    let big = json!({ "type": "a.b", "data": "x".repeat(4096) });
    gateway
        .post("/v1/events", &writer, &big)
        .await
        .assert_problem(413, "body-too-large");
    gateway
        .call(
            Method::POST,
            "/v1/events",
            Some(&writer),
            Some(&json!({ "type": "a.b" })),
            &[("idempotency-key", &"k".repeat(300))],
        )
        .await
        .assert_problem(400, "invalid-request");
    assert_eq!(
        gateway.outbox_rows(&acme).await,
        0,
        "nothing refused was stored"
    );
}

#[tokio::test]
async fn missing_expired_forged_and_unsigned_tokens_are_refused_on_every_route() {
    let gateway = Gateway::start(&[]).await;
    let acme = unique_name("acme");
    let now = jwt::now();
    let claims =
        |exp: i64| json!({ "tenant": acme, "scope": "admin", "iat": now - 60, "exp": exp });
    let hs256 = json!({ "alg": "HS256", "typ": "JWT" });
    let bad_tokens = [
        (
            "expired",
            jwt::forge(&hs256, &claims(now - 120), Some(support::SECRET)),
        ),
        (
            "forged",
            jwt::forge(
                &hs256,
                &claims(now + 600),
                Some("another secret of at least 32 bytes!"),
            ),
        ),
        (
            "alg none",
            jwt::forge(&json!({ "alg": "none" }), &claims(now + 600), None),
        ),
        (
            "HS512",
            jwt::forge(
                &json!({ "alg": "HS512" }),
                &claims(now + 600),
                Some(support::SECRET),
            ),
        ),
        ("garbage", "not.a.token".to_owned()),
    ];
    let routes = [
        (Method::POST, "/v1/events", Some(json!({ "type": "a.b" }))),
        (Method::GET, "/v1/events", None),
        (Method::GET, "/v1/events/evt_1", None),
        (Method::GET, "/v1/events/evt_1/deliveries", None),
        (
            Method::POST,
            "/graphql",
            Some(json!({ "query": "{ events { nextCursor } }" })),
        ),
    ];
    for (method, path, body) in &routes {
        let missing = gateway
            .call(method.clone(), path, None, body.as_ref(), &[])
            .await;
        missing.assert_problem(401, "missing-token");
        assert!(
            missing.header("www-authenticate").is_some(),
            "{path}: {missing:?}"
        );
        for (what, bad) in &bad_tokens {
            let answer = gateway
                .call(method.clone(), path, Some(bad), body.as_ref(), &[])
                .await;
            assert_eq!(
                answer.status, 401,
                "{what} token on {method} {path}: {answer:?}"
            );
        }
    }
    assert_eq!(gateway.outbox_rows(&acme).await, 0);
}

#[tokio::test]
async fn searches_page_through_one_tenant_only_and_other_tenants_events_are_not_found() {
    let gateway = Gateway::start(&[]).await;
    let (acme, globex) = (unique_name("acme"), unique_name("globex"));
    let mut events: Vec<_> = (0..25)
        .map(|n| {
            event(
                &acme,
                if n % 2 == 0 {
                    "order.created"
                } else {
                    "payment.captured"
                },
                n,
                i64::from(n),
            )
        })
        .collect();
    events.push(event(&globex, "order.created", 100, 5));
    gateway.store_events(&events).await;
    let reader = token(&acme, &[Scope::EventsRead]);

    // Newest first, 10 at a time, every event once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/v1/events?limit=10".to_owned(),
            Some(c) => format!("/v1/events?limit=10&cursor={c}"),
        };
        let page = gateway.get(&path, &reader).await;
        assert_eq!(page.status, 200, "{page:?}");
        for e in page.body["data"].as_array().unwrap() {
            assert_eq!(e["tenant"], acme.as_str());
            seen.push(e["data"]["n"].as_u64().unwrap());
        }
        cursor = page.body["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, (0..25).rev().collect::<Vec<_>>());

    let filtered = gateway
        .get("/v1/events?type=payment.*&order=oldest&limit=3", &reader)
        .await;
    let ns: Vec<_> = filtered.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(ns, [1, 3, 5]);
    let by_subject = gateway
        .get(
            "/v1/events?subject=sub_0&since=2026-01-01T00:00:03Z&until=2026-01-01T00:00:10Z",
            &reader,
        )
        .await;
    let ns: Vec<_> = by_subject.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(ns, [9, 6, 3]);

    let mine = gateway
        .get(&format!("/v1/events/evt_{acme}_3"), &reader)
        .await;
    assert_eq!(mine.status, 200, "{mine:?}");
    assert_eq!(mine.body["type"], "payment.captured");
    assert_eq!(mine.body["specversion"], "1.0");
    let deliveries = gateway
        .get(&format!("/v1/events/evt_{acme}_3/deliveries"), &reader)
        .await;
    assert_eq!(deliveries.status, 200);
    assert_eq!(deliveries.body, json!([]));

    // Another tenant's event does not exist for this token, by id or by search.
    let theirs = format!("evt_{globex}_100");
    gateway
        .get(&format!("/v1/events/{theirs}"), &reader)
        .await
        .assert_problem(404, "not-found");
    gateway
        .get(&format!("/v1/events/{theirs}/deliveries"), &reader)
        .await
        .assert_problem(404, "not-found");
    let gql = gateway
        .graphql(
            &reader,
            "query($id: String!) { event(id: $id) { id } }",
            json!({ "id": theirs }),
        )
        .await;
    assert_eq!(gql.body["data"]["event"], Value::Null, "{gql:?}");

    for bad in [
        "type=pay*",
        "limit=0",
        "limit=5000",
        "cursor=bogus",
        "order=sideways",
        "since=yesterday",
        "colour=red",
        "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
    ] {
        gateway
            .get(&format!("/v1/events?{bad}"), &reader)
            .await
            .assert_problem(400, "invalid-request");
    }
}

#[tokio::test]
async fn graphql_returns_what_rest_returns_within_its_limits() {
    let gateway = Gateway::start(&[("SWITCHYARD__GATEWAY__GRAPHQL_MAX_DEPTH", "3")]).await;
    let acme = unique_name("acme");
    let events: Vec<_> = (0..5)
        .map(|n| event(&acme, "order.created", n, i64::from(n)))
        .collect();
    gateway.store_events(&events).await;
    let reader = admin(&acme);

    let rest = gateway.get("/v1/events?limit=5", &reader).await;
    let gql = gateway
        .graphql(
            &reader,
            "{ events(query: { limit: 5 }) { nextCursor data { specversion id source type subject time tenant datacontenttype data } } }",
            json!({}),
        )
        .await;
    assert_eq!(gql.status, 200, "{gql:?}");
    assert!(gql.body["errors"].is_null(), "{gql:?}");
    let rest_events = rest.body["data"].as_array().unwrap();
    let gql_events = gql.body["data"]["events"]["data"].as_array().unwrap();
    assert_eq!(rest_events.len(), 5);
    for (r, g) in rest_events.iter().zip(gql_events) {
        for field in [
            "id",
            "source",
            "type",
            "subject",
            "tenant",
            "datacontenttype",
            "data",
            "specversion",
        ] {
            assert_eq!(r[field], g[field], "{field}");
        }
        let (rt, gt) = (r["time"].as_str().unwrap(), g["time"].as_str().unwrap());
        assert_eq!(
            chrono::DateTime::parse_from_rfc3339(rt).unwrap(),
            chrono::DateTime::parse_from_rfc3339(gt).unwrap()
        );
    }

    let published = gateway
        .graphql(
            &reader,
            r#"mutation { publish(input: { type: "order.shipped", data: { id: 1 } }, idempotencyKey: "g-1") { id duplicate } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        published.body["data"]["publish"]["duplicate"], false,
        "{published:?}"
    );
    let again = gateway
        .call(
            Method::POST,
            "/v1/events",
            Some(&reader),
            Some(&json!({ "type": "order.shipped", "data": { "id": 1 } })),
            &[("idempotency-key", "g-1")],
        )
        .await;
    assert_eq!(
        again.body["id"], published.body["data"]["publish"]["id"],
        "REST and GraphQL share idempotency"
    );
    assert_eq!(again.body["duplicate"], true);

    let too_deep = gateway
        .graphql(
            &reader,
            "{ events { data { deliveries { attemptId } } } }",
            json!({}),
        )
        .await;
    assert!(
        too_deep.body["errors"]
            .to_string()
            .contains("nested too deep"),
        "{too_deep:?}"
    );

    let refused = gateway
        .graphql(
            &token(&acme, &[Scope::EventsRead]),
            r#"mutation { publish(input: { type: "a.b" }) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        refused.body["errors"][0]["extensions"]["status"], 403,
        "{refused:?}"
    );
    assert_eq!(gateway.outbox_rows(&acme).await, 1);
}

#[tokio::test]
async fn a_tenant_over_its_budget_gets_429_with_retry_after_while_others_pass() {
    let gateway = Gateway::start(&[
        ("SWITCHYARD__GATEWAY__RATE_LIMIT_PER_SEC", "1"),
        ("SWITCHYARD__GATEWAY__RATE_LIMIT_BURST", "3"),
    ])
    .await;
    let (acme, globex) = (unique_name("acme"), unique_name("globex"));
    let reader = token(&acme, &[Scope::EventsRead]);
    let first = gateway.get("/v1/events", &reader).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("ratelimit-limit"), Some("3"));
    assert_eq!(first.header("ratelimit-remaining"), Some("2"));
    assert!(first.header("ratelimit-policy").is_some());
    gateway.get("/v1/events", &reader).await;
    gateway.get("/v1/events", &reader).await;
    let limited = gateway.get("/v1/events", &reader).await;
    limited.assert_problem(429, "rate-limited");
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(
        gateway
            .get("/v1/events", &token(&globex, &[Scope::EventsRead]))
            .await
            .status,
        200,
        "another tenant has its own budget"
    );
}

#[tokio::test]
async fn the_openapi_document_is_public_and_describes_the_routes() {
    let gateway = Gateway::start(&[]).await;
    let (status, body) = gateway.binary.get("/openapi.json").await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    for path in [
        "/v1/events",
        "/v1/events/{id}",
        "/v1/events/{id}/deliveries",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let (status, page) = gateway.binary.get("/graphql").await;
    assert_eq!(status, 200);
    assert!(page.contains("graphiql"), "GraphiQL on GET /graphql");
}

#[tokio::test]
async fn with_a_read_replica_searches_read_it_and_publishes_write_the_primary() {
    // A stand-in replica: a second database with the same schema. Events only it holds are
    // what searches must find; the outbox row of a publish must land in the primary.
    let replica = switchyard_testkit::postgres::TestDatabase::create().await;
    let replica_store =
        switchyard_store::Store::connect(&switchyard_runtime::settings::DatabaseSettings {
            url: replica.url.clone().into(),
            ..Default::default()
        })
        .await
        .unwrap();
    replica_store.migrate().await.unwrap();
    let gateway = Gateway::start(&[("SWITCHYARD__DATABASE__READ_URL", replica.url.as_str())]).await;
    let acme = unique_name("acme");
    replica_store
        .insert_events(&[event(&acme, "replica.only", 1, 1)])
        .await
        .unwrap();
    gateway
        .store_events(&[event(&acme, "primary.only", 2, 2)])
        .await;

    let ops = admin(&acme);
    let found = gateway.get("/v1/events", &ops).await;
    let types: Vec<_> = found.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].clone())
        .collect();
    assert_eq!(types, [json!("replica.only")], "{found:?}");
    assert_eq!(
        gateway
            .get(&format!("/v1/events/evt_{acme}_1"), &ops)
            .await
            .status,
        200
    );

    let published = gateway
        .post("/v1/events", &ops, &json!({ "type": "a.b" }))
        .await;
    assert_eq!(published.status, 202);
    assert_eq!(
        gateway.outbox_rows(&acme).await,
        1,
        "the write went to the primary"
    );
}
