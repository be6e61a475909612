//! 审计日志: an append-only, hash-chained record of what people did. Each record's hash covers the
//! previous record's hash and its own canonical content, so editing or deleting any record breaks
//! every hash after it — which `verify` finds.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::timeline::Actor;

/// The hash the first record chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened, by whom, to what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: Timestamp,
    pub actor: Actor,
    /// `acknowledge`, `set_severity`, …
    pub action: String,
    /// What it was done to, e.g. `incident:20261125-001`.
    pub subject: String,
    /// The action's arguments (reason, note, new level …).
    pub detail: serde_json::Value,
}

/// A stored record: its place in the chain and its hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    #[serde(flatten)]
    pub entry: AuditEntry,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of `entry` following a record whose hash is `prev`.
pub fn chain_hash(prev: &str, seq: i64, entry: &AuditEntry) -> String {
    // serde_json writes struct fields in declaration order and maps sorted (no preserve_order), so
    // the same entry always gives the same bytes.
    let canonical = serde_json::to_string(&(seq, entry)).expect("audit entries always serialize");
    crate::util::sha256_hex(format!("{prev}\n{canonical}").as_bytes())
}

/// Where a chain stops being trustworthy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditBreak {
    #[error("record {seq}: its hash does not match its content")]
    Altered { seq: i64 },
    #[error("record {seq}: it does not follow the record before it (one was removed or inserted)")]
    Unlinked { seq: i64 },
}

/// Check a chain read in order from the start.
pub fn verify(records: &[AuditRecord]) -> Result<usize, AuditBreak> {
    let mut prev = GENESIS.to_string();
    let mut expected_seq = None;
    for r in records {
        if r.prev_hash != prev || expected_seq.is_some_and(|s| s != r.seq) {
            return Err(AuditBreak::Unlinked { seq: r.seq });
        }
        if chain_hash(&r.prev_hash, r.seq, &r.entry) != r.hash {
            return Err(AuditBreak::Altered { seq: r.seq });
        }
        prev = r.hash.clone();
        expected_seq = Some(r.seq + 1);
    }
    Ok(records.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PersonId;

    fn chain(n: usize) -> Vec<AuditRecord> {
        let mut prev = GENESIS.to_string();
        (1..=n as i64)
            .map(|seq| {
                let entry = AuditEntry {
                    at: Timestamp::from_second(1_764_000_000 + seq).unwrap(),
                    actor: Actor::Person(PersonId("zhangwei".into())),
                    action: "set_severity".into(),
                    subject: format!("incident:20261125-00{seq}"),
                    detail: serde_json::json!({"to": 1, "reason": "全院无法立案"}),
                };
                let hash = chain_hash(&prev, seq, &entry);
                let r = AuditRecord { seq, entry, prev_hash: prev.clone(), hash: hash.clone() };
                prev = hash;
                r
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(5));
        assert_eq!(verify(&[]), Ok(0));
    }

    #[test]
    fn an_edit_is_found() {
        let mut c = chain(5);
        c[2].entry.detail = serde_json::json!({"to": 4, "reason": "改小一点"});
        assert_eq!(verify(&c), Err(AuditBreak::Altered { seq: 3 }));
    }

    #[test]
    fn a_removal_is_found() {
        let mut c = chain(5);
        c.remove(2);
        assert_eq!(verify(&c), Err(AuditBreak::Unlinked { seq: 4 }));
    }

    #[test]
    fn rewriting_one_record_with_a_new_hash_breaks_the_next() {
        let mut c = chain(5);
        c[1].entry.action = "resolve".into();
        c[1].hash = chain_hash(&c[1].prev_hash, c[1].seq, &c[1].entry);
        assert_eq!(verify(&c), Err(AuditBreak::Unlinked { seq: 3 }));
    }
}
