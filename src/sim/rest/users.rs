//! Users (Genesys reference §4.1) and their presence (§3.8): the paged roster, one user, routing status, the
//! PureCloud presence and the bulk presence endpoint.
//!
//! Choices where the reference is silent (UNCONFIRMED):
//! - the roster is sorted by name (`sortOrder` ASC/DESC); `state=active` (default) and `any`
//!   list everyone (all users are active), `inactive`/`deleted` list no one;
//! - the `id` filter accepts up to `max_page_size` ids; unknown ids are left out;
//! - page URIs carry `pageSize` and `pageNumber` first, then the other parameters given, so
//!   following `nextUri` keeps `expand` and the filters;
//! - REST presences spell `systemPresence` like the deprecated definitions (`On Queue`);
//! - the bulk endpoint takes 1..=50 ids (400 otherwise) and leaves unknown ids out.

use actix_web::{HttpRequest, HttpResponse, web};

use super::{Page, Params};
use crate::{
    genesys::models::{
        EntityRef, PresenceDefinitionRef, RoutingStatus, RoutingStatusKind, User, UserPresence,
    },
    sim::{
        agent::AgentState,
        auth::Api,
        messages,
        org::Org,
        respond::ApiError,
        world::{Sim, World, lock},
    },
};

/// Most ids the bulk presence endpoint takes.
const MAX_BULK_IDS: usize = 50;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v2/users", web::get().to(list))
        .route(
            "/api/v2/users/presences/purecloud/bulk",
            web::get().to(bulk_presences),
        )
        .route("/api/v2/users/{userId}", web::get().to(one))
        .route(
            "/api/v2/users/{userId}/routingstatus",
            web::get().to(routing_status),
        )
        .route(
            "/api/v2/users/{userId}/presences/purecloud",
            web::get().to(presence),
        );
}

/// Which `expand` values were asked for.
#[derive(Debug, Clone, Copy, Default)]
struct Expand {
    presence: bool,
    routing_status: bool,
    conversation_summary: bool,
}

impl Expand {
    fn from_params(params: &Params) -> Self {
        let wanted = params.list("expand");
        let has = |name: &str| wanted.iter().any(|w| w.eq_ignore_ascii_case(name));
        Self {
            presence: has("presence"),
            routing_status: has("routingStatus"),
            conversation_summary: has("conversationSummary"),
        }
    }
}

async fn list(_api: Api, req: HttpRequest, sim: web::Data<Sim>) -> Result<HttpResponse, ApiError> {
    let params = Params::of(&req);
    let page = Page::from_params(&params, sim.config.max_page_size)?;
    let expand = Expand::from_params(&params);
    let ids = params.list("id");
    if ids.len() > sim.config.max_page_size as usize {
        return Err(ApiError::BadRequest(format!(
            "at most {} ids may be given",
            sim.config.max_page_size
        )));
    }
    let descending = match params
        .get("sortOrder")
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("ASC") => false,
        Some("DESC") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "sortOrder {other:?} is not ASC or DESC"
            )));
        }
    };
    let everyone = match params.get("state").map(str::to_ascii_lowercase).as_deref() {
        None | Some("active" | "any") => true,
        Some("inactive" | "deleted") => false,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "state {other:?} is not active, inactive, deleted or any"
            )));
        }
    };
    let org = &sim.org;
    let mut order: Vec<u32> = if !everyone {
        Vec::new()
    } else if ids.is_empty() {
        org.name_order.clone()
    } else {
        let mut wanted: Vec<u32> = ids.iter().filter_map(|id| org.agent_index(id)).collect();
        let key = |a: &u32| {
            let def = &org.agents[*a as usize];
            (def.name.clone(), def.id.clone())
        };
        wanted.sort_by_cached_key(key);
        wanted.dedup();
        wanted
    };
    if descending {
        order.reverse();
    }
    let range = page.range(order.len());
    let entities = {
        let world = lock(&sim.world);
        order[range]
            .iter()
            .map(|a| user(org, &world, *a, expand))
            .collect()
    };
    let extra = extra_params(&params);
    Ok(HttpResponse::Ok().json(page.listing("/api/v2/users", &extra, entities, order.len())))
}

/// The non-paging parameters, re-encoded for page URIs.
fn extra_params(params: &Params) -> String {
    let mut extra = String::new();
    for name in ["id", "expand", "state", "sortOrder"] {
        let values = params.list(name);
        if !values.is_empty() {
            let joined = values.join(",");
            let encoded: String = url::form_urlencoded::byte_serialize(joined.as_bytes()).collect();
            extra.push_str(&format!("&{name}={encoded}"));
        }
    }
    extra
}

