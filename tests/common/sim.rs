//! The emulator in this process on a free loopback port ([`TestSim`]), the settings tests
//! start it with, and its admin API (`/sim/...`: truth, faults, clock, agent states).

use std::{sync::Arc, time::Duration};

use agentcast::{
    Metrics,
    config::{Credentials, Settings},
    genesys::{ClientConfig, GenesysClient, backoff::Backoff},
    sim::{SimConfig, SimHandle},
};
use chrono::Utc;
use serde_json::{Value, json};

use super::WAIT;

/// Settings for the emulator's own tests: quiet (no automatic changes, 30 s heartbeats),
/// generous limits, small grace periods, fixed credentials. Tests change what they exercise.
pub fn config(agents: u32) -> SimConfig {
    SimConfig {
        listen: "127.0.0.1:0".parse().expect("valid address"),
        agents,
        seed: 7,
        events_per_sec: 0.0,
        token_lifetime: Duration::from_secs(3600),
        rate_limit_per_minute: 100_000,
        heartbeat_interval: Duration::from_secs(30),
        channel_ttl: Duration::from_secs(3600),
        socket_closing_grace: Duration::from_millis(300),
        max_page_size: 500,
        client_id: "test-client".into(),
        client_secret: "test-secret".into(),
        anchor: Utc::now(),
    }
}

/// [`config`] in which nothing comes due while a test advances the emulator's clock by a few
/// hours (tokens, channels, heartbeats and the closing grace last a year), except what the
/// test sets itself.
pub fn timeless(agents: u32) -> SimConfig {
    const YEAR: Duration = Duration::from_secs(365 * 86_400);
    SimConfig {
        token_lifetime: YEAR,
        heartbeat_interval: YEAR,
        channel_ttl: YEAR,
        socket_closing_grace: YEAR,
        ..config(agents)
    }
}

/// A running emulator and a client of its admin API.
pub struct TestSim {
    pub handle: SimHandle,
    http: awc::Client,
}

impl TestSim {
    /// An emulator as agentcast meets it: the embedded `[sim]` defaults with `agents` agents
    /// and no background events, adjusted by `tweak`.
    pub fn start(agents: u32, tweak: impl FnOnce(&mut SimConfig)) -> Self {
        let mut settings = Settings::defaults().sim;
        settings.agents = agents;
        settings.events_per_sec = 0.0;
        let mut config = SimConfig::from_settings(&settings);
        config.listen = "127.0.0.1:0".parse().expect("valid address");
        tweak(&mut config);
        Self::with_config(config)
    }

    /// An emulator with exactly `config` (see [`config`] and [`timeless`]).
    pub fn with_config(config: SimConfig) -> Self {
        let handle = agentcast::sim::spawn(config).expect("the emulator starts");
        Self {
            handle,
            http: awc::Client::builder().timeout(WAIT).finish(),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> &str {
        &self.handle.base
    }

    pub fn credentials(&self) -> Credentials {
        Credentials::new(
            self.handle.client_id.clone(),
            self.handle.client_secret.clone(),
        )
    }

    /// agentcast's client settings pointed at the emulator, with short retry delays.
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

    /// agentcast's Genesys client of the emulator.
    pub fn client(&self) -> GenesysClient {
        GenesysClient::new(self.client_config(), Arc::new(Metrics::new()))
    }

    /// An admin `GET` (no token); a non-2xx answer fails the test.
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

    /// An admin `POST` (no token); a non-2xx answer fails the test. The answer, `Null` when
    /// it is not JSON.
    pub async fn post(&self, path: &str, body: Value) -> Value {
        let mut response = self
            .http
            .post(format!("{}{path}", self.handle.base))
            .send_json(&body)
            .await
            .expect("admin POST answers");
        let status = response.status();
        let answer = response.json().limit(64 << 20).await.unwrap_or(Value::Null);
        assert!(status.is_success(), "POST {path}: {status} {answer}");
        answer
    }

    /// Turns on the fault `name` (`POST /sim/faults/<name>`).
    pub async fn fault(&self, name: &str, body: Value) -> Value {
        self.post(&format!("/sim/faults/{name}"), body).await
    }

    /// The emulator's truth: every agent's state as it holds it.
    pub async fn truth(&self) -> Value {
        self.get("/sim/truth").await
    }

    /// The id of an agent of the org (from the truth), by position.
    pub async fn agent_id(&self, index: usize) -> String {
        self.truth().await["agents"][index]["id"]
            .as_str()
            .expect("agent id")
            .to_owned()
    }

    /// The id of the first agent whose schedule has them on shift now.
    pub async fn agent_on_shift(&self) -> String {
        let truth = self.truth().await;
        truth["agents"]
            .as_array()
            .expect("truth agents")
            .iter()
            .find(|a| a["onShift"] == json!(true))
            .expect("an agent on shift")["id"]
            .as_str()
            .expect("agent id")
            .to_owned()
    }

    /// Sets an agent's state (`POST /sim/agents/<agent>/state`); the emulator's answer.
    pub async fn set_state(&self, agent: &str, state: Value) -> Value {
        self.post(&format!("/sim/agents/{agent}/state"), state)
            .await
    }

    /// Moves the emulator's clock forward (`POST /sim/clock`): its TTLs, heartbeats and timed
    /// faults come due without the test sleeping.
    pub async fn advance_clock(&self, by: Duration) {
        let advance_ms = u64::try_from(by.as_millis()).expect("a sane advance");
        self.post("/sim/clock", json!({"advanceMs": advance_ms}))
            .await;
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
