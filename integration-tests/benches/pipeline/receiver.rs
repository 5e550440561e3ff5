//! The subscribers' endpoints: an actix-web server in this process (2 workers) listening on
//! one loopback port per tenant, so each endpoint is a host of its own to the dispatcher's
//! connection pools, as separate subscribers are. It answers 200 to every POST and records,
//! per delivery, the webhook's sequence number and arrival − due instant. It does not verify
//! signatures (the e2e tests do); it is here to measure.

use std::{
    net::TcpListener,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use actix_web::{App, HttpResponse, HttpServer, web};
use tokio::task::JoinHandle;

use crate::{Arrival, now_ns, stamp};

/// Arrivals so far.
#[derive(Default)]
pub struct Log {
    arrivals: Mutex<Vec<Arrival>>,
    /// POSTs answered (with or without a readable stamp).
    pub count: AtomicU64,
}

/// The running receiver; stopped when dropped.
pub struct Receiver {
    /// `http://127.0.0.1:<port>/hooks`, one per tenant.
    pub urls: Vec<String>,
    /// What arrived.
    pub log: Arc<Log>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Receiver {
    /// Starts the server with `endpoints` ports.
    pub fn start(endpoints: usize) -> Self {
        let log = Arc::new(Log::default());
        let data = web::Data::from(Arc::clone(&log));
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(1024 * 1024))
                .default_service(web::to(receive))
        })
        .workers(2)
        .disable_signals()
        .shutdown_timeout(1);
        let mut urls = Vec::new();
        for _ in 0..endpoints {
            let listener = TcpListener::bind("127.0.0.1:0")
                .unwrap_or_else(|e| panic!("receiver: no loopback port: {e}"));
            let port = listener
                .local_addr()
                .unwrap_or_else(|e| panic!("receiver: {e}"))
                .port();
            urls.push(format!("http://127.0.0.1:{port}/hooks"));
            server = server
                .listen(listener)
                .unwrap_or_else(|e| panic!("receiver cannot listen: {e}"));
        }
        let task = tokio::spawn(server.run());
        Self { urls, log, task }
    }

    /// Every arrival so far (taken: the log starts empty again).
    pub fn take(&self) -> Vec<Arrival> {
        std::mem::take(
            &mut *self
                .log
                .arrivals
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(body: web::Bytes, log: web::Data<Log>) -> HttpResponse {
    let at = now_ns();
    if let Some((seq, due_ns)) = stamp(&body) {
        log.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arrival {
                seq,
                latency_ns: at.saturating_sub(due_ns),
                at_ns: at,
            });
    }
    log.count.fetch_add(1, Ordering::Relaxed);
    HttpResponse::Ok().finish()
}