async fn one(
    _api: Api,
    req: HttpRequest,
    path: web::Path<String>,
    sim: web::Data<Sim>,
) -> Result<HttpResponse, ApiError> {
    let agent = agent(&sim.org, &path)?;
    let expand = Expand::from_params(&Params::of(&req));
    let user = user(&sim.org, &lock(&sim.world), agent, expand);
    Ok(HttpResponse::Ok().json(user))
}

/// `OFF_QUEUE` for an unknown user, as documented (Genesys reference §3.8).
async fn routing_status(_api: Api, path: web::Path<String>, sim: web::Data<Sim>) -> HttpResponse {
    let status = match sim.org.agent_index(&path) {
        Some(agent) => routing(&sim.org, &lock(&sim.world).agents[agent as usize], agent),
        None => RoutingStatus {
            user_id: Some(path.into_inner()),
            status: RoutingStatusKind::OffQueue,
            start_time: None,
        },
    };
    HttpResponse::Ok().json(status)
}

async fn presence(
    _api: Api,
    path: web::Path<String>,
    sim: web::Data<Sim>,
) -> Result<HttpResponse, ApiError> {
    let agent = agent(&sim.org, &path)?;
    let presence = user_presence(&sim.org, &lock(&sim.world).agents[agent as usize], agent);
    Ok(HttpResponse::Ok().json(presence))
}

async fn bulk_presences(
    _api: Api,
    req: HttpRequest,
    sim: web::Data<Sim>,
) -> Result<HttpResponse, ApiError> {
    let ids = Params::of(&req).list("id");
    if ids.is_empty() || ids.len() > MAX_BULK_IDS {
        return Err(ApiError::BadRequest(format!(
            "id must list 1 to {MAX_BULK_IDS} user ids (got {})",
            ids.len()
        )));
    }
    let world = lock(&sim.world);
    let entries: Vec<UserPresence> = ids
        .iter()
        .filter_map(|id| sim.org.agent_index(id))
        .map(|agent| {
            let mut entry = user_presence(&sim.org, &world.agents[agent as usize], agent);
            // UcUserPresence has userId and no `primary`.
            entry.user_id = Some(sim.org.agents[agent as usize].id.clone());
            entry.primary = None;
            entry
        })
        .collect();
    Ok(HttpResponse::Ok().json(entries))
}

fn agent(org: &Org, id: &str) -> Result<u32, ApiError> {
    org.agent_index(id)
        .ok_or_else(|| ApiError::NotFound(format!("user {id} not found")))
}

fn user(org: &Org, world: &World, agent: u32, expand: Expand) -> User {
    let def = &org.agents[agent as usize];
    let state = &world.agents[agent as usize];
    User {
        id: def.id.clone(),
        name: Some(def.name.clone()),
        email: Some(def.email.clone()),
        username: Some(def.email.clone()),
        state: Some("active".to_owned()),
        division: Some(EntityRef {
            id: org.division_id.clone(),
            self_uri: Some(format!(
                "/api/v2/authorization/divisions/{}",
                org.division_id
            )),
        }),
        routing_status: expand.routing_status.then(|| routing(org, state, agent)),
        presence: expand.presence.then(|| user_presence(org, state, agent)),
        conversation_summary: expand
            .conversation_summary
            .then(|| messages::conversation_summary(org, agent, &state.conversations)),
        version: Some(1),
        self_uri: Some(format!("/api/v2/users/{}", def.id)),
    }
}

fn routing(org: &Org, state: &AgentState, agent: u32) -> RoutingStatus {
    RoutingStatus {
        user_id: Some(org.agents[agent as usize].id.clone()),
        status: state.status.routing.kind(),
        start_time: Some(state.status.routing_start),
    }
}

fn user_presence(org: &Org, state: &AgentState, agent: u32) -> UserPresence {
    let def = &org.presences[usize::from(state.status.definition)];
    UserPresence {
        id: None,
        name: None,
        user_id: None,
        source: Some("PURECLOUD".to_owned()),
        source_id: None,
        primary: Some(true),
        presence_definition: Some(PresenceDefinitionRef {
            id: Some(def.id.clone()),
            system_presence: Some(state.status.presence.legacy().to_owned()),
            self_uri: Some(format!("/api/v2/presencedefinitions/{}", def.id)),
        }),
        future_presence_definition: None,
        message: Some(String::new()),
        modified_date: Some(state.status.presence_modified),
        self_uri: Some(format!(
            "/api/v2/users/{}/presences/purecloud",
            org.agents[agent as usize].id
        )),
    }
}
