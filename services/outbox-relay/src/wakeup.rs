//! A dedicated connection `LISTEN`ing on the outbox channel, so a committed row is published
//! within milliseconds instead of at the next poll. Pool connections cannot listen: their
//! notifications arrive on a connection object the pool owns.
//!
//! Losing this connection loses notifications, never rows: the relay also polls, and every
//! (re)connection wakes it once to pick up whatever committed while nobody listened.

use std::{sync::Arc, time::Duration};

use futures::StreamExt as _;
use switchyard_bus::RetryPolicy;
use switchyard_runtime::Shutdown;
use switchyard_store::outbox::NOTIFY_CHANNEL;
use tokio::sync::Notify;
use tokio_postgres::{AsyncMessage, NoTls};

/// How a listening session ended without an error.
enum Ended {
    Shutdown,
    ClosedByServer,
}

/// Listens until shutdown, reconnecting with backoff, and wakes the relay on every
/// notification. `config` is the primary's connection configuration.
pub(crate) async fn listen(
    mut config: tokio_postgres::Config,
    wake: Arc<Notify>,
    shutdown: Shutdown,
) {
    // A silent network partition would otherwise leave the session "open" and deaf for the
    // kernel's default of two hours.
    config
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(30))
        .application_name("switchyard-outbox-relay-listen");
    let backoff = RetryPolicy::UNTIL_BACK;
    for attempt in 1.. {
        match session(&config, &wake, &shutdown).await {
            Ok(Ended::Shutdown) => return,
            Ok(Ended::ClosedByServer) => {
                tracing::warn!("outbox LISTEN connection closed by the server; reconnecting");
            }
            Err(error) => {
                tracing::warn!(%error, attempt, "outbox LISTEN connection failed; polling meanwhile");
            }
        }
        tokio::select! {
            () = shutdown.triggered() => return,
            () = tokio::time::sleep(backoff.backoff(attempt)) => {}
        }
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
