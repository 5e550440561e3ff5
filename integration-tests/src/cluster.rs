//! The seven services as separate processes, the way a cluster runs them: a Kafka-protocol
//! broker of the test's own (tansu, sqlite engine, several partitions per topic), a
//! PostgreSQL database of its own, one configuration file plus `SWITCHYARD__*` variables.
//!
//! Each service listens on a loopback port chosen once, so a service killed and started
//! again answers at the same address, as it would behind a Kubernetes Service: senders and
//! WebSocket clients retry the same URL. Every process's JSON log is read all the time (a
//! log nobody reads would fill the pipe and stall the service) and its warnings and errors
//! are kept for failure messages.

use std::{
    collections::VecDeque,
    fmt::Write as _,
    io::Write as _,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use serde_json::Value;
use switchyard_testkit::{
    binary::RunningBinary, daemon::free_port, postgres::TestDatabase, tansu::PrivateTansu,
};
use switchyard_testkit_bus::KafkaStage;
use tokio::task::JoinHandle;

use crate::service_binary;

/// `auth.jwt_hs256_secret` of the cluster; tokens for it come from [`admin_token`].
pub const JWT_SECRET: &str = "an end-to-end test secret of 32+ bytes";
/// `secrets.keys`: seals the secrets of sources and endpoints made through the API.
pub const SEALING_KEY: &str = "ZW5kLXRvLWVuZCBzZWFsaW5nIGtleSAzMiBieXRlcyE=";

/// Log lines kept per process: the latest ones, and the latest warnings and errors.
const KEEP_RECENT: usize = 40;
const KEEP_NOTABLE: usize = 60;

/// One of the seven services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// `switchyard-gateway`: the API; migrates the database.
    Gateway,
    /// `switchyard-outbox-relay`.
    OutboxRelay,
    /// `switchyard-ingest`.
    Ingest,
    /// `switchyard-processor`.
    Processor,
    /// `switchyard-webhook-dispatcher`.
    WebhookDispatcher,
    /// `switchyard-audit-writer`.
    AuditWriter,
    /// `switchyard-websocket-gateway`.
    WebsocketGateway,
}

impl Role {
    /// Every service, the gateway first (it applies the migrations the others rely on).
    pub const ALL: [Self; 7] = [
        Self::Gateway,
        Self::OutboxRelay,
        Self::Ingest,
        Self::Processor,
        Self::WebhookDispatcher,
        Self::AuditWriter,
        Self::WebsocketGateway,
    ];

    /// The binary's name.
    #[must_use]
    pub fn binary(self) -> &'static str {
        match self {
            Self::Gateway => "switchyard-gateway",
            Self::OutboxRelay => "switchyard-outbox-relay",
            Self::Ingest => "switchyard-ingest",
            Self::Processor => "switchyard-processor",
            Self::WebhookDispatcher => "switchyard-webhook-dispatcher",
            Self::AuditWriter => "switchyard-audit-writer",
            Self::WebsocketGateway => "switchyard-websocket-gateway",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.binary().trim_start_matches("switchyard-"))
    }
}

#[derive(Default)]
struct LogTail {
    recent: VecDeque<Value>,
    notable: VecDeque<Value>,
}

impl LogTail {
    fn push(&mut self, line: Value) {
        let level = line["level"].as_str().unwrap_or_default();
        if matches!(level, "WARN" | "ERROR") || !line.is_object() {
            if self.notable.len() == KEEP_NOTABLE {
                self.notable.pop_front();
            }
            self.notable.push_back(line.clone());
        }
        if self.recent.len() == KEEP_RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(line);
    }
}

/// One service process, restartable at the same port.
pub struct ServiceProcess {
    role: Role,
    port: u16,
    env: Vec<(String, String)>,
    running: Arc<tokio::sync::Mutex<Option<RunningBinary>>>,
    logs: Arc<Mutex<LogTail>>,
    reader: JoinHandle<()>,
    starts: Mutex<u32>,
}

