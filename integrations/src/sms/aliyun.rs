//! Aliyun SMS (`dysmsapi`, API version `2017-05-25`) `SendSms`, signed with signature version 1.0
//! (HMAC-SHA1 over the sorted, RFC 3986-encoded query).
//!
//! Version 1.0 is used rather than V3 (ACS3-HMAC-SHA256) because it has a published test vector
//! that this module reproduces byte for byte; Aliyun still accepts it for `SendSms`.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use hmac::{KeyInit as _, Mac as _};
use serde::Deserialize;

use super::{HttpRequest, Method, PhoneNumber, SendReceipt, SmsError, SmsMessage, percent_encode};

/// Where and as whom to send. `access_key_secret` never appears in `Debug` output.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct AliyunConfig {
    pub access_key_id: String,
    pub access_key_secret: String,
    /// The approved signature (短信签名), e.g. `某某市中级人民法院`.
    pub sign_name: String,
    /// The approved template (短信模板), e.g. `SMS_71390007`.
    pub template_code: String,
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    #[serde(default = "default_region")]
    pub region: String,
}

fn default_endpoint() -> String {
    "https://dysmsapi.aliyuncs.com/".to_string()
}

fn default_region() -> String {
    "cn-hangzhou".to_string()
}

impl AliyunConfig {
    /// A configuration with the default endpoint and region (`cn-hangzhou`).
    pub fn new(
        access_key_id: impl Into<String>,
        access_key_secret: impl Into<String>,
        sign_name: impl Into<String>,
        template_code: impl Into<String>,
    ) -> AliyunConfig {
        AliyunConfig {
            access_key_id: access_key_id.into(),
            access_key_secret: access_key_secret.into(),
            sign_name: sign_name.into(),
            template_code: template_code.into(),
            endpoint: default_endpoint(),
            region: default_region(),
        }
    }
}

impl fmt::Debug for AliyunConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AliyunConfig")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field("sign_name", &self.sign_name)
            .field("template_code", &self.template_code)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish()
    }
}

/// The result of signing a parameter set, kept apart so the published vector can be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedQuery {
    /// `GET&%2F&<encoded canonical query>`.
    pub string_to_sign: String,
    /// Base64 HMAC-SHA1, not yet percent-encoded.
    pub signature: String,
    /// The query to send: `Signature=<encoded>&<canonical query>`.
    pub query: String,
}

/// Signs `params` (every parameter except `Signature`) with signature version 1.0 for a GET.
pub fn sign_v1(access_key_secret: &str, params: &BTreeMap<&str, String>) -> SignedQuery {
    // BTreeMap<&str, _> iterates in byte order of the keys, which is the order the spec demands.
    let canonical = params
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let string_to_sign = format!("GET&{}&{}", percent_encode("/"), percent_encode(&canonical));
    let key = format!("{access_key_secret}&");
    let mut mac =
        hmac::Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let query = format!("Signature={}&{canonical}", percent_encode(&signature));
    SignedQuery { string_to_sign, signature, query }
}

/// Builds a signed `SendSms` GET request for one recipient.
///
/// `template_params` becomes `TemplateParam` (a JSON object, keys sorted); the caller chooses which
/// of `ticket`, `level`, `title`, `code`… its approved template uses, since Aliyun rejects a
/// template that is missing a variable. `msg.text` is not sent: the template is the text.
/// `out_id` (Aliyun `OutId`) is echoed in delivery reports: pass the outbox idempotency key.
/// `nonce` must be unique per request (Aliyun rejects a reused one within 15 minutes).
pub fn request(
    cfg: &AliyunConfig,
    msg: &SmsMessage,
    template_params: &BTreeMap<String, String>,
    out_id: Option<&str>,
    nonce: &str,
    timestamp: jiff::Timestamp,
) -> Result<HttpRequest, SmsError> {
    let number = PhoneNumber::parse(&msg.to)?;
    if !cfg.endpoint.starts_with("https://") && !cfg.endpoint.starts_with("http://") {
        return Err(SmsError::InvalidConfig(format!(
            "Aliyun endpoint is not an http(s) URL: {}",
            cfg.endpoint
        )));
    }
    let template_param = serde_json::to_string(template_params)
        .map_err(|e| SmsError::InvalidConfig(format!("template parameters: {e}")))?;
    let mut params: BTreeMap<&str, String> = BTreeMap::new();
    params.insert("AccessKeyId", cfg.access_key_id.clone());
    params.insert("Action", "SendSms".into());
    params.insert("Format", "JSON".into());
    params.insert("PhoneNumbers", number.domestic_or_international().to_string());
    params.insert("RegionId", cfg.region.clone());
    params.insert("SignName", cfg.sign_name.clone());
    params.insert("SignatureMethod", "HMAC-SHA1".into());
    params.insert("SignatureNonce", nonce.to_string());
    params.insert("SignatureVersion", "1.0".into());
    params.insert("TemplateCode", cfg.template_code.clone());
    params.insert("TemplateParam", template_param);
    params.insert("Timestamp", timestamp.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    params.insert("Version", "2017-05-25".into());
    if let Some(out_id) = out_id {
        params.insert("OutId", out_id.to_string());
    }
    let signed = sign_v1(&cfg.access_key_secret, &params);
    let base = cfg.endpoint.split(['?', '#']).next().unwrap_or_default();
    Ok(HttpRequest {
        method: Method::Get,
        url: format!("{base}?{}", signed.query),
        headers: Vec::new(),
        body: Vec::new(),
    })
}

#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "Code")]
    code: Option<String>,
    #[serde(rename = "Message")]
    message: Option<String>,
    #[serde(rename = "BizId")]
    biz_id: Option<String>,
}

