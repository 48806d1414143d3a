//! Helpers shared by the emulator's integration tests: start an emulator with small timings,
//! call it over real loopback HTTP and WebSocket with awc, and compare JSON structurally
//! against the fixtures in `tests/fixtures/genesys`. Every await here has a timeout.
#![allow(dead_code)] // each test binary uses its own subset

use std::{future::Future, time::Duration};

use actix_web::http::{Method, StatusCode, header::HeaderMap};
use agentcast::sim::{self, SimConfig, SimHandle};
use awc::ws::{Frame, Message};
use base64::Engine;
use chrono::Utc;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde_json::{Value, json};

/// The longest any single step of a test may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// Settings for tests: quiet (no automatic changes, 30 s heartbeats), generous limits, small
/// grace periods. Tests change what they exercise.
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

pub fn start(config: SimConfig) -> SimHandle {
    sim::spawn(config).expect("the emulator starts")
}

/// An emulator with the test settings and a client holding a token.
pub async fn setup(agents: u32) -> (SimHandle, Client) {
    let sim = start(config(agents));
    let client = Client::new(&sim).await;
    (sim, client)
}

/// Awaits `fut`, failing the test after [`WAIT`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub raw: Vec<u8>,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A Genesys-style client of one emulator.
pub struct Client {
    pub base: String,
    pub client_id: String,
    pub client_secret: String,
    pub http: awc::Client,
    pub token: String,
}

impl Client {
    /// A client holding a fresh token.
    pub async fn new(sim: &SimHandle) -> Self {
        let mut client = Self {
            base: sim.base.clone(),
            client_id: sim.client_id.clone(),
            client_secret: sim.client_secret.clone(),
            http: awc::Client::builder()
                .timeout(Duration::from_secs(20))
                .disable_redirects()
                .finish(),
            token: String::new(),
        };
        client.token = client.new_token().await;
        client
    }

    pub async fn new_token(&self) -> String {
        let reply = self
            .login(
                &self.client_id,
                &self.client_secret,
                "grant_type=client_credentials",
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        reply.body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    pub async fn login(&self, id: &str, secret: &str, form: &str) -> Reply {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        let req = self
            .http
            .post(format!("{}/oauth/token", self.base))
            .insert_header(("Authorization", format!("Basic {basic}")))
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"));
        reply(within("POST /oauth/token", req.send_body(form.to_owned())).await).await
    }

    /// A call with an explicit token (`None`: no Authorization header).
    pub async fn call_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.insert_header(("Authorization", format!("Bearer {token}")));
        }
        let what = format!("{method} {path}");
        let sent = match body {
            Some(body) => within(&what, req.send_json(&body)).await,
            None => within(&what, req.send()).await,
        };
        reply(sent).await
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call_as(Some(&self.token.clone()), method, path, body)
            .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    /// An admin call (no token).
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call_as(None, method, path, body).await
    }

    pub async fn truth(&self) -> Value {
        let reply = self.admin(Method::GET, "/sim/truth", None).await;
        assert_eq!(reply.status, StatusCode::OK);
        reply.body
    }

