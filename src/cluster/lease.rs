//! Leader leases in a JetStream key-value bucket, one key per lease (a shard's ingest, webhook
//! delivery).
//!
//! - **Acquire** = create the key (fails while another node's lease is alive).
//! - **Renew** = update the key at the revision last written (compare-and-swap); a failed
//!   swap means someone else holds it now: the holder must step down at once.
//! - **Expiry** = the bucket's `max_age` is the lease's time to live: a lease not renewed
//!   within it ages out of the bucket, and the next create wins.
//! - **Term** = the key's revision, which only grows: stamped on what a leader publishes, it
//!   lets everyone fence out an older leader.

use std::time::Duration;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;

/// A lease held by this node, as of its last write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub name: String,
    pub node: String,
    /// The key's revision at the last acquire or renew.
    pub term: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Renewing failed its compare-and-swap: another node acquired the lease.
    #[error("lease {name} lost at term {term}: another node holds it")]
    Lost { name: String, term: u64 },
    /// NATS did not answer as expected (not connected, JetStream off, timeout).
    #[error("lease bucket {bucket}: {detail}")]
    Nats { bucket: String, detail: String },
}

/// The bucket every node's leases live in.
#[derive(Clone)]
pub struct LeaseBucket {
    bucket: String,
    store: kv::Store,
}

impl LeaseBucket {
    /// Opens `bucket` (creating it with `ttl` as every lease's time to live if it is new).
    pub async fn open(
        jetstream: &jetstream::Context,
        bucket: &str,
        ttl: Duration,
    ) -> Result<Self, LeaseError> {
        // Opened if another node made it already (creating it again is not idempotent on
        // every server version), made otherwise.
        let store = match jetstream.get_key_value(bucket).await {
            Ok(store) => store,
            Err(_) => jetstream
                .create_key_value(kv::Config {
                    bucket: bucket.to_owned(),
                    history: 1,
                    max_age: ttl,
                    ..Default::default()
                })
                .await
                .map_err(|err| nats(bucket, err))?,
        };
        Ok(Self {
            bucket: bucket.to_owned(),
            store,
        })
    }

    /// Takes lease `name` for `node` if nobody holds it. `Ok(None)`: another node does.
    pub async fn acquire(&self, name: &str, node: &str) -> Result<Option<Held>, LeaseError> {
        match self.store.create(name, Bytes::from(node.to_owned())).await {
            Ok(term) => Ok(Some(Held {
                name: name.to_owned(),
                node: node.to_owned(),
                term,
            })),
            Err(err) if err.kind() == kv::CreateErrorKind::AlreadyExists => Ok(None),
            Err(err) => Err(nats(&self.bucket, err)),
        }
    }

    /// Renews `held`; the new term is the new revision. A failed compare-and-swap is
    /// [`LeaseError::Lost`].
    pub async fn renew(&self, held: &Held) -> Result<Held, LeaseError> {
        match self
            .store
            .update(&held.name, Bytes::from(held.node.clone()), held.term)
            .await
        {
            Ok(term) => Ok(Held {
                term,
                ..held.clone()
            }),
            Err(err) if is_wrong_revision(&err) => Err(LeaseError::Lost {
                name: held.name.clone(),
                term: held.term,
            }),
            Err(err) => Err(nats(&self.bucket, err)),
        }
    }

    /// Who holds lease `name` now, and at which term.
    pub async fn holder(&self, name: &str) -> Result<Option<(String, u64)>, LeaseError> {
        let entry = self
            .store
            .entry(name)
            .await
            .map_err(|err| nats(&self.bucket, err))?;
        Ok(entry
            .filter(|entry| entry.operation == kv::Operation::Put)
            .map(|entry| {
                (
                    String::from_utf8_lossy(&entry.value).into_owned(),
                    entry.revision,
                )
            }))
    }
}

/// Whether an update failed its compare-and-swap (the server's "wrong last sequence").
fn is_wrong_revision(err: &kv::UpdateError) -> bool {
    use std::error::Error as _;
    err.source()
        .and_then(|source| source.downcast_ref::<jetstream::context::PublishError>())
        .is_some_and(|publish| {
            publish.kind() == jetstream::context::PublishErrorKind::WrongLastSequence
        })
}

fn nats(bucket: &str, err: impl std::fmt::Display) -> LeaseError {
    LeaseError::Nats {
        bucket: bucket.to_owned(),
        detail: err.to_string(),
    }
}
