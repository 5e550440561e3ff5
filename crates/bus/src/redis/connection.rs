//! The connection every command goes through: one multiplexed connection that reconnects by
//! itself, a timeout on every call, and errors sorted into retry-later versus will-never-work.

use std::{
    sync::{Mutex, PoisonError},
    time::Duration,
};

use redis::{
    AsyncConnectionConfig, Client, Cmd, ErrorKind, FromRedisValue, Pipeline, RedisError,
    RedisResult,
    aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection},
};

use super::{BACKEND, scripts::Invocation};
use crate::BusError;

/// Why a command failed, with Redis's error code kept for callers that act on it (`NOGROUP`).
#[derive(Debug)]
pub(super) enum Failure {
    /// Redis (or the socket) reported an error.
    Redis(RedisError),
    /// No reply within the deadline.
    TimedOut(Duration),
    /// A reply we cannot read.
    Unexpected(&'static str),
}

impl Failure {
    /// Redis's error code, e.g. `NOGROUP`, `BUSYGROUP`.
    pub(super) fn code(&self) -> Option<&str> {
        match self {
            Self::Redis(error) => error.code(),
            _ => None,
        }
    }
}

impl From<Failure> for BusError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Redis(error) => map_error(&error),
            Failure::TimedOut(after) => BusError::Timeout {
                backend: BACKEND,
                after,
            },
            Failure::Unexpected(what) => BusError::Unavailable {
                backend: BACKEND,
                reason: format!("unexpected reply: {what}"),
            },
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Redis(error) => write!(f, "{error}"),
            Self::TimedOut(after) => write!(f, "no reply within {after:?}"),
            Self::Unexpected(what) => write!(f, "unexpected reply: {what}"),
        }
    }
}

/// Maps Redis's errors onto retry-later versus will-never-work.
fn map_error(error: &RedisError) -> BusError {
    match error.kind() {
        ErrorKind::AuthenticationFailed | ErrorKind::InvalidClientConfig => BusError::Config {
            backend: BACKEND,
            reason: error.to_string(),
        },
        _ if error.code() == Some("NOPERM") => BusError::Config {
            backend: BACKEND,
            reason: error.to_string(),
        },
        _ if error.code() == Some("WRONGTYPE") => BusError::Rejected {
            backend: BACKEND,
            reason: error.to_string(),
        },
        // Connection loss, LOADING after a restart, OOM, READONLY during a failover, ...
        _ => BusError::Unavailable {
            backend: BACKEND,
            reason: error.to_string(),
        },
    }
}

/// A shared connection to Redis; cheap to call from many tasks at once.
pub(super) struct Redis {
    client: Client,
    current: Mutex<Current>,
    command_timeout: Duration,
}

struct Current {
    /// Bumped when the manager is replaced, so concurrent timeouts replace it once.
    generation: u64,
    manager: ConnectionManager,
}

impl Redis {
    /// A client for `url`; connects on first use.
    pub(super) fn open(url: &str, command_timeout: Duration) -> Result<Self, BusError> {
        let client = Client::open(url).map_err(|e| BusError::Config {
            backend: BACKEND,
            reason: e.to_string(),
        })?;
        let manager = manager(&client, command_timeout)?;
        Ok(Self {
            client,
            current: Mutex::new(Current {
                generation: 0,
                manager,
            }),
            command_timeout,
        })
    }

    /// The timeout of commands other than publishes.
    pub(super) fn command_timeout(&self) -> Duration {
        self.command_timeout
    }

    /// Sends one command.
    pub(super) async fn query<T: FromRedisValue>(
        &self,
        cmd: &Cmd,
        timeout: Duration,
    ) -> Result<T, Failure> {
        let (generation, mut manager) = self.manager();
        self.bounded(generation, timeout, cmd.query_async(&mut manager))
            .await
    }

    /// Sends commands in one round trip (not a transaction).
    pub(super) async fn pipeline<T: FromRedisValue>(
        &self,
        pipeline: &Pipeline,
        timeout: Duration,
    ) -> Result<T, Failure> {
        let (generation, mut manager) = self.manager();
        self.bounded(generation, timeout, pipeline.query_async(&mut manager))
            .await
    }

    /// Runs a Lua script, loading it first if Redis does not know it (yet, or any more).
    pub(super) async fn script<T: FromRedisValue>(
        &self,
        invocation: &Invocation<'_>,
        timeout: Duration,
    ) -> Result<T, Failure> {
        let (generation, mut manager) = self.manager();
        let call = async move {
            let script = invocation.script;
            if let Some(sha) = script.sha.get() {
                match invocation.evalsha(sha).query_async(&mut manager).await {
                    Err(error) if error.code() == Some("NOSCRIPT") => {}
                    known => return known,
                }
            }
            let mut load = redis::cmd("SCRIPT");
            load.arg("LOAD").arg(script.source);
            let loaded: String = load.query_async(&mut manager).await?;
            let sha = script.sha.get_or_init(|| loaded);
            invocation.evalsha(sha).query_async(&mut manager).await
        };
        self.bounded(generation, timeout, call).await
    }

    /// A connection of its own, for blocking reads: a blocking command would stall every
    /// other command multiplexed on the shared connection.
    pub(super) async fn dedicated(&self) -> Result<MultiplexedConnection, Failure> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.command_timeout))
            // The caller bounds each blocking read itself.
            .set_response_timeout(None);
        match tokio::time::timeout(
            self.command_timeout,
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await
        {
            Ok(result) => result.map_err(Failure::Redis),
            Err(_) => Err(Failure::TimedOut(self.command_timeout)),
        }
    }

    fn manager(&self) -> (u64, ConnectionManager) {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        (current.generation, current.manager.clone())
    }

    async fn bounded<T>(
        &self,
        generation: u64,
        timeout: Duration,
        call: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout(timeout, call).await {
            Ok(result) => result.map_err(Failure::Redis),
            Err(_) => {
                self.replace(generation);
                Err(Failure::TimedOut(timeout))
            }
        }
    }

    /// A call that timed out may be stuck on a socket whose peer vanished without a reset; the
    /// manager only reconnects on errors it sees, so later calls would queue behind it. A fresh
    /// manager makes them connect anew (in-flight calls finish on the old one).
    fn replace(&self, generation: u64) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if current.generation != generation {
            return;
        }
        match manager(&self.client, self.command_timeout) {
            Ok(manager) => {
                current.manager = manager;
                current.generation += 1;
            }
            Err(error) => tracing::warn!(%error, "cannot replace the redis connection"),
        }
    }
}

fn manager(client: &Client, connect_timeout: Duration) -> Result<ConnectionManager, BusError> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(connect_timeout))
        // Every call carries its own deadline (publish or command timeout).
        .set_response_timeout(None)
        // Give up reconnecting quickly and let the next command start over: a caller waiting
        // on a long reconnect loop would only hit its own timeout.
        .set_number_of_retries(2)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(500));
    client
        .get_connection_manager_lazy(config)
        .map_err(|e| map_error(&e))
}
