//! Queues and their members: `GET /api/v2/routing/queues` and
//! `GET /api/v2/routing/queues/{queueId}/members` (paged; `joined=true|false` filters).
//! Not in the reference; modelled on the SDKs' `Queue` and `QueueMember`. Every member of a
//! queue in the emulator is joined: its active queues while On Queue are all its queues.

use actix_web::{HttpRequest, HttpResponse, web};

use super::{Page, Params};
use crate::{
    genesys::models::{EntityRef, Queue, QueueMember},
    sim::{auth::Api, respond::ApiError, world::Sim},
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v2/routing/queues", web::get().to(queues))
        .route(
            "/api/v2/routing/queues/{queueId}/members",
            web::get().to(members),
        );
}

fn queue_uri(id: &str) -> String {
    format!("/api/v2/routing/queues/{id}")
}

async fn queues(
    _api: Api,
    req: HttpRequest,
    sim: web::Data<Sim>,
) -> Result<HttpResponse, ApiError> {
    let org = &sim.org;
    let page = Page::from_params(&Params::of(&req), sim.config.max_page_size)?;
    let members = |q: usize| {
        org.agents
            .iter()
            .filter(|a| a.queues.as_slice().contains(&(q as u16)))
            .count() as u32
    };
    let entities = org.queues[page.range(org.queues.len())]
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let index = page.range(org.queues.len()).start + i;
            Queue {
                id: q.id.clone(),
                name: Some(format!("Queue {}", index + 1)),
                member_count: Some(members(index)),
                joined_member_count: Some(members(index)),
                division: Some(EntityRef {
                    id: org.division_id.clone(),
                    self_uri: Some(format!(
                        "/api/v2/authorization/divisions/{}",
                        org.division_id
                    )),
                }),
                self_uri: Some(queue_uri(&q.id)),
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(page.listing(
        "/api/v2/routing/queues",
        "",
        entities,
        org.queues.len(),
    )))
}

async fn members(
    _api: Api,
    req: HttpRequest,
    path: web::Path<String>,
    sim: web::Data<Sim>,
) -> Result<HttpResponse, ApiError> {
    let org = &sim.org;
    let params = Params::of(&req);
    let page = Page::from_params(&params, sim.config.max_page_size)?;
    let queue = org
        .queue_index(&path)
        .ok_or_else(|| ApiError::NotFound(format!("queue {} not found", path.as_str())))?;
    let joined_filter = match params.get("joined") {
        None => None,
        Some(v) if v.eq_ignore_ascii_case("true") => Some(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Some(false),
        Some(v) => {
            return Err(ApiError::BadRequest(format!(
                "joined must be true or false, not {v:?}"
            )));
        }
    };
    let all: Vec<usize> = if joined_filter == Some(false) {
        Vec::new()
    } else {
        (0..org.agents.len())
            .filter(|&a| org.agents[a].queues.as_slice().contains(&queue))
            .collect()
    };
    let entities = all[page.range(all.len())]
        .iter()
        .map(|&a| {
            let agent = &org.agents[a];
            QueueMember {
                id: agent.id.clone(),
                name: Some(agent.name.clone()),
                user: Some(EntityRef {
                    id: agent.id.clone(),
                    self_uri: Some(format!("/api/v2/users/{}", agent.id)),
                }),
                ring_number: Some(1),
                joined: Some(true),
                member_by: Some("user".into()),
                self_uri: Some(format!("{}/members/{}", queue_uri(&path), agent.id)),
            }
        })
        .collect();
    let extra = joined_filter.map_or(String::new(), |j| format!("&joined={j}"));
    let base = format!("{}/members", queue_uri(&path));
    Ok(HttpResponse::Ok().json(page.listing(&base, &extra, entities, all.len())))
}
