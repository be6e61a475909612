//! Signed action links (签名操作链接) for channels without buttons (SMS, email): a short token that
//! names a page and an expiry, signed with HMAC-SHA256. The token alone proves that its holder
//! received that page; the store records each action's first use, so a link works once per action.
//!
//! Format: `<page id>-<expiry, unix seconds>-<signature>`, the signature being the first 16 bytes
//! of HMAC-SHA256(secret, "zhiban-link/v1:<page>:<expiry>") in unpadded base64url — 128 bits,
//! short enough for an SMS.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use sha2::Sha256;

const SIGNATURE_BYTES: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkClaims {
    pub page: i64,
    pub expires: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is not valid")]
    Invalid,
    #[error("the link has expired")]
    Expired,
}

fn mac(secret: &[u8], page: i64, expires: i64) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(format!("zhiban-link/v1:{page}:{expires}").as_bytes());
    mac
}

pub fn sign(secret: &[u8], claims: LinkClaims) -> String {
    let expires = claims.expires.as_second();
    let tag = mac(secret, claims.page, expires).finalize().into_bytes();
    format!("{}-{}-{}", claims.page, expires, URL_SAFE_NO_PAD.encode(&tag[..SIGNATURE_BYTES]))
}

/// Check a token's signature, then its expiry (so that a forged token never learns whether it
/// would have expired).
pub fn verify(secret: &[u8], token: &str, now: Timestamp) -> Result<LinkClaims, LinkError> {
    let mut parts = token.splitn(3, '-');
    let (Some(page), Some(expires), Some(signature)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(LinkError::Invalid);
    };
    let page: i64 = page.parse().map_err(|_| LinkError::Invalid)?;
    let expires_s: i64 = expires.parse().map_err(|_| LinkError::Invalid)?;
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| LinkError::Invalid)?;
    if signature.len() != SIGNATURE_BYTES {
        return Err(LinkError::Invalid);
    }
    mac(secret, page, expires_s).verify_truncated_left(&signature).map_err(|_| LinkError::Invalid)?;
    let expires = Timestamp::from_second(expires_s).map_err(|_| LinkError::Invalid)?;
    if now >= expires {
        return Err(LinkError::Expired);
    }
    Ok(LinkClaims { page, expires })
}

/// The secret part of a person's calendar feed URL for a schedule (日历订阅): it never expires
/// (phones poll the feed for months); changing `link_secret` revokes every feed.
pub fn calendar_token(secret: &[u8], schedule: &str, person: &str) -> String {
    let tag = calendar_mac(secret, schedule, person).finalize().into_bytes();
    URL_SAFE_NO_PAD.encode(&tag[..SIGNATURE_BYTES])
}

pub fn verify_calendar_token(secret: &[u8], schedule: &str, person: &str, token: &str) -> bool {
    match URL_SAFE_NO_PAD.decode(token) {
        Ok(tag) if tag.len() == SIGNATURE_BYTES => {
            calendar_mac(secret, schedule, person).verify_truncated_left(&tag).is_ok()
        }
        _ => false,
    }
}

fn calendar_mac(secret: &[u8], schedule: &str, person: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    // Length-prefixed, so that ("a:b", "c") and ("a", "b:c") sign different texts.
    mac.update(format!("zhiban-calendar/v1:{}:{schedule}:{person}", schedule.len()).as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a-test-secret-of-at-least-32-bytes!!";

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_signed_link_verifies_until_it_expires() {
        let claims = LinkClaims { page: 42, expires: at("2026-11-26T00:00:00Z") };
        let token = sign(SECRET, claims);
        assert!(token.starts_with("42-"), "{token}");
        assert!(token.len() < 45, "short enough for an SMS: {token}");
        assert_eq!(verify(SECRET, &token, at("2026-11-25T23:59:59Z")), Ok(claims));
        assert_eq!(verify(SECRET, &token, at("2026-11-26T00:00:00Z")), Err(LinkError::Expired));
    }

    #[test]
    fn calendar_tokens_are_per_schedule_and_person() {
        let token = calendar_token(SECRET, "onsite", "zhangwei");
        assert!(verify_calendar_token(SECRET, "onsite", "zhangwei", &token));
        assert!(!verify_calendar_token(SECRET, "onsite", "lina", &token));
        assert!(!verify_calendar_token(SECRET, "second-line", "zhangwei", &token));
        assert!(!verify_calendar_token(SECRET, "onsite", "zhangwei", "bad"));
        assert_ne!(calendar_token(SECRET, "a:b", "c"), calendar_token(SECRET, "a", "b:c"));
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let token = sign(SECRET, LinkClaims { page: 42, expires: at("2026-11-26T00:00:00Z") });
        let now = at("2026-11-25T00:00:00Z");
        let forged_page = token.replacen("42-", "43-", 1);
        assert_eq!(verify(SECRET, &forged_page, now), Err(LinkError::Invalid));
        let later = sign(SECRET, LinkClaims { page: 42, expires: at("2026-12-26T00:00:00Z") });
        let (_, later_expiry) = later.split_once('-').unwrap();
        let sig = token.rsplit('-').next().unwrap();
        let extended = format!("42-{}-{sig}", later_expiry.split('-').next().unwrap());
        assert_eq!(verify(SECRET, &extended, now), Err(LinkError::Invalid));
        assert_eq!(verify(b"another-secret-another-secret-xx", &token, now), Err(LinkError::Invalid));
        for bad in ["", "42", "42-1", "x-1-abc", "42-1-!!!", "42-99999999999999999999-a"] {
            assert_eq!(verify(SECRET, bad, now), Err(LinkError::Invalid), "{bad}");
        }
    }
}
