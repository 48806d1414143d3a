//! The Genesys client against the emulator, over real loopback sockets: tokens, the REST
//! budget and its retries, paging, channels and topics, and channel sockets.

mod common;

use std::{collections::HashSet, time::Duration};

use agentcast::genesys::{
    GenesysError, UserExpand,
    notification::{self, Notification},
    socket::PING,
    topics::{UserTopicKind, user_topic},
};
use awc::ws;
use common::{sim::TestSim, within};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;

const USERS: &str = "GET /api/v2/users";
const TOKEN: &str = "POST /oauth/token";

#[actix_rt::test]
async fn a_token_is_fetched_once_and_renewed_before_it_expires() {
    let sim = TestSim::start(10, |c| c.token_lifetime = Duration::from_secs(2));
    let client = sim.client();

    within("first page", client.users_page(1, 5, &[]))
        .await
        .unwrap();
    within("second page", client.users_page(2, 5, &[]))
        .await
        .unwrap();
    assert_eq!(
        client.tokens().tokens_fetched(),
        1,
        "one token serves calls until it is due"
    );

    // With a 2 s lifetime the 60 s margin is capped at half: renewal is due after 1 s.
    let due = client
        .tokens()
        .refresh_due_at()
        .await
        .expect("a token is held");
    within("renewal time", actix_rt::time::sleep_until(due.into())).await;
    within("page after renewal time", client.users_page(1, 5, &[]))
        .await
        .unwrap();

    assert_eq!(
        client.tokens().tokens_fetched(),
        2,
        "the token was renewed before it expired"
    );
    assert_eq!(sim.calls(TOKEN, 200).await, 2);
    assert_eq!(
        sim.calls(USERS, 401).await,
        0,
        "renewal happened before any call was refused"
    );
}

#[actix_rt::test]
async fn a_token_refused_with_401_is_renewed_and_the_call_succeeds() {
    let sim = TestSim::start(10, |_| {});
    let client = sim.client();
    within("first call", client.users_page(1, 5, &[]))
        .await
        .unwrap();

    sim.fault("expire_tokens", json!({})).await;
    let page = within("call after expiry", client.users_page(1, 5, &[]))
        .await
        .unwrap();

    assert_eq!(page.entities.len(), 5);
    assert_eq!(client.tokens().tokens_fetched(), 2);
    assert_eq!(
        sim.calls(USERS, 401).await,
        1,
        "exactly one call was refused"
    );
    assert_eq!(sim.calls(USERS, 200).await, 2);
}

#[actix_rt::test]
async fn concurrent_callers_share_one_token_request() {
    let sim = TestSim::start(10, |_| {});
    let client = sim.client();
    let calls = (1..=8).map(|page| client.users_page(page, 1, &[]));
    for result in within(
        "eight concurrent calls",
        futures_util::future::join_all(calls),
    )
    .await
    {
        result.unwrap();
    }
    assert_eq!(client.tokens().tokens_fetched(), 1);
    assert_eq!(sim.calls(TOKEN, 200).await, 1);
}

#[actix_rt::test]
async fn a_429_storm_is_waited_out_using_retry_after_and_no_call_is_lost() {
    let sim = TestSim::start(10, |_| {});
    let client = sim.client();
    within("token", client.users_page(1, 1, &[])).await.unwrap();

    sim.fault("rate_limit", json!({"secs": 2})).await;
    let calls = (1..=10).map(|page| client.users_page(page, 1, &[]));
    let results = within(
        "ten calls through the storm",
        futures_util::future::join_all(calls),
    )
    .await;

    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 10, "every call got through: {results:?}");
    let refused = sim.calls(USERS, 429).await;
    assert!(
        refused >= 10,
        "each call met the storm at least once ({refused})"
    );
    // Waiting Retry-After (≥ 1 s) rather than the 20 ms retry backoff keeps the retries few:
    // hammering would give dozens of 429s per call over a 2 s storm.
    assert!(
        refused <= 30,
        "calls waited out Retry-After instead of hammering ({refused} 429s)"
    );
    assert_eq!(client.metrics().rest_calls(USERS, "429"), refused);
}

