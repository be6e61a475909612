//! 去重键: repeated alerts or reports of the same open fault attach to one incident.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Identifies a fault across reports: the sender's kind plus its own stable identity of the fault
/// (an Alertmanager fingerprint, a Zabbix problem event id, a generic `dedup_key`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DedupKey(String);

impl DedupKey {
    /// Longest key kept; longer sender ids are hashed so the key stays indexable.
    const MAX_LEN: usize = 200;

    pub fn new(source: &str, fingerprint: &str) -> DedupKey {
        let raw = format!("{source}:{}", fingerprint.trim());
        if raw.len() <= Self::MAX_LEN {
            DedupKey(raw)
        } else {
            DedupKey(format!("{source}:sha256:{}", crate::util::sha256_hex(raw.as_bytes())))
        }
    }

    /// A key read back from the store.
    pub fn from_stored(s: String) -> DedupKey {
        DedupKey(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DedupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_per_source() {
        assert_ne!(DedupKey::new("zabbix", "42"), DedupKey::new("generic", "42"));
        assert_eq!(DedupKey::new("zabbix", " 42 "), DedupKey::new("zabbix", "42"));
    }

    #[test]
    fn long_keys_are_hashed_stably() {
        let long = "x".repeat(1000);
        let a = DedupKey::new("generic", &long);
        assert!(a.as_str().len() <= 200);
        assert_eq!(a, DedupKey::new("generic", &long));
        assert_ne!(a, DedupKey::new("generic", &"y".repeat(1000)));
    }
}
