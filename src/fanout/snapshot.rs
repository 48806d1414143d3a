//! [`RenderedSnapshot`]: a snapshot the hub picked (shared pointers to the agents' latest
//! states) and the first session writer that needs it renders, on its HTTP worker; shared by
//! every session that catches up from it (the sharing is the hub's snapshot cache).

use std::sync::{Arc, OnceLock};

use bytestring::ByteString;

use super::{protocol, published::Published};

/// A snapshot as of `seq`, rendered once (by whichever session writes it first) for every
/// session that shares it.
#[derive(Debug)]
pub struct RenderedSnapshot {
    pub seq: u64,
    agents: Vec<Arc<Published>>,
    frame_max_bytes: usize,
    frames: OnceLock<Box<[ByteString]>>,
}

impl RenderedSnapshot {
    pub fn new(seq: u64, agents: Vec<Arc<Published>>, frame_max_bytes: usize) -> Self {
        Self {
            seq,
            agents,
            frame_max_bytes,
            frames: OnceLock::new(),
        }
    }

    /// Agent states in it (deliveries, for the metrics).
    pub fn agents(&self) -> usize {
        self.agents.len()
    }

    /// The `snapshot` frames, rendered on first use.
    pub fn frames(&self) -> &[ByteString] {
        self.frames.get_or_init(|| {
            protocol::snapshot_frames(self.seq, &self.agents, self.frame_max_bytes).into()
        })
    }
}
