//! Who is writing: an IM account bound to a person of the catalogue, by a one-time binding code
//! (`zhiban people bind`) or by the account written in the catalogue (`people[].im.telegram`).

use jiff::Timestamp;
use rand::RngExt;
use sha2::{Digest, Sha256};
use zhiban_integrations::chat::{ChatUser, Provider};

use crate::config::{Config, Person};
use crate::domain::PersonId;
use crate::store::{SharedStore, StoreResult};

/// Digits in a binding code: enough that guessing one within its lifetime is hopeless at the rate
/// a chat allows, few enough to type on a phone.
pub const CODE_DIGITS: usize = 8;

/// The person an account belongs to: bound at runtime, else written in the catalogue (the user
/// id, or the `@username`).
pub async fn person<'c>(
    store: &SharedStore,
    config: &'c Config,
    provider: Provider,
    user: &ChatUser,
) -> StoreResult<Option<&'c Person>> {
    if let Some(id) = store.im_binding(provider, &user.id).await?
        && let Some(p) = config.catalogue.person(&id.0)
    {
        return Ok(Some(p));
    }
    Ok(config.catalogue.people.iter().find(|p| {
        account(p, provider).is_some_and(|a| {
            let a = a.trim();
            a == user.id
                || user.username.as_deref().is_some_and(|u| a.trim_start_matches('@').eq_ignore_ascii_case(u))
        })
    }))
}

/// The account the catalogue gives a person on a provider.
pub fn account(person: &Person, provider: Provider) -> Option<&str> {
    match provider {
        Provider::Telegram => person.im.telegram.as_deref(),
        Provider::Wecom => person.im.wecom.as_deref(),
        Provider::Dingtalk => person.im.dingtalk.as_deref(),
        Provider::Feishu => person.im.feishu.as_deref(),
    }
}

/// A new binding code for `person`, valid until `expires`; only its hash is stored.
pub async fn issue_code(
    store: &SharedStore,
    person: &PersonId,
    now: Timestamp,
    expires: Timestamp,
) -> StoreResult<String> {
    let mut rng = rand::rng();
    let code: String = (0..CODE_DIGITS).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect();
    store.add_bind_code(&code_hash(&code), person, now, expires).await?;
    Ok(code)
}

pub fn code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(code.as_bytes()))
}

/// Whether the message names binding (`绑定 …`, `/bind …`, `/start …`), not bare digits.
pub fn has_bind_prefix(text: &str) -> bool {
    let t = text.trim_start();
    ["绑定", "/bind", "/start", "bind"].iter().any(|p| t.starts_with(p))
}

/// The binding code in a message, if the message is one: `绑定 12345678`, `/bind 1234-5678`,
/// `/start 12345678` (a t.me deep link) or the bare digits.
pub fn code_in(text: &str) -> Option<String> {
    let t = text.trim();
    let rest = ["绑定", "/bind", "/start", "bind"]
        .iter()
        .find_map(|p| {
            let r = t.strip_prefix(p)?;
            // `/bind@zhiban_bot 1234…`
            let r = r
                .strip_prefix('@')
                .map(|x| x.split_once(char::is_whitespace).map_or("", |(_, a)| a))
                .unwrap_or(r);
            Some(r)
        })
        .unwrap_or(t);
    let rest = rest.trim_start_matches([':', '：', ' ', '\u{3000}']).trim();
    let digits: String = rest.chars().filter(|c| !matches!(c, ' ' | '-' | '\u{3000}')).collect();
    let digits: String = digits
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            c => c,
        })
        .collect();
    (digits.len() == CODE_DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_in_every_spelling() {
        for text in [
            "绑定 12345678",
            "绑定：1234 5678",
            "/bind 1234-5678",
            "/bind@zhiban_bot 12345678",
            "/start 12345678",
            "12345678",
            "１２３４５６７８",
        ] {
            assert_eq!(code_in(text).as_deref(), Some("12345678"), "{text}");
        }
        for text in ["绑定", "1234567", "123456789", "打印机坏了 12345678", "/start", "绑定 abcdefgh"]
        {
            assert_eq!(code_in(text), None, "{text}");
        }
    }

    #[test]
    fn hashes_are_stable_and_differ() {
        assert_eq!(code_hash("12345678"), code_hash("12345678"));
        assert_ne!(code_hash("12345678"), code_hash("12345679"));
    }
}
