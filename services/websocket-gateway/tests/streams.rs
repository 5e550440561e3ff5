//! The real gateway on a Kafka-protocol broker with real WebSocket and SSE clients: order and
//! completeness per filter, tenant isolation, refused tokens, resume and gaps, subscription
//! changes and `sub`-scoped tokens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{
    Stage, claims,
    clients::{Auth, SseClient, WsClient, numbers},
    event, raw_token, token, token_with,
};
use switchyard_auth::Scopes;
use switchyard_testkit::unique_name;

const HOUR: Duration = Duration::from_secs(3600);
const WAIT: Duration = Duration::from_secs(30);

fn ids_of(messages: &[support::clients::SseMessage]) -> Vec<u64> {
    messages
        .iter()
        .filter(|m| m.id.is_some())
        .map(|m| m.data["data"]["n"].as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_clients_with_different_filters_get_every_matching_event_in_order() {
    let stage = Stage::new(3).await;
    let gateway = stage.start(&[]).await;
    let acme = unique_name("acme");
    let globex = unique_name("globex");
    let acme_token = token(&acme, None, HOUR);

    let mut everything = gateway.ws("", &Auth::Header(acme_token.clone())).await;
    let mut payments = gateway
        .ws("types=pay.*", &Auth::Query(acme_token.clone()))
        .await;
    let mut orders_of_one_subject = SseClient::connect(
        gateway.http_url(),
        "types=order.created,order.paid&subject=sub_1",
        &Auth::Header(acme_token),
        None,
    )
    .await
    .unwrap();

    let types = [
        "pay.captured",
        "pay.refund.created",
        "order.created",
        "misc",
    ];
    let mut events = Vec::new();
    for n in 0..300 {
        events.push(event(&acme, types[n % types.len()], n));
        if n % 3 == 0 {
            events.push(event(&globex, "pay.captured", n));
        }
    }
    stage.publish_events(&events).await;

    let all: Vec<u64> = (0..300).collect();
    let pay: Vec<u64> = all.iter().copied().filter(|n| n % 4 < 2).collect();
    let orders: Vec<u64> = all
        .iter()
        .copied()
        .filter(|n| n % 4 == 2 && n % 3 == 1)
        .collect();

    let got = everything
        .until(WAIT, |m| numbers(m).len() >= all.len())
        .await;
    assert_eq!(numbers(&got), all, "everything, in order");
    assert!(got.iter().all(|m| m["tenant"] == acme.as_str()));
    let got = payments
        .until(WAIT, |m| numbers(m).len() >= pay.len())
        .await;
    assert_eq!(numbers(&got), pay, "pay.* in order");
    let got = orders_of_one_subject
        .until(WAIT, |m| ids_of(m).len() >= orders.len())
        .await;
    assert_eq!(ids_of(&got), orders, "order.* of sub_1 in order");
    for message in got.iter().filter(|m| m.id.is_some()) {
        assert_eq!(message.id.as_deref(), message.data["id"].as_str());
        assert_eq!(message.data["specversion"], "1.0");
    }

    // Nothing more than that arrives.
    assert!(
        everything
            .next_json(Duration::from_millis(500))
            .await
            .is_none()
    );
    assert!(
        payments
            .next_json(Duration::from_millis(200))
            .await
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_filter_never_crosses_tenants_and_bad_tokens_are_refused_before_upgrade() {
    let stage = Stage::new(2).await;
    let gateway = stage.start(&[]).await;
    let acme = unique_name("acme");
    let globex = unique_name("globex");

    // A globex client asking for acme's tenant, every type and acme's subjects.
    let mut forger = gateway
        .ws(
            &format!("tenant={acme}&types=*&subject=sub_0"),
            &Auth::Header(token(&globex, None, HOUR)),
        )
        .await;
    let mut acme_client = gateway
        .ws("", &Auth::Header(token(&acme, None, HOUR)))
        .await;
    let mut events: Vec<_> = (0..30).map(|n| event(&acme, "pay.captured", n)).collect();
    events.push(event(&globex, "pay.captured", 30));
    stage.publish_events(&events).await;
    let got = forger.until(WAIT, |m| !m.is_empty()).await;
    assert_eq!(got[0]["tenant"], globex.as_str());
    assert_eq!(numbers(&got), [30]);
    assert!(forger.next_json(Duration::from_millis(500)).await.is_none());
    let got = acme_client.until(WAIT, |m| numbers(m).len() >= 30).await;
    assert_eq!(numbers(&got), (0..30).collect::<Vec<_>>());

    let url = gateway.ws_url("");
    let hs256 = json!({ "alg": "HS256", "typ": "JWT" });
    let refused = [
        ("no token", Auth::Nothing, 401),
        (
            "expired",
            Auth::Header(raw_token(
                &hs256,
                &claims(&acme, -120),
                Some(support::SECRET),
            )),
            401,
        ),
        (
            "alg none",
            Auth::Query(raw_token(
                &json!({ "alg": "none" }),
                &claims(&acme, 600),
                None,
            )),
            401,
        ),
        (
            "unsigned HS256",
            Auth::Header(raw_token(&hs256, &claims(&acme, 600), None)),
            401,
        ),
        (
            "another key",
            Auth::Header(raw_token(
                &hs256,
                &claims(&acme, 600),
                Some("somebody else's secret of 32 bytes!!"),
            )),
            401,
        ),
        (
            "no events:read",
            Auth::Header(token_with(&acme, None, Scopes::NONE, HOUR)),
            403,
        ),
    ];
    for (what, auth, status) in &refused {
        let Err((got, body)) = WsClient::connect(&url, auth).await else {
            panic!("{what}: the websocket was opened");
        };
        assert_eq!(got, *status, "{what}: {body}");
        let Err((got, body)) = SseClient::connect(gateway.http_url(), "", auth, None).await else {
            panic!("{what}: the event stream was opened");
        };
        assert_eq!(got, *status, "{what} (sse): {body}");
        let problem: Value = serde_json::from_str(&body).unwrap();
        assert!(
            problem["type"]
                .as_str()
                .unwrap()
                .starts_with("urn:switchyard:problem:"),
            "{body}"
        );
    }
    let bad_filter = WsClient::connect(
        &gateway.ws_url("types=pay*"),
        &Auth::Header(token(&acme, None, HOUR)),
    )
    .await;
    assert_eq!(bad_filter.err().map(|(s, _)| s), Some(400));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resumes_without_loss_within_the_history_and_is_told_of_a_gap_beyond() {
    let stage = Stage::new(2).await;
    let gateway = stage
        .start(&[("SWITCHYARD__WEBSOCKET__HISTORY_SIZE", "20")])
        .await;
    let acme = unique_name("acme");
    let auth = Auth::Header(token(&acme, None, HOUR));
    let id = |n: usize| event(&acme, "pay.captured", n).id().to_string();
    let stage = &stage;
    let publish_range = |range: std::ops::Range<usize>| {
        let events: Vec<_> = range.map(|n| event(&acme, "pay.captured", n)).collect();
        async move { stage.publish_events(&events).await }
    };

    let mut client = gateway.ws("", &auth).await;
    publish_range(0..5).await;
    let got = client.until(WAIT, |m| m.len() >= 5).await;
    assert_eq!(numbers(&got), [0, 1, 2, 3, 4]);
    client.close().await;

    // Missed while away: 5..15. Resume after 4, then live events follow without a seam.
    publish_range(5..15).await;
    let mut resumed = gateway.ws(&format!("since={}", id(4)), &auth).await;
    publish_range(15..18).await;
    let got = resumed.until(WAIT, |m| m.len() >= 13).await;
    assert_eq!(numbers(&got), (5..18).collect::<Vec<_>>());
    assert!(
        resumed
            .next_json(Duration::from_millis(300))
            .await
            .is_none()
    );

    // SSE resumes with Last-Event-ID, as EventSource does.
    let mut sse = SseClient::connect(gateway.http_url(), "", &auth, Some(&id(9)))
        .await
        .unwrap();
    let got = sse.until(WAIT, |m| ids_of(m).len() >= 8).await;
    assert_eq!(ids_of(&got), (10..18).collect::<Vec<_>>());

    // Beyond the history (20 events): a gap message first, then the live stream.
    publish_range(18..50).await;
    resumed.until(WAIT, |m| m.len() >= 32).await;
    let mut late = gateway.ws(&format!("since={}", id(4)), &auth).await;
    let first = late.until(WAIT, |m| !m.is_empty()).await.remove(0);
    assert_eq!(first["type"], "switchyard.gap", "{first}");
    assert_eq!(first["data"]["last_event_id"], id(4));
    assert!(first["data"]["history_starts_at"].is_string(), "{first}");
    publish_range(50..51).await;
    let got = late.until(WAIT, |m| !m.is_empty()).await;
    assert_eq!(numbers(&got), [50]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_client_changes_its_subscription_without_reconnecting() {
    let stage = Stage::new(1).await;
    let gateway = stage.start(&[]).await;
    let acme = unique_name("acme");
    let mut client = gateway
        .ws("types=a.x", &Auth::Header(token(&acme, None, HOUR)))
        .await;
    stage.publish_events(&[event(&acme, "a.x", 0)]).await;
    assert_eq!(numbers(&client.until(WAIT, |m| !m.is_empty()).await), [0]);

    client
        .send_json(&json!({ "type": "subscribe", "types": ["b.*"] }))
        .await;
    let reply = client.until(WAIT, |m| !m.is_empty()).await.remove(0);
    assert_eq!(reply["type"], "switchyard.subscribed", "{reply}");
    assert_eq!(reply["data"]["types"], json!(["b.*"]));
    stage
        .publish_events(&[event(&acme, "a.x", 1), event(&acme, "b.y", 2)])
        .await;
    assert_eq!(numbers(&client.until(WAIT, |m| !m.is_empty()).await), [2]);

    client
        .send_json(&json!({ "type": "subscribe", "types": ["pay*"] }))
        .await;
    let reply = client.until(WAIT, |m| !m.is_empty()).await.remove(0);
    assert_eq!(reply["type"], "switchyard.error", "{reply}");
    stage.publish_events(&[event(&acme, "b.z", 3)]).await;
    assert_eq!(
        numbers(&client.until(WAIT, |m| !m.is_empty()).await),
        [3],
        "a refused change keeps the old subscription"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restricted_sub_token_sees_only_its_own_events() {
    let stage = Stage::new(1).await;
    let gateway = stage
        .start(&[("SWITCHYARD__WEBSOCKET__RESTRICT_SUBJECT_TOKENS", "true")])
        .await;
    let acme = unique_name("acme");
    let user = Auth::Header(token(&acme, Some("sub_1"), HOUR));
    let mut client = gateway.ws("", &user).await;
    let refused = WsClient::connect(&gateway.ws_url("subject=sub_2"), &user).await;
    assert_eq!(refused.err().map(|(s, _)| s), Some(403));
    // A subscription change cannot widen it either.
    client
        .send_json(&json!({ "type": "subscribe", "subject": "sub_2" }))
        .await;
    let reply = client.until(WAIT, |m| !m.is_empty()).await.remove(0);
    assert_eq!(reply["type"], "switchyard.error", "{reply}");

    let events: Vec<_> = (0..9).map(|n| event(&acme, "pay.captured", n)).collect();
    stage.publish_events(&events).await;
    let got = client.until(WAIT, |m| m.len() >= 3).await;
    assert_eq!(numbers(&got), [1, 4, 7]);
    assert!(got.iter().all(|m| m["subject"] == "sub_1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_asking_for_its_own_events_gets_those_of_its_subject_or_owner_field() {
    let stage = Stage::new(1).await;
    let gateway = stage
        .start(&[("SWITCHYARD__WEBSOCKET__OWNER_FIELD", "/customer/id")])
        .await;
    let acme = unique_name("acme");
    let cust = Auth::Header(token(&acme, Some("cust_1"), HOUR));
    let mut own = gateway.ws("own=true", &cust).await;
    let mut everything = gateway.ws("", &cust).await;
    let anonymous = Auth::Header(token(&acme, None, HOUR));
    let refused = WsClient::connect(&gateway.ws_url("own=true"), &anonymous).await;
    assert_eq!(
        refused.err().map(|(s, _)| s),
        Some(403),
        "no sub, no own events"
    );
    let refused = WsClient::connect(&gateway.ws_url("own=true&subject=x"), &cust).await;
    assert_eq!(
        refused.err().map(|(s, _)| s),
        Some(400),
        "own or subject, not both"
    );

    // Subjects cycle sub_0..sub_2 and owners cust_0..cust_1; cust_1 is also the subject of
    // event 5 (its owner there is cust_0).
    let events: Vec<_> = (0..8)
        .map(|n| {
            let subject = if n == 5 {
                "cust_1".to_owned()
            } else {
                format!("sub_{}", n % 3)
            };
            let data = json!({ "n": n, "customer": { "id": format!("cust_{}", n % 2) } });
            owned_event(&acme, n, &subject, &data)
        })
        .collect();
    stage.publish_events(&events).await;
    let got = own.until(WAIT, |m| numbers(m).last() == Some(&7)).await;
    assert_eq!(numbers(&got), [1, 3, 5, 7]);
    assert_eq!(
        numbers(&everything.until(WAIT, |m| m.len() >= 8).await),
        (0..8).collect::<Vec<_>>(),
        "without own the token's sub narrows nothing"
    );

    // Opting out again over the socket.
    own.send_json(&json!({ "type": "subscribe", "own": false, "types": ["*"] }))
        .await;
    let reply = own.until(WAIT, |m| !m.is_empty()).await.remove(0);
    assert_eq!(reply["type"], "switchyard.subscribed", "{reply}");
    assert_eq!(reply["data"]["owner"], Value::Null);
}

fn owned_event(tenant: &str, n: usize, subject: &str, data: &Value) -> switchyard_domain::Event {
    use switchyard_domain::{Event, EventId, EventType, TenantId};
    Event::builder(
        TenantId::parse(tenant).unwrap(),
        EventId::parse(&format!("evt_{tenant}_{n}")).unwrap(),
        format!("/{tenant}/test"),
        EventType::parse("orders.updated").unwrap(),
    )
    .subject(Some(subject.to_owned()))
    .data(Some("application/json".into()), data.to_string())
    .build()
    .unwrap()
}
