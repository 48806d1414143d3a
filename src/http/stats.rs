//! `GET /v1/metrics`: the fan-out's figures as JSON (the seed's `total_broadcasts`,
//! `average_latency_ms`, `active_subscribers`, then percentiles, deliveries, evictions by
//! reason, recovery and downstream state); and `GET /metrics`, every registered metric in
//! Prometheus text form.
//!
//! State: `web::Data<HubHandle>`; `/metrics` also `web::Data<Metrics>`.

use std::time::Duration;

use actix_web::{HttpResponse, http::header::ContentType, web};

use crate::{
    actors::hub::{GetStats, HubHandle},
    metrics::Metrics,
};

/// How long `/v1/metrics` waits for the hub before answering 503.
const HUB_ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/metrics", web::get().to(v1_metrics))
        .route("/metrics", web::get().to(prometheus_text));
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

async fn prometheus_text(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType(
            "text/plain; version=0.0.4; charset=utf-8"
                .parse()
                .unwrap_or(mime_text_plain()),
        ))
        .body(metrics.render())
}

fn mime_text_plain() -> actix_web::mime::Mime {
    actix_web::mime::TEXT_PLAIN_UTF_8
}
