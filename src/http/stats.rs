//! `GET /v1/metrics`: the fan-out's figures as JSON (the seed's `total_broadcasts`,
//! `average_latency_ms`, `active_subscribers`, then percentiles, deliveries, evictions by
//! reason, recovery and downstream state). The Prometheus text is `/metrics` in
//! [`ops`](super::ops).
//!
//! State: `web::Data<HubHandle>`.

use std::time::Duration;

use actix_web::{HttpResponse, web};

use crate::actors::hub::{GetStats, HubHandle};

/// How long `/v1/metrics` waits for the hub before answering 503.
const HUB_ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/metrics").get(v1_metrics));
}

async fn v1_metrics(fanout: web::Data<HubHandle>) -> HttpResponse {
    match tokio::time::timeout(HUB_ANSWER_TIMEOUT, fanout.addr.send(GetStats)).await {
        Ok(Ok(stats)) => HttpResponse::Ok().json(stats),
        Ok(Err(err)) => HttpResponse::ServiceUnavailable().json(
            serde_json::json!({ "error": format!("the broadcast hub is not running: {err}") }),
        ),
        Err(_) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "error": "the broadcast hub did not answer in time" })),
    }
}
