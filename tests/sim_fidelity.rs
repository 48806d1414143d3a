//! Emulator fidelity: every answer and message the emulator produces has the shape of the
//! reference's examples (`tests/fixtures/genesys`, compared structurally), over real loopback
//! HTTP and WebSocket.

mod sim_common;

use std::collections::HashMap;

use actix_web::http::{Method, StatusCode};
use agentcast::sim::SimHandle;
use serde_json::{Value, json};
use sim_common::*;

async fn setup(agents: u32) -> (SimHandle, Client) {
    let sim = start(config(agents));
    let client = Client::new(&sim).await;
    (sim, client)
}

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
    let (_sim, client) = setup(10).await;
    let (a, b) = (agent_id(&client, 0).await, agent_id(&client, 1).await);
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
    let (_sim, client) = setup(40).await;
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
    let truth = client.truth().await;
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
    let (_sim, client) = setup(10).await;
    let agent = agent_id(&client, 0).await;
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
    let (_sim, client) = setup(40).await;
    let agent = agent_id(&client, 0).await;
    let unit = client
        .get(&format!(
            "/api/v2/workforcemanagement/agents/{agent}/managementunit"
        ))
        .await;
    let bu = unit.body["businessUnit"]["id"]
        .as_str()
        .expect("bu")
        .to_owned();
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
    let (_sim, client) = setup(5).await;
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
    let agent = agent_id(&client, 0).await;
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

