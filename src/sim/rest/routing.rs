//! Utilization (Genesys reference §4.4): the org default and a user's limits (`level` `Agent` when overridden,
//! else `Organization` with the org default, as documented).

use actix_web::{HttpResponse, web};

use crate::sim::{
    auth::Api,
    org::utilization::Utilization,
    respond::ApiError,
    world::{Sim, lock},
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/api/v2/routing/utilization",
        web::get().to(org_utilization),
    )
    .route(
        "/api/v2/routing/users/{userId}/utilization",
        web::get().to(user_utilization),
    );
}

async fn org_utilization(_api: Api) -> HttpResponse {
    HttpResponse::Ok().json(Utilization::ORG_DEFAULT.to_model(None))
}

async fn user_utilization(
    _api: Api,
    path: web::Path<String>,
    sim: web::Data<Sim>,
) -> Result<HttpResponse, ApiError> {
    let agent = sim
        .org
        .agent_index(&path)
        .ok_or_else(|| ApiError::NotFound(format!("user {} not found", path.as_str())))?;
    let body = match lock(&sim.world).overrides[agent as usize] {
        Some(own) => own.to_model(Some("Agent")),
        None => Utilization::ORG_DEFAULT.to_model(Some("Organization")),
    };
    Ok(HttpResponse::Ok().json(body))
}
