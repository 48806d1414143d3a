//! The audit trail alone: an audit actor on a store in a test's temporary directory, queried
//! and flushed with bounded waits, and `agentcast audit verify` run on a store.

use std::{path::Path, process::Command};

use actix::Addr;
use agentcast::{
    actors::audit::{
        AuditActor, AuditConfig, AuditMetrics, AuditQuery, AuditTrail, Flush, StoredRecord,
    },
    config::AuditSettings,
};

use super::{process::text, within};

/// An audit actor on `<dir>/audit.sqlite` (synchronous=normal), its settings adjusted by
/// `tune`: its address, the trail (which stops it), and its metrics.
pub fn start_audit(
    dir: &tempfile::TempDir,
    tune: impl FnOnce(&mut AuditSettings),
) -> (Addr<AuditActor>, AuditTrail, AuditMetrics) {
    let mut settings = AuditSettings {
        path: dir.path().join("audit.sqlite").display().to_string(),
        synchronous: agentcast::Synchronous::Normal,
        ..AuditSettings::default()
    };
    tune(&mut settings);
    let metrics = AuditMetrics::new(&prometheus::Registry::new());
    let trail = AuditActor::start(AuditConfig::from_settings(&settings), metrics.clone())
        .expect("the audit trail opens");
    (trail.addr.clone(), trail, metrics)
}

/// The stored records `q` selects.
pub async fn query(audit: &Addr<AuditActor>, q: AuditQuery) -> Vec<StoredRecord> {
    within("an audit query", audit.send(q))
        .await
        .expect("the audit actor runs")
        .expect("the query is answered")
}

/// Waits until everything sent to `audit` so far is stored.
pub async fn flush(audit: &Addr<AuditActor>) {
    within("an audit flush", audit.send(Flush))
        .await
        .expect("the audit actor runs");
}

/// A query for up to 1,000 records of `kind` (`""`: of no kind; set `kind: None` for all).
pub fn of_kind(kind: &str) -> AuditQuery {
    AuditQuery {
        kind: Some(kind.into()),
        agent_id: None,
        since: None,
        limit: 1000,
    }
}

/// `agentcast audit verify --path <path> <extra>`: whether it succeeded, and what it printed
/// (stdout, then stderr).
pub fn verify_cli(path: &Path, extra: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_agentcast"))
        .args(["audit", "verify", "--path"])
        .arg(path)
        .args(extra)
        .env("RUST_LOG", "error")
        .output()
        .expect("agentcast runs");
    (
        out.status.success(),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}