#[actix_rt::test]
async fn server_errors_are_retried_and_counted() {
    let sim = TestSim::start(10, |_| {});
    let client = sim.client();
    within("token", client.users_page(1, 1, &[])).await.unwrap();

    sim.fault("server_errors", json!({"count": 2, "status": 503}))
        .await;
    within("call through two 503s", client.users_page(1, 1, &[]))
        .await
        .unwrap();

    assert_eq!(client.metrics().rest_calls(USERS, "503"), 2);
    assert_eq!(client.metrics().rest_calls(USERS, "200"), 2);
}

#[actix_rt::test]
async fn errors_that_retrying_cannot_fix_are_typed_and_keep_the_correlation_id() {
    let sim = TestSim::start(10, |_| {});
    let client = sim.client();
    let err = within("unknown user", client.user("no-such-user", &[]))
        .await
        .unwrap_err();
    match &err {
        GenesysError::Api {
            status,
            body,
            correlation_id,
            ..
        } => {
            assert_eq!(*status, 404);
            assert_eq!(body.code.as_deref(), Some("not.found"));
            assert!(correlation_id.as_deref().is_some_and(|id| !id.is_empty()));
        }
        other => panic!("expected an API error, got {other:?}"),
    }
    assert_eq!(
        client
            .metrics()
            .rest_calls("GET /api/v2/users/{userId}", "404"),
        1,
        "not retried"
    );
}

#[actix_rt::test]
async fn slow_answers_time_out_and_are_retried() {
    let sim = TestSim::start(10, |_| {});
    let mut config = sim.client_config();
    config.retry.request_timeout = Duration::from_millis(300);
    let client = agentcast::genesys::GenesysClient::new(config, Default::default());
    within("token", client.users_page(1, 1, &[])).await.unwrap();

    sim.fault("slow_rest", json!({"delayMs": 1000, "secs": 1}))
        .await;
    let page = within("call through slow answers", client.users_page(1, 1, &[])).await;

    assert!(page.is_ok(), "{page:?}");
    assert!(
        client.metrics().rest_calls(USERS, "error") >= 1,
        "at least one attempt timed out"
    );
}

#[actix_rt::test]
async fn a_roster_of_2500_users_is_read_across_pages() {
    let sim = TestSim::start(2500, |_| {});
    let client = sim.client();
    let users = within(
        "all users",
        client.all_users(&[UserExpand::Presence, UserExpand::RoutingStatus]),
    )
    .await
    .unwrap();

    let ids: HashSet<&str> = users.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(users.len(), 2500);
    assert_eq!(ids.len(), 2500, "no user read twice");
    assert!(
        users
            .iter()
            .all(|u| u.presence.is_some() && u.routing_status.is_some()),
        "expand honoured"
    );
    assert_eq!(sim.calls(USERS, 200).await, 5, "five pages of 500");
}

#[actix_rt::test]
async fn presences_are_read_in_bulk_fifty_at_a_time() {
    let sim = TestSim::start(120, |_| {});
    let client = sim.client();
    let ids: Vec<String> = within("roster", client.all_users(&[]))
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    let presences = within("bulk presences", client.presences_bulk(&ids))
        .await
        .unwrap();
    assert_eq!(presences.len(), 120);
    assert_eq!(
        sim.calls("GET /api/v2/users/presences/purecloud/bulk", 200)
            .await,
        3
    );
}

