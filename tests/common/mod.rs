//! Shared test helpers: an emulator on a free loopback port, a client pointed at it, and its
//! admin API. Every wait is bounded.
#![allow(dead_code)] // each test binary uses a different subset

pub mod service;

use std::{future::Future, sync::Arc, time::Duration};

use agentcast::{
    config::{Credentials, Settings},
    genesys::{ClientConfig, GenesysClient, backoff::Backoff},
    metrics::Metrics,
    sim::{SimConfig, SimHandle},
};
use serde_json::{Value, json};

/// Upper bound for any single wait in a test.
pub const WAIT: Duration = Duration::from_secs(20);

/// Awaits `fut`, failing the test with `what` if it takes longer than [`WAIT`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match actix_rt::time::timeout(WAIT, fut).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {WAIT:?} waiting for {what}"),
    }
}

/// Waits for `child` to exit, for at most `limit`: a thread waits on the process (no
/// polling). Past the limit the child is killed and `None` answered.
pub fn exit_within(child: std::process::Child, limit: Duration) -> Option<std::process::Output> {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => Some(output.expect("the child's output")),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            None
        }
    }
}

/// A running emulator.
pub struct TestSim {
    pub handle: SimHandle,
    http: awc::Client,
}

impl TestSim {
    /// An emulator with `agents` agents and no background events, adjusted by `tweak`.
    pub fn start(agents: u32, tweak: impl FnOnce(&mut SimConfig)) -> Self {
        let mut settings = Settings::defaults().sim;
        settings.agents = agents;
        settings.events_per_sec = 0.0;
        let mut config = SimConfig::from_settings(&settings);
        config.listen = "127.0.0.1:0".parse().expect("valid address");
        tweak(&mut config);
        let handle = agentcast::sim::spawn(config).expect("emulator starts");
        Self {
            handle,
            http: awc::Client::builder().timeout(WAIT).finish(),
        }
    }

    pub fn credentials(&self) -> Credentials {
        Credentials::new(
            self.handle.client_id.clone(),
            self.handle.client_secret.clone(),
        )
    }

    /// Client settings pointed at the emulator, with short retry delays.
    pub fn client_config(&self) -> ClientConfig {
        let mut settings = Settings::defaults().genesys;
        settings.api_base = self.handle.base.clone();
        let mut config =
            ClientConfig::from_settings(&settings, self.credentials()).expect("api base set");
        config.retry.backoff = Backoff::new(Duration::from_millis(20), Duration::from_millis(200));
        config.retry.request_timeout = Duration::from_secs(5);
        config.requests_per_minute = 300;
        config
    }

    pub fn client(&self) -> GenesysClient {
        GenesysClient::new(self.client_config(), Arc::new(Metrics::new()))
    }

    pub async fn get(&self, path: &str) -> Value {
        let mut response = self
            .http
            .get(format!("{}{path}", self.handle.base))
            .send()
            .await
            .expect("admin GET answers");
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response
            .json()
            .limit(64 << 20)
            .await
            .expect("admin answer is JSON")
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let mut response = self
            .http
            .post(format!("{}{path}", self.handle.base))
            .send_json(&body)
            .await
            .expect("admin POST answers");
        assert!(
            response.status().is_success(),
            "POST {path}: {}",
            response.status()
        );
        response.json().limit(64 << 20).await.unwrap_or(Value::Null)
    }

    pub async fn fault(&self, name: &str, body: Value) -> Value {
        self.post(&format!("/sim/faults/{name}"), body).await
    }

    /// How many requests the emulator answered on `route` with `status`.
    pub async fn calls(&self, route: &str, status: u16) -> u64 {
        let calls = self.get("/sim/calls").await;
        calls["calls"]
            .as_array()
            .expect("calls list")
            .iter()
            .filter(|c| c["route"] == json!(route) && c["status"] == json!(status))
            .map(|c| c["count"].as_u64().unwrap_or(0))
            .sum()
    }

    /// The emulator's channels as it sees them.
    pub async fn channels(&self) -> Vec<Value> {
        let channels = self.get("/sim/channels").await;
        channels
            .as_array()
            .or_else(|| channels["channels"].as_array())
            .cloned()
            .expect("channel list")
    }
}
