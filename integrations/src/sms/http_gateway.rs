//! A generic intranet HTTP SMS gateway, described by configuration instead of code.
//!
//! Court intranets often have an SMS platform (a carrier's 短信网关 or an in-house one) reachable
//! by a plain HTTP call; each has its own URL and body, so the request is a template:
//!
//! ```toml
//! method = "POST"
//! url = "http://10.0.0.5:8080/sms/send"
//! headers = [["Content-Type", "application/json"], ["X-Token", "s3cret"]]
//! body = '{"mobile": "{to}", "content": "{text}"}'
//! escape = "json"
//! [response]
//! code_pointer = "/code"
//! success_values = ["0"]
//! ```
//!
//! Placeholders are `{to}` (`13800138000` for a mainland number, otherwise the international digits
//! without `+`), `{to_e164}` (`+8613800138000`) and `{text}`. In the body they are escaped per
//! [`Escape`], so a quote or `&` in an alert title cannot break the request; in the URL they are
//! always percent-encoded; headers are sent verbatim. Any other `{` is literal (so JSON bodies need
//! no escaping), except `{word}` with an unknown lower-case word, which is rejected as a likely typo.

use serde::Deserialize;

use super::{HttpRequest, Method, PhoneNumber, SendReceipt, SmsError, SmsMessage, percent_encode};

/// How placeholder values are escaped in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Escape {
    /// As the inside of a JSON string: the template supplies the quotes (`"{text}"`).
    #[default]
    Json,
    /// RFC 3986 percent-encoding, for `application/x-www-form-urlencoded` bodies.
    Form,
    /// Verbatim; only for gateways that take raw text.
    None,
}

/// How the gateway's answer is read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ResponseRule {
    /// A JSON pointer (`/code`, `/result/status`) to the gateway's status code in a 2xx body. When
    /// absent, any 2xx is success.
    pub code_pointer: Option<String>,
    /// Values of the code that mean success; a JSON number or string matches by its text, so `"0"`
    /// matches both `0` and `"0"`.
    pub success_values: Vec<String>,
    /// Values of the code that mean "try again later" (busy, rate-limited); others are permanent.
    pub retry_values: Vec<String>,
    /// A JSON pointer to a human-readable error message.
    pub message_pointer: Option<String>,
    /// A JSON pointer to the gateway's message id.
    pub id_pointer: Option<String>,
}

impl Default for ResponseRule {
    fn default() -> Self {
        ResponseRule {
            code_pointer: None,
            success_values: vec!["0".to_string()],
            retry_values: Vec::new(),
            message_pointer: None,
            id_pointer: None,
        }
    }
}

/// A gateway as configured. Headers may hold a token: the core must not log this struct.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GatewayConfig {
    #[serde(default)]
    pub method: Method,
    pub url: String,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body template; empty for a GET.
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub escape: Escape,
    #[serde(default)]
    pub response: ResponseRule,
}

impl GatewayConfig {
    /// Checks the templates once, at start-up, so a typo fails loudly before the first page.
    pub fn validate(&self) -> Result<(), SmsError> {
        if !self.url.starts_with("http://") && !self.url.starts_with("https://") {
            return Err(SmsError::InvalidConfig(format!("SMS gateway URL is not http(s): {}", self.url)));
        }
        let values = Values { to: "", to_e164: "", text: "" };
        substitute(&self.url, &values, percent_encode)?;
        substitute(&self.body, &values, |s| s.to_string())?;
        for (name, value) in &self.headers {
            let bad_name = name.is_empty() || name.contains(['\r', '\n', ':', ' ']);
            if bad_name || value.contains(['\r', '\n']) {
                return Err(SmsError::InvalidConfig(format!("SMS gateway header {name:?} is malformed")));
            }
        }
        for pointer in
            [&self.response.code_pointer, &self.response.message_pointer, &self.response.id_pointer]
                .into_iter()
                .flatten()
        {
            if !pointer.is_empty() && !pointer.starts_with('/') {
                return Err(SmsError::InvalidConfig(format!(
                    "JSON pointer must start with '/': {pointer:?}"
                )));
            }
        }
        Ok(())
    }
}

struct Values<'a> {
    to: &'a str,
    to_e164: &'a str,
    text: &'a str,
}

