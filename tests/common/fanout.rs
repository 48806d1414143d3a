//! The fan-out alone: a server with the hub and the subscribe, stats and ops routes on
//! `127.0.0.1:0` whose audit records a test reads, subscribers on raw sockets
//! ([`super::rawws`]) whose every wait has a timeout, and synthetic validated states.

use std::{collections::BTreeMap, net::SocketAddr, sync::Arc, time::Instant};

use actix_web::{App, HttpServer, dev::ServerHandle, web};
use agentcast::{
    Metrics,
    actors::hub::{GetStats, HubHandle, HubStats, Publish, downstream::Downstream},
    auth::{ApiKeys, hash_key_hex},
    config::{ApiKeySettings, SubscriberSettings},
    event::{AgentState, AuditRecord, Scope, Validated, Violation, ViolationKind},
    http::{stats, subscribe},
};
use chrono::Utc;
use serde_json::Value;
use tokio::sync::mpsc;

use super::{
    WAIT, eventually,
    forward::forward,
    rawws::{Frame, RawWs, Refused},
};

/// A key for every scope.
pub const ALL_KEY: &str = "all-scopes-key";
/// A key for `global_routing` only.
pub const ROUTING_KEY: &str = "routing-only-key";

pub struct TestServer {
    pub addr: SocketAddr,
    pub hub: HubHandle,
    pub metrics: Arc<Metrics>,
    pub audit: mpsc::UnboundedReceiver<AuditRecord>,
    server: ServerHandle,
}

/// Settings for tests: the defaults with a small ring.
pub fn settings() -> SubscriberSettings {
    SubscriberSettings {
        recovery_ring_size: 100,
        ..SubscriberSettings::default()
    }
}

impl TestServer {
    pub async fn start(settings: SubscriberSettings) -> Self {
        Self::start_with(settings, vec![]).await
    }

    pub async fn start_with(settings: SubscriberSettings, downstream: Vec<Downstream>) -> Self {
        let metrics = Arc::new(Metrics::new());
        let (audit_recipient, audit) = forward::<AuditRecord>();
        let hub = HubHandle::start(
            Arc::new(settings),
            metrics.registry(),
            downstream,
            Some(audit_recipient),
        )
        .expect("metrics register once");
        let keys = web::Data::new(ApiKeys::from_settings(&[
            ApiKeySettings {
                name: "all".into(),
                sha256: hash_key_hex(ALL_KEY),
                scopes: vec!["*".into()],
                admin: false,
            },
            ApiKeySettings {
                name: "routing".into(),
                sha256: hash_key_hex(ROUTING_KEY),
                scopes: vec!["global_routing".into()],
                admin: false,
            },
        ]));
        let hub_data = web::Data::new(hub.clone());
        let metrics_data = web::Data::from(Arc::clone(&metrics));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(hub_data.clone())
                .app_data(keys.clone())
                .app_data(metrics_data.clone())
                .configure(subscribe::routes)
                .configure(stats::routes)
                .configure(agentcast::http::ops::routes)
        })
        .workers(2)
        .tcp_nodelay(true)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("bind 127.0.0.1:0");
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_rt::spawn(server);
        Self {
            addr,
            hub,
            metrics,
            audit,
            server: handle,
        }
    }

    pub async fn publish(&self, validated: Validated) {
        tokio::time::timeout(WAIT, self.hub.addr.send(Publish { validated }))
            .await
            .expect("the hub answers in time")
            .expect("the hub is running");
    }

    pub async fn stats(&self) -> HubStats {
        tokio::time::timeout(WAIT, self.hub.addr.send(GetStats))
            .await
            .expect("the hub answers in time")
            .expect("the hub is running")
    }

    /// Connects with `Authorization: Bearer <key>`; panics on refusal.
    pub async fn connect(&self, key: &str, query: &str) -> Subscriber {
        match self.try_connect(key, query).await {
            Ok(client) => client,
            Err(refused) => panic!("refused: {refused:?}"),
        }
    }

    pub async fn try_connect(&self, key: &str, query: &str) -> Result<Subscriber, Refused> {
        let auth = format!("Bearer {key}");
        let target = format!("/v1/subscribe?{query}");
        let headers: Vec<(&str, &str)> = if key.is_empty() {
            vec![]
        } else {
            vec![("Authorization", &auth)]
        };
        tokio::time::timeout(WAIT, RawWs::connect(self.addr, &target, &headers, None))
            .await
            .expect("the upgrade is answered in time")
            .expect("the connection works")
            .map(|ws| Subscriber { ws })
    }

    pub async fn stop(self) {
        self.server.stop(false).await;
        self.hub.stop();
    }

    /// Waits for the next audit record.
    pub async fn next_audit(&mut self) -> AuditRecord {
        tokio::time::timeout(WAIT, self.audit.recv())
            .await
            .expect("an audit record in time")
            .expect("the collector is running")
    }

    /// Polls the hub's stats until `done` holds (or fails after [`WAIT`]).
    pub async fn wait_for_stats(&self, what: &str, done: impl Fn(&HubStats) -> bool) -> HubStats {
        eventually(what, || async {
            let stats = self.stats().await;
            if done(&stats) { Ok(stats) } else { Err(stats) }
        })
        .await
    }
}

