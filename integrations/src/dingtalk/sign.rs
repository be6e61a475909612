//! DingTalk's signatures: the custom robot's `sign` query parameter and the enterprise robot's
//! `sign` callback header are the same HMAC-SHA256 (spec §3.1, §3.2), plus the small helpers
//! around them (percent-encoding, time windows, event ids).

use base64::Engine as _;
use hmac::{KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// How far a signed timestamp may be from our clock, either way: one hour, for both the custom
/// robot (§3.1) and the robot callback headers (§3.2).
pub const SIGN_WINDOW_MS: i64 = 60 * 60 * 1000;

/// `base64(HMAC-SHA256(key = secret, msg = timestamp + "\n" + secret))`, not URL-encoded.
pub fn sign(secret: &str, timestamp_ms: &str) -> String {
    let mut mac =
        hmac::Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp_ms.as_bytes());
    mac.update(b"\n");
    mac.update(secret.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `timestamp_ms` (decimal epoch milliseconds) is within [`SIGN_WINDOW_MS`] of `now`.
pub(crate) fn fresh(timestamp_ms: &str, now: jiff::Timestamp) -> bool {
    match timestamp_ms.trim().parse::<i64>() {
        Ok(ts) => now.as_millisecond().checked_sub(ts).is_some_and(|d| d.abs() <= SIGN_WINDOW_MS),
        Err(_) => false,
    }
}

/// Compares a received base64 signature with the expected one in constant time.
pub(crate) fn sign_matches(secret: &str, timestamp_ms: &str, received: &str) -> bool {
    let expected = sign(secret, timestamp_ms.trim());
    bool::from(expected.as_bytes().ct_eq(received.trim().as_bytes()))
}

/// Percent-encodes everything but RFC 3986 unreserved characters (`A-Z a-z 0-9 - _ . ~`), as
/// Java's `URLEncoder` does for base64 text: `+` → `%2B`, `/` → `%2F`, `=` → `%3D`.
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes and `+` (as a space, per `application/x-www-form-urlencoded`).
/// Invalid escapes are kept as they are.
pub(crate) fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of `name` in a raw query string (`a=1&b=2`), decoded.
pub(crate) fn query_param(query: &str, name: &str) -> Option<String> {
    query.trim_start_matches('?').split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (url_decode(k) == name).then(|| url_decode(v))
    })
}

/// A stable, non-negative `i64` for a provider id that is not a number: the first 8 bytes of its
/// SHA-256, big-endian, masked to 63 bits.
pub fn event_id(provider_id: &str) -> i64 {
    let digest = Sha256::digest(provider_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first) & i64::MAX
}
