//! A webhook receiver on loopback whose answers a test scripts, and synthetic broadcasts as
//! the hub makes them. Standalone (the webhook benchmark includes it by `#[path]`).
#![allow(dead_code)] // the benchmark uses a subset

use std::{
    net::{SocketAddr, TcpListener},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, dev::ServerHandle, web};
use agentcast::event::{AGENT_STATE_TYPE, AgentState, AgentStatePayload, Broadcast, Scope};
use bytes::Bytes;
use tokio::sync::mpsc;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`.
    pub timestamp: i64,
    /// `webhook-signature`.
    pub signature: String,
    pub body: Bytes,
    pub at: Instant,
    /// Whether the request came to the receiver's address (always, for a loopback receiver).
    pub host: Option<String>,
}

/// What the receiver answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn ok() -> Self {
        Self::status(200)
    }

    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }
}

/// Decides each answer; it sees every request in arrival order.
pub type Script = Box<dyn FnMut(&Received) -> Reply + Send>;

/// A webhook receiver on `127.0.0.1:0` (one server worker thread).
pub struct TestReceiver {
    /// `http://127.0.0.1:<port>/hook`.
    pub url: String,
    pub addr: SocketAddr,
    received: mpsc::UnboundedReceiver<Received>,
    script: Arc<Mutex<Script>>,
    server: ServerHandle,
}

impl TestReceiver {
    /// Starts a receiver that answers with `script`. Call inside an actix system.
    pub fn start(script: Script) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let (tx, received) = mpsc::unbounded_channel();
        let script = Arc::new(Mutex::new(script));
        let shared = web::Data::new((tx, script.clone()));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)?
        .run();
        let handle = server.handle();
        actix_rt::spawn(server);
        Ok(Self {
            url: format!("http://{addr}/hook"),
            addr,
            received,
            script,
            server: handle,
        })
    }

    /// Answers `200 OK` to everything.
    pub fn always_ok() -> std::io::Result<Self> {
        Self::start(Box::new(|_| Reply::ok()))
    }

    /// Answers every `n`th request with a 500 and the others with a 200, so that retries
    /// are in flight whenever the service is killed.
    pub fn failing_every(n: u64) -> std::io::Result<Self> {
        let mut requests = 0u64;
        Self::start(Box::new(move |_| {
            requests += 1;
            if requests.is_multiple_of(n) {
                Reply::status(500)
            } else {
                Reply::ok()
            }
        }))
    }

    /// Replaces the script.
    pub fn set_script(&self, script: Script) {
        // unwrap: the script never panics while holding the lock in these tests.
        *self.script.lock().unwrap() = script;
    }

    /// The next request, or `None` after `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<Received> {
        actix_rt::time::timeout(timeout, self.received.recv())
            .await
            .ok()
            .flatten()
    }

    /// Requests received so far and not yet taken.
    pub fn drain(&mut self) -> Vec<Received> {
        std::iter::from_fn(|| self.received.try_recv().ok()).collect()
    }

    pub async fn stop(self) {
        self.server.stop(false).await;
    }
}

type Shared = (mpsc::UnboundedSender<Received>, Arc<Mutex<Script>>);

async fn receive(req: HttpRequest, body: Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let received = Received {
        path: req.path().to_owned(),
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp").parse().unwrap_or_default(),
        signature: header("webhook-signature"),
        body,
        at: Instant::now(),
        host: req
            .headers()
            .get("host")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let reply = {
        // unwrap: the script never panics while holding the lock in these tests.
        let mut script = shared.1.lock().unwrap();
        script(&received)
    };
    let _ = shared.0.send(received);
    let mut response = HttpResponse::build(
        actix_web::http::StatusCode::from_u16(reply.status)
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR),
    );
    for (name, value) in &reply.headers {
        response.insert_header((name.as_str(), value.as_str()));
    }
    response.body(reply.body)
}

/// A broadcast as the hub would make it: `agent.state` payload serialized once.
pub fn broadcast(event_id: &str, seq: u64, agent: &str, scope: Scope) -> Broadcast {
    let now = chrono::Utc::now();
    let payload = AgentStatePayload {
        kind: AGENT_STATE_TYPE.into(),
        id: event_id.into(),
        seq,
        agent_id: agent.into(),
        availability_status_matrix: AgentState {
            current_status: "Available".into(),
            routing_status: "IDLE".into(),
            interaction_load: 0,
            capacity: std::sync::Arc::new([("call".to_owned(), 1)].into()),
            on_shift: Some(true),
            scheduled_activity: Some("OnQueueWork".into()),
            queues: vec!["q1".into()],
            timestamp: now,
        },
        notification_scope: scope,
        validated: true,
        violations: vec![],
        broadcast_timestamp: now,
        latency_ms: 0.1,
        reconciled: false,
    };
    // expect: the payload types serialize infallibly (no maps with non-string keys).
    let json = serde_json::to_vec(&payload).expect("payload serializes");
    Broadcast {
        seq,
        event_id: event_id.into(),
        agent_id: agent.into(),
        scope,
        violations: vec![],
        queues: vec!["q1".into()],
        validated: true,
        json: json.into(),
        latency_ms: 0.1,
        broadcast_at: now,
    }
}
