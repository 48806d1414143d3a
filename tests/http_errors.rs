//! Every error the service answers is JSON with the status of its cause, on every route
//! family: unknown paths 404, a known path with another method 405 with `Allow`, malformed
//! queries (a bad or zero `limit`, a repeated parameter) 400, a refused WebSocket handshake
//! 400; and malformed HTTP, which the client caused, is logged at WARN, not ERROR.

mod common;

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use actix_web::http::Method;
use common::{
    WAIT,
    service::{KEY, TestService},
    sim::TestSim,
    within,
};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One answer, as a client sees it.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    allow: Option<String>,
    body: String,
}

async fn call(service: &TestService, method: Method, path: &str, with_key: bool) -> Answer {
    let client = awc::Client::builder().timeout(WAIT).finish();
    let mut request = client.request(method.clone(), format!("{}{path}", service.base));
    if with_key {
        request = request.insert_header(("Authorization", format!("Bearer {KEY}")));
    }
    let mut response = within(&format!("{method} {path}"), request.send())
        .await
        .unwrap_or_else(|err| panic!("{method} {path}: {err}"));
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().expect("an ASCII header").to_owned())
    };
    let content_type = header("content-type").unwrap_or_default();
    let allow = header("allow");
    let body = response.body().await.expect("a body");
    Answer {
        status: response.status().as_u16(),
        content_type,
        allow,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// A request that must be refused: its status, words its error must contain, and the `Allow`
/// header a 405 must carry.
struct Refusal {
    method: Method,
    path: &'static str,
    with_key: bool,
    status: u16,
    mentions: &'static str,
    allow: Option<&'static str>,
}

const fn refused(
    method: Method,
    path: &'static str,
    status: u16,
    mentions: &'static str,
) -> Refusal {
    Refusal {
        method,
        path,
        with_key: true,
        status,
        mentions,
        allow: None,
    }
}

const fn wrong_method(method: Method, path: &'static str, allow: &'static str) -> Refusal {
    Refusal {
        method,
        path,
        with_key: true,
        status: 405,
        mentions: "is not allowed on",
        allow: Some(allow),
    }
}

#[actix_rt::test]
async fn every_route_family_answers_its_errors_as_json_with_the_status_of_the_cause() {
    let sim = TestSim::start(5, |_| {});
    let service = TestService::start(&sim, |_| {}).await;
    let table = [
        // no route at all
        refused(
            Method::GET,
            "/no/such/path",
            404,
            "no route for GET /no/such/path",
        ),
        // ops
        wrong_method(Method::POST, "/healthz", "GET"),
        wrong_method(Method::DELETE, "/metrics", "GET"),
        wrong_method(Method::PUT, "/readyz", "GET"),
        // stats
        wrong_method(Method::POST, "/v1/metrics", "GET"),
        // agents
        wrong_method(Method::POST, "/v1/agents", "GET"),
        wrong_method(Method::DELETE, "/v1/agents/some-agent", "GET"),
        refused(Method::GET, "/v1/agents/no-such-agent", 404, "no state"),
        Refusal {
            with_key: false,
            ..refused(Method::GET, "/v1/agents", 401, "API key is required")
        },
        // subscribe
        wrong_method(Method::POST, "/v1/subscribe", "GET"),
        refused(Method::GET, "/v1/subscribe", 400, "WebSocket"),
        refused(Method::GET, "/v1/subscribe?since=yesterday", 400, "since"),
        // webhooks
        refused(
            Method::GET,
            "/v1/webhooks/crm/dead-letters?limit=0",
            400,
            "limit=\"0\"",
        ),
        refused(
            Method::GET,
            "/v1/webhooks/crm/dead-letters?limit=-1",
            400,
            "limit=\"-1\"",
        ),
        refused(
            Method::GET,
            "/v1/webhooks/crm/dead-letters?since=2026-01-01T00:00:00Z&since=2026-01-02T00:00:00Z",
            400,
            "duplicate field `since`",
        ),
        refused(Method::GET, "/v1/webhooks/crm", 404, "crm"),
        wrong_method(Method::GET, "/v1/webhooks/crm/enable", "POST"),
        wrong_method(Method::GET, "/v1/webhooks/crm/replay", "POST"),
        wrong_method(Method::DELETE, "/v1/webhooks", "GET"),
        // audit
        refused(Method::GET, "/v1/audit?limit=-1", 400, "limit=\"-1\""),
        refused(Method::GET, "/v1/audit?limit=0", 400, "from 1 to 1000"),
        refused(
            Method::GET,
            "/v1/audit?since=1&since=2",
            400,
            "duplicate field `since`",
        ),
        refused(Method::GET, "/v1/audit?since=yesterday", 400, "yesterday"),
        wrong_method(Method::POST, "/v1/audit", "GET"),
        // dashboard
        wrong_method(Method::POST, "/", "GET"),
        refused(
            Method::GET,
            "/dashboard/no-such-file.js",
            404,
            "no-such-file.js",
        ),
    ];
    let mut failures = Vec::new();
    for row in &table {
        let answer = call(&service, row.method.clone(), row.path, row.with_key).await;
        let error = serde_json::from_str::<Value>(&answer.body)
            .ok()
            .and_then(|body| body["error"].as_str().map(str::to_owned));
        let fine = answer.status == row.status
            && answer.content_type.starts_with("application/json")
            && error.as_deref().is_some_and(|e| e.contains(row.mentions))
            && answer.allow.as_deref() == row.allow;
        if !fine {
            failures.push(format!(
                "{} {}: expected {} with a JSON error mentioning {:?}{}, got {answer:?}",
                row.method,
                row.path,
                row.status,
                row.mentions,
                row.allow
                    .map(|a| format!(" and Allow: {a}"))
                    .unwrap_or_default(),
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The edges of `limit` that are accepted: 1, and more than the maximum (capped).
    for path in ["/v1/audit?limit=1", "/v1/audit?limit=5000"] {
        let answer = call(&service, Method::GET, path, true).await;
        assert_eq!(answer.status, 200, "{path}: {answer:?}");
    }
    let one: Value = serde_json::from_str(
        &call(&service, Method::GET, "/v1/audit?limit=1", true)
            .await
            .body,
    )
    .expect("JSON");
    assert!(
        one["records"].as_array().expect("records").len() <= 1,
        "{one}"
    );
    service.shutdown().await;
}

/// What the service logs, as JSON lines.
#[derive(Clone, Default)]
struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl CapturedLog {
    fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().expect("the log buffer").clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

impl Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("the log buffer")
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[actix_rt::test]
async fn malformed_http_is_answered_400_and_logged_at_warn_not_error() {
    let log = CapturedLog::default();
    let writer = log.clone();
    agentcast::telemetry::init_with_writer(agentcast::config::LogFormat::Json, "info", move || {
        writer.clone()
    });
    let sim = TestSim::start(5, |_| {});
    let service = TestService::start(&sim, |_| {}).await;
    let addr = service.base.trim_start_matches("http://").to_owned();

    let mut socket = within("connect", tokio::net::TcpStream::connect(&addr))
        .await
        .expect("connects");
    within(
        "a malformed request is sent",
        socket.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n"),
    )
    .await
    .expect("written");
    let mut answer = Vec::new();
    within("the answer and the close", socket.read_to_end(&mut answer))
        .await
        .expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");

    let mentions_it = |line: &Value| {
        ["message", "error"].iter().any(|field| {
            line[field]
                .as_str()
                .is_some_and(|text| text.contains("request parse error"))
        })
    };
    let logged = common::eventually("the malformed request in the log", || async {
        let lines: Vec<Value> = log.lines().into_iter().filter(mentions_it).collect();
        if lines.is_empty() {
            Err("not logged yet")
        } else {
            Ok(lines)
        }
    })
    .await;
    assert_eq!(logged.len(), 1, "logged once: {logged:?}");
    assert_eq!(logged[0]["level"], "WARN", "{}", logged[0]);
    assert!(
        logged[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("malformed HTTP request")),
        "{}",
        logged[0]
    );
    service.shutdown().await;
}
