//! The in-bench publisher: the production hub and subscribe route on 127.0.0.1, fed synthetic
//! validated states at the rate given on stdin (`rate <events/s>`), each stamped with the
//! current wall time as its `availabilityStatusMatrix.timestamp`.
//!
//! Emission is aligned to whole milliseconds of wall time, so the millisecond resolution of
//! that timestamp costs the latency figures only the stamping delay (tens of microseconds),
//! not up to a millisecond. Its CPU time counts as the server's: it is small next to fan-out.

use std::{
    collections::BTreeMap,
    io::BufRead,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use actix_web::{App, HttpServer, web};
use agentcast::{
    Metrics,
    actors::hub::{HubHandle, Publish},
    auth::{ApiKeys, Grant},
    config::SubscriberSettings,
    event::{AgentState, Scope, Validated},
    http::{stats, subscribe},
};
use anyhow::Context as _;
use chrono::{DateTime, Utc};

use crate::Args;

/// Agents in the synthetic organisation.
const AGENTS: usize = 1000;

/// The memory floor: a bare actix-web + actix-ws server (a task per connection holding the
/// session and stream; no hub, no session actor) for the same idle fleet.
pub fn run_bare(args: Args) -> anyhow::Result<()> {
    actix_rt::System::new().block_on(async move {
        let server = HttpServer::new(move || {
            App::new().route(
                "/v1/subscribe",
                web::get().to(
                    |req: actix_web::HttpRequest, body: web::Payload| async move {
                        let (response, mut session, mut stream) = actix_ws::handle(&req, body)?;
                        actix_rt::spawn(async move {
                            let _ = session.text(r#"{"type":"welcome","recovered":true}"#).await;
                            while let Some(Ok(_)) = stream.recv().await {}
                            drop(session);
                        });
                        Ok::<_, actix_web::Error>(response)
                    },
                ),
            )
        })
        .workers(args.workers)
        .backlog(4096)
        .tcp_nodelay(true)
        .max_connections(25_000)
        .disable_signals()
        .bind(&args.listen)?;
        let addr = server.addrs()[0];
        println!(
            "{}",
            serde_json::json!({"addr": addr.to_string(), "pid": std::process::id()})
        );
        server.run().await?;
        anyhow::Ok(())
    })
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.bare {
        return run_bare(args);
    }
    let key = args.key.clone().context("--key is required")?;
    let rate = Arc::new(AtomicU32::new(0));
    {
        let rate = Arc::clone(&rate);
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if let Some(value) = line.strip_prefix("rate ") {
                    rate.store(value.trim().parse().unwrap_or(0), Ordering::Release);
                }
            }
            // The orchestrator went away: so do we.
            std::process::exit(0);
        });
    }
    actix_rt::System::new().block_on(async move {
        let metrics = Arc::new(Metrics::new());
        let settings = SubscriberSettings {
            max_subscribers: 20_000,
            ..SubscriberSettings::default()
        };
        let hub = HubHandle::start(Arc::new(settings), metrics.registry(), vec![], None)?;
        let mut keys = ApiKeys::default();
        keys.insert(
            &key,
            Grant {
                name: "bench".into(),
                scopes: Scope::ALL.to_vec(),
                admin: false,
            },
        );
        let keys = web::Data::new(keys);
        let hub_data = web::Data::new(hub.clone());
        let metrics_data = web::Data::from(Arc::clone(&metrics));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(hub_data.clone())
                .app_data(keys.clone())
                .app_data(metrics_data.clone())
                .configure(subscribe::routes)
                .configure(stats::routes)
                .configure(agentcast::http::ops::routes)
        })
        .workers(args.workers)
        .backlog(4096)
        .tcp_nodelay(true)
        .max_connections(25_000)
        .disable_signals()
        .bind(&args.listen)?;
        let addr = server.addrs()[0];
        println!(
            "{}",
            serde_json::json!({"addr": addr.to_string(), "pid": std::process::id()})
        );
        let server = server.run();
        let hub_addr = hub.addr.clone();
        std::thread::Builder::new()
            .name("publisher".into())
            .spawn(move || publish(hub_addr, rate))?;
        server.await?;
        anyhow::Ok(())
    })
}

fn publish(hub: actix::Addr<agentcast::actors::hub::BroadcastHubActor>, rate: Arc<AtomicU32>) {
    let agents: Vec<Arc<str>> = (0..AGENTS)
        .map(|_| Arc::from(uuid::Uuid::new_v4().to_string().as_str()))
        .collect();
    let queues = [
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    ];
    let mut sent: u64 = 0;
    let mut current = 0;
    let mut start_ms = 0u64;
    loop {
        let wanted = rate.load(Ordering::Acquire);
        if wanted != current {
            current = wanted;
            sent = 0;
            start_ms = now_ms() + 1;
        }
        if current == 0 {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        // Event k is due at the k/rate-th second, rounded up to a whole millisecond.
        let due_ms = start_ms + (sent * 1000).div_ceil(u64::from(current));
        sleep_until_ms(due_ms);
        let agent = &agents[(sent % AGENTS as u64) as usize];
        let now = Utc::now();
        hub.do_send(Publish {
            validated: validated(agent, &queues, now),
        });
        sent += 1;
    }
}

fn validated(agent: &Arc<str>, queues: &[String; 2], now: DateTime<Utc>) -> Validated {
    Validated {
        agent_id: Arc::clone(agent),
        state: AgentState {
            current_status: "OnQueue".into(),
            routing_status: "IDLE".into(),
            interaction_load: 1,
            capacity: std::sync::Arc::new(BTreeMap::from([
                ("call".into(), 1),
                ("chat".into(), 4),
                ("email".into(), 2),
            ])),
            on_shift: Some(true),
            scheduled_activity: Some("OnQueueWork".into()),
            queues: queues.to_vec(),
            timestamp: now,
        },
        violations: vec![],
        scope: Scope::GlobalRouting,
        validated: true,
        reconciled: false,
        received_at: Instant::now(),
        correlation_id: None,
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Sleeps until the wall clock reaches `due_ms` (returns at once if it has).
fn sleep_until_ms(due_ms: u64) {
    loop {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let due = Duration::from_millis(due_ms);
        if now >= due {
            return;
        }
        std::thread::sleep(due - now);
    }
}
