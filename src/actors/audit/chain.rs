//! The hash chain: each audit record's hash is SHA-256 over the previous record's hash and
//! everything the record says (id, time as text and as Unix microseconds, kind, agent,
//! details), so altering, removing or reordering a record, or shifting its time, breaks every
//! hash from there on. [`verify`] recomputes the chain and names the first record that does not
//! fit.
//!
//! Retention removes the oldest records; the hash and id of the last one removed are kept as an
//! *anchor*, and verification starts from it. Removing the *newest* records leaves a shorter
//! chain that is intact in itself: to detect that, keep the [`Head`] (`<id>:<sha256>`) that
//! `agentcast audit verify` prints somewhere else, and check later with `--head`: the record
//! with that id must still be there with that hash. The same check catches someone who
//! rewrites the whole file and recomputes every hash, since they cannot reproduce a head kept
//! out of their reach.
//!
//! Format versions: stores written before the time column was hashed (`v1`) keep their hashes;
//! the table `audit_format` says from which id on records are hashed as `v2`, and for every
//! record, old or new, the verifier checks that both forms of its time agree.

use std::{fmt, path::Path, str::FromStr};

use chrono::{DateTime, SecondsFormat};
use rusqlite::{Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use super::{GAP_KIND, records::GAP_COUNT_FIELD};
use crate::store::{self, StoreError};

/// The "previous hash" of the first record ever written.
pub const GENESIS: [u8; 32] = [0; 32];
/// Domain separation: these bytes start every hashed record (v2: the time in microseconds is
/// hashed too).
const DOMAIN_V2: &[u8] = b"agentcast-audit-v2\0";
/// The first format, kept to verify the records written with it.
const DOMAIN_V1: &[u8] = b"agentcast-audit-v1\0";

/// Everything one record says, as stored.
#[derive(Debug, Clone, Copy)]
pub struct RecordFields<'a> {
    pub id: i64,
    /// RFC 3339, UTC, microseconds.
    pub at: &'a str,
    /// The same time in Unix microseconds (what queries and retention use).
    pub at_us: i64,
    pub kind: &'a str,
    pub agent_id: Option<&'a str>,
    /// JSON, as stored.
    pub details: &'a str,
}

/// SHA-256(prev ‖ canonical(record)). The canonical form is unambiguous: fixed-width id and
/// time, length-prefixed fields, a tag for the optional agent.
pub fn record_hash(prev: &[u8; 32], r: &RecordFields<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(DOMAIN_V2);
    h.update(r.id.to_be_bytes());
    h.update(r.at_us.to_be_bytes());
    canonical_tail(&mut h, r);
    h.finalize().into()
}

/// The v1 hash: like [`record_hash`] without `at_us`.
fn record_hash_v1(prev: &[u8; 32], r: &RecordFields<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(DOMAIN_V1);
    h.update(r.id.to_be_bytes());
    canonical_tail(&mut h, r);
    h.finalize().into()
}

fn canonical_tail(h: &mut Sha256, r: &RecordFields<'_>) {
    for field in [r.at, r.kind] {
        field_bytes(h, field);
    }
    match r.agent_id {
        Some(agent) => {
            h.update([1]);
            field_bytes(h, agent);
        }
        None => h.update([0]),
    }
    field_bytes(h, r.details);
}

fn field_bytes(h: &mut Sha256, field: &str) {
    h.update((field.len() as u64).to_be_bytes());
    h.update(field.as_bytes());
}

/// A time as the store writes it (`at`), and as Unix microseconds (`at_us`).
pub fn stored_time(at: DateTime<chrono::Utc>) -> (String, i64) {
    (
        at.to_rfc3339_opts(SecondsFormat::Micros, true),
        at.timestamp_micros(),
    )
}

/// A point of the chain: a record's id and its chain hash. Printed and parsed as
/// `<id>:<64 hex digits>`, the form `agentcast audit verify` prints and `--head` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub id: i64,
    pub hash: [u8; 32],
}

impl fmt::Display for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.id, hex::encode(self.hash))
    }
}

impl FromStr for Head {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let shape =
            || format!("{s:?} is not <record id>:<64 hex digits>, as audit verify prints it");
        let (id, hash) = s.split_once(':').ok_or_else(shape)?;
        let id: i64 = id.parse().map_err(|_| shape())?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hash, &mut bytes).map_err(|_| shape())?;
        if id < 0 {
            return Err(shape());
        }
        Ok(Self { id, hash: bytes })
    }
}

