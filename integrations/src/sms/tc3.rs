//! Tencent Cloud API 3.0 request signing (`TC3-HMAC-SHA256`), for any product.
//!
//! Kept apart from [`super::tencent`] because the algorithm is product-independent and its only
//! published test vector is for CVM, not SMS: the same function must pass both.

use hmac::{KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};

/// The content type every signed request carries; it is part of the canonical request.
pub const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// What to sign: a `POST /` with a JSON payload to `host`.
#[derive(Debug, Clone, Copy)]
pub struct Tc3Input<'a> {
    pub secret_id: &'a str,
    pub secret_key: &'a str,
    /// The product's service name: `sms`, `cvm`…
    pub service: &'a str,
    /// `sms.tencentcloudapi.com`.
    pub host: &'a str,
    /// The exact body bytes that will be sent.
    pub payload: &'a [u8],
    /// Seconds since the Unix epoch; also the `X-TC-Timestamp` header.
    pub timestamp: i64,
}

/// Every intermediate value, so a failing signature can be compared step by step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tc3Signature {
    /// The UTC date of the timestamp, `2019-02-25`: Tencent rejects a local (UTC+8) date.
    pub date: String,
    pub credential_scope: String,
    pub payload_hash: String,
    pub canonical_request_hash: String,
    pub signature: String,
    /// The complete `Authorization` header value.
    pub authorization: String,
}

/// Signs a request. Returns `None` only for a timestamp outside jiff's range (years -9999..=9999).
pub fn sign(input: &Tc3Input<'_>) -> Option<Tc3Signature> {
    let date = jiff::Timestamp::from_second(input.timestamp).ok()?.strftime("%Y-%m-%d").to_string();
    let payload_hash = hex::encode(Sha256::digest(input.payload));
    let canonical_request = format!(
        "POST\n/\n\ncontent-type:{CONTENT_TYPE}\nhost:{}\n\ncontent-type;host\n{payload_hash}",
        input.host
    );
    let canonical_request_hash = hex::encode(Sha256::digest(canonical_request.as_bytes()));
    let credential_scope = format!("{date}/{}/tc3_request", input.service);
    let string_to_sign =
        format!("TC3-HMAC-SHA256\n{}\n{credential_scope}\n{canonical_request_hash}", input.timestamp);
    let k_date = hmac_sha256(format!("TC3{}", input.secret_key).as_bytes(), date.as_bytes());
    let k_service = hmac_sha256(&k_date, input.service.as_bytes());
    let k_signing = hmac_sha256(&k_service, b"tc3_request");
    let signature = hex::encode(hmac_sha256(&k_signing, string_to_sign.as_bytes()));
    let authorization = format!(
        "TC3-HMAC-SHA256 Credential={}/{credential_scope}, SignedHeaders=content-type;host, Signature={signature}",
        input.secret_id
    );
    Some(Tc3Signature {
        date,
        credential_scope,
        payload_hash,
        canonical_request_hash,
        signature,
        authorization,
    })
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_cvm_vector() {
        let payload =
            r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        let sig = sign(&Tc3Input {
            secret_id: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
            secret_key: "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
            service: "cvm",
            host: "cvm.tencentcloudapi.com",
            payload: payload.as_bytes(),
            timestamp: 1551113065,
        })
        .unwrap();
        assert_eq!(sig.date, "2019-02-25");
        assert_eq!(sig.credential_scope, "2019-02-25/cvm/tc3_request");
        assert_eq!(sig.payload_hash, "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064");
        assert_eq!(
            sig.canonical_request_hash,
            "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
        assert_eq!(sig.signature, "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168");
        assert_eq!(
            sig.authorization,
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, \
             SignedHeaders=content-type;host, \
             Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
    }

    #[test]
    fn date_is_utc_not_beijing() {
        // 2026-11-25T23:30:00Z is already 2026-11-26 in Beijing; the scope must say the 25th.
        let ts = jiff::Timestamp::from_second(1_795_649_400).unwrap();
        assert_eq!(ts.to_string(), "2026-11-25T23:30:00Z");
        let sig = sign(&Tc3Input {
            secret_id: "i",
            secret_key: "k",
            service: "sms",
            host: "sms.tencentcloudapi.com",
            payload: b"{}",
            timestamp: ts.as_second(),
        })
        .unwrap();
        assert_eq!(sig.credential_scope, "2026-11-25/sms/tc3_request");
    }
}
