//! Cluster mode on NATS JetStream (issue 10, in progress): the building blocks the nodes share.
//! Nothing here runs unless a `[cluster]` section turns it on; the single process with no NATS
//! stays the default. So far: [`lease`], leader leases in a key-value bucket.

pub mod lease;
