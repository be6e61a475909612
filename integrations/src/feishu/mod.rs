//! Feishu / Lark (飞书): the group custom bot, sending as an app, callbacks, robot-compatible intake.
//!
//! - [`Robot`]: a group's custom bot (自定义机器人) webhook; posts a [`RobotMessage`] as an
//!   interactive card (header title + `lark_md`), signed with `timestamp`/`sign` in the body when
//!   the bot has a secret. Mentions: `<at id=…></at>` for `open_id`s/`user_id`s and everyone;
//!   Feishu cannot mention by mobile, so mobiles are written as plain `@138…`.
//! - [`FeishuApi`]: the app's bot, with a cached tenant token (`auth/v3/tenant_access_token/internal`,
//!   refreshed 5 minutes before it expires and once more on an invalid-token code, one refresh at
//!   a time). [`FeishuApi::send_text`] sends a card with callback buttons (`value: {"data": …}`)
//!   or a text; [`FeishuApi::edit_text`] updates the card in place (`PATCH`) or edits the text
//!   (`PUT`). Addressing is described on [`FeishuApi`].
//! - [`handle_callback`]: the request URL for events and card callbacks (URL verification,
//!   encrypted bodies, `X-Lark-Signature`, the Verification Token), mapping
//!   `im.message.receive_v1` (text and post) to [`ChatEvent::Message`](crate::chat::ChatEvent::Message)
//!   and `card.action.trigger` (and the old card callback) to
//!   [`ChatEvent::Button`](crate::chat::ChatEvent::Button). Update ids are the first 8 bytes of
//!   SHA-256 of Feishu's `event_id` (Feishu redelivers with the same id).
//! - [`parse_robot_payload`], [`robot_signature`] and [`verify_robot_sign`]: a POST shaped like a
//!   custom bot request, from any monitoring tool set up for a Feishu robot, read as text.
//!
//! Identity: [`ChatUser::id`](crate::chat::ChatUser::id) is the person's **`open_id`** (`ou_…`,
//! per app, always present in events), and a direct message can be sent to it as is. Feishu's
//! events carry no names: `display_name` is the tenant `user_id` when the app may read it, else
//! the `open_id`. A p2p chat and a group both have a chat id `oc_…` ([`IncomingMessage::chat`](crate::chat::IncomingMessage::chat));
//! group messages reach the bot only when it is mentioned (unless the app has the scope to read all
//! group messages), and the leading mentions are removed from the text.
//!
//! Errors ([`map_api_error`]): `230020`, `11232`, `99991400` and HTTP 429 → `RetryAfter` (the
//! `x-ogw-ratelimit-reset` header when sent); not in the group, outside the app's availability
//! range, dissolved group, no right to speak, unknown `open_id` → `ChatGone`; missing scopes or bot
//! ability, credential errors → `Unauthorized`; other codes → `Rejected`; 5xx and network →
//! `Transient`.
//!
//! Sources: verified against vectors — the event decryption (Feishu's `"test key"` vector); our own
//! regression values, computed with an independent implementation — the custom bot sign and the
//! `X-Lark-Signature` (spec §4). From the official Go SDK: decryption, event and card signatures.
//! From Feishu's documentation (through public copies): the bodies, the URL verification, the
//! error codes of `im/v1/messages`, the custom bot codes 19021/19022/19024/9499. Secondary: the
//! token-error codes other than `99991663`, `11232` as the message rate limit, `19001` for a wrong
//! hook; the callback timestamp window ([`CALLBACK_WINDOW_SECS`]) is our choice, Feishu publishes
//! none. Not verified live: the exact answer to `card.action.trigger` beyond `{}`.
//!
//! Private deployments (私有化飞书) and Lark change only [`FeishuSettings::api_base`] and the
//! robot's webhook URL.
//!
//! ```
//! use zhiban_integrations::chat::ChatEvent;
//! use zhiban_integrations::feishu::{CallbackOutcome, CallbackRequest, CallbackSettings, handle_callback, testing};
//!
//! let settings = CallbackSettings { verification_token: "v-token".into(), encrypt_key: Some("test key".into()) };
//! let event = testing::text_message_event("v-token", "5e3702a84e847582be8db7fb73283c02", "oc_1", "p2p",
//!     "ou_7d8a6e6df7621556ce0d21922b676706", "om_1", "/oncall", &[]);
//! let now = jiff::Timestamp::from_second(1_764_036_000).unwrap();
//! let sealed = testing::seal_event(&settings, &event, now.as_second(), "n1");
//! let request = CallbackRequest { method: "POST", query: "", headers: &sealed.headers, body: &sealed.body, now };
//! let CallbackOutcome::Update { update, .. } = handle_callback(&settings, &request).unwrap() else { panic!() };
//! let ChatEvent::Message(m) = update.event else { panic!() };
//! assert_eq!((m.from.id.as_str(), m.text.as_str()), ("ou_7d8a6e6df7621556ce0d21922b676706", "/oncall"));
//! ```

mod api;
mod callback;
mod crypto;
mod error;
mod intake;
mod robot;
mod sign;
pub mod testing;

#[cfg(test)]
mod tests;

pub use api::{DEFAULT_API_BASE, FeishuApi, FeishuSettings, LARK_API_BASE, TEXT_HANDLE_PREFIX};
pub use callback::{
    CALLBACK_WINDOW_SECS, CallbackOutcome, CallbackReply, CallbackRequest, CallbackSettings, NONCE_HEADER,
    SIGNATURE_HEADER, TIMESTAMP_HEADER, handle_callback,
};
pub use crypto::{DecryptError, decrypt};
pub use error::{CallbackError, ConfigError, TOKEN_CODES, is_token_error, map_api_error};
pub use intake::{RobotPayload, RobotSignature, parse_robot_payload, robot_signature};
pub use robot::{MAX_ROBOT_BODY, Robot, RobotMessage};
pub use sign::{ROBOT_SIGN_WINDOW_SECS, card_signature, event_signature, robot_sign, verify_robot_sign};
