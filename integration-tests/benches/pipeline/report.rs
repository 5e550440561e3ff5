//! Judging what each consumer received, and the markdown report.

use std::{
    collections::HashMap,
    fmt::Write as _,
    time::{SystemTime, UNIX_EPOCH},
};

use crate::{Arrival, Latencies, Options, cpu::Usage, load::Sent, raw::RawFigures};

/// What one consumer (or a set of like consumers) received of the measured webhooks.
#[derive(Debug, Clone, Default)]
pub struct Consumer {
    /// Its label.
    pub name: String,
    /// Accepted measured webhooks it should have received.
    pub expected: u64,
    /// Of those, received at least once.
    pub received: u64,
    /// Deliveries beyond the first of a webhook.
    pub duplicates: u64,
    /// Webhooks of another tenant than the consumer's.
    pub foreign: u64,
    latencies_ns: Vec<u64>,
    last_at_ns: u64,
    /// Received per second (per client, for several), from the first due instant of the
    /// window to the last arrival.
    pub per_sec: f64,
    /// Due → first arrival.
    pub latency: Latencies,
}

impl Consumer {
    /// Judges `arrivals` against the `accepted` measured webhooks (seq → due) that pass
    /// `mine` (the consumer's tenant).
    pub fn judge(
        name: &str,
        arrivals: &[Arrival],
        accepted: &HashMap<u64, u64>,
        mine: impl Fn(u64) -> bool,
        first_due_ns: u64,
    ) -> Self {
        let mut consumer = Self {
            name: name.to_owned(),
            expected: accepted.keys().filter(|&&seq| mine(seq)).count() as u64,
            ..Self::default()
        };
        let mut seen: HashMap<u64, u32> = HashMap::with_capacity(accepted.len());
        for arrival in arrivals {
            if !accepted.contains_key(&arrival.seq) {
                continue; // warm-up, probes, or not accepted
            }
            if !mine(arrival.seq) {
                consumer.foreign += 1;
                continue;
            }
            let times = seen.entry(arrival.seq).or_default();
            *times += 1;
            if *times == 1 {
                consumer.latencies_ns.push(arrival.latency_ns);
                consumer.last_at_ns = consumer.last_at_ns.max(arrival.at_ns);
            } else {
                consumer.duplicates += 1;
            }
        }
        consumer.received = seen.len() as u64;
        consumer.finish(1.0, first_due_ns);
        consumer
    }

    /// Adds another client's figures to these.
    pub fn absorb(&mut self, other: &Self) {
        self.expected += other.expected;
        self.received += other.received;
        self.duplicates += other.duplicates;
        self.foreign += other.foreign;
        self.latencies_ns.extend_from_slice(&other.latencies_ns);
        self.last_at_ns = self.last_at_ns.max(other.last_at_ns);
    }

    /// Computes the rate (divided by `clients` like consumers) and the percentiles.
    pub fn finish(&mut self, clients: f64, first_due_ns: u64) {
        let span = self.last_at_ns.saturating_sub(first_due_ns) as f64 / 1e9;
        self.per_sec = if span > 0.0 {
            self.received as f64 / clients.max(1.0) / span
        } else {
            0.0
        };
        self.latency = Latencies::of(self.latencies_ns.clone());
    }

    /// Lost: accepted but never received.
    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.received)
    }
}

/// Everything the report says.
pub struct Report {
    /// The run's options.
    pub options: Options,
    /// The webhooks due in the measured window and sent.
    pub sent: Vec<Sent>,
    /// How many the timetable had due in the window (= sent in the closed loop).
    pub due: u64,
    /// Raw client at its maximum.
    pub raw_max: RawFigures,
    /// Raw client at the offered rate: with the services' fetch wait, then a short one.
    pub raw_at_rate: Vec<RawFigures>,
    /// Endpoint, WebSocket, audit.
    pub consumers: Vec<Consumer>,
    /// CPU over the measured window.
    pub usage: Usage,
    /// CPU of the idle cluster just before the load.
    pub idle: Usage,
    /// 1-minute load average when the window began.
    pub load_before: String,
    /// Whether everything arrived before the drain gave up.
    pub drained: bool,
    /// Seconds from the end of the load to the end of the drain.
    pub drain_secs: f64,
    /// WebSocket connections that ended early, and why.
    pub ws_ended: Vec<String>,
}

fn ms(latency: &Latencies) -> String {
    format!(
        "{:.1} / {:.1} / {:.1} ms",
        latency.p50, latency.p99, latency.max
    )
}

