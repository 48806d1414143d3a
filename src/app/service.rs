//! The service, wired: actors started in dependency order, the HTTP server, and the one
//! shutdown path.
//!
//! Start: metrics → Genesys client and the start-up check (a token and the first roster page;
//! a refused credential or missing permission fails here, naming the cause) → reference
//! loader → hub → validator pool → HTTP server → stream (roster, channels, sockets).
//!
//! Shutdown ([`Service::shutdown`]): stop accepting connections → close the upstream sockets
//! → every subscriber session gets close 1001 → stop the HTTP server → stop the validators
//! and the hub.

use std::{net::SocketAddr, sync::Arc};

use actix::{Actor, Addr};
use actix_web::{App, HttpServer, dev::ServerHandle, web};
use tracing::info;

use crate::{
    actors::{
        hub::HubHandle,
        ingest_metrics::IngestMetrics,
        stream::{GenesysStreamActor, Shutdown, Start, StreamContext, StreamError, UpstreamStatus},
        validator::{ValidatorOutputs, ValidatorPool},
    },
    config::{Credentials, Settings},
    genesys::{ClientConfig, GenesysClient, GenesysError, backoff::Backoff},
    http::{
        self,
        auth::{ApiKeys, Grant},
    },
    metrics::Metrics,
    reference::{
        ReferenceCache,
        loader::{AttachValidators, ReferenceActor},
    },
};

/// What a service needs to start.
pub struct ServiceOptions {
    pub settings: Arc<Settings>,
    pub credentials: Credentials,
    /// A bound listener (port 0 in tests), so a port in use fails before anything starts.
    pub listener: std::net::TcpListener,
    /// Keys given in clear besides the configured ones (the demo's viewer key).
    pub extra_keys: Vec<(String, Grant)>,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the Genesys start-up check failed: {0}")]
    Genesys(#[from] GenesysError),
    #[error(transparent)]
    Stream(#[from] StreamError),
    #[error("no Genesys API base is configured (genesys.region or genesys.api_base)")]
    NoApiBase,
    #[error("could not serve HTTP: {0}")]
    Http(#[from] std::io::Error),
    #[error("could not register metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("the stream actor stopped during start-up")]
    StreamStopped,
}

/// A running service.
pub struct Service {
    pub local_addr: SocketAddr,
    pub metrics: Arc<Metrics>,
    pub upstream: Arc<UpstreamStatus>,
    pub hub: HubHandle,
    server: ServerHandle,
    stream: Addr<GenesysStreamActor>,
    pool: ValidatorPool,
}

impl Service {
    /// Starts everything. Must run inside an actix `System` (upstream actors live on the
    /// current thread; validators and the hub get threads of their own).
    pub async fn start(options: ServiceOptions) -> Result<Self, StartError> {
        let ServiceOptions {
            settings,
            credentials,
            listener,
            extra_keys,
        } = options;
        let metrics = Arc::new(Metrics::new());
        let ingest = IngestMetrics::new(metrics.registry());
        let client_config = ClientConfig::from_settings(&settings.genesys, credentials)
            .ok_or(StartError::NoApiBase)?;
        let client = GenesysClient::new(client_config, metrics.clone());
        super::startup_check(&client).await?;

        let cache = ReferenceCache::default();
        let reference =
            ReferenceActor::new(client.clone(), cache.clone(), settings.reference.clone()).start();
        let hub = HubHandle::start(
            Arc::new(settings.subscribers.clone()),
            metrics.registry(),
            Vec::new(),
            None,
        )?;
        let outputs = ValidatorOutputs {
            publish: hub.addr.clone().recipient(),
            audit: None,
            schedule_changes: Some(reference.clone().recipient()),
        };
        let pool = ValidatorPool::start(
            &settings.validation,
            settings.upstream.validator_queue_limit,
            cache,
            outputs,
            ingest.clone(),
        );
        reference.do_send(AttachValidators { pool: pool.clone() });

        let mut keys = ApiKeys::from_settings(&settings.api_keys);
        for (key, grant) in extra_keys {
            keys.insert(&key, grant);
        }
        let upstream = Arc::new(UpstreamStatus::default());
        let local_addr = listener.local_addr()?;
        let server = {
            let (metrics, upstream, hub, keys) =
                (metrics.clone(), upstream.clone(), hub.clone(), keys);
            HttpServer::new(move || {
                App::new()
                    .app_data(web::Data::from(metrics.clone()))
                    .app_data(web::Data::from(upstream.clone()))
                    .app_data(web::Data::new(hub.clone()))
                    .app_data(web::Data::new(keys.clone()))
                    .configure(http::ops::routes)
                    .configure(http::stats::routes)
                    .configure(http::agents::routes)
                    .configure(http::subscribe::routes)
            })
            .disable_signals()
            .shutdown_timeout(settings.subscribers.close_timeout_secs.max(1))
            .listen(listener)?
            .run()
        };
        let server_handle = server.handle();
        actix_rt::spawn(server);
        info!(%local_addr, "HTTP server listening.");

        let upstream_settings = &settings.upstream;
        let cx = StreamContext {
            client,
            pool: pool.clone(),
            metrics: ingest,
            audit: None,
            upstream: upstream_settings.clone(),
            max_payload_bytes: settings.validation.max_payload_bytes,
            reconnect_backoff: Backoff::new(
                std::time::Duration::from_millis(upstream_settings.reconnect_initial_backoff_ms),
                std::time::Duration::from_secs(upstream_settings.reconnect_max_backoff_secs),
            ),
        };
        let stream = GenesysStreamActor::new(cx, reference, upstream.clone()).start();
        stream
            .send(Start)
            .await
            .map_err(|_| StartError::StreamStopped)??;
        Ok(Self {
            local_addr,
            metrics,
            upstream,
            hub,
            server: server_handle,
            stream,
            pool,
        })
    }

    /// The one shutdown path (see the module docs).
    pub async fn shutdown(self) {
        info!("Shutting down: no new connections.");
        self.server.pause().await;
        let _closed = self.stream.send(Shutdown).await;
        match self.hub.close_all().await {
            Ok(closed) => info!(
                sessions = closed.closed,
                remaining = closed.remaining,
                "Subscriber sessions closed (1001)."
            ),
            Err(err) => tracing::warn!(error = %err, "The hub was gone before shutdown."),
        }
        self.server.stop(true).await;
        self.pool.stop();
        self.hub.stop();
        info!("Shut down.");
    }
}
