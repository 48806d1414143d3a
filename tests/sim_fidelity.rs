//! Emulator fidelity, REST: every answer has the shape of the reference's examples
//! (`tests/fixtures/genesys`, compared structurally), over real loopback HTTP. The WebSocket
//! messages are in `sim_fidelity_messages.rs`.

mod common;

use actix_web::http::{Method, StatusCode};
use common::{
    emulator_api::setup,
    fixtures::{assert_conforms, fixture},
};
use serde_json::json;

#[actix_web::test]
async fn the_token_answer_and_its_error_have_the_reference_shape() {
    let (_sim, client) = setup(5).await;
    let ok = client
        .login(
            &client.client_id,
            &client.client_secret,
            "grant_type=client_credentials",
        )
        .await;
    assert_conforms(
        &ok.body,
        "token.json",
        &["/access_token", "/token_type", "/expires_in"],
    );
    assert_eq!(ok.body["token_type"], "bearer");
    let bad = client
        .login(&client.client_id, "wrong", "grant_type=client_credentials")
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert_conforms(
        &bad.body,
        "token_error.json",
        &["/error", "/description", "/error_description"],
    );
    assert_eq!(bad.body["error"], "invalid_client");
}

#[actix_web::test]
async fn errors_are_error_bodies_whose_context_id_is_the_correlation_header() {
    let (_sim, client) = setup(5).await;
    for reply in [
        client
            .get("/api/v2/users/00000000-0000-4000-8000-000000000000")
            .await,
        client
            .call_as(None, Method::GET, "/api/v2/users", None)
            .await,
        client.get("/api/v2/users?pageSize=9999").await,
    ] {
        assert_conforms(
            &reply.body,
            "error_body.json",
            &["/status", "/code", "/message", "/contextId"],
        );
        assert_eq!(reply.body["status"], reply.status.as_u16());
        assert_eq!(
            reply.body["contextId"].as_str(),
            reply.header("inin-correlation-id"),
            "contextId is the ININ-Correlation-Id"
        );
    }
}

#[actix_web::test]
async fn a_users_page_with_every_expansion_has_the_reference_shape() {
    let (_sim, client) = setup(30).await;
    let reply = client
        .get("/api/v2/users?pageSize=10&pageNumber=2&expand=presence,routingStatus,conversationSummary")
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_conforms(
        &reply.body,
        "users_page.json",
        &[
            "/entities/0/id",
            "/entities/0/name",
            "/entities/0/presence/presenceDefinition/systemPresence",
            "/entities/0/routingStatus/status",
            "/entities/0/conversationSummary/call/contactCenter/active",
            "/pageSize",
            "/pageNumber",
            "/total",
            "/firstUri",
            "/selfUri",
            "/nextUri",
            "/previousUri",
            "/lastUri",
            "/pageCount",
        ],
    );
    assert_eq!(
        reply.body["selfUri"]
            .as_str()
            .map(|u| u.starts_with("/api/v2/users?pageSize=10&pageNumber=2")),
        Some(true)
    );
}

#[actix_web::test]
async fn user_presence_bulk_presences_and_routing_status_have_the_reference_shape() {
    let (sim, client) = setup(10).await;
    let (a, b) = (sim.agent_id(0).await, sim.agent_id(1).await);
    let one = client
        .get(&format!("/api/v2/users/{a}/presences/purecloud"))
        .await;
    assert_conforms(
        &one.body,
        "user_presence.json",
        &[
            "/source",
            "/presenceDefinition/id",
            "/presenceDefinition/systemPresence",
            "/modifiedDate",
        ],
    );
    let bulk = client
        .get(&format!(
            "/api/v2/users/presences/purecloud/bulk?id={a},{b}"
        ))
        .await;
    assert_eq!(bulk.body.as_array().map(Vec::len), Some(2));
    assert_conforms(
        &bulk.body,
        "bulk_presences.json",
        &["/0/userId", "/0/presenceDefinition/id"],
    );
    assert!(bulk.body[1]["userId"].is_string());
    let routing = client
        .get(&format!("/api/v2/users/{a}/routingstatus"))
        .await;
    assert_conforms(
        &routing.body,
        "routing_status.json",
        &["/userId", "/status"],
    );
}