/// Builds the request for one message.
pub fn request(cfg: &GatewayConfig, msg: &SmsMessage) -> Result<HttpRequest, SmsError> {
    cfg.validate()?;
    let number = PhoneNumber::parse(&msg.to)?;
    let e164 = number.e164();
    let values = Values { to: number.domestic_or_international(), to_e164: &e164, text: &msg.text };
    let url = substitute(&cfg.url, &values, percent_encode)?;
    let body = match cfg.escape {
        Escape::Json => substitute(&cfg.body, &values, json_escape)?,
        Escape::Form => substitute(&cfg.body, &values, percent_encode)?,
        Escape::None => substitute(&cfg.body, &values, |s| s.to_string())?,
    };
    Ok(HttpRequest { method: cfg.method, url, headers: cfg.headers.clone(), body: body.into_bytes() })
}

/// Replaces `{to}`, `{to_e164}` and `{text}` with escaped values; other braces stay literal.
fn substitute(
    template: &str,
    values: &Values<'_>,
    escape: impl Fn(&str) -> String,
) -> Result<String, SmsError> {
    let mut out = String::with_capacity(template.len() + values.text.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let word_len =
            after.bytes().take_while(|b| b.is_ascii_lowercase() || *b == b'_' || b.is_ascii_digit()).count();
        if word_len > 0 && after.as_bytes().get(word_len) == Some(&b'}') {
            let value = match &after[..word_len] {
                "to" => values.to,
                "to_e164" => values.to_e164,
                "text" => values.text,
                other => {
                    return Err(SmsError::InvalidConfig(format!(
                        "unknown placeholder {{{other}}} in SMS gateway template (known: {{to}}, {{to_e164}}, {{text}})"
                    )));
                }
            };
            out.push_str(&escape(value));
            rest = &after[word_len + 1..];
        } else {
            out.push('{');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The inside of a JSON string literal for `s`.
fn json_escape(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

/// Interprets the gateway's answer according to `cfg.response`.
///
/// HTTP 429 is throttling, 408 and 5xx are transient, other non-2xx statuses are permanent
/// rejections. For a 2xx, see [`ResponseRule`]; a body that is not the JSON the rule expects is
/// an [`SmsError::UnexpectedResponse`] (retryable: the gateway may be half-broken).
pub fn interpret(cfg: &GatewayConfig, status: u16, body: &[u8]) -> Result<SendReceipt, SmsError> {
    let snippet = || String::from_utf8_lossy(body).chars().take(200).collect::<String>();
    match status {
        200..=299 => {}
        429 => return Err(SmsError::Throttled { retry_after: None }),
        408 | 500..=599 => return Err(SmsError::Transient(format!("HTTP {status}: {}", snippet()))),
        400..=499 => return Err(SmsError::Rejected { code: format!("HTTP {status}"), message: snippet() }),
        _ => return Err(SmsError::unexpected(status, body)),
    }
    let rule = &cfg.response;
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let text_at = |pointer: &Option<String>| -> Option<String> {
        let value = json.as_ref()?.pointer(pointer.as_deref()?)?;
        scalar_text(value)
    };
    let provider_id = text_at(&rule.id_pointer);
    let Some(code_pointer) = &rule.code_pointer else {
        return Ok(SendReceipt { provider_id });
    };
    let Some(code) = text_at(&Some(code_pointer.clone())) else {
        return Err(SmsError::unexpected(status, body));
    };
    if rule.success_values.contains(&code) {
        Ok(SendReceipt { provider_id })
    } else {
        let message = text_at(&rule.message_pointer).unwrap_or_default();
        if rule.retry_values.contains(&code) {
            Err(SmsError::Transient(format!("{code}: {message}")))
        } else {
            Err(SmsError::Rejected { code, message })
        }
    }
}

fn scalar_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_gateway() -> GatewayConfig {
        GatewayConfig {
            method: Method::Post,
            url: "http://10.0.0.5:8080/sms/send".into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: r#"{"mobile": "{to}", "e164": "{to_e164}", "content": "{text}", "opts": {}}"#.into(),
            escape: Escape::Json,
            response: ResponseRule {
                code_pointer: Some("/code".into()),
                retry_values: vec!["503".into()],
                message_pointer: Some("/msg".into()),
                id_pointer: Some("/data/id".into()),
                ..ResponseRule::default()
            },
        }
    }

    #[test]
    fn json_body_is_escaped() {
        let msg = SmsMessage::new("+86 13800138000", "【一级】\"审判\"系统\n宕机 \\ {to}");
        let req = request(&json_gateway(), &msg).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(body["mobile"], "13800138000");
        assert_eq!(body["e164"], "+8613800138000");
        // The text is data: a `{to}` inside it is not substituted again.
        assert_eq!(body["content"], "【一级】\"审判\"系统\n宕机 \\ {to}");
        assert_eq!(body["opts"], serde_json::json!({}));
        assert_eq!(req.headers, json_gateway().headers);
    }

    #[test]
    fn form_body_and_get_url() {
        let cfg = GatewayConfig {
            method: Method::Get,
            url: "http://gw/send?u=zhiban&m={to}&c={text}".into(),
            headers: vec![],
            body: String::new(),
            escape: Escape::Form,
            response: ResponseRule::default(),
        };
        let req = request(&cfg, &SmsMessage::new("13800138000", "a&b=c 告警")).unwrap();
        assert_eq!(req.url, "http://gw/send?u=zhiban&m=13800138000&c=a%26b%3Dc%20%E5%91%8A%E8%AD%A6");
        assert!(req.body.is_empty());

        let form = GatewayConfig { method: Method::Post, body: "to={to}&msg={text}".into(), ..cfg };
        let req = request(&form, &SmsMessage::new("13800138000", "x+y")).unwrap();
        assert_eq!(req.body, b"to=13800138000&msg=x%2By");
    }

    #[test]
    fn config_errors() {
        let mut cfg = json_gateway();
        cfg.body = "{txet}".into();
        assert!(matches!(cfg.validate(), Err(SmsError::InvalidConfig(m)) if m.contains("{txet}")));
        cfg.body = String::new();
        cfg.url = "ftp://x".into();
        assert!(cfg.validate().is_err());
        let mut cfg = json_gateway();
        cfg.headers.push(("X-A".into(), "b\r\nInjected: 1".into()));
        assert!(cfg.validate().is_err());
        let mut cfg = json_gateway();
        cfg.response.code_pointer = Some("code".into());
        assert!(cfg.validate().is_err());
        assert!(request(&json_gateway(), &SmsMessage::new("12345", "x")).unwrap_err().is_permanent());
    }

    #[test]
    fn interpretation() {
        let cfg = json_gateway();
        let ok = interpret(&cfg, 200, br#"{"code": 0, "data": {"id": 42}}"#).unwrap();
        assert_eq!(ok.provider_id.as_deref(), Some("42"));
        assert!(interpret(&cfg, 200, br#"{"code": "0"}"#).is_ok());
        assert_eq!(
            interpret(&cfg, 200, r#"{"code": 1001, "msg": "号码在黑名单"}"#.as_bytes()).unwrap_err(),
            SmsError::Rejected { code: "1001".into(), message: "号码在黑名单".into() }
        );
        assert!(matches!(interpret(&cfg, 200, br#"{"code": 503}"#), Err(SmsError::Transient(_))));
        assert!(matches!(interpret(&cfg, 200, b"OK"), Err(SmsError::UnexpectedResponse { .. })));
        assert!(matches!(interpret(&cfg, 200, br#"{"other": 1}"#), Err(SmsError::UnexpectedResponse { .. })));
        assert!(matches!(interpret(&cfg, 429, b""), Err(SmsError::Throttled { .. })));
        assert!(matches!(interpret(&cfg, 502, b""), Err(SmsError::Transient(_))));
        assert!(interpret(&cfg, 403, b"forbidden").unwrap_err().is_permanent());

        let plain = GatewayConfig { response: ResponseRule::default(), ..json_gateway() };
        assert_eq!(interpret(&plain, 204, b"").unwrap(), SendReceipt { provider_id: None });
    }

    #[test]
    fn deserialises_from_toml_shaped_json() {
        let cfg: GatewayConfig = serde_json::from_value(serde_json::json!({
            "url": "http://gw/send", "body": "{\"m\":\"{to}\"}", "escape": "form",
            "headers": [["X-Token", "t"]], "response": {"code_pointer": "/ret"}
        }))
        .unwrap();
        assert_eq!(cfg.method, Method::Post);
        assert_eq!(cfg.escape, Escape::Form);
        assert_eq!(cfg.response.success_values, vec!["0".to_string()]);
    }
}
