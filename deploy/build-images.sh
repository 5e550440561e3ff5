#!/usr/bin/env bash
# Builds the image of every Switchyard binary from the repository's Dockerfile.
#
#   deploy/build-images.sh [TAG] [REGISTRY]     e.g. deploy/build-images.sh 0.1.0 ghcr.io/acme
#
# The builder stage is shared, so after the first image the others take seconds. Images are
# named <REGISTRY>/switchyard-<service>:<TAG> (no registry: switchyard-<service>:<TAG>), the
# names the Helm charts use (image.repository, global.image.registry, global.image.tag).
set -euo pipefail
cd "$(dirname "$0")/.."

tag=${1:-dev}
registry=${2:-}
prefix=${registry:+$registry/}

for binary in switchyard-gateway switchyard-ingest switchyard-websocket-gateway \
  switchyard-processor switchyard-outbox-relay switchyard-audit-writer \
  switchyard-webhook-dispatcher switchyard; do
  echo "==> $prefix$binary:$tag"
  DOCKER_BUILDKIT=1 docker build --build-arg "BINARY=$binary" -t "$prefix$binary:$tag" .
done
