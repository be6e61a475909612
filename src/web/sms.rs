//! `POST /api/v1/sms/inbound/{channel}`: an SMS gateway forwards an engineer's reply to a page.
//!
//! Authenticated with `Authorization: Bearer <inbound_token>` of that channel. The body is JSON
//! `{"from": "13800138001", "text": "1 007"}` or a form `from=…&text=…` (UTF-8, or the charset
//! the Content-Type names, e.g. GBK); `mobile`/`phone` and `content`/`msg` are accepted as the
//! names many gateways use. The answer is `200 {"reply": "<text>"}` whenever the reply was read,
//! even when it was refused (the text says why), so a gateway that relays synchronous answers
//! can forward it; the answer is also sent back through the gateway when it is configured to.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::check_source;
use super::error::ApiError;
use crate::config::{PageChannelKind, SourceAuth};
use crate::engine::sms::{self, ReplyKind};

#[derive(Debug, Deserialize)]
struct Inbound {
    #[serde(alias = "mobile", alias = "phone")]
    from: String,
    #[serde(alias = "content", alias = "msg")]
    text: String,
}

pub async fn inbound(
    State(state): State<AppState>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let token = state
        .config
        .paging
        .channels
        .iter()
        .find(|c| c.name == channel)
        .and_then(|c| match &c.kind {
            PageChannelKind::Sms(sms) => sms.inbound_token.clone(),
            _ => None,
        })
        .ok_or_else(|| ApiError::NotFound(format!("no SMS channel '{channel}' takes replies")))?;
    check_source(&SourceAuth::Bearer(token), &headers, &body)?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let inbound = parse(content_type, &body)?;
    let outcome = sms::handle_reply(&state.service, &state.config, &inbound.from, &inbound.text).await;
    if outcome.kind == ReplyKind::Unavailable {
        return Err(ApiError::Unavailable(outcome.answer));
    }
    sms::answer_through_gateway(&state.config, &channel, &inbound.from, &outcome.answer);
    Ok(Json(json!({ "reply": outcome.answer })))
}

fn parse(content_type: &str, body: &[u8]) -> Result<Inbound, ApiError> {
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let inbound = if mime == "application/x-www-form-urlencoded" {
        let charset = content_type
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
            .map(|(_, v)| v.trim().trim_matches('"').to_string());
        form(body, charset.as_deref())?
    } else if mime.is_empty() || mime == "application/json" || mime.ends_with("+json") {
        serde_json::from_slice::<Inbound>(body).map_err(|e| {
            ApiError::bad_request(format!("the body is not {{\"from\": …, \"text\": …}}: {e}"))
        })?
    } else {
        return Err(ApiError::bad_request(format!(
            "send application/json or application/x-www-form-urlencoded, not '{mime}'"
        )));
    };
    if inbound.from.trim().is_empty() {
        return Err(ApiError::bad_field("from", "the sender's number is empty"));
    }
    if inbound.text.chars().count() > 2000 {
        return Err(ApiError::bad_field("text", "longer than 2000 characters"));
    }
    Ok(inbound)
}

/// `from=…&text=…`, percent-decoded, `+` as a space, in the given charset (default UTF-8).
fn form(body: &[u8], charset: Option<&str>) -> Result<Inbound, ApiError> {
    let encoding = match charset {
        None => encoding_rs::UTF_8,
        Some(label) => encoding_rs::Encoding::for_label(label.as_bytes())
            .ok_or_else(|| ApiError::bad_request(format!("unknown charset '{label}'")))?,
    };
    let (mut from, mut text) = (None, None);
    for pair in body.split(|&b| b == b'&') {
        let mut kv = pair.splitn(2, |&b| b == b'=');
        let name = decode(kv.next().unwrap_or_default(), encoding)?;
        let value = decode(kv.next().unwrap_or_default(), encoding)?;
        match name.as_str() {
            "from" | "mobile" | "phone" => from = Some(value),
            "text" | "content" | "msg" => text = Some(value),
            _ => {}
        }
    }
    match (from, text) {
        (Some(from), Some(text)) => Ok(Inbound { from, text }),
        (None, _) => Err(ApiError::bad_field("from", "the form has no 'from'")),
        (_, None) => Err(ApiError::bad_field("text", "the form has no 'text'")),
    }
}

fn decode(raw: &[u8], encoding: &'static encoding_rs::Encoding) -> Result<String, ApiError> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = raw.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
                let byte = byte.ok_or_else(|| ApiError::bad_request("the form has a malformed %-escape"))?;
                bytes.push(byte);
                i += 2;
            }
            b => bytes.push(b),
        }
        i += 1;
    }
    let (text, _, malformed) = encoding.decode(&bytes);
    if malformed {
        return Err(ApiError::bad_request(format!("the form is not valid {}", encoding.name())));
    }
    Ok(text.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_forms() {
        let j = parse("application/json", br#"{"from": "13800138001", "text": "1 007"}"#).unwrap();
        assert_eq!((j.from.as_str(), j.text.as_str()), ("13800138001", "1 007"));
        let alias = parse("", br#"{"mobile": "13800138001", "content": "x"}"#).unwrap();
        assert_eq!(alias.text, "x");
        let f = parse("application/x-www-form-urlencoded", b"from=%2B8613800138001&text=1+007&x=y").unwrap();
        assert_eq!((f.from.as_str(), f.text.as_str()), ("+8613800138001", "1 007"));
        // "确认 007" in GBK.
        let gbk =
            parse("application/x-www-form-urlencoded; charset=GBK", b"from=1&text=%C8%B7%C8%CF+007").unwrap();
        assert_eq!(gbk.text, "确认 007");
    }

    #[test]
    fn bad_bodies_are_refused() {
        for (ct, body) in [
            ("application/json", &b"{"[..]),
            ("application/x-www-form-urlencoded", b"from=1"),
            ("application/x-www-form-urlencoded", b"from=1&text=%G1"),
            ("application/x-www-form-urlencoded", b"from=1&text=%E7"),
            ("application/x-www-form-urlencoded; charset=klingon", b"from=1&text=a"),
            ("text/plain", b"1 007"),
            ("application/json", br#"{"from": " ", "text": "1 007"}"#),
        ] {
            assert!(parse(ct, body).is_err(), "{ct} {body:?}");
        }
    }
}
