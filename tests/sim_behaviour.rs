//! Emulator behaviour over real loopback HTTP: tokens and their 401s, rate-limit headers and
//! 429, paging and filters, the org's starting state, the clock (rate, pause, step) and call
//! counting. Channels and sockets are in `sim_sockets.rs`, faults in `sim_faults.rs`.

mod common;

use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use common::{
    emulator_api::{Client, Reply},
    sim::{TestSim, config, timeless},
    within,
};
use serde_json::{Value, json};

#[actix_web::test]
async fn a_token_is_issued_only_for_the_right_basic_credentials_and_grant() {
    let sim = TestSim::with_config(config(5));
    let client = Client::new(&sim).await;
    let (id, secret) = (client.client_id.clone(), client.client_secret.clone());
    let ok = client
        .login(&id, &secret, "grant_type=client_credentials")
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.body["expires_in"], 3600);
    let wrong = client
        .login(&id, "nope", "grant_type=client_credentials")
        .await;
    assert_eq!(
        (wrong.status, wrong.body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let stranger = client
        .login("someone-else", &secret, "grant_type=client_credentials")
        .await;
    assert_eq!(stranger.status, StatusCode::UNAUTHORIZED);
    let no_basic = client
        .call_as(
            None,
            Method::POST,
            "/oauth/token",
            Some(json!({"grant_type": "client_credentials"})),
        )
        .await;
    assert_eq!(no_basic.body["error"], "invalid_client");
    let grant = client.login(&id, &secret, "grant_type=password").await;
    assert_eq!(
        (grant.status, grant.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
}

#[actix_web::test]
async fn api_calls_need_a_known_unexpired_bearer_token() {
    let mut cfg = timeless(5);
    cfg.token_lifetime = Duration::from_secs(3600);
    let sim = TestSim::with_config(cfg);
    let client = Client::new(&sim).await;
    let login = client
        .login(
            &client.client_id,
            &client.client_secret,
            "grant_type=client_credentials",
        )
        .await;
    assert_eq!(login.body["expires_in"], 3600);
    let code = |r: &Reply| r.body["code"].as_str().map(str::to_owned);
    let none = client
        .call_as(None, Method::GET, "/api/v2/users", None)
        .await;
    assert_eq!(
        (none.status, code(&none).as_deref()),
        (StatusCode::UNAUTHORIZED, Some("authentication.required"))
    );
    let unknown = client
        .call_as(Some("forged"), Method::GET, "/api/v2/users", None)
        .await;
    assert_eq!(code(&unknown).as_deref(), Some("bad.credentials"));
    assert_eq!(client.get("/api/v2/users").await.status, StatusCode::OK);
    // An hour later on the emulator's clock, the token is refused as expired.
    sim.advance_clock(Duration::from_secs(3000)).await;
    assert_eq!(
        client.get("/api/v2/users").await.status,
        StatusCode::OK,
        "valid until its lifetime is over"
    );
    sim.advance_clock(Duration::from_secs(600)).await;
    let expired = client.get("/api/v2/users").await;
    assert_eq!(
        (expired.status, code(&expired).as_deref()),
        (StatusCode::UNAUTHORIZED, Some("credentials.expired"))
    );
}

#[actix_web::test]
async fn every_api_route_refuses_a_call_without_a_token() {
    let sim = TestSim::with_config(config(5));
    let client = Client::new(&sim).await;
    let (channel, _) = client.channel().await;
    let user = sim.agent_id(0).await;
    let routes = [
        (Method::GET, "/api/v2/users".to_owned()),
        (Method::GET, format!("/api/v2/users/{user}")),
        (Method::GET, format!("/api/v2/users/{user}/routingstatus")),
        (
            Method::GET,
            format!("/api/v2/users/{user}/presences/purecloud"),
        ),
        (
            Method::GET,
            format!("/api/v2/users/presences/purecloud/bulk?id={user}"),
        ),
        (Method::GET, "/api/v2/presence/definitions".to_owned()),
        (Method::GET, "/api/v2/presencedefinitions".to_owned()),
        (Method::GET, "/api/v2/systempresences".to_owned()),
        (Method::GET, "/api/v2/routing/utilization".to_owned()),
        (
            Method::GET,
            format!("/api/v2/routing/users/{user}/utilization"),
        ),
        (
            Method::GET,
            format!("/api/v2/workforcemanagement/agents/{user}/managementunit"),
        ),
        (
            Method::GET,
            "/api/v2/workforcemanagement/managementunits/x".to_owned(),
        ),
        (
            Method::GET,
            "/api/v2/workforcemanagement/businessunits/x/activitycodes".to_owned(),
        ),
        (
            Method::POST,
            "/api/v2/workforcemanagement/businessunits/x/agentschedules/search".to_owned(),
        ),
        (Method::POST, "/api/v2/notifications/channels".to_owned()),
        (Method::GET, "/api/v2/notifications/channels".to_owned()),
        (
            Method::HEAD,
            format!("/api/v2/notifications/channels/{channel}"),
        ),
        (
            Method::GET,
            format!("/api/v2/notifications/channels/{channel}/subscriptions"),
        ),
        (
            Method::PUT,
            format!("/api/v2/notifications/channels/{channel}/subscriptions"),
        ),
        (
            Method::POST,
            format!("/api/v2/notifications/channels/{channel}/subscriptions"),
        ),
        (
            Method::DELETE,
            format!("/api/v2/notifications/channels/{channel}/subscriptions"),
        ),
        (Method::GET, "/api/v2/no/such/route".to_owned()),
    ];
    for (method, path) in routes {
        let reply = client.call_as(None, method.clone(), &path, None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        if method != Method::HEAD {
            assert_eq!(
                reply.body["code"], "authentication.required",
                "{method} {path}"
            );
        }
    }
}

#[actix_web::test]
async fn rate_limit_headers_count_each_call_and_going_over_answers_429_with_retry_after() {
    let mut cfg = config(5);
    cfg.rate_limit_per_minute = 5;
    let sim = TestSim::with_config(cfg);
    let client = Client::new(&sim).await;
    for n in 1..=5 {
        let reply = client.get("/api/v2/systempresences").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.header("inin-ratelimit-count"),
            Some(n.to_string().as_str())
        );
        assert_eq!(reply.header("inin-ratelimit-allowed"), Some("5"));
        let reset: u64 = reply
            .header("inin-ratelimit-reset")
            .expect("reset")
            .parse()
            .expect("secs");
        assert!((1..=60).contains(&reset));
        assert!(
            reply
                .header("inin-correlation-id")
                .is_some_and(|id| uuid::Uuid::parse_str(id).is_ok())
        );
    }
    let limited = client.get("/api/v2/systempresences").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body["code"], "too.many.requests");
    let retry: u64 = limited
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("integer seconds");
    assert!((1..=60).contains(&retry));
    assert_eq!(limited.header("inin-ratelimit-count"), Some("6"));
    // A new token has its own window.
    let fresh = client.new_token().await;
    let reply = client
        .call_as(Some(&fresh), Method::GET, "/api/v2/systempresences", None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[actix_web::test]
async fn user_pages_chain_by_next_uri_filter_by_id_and_refuse_oversized_pages() {
    let sim = TestSim::with_config(config(60));
    let client = Client::new(&sim).await;
    let mut ids = Vec::new();
    let mut uri = Some("/api/v2/users?pageSize=25&expand=presence".to_owned());
    let mut pages = 0;
    while let Some(path) = uri {
        let page = client.get(&path).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.body["total"], 60);
        assert_eq!(page.body["pageCount"], 3);
        for user in page.body["entities"].as_array().expect("entities") {
            assert!(user["presence"].is_object(), "expand kept on later pages");
            ids.push(user["id"].as_str().expect("id").to_owned());
        }
        uri = page.body["nextUri"].as_str().map(str::to_owned);
        pages += 1;
    }
    assert_eq!(pages, 3, "nextUri is absent on the last page");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 60);
    let names = |v: &Value| -> Vec<String> {
        v["entities"]
            .as_array()
            .expect("entities")
            .iter()
            .map(|u| u["name"].as_str().expect("name").to_owned())
            .collect()
    };
    let asc = names(&client.get("/api/v2/users?pageSize=60").await.body);
    let mut sorted = asc.clone();
    sorted.sort();
    assert_eq!(asc, sorted, "sorted by name");
    let mut desc = names(
        &client
            .get("/api/v2/users?pageSize=60&sortOrder=DESC")
            .await
            .body,
    );
    desc.reverse();
    assert_eq!(desc, asc);
    let filtered = client
        .get(&format!("/api/v2/users?id={},{}", ids[0], ids[1]))
        .await;
    assert_eq!(filtered.body["total"], 2);
    let too_big = client.get("/api/v2/users?pageSize=501").await;
    assert_eq!(
        (too_big.status, too_big.body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad.request"))
    );
    assert_eq!(
        client.get("/api/v2/users?pageSize=500").await.status,
        StatusCode::OK
    );
}

#[actix_web::test]
async fn unknown_users_are_off_queue_and_bulk_presence_takes_at_most_50_ids() {
    let sim = TestSim::with_config(config(60));
    let client = Client::new(&sim).await;
    let stranger = uuid::Uuid::new_v4();
    let routing = client
        .get(&format!("/api/v2/users/{stranger}/routingstatus"))
        .await;
    assert_eq!(
        (routing.status, routing.body["status"].as_str()),
        (StatusCode::OK, Some("OFF_QUEUE"))
    );
    assert_eq!(
        client
            .get(&format!("/api/v2/users/{stranger}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let truth = sim.truth().await;
    let ids: Vec<&str> = truth["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    let fifty = client
        .get(&format!(
            "/api/v2/users/presences/purecloud/bulk?id={}",
            ids[..50].join(",")
        ))
        .await;
    assert_eq!(fifty.body.as_array().map(Vec::len), Some(50));
    let fifty_one = client
        .get(&format!(
            "/api/v2/users/presences/purecloud/bulk?id={}",
            ids[..51].join(",")
        ))
        .await;
    assert_eq!(fifty_one.status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn the_truth_moves_at_the_rate_without_subscribers_and_pauses_and_steps_on_demand() {
    let mut cfg = config(50);
    cfg.events_per_sec = 400.0;
    let sim = TestSim::with_config(cfg);
    let client = Client::new(&sim).await;
    let emitted = || async { sim.truth().await["eventsEmitted"].as_u64().expect("count") };
    within("changes without subscribers", async {
        while emitted().await < 40 {
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    client.admin(Method::POST, "/sim/pause", None).await;
    let paused_at = emitted().await;
    let stepped = client
        .admin(Method::POST, "/sim/step", Some(json!({"count": 25})))
        .await;
    assert_eq!(stepped.body["emitted"], 25);
    assert_eq!(stepped.body["eventsEmitted"], paused_at + 25);
    let rate = client
        .admin(
            Method::POST,
            "/sim/rate",
            Some(json!({"eventsPerSec": 1000.0})),
        )
        .await;
    assert_eq!(rate.body["eventsPerSec"], 1000.0);
    assert_eq!(
        emitted().await,
        paused_at + 25,
        "paused: nothing but the step"
    );
    client.admin(Method::POST, "/sim/resume", None).await;
    within("resumed", async {
        while emitted().await < paused_at + 125 {
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let truth = sim.truth().await;
    let agent = &truth["agents"][0];
    for key in [
        "id",
        "name",
        "systemPresence",
        "presenceDefinitionId",
        "routingStatus",
        "activeQueueIds",
        "conversations",
        "onShift",
        "outOfOffice",
    ] {
        assert!(agent.get(key).is_some(), "truth lacks {key}");
    }
    let agents = truth["agents"].as_array().expect("agents");
    assert!(
        agents.iter().any(|a| a["onShift"] == true) && agents.iter().any(|a| a["onShift"] == false)
    );
}

#[actix_web::test]
async fn the_org_starts_mostly_on_schedule_with_violations_to_show() {
    let sim = TestSim::with_config(config(400));
    let truth = sim.truth().await;
    let agents = truth["agents"].as_array().expect("agents");
    let off = agents.iter().filter(|a| a["onShift"] == false).count();
    assert!((20..=120).contains(&off), "about 15% off shift: {off}");
    assert!(agents.iter().any(|a| a["onShift"] == false
        && (a["systemPresence"] == "Available" || a["systemPresence"] == "OnQueue")));
    assert!(agents.iter().any(|a| a["overCapacity"] == true));
    assert!(
        agents
            .iter()
            .any(|a| a["scheduledActivity"] == "Break" || a["scheduledActivity"] == "Meal")
    );
    let on_queue_work = agents
        .iter()
        .filter(|a| a["scheduledActivity"] == "OnQueueWork")
        .count();
    let on_queue = agents
        .iter()
        .filter(|a| a["scheduledActivity"] == "OnQueueWork" && a["systemPresence"] == "OnQueue")
        .count();
    assert!(
        on_queue * 10 >= on_queue_work * 7,
        "mostly consistent: {on_queue}/{on_queue_work}"
    );
}

#[actix_web::test]
async fn sim_calls_counts_each_route_template_and_status() {
    let sim = TestSim::with_config(config(5));
    let client = Client::new(&sim).await;
    let user = sim.agent_id(0).await;
    client.get(&format!("/api/v2/users/{user}")).await;
    client.get(&format!("/api/v2/users/{user}")).await;
    client
        .get("/api/v2/users/00000000-0000-4000-8000-000000000000")
        .await;
    let calls = client.admin(Method::GET, "/sim/calls", None).await.body;
    let count = |route: &str, status: u16| {
        calls["calls"]
            .as_array()
            .expect("calls")
            .iter()
            .find(|c| c["route"] == route && c["status"] == status)
            .and_then(|c| c["count"].as_u64())
    };
    assert_eq!(count("GET /api/v2/users/{userId}", 200), Some(2));
    assert_eq!(count("GET /api/v2/users/{userId}", 404), Some(1));
    assert_eq!(count("POST /oauth/token", 200), Some(1));
    assert_eq!(calls["total"], 4);
}
