//! The outbox handlers against a real SQLite file.

use super::*;

fn event(id: &str, agent: &str, endpoints: &[(&str, bool)]) -> NewEvent {
    NewEvent {
        event_id: id.into(),
        agent_id: agent.into(),
        seq: 1,
        payload: Bytes::from(format!("{{\"id\":\"{id}\"}}")),
        targets: endpoints
            .iter()
            .map(|(e, disabled)| Target {
                endpoint: (*e).into(),
                disabled: *disabled,
            })
            .collect(),
    }
}

fn retry_in_past() -> NextState {
    NextState::Retry {
        at_ms: now_ms() - 1,
    }
}

fn attempt(n: u32, status: u16) -> Option<AttemptLog> {
    Some(AttemptLog {
        attempt: n,
        at_ms: now_ms(),
        status: Some(status),
        duration_ms: 1.5,
        error: None,
        response: Some("ok".into()),
    })
}

#[actix_rt::test]
async fn deliveries_move_from_pending_to_delivered_dead_and_replayed_and_are_purged() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        OutboxStore::spawn(open(&dir.path().join("o.sqlite"), Synchronous::Normal).unwrap());
    let inserted = store
        .send(InsertEvents {
            events: vec![
                event("e1", "a", &[("x", false), ("y", true)]),
                event("e2", "a", &[("x", false)]),
                event("e1", "a", &[("x", false)]),
            ],
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(inserted.duplicates, 1, "the same event id is accepted once");
    assert_eq!(inserted.pending.len(), 2);
    assert_eq!(
        inserted.dead.len(),
        1,
        "y is disabled: straight to dead letters"
    );
    let (d1, d2) = (inserted.pending[0].1.id, inserted.pending[1].1.id);
    assert!(d2 > d1);

    // Pending ones read back in id order, after a given id, with their payload.
    let pending = store
        .send(LoadPending {
            endpoint: "x".into(),
            after_id: 0,
            limit: 10,
        })
        .await
        .unwrap()
        .unwrap();
    let ids: Vec<i64> = pending.iter().map(|d| d.id).collect();
    assert_eq!(ids, [d1, d2]);
    assert_eq!(&pending[0].payload[..], br#"{"id":"e1"}"#);
    let after = store
        .send(LoadPending {
            endpoint: "x".into(),
            after_id: d1,
            limit: 10,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.len(), 1);

    // e1 fails once (stays pending, attempts counted), then is delivered; e2 dies.
    let outcomes = vec![
        Outcome {
            delivery_id: d1,
            attempt: attempt(1, 500),
            next: retry_in_past(),
        },
        Outcome {
            delivery_id: d2,
            attempt: attempt(1, 500),
            next: NextState::Dead {
                reason: "gave up".into(),
            },
        },
    ];
    store
        .send(RecordOutcomes { outcomes })
        .await
        .unwrap()
        .unwrap();
    let pending = store
        .send(LoadPending {
            endpoint: "x".into(),
            after_id: 0,
            limit: 10,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!((pending.len(), pending[0].attempts), (1, 1));
    let outcomes = vec![Outcome {
        delivery_id: d1,
        attempt: attempt(2, 200),
        next: NextState::Delivered,
    }];
    store
        .send(RecordOutcomes { outcomes })
        .await
        .unwrap()
        .unwrap();
    let counts = store.send(CountDeliveries).await.unwrap().unwrap();
    assert_eq!(counts.get("x"), Some(&(0, 1)));
    assert_eq!(counts.get("y"), Some(&(0, 1)));
    let attempts = store
        .send(ListAttempts {
            endpoint: "x".into(),
            event_id: "e1".into(),
        })
        .await
        .unwrap()
        .unwrap();
    let statuses: Vec<Option<u16>> = attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(200)]);

    // Replaying the dead letter makes a new pending delivery with a higher id.
    let letters = store
        .send(ListDeadLetters {
            endpoint: "x".into(),
            since_ms: None,
            limit: 10,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(letters[0].event_id, "e2");
    assert_eq!(letters[0].last_status, Some(500));
    let replayed = store
        .send(Replay {
            endpoint: "x".into(),
            selector: ReplaySelector::Event("e2".into()),
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(replayed.len(), 1);
    assert!(replayed[0].id > d2);
    assert_eq!(replayed[0].attempts, 0);
    let counts = store.send(CountDeliveries).await.unwrap().unwrap();
    assert_eq!(counts.get("x"), Some(&(1, 0)));

    // Disabling moves pending deliveries to dead letters.
    let moved = store
        .send(DeadLetterPending {
            endpoint: "x".into(),
            reason: DEAD_REASON_DISABLED.into(),
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved, 1);

    // Retention removes finished deliveries, their attempts, and events nobody needs.
    let purged = store
        .send(Purge {
            cutoff_ms: now_ms() + 1,
            limit: 100,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        purged, 4,
        "e1→x delivered, e1→y dead, e2→x replayed and its replay dead"
    );
    let attempts = store
        .send(ListAttempts {
            endpoint: "x".into(),
            event_id: "e1".into(),
        })
        .await
        .unwrap()
        .unwrap();
    assert!(attempts.is_empty());
    let counts = store.send(CountDeliveries).await.unwrap().unwrap();
    assert!(counts.is_empty());
}

#[actix_rt::test]
async fn endpoint_records_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.sqlite");
    let store = OutboxStore::spawn(open(&path, Synchronous::Normal).unwrap());
    let record = EndpointRecord {
        id: "x".into(),
        url: "http://127.0.0.1/".into(),
        enabled: false,
        disabled_reason: Some("the receiver answered 410 Gone".into()),
        disabled_ms: Some(5),
        failing_since_ms: Some(1),
        last_success_ms: None,
    };
    store
        .send(SaveEndpoint(record.clone()))
        .await
        .unwrap()
        .unwrap();
    let records = load_endpoint_records(&open(&path, Synchronous::Normal).unwrap().conn).unwrap();
    assert_eq!(records.get("x"), Some(&record));
}
