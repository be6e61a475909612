//! Who is calling: webhook senders by their source's bearer token or HMAC signature, people by
//! their API token (Bearer, or Basic with the token as password for the browser dashboard).

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::config::{Config, Permission, Person, SourceAuth};

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Check a webhook request against its source's authentication. Constant-time comparisons.
pub fn check_source(auth: &SourceAuth, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    match auth {
        SourceAuth::Bearer(expected) => {
            let presented = bearer(headers).ok_or_else(|| {
                ApiError::Unauthorized("an Authorization: Bearer <token> header is required".into())
            })?;
            if bool::from(presented.as_bytes().ct_eq(expected.expose().as_bytes())) {
                Ok(())
            } else {
                Err(ApiError::Unauthorized("the token is not valid for this source".into()))
            }
        }
        SourceAuth::Hmac { secret, header } => {
            let value = headers.get(header.as_str()).and_then(|v| v.to_str().ok()).ok_or_else(|| {
                ApiError::Unauthorized(format!("the {header} signature header is required"))
            })?;
            let hex_sig = value.trim().strip_prefix("sha256=").unwrap_or(value.trim());
            let presented = hex::decode(hex_sig)
                .map_err(|_| ApiError::Unauthorized(format!("the {header} header is not sha256=<hex>")))?;
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).expect("any key length");
            mac.update(body);
            // `verify_slice` compares in constant time.
            mac.verify_slice(&presented)
                .map_err(|_| ApiError::Unauthorized("the signature does not match the body".into()))
        }
    }
}

/// The person an API request acts as: `Authorization: Bearer <API token>` only. Browsers resend
/// Basic credentials by themselves, so accepting them here would let any web page a signed-in
/// person visits post actions (CSRF); a Bearer header is never added by a browser on its own.
pub fn person<'c>(config: &'c Config, headers: &HeaderMap) -> Result<&'c Person, ApiError> {
    let token = bearer(headers).ok_or_else(|| {
        ApiError::Unauthorized("an Authorization: Bearer <API token> header is required".into())
    })?;
    config.person_for_token(token).ok_or_else(|| ApiError::Unauthorized("the API token is not valid".into()))
}

/// The person reading the dashboard (read-only pages): Bearer, or Basic with the token as password.
pub fn browser_person<'c>(config: &'c Config, headers: &HeaderMap) -> Result<&'c Person, ApiError> {
    let token = bearer(headers)
        .map(str::to_string)
        .or_else(|| basic_password(headers))
        .ok_or_else(|| ApiError::Unauthorized("sign in with your API token as the password".into()))?;
    config.person_for_token(&token).ok_or_else(|| ApiError::Unauthorized("the API token is not valid".into()))
}

/// `/metrics`: the scrape token, or any person's API token.
pub fn check_metrics(config: &Config, headers: &HeaderMap) -> Result<(), ApiError> {
    if let (Some(expected), Some(presented)) = (&config.server.metrics_token, bearer(headers))
        && bool::from(presented.as_bytes().ct_eq(expected.expose().as_bytes()))
    {
        return Ok(());
    }
    person(config, headers).map(|_| ())
}

pub fn require(person: &Person, permission: Permission) -> Result<(), ApiError> {
    if person.may(permission) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!("{} ({}) may not do this", person.name, person.id)))
    }
}

/// Basic auth as browsers send it: user = person id (not checked beyond the token), password = token.
fn basic_password(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':').map(|(_, password)| password.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    #[test]
    fn bearer_tokens() {
        let auth = SourceAuth::Bearer(Secret::new("dev-alertmanager-token"));
        assert!(
            check_source(&auth, &headers(&[("authorization", "Bearer dev-alertmanager-token")]), b"").is_ok()
        );
        assert!(
            check_source(&auth, &headers(&[("authorization", "bearer  dev-alertmanager-token ")]), b"")
                .is_ok()
        );
        assert!(
            check_source(&auth, &headers(&[("authorization", "Bearer dev-alertmanager-tokeX")]), b"")
                .is_err()
        );
        assert!(check_source(&auth, &headers(&[]), b"").is_err());
        assert!(check_source(&auth, &headers(&[("authorization", "Basic abc")]), b"").is_err());
    }

    #[test]
    fn hmac_signatures() {
        let auth = SourceAuth::Hmac { secret: Secret::new("Jefe"), header: "X-Zhiban-Signature".into() };
        let body = b"what do ya want for nothing?";
        let good = "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert!(check_source(&auth, &headers(&[("x-zhiban-signature", good)]), body).is_ok());
        assert!(check_source(&auth, &headers(&[("x-zhiban-signature", &good[7..])]), body).is_ok());
        assert!(check_source(&auth, &headers(&[("x-zhiban-signature", good)]), b"tampered").is_err());
        assert!(check_source(&auth, &headers(&[("x-zhiban-signature", "sha256=zz")]), body).is_err());
        assert!(check_source(&auth, &headers(&[]), body).is_err());
    }
}