#[actix_rt::test]
async fn three_thousand_topics_land_on_three_channels_and_a_1001_topic_put_gets_400() {
    let sim = TestSim::start(1000, |_| {});
    let client = sim.client();
    let users = within("roster", client.all_users(&[])).await.unwrap();
    let topics: Vec<String> = users
        .iter()
        .flat_map(|u| {
            [
                UserTopicKind::Activity,
                UserTopicKind::ConversationSummary,
                UserTopicKind::Schedules,
            ]
            .map(|kind| user_topic(&u.id, kind))
        })
        .collect();

    let subscribed = within("subscribe 3000 topics", client.subscribe_all(&topics, 3))
        .await
        .unwrap();

    assert_eq!(
        subscribed
            .iter()
            .map(|s| s.topics.len())
            .collect::<Vec<_>>(),
        [1000, 1000, 1000]
    );
    assert!(subscribed.iter().all(|s| s.rejected.is_empty()));
    let mut seen_by_sim: Vec<usize> = sim
        .channels()
        .await
        .iter()
        .map(|c| c["topics"].as_array().unwrap().len())
        .collect();
    seen_by_sim.sort_unstable();
    assert_eq!(seen_by_sim, [1000, 1000, 1000]);

    let mut too_many = topics[..1000].to_vec();
    too_many.push(user_topic(&users[0].id, UserTopicKind::Presence));
    let err = within(
        "1001-topic PUT",
        client.replace_subscriptions(&subscribed[0].channel.id, &too_many),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
}

#[actix_rt::test]
async fn a_channel_without_a_connect_uri_is_a_clear_error_not_a_socket_to_nowhere() {
    let sim = TestSim::start(1, |_| {});
    sim.fault("channel_without_uri", json!({"count": 1})).await;
    let client = sim.client();
    let err = within("channel", client.create_channel())
        .await
        .expect_err("a channel without connectUri is refused");
    assert!(
        matches!(err, GenesysError::Decode { .. }) && err.to_string().contains("connectUri"),
        "{err}"
    );
    // The fault was for one channel: the next is usable.
    let channel = within("channel", client.create_channel()).await.unwrap();
    assert!(
        channel
            .connect_uri
            .is_some_and(|uri| uri.starts_with("ws://"))
    );
}

#[actix_rt::test]
async fn a_channel_socket_receives_heartbeats_and_a_pong() {
    let sim = TestSim::start(5, |c| c.heartbeat_interval = Duration::from_millis(200));
    let client = sim.client();
    let channel = within("channel", client.create_channel()).await.unwrap();
    let connect_uri = channel.connect_uri.expect("connectUri");
    let mut socket = within("socket", client.connect_channel(&connect_uri, 1 << 20))
        .await
        .unwrap();

    let mut heartbeats = 0;
    while heartbeats < 2 {
        if matches!(
            next_notification(&mut socket).await,
            Notification::Heartbeat
        ) {
            heartbeats += 1;
        }
    }
    within("ping", socket.send(ws::Message::Text(PING.into())))
        .await
        .unwrap();
    loop {
        if matches!(next_notification(&mut socket).await, Notification::Pong) {
            break;
        }
    }
}

#[actix_rt::test]
async fn a_second_socket_on_the_same_channel_kicks_the_first() {
    let sim = TestSim::start(5, |c| c.heartbeat_interval = Duration::from_millis(200));
    let client = sim.client();
    let channel = within("channel", client.create_channel()).await.unwrap();
    let uri = channel.connect_uri.expect("connectUri");
    let mut first = within("first socket", client.connect_channel(&uri, 1 << 20))
        .await
        .unwrap();
    let mut second = within("second socket", client.connect_channel(&uri, 1 << 20))
        .await
        .unwrap();

    within("first socket to close", async {
        loop {
            match first.next().await {
                None | Some(Ok(ws::Frame::Close(_))) | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(
        matches!(
            next_notification(&mut second).await,
            Notification::Heartbeat
        ),
        "the second socket lives on"
    );
}

#[actix_rt::test]
async fn a_21st_channel_evicts_the_oldest_unconnected_channel() {
    let sim = TestSim::start(5, |_| {});
    let client = sim.client();
    let mut channels = Vec::new();
    for _ in 0..20 {
        channels.push(within("channel", client.create_channel()).await.unwrap());
    }
    // The oldest channel is connected, so the oldest *unconnected* one is the second.
    let uri = channels[0].connect_uri.clone().expect("connectUri");
    let _socket = within("socket", client.connect_channel(&uri, 1 << 20))
        .await
        .unwrap();
    within("sim sees the socket", async {
        while !sim
            .channels()
            .await
            .iter()
            .any(|c| c["id"] == json!(channels[0].id) && c["connected"] == json!(true))
        {
            actix_rt::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    let newest = within("21st channel", client.create_channel())
        .await
        .unwrap();

    assert!(
        within("HEAD oldest", client.channel_exists(&channels[0].id))
            .await
            .unwrap(),
        "connected channel kept"
    );
    assert!(
        !within("HEAD second", client.channel_exists(&channels[1].id))
            .await
            .unwrap(),
        "oldest unconnected evicted"
    );
    assert!(
        within("HEAD third", client.channel_exists(&channels[2].id))
            .await
            .unwrap()
    );
    assert!(
        within("HEAD newest", client.channel_exists(&newest.id))
            .await
            .unwrap()
    );
}

#[actix_rt::test]
async fn a_bad_client_secret_gives_one_clear_error() {
    let sim = TestSim::start(5, |_| {});
    let mut config = sim.client_config();
    config.credentials =
        agentcast::config::Credentials::new(sim.handle.client_id.clone(), "wrong-secret");
    let client = agentcast::genesys::GenesysClient::new(config, Default::default());

    let err = within("call with a bad secret", client.users_page(1, 1, &[]))
        .await
        .unwrap_err();

    assert!(
        matches!(err, GenesysError::BadCredentials { status: 401, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("GENESYS_CLIENT_SECRET") && message.contains("invalid_client"),
        "{message}"
    );
    assert!(
        !message.contains("wrong-secret"),
        "the secret never appears in a message"
    );
    assert_eq!(
        sim.calls(TOKEN, 401).await,
        1,
        "a refused secret is not retried"
    );
    assert_eq!(sim.calls(USERS, 200).await + sim.calls(USERS, 401).await, 0);
}

#[actix_rt::test]
async fn a_processing_schedule_search_is_asked_again_until_complete() {
    let sim = TestSim::start(20, |_| {});
    let client = sim.client();
    let user = within("roster", client.all_users(&[]))
        .await
        .unwrap()
        .remove(0);
    let unit = within("management unit", client.agent_management_unit(&user.id))
        .await
        .unwrap();
    let bu = unit.business_unit.expect("business unit").id;

    sim.fault("schedule_processing", json!({"count": 1})).await;
    let now = chrono::Utc::now();
    let result = within(
        "schedule search",
        client.business_unit_schedules(
            &bu,
            now - chrono::Duration::days(1),
            now + chrono::Duration::days(1),
            None,
        ),
    )
    .await
    .unwrap();

    assert!(!result.agent_schedules.is_empty());
    assert!(result.agent_schedules.iter().any(|s| !s.shifts.is_empty()));
    let codes = within("activity codes", client.activity_codes(&bu))
        .await
        .unwrap();
    assert!(codes.iter().any(|c| {
        c.category
            .as_ref()
            .is_some_and(|c| c.as_str() == "OnQueueWork")
    }));
}

/// The next notification on `socket`, skipping control frames.
async fn next_notification(socket: &mut agentcast::genesys::socket::ChannelSocket) -> Notification {
    within("a notification", async {
        loop {
            match socket.next().await {
                Some(Ok(ws::Frame::Text(text))) => {
                    return notification::parse(&text).expect("a notification");
                }
                Some(Ok(_)) => continue,
                other => panic!("socket ended: {other:?}"),
            }
        }
    })
    .await
}