/// A chain that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub records: u64,
    pub first_id: Option<i64>,
    pub last_id: Option<i64>,
    /// The last record's id and hash (the anchor's, or 0 and the genesis, when there are none):
    /// keep it elsewhere to detect later that the newest records were removed.
    pub head: Head,
    /// Id of the last record removed by retention, if any.
    pub anchor_id: Option<i64>,
    /// The head given to check against, when one was (it matched).
    pub matched: Option<Head>,
    /// `audit_gap` records in the chain, and how many events they say are missing from it.
    pub gap_records: u64,
    pub gap_events: u64,
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
    /// Its two forms of the time (`at` and `at_us`) disagree.
    TimeMismatch { at_us: i64 },
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
            BrokenBecause::TimeMismatch { at_us } => write!(
                f,
                "record {id} ({at}, {kind}) has a different time in at_us ({at_us}): its time \
                 was altered"
            ),
        }
    }
}

/// How the chain fails to reach a head kept elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadProblem {
    /// The chain ends before the head: the newest records were removed.
    Truncated { head: Head, last_id: Option<i64> },
    /// The record at the head's id has another chain hash: the chain up to it was rewritten.
    Differs { head: Head, found: [u8; 32] },
    /// Retention has removed the head's record (and it was not the last one removed), so it
    /// cannot be checked.
    Purged { head: Head, anchor_id: i64 },
}

impl fmt::Display for HeadProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { head, last_id } => {
                let ends = last_id.map_or("has no records".to_owned(), |id| {
                    format!("ends at record {id}")
                });
                write!(
                    f,
                    "the anchored head is record {}, but the chain {ends}: the newest records \
                     were removed",
                    head.id
                )
            }
            Self::Differs { head, found } => write!(
                f,
                "record {} is not the anchored head: its chain hash is {}, the head's {} (the \
                 chain up to it was rewritten)",
                head.id,
                hex::encode(found),
                hex::encode(head.hash)
            ),
            Self::Purged { head, anchor_id } => write!(
                f,
                "the anchored head, record {}, was removed by retention (the chain now starts \
                 after record {anchor_id}); anchor a newer head",
                head.id
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("audit chain broken at {0}")]
    Broken(Broken),
    #[error("audit chain does not reach the anchored head: {0}")]
    Head(HeadProblem),
    #[error("audit store: {0}")]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for VerifyError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(e.into())
    }
}

/// Verifies the audit store at `path` (it must exist), and that it still holds `head` if one
/// is given.
pub fn verify_path(path: &Path, head: Option<Head>) -> Result<Verified, VerifyError> {
    verify(&store::open_existing(path)?, head)
}

/// The first id hashed as v2 (stores without the table are all v1).
fn v2_from_id(conn: &Connection) -> Result<i64, VerifyError> {
    let has_table: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_format')",
        [],
        |row| row.get(0),
    )?;
    if !has_table {
        return Ok(i64::MAX);
    }
    Ok(conn
        .query_row(
            "SELECT v2_from_id FROM audit_format WHERE singleton = 1",
            [],
            |row| row.get(0),
        )
        .optional()?
        .unwrap_or(i64::MAX))
}

/// Recomputes the whole chain, from the retention anchor (or the genesis) to the last record,
/// and checks that it holds `expected_head` when one is given.
pub fn verify(conn: &Connection, expected_head: Option<Head>) -> Result<Verified, VerifyError> {
    let anchor: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT last_id, last_hash FROM audit_anchor WHERE singleton = 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let v2_from = v2_from_id(conn)?;
    let start = match &anchor {
        Some((id, hash)) => Head {
            id: *id,
            hash: to_hash(hash),
        },
        None => Head {
            id: 0,
            hash: GENESIS,
        },
    };
    if let Some(head) = expected_head {
        if head.id < start.id {
            return Err(VerifyError::Head(HeadProblem::Purged {
                head,
                anchor_id: start.id,
            }));
        }
        if head.id == start.id && head.hash != start.hash {
            return Err(VerifyError::Head(HeadProblem::Differs {
                head,
                found: start.hash,
            }));
        }
    }
    let (mut expected, mut prev) = (start.id + 1, start.hash);
    let mut verified = Verified {
        records: 0,
        first_id: None,
        last_id: None,
        head: start,
        anchor_id: anchor.as_ref().map(|(id, _)| *id),
        matched: None,
        gap_records: 0,
        gap_events: 0,
    };
    let mut stmt =
        conn.prepare("SELECT id, at, at_us, kind, agent_id, details, hash FROM audit ORDER BY id")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let at: String = row.get(1)?;
        let at_us: i64 = row.get(2)?;
        let kind: String = row.get(3)?;
        let agent: Option<String> = row.get(4)?;
        let details: String = row.get(5)?;
        let stored: Vec<u8> = row.get(6)?;
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
        let fields = RecordFields {
            id,
            at: &at,
            at_us,
            kind: &kind,
            agent_id: agent.as_deref(),
            details: &details,
        };
        // v1 did not hash at_us; in every version it must be the time `at` says.
        let said = DateTime::parse_from_rfc3339(&at).map(|t| t.timestamp_micros());
        if said != Ok(at_us) {
            return Err(broken(BrokenBecause::TimeMismatch { at_us }));
        }
        let computed = if id >= v2_from {
            record_hash(&prev, &fields)
        } else {
            record_hash_v1(&prev, &fields)
        };
        if stored.as_slice() != computed.as_slice() {
            return Err(broken(BrokenBecause::HashMismatch));
        }
        if let Some(head) = expected_head.filter(|h| h.id == id)
            && head.hash != computed
        {
            return Err(VerifyError::Head(HeadProblem::Differs {
                head,
                found: computed,
            }));
        }
        if kind == GAP_KIND {
            verified.gap_records += 1;
            verified.gap_events += gap_count(&details);
        }
        prev = computed;
        expected += 1;
        verified.records += 1;
        verified.first_id.get_or_insert(id);
        verified.last_id = Some(id);
    }
    verified.head = Head {
        id: expected - 1,
        hash: prev,
    };
    if let Some(head) = expected_head {
        if head.id > verified.head.id {
            return Err(VerifyError::Head(HeadProblem::Truncated {
                head,
                last_id: verified.last_id,
            }));
        }
        verified.matched = Some(head);
    }
    Ok(verified)
}

