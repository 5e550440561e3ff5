use std::time::Duration;

use actix_web::HttpResponse;

use super::*;
use crate::health::FnCheck;

static TEST_SERVICE: ServiceInfo = ServiceInfo {
    name: "test",
    binary: "switchyard-test",
    about: "test service",
    default_bind: "127.0.0.1:0",
    version: "0.0.0",
};

fn settings() -> Settings {
    let mut settings = Settings::default();
    settings.http.bind = "127.0.0.1:0".parse().unwrap();
    settings.http.workers = 1;
    settings.shutdown.drain_timeout_secs = 2;
    settings
}

async fn get(port: u16, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn serves_health_readiness_metrics_and_its_own_routes() {
    let service = Service::builder(&TEST_SERVICE, settings())
        .routes(|config| {
            config.route(
                "/hello",
                web::get().to(|| async { HttpResponse::Ok().body("hi") }),
            );
        })
        .build()
        .unwrap();
    let port = service.port();
    assert_ne!(port, 0);
    let shutdown = service.shutdown_handle();
    let running = tokio::spawn(service.run_until_stopped());

    assert_eq!(
        get(port, "/healthz").await,
        (200, r#"{"status":"ok"}"#.to_owned())
    );
    let (status, body) = get(port, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(get(port, "/hello").await.1, "hi");
    assert_eq!(get(port, "/nope").await.0, 404);
    let (status, metrics) = get(port, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains(r#"switchyard_http_requests_total{service="test",method="GET",route="/hello",status="200"}"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"route="unmatched""#),
        "404s are counted without their raw path"
    );
    assert!(metrics.contains("switchyard_build_info"), "{metrics}");

    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_failing_dependency_makes_readyz_answer_503() {
    let service = Service::builder(&TEST_SERVICE, settings())
        .readiness_check(FnCheck::new("postgres", || async {
            Err("connection refused".to_owned())
        }))
        .build()
        .unwrap();
    let port = service.port();
    let shutdown = service.shutdown_handle();
    let running = tokio::spawn(service.run_until_stopped());
    let (status, body) = get(port, "/readyz").await;
    assert_eq!(status, 503);
    assert!(
        body.contains("postgres") && body.contains("connection refused"),
        "{body}"
    );
    assert_eq!(
        get(port, "/healthz").await.0,
        200,
        "alive even when not ready"
    );
    shutdown.trigger();
    running.await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_waits_for_in_flight_work_then_stops_listening() {
    let builder = Service::builder(&TEST_SERVICE, settings());
    let token = builder.shutdown().token();
    let (finished_tx, finished_rx) = tokio::sync::oneshot::channel();
    builder.shutdown().spawn(async move {
        token.cancelled().await;
        tokio::time::sleep(Duration::from_millis(200)).await; // e.g. committing offsets
        let _ = finished_tx.send(());
    });
    let service = builder.build().unwrap();
    let port = service.port();
    let shutdown = service.shutdown_handle();
    let running = tokio::spawn(service.run_until_stopped());
    assert_eq!(get(port, "/healthz").await.0, 200);

    shutdown.trigger();
    running.await.unwrap().unwrap();
    assert!(
        finished_rx.await.is_ok(),
        "work finished before run_until_stopped returned"
    );
    let refused = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await;
    assert!(refused.is_err(), "listener is closed after shutdown");
}

#[tokio::test]
async fn work_that_overruns_the_deadline_is_reported() {
    let mut settings = settings();
    settings.shutdown.drain_timeout_secs = 1;
    let builder = Service::builder(&TEST_SERVICE, settings);
    builder.shutdown().spawn(std::future::pending::<()>());
    let service = builder.build().unwrap();
    let shutdown = service.shutdown_handle();
    let running = tokio::spawn(service.run_until_stopped());
    shutdown.trigger();
    let result = tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(result, Err(ServiceError::DrainTimedOut(_))),
        "{result:?}"
    );
}

#[test]
fn a_taken_port_is_a_clear_bind_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut settings = settings();
    settings.http.bind = taken.local_addr().unwrap();
    let err = Service::builder(&TEST_SERVICE, settings)
        .build()
        .err()
        .unwrap();
    assert!(matches!(err, ServiceError::Bind { .. }));
    assert!(err.to_string().contains("cannot listen on"), "{err}");
}