/// A subscriber on a raw socket.
pub struct Subscriber {
    pub ws: RawWs,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Subscriber")
    }
}

impl Subscriber {
    /// Reads in a task of its own from now on (answering pings all along).
    pub fn in_background(mut self) -> Background {
        let (tx, frames) = mpsc::unbounded_channel();
        actix_rt::spawn(async move {
            while let Ok(Some(frame)) = self.ws.next().await {
                if !matches!(frame, Frame::Ping(_) | Frame::Pong(_)) && tx.send(frame).is_err() {
                    break;
                }
            }
        });
        Background { frames }
    }

    /// The next frame (pings answered and skipped unless `answer_pings` is off).
    pub async fn frame(&mut self) -> Frame {
        loop {
            let frame = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame in time")
                .expect("the connection works")
                .expect("the server did not hang up");
            match frame {
                Frame::Ping(_) | Frame::Pong(_) if self.ws.answer_pings => continue,
                frame => return frame,
            }
        }
    }

    /// The next text frame as JSON.
    pub async fn json(&mut self) -> Value {
        match self.frame().await {
            Frame::Text(text) => serde_json::from_str(&text).expect("frames are JSON"),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// Reads frames until the close; returns its code.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            match self.frame().await {
                Frame::Close(code, _) => return code,
                Frame::Text(_) | Frame::Binary(_) | Frame::Ping(_) | Frame::Pong(_) => {}
            }
        }
    }

    /// Welcome, then the snapshot frames (when not recovered): `(welcome, agents)`.
    pub async fn welcome_and_snapshot(&mut self) -> (Value, Vec<Value>) {
        let welcome = self.json().await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        let agents = if welcome["recovered"] == true {
            vec![]
        } else {
            self.snapshot(welcome["seq"].as_u64().unwrap()).await
        };
        (welcome, agents)
    }

    /// The snapshot frames at `seq`, until `last`.
    pub async fn snapshot(&mut self, seq: u64) -> Vec<Value> {
        let mut agents = Vec::new();
        loop {
            let frame = self.json().await;
            assert_eq!(frame["type"], "snapshot", "{frame}");
            assert_eq!(frame["seq"], seq, "{frame}");
            agents.extend(frame["agents"].as_array().unwrap().iter().cloned());
            if frame["last"] == true {
                return agents;
            }
        }
    }

    /// The next `agent.state` frames' seqs, `n` of them (arrays flattened).
    pub async fn seqs(&mut self, n: usize) -> Vec<u64> {
        let mut seqs = Vec::new();
        while seqs.len() < n {
            let value = self.json().await;
            for event in as_events(&value) {
                seqs.push(event["seq"].as_u64().unwrap());
            }
        }
        seqs
    }

    /// `agent.state` seqs until the one of `agent` (included).
    pub async fn seqs_until_agent(&mut self, agent: &str) -> Vec<u64> {
        let mut seqs = Vec::new();
        loop {
            let value = self.json().await;
            for event in as_events(&value) {
                seqs.push(event["seq"].as_u64().unwrap());
                if event["agentId"] == agent {
                    return seqs;
                }
            }
        }
    }
}

/// A subscriber read by a task of its own.
pub struct Background {
    frames: mpsc::UnboundedReceiver<Frame>,
}

impl Background {
    pub async fn json(&mut self) -> Value {
        match tokio::time::timeout(WAIT, self.frames.recv())
            .await
            .expect("a frame in time")
            .expect("the connection is open")
        {
            Frame::Text(text) => serde_json::from_str(&text).expect("frames are JSON"),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// The `agent.state` objects of a frame: the frame itself, or the elements of an array.
pub fn as_events(value: &Value) -> Vec<&Value> {
    let events: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    for event in &events {
        assert_eq!(event["type"], "agent.state", "{event}");
    }
    events
}

/// A synthetic validated state.
pub fn validated(agent: &str, scope: Scope) -> Validated {
    Validated {
        agent_id: agent.into(),
        state: AgentState {
            current_status: "Available".into(),
            routing_status: "IDLE".into(),
            interaction_load: 0,
            capacity: std::sync::Arc::new(BTreeMap::from([("call".into(), 1)])),
            on_shift: Some(true),
            scheduled_activity: Some("OnQueueWork".into()),
            queues: vec![],
            timestamp: Utc::now(),
        },
        violations: vec![],
        scope,
        validated: true,
        reconciled: false,
        received_at: Instant::now(),
        correlation_id: None,
    }
}

pub fn with_queues(mut v: Validated, queues: &[&str]) -> Validated {
    v.state.queues = queues.iter().map(|q| q.to_string()).collect();
    v
}

pub fn with_violation(mut v: Validated) -> Validated {
    v.violations = vec![Violation {
        kind: ViolationKind::OverCapacity,
        detail: "chat 5 > 4".into(),
    }];
    v.validated = false;
    v
}

/// The test settings of [`settings`], changed by `change`.
pub fn settings_with(change: impl FnOnce(&mut SubscriberSettings)) -> SubscriberSettings {
    let mut settings = settings();
    change(&mut settings);
    settings
}
