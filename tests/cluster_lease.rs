//! Leader leases on a real JetStream key-value bucket (`agentcast::cluster::lease`): one
//! holder at a time, renewals raise the term, a lease not renewed ages out and goes to the
//! next node at a higher term, and the old holder's renewal then fails (it must step down).

mod common;

use std::time::Duration;

use agentcast::cluster::lease::{LeaseBucket, LeaseError};
use common::{eventually, nats::TestNats};

#[actix_rt::test]
async fn one_node_holds_a_lease_and_renewing_raises_its_term() {
    let Some(nats) = TestNats::start().await else {
        return;
    };
    let (a, b) = (nats.jetstream().await, nats.jetstream().await);
    let ttl = Duration::from_secs(30);
    let on_a = LeaseBucket::open(&a, "leases", ttl).await.unwrap();
    let on_b = LeaseBucket::open(&b, "leases", ttl).await.unwrap();

    let held = on_a
        .acquire("shard.a", "node-a")
        .await
        .unwrap()
        .expect("free");
    assert_eq!(on_b.acquire("shard.a", "node-b").await.unwrap(), None);
    assert_eq!(
        on_b.holder("shard.a").await.unwrap(),
        Some(("node-a".to_owned(), held.term))
    );
    let renewed = on_a.renew(&held).await.unwrap();
    assert!(renewed.term > held.term, "{renewed:?} after {held:?}");
    // A renewal from a stale view (the term before) is a lost lease, not a silent overwrite.
    assert!(matches!(
        on_a.renew(&held).await,
        Err(LeaseError::Lost { term, .. }) if term == held.term
    ));
    // Other leases are independent.
    assert!(on_b.acquire("webhooks", "node-b").await.unwrap().is_some());
}

#[actix_rt::test]
async fn a_lease_not_renewed_goes_to_the_next_node_and_the_old_holder_steps_down() {
    let Some(nats) = TestNats::start().await else {
        return;
    };
    let (a, b) = (nats.jetstream().await, nats.jetstream().await);
    let ttl = Duration::from_secs(1);
    let on_a = LeaseBucket::open(&a, "leases", ttl).await.unwrap();
    let on_b = LeaseBucket::open(&b, "leases", ttl).await.unwrap();

    let old = on_a
        .acquire("shard.a", "node-a")
        .await
        .unwrap()
        .expect("free");
    // node-a stops renewing (paused, partitioned): node-b gets it once it has aged out.
    let new = eventually("the lease to age out and go to node-b", || async {
        on_b.acquire("shard.a", "node-b")
            .await
            .unwrap()
            .ok_or("still held")
    })
    .await;
    assert!(new.term > old.term, "{new:?} after {old:?}");
    assert!(matches!(
        on_a.renew(&old).await,
        Err(LeaseError::Lost { .. })
    ));
    assert_eq!(
        on_a.holder("shard.a").await.unwrap(),
        Some(("node-b".to_owned(), new.term))
    );
}
