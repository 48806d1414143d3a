//! The service, wired: actors started in dependency order, the HTTP server, and the one
//! shutdown path.
//!
//! Start: metrics → webhook configuration (secrets) → Genesys client and the start-up check
//! (a token and the first roster page; a refused credential or missing permission fails here,
//! naming the cause) → audit trail → webhook outbox → hub → reference cache → validator pool
//! (reading the cache) → reference actor (writing it, told the pool) → HTTP server → stream
//! (told the reference actor; roster, channels, sockets). [`Service::launch`] does all but the
//! last step, [`Service::connect_upstream`] the last, which can take minutes for a large
//! roster; `agentcast run` races it against SIGTERM, so a stop during start-up still takes
//! the shutdown path.
//!
//! Shutdown ([`Service::shutdown`]): stop accepting connections → close the upstream sockets
//! → every subscriber session gets close 1001 → stop the HTTP server → flush the webhook
//! outbox → stop the validators and the hub → the audit trail writes its `stop` record,
//! flushes, and its arbiter stops.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use actix::{Actor, Addr};
use actix_web::{App, HttpServer, dev::ServerHandle, web};
use tracing::{info, warn};

use crate::{
    actors::{
        audit::{self, AuditActor, AuditConfig, AuditError, AuditMetrics, AuditTrail},
        hub::{HubHandle, downstream::Downstream},
        ingest_metrics::IngestMetrics,
        reference::ReferenceActor,
        stream::{GenesysStreamActor, Shutdown, Start, StreamContext, StreamError, UpstreamStatus},
        validator::{ValidatorOutputs, ValidatorPool},
        webhook::{self, WebhookActor, WebhookConfig, WebhookError, WebhookMetrics},
    },
    auth::{ApiKeys, Grant},
    config::{ConfigError, Credentials, Settings},
    event::AuditSink,
    genesys::{ClientConfig, GenesysClient, GenesysError, backoff::Backoff},
    http,
    metrics::Metrics,
    reference::ReferenceCache,
};

/// How long shutdown waits for the upstream sockets to close.
const UPSTREAM_CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Reads a secret from a named variable.
pub type SecretLookup = Box<dyn Fn(&str) -> Option<String>>;

/// What a service needs to start.
pub struct ServiceOptions {
    pub settings: Arc<Settings>,
    pub credentials: Credentials,
    /// A bound listener (port 0 in tests), so a port in use fails before anything starts.
    pub listener: std::net::TcpListener,
    /// Keys given in clear besides the configured ones (the demo's viewer key).
    pub extra_keys: Vec<(String, Grant)>,
    /// Reads a webhook secret variable (the process environment, unless a test or the demo
    /// hands secrets in directly).
    pub secret_of: SecretLookup,
}