fn thousands(n: f64) -> String {
    let whole = n.round() as u64;
    let digits = whole.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn percent(part: f64, whole: f64) -> String {
    if whole > 0.0 {
        format!("{:.0}%", 100.0 * part / whole)
    } else {
        "–".to_owned()
    }
}

fn times(part: f64, whole: f64) -> String {
    if whole > 0.0 {
        format!("{:.1}×", part / whole)
    } else {
        "–".to_owned()
    }
}

impl Report {
    /// True when no consumer lost or repeated a webhook.
    pub fn everything_arrived(&self) -> bool {
        self.consumers
            .iter()
            .all(|c| c.lost() == 0 && c.foreign == 0)
    }

    /// The report as markdown.
    pub fn markdown(&self) -> String {
        let o = &self.options;
        let mut out = String::new();
        let w = &mut out;
        let offered = self.sent.len() as f64;
        let accepted: Vec<&Sent> = self.sent.iter().filter(|s| s.status == 202).collect();
        let window = o.duration.as_secs_f64();
        let accepted_per_sec = accepted.len() as f64 / window;
        let mut statuses: HashMap<u16, u64> = HashMap::new();
        for s in &self.sent {
            *statuses.entry(s.status).or_default() += 1;
        }
        let ack = Latencies::of(accepted.iter().map(|s| s.answered_ns).collect());
        let lag = Latencies::of(self.sent.iter().map(|s| s.lag_ns).collect());

        let _ = writeln!(w, "#### Run of {} UTC\n", utc_now());
        let _ = writeln!(w, "Machine: {}.", machine());
        let _ = writeln!(w, "Command: `{}`.", o.command);
        let load = if o.rate > 0.0 {
            format!("{}/s offered on a fixed timetable", thousands(o.rate))
        } else {
            "closed loop".to_owned()
        };
        let _ = writeln!(
            w,
            "Load: {load}, {} connections, {} tenants, {} partitions per topic, {} WebSocket \
             client(s) per tenant; {:.0} s warm-up, {:.0} s measured.",
            o.connections,
            o.tenants,
            o.partitions,
            o.ws_clients,
            o.warmup.as_secs_f64(),
            window
        );
        let tunings: Vec<String> = std::env::vars()
            // Addresses are not tunings.
            .filter(|(k, _)| k.starts_with("SWITCHYARD__") && k != "SWITCHYARD__DATABASE__URL")
            .map(|(k, v)| format!("`{k}={v}`"))
            .collect();
        let _ = writeln!(
            w,
            "Service settings beyond the bench's: {}.",
            if tunings.is_empty() {
                "none".to_owned()
            } else {
                tunings.join(", ")
            }
        );
        let _ = writeln!(
            w,
            "Machine load: 1-minute load average {} when the window began; other processes \
             used {:.2} cores during it (machine {:.2} of {} cores busy).\n",
            self.load_before,
            self.usage.others(),
            self.usage.machine,
            cores()
        );

        // Headline against the baseline.
        let endpoint = &self.consumers[0];
        let ws = &self.consumers[1];
        let audit = &self.consumers[2];
        let raw = &self.raw_max;
        let _ = writeln!(
            w,
            "| measure | raw rdkafka produce → consume (baseline) | pipeline | pipeline ÷ raw |"
        );
        let _ = writeln!(w, "|---|---:|---:|---:|");
        let _ = writeln!(
            w,
            "| throughput at the maximum, events/s | {} consumed ({} produced; {} of {} records read) | – | – |",
            thousands(raw.consumed_per_sec),
            thousands(raw.produced_per_sec),
            raw.consumed,
            raw.produced,
        );
        let _ = writeln!(
            w,
            "| accepted by ingest (`202`), events/s | – | {} of {} offered ({} sent) | {} |",
            thousands(accepted_per_sec),
            thousands(self.due as f64 / window),
            thousands(offered / window),
            percent(accepted_per_sec, raw.consumed_per_sec)
        );
        for c in [endpoint, ws, audit] {
            let _ = writeln!(
                w,
                "| delivered end to end, {}, events/s | – | {} | {} |",
                c.name,
                thousands(c.per_sec),
                percent(c.per_sec, raw.consumed_per_sec)
            );
        }
        if let Some(at_rate) = self.raw_at_rate.first() {
            for run in &self.raw_at_rate {
                let _ = writeln!(
                    w,
                    "| p50 / p99 / max latency at {}/s: raw produce → consume, `fetch.wait.max.ms` {} ({} of {} records read) | {} | – | – |",
                    thousands(run.rate.unwrap_or(o.rate)),
                    run.fetch_wait_ms,
                    run.consumed,
                    run.produced,
                    ms(&run.latency)
                );
            }
            for c in [endpoint, ws, audit] {
                let _ = writeln!(
                    w,
                    "| p50 / p99 / max latency, {} | – | {} | {} / {} |",
                    c.name,
                    ms(&c.latency),
                    times(c.latency.p50, at_rate.latency.p50),
                    times(c.latency.p99, at_rate.latency.p99)
                );
            }
        }
        let _ = writeln!(
            w,
            "| raw at its maximum: produce → consume p50 / p99 / max, `fetch.wait.max.ms` {} | {} | – | – |\n",
            raw.fetch_wait_ms,
            ms(&raw.latency)
        );

        // Per consumer.
        let _ = writeln!(
            w,
            "| party | should get | got | lost | repeated | other tenants' | events/s | p50 / p99 / max |"
        );
        let _ = writeln!(w, "|---|---:|---:|---:|---:|---:|---:|---|");
        let non_202: u64 = statuses
            .iter()
            .filter(|(s, _)| **s != 202)
            .map(|(_, n)| n)
            .sum();
        let _ = writeln!(
            w,
            "| ingest: webhook → `202` | {} due, {} sent | {} accepted | {} not accepted | – | – | {} | {} |",
            self.due,
            self.sent.len(),
            accepted.len(),
            non_202,
            thousands(accepted_per_sec),
            ms(&ack)
        );
        for c in &self.consumers {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                c.name,
                c.expected,
                c.received,
                c.lost(),
                c.duplicates,
                c.foreign,
                thousands(c.per_sec),
                ms(&c.latency)
            );
        }
        let _ = writeln!(w);
        let mut other_statuses: Vec<String> = statuses
            .iter()
            .filter(|(s, _)| **s != 202)
            .map(|(s, n)| {
                format!(
                    "{n} × {}",
                    if *s == 0 {
                        "no answer".to_owned()
                    } else {
                        s.to_string()
                    }
                )
            })
            .collect();
        other_statuses.sort();
        if !other_statuses.is_empty() {
            let _ = writeln!(w, "Not accepted: {}.", other_statuses.join(", "));
        }
        let _ = writeln!(
            w,
            "Sender lateness (start behind its due time) p50 / p99 / max: {}. Drain after the \
             load: {:.1} s{}.",
            ms(&lag),
            self.drain_secs,
            if self.drained {
                ""
            } else {
                " (gave up: something was still missing)"
            }
        );
        if !self.ws_ended.is_empty() {
            let _ = writeln!(
                w,
                "WebSocket connections that ended early: {}.",
                self.ws_ended.join("; ")
            );
        }
        let _ = writeln!(
            w,
            "Events per second delivered: received ÷ (last arrival − first due instant of the \
             window), per client for WebSocket.\n"
        );

        // CPU.
        let _ = writeln!(
            w,
            "CPU over the {:.0} s measured window, from `/proc`; latencies were taken from {} \
             endpoint deliveries, {} WebSocket messages and {} audit rows.\n",
            self.usage.seconds, endpoint.latency.count, ws.latency.count, audit.latency.count
        );
        let _ = writeln!(
            w,
            "| process | cores busy | CPU µs per accepted webhook | busiest threads (cores) | cores busy when idle |"
        );
        let _ = writeln!(w, "|---|---:|---:|---|---:|");
        let per_event = |cores: f64| {
            if accepted_per_sec > 0.0 {
                format!("{:.0}", cores * 1e6 / accepted_per_sec)
            } else {
                "–".to_owned()
            }
        };
        let mut total = 0.0;
        let mut idle_total = 0.0;
        for (((name, c), threads), (_, idle)) in self
            .usage
            .parties
            .iter()
            .zip(&self.usage.threads)
            .zip(&self.idle.parties)
        {
            idle_total += idle;
            total += c;
            let threads: Vec<String> = threads
                .iter()
                .map(|(name, cores)| format!("`{name}` {cores:.2}"))
                .collect();
            let _ = writeln!(
                w,
                "| {name} | {c:.2} | {} | {} | {idle:.2} |",
                per_event(*c),
                threads.join(", ")
            );
        }
        let _ = writeln!(
            w,
            "| **all of the above** | {total:.2} | {} | | {idle_total:.2} |",
            per_event(total)
        );
        let _ = writeln!(
            w,
            "| other processes on the machine | {:.2} | | | {:.2} |\n",
            self.usage.others(),
            self.idle.others()
        );

        // Targets.
        let e2e = endpoint.per_sec.min(ws.per_sec);
        let met = |ok: bool| if ok { "**met**" } else { "**not met**" };
        let _ = writeln!(w, "| target (2 cores) | result |");
        let _ = writeln!(w, "|---|---|");
        let _ = writeln!(
            w,
            "| ≥ 5,000 events/s end to end | {}: {} events/s to endpoints, {} to each WebSocket client, {} accepted; nothing lost: {} |",
            met(e2e >= 5000.0 && self.everything_arrived()),
            thousands(endpoint.per_sec),
            thousands(ws.per_sec),
            thousands(accepted_per_sec),
            if self.everything_arrived() {
                "yes"
            } else {
                "**no**"
            },
        );
        let _ = writeln!(
            w,
            "| p99 ingest → WebSocket ≤ 100 ms | {}: {:.1} ms |",
            met(ws.latency.p99 <= 100.0),
            ws.latency.p99
        );
        out
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(0, std::num::NonZero::get)
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_owned();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    format!("{} cores ({model}), {mem_gib:.0} GiB RAM", cores())
}

/// `YYYY-MM-DD HH:MM`, from the Unix clock (civil-from-days).
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60
    )
}
