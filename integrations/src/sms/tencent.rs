//! Tencent Cloud SMS `SendSms` (API version `2021-01-11`), signed with TC3-HMAC-SHA256 ([`super::tc3`]).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::tc3::{self, Tc3Input};
use super::{HttpRequest, Method, PhoneNumber, SendReceipt, SmsError, SmsMessage};

/// Where and as whom to send. `secret_key` never appears in `Debug` output.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct TencentConfig {
    pub secret_id: String,
    pub secret_key: String,
    /// The SMS application id, e.g. `1400006666`.
    pub sdk_app_id: String,
    /// The approved signature text (签名内容), e.g. `某某法院`.
    pub sign_name: String,
    /// The approved template id, e.g. `449739`.
    pub template_id: String,
    #[serde(default = "default_region")]
    pub region: String,
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
}

fn default_region() -> String {
    "ap-guangzhou".to_string()
}

fn default_endpoint() -> String {
    "https://sms.tencentcloudapi.com/".to_string()
}

impl TencentConfig {
    /// A configuration with the default endpoint and region (`ap-guangzhou`).
    pub fn new(
        secret_id: impl Into<String>,
        secret_key: impl Into<String>,
        sdk_app_id: impl Into<String>,
        sign_name: impl Into<String>,
        template_id: impl Into<String>,
    ) -> TencentConfig {
        TencentConfig {
            secret_id: secret_id.into(),
            secret_key: secret_key.into(),
            sdk_app_id: sdk_app_id.into(),
            sign_name: sign_name.into(),
            template_id: template_id.into(),
            region: default_region(),
            endpoint: default_endpoint(),
        }
    }
}

impl fmt::Debug for TencentConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TencentConfig")
            .field("secret_id", &self.secret_id)
            .field("secret_key", &"<redacted>")
            .field("sdk_app_id", &self.sdk_app_id)
            .field("sign_name", &self.sign_name)
            .field("template_id", &self.template_id)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Body<'a> {
    phone_number_set: [String; 1],
    sms_sdk_app_id: &'a str,
    sign_name: &'a str,
    template_id: &'a str,
    template_param_set: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    session_context: Option<&'a str>,
}

/// Builds a signed `SendSms` POST for one recipient.
///
/// `template_params` fill the template's `{1}`, `{2}`… in order; `msg.text` is not sent.
/// `session_context` is echoed in delivery reports: pass the outbox idempotency key.
/// `timestamp` must be within 5 minutes of Tencent's clock.
pub fn request(
    cfg: &TencentConfig,
    msg: &SmsMessage,
    template_params: &[String],
    session_context: Option<&str>,
    timestamp: jiff::Timestamp,
) -> Result<HttpRequest, SmsError> {
    let number = PhoneNumber::parse(&msg.to)?;
    let host = host_of(&cfg.endpoint).ok_or_else(|| {
        SmsError::InvalidConfig(format!("Tencent endpoint is not an http(s) URL: {}", cfg.endpoint))
    })?;
    let body = Body {
        phone_number_set: [number.e164()],
        sms_sdk_app_id: &cfg.sdk_app_id,
        sign_name: &cfg.sign_name,
        template_id: &cfg.template_id,
        template_param_set: template_params,
        session_context,
    };
    let payload = serde_json::to_vec(&body).map_err(|e| SmsError::InvalidConfig(e.to_string()))?;
    let seconds = timestamp.as_second();
    let signature = tc3::sign(&Tc3Input {
        secret_id: &cfg.secret_id,
        secret_key: &cfg.secret_key,
        service: "sms",
        host,
        payload: &payload,
        timestamp: seconds,
    })
    .ok_or_else(|| SmsError::InvalidConfig("timestamp out of range".into()))?;
    let headers = vec![
        ("Authorization".to_string(), signature.authorization),
        ("Content-Type".to_string(), tc3::CONTENT_TYPE.to_string()),
        ("Host".to_string(), host.to_string()),
        ("X-TC-Action".to_string(), "SendSms".to_string()),
        ("X-TC-Version".to_string(), "2021-01-11".to_string()),
        ("X-TC-Timestamp".to_string(), seconds.to_string()),
        ("X-TC-Region".to_string(), cfg.region.clone()),
    ];
    Ok(HttpRequest { method: Method::Post, url: cfg.endpoint.clone(), headers, body: payload })
}

