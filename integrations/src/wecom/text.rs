//! Small text helpers: cutting to WeCom's limits, ids from provider ids.

use sha2::{Digest, Sha256};

/// `s` cut to at most `max` UTF-8 bytes at a character boundary, ending with `…` when cut.
pub(super) fn truncate_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let room = max.saturating_sub('…'.len_utf8());
    let mut end = room.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// `s` cut to at most `max` characters, ending with `…` when cut.
pub(super) fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let kept: String = s.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// A stable non-negative id for a provider's event key: the first 8 bytes of its SHA-256, as an
/// `i64` with the sign bit cleared.
pub fn stable_id(key: &str) -> i64 {
    let digest = Sha256::digest(key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first) & i64::MAX
}
