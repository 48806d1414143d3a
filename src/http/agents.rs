//! `GET /v1/agents` and `GET /v1/agents/{id}`: each agent's latest validated state, exactly
//! the payload subscribers received (architecture §4), for the scopes the caller's key may see.
//!
//! State: `web::Data<HubHandle>` and `web::Data<ApiKeys>`.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{BufMut, BytesMut};
use serde_json::json;

use crate::{
    actors::hub::{HubHandle, latest::GetLatest},
    auth::ApiKeys,
    event::AgentId,
};

/// How long to wait for the hub before answering 503.
const HUB_ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/agents").get(all_agents))
        .service(web::resource("/v1/agents/{agent_id}").get(one_agent));
}

async fn all_agents(
    req: HttpRequest,
    hub: web::Data<HubHandle>,
    keys: web::Data<ApiKeys>,
) -> HttpResponse {
    latest(&req, &hub, &keys, None).await
}

async fn one_agent(
    req: HttpRequest,
    path: web::Path<String>,
    hub: web::Data<HubHandle>,
    keys: web::Data<ApiKeys>,
) -> HttpResponse {
    latest(&req, &hub, &keys, Some(AgentId::from(path.into_inner()))).await
}

async fn latest(
    req: &HttpRequest,
    hub: &HubHandle,
    keys: &ApiKeys,
    agent_id: Option<AgentId>,
) -> HttpResponse {
    let grant = match keys.authenticate(req) {
        Ok(grant) => grant,
        Err(err) => return actix_web::ResponseError::error_response(&err),
    };
    let one = agent_id.is_some();
    let published =
        match tokio::time::timeout(HUB_ANSWER_TIMEOUT, hub.addr.send(GetLatest { agent_id })).await
        {
            Ok(Ok(published)) => published,
            _ => {
                return HttpResponse::ServiceUnavailable()
                    .json(json!({"error": "the broadcast hub did not answer"}));
            }
        };
    let visible: Vec<_> = published
        .into_iter()
        .filter(|p| grant.allows(p.broadcast.scope))
        .collect();
    if one {
        return match visible.first() {
            Some(p) => HttpResponse::Ok()
                .content_type("application/json")
                .body(p.broadcast.json.clone()),
            None => HttpResponse::NotFound()
                .json(json!({"error": "no state for this agent in the scopes of this key"})),
        };
    }
    // The payloads are already JSON: join them into an array without parsing them again.
    let mut body = BytesMut::with_capacity(
        visible
            .iter()
            .map(|p| p.broadcast.json.len() + 1)
            .sum::<usize>()
            + 2,
    );
    body.put_u8(b'[');
    for (i, p) in visible.iter().enumerate() {
        if i > 0 {
            body.put_u8(b',');
        }
        body.put_slice(&p.broadcast.json);
    }
    body.put_u8(b']');
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body.freeze())
}
