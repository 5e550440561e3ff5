#!/usr/bin/env bash
# The end-to-end benchmark (docs/benchmarks.md, "End to end"): the real service binaries,
# release-built, as separate processes on a Kafka-protocol broker (tansu, sqlite engine) and
# PostgreSQL, under sustained signed webhooks, against a raw rdkafka client on the same broker
# in the same run. The bench itself is integration-tests/benches/pipeline.rs.
#
#   scripts/bench.sh                                  # 5,000 webhooks/s, 5 s warm-up + 60 s
#   scripts/bench.sh -- --rate 2000 --duration-secs 15
#   scripts/bench.sh -- --rate 0 --connections 256    # closed loop: as fast as it goes
#
# PostgreSQL is checked and started if stopped (as scripts/test.sh does); tansu is installed
# if missing; the bench starts a private tansu in a scratch directory (a port of its own, the
# header index of scripts/tansu-tune.py) and stops it and the services at the end. Service
# settings can be tuned through the usual SWITCHYARD__* variables (the report lists them),
# e.g. SWITCHYARD__BUS__KAFKA__LINGER_MS=1 scripts/bench.sh.
#
# The markdown report is printed and written to $BENCH_REPORT (default
# <target dir>/bench/pipeline-<UTC time>.md) and appended to <target dir>/bench/pipeline.md.
#
# Addresses (defaults in brackets):
#   SWITCHYARD__DATABASE__URL  [postgres://postgres@127.0.0.1:5432/postgres]
set -euo pipefail

cd "$(dirname "$0")/.."

TANSU_VERSION=0.6.0
SERVICES=(gateway outbox-relay ingest processor webhook-dispatcher audit-writer websocket-gateway)
STOP=()

log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf '\nscripts/bench.sh: %s\n' "$*" >&2; exit 1; }

cleanup() {
  local status=$?
  for ((i = ${#STOP[@]} - 1; i >= 0; i--)); do
    eval "${STOP[i]}" >/dev/null 2>&1 || true
  done
  exit "$status"
}
trap cleanup EXIT INT TERM

host_of() { local a=${1#*://}; a=${a#*@}; a=${a%%/*}; a=${a%%,*}; echo "${a%:*}"; }
port_of() { local a=${1#*://}; a=${a#*@}; a=${a%%/*}; a=${a%%,*}; echo "${a##*:}"; }
open_port() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
is_local() { [[ $1 == 127.0.0.1 || $1 == localhost || $1 == ::1 ]]; }

# Arguments after `--` go to the bench.
if [ "${1:-}" = "--" ]; then shift; fi

log "PostgreSQL"
PG_URL=${SWITCHYARD__DATABASE__URL:-postgres://postgres@127.0.0.1:5432/postgres}
PG_HOST=$(host_of "$PG_URL"); PG_PORT=$(port_of "$PG_URL")
if open_port "$PG_HOST" "$PG_PORT"; then
  echo "PostgreSQL: up at $PG_HOST:$PG_PORT" >&2
else
  is_local "$PG_HOST" || die "PostgreSQL is not reachable at $PG_HOST:$PG_PORT (configured remotely; start it there)"
  PG_CLUSTER=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$PG_CLUSTER" ] && command -v pg_ctlcluster >/dev/null 2>&1 \
    || die "PostgreSQL is not running at $PG_HOST:$PG_PORT and is not installed (apt-get install postgresql)"
  echo "PostgreSQL: starting" >&2
  pg_ctlcluster --skip-systemctl-redirect "$PG_CLUSTER" main start \
    || die "PostgreSQL failed to start"
  STOP+=("pg_ctlcluster --skip-systemctl-redirect $PG_CLUSTER main stop")
  for ((i = 0; i < 300; i++)); do open_port "$PG_HOST" "$PG_PORT" && break; sleep 0.1; done
  open_port "$PG_HOST" "$PG_PORT" || die "PostgreSQL did not start listening on $PG_HOST:$PG_PORT within 30 s"
fi
export SWITCHYARD__DATABASE__URL=$PG_URL

log "Kafka-protocol broker (tansu, sqlite engine; the bench starts a private one)"
TANSU=$(command -v tansu || echo "${CARGO_HOME:-$HOME/.cargo}/bin/tansu")
if [ ! -x "$TANSU" ]; then
  log "Installing tansu $TANSU_VERSION (about 9 minutes, once)"
  cargo install --locked tansu --version "$TANSU_VERSION" --features libsql
fi
command -v python3 >/dev/null 2>&1 || die "python3 is needed (scripts/tansu-tune.py indexes tansu's header table)"
echo "tansu: $TANSU" >&2

log "Release build of the services"
PACKAGES=()
for service in "${SERVICES[@]}"; do PACKAGES+=(-p "switchyard-$service"); done
cargo build --release --locked --bins "${PACKAGES[@]}"

TARGET_DIR=${CARGO_TARGET_DIR:-target}
mkdir -p "$TARGET_DIR/bench"
REPORT=${BENCH_REPORT:-$TARGET_DIR/bench/pipeline-$(date -u +%Y%m%dT%H%M%SZ).md}

# The figures are only worth recording on a quiet machine: say so when it is not.
BUSY=$(ps -eo comm= | grep -cE '^(rustc|cargo|cc1|cc1plus|ld|clang)$' || true)
log "Machine: $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg); $BUSY compiler processes running"
if [ "$BUSY" -gt 0 ]; then
  echo "warning: other builds are running; the figures will be suspect (the report shows the load)" >&2
fi
ulimit -n 65536 2>/dev/null || true

log "Bench: cargo bench -p switchyard-integration-tests --bench pipeline -- $*"
cargo bench --locked -p switchyard-integration-tests --bench pipeline -- "$@" --report "$REPORT"
{ cat "$REPORT"; echo; } >>"$TARGET_DIR/bench/pipeline.md"
log "Report: $REPORT (also appended to $TARGET_DIR/bench/pipeline.md)"
