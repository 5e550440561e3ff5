//! A dedicated connection `LISTEN`ing on the outbox channel, so a committed row is published
//! within milliseconds instead of at the next poll. Pool connections cannot listen: their
//! notifications arrive on a connection object the pool owns.
//!
//! Losing this connection loses notifications, never rows: a relay also polls, and every
//! (re)connection wakes it once to pick up whatever committed while nobody listened.

use std::time::Duration;

use futures::StreamExt as _;
use switchyard_runtime::Shutdown;
use tokio::sync::Notify;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::outbox::NOTIFY_CHANNEL;

/// First wait before reconnecting; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Longest wait before reconnecting.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// How a listening session ended without an error.
enum Ended {
    Shutdown,
    ClosedByServer,
}

/// Listens on the server `config` names until shutdown, reconnecting with backoff, and wakes
/// one waiter of `wake` on every notification (and on every connection).
pub async fn listen(mut config: tokio_postgres::Config, wake: &Notify, shutdown: &Shutdown) {
    // A silent network partition would otherwise leave the session "open" and deaf for the
    // kernel's default of two hours.
    config
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(30))
        .application_name("switchyard-outbox-listen");
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1_u32.. {
        match session(&config, wake, shutdown).await {
            Ok(Ended::Shutdown) => return,
            Ok(Ended::ClosedByServer) => {
                tracing::warn!("outbox LISTEN connection closed by the server; reconnecting");
                backoff = FIRST_BACKOFF;
            }
            Err(error) => {
                tracing::warn!(%error, attempt, "outbox LISTEN connection failed; polling meanwhile");
            }
        }
        tokio::select! {
            () = shutdown.triggered() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn session(
    config: &tokio_postgres::Config,
    wake: &Notify,
    shutdown: &Shutdown,
) -> Result<Ended, tokio_postgres::Error> {
    let connecting = tokio::select! {
        () = shutdown.triggered() => return Ok(Ended::Shutdown),
        connected = config.connect(NoTls) => connected,
    };
    let (client, mut connection) = connecting?;
    let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
    // The connection makes progress only while `messages` is polled, so the LISTEN statement
    // and the message loop run side by side.
    let subscribe = async {
        client
            .batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}"))
            .await?;
        tracing::info!(
            channel = NOTIFY_CHANNEL,
            "listening for outbox notifications"
        );
        // Rows may have committed while nobody listened.
        wake.notify_one();
        std::future::pending::<Result<Ended, tokio_postgres::Error>>().await
    };
    let receive = async {
        while let Some(message) = messages.next().await {
            if let AsyncMessage::Notification(_) = message? {
                wake.notify_one();
            }
        }
        Ok(Ended::ClosedByServer)
    };
    tokio::select! {
        () = shutdown.triggered() => Ok(Ended::Shutdown),
        ended = subscribe => ended,
        ended = receive => ended,
    }
}