impl ServiceOptions {
    pub fn new(
        settings: Arc<Settings>,
        credentials: Credentials,
        listener: std::net::TcpListener,
    ) -> Self {
        Self {
            settings,
            credentials,
            listener,
            extra_keys: Vec::new(),
            secret_of: Box::new(|var| std::env::var(var).ok()),
        }
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the Genesys start-up check failed: {0}")]
    Genesys(#[from] GenesysError),
    #[error(transparent)]
    Stream(#[from] StreamError),
    #[error("could not open the audit trail: {0}")]
    Audit(#[from] AuditError),
    #[error("could not open the webhook outbox: {0}")]
    Webhook(#[from] WebhookError),
    #[error("no Genesys API base is configured (genesys.region or genesys.api_base)")]
    NoApiBase,
    #[error("could not serve HTTP: {0}")]
    Http(#[from] std::io::Error),
    #[error("could not register metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("the stream actor stopped during start-up")]
    StreamStopped,
    #[error("cannot record the effective settings in the audit trail: {0}")]
    RecordSettings(#[source] serde_json::Error),
}

impl StartError {
    /// Whether the configuration is what cannot be used (exit code 2): its problems, or a
    /// configured store that cannot be opened.
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            Self::Config(_)
                | Self::Audit(AuditError::Store(_))
                | Self::Webhook(WebhookError::Store(_))
        )
    }
}

/// Start-up failed after the audit trail started: it writes its `stop` record naming the
/// cause, flushes and stops, so that nothing of it outlives the failed start. Answers `err`.
async fn abandon(audit: AuditTrail, err: StartError) -> StartError {
    if let Err(stopped) = audit.shutdown(format!("start-up failed: {err}")).await {
        warn!(error = %stopped, "The audit actor was gone before its stop record.");
    }
    err
}

/// A running service.
pub struct Service {
    pub local_addr: SocketAddr,
    pub metrics: Arc<Metrics>,
    pub upstream: Arc<UpstreamStatus>,
    pub hub: HubHandle,
    pub webhooks: Addr<WebhookActor>,
    pub audit: AuditTrail,
    server: ServerHandle,
    stream: Addr<GenesysStreamActor>,
    pool: ValidatorPool,
}

impl Service {
    /// Starts everything: [`launch`](Self::launch), then
    /// [`connect_upstream`](Self::connect_upstream) (shut down again if that fails).
    pub async fn start(options: ServiceOptions) -> Result<Self, StartError> {
        let service = Self::launch(options).await?;
        match service.connect_upstream().await {
            Ok(()) => Ok(service),
            Err(err) => {
                service.shutdown().await;
                Err(err)
            }
        }
    }

    /// Subscribes the roster upstream: channels, topics, sockets, the first reconciliation.
    pub async fn connect_upstream(&self) -> Result<(), StartError> {
        self.stream
            .send(Start)
            .await
            .map_err(|_| StartError::StreamStopped)??;
        Ok(())
    }

    /// Starts everything but the upstream subscription. Must run inside an actix `System`
    /// (upstream actors live on the current thread; validators, the hub, webhooks and audit
    /// get threads of their own). Its only wait is the start-up check, before any actor
    /// starts, so dropping it part-way leaves nothing behind.
    pub async fn launch(options: ServiceOptions) -> Result<Self, StartError> {
        let ServiceOptions {
            settings,
            credentials,
            listener,
            extra_keys,
            secret_of,
        } = options;
        let metrics = Arc::new(Metrics::new());
        let ingest = IngestMetrics::new(metrics.registry());
        let webhook_config = WebhookConfig::from_settings_with(&settings, &*secret_of)?;
        let client_config = ClientConfig::from_settings(&settings.genesys, credentials)
            .ok_or(StartError::NoApiBase)?;
        let client = GenesysClient::new(client_config, metrics.clone());
        super::startup_check(&client).await?;

        let effective =
            serde_json::to_value(settings.as_ref()).map_err(StartError::RecordSettings)?;
        let audit = AuditActor::start(
            AuditConfig::from_settings(&settings.audit),
            AuditMetrics::new(metrics.registry()),
        )?;
        let audit_sink: AuditSink = audit.addr.clone().recipient();
        audit_sink.do_send(audit::records::config_change(effective));
        // From here on a failure also ends the audit trail cleanly (see `abandon`).
        let webhooks = match WebhookActor::start(
            webhook_config,
            WebhookMetrics::new(metrics.registry()),
            Some(audit_sink.clone()),
            None,
        ) {
            Ok(webhooks) => webhooks,
            Err(err) => return Err(abandon(audit, err.into()).await),
        };

        let downstream = vec![
            Downstream::of("webhooks", &webhooks),
            Downstream::of("audit", &audit.addr),
        ];
        let hub = match HubHandle::start(
            Arc::new(settings.subscribers.clone()),
            metrics.registry(),
            downstream,
            Some(audit_sink.clone()),
        ) {
            Ok(hub) => hub,
            Err(err) => return Err(abandon(audit, err.into()).await),
        };
        let cache = ReferenceCache::default();
        let outputs = ValidatorOutputs {
            publish: hub.addr.clone().recipient(),
            audit: Some(audit_sink.clone()),
        };
        let pool = ValidatorPool::start(
            &settings.validation,
            settings.upstream.validator_queue_limit,
            cache.clone(),
            outputs,
            ingest.clone(),
        );
        let reference = ReferenceActor::new(
            client.clone(),
            cache,
            settings.reference.clone(),
            pool.clone(),
        )
        .start();

        let mut keys = ApiKeys::from_settings(&settings.api_keys);
        for (key, grant) in extra_keys {
            keys.insert(&key, grant);
        }
        if keys.is_empty() {
            warn!(
                "No api_keys are configured: /v1/subscribe, /v1/agents and the admin API refuse everyone."
            );
        }
        let upstream = Arc::new(UpstreamStatus::default());
        let local_addr = match listener.local_addr() {
            Ok(addr) => addr,
            Err(err) => return Err(abandon(audit, err.into()).await),
        };
        let listening = {
            let (metrics, upstream, hub, keys) =
                (metrics.clone(), upstream.clone(), hub.clone(), keys);
            let (webhooks, audit) = (webhooks.clone(), audit.addr.clone());
            HttpServer::new(move || {
                App::new()
                    .app_data(web::Data::from(metrics.clone()))
                    .app_data(web::Data::from(upstream.clone()))
                    .app_data(web::Data::new(hub.clone()))
                    .app_data(web::Data::new(keys.clone()))
                    .app_data(web::Data::new(webhooks.clone()))
                    .app_data(web::Data::new(audit.clone()))
                    .wrap(http::errors::json_error_bodies())
                    .configure(http::routes)
            })
            .disable_signals()
            // Small frames to many subscribers: Nagle's delay would add tens of ms to p99.
            .tcp_nodelay(true)
            .shutdown_timeout(settings.subscribers.close_timeout_secs.max(1))
            .listen(listener)
        };
        let server = match listening {
            Ok(listening) => listening.run(),
            Err(err) => return Err(abandon(audit, err.into()).await),
        };
        let server_handle = server.handle();
        actix_rt::spawn(server);
        info!(%local_addr, "HTTP server listening.");

        let upstream_settings = &settings.upstream;
        let cx = StreamContext {
            client,
            pool: pool.clone(),
            schedule_changes: reference.clone().recipient(),
            metrics: ingest,
            audit: Some(audit_sink),
            upstream: upstream_settings.clone(),
            max_payload_bytes: settings.validation.max_payload_bytes,
            reconnect_backoff: Backoff::new(
                Duration::from_millis(upstream_settings.reconnect_initial_backoff_ms),
                Duration::from_secs(upstream_settings.reconnect_max_backoff_secs),
            ),
        };
        let stream = GenesysStreamActor::new(cx, reference, upstream.clone()).start();
        Ok(Self {
            local_addr,
            metrics,
            upstream,
            hub,
            webhooks,
            audit,
            server: server_handle,
            stream,
            pool,
        })
    }

    /// The one shutdown path (see the module docs).
    pub async fn shutdown(self) {
        info!("Shutting down: no new connections.");
        self.server.pause().await;
        // Bounded: the stream answers after a start-up still in progress (a large roster).
        if tokio::time::timeout(UPSTREAM_CLOSE_WAIT, self.stream.send(Shutdown))
            .await
            .is_err()
        {
            warn!("The upstream did not close within {UPSTREAM_CLOSE_WAIT:?}; going on.");
        }
        match self.hub.close_all().await {
            Ok(closed) => info!(
                sessions = closed.closed,
                remaining = closed.remaining,
                "Subscriber sessions closed (1001)."
            ),
            Err(err) => warn!(error = %err, "The hub was gone before shutdown."),
        }
        self.server.stop(true).await;
        if self.webhooks.send(webhook::Flush).await.is_err() {
            warn!("The webhook actor was gone before its outbox was flushed.");
        }
        self.pool.stop();
        self.hub.stop();
        // Last, once nothing else can send it records: the stop record, the final flush, and
        // the end of the audit arbiter.
        if let Err(err) = self.audit.shutdown("shutdown requested").await {
            warn!(error = %err, "The audit actor was gone before its stop record.");
        }
        info!("Shut down.");
    }
}