/// `https://sms.tencentcloudapi.com/` → `sms.tencentcloudapi.com` (a port is kept).
fn host_of(endpoint: &str) -> Option<&str> {
    let rest = endpoint.strip_prefix("https://").or_else(|| endpoint.strip_prefix("http://"))?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then_some(host)
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "Response")]
    response: Response,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Response {
    error: Option<ApiError>,
    #[serde(default)]
    send_status_set: Vec<SendStatus>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ApiError {
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SendStatus {
    code: String,
    #[serde(default)]
    message: String,
    serial_no: Option<String>,
}

/// Interprets the HTTP status and JSON body of a `SendSms` answer for one recipient.
///
/// A request-level `Response.Error` or the recipient's `SendStatusSet[0].Code` other than `Ok` is
/// classified: `RequestLimitExceeded*`/`LimitExceeded.*` → throttled (with the wait implied by
/// the per-number 30-second and one-hour limits), `InternalError*` → transient, `AuthFailure.*`,
/// `InvalidParameter*`, `FailedOperation.*`, `UnauthorizedOperation.*`, `UnsupportedOperation.*`
/// and anything unknown → rejected, except `AuthFailure.SignatureExpire` (clock skew; a fresh
/// signature may pass) → transient.
pub fn interpret(status: u16, body: &[u8]) -> Result<SendReceipt, SmsError> {
    let Ok(Envelope { response }) = serde_json::from_slice::<Envelope>(body) else {
        return Err(match status {
            429 => SmsError::Throttled { retry_after: None },
            500..=599 => SmsError::Transient(format!("HTTP {status}")),
            _ => SmsError::unexpected(status, body),
        });
    };
    if let Some(err) = response.error {
        return Err(classify(&err.code, err.message));
    }
    match response.send_status_set.into_iter().next() {
        Some(s) if s.code == "Ok" => Ok(SendReceipt { provider_id: s.serial_no }),
        Some(s) => Err(classify(&s.code, s.message)),
        None => Err(SmsError::unexpected(status, body)),
    }
}

fn classify(code: &str, message: String) -> SmsError {
    if code.starts_with("RequestLimitExceeded") || code.starts_with("LimitExceeded") {
        let retry_after = match code {
            "LimitExceeded.PhoneNumberThirtySecondLimit" => Some(Duration::from_secs(30)),
            "LimitExceeded.PhoneNumberOneHourLimit" => Some(Duration::from_secs(3600)),
            _ => None,
        };
        SmsError::Throttled { retry_after }
    } else if code.starts_with("InternalError") || code == "AuthFailure.SignatureExpire" {
        SmsError::Transient(format!("{code}: {message}"))
    } else {
        SmsError::Rejected { code: code.to_string(), message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> TencentConfig {
        TencentConfig::new("AKIDexample", "secret", "1400006666", "某某法院", "449739")
    }

    #[test]
    fn request_shape_and_signature() {
        let ts = jiff::Timestamp::from_second(1_795_649_400).unwrap();
        let params = vec!["20261125-007".to_string(), "一级".to_string()];
        let req = request(&cfg(), &SmsMessage::new("13800138000", "x"), &params, Some("k1"), ts).unwrap();
        assert_eq!(req.method, Method::Post);
        assert_eq!(req.url, "https://sms.tencentcloudapi.com/");
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "PhoneNumberSet": ["+8613800138000"], "SmsSdkAppId": "1400006666", "SignName": "某某法院",
                "TemplateId": "449739", "TemplateParamSet": ["20261125-007", "一级"], "SessionContext": "k1"
            })
        );
        assert_eq!(req.header("host"), Some("sms.tencentcloudapi.com"));
        assert_eq!(req.header("X-TC-Timestamp"), Some("1795649400"));
        assert_eq!(req.header("X-TC-Region"), Some("ap-guangzhou"));
        // The header carries the signature of exactly these body bytes.
        let expected = tc3::sign(&Tc3Input {
            secret_id: "AKIDexample",
            secret_key: "secret",
            service: "sms",
            host: "sms.tencentcloudapi.com",
            payload: &req.body,
            timestamp: 1_795_649_400,
        })
        .unwrap();
        assert_eq!(req.header("authorization"), Some(expected.authorization.as_str()));
        assert!(expected.authorization.contains("/2026-11-25/sms/tc3_request,"));
    }

    #[test]
    fn bad_endpoint_and_number() {
        let ts = jiff::Timestamp::from_second(0).unwrap();
        let mut c = cfg();
        c.endpoint = "sms.tencentcloudapi.com".into();
        assert!(matches!(
            request(&c, &SmsMessage::new("13800138000", ""), &[], None, ts),
            Err(SmsError::InvalidConfig(_))
        ));
        assert!(request(&cfg(), &SmsMessage::new("abc", ""), &[], None, ts).unwrap_err().is_permanent());
        assert_eq!(host_of("http://10.1.2.3:8080/x"), Some("10.1.2.3:8080"));
    }

    #[test]
    fn interpretation() {
        let ok = br#"{"Response":{"SendStatusSet":[{"SerialNo":"5000:1045710669157053657849499619","PhoneNumber":"+8613800138000","Fee":1,"SessionContext":"","Code":"Ok","Message":"send success","IsoCode":"CN"}],"RequestId":"a0aabda6"}}"#;
        assert_eq!(
            interpret(200, ok).unwrap().provider_id.as_deref(),
            Some("5000:1045710669157053657849499619")
        );

        let per_number = br#"{"Response":{"SendStatusSet":[{"SerialNo":"","PhoneNumber":"+8613800138000","Fee":0,"Code":"LimitExceeded.PhoneNumberThirtySecondLimit","Message":"30s"}],"RequestId":"r"}}"#;
        let e = interpret(200, per_number).unwrap_err();
        assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
        assert!(!e.is_permanent());

        let err = |code: &str| {
            let body =
                format!(r#"{{"Response":{{"Error":{{"Code":"{code}","Message":"m"}},"RequestId":"r"}}}}"#);
            interpret(200, body.as_bytes()).unwrap_err()
        };
        assert_eq!(err("RequestLimitExceeded"), SmsError::Throttled { retry_after: None });
        assert!(err("AuthFailure.SignatureFailure").is_permanent());
        assert!(err("InvalidParameterValue.IncorrectPhoneNumber").is_permanent());
        assert!(err("FailedOperation.InsufficientBalanceInSmsPackage").is_permanent());
        assert!(matches!(err("InternalError.Timeout"), SmsError::Transient(_)));
        assert!(matches!(err("AuthFailure.SignatureExpire"), SmsError::Transient(_)));

        assert!(matches!(interpret(502, b"Bad Gateway"), Err(SmsError::Transient(_))));
        assert!(matches!(
            interpret(200, br#"{"Response":{"RequestId":"r"}}"#),
            Err(SmsError::UnexpectedResponse { .. })
        ));
    }
}