    /// Creates a channel; returns `(id, connectUri)`.
    pub async fn channel(&self) -> (String, String) {
        let reply = self
            .call(Method::POST, "/api/v2/notifications/channels", None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        (
            reply.body["id"].as_str().expect("id").to_owned(),
            reply.body["connectUri"]
                .as_str()
                .expect("connectUri")
                .to_owned(),
        )
    }

    /// `HEAD /api/v2/notifications/channels/{id}`: 200 or 404.
    pub async fn head(&self, channel: &str) -> StatusCode {
        let path = format!("/api/v2/notifications/channels/{channel}");
        self.call(Method::HEAD, &path, None).await.status
    }

    /// Replaces a channel's subscriptions; asserts 200.
    pub async fn subscribe(&self, channel: &str, topics: &[String]) -> Reply {
        let body: Vec<Value> = topics.iter().map(|t| json!({ "id": t })).collect();
        let path = format!("/api/v2/notifications/channels/{channel}/subscriptions");
        let reply = self
            .call(Method::PUT, &path, Some(Value::Array(body)))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        reply
    }

    /// Sets an agent's state through the admin API; asserts 200.
    pub async fn set_state(&self, agent: &str, state: Value) -> Value {
        let reply = self
            .admin(
                Method::POST,
                &format!("/sim/agents/{agent}/state"),
                Some(state),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        reply.body
    }

    /// Moves the emulator's clock forward (`POST /sim/clock`): its TTLs, heartbeats and timed
    /// faults come due without the test sleeping.
    pub async fn advance_clock(&self, by: Duration) {
        let advance_ms = u64::try_from(by.as_millis()).expect("a sane advance");
        let reply = self
            .admin(
                Method::POST,
                "/sim/clock",
                Some(json!({"advanceMs": advance_ms})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    }

    pub async fn fault(&self, name: &str, body: Value) -> Value {
        let reply = self
            .admin(Method::POST, &format!("/sim/faults/{name}"), Some(body))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{name}: {:?}", reply.body);
        reply.body
    }
}

async fn reply<S>(sent: Result<awc::ClientResponse<S>, awc::error::SendRequestError>) -> Reply
where
    S: Stream<Item = Result<actix_web::web::Bytes, actix_web::error::PayloadError>> + Unpin,
{
    let mut res = sent.expect("request sent");
    let raw = within("response body", res.body().limit(64 * 1024 * 1024))
        .await
        .expect("body read")
        .to_vec();
    Reply {
        status: res.status(),
        headers: res.headers().clone(),
        body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
        raw,
    }
}

/// A client WebSocket.
pub type Ws = actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>;

/// Connects a WebSocket (frames up to 32 MiB).
pub async fn connect(uri: &str) -> Ws {
    let (_, ws) = within(
        "WebSocket connect",
        awc::Client::new()
            .ws(uri)
            .max_frame_size(32 << 20)
            .connect(),
    )
    .await
    .expect("WebSocket connected");
    ws
}

/// The next frame, `None` when the stream ended or failed; panics after `wait`.
pub async fn next_frame<S>(ws: &mut S, wait: Duration) -> Option<Frame>
where
    S: Stream<Item = Result<Frame, awc::error::WsProtocolError>> + Unpin,
{
    tokio::time::timeout(wait, ws.next())
        .await
        .expect("timed out waiting for a frame")
        .and_then(Result::ok)
}

/// The next frame within `wait`, or `Err(())` when none came in time.
pub async fn frame_within<S>(ws: &mut S, wait: Duration) -> Result<Option<Frame>, ()>
where
    S: Stream<Item = Result<Frame, awc::error::WsProtocolError>> + Unpin,
{
    match tokio::time::timeout(wait, ws.next()).await {
        Ok(frame) => Ok(frame.and_then(Result::ok)),
        Err(_) => Err(()),
    }
}

/// The next text frame as a string (other frames fail the test).
pub async fn next_text<S>(ws: &mut S) -> String
where
    S: Stream<Item = Result<Frame, awc::error::WsProtocolError>> + Unpin,
{
    loop {
        match next_frame(ws, WAIT).await {
            Some(Frame::Text(bytes)) => {
                return String::from_utf8(bytes.to_vec()).expect("UTF-8 text");
            }
            Some(Frame::Ping(_) | Frame::Pong(_)) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// The next message that is not a heartbeat, parsed.
pub async fn next_event<S>(ws: &mut S) -> Value
where
    S: Stream<Item = Result<Frame, awc::error::WsProtocolError>> + Unpin,
{
    loop {
        let text = next_text(ws).await;
        let value: Value = serde_json::from_str(&text).expect("JSON message");
        if value["topicName"] != "channel.metadata" {
            return value;
        }
    }
}

pub async fn send_text<S>(ws: &mut S, text: &str)
where
    S: Sink<Message, Error = awc::error::WsProtocolError> + Unpin,
{
    within(
        "WebSocket send",
        ws.send(Message::Text(text.to_owned().into())),
    )
    .await
    .expect("sent");
}

/// What the next text frame is: the body's `message` for `channel.metadata` (heartbeat,
/// pong), else the topic.
pub async fn next_kind(ws: &mut Ws) -> String {
    let message: Value = serde_json::from_str(&next_text(ws).await).expect("json");
    if message["topicName"] == "channel.metadata" {
        message["eventBody"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    } else {
        message["topicName"].as_str().unwrap_or_default().to_owned()
    }
}

/// Sends a ping and waits for its pong; fails if anything else comes first.
pub async fn ping_pong(ws: &mut Ws, before: &str) {
    send_text(ws, r#"{"message": "ping"}"#).await;
    assert_eq!(next_kind(ws).await, "pong", "{before}");
}

/// Sends an RFC 6455 ping, which the emulator answers whatever the faults, and returns the
/// kinds of the text frames that came before its pong: what the emulator sent before it read
/// the ping (a socket's frames are handled in order).
pub async fn until_protocol_pong(ws: &mut Ws) -> Vec<String> {
    within(
        "WebSocket ping",
        ws.send(Message::Ping(actix_web::web::Bytes::from_static(b"marker"))),
    )
    .await
    .expect("sent");
    let mut before = Vec::new();
    loop {
        match next_frame(ws, WAIT).await {
            Some(Frame::Pong(bytes)) if &bytes[..] == b"marker" => return before,
            Some(Frame::Text(bytes)) => {
                let message: Value = serde_json::from_slice(&bytes).expect("json");
                let kind = match message["eventBody"]["message"].as_str() {
                    Some(m) if message["topicName"] == "channel.metadata" => m.to_owned(),
                    _ => message["topicName"].as_str().unwrap_or_default().to_owned(),
                };
                before.push(kind);
            }
            Some(Frame::Ping(_) | Frame::Pong(_)) => {}
            other => panic!("expected frames until the pong, got {other:?}"),
        }
    }
}

/// A fixture from `tests/fixtures/genesys`.
pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/genesys/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    if let Value::Object(map) = &mut value {
        map.remove("_source");
    }
    value
}

/// Checks that every key of `actual` exists in `fixture` with the same JSON type,
/// recursively (array elements against the fixture's first element; a fixture `null`
/// accepts any type; a fixture object whose only key is `<placeholder>` is a map whose
/// values follow that entry). Returns the mismatches.
pub fn mismatches(actual: &Value, fixture: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(actual, fixture, "", &mut out);
    out
}

fn walk(actual: &Value, fixture: &Value, path: &str, out: &mut Vec<String>) {
    match (actual, fixture) {
        (_, Value::Null) => {}
        (Value::Object(a), Value::Object(f)) => {
            let placeholder = (f.len() == 1)
                .then(|| f.iter().next())
                .flatten()
                .filter(|(k, _)| k.starts_with('<') && k.ends_with('>'));
            for (key, value) in a {
                let expected = match placeholder {
                    Some((_, v)) => Some(v),
                    None => f.get(key),
                };
                match expected {
                    Some(expected) => walk(value, expected, &format!("{path}/{key}"), out),
                    None => out.push(format!("{path}/{key}: not in the fixture")),
                }
            }
        }
        (Value::Array(a), Value::Array(f)) => {
            if let Some(first) = f.first() {
                for (i, item) in a.iter().enumerate() {
                    walk(item, first, &format!("{path}/{i}"), out);
                }
            }
        }
        (Value::String(_), Value::String(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::Bool(_), Value::Bool(_)) => {}
        (a, f) => out.push(format!(
            "{path}: {} where the fixture has {}",
            kind(a),
            kind(f)
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Asserts `actual` conforms to the fixture and has each essential JSON pointer.
pub fn assert_conforms(actual: &Value, fixture_name: &str, essential: &[&str]) {
    let fixture = fixture(fixture_name);
    let problems = mismatches(actual, &fixture);
    assert!(
        problems.is_empty(),
        "{fixture_name}: {problems:#?}\nactual: {actual:#}"
    );
    for pointer in essential {
        assert!(
            fixture.pointer(pointer).is_some(),
            "{fixture_name}: the fixture lacks essential key {pointer}"
        );
        assert!(
            actual.pointer(pointer).is_some_and(|v| !v.is_null()),
            "{fixture_name}: essential key {pointer} missing in {actual:#}"
        );
    }
}

/// The id of an agent of the org (from the truth), by position.
pub async fn agent_id(client: &Client, index: usize) -> String {
    client.truth().await["agents"][index]["id"]
        .as_str()
        .expect("agent id")
        .to_owned()
}