/// The messages of one change: agent set Offline, then On Queue with a call.
async fn messages_of_a_change() -> (SimHandle, String, HashMap<String, Value>) {
    let (sim, client) = setup(20).await;
    let agent = agent_id(&client, 3).await;
    client
        .set_state(
            &agent,
            json!({"systemPresence": "Offline", "conversations": {"call": 0}}),
        )
        .await;
    let (channel, uri) = client.channel().await;
    let kinds = [
        "presence",
        "routingStatus",
        "activity",
        "conversationsummary",
        "workforcemanagement.schedules",
    ];
    let topics: Vec<String> = kinds
        .iter()
        .map(|k| format!("v2.users.{agent}.{k}"))
        .collect();
    client.subscribe(&channel, &topics).await;
    let mut ws = connect(&uri).await;
    client
        .set_state(
            &agent,
            json!({"systemPresence": "OnQueue", "conversations": {"call": 1}}),
        )
        .await;
    let shift_start = chrono::Utc::now() - chrono::Duration::hours(1);
    let shifts = json!({"shifts": [{"startDate": shift_start.to_rfc3339(), "lengthMinutes": 480}]});
    let reply = client
        .admin(
            Method::POST,
            &format!("/sim/agents/{agent}/shifts"),
            Some(shifts),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let mut by_kind = HashMap::new();
    while by_kind.len() < kinds.len() {
        let message = next_event(&mut ws).await;
        let topic = message["topicName"].as_str().expect("topicName").to_owned();
        let kind = topic
            .trim_start_matches(&format!("v2.users.{agent}."))
            .to_owned();
        by_kind.insert(kind, message);
    }
    (sim, agent, by_kind)
}

#[actix_web::test]
async fn the_envelope_and_the_presence_message_match_the_official_example() {
    let (_sim, _agent, messages) = messages_of_a_change().await;
    let presence = &messages["presence"];
    // The official example omits modifiedDate, which §3.1 lists: the envelope is compared
    // with it, the body with the §3.1 fixture.
    let mut envelope = presence.clone();
    envelope["eventBody"] = json!({});
    assert_conforms(
        &envelope,
        "envelope_presence.json",
        &["/topicName", "/version", "/metadata/CorrelationId"],
    );
    assert_eq!(presence["version"], "2");
    assert_conforms(
        &presence["eventBody"],
        "presence_event.json",
        &[
            "/source",
            "/presenceDefinition/systemPresence",
            "/primary",
            "/modifiedDate",
        ],
    );
    assert_eq!(
        presence["eventBody"]["presenceDefinition"]["systemPresence"],
        "ON_QUEUE"
    );
}

#[actix_web::test]
async fn the_routing_status_message_matches_the_reference() {
    let (_sim, agent, messages) = messages_of_a_change().await;
    let routing = &messages["routingStatus"];
    assert_conforms(
        routing,
        "routing_status_event.json",
        &[
            "/topicName",
            "/eventBody/id",
            "/eventBody/routingStatus/status",
            "/eventBody/routingStatus/startTime",
            "/metadata/CorrelationId",
        ],
    );
    assert_eq!(routing["eventBody"]["id"], agent.as_str());
    assert_eq!(
        routing["eventBody"]["routingStatus"]["status"],
        "INTERACTING"
    );
}

#[actix_web::test]
async fn the_activity_message_matches_the_reference() {
    let (_sim, _agent, messages) = messages_of_a_change().await;
    let activity = &messages["activity"];
    assert_conforms(
        &activity["eventBody"],
        "activity_event.json",
        &[
            "/id",
            "/routingStatus/status",
            "/presence/presenceDefinition/systemPresence",
            "/presence/modifiedDate",
            "/outOfOffice/active",
            "/activeQueueIds",
            "/dateActiveQueuesChanged",
        ],
    );
    assert!(
        !activity["eventBody"]["activeQueueIds"]
            .as_array()
            .expect("queues")
            .is_empty(),
        "on queue: member queues active"
    );
}

#[actix_web::test]
async fn the_conversation_summary_message_matches_the_reference() {
    let (_sim, agent, messages) = messages_of_a_change().await;
    let summary = &messages["conversationsummary"];
    assert_conforms(
        &summary["eventBody"],
        "conversation_summary_event.json",
        &[
            "/userId",
            "/call/contactCenter/active",
            "/chat/contactCenter/active",
        ],
    );
    assert_eq!(summary["eventBody"]["userId"], agent.as_str());
    assert_eq!(summary["eventBody"]["call"]["contactCenter"]["active"], 1);
}

#[actix_web::test]
async fn the_schedules_message_matches_the_reference() {
    let (_sim, agent, messages) = messages_of_a_change().await;
    let schedules = &messages["workforcemanagement.schedules"];
    assert_conforms(
        &schedules["eventBody"],
        "schedules_event.json",
        &[
            "/user/id",
            "/startDate",
            "/endDate",
            "/updates/0/type",
            "/updates/0/shiftStartDates/0",
        ],
    );
    assert_eq!(schedules["eventBody"]["user"]["id"], agent.as_str());
}

#[actix_web::test]
async fn heartbeat_pong_and_socket_closing_match_the_reference() {
    let mut cfg = config(5);
    cfg.heartbeat_interval = std::time::Duration::from_millis(150);
    let sim = start(cfg);
    let client = Client::new(&sim).await;
    let (_, uri) = client.channel().await;
    let mut ws = connect(&uri).await;
    let heartbeat: Value = serde_json::from_str(&next_text(&mut ws).await).expect("json");
    assert_eq!(heartbeat, fixture("heartbeat.json"));
    send_text(&mut ws, r#"{"message":"ping"}"#).await;
    loop {
        let message: Value = serde_json::from_str(&next_text(&mut ws).await).expect("json");
        if message["eventBody"]["message"] == "pong" {
            assert_eq!(message, fixture("pong.json"));
            break;
        }
        assert_eq!(message, fixture("heartbeat.json"));
    }
    client.fault("socket_closing", json!({})).await;
    let closing = next_event(&mut ws).await;
    assert_conforms(
        &closing,
        "socket_closing.json",
        &[
            "/topicName",
            "/version",
            "/eventBody/message",
            "/metadata/CorrelationId",
        ],
    );
    assert_eq!(closing["topicName"], "v2.system.socket_closing");
}
