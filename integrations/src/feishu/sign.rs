//! Feishu's signatures:
//!
//! - the custom bot (自定义机器人): `sign = base64(HMAC-SHA256(key = "{timestamp}\n{secret}", msg = ""))`,
//!   `timestamp` in epoch seconds, both in the JSON body, accepted within an hour of Feishu's clock
//!   \[doc; our computed regression value in the tests\];
//! - events and new card callbacks to a developer server: `X-Lark-Signature =
//!   hex(SHA-256(timestamp + nonce + encrypt_key + body))` \[official Go SDK\];
//! - old card callbacks (消息卡片请求网址): `hex(SHA-1(timestamp + nonce + verification_token + body))`
//!   \[official Go SDK\].

use base64::Engine as _;
use hmac::{KeyInit as _, Mac as _};
use sha1::Sha1;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// How far a custom bot's `timestamp` may be from now, either way (Feishu's own rule: one hour).
pub const ROBOT_SIGN_WINDOW_SECS: i64 = 3600;

/// The `sign` of a custom bot request sent at `timestamp` (epoch seconds, as text).
pub fn robot_sign(secret: &str, timestamp: &str) -> String {
    let key = format!("{timestamp}\n{secret}");
    let mac = hmac::Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC accepts keys of any length");
    // The message is empty: the key carries everything.
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `sign` is the custom bot signature of `timestamp` with `secret`, and `timestamp` is
/// within [`ROBOT_SIGN_WINDOW_SECS`] of `now`. Compared in constant time; an empty secret never
/// matches.
pub fn verify_robot_sign(secret: &str, timestamp: &str, sign: &str, now: jiff::Timestamp) -> bool {
    if secret.is_empty() || !within_window(timestamp, now, ROBOT_SIGN_WINDOW_SECS) {
        return false;
    }
    bool::from(robot_sign(secret, timestamp).as_bytes().ct_eq(sign.trim().as_bytes()))
}

/// Whether `timestamp` (epoch seconds; milliseconds are recognised by their size) is within
/// `window` seconds of `now`.
pub(crate) fn within_window(timestamp: &str, now: jiff::Timestamp, window: i64) -> bool {
    let Ok(mut ts) = timestamp.trim().parse::<i64>() else { return false };
    if ts > 100_000_000_000 {
        ts /= 1000;
    }
    (now.as_second() - ts).abs() <= window
}

/// `X-Lark-Signature` of an event or a new-style card callback.
pub fn event_signature(timestamp: &str, nonce: &str, encrypt_key: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(timestamp.as_bytes());
    hasher.update(nonce.as_bytes());
    hasher.update(encrypt_key.as_bytes());
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// `X-Lark-Signature` of an old-style card callback (消息卡片请求网址).
pub fn card_signature(timestamp: &str, nonce: &str, verification_token: &str, body: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(timestamp.as_bytes());
    hasher.update(nonce.as_bytes());
    hasher.update(verification_token.as_bytes());
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// Constant-time comparison of two signatures, ignoring ASCII case (hex may come in capitals).
pub(crate) fn same(expected: &str, given: &str) -> bool {
    let given = given.trim().to_ascii_lowercase();
    bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// A stable update id for a provider id that is not a number: the first 8 bytes of its SHA-256,
/// big-endian, as a non-negative `i64`.
pub(crate) fn stable_id(seed: &[u8]) -> i64 {
    let digest = Sha256::digest(seed);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first) & i64::MAX
}
