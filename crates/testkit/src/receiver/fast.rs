//! [`FastReceiver`]: an in-process actix-web server that only counts, for load tests.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, http::Method, web};
use anyhow::{Context as _, bail};
use tokio::{
    task::JoinHandle,
    time::{Instant, sleep},
};

use super::POLL_EVERY;

/// An in-process receiver for load: answers 200 to every POST, counting requests and keeping
/// their `webhook-id`s per path. Stopped on drop.
pub struct FastReceiver {
    port: u16,
    seen: Arc<Seen>,
    task: JoinHandle<std::io::Result<()>>,
}

#[derive(Default)]
struct Seen {
    by_path: Mutex<HashMap<String, PathLog>>,
}

#[derive(Default)]
struct PathLog {
    count: u64,
    ids: Vec<String>,
}

impl Seen {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, PathLog>) -> T) -> T {
        f(&mut self.by_path.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl FastReceiver {
    /// Starts the receiver on a free loopback port.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_at(0).await
    }

    /// Starts the receiver on loopback `port` (0: any free one), e.g. to bring a dead
    /// endpoint back where it was.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn start_at(port: u16) -> anyhow::Result<Self> {
        let listener =
            std::net::TcpListener::bind(("127.0.0.1", port)).context("no loopback port")?;
        let port = listener.local_addr()?.port();
        let seen = Arc::new(Seen::default());
        let data = web::Data::from(Arc::clone(&seen));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
                .default_service(web::to(record))
        })
        .workers(4)
        .disable_signals() // the test process's signals are not the receiver's to take
        .shutdown_timeout(1)
        .listen(listener)
        .context("FastReceiver cannot listen")?
        .run();
        let task = tokio::spawn(server);
        Ok(Self { port, seen, task })
    }

    /// `http://127.0.0.1:<port><path>`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        let slash = if path.starts_with('/') { "" } else { "/" };
        format!("http://127.0.0.1:{}{slash}{path}", self.port)
    }

    /// POSTs received on `path` (without query).
    #[must_use]
    pub fn count(&self, path: &str) -> u64 {
        self.seen.with(|m| m.get(path).map_or(0, |p| p.count))
    }

    /// POSTs received on every path.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.seen.with(|m| m.values().map(|p| p.count).sum())
    }

    /// The `webhook-id` of each POST on `path`, in arrival order, repeats included.
    #[must_use]
    pub fn ids(&self, path: &str) -> Vec<String> {
        self.seen
            .with(|m| m.get(path).map(|p| p.ids.clone()).unwrap_or_default())
    }

    /// Waits until `path` has received at least `count` POSTs.
    ///
    /// # Errors
    /// After `within`, with the count reached.
    pub async fn wait_for_count(
        &self,
        path: &str,
        count: u64,
        within: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        loop {
            let reached = self.count(path);
            if reached >= count {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("FastReceiver {path}: {reached} of {count} POSTs within {within:?}");
            }
            sleep(POLL_EVERY).await;
        }
    }
}

impl Drop for FastReceiver {
    fn drop(&mut self) {
        // Dropping actix's `Server` future closes the listener and stops the workers.
        self.task.abort();
    }
}

async fn record(request: HttpRequest, _body: web::Bytes, seen: web::Data<Seen>) -> HttpResponse {
    if request.method() != Method::POST {
        return HttpResponse::MethodNotAllowed().finish();
    }
    let id = request
        .headers()
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    seen.with(|m| {
        let entry = m.entry(request.path().to_owned()).or_default();
        entry.count += 1;
        entry.ids.push(id);
    });
    HttpResponse::Ok().finish()
}