#[actix_web::test]
async fn presence_definitions_on_both_endpoints_and_system_presences_have_the_reference_shape() {
    let (_sim, client) = setup(5).await;
    let current = client.get("/api/v2/presence/definitions").await;
    assert_conforms(
        &current.body,
        "presence_definitions.json",
        &[
            "/entities/0/id",
            "/entities/0/type",
            "/entities/0/systemPresence",
            "/total",
        ],
    );
    let system: Vec<&str> = current.body["entities"]
        .as_array()
        .expect("entities")
        .iter()
        .filter(|d| d["type"] == "System")
        .filter_map(|d| d["systemPresence"].as_str())
        .collect();
    for p in [
        "Available",
        "Away",
        "Busy",
        "Offline",
        "Idle",
        "OnQueue",
        "Meal",
        "Training",
        "Meeting",
        "Break",
    ] {
        assert!(system.contains(&p), "{p} missing from {system:?}");
    }
    let available = current.body["entities"]
        .as_array()
        .expect("entities")
        .iter()
        .find(|d| d["systemPresence"] == "Available" && d["type"] == "System");
    assert_eq!(
        available.map(|d| d["id"].clone()),
        Some(json!("6a3af858-942f-489d-9700-5f9bcdcdae9b"))
    );
    assert!(
        current.body["entities"]
            .as_array()
            .expect("entities")
            .iter()
            .any(|d| d["type"] == "User")
    );

    let legacy = client.get("/api/v2/presencedefinitions?pageSize=100").await;
    assert_conforms(
        &legacy.body,
        "presence_definitions_legacy.json",
        &[
            "/entities/0/id",
            "/entities/0/systemPresence",
            "/pageSize",
            "/total",
        ],
    );
    assert!(
        legacy.body["entities"]
            .as_array()
            .expect("entities")
            .iter()
            .any(|d| d["systemPresence"] == "On Queue")
    );

    let sys = client.get("/api/v2/systempresences").await;
    assert_conforms(&sys.body, "system_presences.json", &["/0/id", "/0/name"]);
    assert_eq!(sys.body.as_array().map(Vec::len), Some(10));
}

#[actix_web::test]
async fn utilization_is_the_reference_default_for_the_org_and_carries_a_level_per_user() {
    let (sim, client) = setup(40).await;
    let org = client.get("/api/v2/routing/utilization").await;
    assert_conforms(
        &org.body,
        "utilization_org.json",
        &["/utilization/call/maximumCapacity"],
    );
    assert_eq!(
        org.body["utilization"],
        fixture("utilization_org.json")["utilization"],
        "org default exactly as the reference"
    );
    assert!(org.body.get("level").is_none());
    let truth = sim.truth().await;
    let mut levels = Vec::new();
    for agent in truth["agents"].as_array().expect("agents") {
        let id = agent["id"].as_str().expect("id");
        let user = client
            .get(&format!("/api/v2/routing/users/{id}/utilization"))
            .await;
        assert_conforms(
            &user.body,
            "utilization_user.json",
            &["/utilization/chat/maximumCapacity", "/level"],
        );
        levels.push(user.body["level"].as_str().expect("level").to_owned());
    }
    assert!(levels.iter().any(|l| l == "Organization"));
    assert!(
        levels.iter().any(|l| l == "Agent"),
        "about 10% of agents have an override"
    );
}

