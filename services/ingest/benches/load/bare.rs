//! The ceiling: an actix-web server that reads each body and answers `202` with a tiny JSON
//! body, doing nothing else. It runs in its own process with as many workers as the service,
//! so it competes for the same two cores the same way.

use actix_web::{App, HttpResponse, HttpServer, web};

/// Workers of both servers under test.
pub const WORKERS: usize = 2;

/// Serves until killed, announcing its address the way the services do: a JSON log line with
/// `"message":"listening"` and `addr` on stdout.
pub fn serve() -> std::io::Result<()> {
    actix_web::rt::System::new().block_on(async {
        let server = HttpServer::new(|| {
            App::new().route("/webhooks/{tenant}/{source}", web::post().to(accept))
        })
        .workers(WORKERS)
        .bind(("127.0.0.1", 0))?;
        for addr in server.addrs() {
            println!(
                "{}",
                serde_json::json!({ "message": "listening", "addr": addr.to_string() })
            );
        }
        server.run().await
    })
}

async fn accept(_body: web::Bytes) -> HttpResponse {
    HttpResponse::Accepted()
        .content_type("application/json")
        .body(r#"{"id":"evt_bare"}"#)
}
