//! One JSON log line and two metrics per HTTP request, emitted from one typed event.

use std::time::{Duration, Instant};

use actix_web::{
    Error,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
    web,
};

use crate::service::ServiceInfo;

/// A completed HTTP request: logged and counted in one place, so the two never disagree.
struct RequestCompleted<'a> {
    service: &'static str,
    method: &'a str,
    route: &'a str,
    path: &'a str,
    status: u16,
    duration: Duration,
    peer: Option<String>,
}

impl RequestCompleted<'_> {
    fn emit(&self) {
        let duration_ms = self.duration.as_secs_f64() * 1000.0;
        tracing::info!(
            target: "switchyard::http",
            service = self.service,
            method = self.method,
            route = self.route,
            path = self.path,
            status = self.status,
            duration_ms,
            peer = self.peer.as_deref(),
            "request completed"
        );
        // The route pattern, never the raw path, keeps label cardinality bounded.
        let labels = [
            ("service", self.service.to_owned()),
            ("method", self.method.to_owned()),
            ("route", self.route.to_owned()),
            ("status", self.status.to_string()),
        ];
        metrics::counter!("switchyard_http_requests_total", &labels).increment(1);
        metrics::histogram!("switchyard_http_request_duration_seconds", &labels[..3])
            .record(self.duration.as_secs_f64());
    }
}

pub(crate) async fn middleware(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let response = next.call(request).await?;
    let request = response.request();
    let service = request
        .app_data::<web::Data<&'static ServiceInfo>>()
        .map_or("unknown", |i| i.name);
    let route = request.match_pattern();
    RequestCompleted {
        service,
        method: request.method().as_str(),
        route: route.as_deref().unwrap_or("unmatched"),
        path: request.path(),
        status: response.status().as_u16(),
        duration: started.elapsed(),
        peer: request.peer_addr().map(|a| a.ip().to_string()),
    }
    .emit();
    Ok(response)
}