#[actix_web::test]
async fn wfm_units_and_activity_codes_have_the_reference_shape() {
    let (sim, client) = setup(10).await;
    let agent = sim.agent_id(0).await;
    let unit = client
        .get(&format!(
            "/api/v2/workforcemanagement/agents/{agent}/managementunit"
        ))
        .await;
    assert_conforms(
        &unit.body,
        "agent_management_unit.json",
        &["/user/id", "/managementUnit/id", "/businessUnit/id"],
    );
    let mu = unit.body["managementUnit"]["id"].as_str().expect("mu");
    let bu = unit.body["businessUnit"]["id"].as_str().expect("bu");
    let mu_reply = client
        .get(&format!("/api/v2/workforcemanagement/managementunits/{mu}"))
        .await;
    assert_conforms(
        &mu_reply.body,
        "management_unit.json",
        &["/id", "/businessUnit/id", "/timeZone"],
    );
    let codes = client
        .get(&format!(
            "/api/v2/workforcemanagement/businessunits/{bu}/activitycodes"
        ))
        .await;
    assert_conforms(
        &codes.body,
        "activity_codes.json",
        &["/entities/0/id", "/entities/0/category"],
    );
    let categories: Vec<&str> = codes.body["entities"]
        .as_array()
        .expect("entities")
        .iter()
        .filter_map(|c| c["category"].as_str())
        .collect();
    for c in [
        "OnQueueWork",
        "Break",
        "Meal",
        "Meeting",
        "OffQueueWork",
        "TimeOff",
        "Training",
        "Unavailable",
    ] {
        assert!(categories.contains(&c), "{c} missing");
    }
    assert!(categories.len() > 8, "a couple of extra codes");
}

#[actix_web::test]
async fn a_schedule_search_has_the_reference_shape_complete_or_processing() {
    let (sim, client) = setup(40).await;
    let agent = sim.agent_id(0).await;
    let bu = client.business_unit(&agent).await;
    let now = chrono::Utc::now();
    let body = json!({
        "startDate": (now - chrono::Duration::days(2)).to_rfc3339(),
        "endDate": (now + chrono::Duration::days(2)).to_rfc3339(),
    });
    let path = format!("/api/v2/workforcemanagement/businessunits/{bu}/agentschedules/search");
    let complete = client.call(Method::POST, &path, Some(body.clone())).await;
    assert_eq!(complete.status, StatusCode::OK, "{:?}", complete.body);
    assert_conforms(
        &complete.body,
        "schedule_search.json",
        &[
            "/status",
            "/operationId",
            "/result/agentSchedules/0/user/id",
            "/result/agentSchedules/0/shifts/0/startDate",
            "/result/agentSchedules/0/shifts/0/lengthMinutes",
            "/result/agentSchedules/0/shifts/0/activities/0/activityCodeId",
            "/result/businessUnitTimeZone",
            "/result/publishedSchedules/0/weekDate",
        ],
    );
    assert_eq!(complete.body["status"], "Complete");
    let schedules = complete.body["result"]["agentSchedules"]
        .as_array()
        .expect("schedules");
    assert_eq!(schedules.len(), 40, "every agent of the business unit");
    let processing = client
        .call(Method::POST, &format!("{path}?forceAsync=true"), Some(body))
        .await;
    assert_conforms(
        &processing.body,
        "schedule_search_processing.json",
        &["/status", "/operationId", "/progress"],
    );
    assert_eq!(processing.body["status"], "Processing");
    assert!(processing.body.get("result").is_none());
}

#[actix_web::test]
async fn channels_and_subscriptions_have_the_reference_shape() {
    let (sim, client) = setup(5).await;
    let created = client
        .call(Method::POST, "/api/v2/notifications/channels", None)
        .await;
    assert_conforms(
        &created.body,
        "channel.json",
        &["/connectUri", "/id", "/expires"],
    );
    let id = created.body["id"].as_str().expect("id");
    assert!(
        created.body["connectUri"]
            .as_str()
            .expect("uri")
            .ends_with(&format!("/channels/{id}"))
    );
    let listed = client.get("/api/v2/notifications/channels").await;
    assert_conforms(&listed.body, "channels.json", &["/entities/0/id"]);
    let agent = sim.agent_id(0).await;
    let topics = client
        .subscribe(id, &[format!("v2.users.{agent}.presence")])
        .await;
    assert_conforms(
        &topics.body,
        "channel_topics.json",
        &["/entities/0/id", "/entities/0/state"],
    );
    assert_eq!(topics.body["entities"][0]["state"], "Permitted");
}
