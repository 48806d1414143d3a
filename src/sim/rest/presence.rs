//! Presence definitions (Genesys reference §3.8): `GET /api/v2/presence/definitions` (not paged, `OnQueue`
//! spelling), the deprecated paged `GET /api/v2/presencedefinitions` (`On Queue` spelling)
//! and `GET /api/v2/systempresences`.
//!
//! UNCONFIRMED choices: system presence ids are the notification spelling (`AVAILABLE`,
//! `ON_QUEUE`) with the definitions' names; no definition is deactivated, so
//! `deactivated=true` lists none.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Duration;

use super::{Page, Params};
use crate::{
    genesys::models::{
        EntityRef, OrganizationPresence, PresenceDefinition, PresenceDefinitionListing,
        SystemPresenceEntity,
    },
    sim::{
        agent::Presence,
        auth::Api,
        org::{Org, PresenceDef},
        respond::ApiError,
        world::Sim,
    },
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v2/presence/definitions", web::get().to(definitions))
        .route("/api/v2/presencedefinitions", web::get().to(legacy))
        .route("/api/v2/systempresences", web::get().to(system_presences));
}

fn labels(def: &PresenceDef) -> Option<BTreeMap<String, String>> {
    Some(BTreeMap::from([("en_US".to_owned(), def.name.clone())]))
}

async fn definitions(
    _api: Api,
    req: HttpRequest,
    sim: web::Data<Sim>,
) -> Result<HttpResponse, ApiError> {
    let deactivated = Params::of(&req).flag("deactivated")?;
    let org = &sim.org;
    let entities: Vec<PresenceDefinition> = if deactivated {
        Vec::new()
    } else {
        org.presences
            .iter()
            .map(|def| PresenceDefinition {
                id: def.id.clone(),
                name: Some(def.name.clone()),
                kind: Some(if def.user_defined { "User" } else { "System" }.to_owned()),
                language_labels: labels(def),
                system_presence: Some(def.presence.canonical().to_owned()),
                division_id: Some(org.division_id.clone()),
                deactivated: Some(false),
                self_uri: Some(format!("/api/v2/presence/definitions/{}", def.id)),
            })
            .collect()
    };
    Ok(HttpResponse::Ok().json(PresenceDefinitionListing {
        total: Some(entities.len() as u64),
        entities,
        self_uri: Some("/api/v2/presence/definitions".to_owned()),
    }))
}

async fn legacy(
    _api: Api,
    req: HttpRequest,
    sim: web::Data<Sim>,
) -> Result<HttpResponse, ApiError> {
    let params = Params::of(&req);
    let page = Page::from_params(&params, sim.config.max_page_size)?;
    let org = &sim.org;
    let all = &org.presences;
    let entities = all[page.range(all.len())]
        .iter()
        .map(|def| legacy_entity(org, def))
        .collect();
    Ok(HttpResponse::Ok().json(page.listing(
        "/api/v2/presencedefinitions",
        "",
        entities,
        all.len(),
    )))
}

fn legacy_entity(org: &Org, def: &PresenceDef) -> OrganizationPresence {
    let created = org.anchor - Duration::days(400);
    let admin = EntityRef::new(org.id.clone());
    OrganizationPresence {
        id: def.id.clone(),
        name: Some(def.name.clone()),
        language_labels: labels(def),
        system_presence: Some(def.presence.legacy().to_owned()),
        deactivated: Some(false),
        primary: Some(!def.user_defined),
        created_by: Some(admin.clone()),
        created_date: Some(created),
        modified_by: Some(admin),
        modified_date: Some(created),
        self_uri: Some(format!("/api/v2/presencedefinitions/{}", def.id)),
    }
}

async fn system_presences(_api: Api) -> HttpResponse {
    let entries: Vec<SystemPresenceEntity> = Presence::ALL
        .into_iter()
        .map(|p| SystemPresenceEntity {
            id: p.notification().to_owned(),
            name: Some(p.legacy().to_owned()),
            self_uri: Some(format!("/api/v2/systempresences/{}", p.notification())),
        })
        .collect();
    HttpResponse::Ok().json(entries)
}
