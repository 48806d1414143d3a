//! The hash chain: each audit record's hash is SHA-256 over the previous record's hash and the
//! record's canonical bytes, so altering, removing or reordering a record breaks every hash
//! from there on. [`verify`] recomputes the chain and names the first record that does not fit.
//!
//! Retention removes the oldest records; the hash and id of the last one removed are kept as an
//! *anchor*, and verification starts from it. Limits: someone able to rewrite the whole file can
//! recompute every hash after their change (the chain proves integrity against partial
//! tampering, not against a writer with full access; export the head hash elsewhere to cover
//! that), and removing the newest records is visible only against such an exported head.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::store::{self, StoreError};

/// The "previous hash" of the first record ever written.
pub const GENESIS: [u8; 32] = [0; 32];
/// Domain separation: these bytes start every hashed record.
const DOMAIN: &[u8] = b"agentcast-audit-v1\0";

/// SHA-256(prev ‖ canonical(record)). The canonical form is unambiguous: fixed-width id and
/// length-prefixed fields, with a tag for the optional agent.
pub fn record_hash(
    prev: &[u8; 32],
    id: i64,
    at: &str,
    kind: &str,
    agent_id: Option<&str>,
    details: &str,
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(DOMAIN);
    h.update(id.to_be_bytes());
    for field in [at, kind] {
        field_bytes(&mut h, field);
    }
    match agent_id {
        Some(agent) => {
            h.update([1]);
            field_bytes(&mut h, agent);
        }
        None => h.update([0]),
    }
    field_bytes(&mut h, details);
    h.finalize().into()
}

fn field_bytes(h: &mut Sha256, field: &str) {
    h.update((field.len() as u64).to_be_bytes());
    h.update(field.as_bytes());
}

/// A chain that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub records: u64,
    pub first_id: Option<i64>,
    pub last_id: Option<i64>,
    /// The hash of the last record (the anchor's, or the genesis, when there are none).
    pub head: [u8; 32],
    /// Id of the last record removed by retention, if any.
    pub anchor_id: Option<i64>,
}

/// The first record that does not fit the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub id: i64,
    pub at: String,
    pub kind: String,
    pub problem: BrokenBecause,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokenBecause {
    /// Its stored hash is not the hash of its content and its predecessor's hash.
    HashMismatch,
    /// Records between the previous one and it are gone.
    Missing { expected: i64 },
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (id, at, kind) = (self.id, &self.at, &self.kind);
        match self.problem {
            BrokenBecause::HashMismatch => write!(
                f,
                "record {id} ({at}, {kind}) does not match its hash: it, or its stored hash, \
                 was altered"
            ),
            BrokenBecause::Missing { expected } => write!(
                f,
                "record {id} ({at}, {kind}) comes where record {expected} should: records \
                 {expected}..{id} are missing"
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("audit chain broken at {0}")]
    Broken(Broken),
    #[error("audit store: {0}")]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for VerifyError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(e.into())
    }
}

/// Verifies the audit store at `path` (it must exist).
pub fn verify_path(path: &Path) -> Result<Verified, VerifyError> {
    verify(&store::open_existing(path)?)
}

/// Recomputes the whole chain, from the retention anchor (or the genesis) to the last record.
pub fn verify(conn: &Connection) -> Result<Verified, VerifyError> {
    let anchor: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT last_id, last_hash FROM audit_anchor WHERE singleton = 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let (mut expected, mut prev) = match &anchor {
        Some((id, hash)) => (id + 1, to_hash(hash)),
        None => (1, GENESIS),
    };
    let mut verified = Verified {
        records: 0,
        first_id: None,
        last_id: None,
        head: prev,
        anchor_id: anchor.as_ref().map(|(id, _)| *id),
    };
    let mut stmt =
        conn.prepare("SELECT id, at, kind, agent_id, details, hash FROM audit ORDER BY id")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let at: String = row.get(1)?;
        let kind: String = row.get(2)?;
        let agent: Option<String> = row.get(3)?;
        let details: String = row.get(4)?;
        let stored: Vec<u8> = row.get(5)?;
        let broken = |problem| {
            VerifyError::Broken(Broken {
                id,
                at: at.clone(),
                kind: kind.clone(),
                problem,
            })
        };
        if id != expected {
            return Err(broken(BrokenBecause::Missing { expected }));
        }
        let computed = record_hash(&prev, id, &at, &kind, agent.as_deref(), &details);
        if stored.as_slice() != computed.as_slice() {
            return Err(broken(BrokenBecause::HashMismatch));
        }
        prev = computed;
        expected += 1;
        verified.records += 1;
        verified.first_id.get_or_insert(id);
        verified.last_id = Some(id);
    }
    verified.head = prev;
    Ok(verified)
}

/// A stored hash as an array (a wrong length compares unequal: all zeros but the genesis).
pub fn to_hash(bytes: &[u8]) -> [u8; 32] {
    bytes.try_into().unwrap_or([0xff; 32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_depends_on_every_field_and_the_previous_hash() {
        let base = record_hash(&GENESIS, 1, "t", "reject", Some("a"), "{}");
        assert_ne!(
            base,
            record_hash(&[1; 32], 1, "t", "reject", Some("a"), "{}")
        );
        assert_ne!(
            base,
            record_hash(&GENESIS, 2, "t", "reject", Some("a"), "{}")
        );
        assert_ne!(
            base,
            record_hash(&GENESIS, 1, "u", "reject", Some("a"), "{}")
        );
        assert_ne!(
            base,
            record_hash(&GENESIS, 1, "t", "start", Some("a"), "{}")
        );
        assert_ne!(base, record_hash(&GENESIS, 1, "t", "reject", None, "{}"));
        assert_ne!(
            base,
            record_hash(&GENESIS, 1, "t", "reject", Some(""), "{}")
        );
        assert_ne!(
            base,
            record_hash(&GENESIS, 1, "t", "reject", Some("a"), "{ }")
        );
        // Moving bytes between fields changes the hash (length prefixes).
        assert_ne!(
            record_hash(&GENESIS, 1, "ab", "c", None, ""),
            record_hash(&GENESIS, 1, "a", "bc", None, "")
        );
        assert_eq!(
            base,
            record_hash(&GENESIS, 1, "t", "reject", Some("a"), "{}")
        );
    }
}