impl ServiceProcess {
    fn new(role: Role, port: u16, env: Vec<(String, String)>) -> Self {
        let running = Arc::new(tokio::sync::Mutex::new(None::<RunningBinary>));
        let logs = Arc::new(Mutex::new(LogTail::default()));
        let reader = {
            let running = Arc::clone(&running);
            let logs = Arc::clone(&logs);
            tokio::spawn(async move {
                loop {
                    if let Ok(mut guard) = running.try_lock()
                        && let Some(binary) = guard.as_mut()
                    {
                        let lines = binary.logs_so_far();
                        let mut tail = logs.lock().unwrap_or_else(PoisonError::into_inner);
                        for line in lines {
                            tail.push(line);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        };
        Self {
            role,
            port,
            env,
            running,
            logs,
            reader,
            starts: Mutex::new(0),
        }
    }

    /// Which service this is.
    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }

    /// `http://127.0.0.1:<port>`, the same across restarts.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How often it was started.
    #[must_use]
    pub fn starts(&self) -> u32 {
        *self.starts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn start(&self, stage: &KafkaStage) {
        let path = service_binary(self.role.binary());
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut guard = self.running.lock().await;
        assert!(guard.is_none(), "{} is already running", self.role);
        let binary = stage
            .start_binary(path.to_str().unwrap_or_default(), &env)
            .await;
        assert_eq!(
            binary.base_url,
            self.base_url(),
            "{} listens elsewhere than its fixed port",
            self.role
        );
        *guard = Some(binary);
        *self.starts.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.note(&format!("--- started (start #{}) ---", self.starts()));
    }

    /// SIGKILL: no drain, no flush, no offset commit. Waits until the process is gone.
    async fn kill(&self) {
        let mut guard = self.running.lock().await;
        let mut binary = guard
            .take()
            .unwrap_or_else(|| panic!("{} is not running", self.role));
        let lines = binary.logs_so_far();
        binary.kill().await;
        let mut tail = self.logs.lock().unwrap_or_else(PoisonError::into_inner);
        for line in lines {
            tail.push(line);
        }
        drop(tail);
        self.note("--- SIGKILL ---");
    }

    fn note(&self, text: &str) {
        let line = Value::String(text.to_owned());
        let mut tail = self.logs.lock().unwrap_or_else(PoisonError::into_inner);
        tail.notable.push_back(line.clone());
        tail.recent.push_back(line);
    }

    /// Its warnings and errors (and start/kill markers), then its latest lines.
    #[must_use]
    pub fn log_report(&self) -> String {
        let tail = self.logs.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = format!("== {} ({}) warnings/errors:\n", self.role, self.base_url());
        for line in &tail.notable {
            let _ = writeln!(out, "   {line}");
        }
        let _ = writeln!(out, "   latest lines:");
        for line in &tail.recent {
            let _ = writeln!(out, "   {line}");
        }
        out
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// What a cluster is started with beyond the common settings.
pub struct ClusterSpec<'a> {
    /// Start of the topic prefix and consumer group names.
    pub name: &'a str,
    /// Partitions of every topic.
    pub partitions: u32,
    /// The configuration file every service reads (`SWITCHYARD_CONFIG`): `[[sources]]`,
    /// `[[endpoints]]`, any section.
    pub config_toml: String,
    /// More `SWITCHYARD__*` variables, applied after the common ones.
    pub env: Vec<(String, String)>,
}

/// The seven services on a private broker and database.
pub struct Cluster {
    /// The topic prefix and the test's own bus on the broker.
    pub stage: KafkaStage,
    /// The services' database.
    pub database: TestDatabase,
    services: Vec<ServiceProcess>,
    _config: tempfile::NamedTempFile,
    _broker: PrivateTansu,
}

impl Cluster {
    /// Starts a broker, creates a database, writes the configuration file and starts every
    /// service (the gateway first: it migrates the database), each waiting for its
    /// `listening` line.
    pub async fn start(spec: ClusterSpec<'_>) -> Self {
        let broker = PrivateTansu::start().await;
        let stage = KafkaStage::on(broker.brokers(), spec.name, spec.partitions).await;
        let database = TestDatabase::create().await;
        let mut config = tempfile::Builder::new()
            .prefix("switchyard-e2e-")
            .suffix(".toml")
            .tempfile()
            .unwrap_or_else(|e| panic!("config file: {e}"));
        config
            .write_all(spec.config_toml.as_bytes())
            .unwrap_or_else(|e| panic!("config file: {e}"));
        let config_path = config.path().display().to_string();
        let mut env: Vec<(String, String)> = [
            ("SWITCHYARD_CONFIG", config_path.as_str()),
            ("SWITCHYARD__AUTH__JWT_HS256_SECRET", JWT_SECRET),
            ("SWITCHYARD__SECRETS__KEYS", SEALING_KEY),
            ("SWITCHYARD__DATABASE__URL", database.url.as_str()),
            ("SWITCHYARD__GATEWAY__ALLOW_HTTP_ENDPOINTS", "true"),
            ("SWITCHYARD__DISPATCHER__ALLOW_PRIVATE_NETWORKS", "true"),
            ("SWITCHYARD__OUTBOX__POLL_INTERVAL_MS", "200"),
            ("SWITCHYARD__SHUTDOWN__DRAIN_TIMEOUT_SECS", "5"),
            (
                "SWITCHYARD__TELEMETRY__LOG_LEVEL",
                "info,switchyard::http=warn",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        env.extend(spec.env);
        let services: Vec<ServiceProcess> = Role::ALL
            .iter()
            .map(|&role| {
                let mut env = env.clone();
                let port = free_port();
                env.push((
                    "SWITCHYARD__HTTP__BIND".to_owned(),
                    format!("127.0.0.1:{port}"),
                ));
                ServiceProcess::new(role, port, env)
            })
            .collect();
        stage.ensure(&[stage.topics().events()]).await;
        let cluster = Self {
            stage,
            database,
            services,
            _config: config,
            _broker: broker,
        };
        cluster.service(Role::Gateway).start(&cluster.stage).await;
        futures::future::join_all(
            cluster
                .services
                .iter()
                .filter(|s| s.role != Role::Gateway)
                .map(|s| s.start(&cluster.stage)),
        )
        .await;
        cluster
    }

    /// The process of `role`.
    #[must_use]
    pub fn service(&self, role: Role) -> &ServiceProcess {
        self.services
            .iter()
            .find(|s| s.role == role)
            .unwrap_or_else(|| panic!("no {role} in the cluster"))
    }

    /// `http://127.0.0.1:<port>` of `role`.
    #[must_use]
    pub fn url(&self, role: Role) -> String {
        self.service(role).base_url()
    }

    /// SIGKILLs `role` and waits until it is gone.
    pub async fn kill(&self, role: Role) {
        self.service(role).kill().await;
    }

    /// Starts `role` again at its port, with the same configuration; returns once it logs
    /// `listening`.
    pub async fn restart(&self, role: Role) {
        self.service(role).start(&self.stage).await;
    }

    /// Every service's warnings, errors and latest log lines, for a failure message.
    #[must_use]
    pub fn log_report(&self) -> String {
        self.services
            .iter()
            .map(ServiceProcess::log_report)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Each running service's `/readyz` answer and its consumer lag per partition
    /// (`switchyard_bus_consumer_lag`, from librdkafka's statistics every 5 s), for a failure
    /// message: a service that stopped consuming shows here.
    pub async fn health_report(&self) -> String {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(3))
            .build()
            .unwrap_or_else(|e| panic!("http client: {e}"));
        let mut out = String::new();
        for service in &self.services {
            let url = service.base_url();
            let get = |path: &str| {
                let request = http.get(format!("{url}{path}"));
                async move {
                    match request.send().await {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            (status, response.text().await.unwrap_or_default())
                        }
                        Err(error) => (0, error.to_string()),
                    }
                }
            };
            let (status, ready) = get("/readyz").await;
            let _ = writeln!(out, "== {} /readyz {status} {}", service.role, ready.trim());
            let (_, metrics) = get("/metrics").await;
            for line in metrics
                .lines()
                .filter(|l| l.starts_with("switchyard_bus_consumer_lag{"))
            {
                let _ = writeln!(out, "   {line}");
            }
        }
        out
    }

    /// The broker's view of the shared consumer groups (processor, webhook-dispatcher,
    /// audit-writer): state and members, and per partition of the pipeline's topics the
    /// committed offset against the end of the partition. For a failure message: a group stuck
    /// in a rebalance, or one whose offsets stopped moving, shows here.
    pub async fn group_report(&self) -> String {
        let brokers = self.stage.brokers.clone();
        let prefix = format!("{}.", self.stage.prefix);
        let topics = self.stage.topics();
        let topics = vec![topics.ingest_raw(), topics.events(), topics.deliveries()];
        let partitions = i32::try_from(self.stage.settings.partitions).unwrap_or(1);
        tokio::task::spawn_blocking(move || group_report(&brokers, &prefix, &topics, partitions))
            .await
            .unwrap_or_else(|e| format!("group report failed: {e}"))
    }

    /// SIGKILLs every running service (the broker goes when the cluster is dropped).
    pub async fn kill_all(&self) {
        for service in &self.services {
            if let Some(mut binary) = service.running.lock().await.take() {
                binary.kill().await;
            }
        }
    }

    /// Kills every service (so none holds the database) and drops the database.
    pub async fn shut_down(self) {
        self.kill_all().await;
        let Self { database, .. } = self;
        database.drop_database().await;
    }
}

fn group_report(brokers: &str, prefix: &str, topics: &[String], partitions: i32) -> String {
    use rdkafka::{
        ClientConfig, Offset, TopicPartitionList,
        consumer::{BaseConsumer, Consumer as _},
    };
    let timeout = Duration::from_secs(5);
    let client = |group: &str| -> Result<BaseConsumer, String> {
        ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()
            .map_err(|e| e.to_string())
    };
    let mut out = String::new();
    let admin = match client("switchyard-e2e-group-report") {
        Ok(admin) => admin,
        Err(e) => return format!("no group report: {e}"),
    };
    let mut ends = Vec::new();
    for topic in topics {
        for partition in 0..partitions {
            let end = admin
                .fetch_watermarks(topic, partition, timeout)
                .map_or(-1, |(_, high)| high);
            ends.push((topic.clone(), partition, end));
        }
    }
    for name in ["processor", "webhook-dispatcher", "audit-writer"] {
        let name = format!("{prefix}{name}");
        let groups = match admin.fetch_group_list(Some(&name), timeout) {
            Ok(groups) => groups,
            Err(e) => {
                let _ = writeln!(out, "== group {name}: not described: {e}");
                continue;
            }
        };
        let Some(group) = groups.groups().first() else {
            let _ = writeln!(out, "== group {name}: not known to the broker");
            continue;
        };
        let _ = writeln!(
            out,
            "== group {} state {} protocol {} members {:?}",
            group.name().trim_start_matches(prefix),
            group.state(),
            group.protocol(),
            group
                .members()
                .iter()
                .map(|m| format!(
                    "{} ({} assignment bytes)",
                    m.id(),
                    m.assignment().map_or(0, <[u8]>::len)
                ))
                .collect::<Vec<_>>()
        );
        let Ok(reader) = client(group.name()) else {
            continue;
        };
        let mut list = TopicPartitionList::new();
        for (topic, partition, _) in &ends {
            list.add_partition(topic, *partition);
        }
        let Ok(committed) = reader.committed_offsets(list, timeout) else {
            let _ = writeln!(out, "   (committed offsets unavailable)");
            continue;
        };
        for (topic, partition, end) in &ends {
            if let Some(Offset::Offset(offset)) = committed
                .find_partition(topic, *partition)
                .map(|p| p.offset())
            {
                let _ = writeln!(
                    out,
                    "   {}[{partition}] committed {offset} of {end}",
                    topic.trim_start_matches(prefix.trim_end_matches('.'))
                );
            }
        }
    }
    out
}

/// An `admin` token of `tenant` (admin implies `events:read` and `events:write`), valid for
/// an hour.
#[must_use]
pub fn admin_token(tenant: &str) -> String {
    use secrecy::SecretString;
    use switchyard_auth::{Scope, Scopes, TokenSpec, mint_hs256};
    use switchyard_domain::TenantId;
    let tenant = TenantId::parse(tenant).unwrap_or_else(|e| panic!("tenant {tenant}: {e}"));
    mint_hs256(
        &SecretString::from(JWT_SECRET),
        &TokenSpec::new(
            tenant,
            Scopes::from(Scope::Admin),
            Duration::from_secs(3_600),
        ),
    )
    .unwrap_or_else(|e| panic!("mint: {e}"))
}
