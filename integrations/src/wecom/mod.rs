//! WeCom (企业微信): the group robot, a self-built app sending as itself, the app's callback URL,
//! and robot-shaped intake. Wire formats: `shared/specs/china-im-and-calendar.md` §1–2.
//!
//! - [`Robot`]: a group robot's webhook (`POST …/cgi-bin/webhook/send?key=…`) with a
//!   [`RobotMessage`] as `markdown` (or `text` when mobiles or `@all` are mentioned). WeCom robots
//!   do not sign requests: the key in the URL is the credential, never logged.
//! - [`WecomApi`]: `gettoken` (cached, refreshed 5 min before expiry and once more on
//!   40014/41001/42001, one fetch at a time), `message/send` (text, or a `button_interaction`
//!   card when there are buttons), `message/update_template_card` (edits by response code),
//!   `appchat/send`. Recipients: see [`Target`].
//! - [`handle_callback`]: URL verification and encrypted deliveries (SHA-1 `msg_signature`,
//!   AES-256-CBC with PKCS#7 to 32 bytes, receive-id check, timestamp window) → text messages as
//!   [`ChatEvent::Message`](crate::chat::ChatEvent::Message), card clicks as
//!   [`ChatEvent::Button`](crate::chat::ChatEvent::Button).
//! - [`parse_robot_payload`]: a body a monitoring tool would post to a WeCom robot (text, markdown,
//!   markdown_v2, news, template_card) → title, plain text, mentions.
//! - [`testing`]: signed, encrypted callbacks for tests and fakes.
//!
//! # Identity
//!
//! [`ChatUser::id`](crate::chat::ChatUser::id) is the member's **UserID** exactly as WeCom sends
//! it in `FromUserName` (e.g. `ChenJiaShun`), which is also what [`WecomApi::send_text`] takes. WeCom
//! callbacks carry no display name, so `display_name` is the UserID too. A private chat's
//! [`ChatId`](crate::chat::ChatId) is the member's UserID.
//!
//! # Edits
//!
//! WeCom edits only interactive cards, with a single-use `response_code` (72 h). A card's handle is
//! `{task_id}:{response_code}` ([`card_handle`]): [`WecomApi::send_text`] returns one with the
//! send's code, and a click's [`ButtonPress::message_id`](crate::chat::ButtonPress::message_id)
//! carries one with the click's fresh code, so "edit the card the button was on" works once per
//! click. Text messages cannot be edited ([`SendError::Rejected`](crate::chat::SendError::Rejected)).
//!
//! # Errors
//!
//! `errcode` decides ([`map_errcode`]): -1 → `Transient`; 45009 → `RetryAfter(60 s)`, 45033 →
//! `RetryAfter(2 s)`; bad secret/CorpID/token/agentid, IP not trusted (60020), app disabled, robot
//! key invalid or robot disabled → `Unauthorized`; member unknown, left, outside the app's visible
//! range, or listed in `invaliduser`, robot not in its group, appchat unknown → `ChatGone`; other
//! codes → `Rejected`; HTTP 5xx and network errors → `Transient`.
//!
//! # Sources
//!
//! - **Verified against the official sample's vectors** (spec §2.6, `sbzhu/weworkapi_python`):
//!   signature, AES key derivation, decryption, 32-byte padding, layout and receive id (vectors A
//!   and B in the unit tests), and re-encryption reproducing vector B's ciphertext.
//! - **[doc]**: robot bodies and limits, `gettoken`, `message/send` (`button_interaction`),
//!   `update_template_card` with `response_code`, callback XML shapes, 45009 and the webhook codes.
//! - **[secondary]**: the recipient error codes and their meanings (third-party copies of the
//!   global error-code page), `appchat/send`, the card field limits (26/112 characters, 6 buttons,
//!   1024-byte keys, `task_id` charset), `replace_text` on an updated card, and whether a send's
//!   `response_code` can update the card for the whole `atall` audience.
//! - **Not implemented**: the JSON-mode robot callback (§2.8, internal beta), media messages
//!   (images, files, voice come in as [`CallbackOutcome::Ignored`]), passive encrypted replies
//!   (we answer an empty 200 and send separately).
//!
//! # Private deployments
//!
//! 政务微信, 粤政易 and other private WeCom deployments change only the base URL:
//! [`WecomSettings::api_base`] for the app, and the robot's webhook URL as given by the admin
//! console. The crypto, bodies and codes are the same.
//!
//! ```
//! use zhiban_integrations::wecom::{CallbackOutcome, CallbackRequest, CallbackSettings, handle_callback};
//!
//! // The official sample's URL verification (spec §2.6, vector A).
//! let settings = CallbackSettings {
//!     token: "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo".into(),
//!     encoding_aes_key: "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt".into(),
//!     receive_id: "ww1436e0e65a779aee".into(),
//! };
//! let query = "msg_signature=012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb&timestamp=1476416373&nonce=47744683\
//!     &echostr=fsi1xnbH4yQh0%2BPJxcOdhhK6TDXkjMyhEPA7xB2TGz6b%2Bg7xyAbEkRxN%2F3cNXW9qdqjnoVzEtpbhnFyq6SVHyA%3D%3D";
//! let request = CallbackRequest {
//!     method: "GET",
//!     query,
//!     headers: &[],
//!     body: b"",
//!     now: jiff::Timestamp::from_second(1476416373).unwrap(),
//! };
//! let CallbackOutcome::Reply { body, .. } = handle_callback(&settings, &request).unwrap() else { panic!() };
//! assert_eq!(body, b"1288432023552776189");
//! ```

mod api;
mod callback;
pub mod crypto;
mod error;
mod intake;
mod robot;
pub mod testing;
mod text;

#[cfg(test)]
mod tests;

pub use api::{
    ConfigError, DEFAULT_API_BASE, DONE_LABEL, MAX_APP_TEXT_BYTES, MAX_BUTTON_KEY_BYTES, MAX_CARD_BUTTONS,
    MAX_CARD_TEXT_CHARS, MAX_CARD_TITLE_CHARS, Target, WecomApi, WecomSettings, card_handle,
    parse_card_handle,
};
pub use callback::{
    CallbackError, CallbackOutcome, CallbackReply, CallbackRequest, CallbackSettings, MAX_CLOCK_SKEW_SECS,
    empty_reply, handle_callback, map_message,
};
pub use error::{CONCURRENCY_WAIT, RATE_LIMIT_WAIT, map_errcode};
pub use intake::{MAX_TITLE_CHARS, RobotPayload, parse_robot_payload};
pub use robot::{MAX_MARKDOWN_BYTES, MAX_TEXT_BYTES, Robot, RobotMessage};
pub use text::stable_id;
