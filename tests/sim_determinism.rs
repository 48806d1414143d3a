//! Reproducibility over HTTP: two emulators with the same seed and anchor serve the same org
//! and emit the same first 1,000 changes (`GET /sim/events`); another seed differs.

mod common;

use actix_web::http::Method;
use common::{
    emulator_api::Client,
    sim::{TestSim, config},
};
use serde_json::{Value, json};

/// Users, utilizations and shifts of an emulator, and its first 1,000 changes.
async fn snapshot(
    seed: u64,
    anchor: chrono::DateTime<chrono::Utc>,
) -> (Value, Vec<Value>, Vec<Value>, Value) {
    let mut cfg = config(120);
    cfg.seed = seed;
    cfg.anchor = anchor;
    let sim = TestSim::with_config(cfg);
    let client = Client::new(&sim).await;
    let users = client.get("/api/v2/users?pageSize=500").await.body["entities"].clone();
    let mut utilization = Vec::new();
    let mut schedules = Vec::new();
    let ids: Vec<String> = users
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["id"].as_str().expect("id").to_owned())
        .collect();
    for id in ids.iter().take(30) {
        utilization.push(
            client
                .get(&format!("/api/v2/routing/users/{id}/utilization"))
                .await
                .body,
        );
        let bu = client.business_unit(id).await;
        let body = json!({
            "startDate": (anchor - chrono::Duration::days(2)).to_rfc3339(),
            "endDate": (anchor + chrono::Duration::days(2)).to_rfc3339(),
            "userIds": [id],
        });
        let path = format!("/api/v2/workforcemanagement/businessunits/{bu}/agentschedules/search");
        schedules.push(client.call(Method::POST, &path, Some(body)).await.body["result"].clone());
    }
    let stepped = client
        .admin(Method::POST, "/sim/step", Some(json!({"count": 1000})))
        .await;
    assert_eq!(stepped.body["emitted"], 1000);
    let events = client
        .admin(Method::GET, "/sim/events?limit=1000", None)
        .await
        .body["events"]
        .clone();
    assert_eq!(events.as_array().map(Vec::len), Some(1000));
    (users, utilization, schedules, events)
}

#[actix_web::test]
async fn the_same_seed_serves_the_same_org_and_the_same_first_1000_changes() {
    let anchor = chrono::Utc::now();
    let first = snapshot(42, anchor).await;
    let second = snapshot(42, anchor).await;
    assert_eq!(first.0, second.0, "users");
    assert_eq!(first.1, second.1, "utilization");
    assert_eq!(first.2, second.2, "shifts");
    assert_eq!(first.3, second.3, "changes");
    let other = snapshot(43, anchor).await;
    assert_ne!(first.0, other.0);
    assert_ne!(first.3, other.3);
}
