# agentcast container image: build in a full Rust image, run in a slim one as a non-root user.
#   docker build -t agentcast .
#   docker run --rm -p 8080:8080 -e GENESYS_HOST=mypurecloud.com \
#     -e GENESYS_CLIENT_ID=... -e GENESYS_CLIENT_SECRET=... agentcast

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so that source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked && rm -rf src
COPY config.toml ./
COPY src ./src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin agentcast

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin agentcast
COPY --from=build /src/target/release/agentcast /usr/local/bin/agentcast
COPY config.toml /etc/agentcast/config.toml
USER agentcast
ENV AGENTCAST_HTTP_LISTEN=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/agentcast", "--config", "/etc/agentcast/config.toml"]
CMD ["run"]