/// Interprets the HTTP status and JSON body of a `SendSms` answer.
///
/// `Code == "OK"` is success. Throttling (`Throttling*`, `isv.*LIMIT_CONTROL`) is retryable;
/// system errors, reused nonces and expired timestamps are transient; every other code names a
/// problem with the number, template, signature, account or credentials and is permanent.
/// Aliyun does not say how long to wait, so `retry_after` is `None`.
pub fn interpret(status: u16, body: &[u8]) -> Result<SendReceipt, SmsError> {
    let answer: Option<Answer> = serde_json::from_slice(body).ok();
    let Some(Answer { code: Some(code), message, biz_id }) = answer else {
        return Err(match status {
            429 => SmsError::Throttled { retry_after: None },
            500..=599 => SmsError::Transient(format!("HTTP {status}")),
            _ => SmsError::unexpected(status, body),
        });
    };
    let message = message.unwrap_or_default();
    if code == "OK" {
        return Ok(SendReceipt { provider_id: biz_id });
    }
    Err(classify(&code, message, status))
}

fn classify(code: &str, message: String, status: u16) -> SmsError {
    let throttled = code.starts_with("Throttling") || code.ends_with("LIMIT_CONTROL");
    let transient = matches!(
        code,
        "isp.SYSTEM_ERROR"
            | "isv.SYSTEM_ERROR"
            | "ServiceUnavailable"
            | "InternalError"
            | "SignatureNonceUsed"
            | "InvalidTimeStamp.Expired"
    ) || code.starts_with("ServiceUnavailable");
    if throttled {
        SmsError::Throttled { retry_after: None }
    } else if transient || (status >= 500 && !code.starts_with("isv.")) {
        SmsError::Transient(format!("{code}: {message}"))
    } else {
        SmsError::Rejected { code: code.to_string(), message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_signature_vector() {
        let params: BTreeMap<&str, String> = [
            ("AccessKeyId", "testId"),
            ("Action", "SendSms"),
            ("Format", "XML"),
            ("OutId", "123"),
            ("PhoneNumbers", "15300000001"),
            ("RegionId", "cn-hangzhou"),
            ("SignName", "阿里云短信测试专用"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "45e25e9b-0a6f-4070-8c85-2956eda1b466"),
            ("SignatureVersion", "1.0"),
            ("TemplateCode", "SMS_71390007"),
            ("TemplateParam", r#"{"customer":"test"}"#),
            ("Timestamp", "2017-07-12T02:42:19Z"),
            ("Version", "2017-05-25"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
        let signed = sign_v1("testSecret", &params);
        assert_eq!(
            signed.string_to_sign,
            "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123%26PhoneNumbers%3D15300000001%26RegionId%3Dcn-hangzhou%26SignName%3D%25E9%2598%25BF%25E9%2587%258C%25E4%25BA%2591%25E7%259F%25AD%25E4%25BF%25A1%25E6%25B5%258B%25E8%25AF%2595%25E4%25B8%2593%25E7%2594%25A8%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D45e25e9b-0a6f-4070-8c85-2956eda1b466%26SignatureVersion%3D1.0%26TemplateCode%3DSMS_71390007%26TemplateParam%3D%257B%2522customer%2522%253A%2522test%2522%257D%26Timestamp%3D2017-07-12T02%253A42%253A19Z%26Version%3D2017-05-25"
        );
        assert_eq!(signed.signature, "zJDF+Lrzhj/ThnlvIToysFRq6t4=");
        assert!(signed.query.starts_with("Signature=zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D&AccessKeyId=testId&"));
    }

    #[test]
    fn request_carries_documented_parameters() {
        // Same inputs as the published vector except Format=JSON, so the signature differs; check
        // the shape and that the parameters land in the query as documented.
        let cfg = AliyunConfig::new("testId", "testSecret", "阿里云短信测试专用", "SMS_71390007");
        let msg = SmsMessage::new("15300000001", "ignored");
        let params = BTreeMap::from([("customer".to_string(), "test".to_string())]);
        let ts: jiff::Timestamp = "2017-07-12T02:42:19Z".parse().unwrap();
        let req =
            request(&cfg, &msg, &params, Some("123"), "45e25e9b-0a6f-4070-8c85-2956eda1b466", ts).unwrap();
        assert_eq!(req.method, Method::Get);
        assert!(req.url.starts_with("https://dysmsapi.aliyuncs.com/?Signature="));
        for part in [
            "&Format=JSON&",
            "&OutId=123&",
            "&PhoneNumbers=15300000001&",
            "&TemplateParam=%7B%22customer%22%3A%22test%22%7D&",
            "&Timestamp=2017-07-12T02%3A42%3A19Z&",
        ] {
            assert!(req.url.contains(part), "{part} in {}", req.url);
        }
        assert!(req.body.is_empty());
    }

    #[test]
    fn international_number_has_no_plus() {
        let cfg = AliyunConfig::new("a", "b", "c", "d");
        let ts: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let req =
            request(&cfg, &SmsMessage::new("+85291234567", ""), &BTreeMap::new(), None, "n", ts).unwrap();
        assert!(req.url.contains("&PhoneNumbers=85291234567&"));
        assert!(req.url.contains("&TemplateParam=%7B%7D&"));
        let bad = request(&cfg, &SmsMessage::new("110", ""), &BTreeMap::new(), None, "n", ts);
        assert!(matches!(bad, Err(SmsError::InvalidNumber(_))));
    }

    #[test]
    fn interpretation() {
        let ok =
            interpret(200, br#"{"Message":"OK","RequestId":"r","BizId":"900619746936498440^0","Code":"OK"}"#);
        assert_eq!(ok.unwrap().provider_id.as_deref(), Some("900619746936498440^0"));

        let limit =
            interpret(200, r#"{"Code":"isv.BUSINESS_LIMIT_CONTROL","Message":"触发分钟级流控"}"#.as_bytes())
                .unwrap_err();
        assert_eq!(limit, SmsError::Throttled { retry_after: None });
        assert!(!limit.is_permanent());
        assert!(!interpret(400, br#"{"Code":"Throttling.User","Message":"x"}"#).unwrap_err().is_permanent());

        let bad = interpret(200, r#"{"Code":"isv.MOBILE_NUMBER_ILLEGAL","Message":"非法手机号"}"#.as_bytes())
            .unwrap_err();
        assert_eq!(
            bad,
            SmsError::Rejected {
                code: "isv.MOBILE_NUMBER_ILLEGAL".into(), message: "非法手机号".into()
            }
        );
        assert!(bad.is_permanent());
        assert!(
            interpret(400, br#"{"Code":"SignatureDoesNotMatch","Message":"x"}"#).unwrap_err().is_permanent()
        );

        assert!(matches!(interpret(200, br#"{"Code":"isp.SYSTEM_ERROR"}"#), Err(SmsError::Transient(_))));
        assert!(matches!(interpret(503, b"<html>busy</html>"), Err(SmsError::Transient(_))));
        assert!(matches!(interpret(502, br#"{"Code":"Whatever"}"#), Err(SmsError::Transient(_))));
        assert!(matches!(interpret(200, b"not json"), Err(SmsError::UnexpectedResponse { status: 200, .. })));
        assert!(matches!(interpret(429, b""), Err(SmsError::Throttled { .. })));
    }

    #[test]
    fn secret_is_not_debug_printed() {
        let cfg = AliyunConfig::new("id", "topsecret", "s", "t");
        assert!(!format!("{cfg:?}").contains("topsecret"));
    }
}
