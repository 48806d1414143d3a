//! A Genesys-style client of the emulator's REST API, written by hand so that a test sees
//! every status and header: login, channels, subscriptions, raw calls with any token. The
//! emulator's admin API is on [`TestSim`].

use actix_web::http::{Method, StatusCode, header::HeaderMap};
use base64::Engine;
use futures_util::Stream;
use serde_json::{Value, json};

use super::{WAIT, sim::TestSim, within};

/// An emulator with [`super::sim::config`] and a client holding a token.
pub async fn setup(agents: u32) -> (TestSim, Client) {
    let sim = TestSim::with_config(super::sim::config(agents));
    let client = Client::new(&sim).await;
    (sim, client)
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
    pub async fn new(sim: &TestSim) -> Self {
        let mut client = Self {
            base: sim.handle.base.clone(),
            client_id: sim.handle.client_id.clone(),
            client_secret: sim.handle.client_secret.clone(),
            http: awc::Client::builder()
                .timeout(WAIT)
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

    /// An admin call (no token), for a test that looks at the status; the admin calls that
    /// must succeed are on [`TestSim`].
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call_as(None, method, path, body).await
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

    /// The id of the business unit `agent` belongs to (through their management unit).
    pub async fn business_unit(&self, agent: &str) -> String {
        let path = format!("/api/v2/workforcemanagement/agents/{agent}/managementunit");
        let unit = self.get(&path).await;
        assert_eq!(unit.status, StatusCode::OK, "{path}: {:?}", unit.body);
        unit.body["businessUnit"]["id"]
            .as_str()
            .expect("a business unit id")
            .to_owned()
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
