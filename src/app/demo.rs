//! `agentcast demo`: the embedded default. The emulator, the full pipeline against it, a local
//! webhook receiver that verifies every signature and counts deliveries, and the HTTP server
//! with the dashboard, in one process. Prints the dashboard URL (with a generated key) and
//! what to try next; Ctrl-C shuts everything down through the one shutdown path.

use std::{
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use tokio::sync::oneshot;

use super::{bind_failure, runtime_failure, serve};
use crate::{
    actors::webhook::signing::{Signer, generate_secret},
    auth::{Grant, generate_key},
    config::{Credentials, Settings, WebhookSettings},
    event::Scope,
    sim::{self, SimConfig},
};

/// The environment variable name the demo's webhook secret is looked up by (it is handed to
/// the service directly, never set in the environment).
const DEMO_SECRET_VAR: &str = "AGENTCAST_DEMO_WEBHOOK_SECRET";
/// How often the terminal gets a status line.
const STATUS_EVERY: Duration = Duration::from_secs(15);
/// Webhook timestamps further than this from now are refused (the libraries' default).
const TIMESTAMP_TOLERANCE_SECS: i64 = 300;

pub fn run(settings: &Settings) -> ExitCode {
    let sim = match sim::spawn(SimConfig::from_settings(&settings.sim)) {
        Ok(sim) => sim,
        Err(err) => {
            return runtime_failure(
                &format!("the emulator could not serve on {}", settings.sim.listen),
                &err,
            );
        }
    };
    let secret = generate_secret();
    let receiver = match Receiver::spawn(&secret) {
        Ok(receiver) => receiver,
        Err(err) => return runtime_failure("the demo webhook receiver could not start", &err),
    };
    let data_dir = std::env::temp_dir().join(format!("agentcast-demo-{}", std::process::id()));
    if let Err(err) = std::fs::create_dir_all(&data_dir) {
        return runtime_failure(&format!("cannot create {}", data_dir.display()), &err);
    }
    let settings = demo_settings(settings, &sim.base, &receiver.url, &data_dir);
    let credentials = Credentials::new(sim.client_id.clone(), sim.client_secret.clone());
    let key = generate_key();
    let grant = Grant {
        name: "demo-viewer".into(),
        scopes: Scope::ALL.to_vec(),
        admin: true,
    };
    let counts = receiver.counts.clone();
    let emulator = sim.base.clone();
    let listener = match settings.http.bind() {
        Ok(listener) => listener,
        Err(err) => {
            receiver.stop();
            sim.stop();
            return bind_failure(&settings.http.listen, err);
        }
    };
    let code = serve(
        settings,
        credentials,
        listener,
        {
            let key = key.clone();
            move |options| {
                options.extra_keys.push((key, grant));
                // The demo receiver's secret is handed in; any other endpoint's (WEBHOOK_URL,
                // [[webhooks]]) comes from the environment as usual.
                options.secret_of = Box::new(move |var| {
                    if var == DEMO_SECRET_VAR {
                        Some(secret.clone())
                    } else {
                        std::env::var(var).ok()
                    }
                });
            }
        },
        move |service| {
            let base = format!("http://{}", service.local_addr);
            println!();
            println!(
                "agentcast demo is running: the embedded Genesys Cloud emulator at {emulator}, a webhook receiver, and agentcast."
            );
            println!();
            println!("  Dashboard:          {base}/?access_token={key}");
            println!();
            println!("Then try:");
            println!(
                "  latest states:      curl -H 'Authorization: Bearer {key}' {base}/v1/agents"
            );
            println!(
                "  live stream:        python3 -m websockets 'ws://{}/v1/subscribe?access_token={key}'   (pip install websockets)",
                service.local_addr
            );
            println!("  metrics:            curl {base}/v1/metrics   (Prometheus: {base}/metrics)");
            println!(
                "  webhook health:     curl -H 'Authorization: Bearer {key}' {base}/v1/webhooks"
            );
            println!(
                "  audit trail:        curl -H 'Authorization: Bearer {key}' '{base}/v1/audit?limit=20'"
            );
            println!(
                "  cause a violation:  curl -X POST {emulator}/sim/agents/<agentId>/state -H 'Content-Type: application/json' \\"
            );
            println!(
                "                        -d '{{\"systemPresence\":\"OnQueue\",\"conversations\":{{\"call\":3}}}}'"
            );
            println!("  emulator truth:     curl {emulator}/sim/truth");
            println!();
            println!("Press Ctrl-C to stop.");
            actix_rt::spawn(async move {
                let mut ticks = actix_rt::time::interval(STATUS_EVERY);
                ticks.tick().await;
                loop {
                    ticks.tick().await;
                    println!(
                        "webhook receiver: {} deliveries, {} signatures verified, {} refused",
                        counts.delivered.load(Ordering::Relaxed),
                        counts.verified.load(Ordering::Relaxed),
                        counts.refused.load(Ordering::Relaxed)
                    );
                }
            });
        },
    );
    receiver.stop();
    sim.stop();
    println!(
        "Demo data (webhook outbox, audit trail) kept in {}",
        data_dir.display()
    );
    code
}

/// The configured settings, pointed at the emulator and the receiver, with storage in
/// `data_dir`.
fn demo_settings(
    settings: &Settings,
    emulator: &str,
    receiver: &str,
    data_dir: &std::path::Path,
) -> Settings {
    let mut settings = settings.clone();
    settings.genesys.api_base = emulator.to_owned();
    settings.genesys.login_base = String::new();
    settings.webhook.outbox_path = data_dir.join("outbox.sqlite").display().to_string();
    settings.audit.path = data_dir.join("audit.sqlite").display().to_string();
    settings.webhook.allow_hosts.push("127.0.0.1".into());
    settings.webhooks.push(WebhookSettings {
        id: "demo-receiver".into(),
        url: receiver.to_owned(),
        secret_env: DEMO_SECRET_VAR.into(),
        scopes: Vec::new(),
        violations_only: false,
        timeout_secs: None,
        concurrency: None,
        retry_schedule_secs: None,
    });
    settings
}

/// What the receiver has seen.
#[derive(Default)]
struct Counts {
    delivered: AtomicU64,
    verified: AtomicU64,
    refused: AtomicU64,
}

/// A supervisor system stand-in: verifies each delivery's Standard Webhooks signature and
/// timestamp, answers 204 (or 401 when either is wrong), and counts.
struct Receiver {
    url: String,
    counts: Arc<Counts>,
    stop: oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Receiver {
    fn spawn(secret: &str) -> std::io::Result<Self> {
        let signer = Signer::parse(secret).map_err(std::io::Error::other)?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}/webhook", listener.local_addr()?);
        let counts = Arc::new(Counts::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let shared = (Arc::new(signer), counts.clone());
        let thread = std::thread::Builder::new()
            .name("demo-receiver".into())
            .spawn(move || {
                actix_rt::System::new().block_on(async move {
                    let (signer, counts) = shared;
                    let server = HttpServer::new(move || {
                        App::new()
                            .app_data(web::Data::from(signer.clone()))
                            .app_data(web::Data::from(counts.clone()))
                            .route("/webhook", web::post().to(receive))
                    })
                    .workers(1)
                    .disable_signals()
                    .listen(listener);
                    let Ok(server) = server else { return };
                    let server = server.run();
                    let handle = server.handle();
                    actix_rt::spawn(server);
                    let _ = stopped.await;
                    handle.stop(true).await;
                });
            })?;
        Ok(Self {
            url,
            counts,
            stop,
            thread,
        })
    }

    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    signer: web::Data<Signer>,
    counts: web::Data<Counts>,
) -> HttpResponse {
    counts.delivered.fetch_add(1, Ordering::Relaxed);
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let timestamp: i64 = header("webhook-timestamp").parse().unwrap_or(0);
    let fresh = (chrono::Utc::now().timestamp() - timestamp).abs() <= TIMESTAMP_TOLERANCE_SECS;
    if fresh
        && signer.verify(
            header("webhook-id"),
            timestamp,
            &body,
            header("webhook-signature"),
        )
    {
        counts.verified.fetch_add(1, Ordering::Relaxed);
        HttpResponse::NoContent().finish()
    } else {
        counts.refused.fetch_add(1, Ordering::Relaxed);
        HttpResponse::Unauthorized().finish()
    }
}
