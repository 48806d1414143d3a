# agentcast container image: built in the Rust image, run in a slim one as a non-root user.
#   docker build -t agentcast .
#   docker run --rm -p 8080:8080 -v agentcast-data:/var/lib/agentcast \
#     -e GENESYS_HOST=mypurecloud.com -e GENESYS_CLIENT_ID=... -e GENESYS_CLIENT_SECRET=... agentcast
# Needs BuildKit (the default builder of current Docker) for the cache mounts.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Cargo.toml declares the tests and benchmarks, so their sources come along to satisfy it.
COPY Cargo.toml Cargo.lock config.toml ./
COPY src ./src
COPY assets ./assets
COPY benches ./benches
COPY tests ./tests
# Stripped, without the line tables the release profile keeps for benchmark profiles:
# about 15 MB instead of 100.
ENV CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=symbols
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin agentcast \
    && cp target/release/agentcast /usr/local/bin/agentcast

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin agentcast \
    && mkdir -p /var/lib/agentcast && chown agentcast /var/lib/agentcast
COPY --from=build /usr/local/bin/agentcast /usr/local/bin/agentcast
COPY config.toml /etc/agentcast/config.toml
USER agentcast
# Listen on every interface inside the container; keep the outbox and audit trail in a volume.
ENV AGENTCAST_HTTP_LISTEN=0.0.0.0:8080 \
    AGENTCAST_WEBHOOK_OUTBOX_PATH=/var/lib/agentcast/outbox.sqlite \
    AGENTCAST_AUDIT_PATH=/var/lib/agentcast/audit.sqlite
VOLUME /var/lib/agentcast
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/agentcast", "--config", "/etc/agentcast/config.toml", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/agentcast", "--config", "/etc/agentcast/config.toml"]
CMD ["run"]
