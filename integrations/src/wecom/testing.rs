//! Building signed, encrypted callbacks as WeCom sends them, for tests and fakes (the root crate's
//! end-to-end tests post them to zhiban's callback route). Not used by zhiban itself.

use super::callback::CallbackSettings;
use super::crypto;

/// A callback request: the query string (without `?`) and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCallback {
    pub query: String,
    pub body: Vec<u8>,
}

/// A `POST` delivery of `plaintext` (the inner XML), encrypted with `random` for
/// `settings.receive_id` and signed, with the outer XML WeCom sends.
///
/// # Panics
///
/// If `settings.encoding_aes_key` is not a valid key.
pub fn delivery(
    settings: &CallbackSettings,
    plaintext: &str,
    agent_id: i64,
    timestamp: i64,
    nonce: &str,
    random: [u8; 16],
) -> SignedCallback {
    let encrypted = encrypt(settings, plaintext, random);
    let ts = timestamp.to_string();
    let signature = crypto::signature(&settings.token, &ts, nonce, &encrypted);
    let body = format!(
        "<xml><ToUserName><![CDATA[{}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID><![CDATA[{agent_id}]]></AgentID></xml>",
        settings.receive_id
    );
    SignedCallback {
        query: format!("msg_signature={signature}&timestamp={ts}&nonce={}", escape(nonce)),
        body: body.into_bytes(),
    }
}

/// The query string of a `GET` URL verification whose `echostr` decrypts to `echo`.
///
/// # Panics
///
/// If `settings.encoding_aes_key` is not a valid key.
pub fn verification(
    settings: &CallbackSettings,
    echo: &str,
    timestamp: i64,
    nonce: &str,
    random: [u8; 16],
) -> String {
    let echostr = encrypt(settings, echo, random);
    let ts = timestamp.to_string();
    let signature = crypto::signature(&settings.token, &ts, nonce, &echostr);
    format!("msg_signature={signature}&timestamp={ts}&nonce={}&echostr={}", escape(nonce), escape(&echostr))
}

fn encrypt(settings: &CallbackSettings, plaintext: &str, random: [u8; 16]) -> String {
    let key = crypto::aes_key(&settings.encoding_aes_key).expect("a valid EncodingAESKey");
    crypto::encrypt(&key, &random, plaintext, &settings.receive_id)
}

/// The inner XML of a text message from `from` to the app (document 90239).
pub fn text_message_xml(
    corp_id: &str,
    from: &str,
    content: &str,
    msg_id: u64,
    create_time: i64,
    agent_id: i64,
) -> String {
    format!(
        "<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><FromUserName><![CDATA[{from}]]></FromUserName>\
         <CreateTime>{create_time}</CreateTime><MsgType><![CDATA[text]]></MsgType>\
         <Content><![CDATA[{}]]></Content><MsgId>{msg_id}</MsgId><AgentID>{agent_id}</AgentID></xml>",
        cdata(content)
    )
}

/// The inner XML of a click on a `button_interaction` card's button (document 90240).
pub fn card_click_xml(
    corp_id: &str,
    from: &str,
    task_id: &str,
    key: &str,
    response_code: &str,
    create_time: i64,
    agent_id: i64,
) -> String {
    format!(
        "<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><FromUserName><![CDATA[{from}]]></FromUserName>\
         <CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>\
         <Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[{}]]></EventKey>\
         <TaskId><![CDATA[{task_id}]]></TaskId><CardType><![CDATA[button_interaction]]></CardType>\
         <ResponseCode><![CDATA[{response_code}]]></ResponseCode><AgentID>{agent_id}</AgentID></xml>",
        cdata(key)
    )
}

/// Text safe inside CDATA (a `]]>` is split across two sections).
fn cdata(s: &str) -> String {
    s.replace("]]>", "]]]]><![CDATA[>")
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
