# syntax=docker/dockerfile:1.7
#
# One image per Switchyard binary, from one multi-stage build:
#
#   docker build --build-arg BINARY=switchyard-ingest -t switchyard-ingest:0.1.0 .
#
# BINARY is one of switchyard-gateway, switchyard-ingest, switchyard-websocket-gateway,
# switchyard-processor, switchyard-outbox-relay, switchyard-audit-writer,
# switchyard-webhook-dispatcher or switchyard (the CLI). Every binary is compiled by the same
# `builder` stage, so building the other seven images after the first reuses it from the cache
# and only the small final stage differs (deploy/build-images.sh builds all of them).
#
# Stages: `chef` (toolchain + cargo-chef) -> `planner` (the dependency recipe, which changes
# only when Cargo.toml/Cargo.lock do) -> `builder` (dependencies compiled from the recipe in
# their own cached layer, then the workspace) -> the runtime image: distroless, no shell, no
# package manager, user 65532 (nonroot), the binary as entrypoint, JSON Schemas under
# /usr/share/switchyard/schemas (processor.schemas_dir in the charts and compose file).

ARG RUST_VERSION=1.95
# The runtime image below is distroless Debian 12: keep DEBIAN on bookworm (same glibc).
ARG DEBIAN=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN} AS chef
ARG CARGO_CHEF_VERSION=0.1.78
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# librdkafka (rdkafka-sys) builds with make and a C/C++ compiler; aws-lc (JWT crypto) with cc
# and cmake. No zlib1g-dev on purpose: libz-sys then links zlib statically, so the runtime
# image needs nothing beyond glibc (checked below). Build tools only, never shipped: they
# follow the pinned Debian release rather than pinned package versions.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake perl pkg-config \
 && rm -rf /var/lib/apt/lists/* \
 && cargo install --locked cargo-chef --version "${CARGO_CHEF_VERSION}"
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
# The same package list for the dependencies and for the workspace, so both resolve the same
# features and the second build reuses every dependency the first compiled.
ARG PACKAGES="-p switchyard-gateway -p switchyard-ingest -p switchyard-websocket-gateway \
  -p switchyard-processor -p switchyard-outbox-relay -p switchyard-audit-writer \
  -p switchyard-webhook-dispatcher -p switchyard"
COPY --from=planner /src/recipe.json recipe.json
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    cargo chef cook --release --locked --recipe-path recipe.json ${PACKAGES}
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    cargo build --release --locked ${PACKAGES} \
 && mkdir -p /out \
 && cp target/release/switchyard-gateway target/release/switchyard-ingest \
      target/release/switchyard-websocket-gateway target/release/switchyard-processor \
      target/release/switchyard-outbox-relay target/release/switchyard-audit-writer \
      target/release/switchyard-webhook-dispatcher target/release/switchyard /out/

# The runtime image has glibc and libgcc only: refuse a binary that needs more, and a
# BINARY that names none of them.
FROM builder AS selected
ARG BINARY
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN set -eu; \
    if [ -z "${BINARY:-}" ] || [ ! -x "/out/${BINARY}" ]; then \
      echo "--build-arg BINARY= must name one of: $(find /out -maxdepth 1 -type f -printf '%f ')" >&2; exit 1; \
    fi; \
    if ldd "/out/${BINARY}" | grep -Ev 'linux-vdso|ld-linux|libc\.so|libm\.so|libgcc_s|libpthread|libdl|librt'; then \
      echo "${BINARY} links a library the distroless runtime image lacks (above)" >&2; exit 1; \
    fi; \
    cp "/out/${BINARY}" /service

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
ARG BINARY
LABEL org.opencontainers.image.title="${BINARY}" \
      org.opencontainers.image.description="Switchyard event platform: ${BINARY}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /src/schemas /usr/share/switchyard/schemas
COPY --from=selected /service /usr/local/bin/service
USER 65532:65532
ENV SWITCHYARD__PROCESSOR__SCHEMAS_DIR=/usr/share/switchyard/schemas
# gateway 8080, ingest 8081, websocket-gateway 8082, workers' admin port 9090.
EXPOSE 8080 8081 8082 9090
ENTRYPOINT ["/usr/local/bin/service"]
