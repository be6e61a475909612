//! DingTalk (钉钉): the custom group robot, the enterprise internal app's robot (sending as the
//! app, receiving messages in **HTTP mode**), and robot-compatible intake. Wire formats:
//! `shared/specs/china-im-and-calendar.md` §3.
//!
//! - [`Robot`]: a custom robot's webhook (§3.1), `msgtype: markdown` with `@` mentions by mobile
//!   or userid, signed (`timestamp` + `sign`) when it has a 加签 secret. Its URL holds its key and
//!   never appears in errors or `Debug`.
//! - [`DingtalkApi`]: the app's robot through the OpenAPI (§3.4): access token from
//!   `POST /v1.0/oauth2/accessToken`, cached and replaced 5 minutes before `expireIn` (one
//!   refresh at a time, behind a `tokio::sync::Mutex`) and once more when an answer says
//!   `InvalidAuthentication`; [`DingtalkApi::send_text`] to a person (`oToMessages/batchSend`) or
//!   a group (`groupMessages/send`); [`DingtalkApi::reply_in_session`] through a message's
//!   session webhook.
//! - [`handle_callback`]: the robot's HTTP-mode message callback (§3.2), verified before
//!   anything else is read.
//! - [`parse_robot_payload`] and [`verify_robot_sign`]: bodies shaped like a custom robot's
//!   (text, markdown, actionCard, link, feedCard) from monitoring tools, as title + plain text.
//!
//! # Identity and chat ids
//!
//! [`ChatUser::id`](crate::chat::ChatUser::id) is the sender's **userid** (`senderStaffId`, the
//! id the OpenAPI sends to), exactly as DingTalk gives it; for a sender outside the organisation
//! (no `senderStaffId`) it is the encrypted `senderId`, which cannot be sent to. A one-to-one
//! chat's [`ChatId`](crate::chat::ChatId) is that userid; a group's is its `openConversationId`
//! (`cid…`, the callback's `conversationId`), which `groupMessages/send` takes. When written by
//! hand, `user:<userid>` and `group:<openConversationId>` force the reading ([`target`]).
//!
//! # Buttons: ActionCards with links, not interactive cards
//!
//! DingTalk's callback buttons need interactive cards (互动卡片, §3.5): a template built in
//! DingTalk's card platform, a registered callback route, and an HTTP-mode callback format and
//! card-update answer that the spec could **not** verify. They are not implemented. A message
//! with buttons is sent as a robot ActionCard (`sampleActionCard` for one button,
//! `sampleActionCard2`…`5` for two to five, vertical), whose **buttons only open URLs**: the
//! URL comes from [`DingtalkApi::with_button_links`] (meant for a signed, expiring, single-use
//! ack link served by zhiban), or is the button's `data` when that is itself a URL. So a click
//! reaches zhiban's link route, never [`handle_callback`], which therefore produces no
//! [`ChatEvent::Button`](crate::chat::ChatEvent::Button). Robot messages cannot be edited:
//! [`DingtalkApi::edit_text`] is always `Rejected`, and `send_text` returns the
//! `processQueryKey` (the handle for recall and read receipts), not an edit handle.
//!
//! # Callbacks: HTTP mode only
//!
//! DingTalk POSTs each message to the robot (one-to-one, or @-mentioning it in a group) with
//! `timestamp` (ms) and `sign` headers; [`handle_callback`] refuses a timestamp more than an hour
//! from `now` or a `sign` other than `base64(HMAC-SHA256(appSecret, timestamp + "\n" +
//! appSecret))` before parsing the body. A `text` message becomes
//! [`ChatEvent::Message`](crate::chat::ChatEvent::Message) (`conversationType` "1" →
//! `Private`, "2" → `Group`, text trimmed of the space left by the removed @mention); other
//! `msgtype`s (DingTalk documents only `text` for HTTP mode) are `Ignored`. The update id is the
//! first 8 bytes of SHA-256 of `msgId` (DingTalk's ids are opaque text), masked to 63 bits. The
//! answer is `{"msgtype":"empty"}`. There is no URL verification request in HTTP mode, so
//! [`CallbackOutcome::Reply`] is never produced. **Stream mode** (§3.3: a WebSocket opened from
//! inside, for intranets without a public URL) is out of scope.
//!
//! # Errors
//!
//! Robot webhooks answer HTTP 200 with `errcode` ([`map_robot_error`]): `130101` "send too
//! fast" (more than 20 a minute) → `RetryAfter(`[`ROBOT_THROTTLE`]` = 10 min)`, "sign not
//! match"/IP allow-list/unknown token → `Unauthorized`, "keywords not in content" and bad bodies
//! → `Rejected`. The OpenAPI answers non-2xx with `{"code","message"}` ([`map_api_error`]): a
//! bad token → refresh once, then `Unauthorized`; 429 or a QPS code → `RetryAfter`; a user in
//! `invalidStaffIdList` (unknown, left, outside the app's visible range) → `ChatGone`; a user in
//! `flowControlledStaffIdList` → `RetryAfter`; other 4xx → `Rejected`; 5xx and network errors →
//! `Transient`.
//!
//! # What is verified
//!
//! - **Verified against vectors**: the signature (spec §3.1's computed regression value for
//!   `SECdemo` / `1577262236757`, base64 and URL-encoded), used by the robot, the callback check
//!   and [`verify_robot_sign`].
//! - **\[doc\]**: custom robot bodies, `at` semantics, the 20/min limit and 10-minute throttle,
//!   HTTP-mode headers, the one-hour window and body fields; ActionCard template parameters
//!   (`singleTitle`/`singleURL`, `actionTitleN`/`actionURLN`, titles ≤ 20 characters, URLs ≤ 500)
//!   from a copy of DingTalk's message-template page.
//! - **\[secondary\]**: the OpenAPI token/send endpoints and fields (§3.4, many clients agree);
//!   `batchSend`'s `invalidStaffIdList`/`flowControlledStaffIdList` (official SDK model);
//!   `InvalidAuthentication` "不合法的access_token" (issue reports); QPS refusals as 403
//!   `Forbidden.AccessDenied.QpsLimit…`; `130101`/`310000`; `{"msgtype":"empty"}` as the
//!   callback answer; the session webhook's ~90 min lifetime.
//! - **\[unverified\]**: `300001` and the `4xxxxx` robot codes; which OpenAPI codes mean "no such
//!   group" (matched loosely on `notExist`/`notFound`/`不存在`).
//!
//! # Private deployments
//!
//! 政务钉钉 / 专属钉钉 change only the hosts: set [`DingtalkSettings::api_base`] and
//! [`DingtalkSettings::oapi_base`] (session webhooks must be on `oapi_base`), and give robots
//! their webhook URL as the deployment shows it.

mod api;
mod callback;
mod error;
mod intake;
mod robot;
mod sign;
pub mod testing;

#[cfg(test)]
mod tests;

pub use api::{
    ButtonLinks, DEFAULT_API_BASE, DEFAULT_OAPI_BASE, DingtalkApi, DingtalkSettings, MAX_BUTTON_TITLE_CHARS,
    MAX_BUTTON_URL_CHARS, MAX_BUTTONS, SessionWebhook, Target, target,
};
pub use callback::{
    CallbackOutcome, CallbackReply, CallbackRequest, CallbackSettings, CallbackText, RobotCallback,
    handle_callback, verify_callback,
};
pub use error::{
    API_QPS_WAIT, CallbackError, ConfigError, ROBOT_THROTTLE, USER_FLOW_CONTROL_WAIT, map_api_error,
    map_robot_error,
};
pub use intake::{RobotPayload, parse_robot_payload, strip_markdown, verify_robot_sign};
pub use robot::{MAX_TITLE_CHARS, Robot, RobotMessage, robot_body};
pub use sign::{SIGN_WINDOW_MS, event_id, sign};
