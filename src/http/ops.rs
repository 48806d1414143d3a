//! Operations endpoints: `/healthz` (the process is alive), `/readyz` (upstream connected
//! and first reconciliation done) and `/metrics` (every registered metric, Prometheus text).
//!
//! State: `web::Data<UpstreamStatus>` and `web::Data<Metrics>`.

use std::sync::atomic::Ordering;

use actix_web::{HttpResponse, Responder, web};
use serde_json::json;

use crate::{actors::stream::UpstreamStatus, metrics::Metrics};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/healthz").get(healthz))
        .service(web::resource("/readyz").get(readyz))
        .service(web::resource("/metrics").get(metrics));
}

async fn healthz() -> impl Responder {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn readyz(status: web::Data<UpstreamStatus>) -> impl Responder {
    let body = json!({
        "ready": status.is_ready(),
        "channels": status.channels.load(Ordering::Relaxed),
        "channelsConnected": status.connected.load(Ordering::Relaxed),
        "agents": status.agents.load(Ordering::Relaxed),
        "reconciled": status.reconciled.load(Ordering::Relaxed),
    });
    if status.is_ready() {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

async fn metrics(metrics: web::Data<Metrics>) -> impl Responder {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render())
}
