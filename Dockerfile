# syntax=docker/dockerfile:1
# Tenantry server image: built in a Rust image with libpq's headers, run in Debian slim
# with only libpq and CA certificates, as a non-root user; the health check is
# `tenantry healthcheck` (no curl in the image).
#
#   docker build -t tenantry .
#   docker compose up            (see docker-compose.yml)
#
# The image holds no database credentials. Run it with DATABASE_URL naming a restricted
# login (a member of tenantry_app) and MIGRATION_DATABASE_URL naming the tables' owner
# (migrations at start, the platform path); docs/security.md describes the roles.

FROM rust:1-slim-bookworm AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so code changes do not rebuild them: a stub crate with the real
# manifest and lock file.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src tests/api \
 && echo 'fn main() {}' > src/main.rs && touch src/lib.rs tests/api/main.rs \
 && cargo build --release --locked --bin tenantry \
 && rm -rf src tests
COPY src src
COPY migrations migrations
COPY tests tests
# Touch so cargo sees the real sources as newer than the stub's build.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin tenantry

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin tenantry
COPY --from=builder /src/target/release/tenantry /usr/local/bin/tenantry
USER tenantry:tenantry
WORKDIR /tmp
# In a container the server must listen beyond loopback; logs are JSON for collectors.
ENV BIND_ADDR=0.0.0.0:8080 \
    LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["tenantry", "healthcheck"]
ENTRYPOINT ["tenantry"]
CMD ["serve"]
