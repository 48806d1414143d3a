//! The Notifications API (Genesys reference §2.1–§2.3): channels and their subscriptions.
//!
//! Channels belong to the OAuth client that created them (another client gets 404); any token
//! of that client may use them. Choices where the reference is silent (UNCONFIRMED):
//! - `includechannels=oauthclient` lists the client's channels made with other tokens with
//!   the id `hidden` and no `connectUri` ("presented to show their existence");
//! - a subscription request with an invalid topic and `ignoreErrors=false` (the default) is
//!   refused whole with 400 `bad.request`; with `ignoreErrors=true` the rest is applied and
//!   the invalid ones come back `Rejected` with a `rejectionReason`;
//! - PUT/POST answer the channel's whole list afterwards (plus this request's rejections);
//!   both extend `expires` to now + channel TTL, even when nothing changed;
//! - DELETE answers 204 with no body.

use actix_web::{HttpRequest, HttpResponse, web};

use super::Params;
use crate::{
    genesys::models::{
        Channel as ChannelModel, ChannelEntityListing, ChannelTopic, ChannelTopicEntityListing,
        TopicState,
    },
    sim::{
        auth::Api,
        hub::{Channel, Hub, Mode, resolve},
        respond::{ApiError, parse_json},
        world::{Sim, lock},
    },
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    let subscriptions = "/api/v2/notifications/channels/{channelId}/subscriptions";
    cfg.route("/api/v2/notifications/channels", web::post().to(create))
        .route("/api/v2/notifications/channels", web::get().to(list))
        .route(
            "/api/v2/notifications/channels/{channelId}",
            web::head().to(exists),
        )
        .route(subscriptions, web::get().to(get_subscriptions))
        .route(subscriptions, web::put().to(replace_subscriptions))
        .route(subscriptions, web::post().to(add_subscriptions))
        .route(subscriptions, web::delete().to(clear_subscriptions));
}

async fn create(api: Api, sim: web::Data<Sim>) -> HttpResponse {
    let mut hub = lock(&sim.hub);
    let (channel, evicted) = hub.create(
        &api.client_id,
        &api.token,
        sim.clock.now(),
        sim.clock.utc_now(),
    );
    let mut model = channel.to_model(&sim.ws_base);
    drop(hub);
    if lock(&sim.faults).take_channel_without_uri() {
        model.connect_uri = None;
    }
    if let Some(evicted) = evicted {
        tracing::info!(channel_id = %evicted, "Removed a channel: the client reached 20 channels.");
    }
    tracing::info!(channel_id = %model.id, "Channel created.");
    HttpResponse::Ok().json(model)
}

async fn list(api: Api, req: HttpRequest, sim: web::Data<Sim>) -> Result<HttpResponse, ApiError> {
    let scope = Params::of(&req)
        .get("includechannels")
        .unwrap_or("token")
        .to_ascii_lowercase();
    let hub = lock(&sim.hub);
    let mine = hub.channels().filter(|c| c.client_id == api.client_id);
    let entities: Vec<ChannelModel> = match scope.as_str() {
        "token" => mine
            .filter(|c| c.token == api.token)
            .map(|c| c.to_model(&sim.ws_base))
            .collect(),
        "oauthclient" => mine
            .map(|c| {
                if c.token == api.token {
                    c.to_model(&sim.ws_base)
                } else {
                    ChannelModel {
                        connect_uri: None,
                        id: "hidden".to_owned(),
                        expires: Some(c.expires),
                    }
                }
            })
            .collect(),
        other => {
            return Err(ApiError::BadRequest(format!(
                "includechannels {other:?} is not token or oauthclient"
            )));
        }
    };
    Ok(HttpResponse::Ok().json(ChannelEntityListing { entities }))
}

/// The channel if it exists and belongs to the caller's client.
fn owned<'h>(hub: &'h Hub, api: &Api, id: &str) -> Result<&'h Channel, ApiError> {
    hub.get(id)
        .filter(|c| c.client_id == api.client_id)
        .ok_or_else(|| ApiError::NotFound(format!("channel {id} not found")))
}

/// 200 if the channel exists, 404 if not (no body either way).
async fn exists(api: Api, path: web::Path<String>, sim: web::Data<Sim>) -> HttpResponse {
    match owned(&lock(&sim.hub), &api, &path) {
        Ok(_) => HttpResponse::Ok().finish(),
        Err(_) => HttpResponse::NotFound().finish(),
    }
}

fn listing(channel: &Channel, rejected: Vec<ChannelTopic>) -> ChannelTopicEntityListing {
    let mut entities: Vec<ChannelTopic> = channel
        .topics
        .keys()
        .map(|id| ChannelTopic {
            state: Some(TopicState::Permitted),
            ..ChannelTopic::new(id.clone())
        })
        .collect();
    entities.extend(rejected);
    ChannelTopicEntityListing { entities }
}

async fn get_subscriptions(
    api: Api,
    path: web::Path<String>,
    sim: web::Data<Sim>,
) -> Result<HttpResponse, ApiError> {
    let hub = lock(&sim.hub);
    let channel = owned(&hub, &api, &path)?;
    Ok(HttpResponse::Ok().json(listing(channel, Vec::new())))
}

async fn replace_subscriptions(
    api: Api,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    sim: web::Data<Sim>,
) -> Result<HttpResponse, ApiError> {
    subscribe(api, req, &path, &body, &sim, Mode::Replace)
}

async fn add_subscriptions(
    api: Api,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    sim: web::Data<Sim>,
) -> Result<HttpResponse, ApiError> {
    subscribe(api, req, &path, &body, &sim, Mode::Add)
}

fn subscribe(
    api: Api,
    req: HttpRequest,
    channel_id: &str,
    body: &[u8],
    sim: &Sim,
    mode: Mode,
) -> Result<HttpResponse, ApiError> {
    let ignore_errors = Params::of(&req).flag("ignoreErrors")?;
    let requested: Vec<ChannelTopic> = parse_json(body)?;
    let mut accepted = Vec::with_capacity(requested.len());
    let mut rejected = Vec::new();
    for topic in &requested {
        for resolved in resolve(&sim.org, &topic.id) {
            match resolved.outcome {
                Ok(target) => accepted.push((resolved.id, target)),
                Err(reason) => rejected.push(ChannelTopic {
                    state: Some(TopicState::Rejected),
                    rejection_reason: Some(reason),
                    ..ChannelTopic::new(resolved.id)
                }),
            }
        }
    }
    if !rejected.is_empty() && !ignore_errors {
        let ids: Vec<&str> = rejected.iter().map(|t| t.id.as_str()).collect();
        return Err(ApiError::BadRequest(format!(
            "invalid topics (use ignoreErrors=true to subscribe to the others): {}",
            ids.join(", ")
        )));
    }
    let mut hub = lock(&sim.hub);
    owned(&hub, &api, channel_id)?;
    hub.subscribe(
        channel_id,
        mode,
        accepted,
        sim.clock.now(),
        sim.clock.utc_now(),
    )
    .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let channel = owned(&hub, &api, channel_id)?;
    tracing::debug!(%channel_id, topics = channel.topics.len(), "Subscriptions changed.");
    Ok(HttpResponse::Ok().json(listing(channel, rejected)))
}

async fn clear_subscriptions(
    api: Api,
    path: web::Path<String>,
    sim: web::Data<Sim>,
) -> Result<HttpResponse, ApiError> {
    let mut hub = lock(&sim.hub);
    owned(&hub, &api, &path)?;
    hub.clear(&path, sim.clock.now());
    Ok(HttpResponse::NoContent().finish())
}
