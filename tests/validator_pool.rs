//! The validator pool keeps each agent's signals in order, end to end through real actors on
//! their own threads.

mod common;

use std::{collections::HashMap, sync::Arc, time::Instant};

use agentcast::{
    Metrics,
    actors::{
        hub::Publish,
        ingest_metrics::IngestMetrics,
        validator::{AgentSignal, SignalInput, ValidatorOutputs, ValidatorPool},
    },
    config::Settings,
    event::AgentId,
    genesys::topics::UserTopicKind,
    reference::ReferenceCache,
};
use chrono::{Duration, TimeZone, Utc};
use common::{forward::forward, within};

fn activity(agent: usize, step: usize) -> String {
    let at = Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap() + Duration::seconds(step as i64);
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let presence = if step.is_multiple_of(2) {
        "AVAILABLE"
    } else {
        "ON_QUEUE"
    };
    format!(
        r#"{{"id":"agent-{agent}","routingStatus":{{"status":"IDLE","startTime":"{at}"}},"presence":{{"presenceDefinition":{{"id":"p","systemPresence":"{presence}"}},"modifiedDate":"{at}"}},"activeQueueIds":["q-{step}"]}}"#
    )
}

#[actix_rt::test]
async fn fifty_changes_for_each_of_200_agents_come_out_in_the_order_they_went_in() {
    const AGENTS: usize = 200;
    const CHANGES: usize = 50;
    let mut settings = Settings::defaults().validation;
    // 3 validators: 200 agents is no multiple of 3, so routing by arrival order would
    // scatter an agent's changes over validators (and this test catches that).
    settings.pool_size = 3;
    let (publish, mut rx) = forward::<Publish>();
    let metrics = IngestMetrics::new(Metrics::new().registry());
    let outputs = ValidatorOutputs {
        publish,
        audit: None,
    };
    let pool = ValidatorPool::start(
        &settings,
        100_000,
        ReferenceCache::default(),
        outputs,
        metrics.clone(),
    );

    // Interleave agents, as a busy socket would: step 0 of every agent, then step 1, …
    for step in 0..CHANGES {
        for agent in 0..AGENTS {
            let body = bytes::Bytes::from(activity(agent, step));
            pool.send(AgentSignal {
                agent_id: AgentId::from(format!("agent-{agent}")),
                received_at: Instant::now(),
                input: SignalInput::Notification {
                    kind: UserTopicKind::Activity,
                    correlation_id: Some(format!("{agent}-{step}")),
                    body,
                },
            });
        }
    }

    let mut seen: HashMap<Arc<str>, Vec<String>> = HashMap::new();
    for _ in 0..AGENTS * CHANGES {
        let published = within("every change to be published", rx.recv())
            .await
            .expect("the validators are running");
        let v = published.validated;
        seen.entry(v.agent_id.clone())
            .or_default()
            .push(v.state.queues[0].clone());
    }
    assert_eq!(seen.len(), AGENTS);
    for (agent, queues) in &seen {
        let expected: Vec<String> = (0..CHANGES).map(|s| format!("q-{s}")).collect();
        assert_eq!(queues, &expected, "{agent}'s changes out of order");
    }
    assert_eq!(
        metrics.rejects.with_label_values(&["stale"]).get(),
        0,
        "no change was seen out of order"
    );
    pool.stop();
}

/// What a validator writes when it rejects a signal is what the one reject constructor
/// builds (the stream's rejects use it too): same kind, same fields, same names.
#[actix_rt::test]
async fn a_validators_reject_record_is_the_one_the_reject_constructor_builds() {
    use agentcast::{
        actors::audit::records,
        event::{RejectReason, Rejected},
    };
    let (publish, _published) = forward::<Publish>();
    let (audit, mut audited) = forward::<agentcast::event::AuditRecord>();
    let outputs = ValidatorOutputs {
        publish,
        audit: Some(audit),
    };
    let pool = ValidatorPool::start(
        &Settings::defaults().validation,
        1_000,
        ReferenceCache::default(),
        outputs,
        IngestMetrics::new(Metrics::new().registry()),
    );
    // The same notification twice: the second is a duplicate (same correlation id).
    for _ in 0..2 {
        pool.send(AgentSignal {
            agent_id: AgentId::from("agent-1"),
            received_at: Instant::now(),
            input: SignalInput::Notification {
                kind: UserTopicKind::Activity,
                correlation_id: Some("corr-7".into()),
                body: bytes::Bytes::from(activity(1, 0)),
            },
        });
    }
    let record = within("the duplicate to be audited", audited.recv())
        .await
        .expect("the validators are running");
    let expected = records::reject(&Rejected {
        reason: RejectReason::Duplicate,
        agent_id: Some("agent-1".into()),
        topic: Some(UserTopicKind::Activity.suffix().into()),
        detail: String::new(),
        correlation_id: Some("corr-7".into()),
    });
    assert_eq!(record.kind, expected.kind);
    assert_eq!(record.agent_id, expected.agent_id);
    let keys = |v: &serde_json::Value| {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&record.details), keys(&expected.details));
    for field in ["reason", "topic", "correlation_id"] {
        assert_eq!(record.details[field], expected.details[field], "{field}");
    }
    pool.stop();
}
