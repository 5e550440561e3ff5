//! GraphQL subscriptions for live events on the real gateway and the Kafka-protocol broker:
//! a subscriber gets its tenant's matching events in order and nothing of another tenant's;
//! a connection without a valid token is refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use support::{Gateway, KafkaStage, event, token};
use switchyard_auth::Scope;
use switchyard_testkit::unique_name;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest as _};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(gateway: &Gateway) -> Socket {
    let url = gateway.binary.base_url.replace("http://", "ws://") + "/graphql/ws";
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

async fn next_json(socket: &mut Socket) -> Option<Value> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .expect("no message within 30 s")?;
        match message.unwrap() {
            Message::Text(text) => return Some(serde_json::from_str(&text).unwrap()),
            Message::Close(_) => return None,
            _ => {}
        }
    }
}

async fn init(socket: &mut Socket, token: &str) -> Option<Value> {
    socket
        .send(Message::text(
            json!({ "type": "connection_init", "payload": { "token": token } }).to_string(),
        ))
        .await
        .unwrap();
    next_json(socket).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_gets_its_tenants_matching_events_live_and_nothing_else() {
    let stage = KafkaStage::new("gwlive", 2).await;
    stage
        .ensure(&[stage.topics().events(), stage.topics().dlq()])
        .await;
    let gateway = Gateway::on_kafka(&stage, &[]).await;
    let (acme, globex) = (unique_name("acme"), unique_name("globex"));

    let mut socket = connect(&gateway).await;
    let ack = init(&mut socket, &token(&acme, &[Scope::EventsRead]))
        .await
        .unwrap();
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    socket
        .send(Message::text(
            json!({
                "id": "1",
                "type": "subscribe",
                "payload": { "query": "subscription { events(types: [\"order.*\"]) { id type tenant data } }" }
            })
            .to_string(),
        ))
        .await
        .unwrap();

    // The gateway's own group joins in the background: publish until the first one arrives.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let first = loop {
        stage
            .publish_events(&[event(&acme, "order.created", 0, 0)])
            .await;
        if let Ok(Some(message)) =
            tokio::time::timeout(Duration::from_millis(500), next_json(&mut socket)).await
        {
            break message;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the live feed never started"
        );
    };
    assert_eq!(first["type"], "next", "{first}");
    assert_eq!(first["payload"]["data"]["events"]["tenant"], acme.as_str());
    // Drain the probes that were still in flight.
    while let Ok(Some(_)) =
        tokio::time::timeout(Duration::from_secs(1), next_json(&mut socket)).await
    {}

    let mut events = Vec::new();
    for n in 1..=20 {
        events.push(event(
            &acme,
            if n % 2 == 0 {
                "order.created"
            } else {
                "payment.captured"
            },
            n,
            i64::from(n),
        ));
        events.push(event(&globex, "order.created", 100 + n, i64::from(n)));
    }
    stage.publish_events(&events).await;
    let mut got = Vec::new();
    while got.len() < 10 {
        let message = next_json(&mut socket).await.unwrap();
        assert_eq!(message["type"], "next", "{message}");
        let e = &message["payload"]["data"]["events"];
        assert_eq!(e["tenant"], acme.as_str(), "{e}");
        got.push(e["data"]["n"].as_u64().unwrap());
    }
    assert_eq!(got, [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]);
    assert!(
        tokio::time::timeout(Duration::from_secs(2), next_json(&mut socket))
            .await
            .is_err(),
        "nothing more: no payments, nothing of globex"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_without_a_valid_token_is_refused() {
    let gateway = Gateway::start(&[]).await;
    let mut socket = connect(&gateway).await;
    let refused = init(&mut socket, "not.a.token").await;
    assert!(
        refused.is_none()
            || refused
                .as_ref()
                .is_some_and(|m| m["type"] != "connection_ack"),
        "{refused:?}"
    );
    let mut anonymous = connect(&gateway).await;
    anonymous
        .send(Message::text(
            json!({ "type": "connection_init" }).to_string(),
        ))
        .await
        .unwrap();
    let answer = next_json(&mut anonymous).await;
    assert!(
        answer
            .as_ref()
            .is_none_or(|m| m["type"] != "connection_ack"),
        "{answer:?}"
    );
}