/// How many events an `audit_gap` record stands for (`unwritten` in records written before the
/// field was named `count`; a record that says neither counts as 0 events, still 1 record).
fn gap_count(details: &str) -> u64 {
    let details: serde_json::Value = serde_json::from_str(details).unwrap_or_default();
    [GAP_COUNT_FIELD, "unwritten"]
        .iter()
        .find_map(|field| details[field].as_u64())
        .unwrap_or(0)
}

/// A stored hash as an array (a wrong length compares unequal: all zeros but the genesis).
pub fn to_hash(bytes: &[u8]) -> [u8; 32] {
    bytes.try_into().unwrap_or([0xff; 32])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(at: &str, at_us: i64, kind: &str, agent: Option<&str>, details: &str) -> [u8; 32] {
        record_hash_at(&GENESIS, 1, at, at_us, kind, agent, details)
    }

    fn record_hash_at(
        prev: &[u8; 32],
        id: i64,
        at: &str,
        at_us: i64,
        kind: &str,
        agent_id: Option<&str>,
        details: &str,
    ) -> [u8; 32] {
        record_hash(
            prev,
            &RecordFields {
                id,
                at,
                at_us,
                kind,
                agent_id,
                details,
            },
        )
    }

    #[test]
    fn the_hash_depends_on_every_field_the_time_included_and_the_previous_hash() {
        let base = hash("t", 7, "reject", Some("a"), "{}");
        assert_ne!(
            base,
            record_hash_at(&[1; 32], 1, "t", 7, "reject", Some("a"), "{}")
        );
        assert_ne!(
            base,
            record_hash_at(&GENESIS, 2, "t", 7, "reject", Some("a"), "{}")
        );
        assert_ne!(base, hash("u", 7, "reject", Some("a"), "{}"));
        assert_ne!(base, hash("t", 8, "reject", Some("a"), "{}"), "at_us");
        assert_ne!(base, hash("t", 7, "start", Some("a"), "{}"));
        assert_ne!(base, hash("t", 7, "reject", None, "{}"));
        assert_ne!(base, hash("t", 7, "reject", Some(""), "{}"));
        assert_ne!(base, hash("t", 7, "reject", Some("a"), "{ }"));
        // Moving bytes between fields changes the hash (length prefixes).
        assert_ne!(hash("ab", 7, "c", None, ""), hash("a", 7, "bc", None, ""));
        assert_eq!(base, hash("t", 7, "reject", Some("a"), "{}"));
        // v1 and v2 hashes of the same record differ (domain separation).
        let fields = RecordFields {
            id: 1,
            at: "t",
            at_us: 7,
            kind: "reject",
            agent_id: Some("a"),
            details: "{}",
        };
        assert_ne!(base, record_hash_v1(&GENESIS, &fields));
    }

    #[test]
    fn a_head_reads_back_what_it_prints() {
        let head = Head {
            id: 41,
            hash: [0xab; 32],
        };
        let printed = head.to_string();
        assert_eq!(printed, format!("41:{}", "ab".repeat(32)));
        assert_eq!(printed.parse::<Head>(), Ok(head));
        let negative = format!("-1:{}", "00".repeat(32));
        for bad in ["41", "x:00", "41:abc", negative.as_str()] {
            assert!(bad.parse::<Head>().is_err(), "{bad}");
        }
    }
}
