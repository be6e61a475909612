//! Telegram updates → [`ChatUpdate`]s.

use teloxide_core::types::{CallbackQuery, ChatMemberUpdated, Message, PhotoSize, Update, UpdateKind, User};

use super::error::UpdateParseError;
use crate::chat::{
    Attachment, ButtonPress, ChatEvent, ChatId, ChatKind, ChatUpdate, ChatUser, IncomingMessage,
};

/// Parses one webhook body: a single `Update` object.
///
/// An update teloxide cannot read (a kind newer than Bot API 9.1, a field it does not expect)
/// still has its `update_id`, so it comes back as [`ChatEvent::Ignored`] rather than an error; only
/// a body that is not an update at all (no `update_id`, not JSON) is an error.
///
/// The body is read with `serde_json::from_slice`: going through `serde_json::Value` first makes
/// teloxide read valid updates as unknown ones.
pub fn parse_update(body: &[u8]) -> Result<ChatUpdate, UpdateParseError> {
    let update: Update = serde_json::from_slice(body)?;
    let mut converted = convert_update(&update);
    if let ChatEvent::Ignored { what } = &mut converted.event
        && matches!(update.kind, UpdateKind::Error(_))
    {
        // teloxide keeps nothing of what it could not read: name the keys ourselves.
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body) {
            *what = unreadable(map.keys().map(String::as_str));
        }
    }
    Ok(converted)
}

fn unreadable<'a>(keys: impl Iterator<Item = &'a str>) -> String {
    let keys: Vec<&str> = keys.filter(|k| *k != "update_id").collect();
    if keys.is_empty() {
        "an update teloxide-core cannot read".to_string()
    } else {
        format!("an update teloxide-core cannot read ({})", keys.join(", "))
    }
}

/// Converts a parsed update.
pub fn convert_update(update: &Update) -> ChatUpdate {
    let event = match &update.kind {
        UpdateKind::Message(m) | UpdateKind::ChannelPost(m) => convert_message(m),
        UpdateKind::CallbackQuery(q) => ChatEvent::Button(convert_callback(q)),
        UpdateKind::EditedMessage(m) | UpdateKind::EditedChannelPost(m) => {
            ignored(format!("an edit of message {} in chat {}", m.id.0, m.chat.id.0))
        }
        UpdateKind::MyChatMember(m) => ignored(member_change("the bot", m)),
        UpdateKind::ChatMember(m) => ignored(member_change("a member", m)),
        UpdateKind::Error(value) => ignored(match value {
            serde_json::Value::Object(map) => unreadable(map.keys().map(String::as_str)),
            _ => unreadable(std::iter::empty()),
        }),
        other => ignored(kind_name(other).to_string()),
    };
    ChatUpdate { id: i64::from(update.id.0), event }
}

fn ignored(what: String) -> ChatEvent {
    ChatEvent::Ignored { what }
}

fn member_change(who: &str, m: &ChatMemberUpdated) -> String {
    format!(
        "{who} became {:?} in chat {} (was {:?})",
        m.new_chat_member.kind.status(),
        m.chat.id.0,
        m.old_chat_member.kind.status()
    )
    .to_lowercase()
}

fn kind_name(kind: &UpdateKind) -> &'static str {
    match kind {
        UpdateKind::BusinessConnection(_) => "a business connection",
        UpdateKind::BusinessMessage(_) => "a business message",
        UpdateKind::EditedBusinessMessage(_) => "an edited business message",
        UpdateKind::DeletedBusinessMessages(_) => "deleted business messages",
        UpdateKind::MessageReaction(_) => "a message reaction",
        UpdateKind::MessageReactionCount(_) => "message reaction counts",
        UpdateKind::InlineQuery(_) => "an inline query",
        UpdateKind::ChosenInlineResult(_) => "a chosen inline result",
        UpdateKind::ShippingQuery(_) => "a shipping query",
        UpdateKind::PreCheckoutQuery(_) => "a pre-checkout query",
        UpdateKind::PurchasedPaidMedia(_) => "purchased paid media",
        UpdateKind::Poll(_) => "a poll",
        UpdateKind::PollAnswer(_) => "a poll answer",
        UpdateKind::ChatJoinRequest(_) => "a chat join request",
        UpdateKind::ChatBoost(_) => "a chat boost",
        UpdateKind::RemovedChatBoost(_) => "a removed chat boost",
        _ => "an update",
    }
}

fn chat_id(id: teloxide_core::types::ChatId) -> ChatId {
    ChatId(id.0.to_string())
}

fn convert_message(m: &Message) -> ChatEvent {
    if let Some(to) = m.migrate_to_chat_id() {
        return ChatEvent::ChatMigrated { from: chat_id(m.chat.id), to: chat_id(*to) };
    }
    if let Some(from) = m.migrate_from_chat_id() {
        return ChatEvent::ChatMigrated { from: chat_id(*from), to: chat_id(m.chat.id) };
    }
    let mut attachments = Vec::new();
    if let Some(photo) = m.photo().and_then(largest_photo) {
        attachments.push(Attachment {
            file_id: photo.file.id.0.clone(),
            file_name: None,
            mime: Some("image/jpeg".to_string()),
            size: file_size(photo.file.size),
        });
    }
    if let Some(doc) = m.document() {
        attachments.push(Attachment {
            file_id: doc.file.id.0.clone(),
            file_name: doc.file_name.clone(),
            mime: doc.mime_type.as_ref().map(|m| m.to_string()),
            size: file_size(doc.file.size),
        });
    }
    let text = m.text().or(m.caption()).unwrap_or_default().to_string();
    if text.is_empty() && attachments.is_empty() {
        return ignored(format!("message {} in chat {} without text or file", m.id.0, m.chat.id.0));
    }
    let from = match &m.from {
        Some(user) => convert_user(user),
        // A channel post: the channel speaks.
        None => ChatUser {
            id: m.chat.id.0.to_string(),
            username: m.chat.username().map(str::to_string),
            display_name: m.chat.title().unwrap_or_default().to_string(),
            is_bot: false,
        },
    };
    ChatEvent::Message(IncomingMessage {
        chat: chat_id(m.chat.id),
        chat_kind: if m.chat.is_private() { ChatKind::Private } else { ChatKind::Group },
        chat_title: m.chat.title().map(str::to_string),
        message_id: m.id.0.to_string(),
        from,
        text,
        reply_to: m.reply_to_message().map(|r| r.id.0.to_string()),
        attachments,
        at: jiff::Timestamp::from_second(m.date.timestamp()).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
    })
}

/// teloxide fills a missing `file_size` with `u32::MAX`.
fn file_size(size: u32) -> Option<u64> {
    (size != u32::MAX).then_some(u64::from(size))
}

fn largest_photo(sizes: &[PhotoSize]) -> Option<&PhotoSize> {
    sizes.iter().max_by_key(|p| u64::from(p.width) * u64::from(p.height))
}

fn convert_user(user: &User) -> ChatUser {
    ChatUser {
        id: user.id.0.to_string(),
        username: user.username.clone(),
        display_name: user.full_name(),
        is_bot: user.is_bot,
    }
}

fn convert_callback(q: &CallbackQuery) -> ButtonPress {
    ButtonPress {
        id: q.id.0.clone(),
        from: convert_user(&q.from),
        chat: q.message.as_ref().map(|m| chat_id(m.chat().id)),
        message_id: q.message.as_ref().map(|m| m.id().0.to_string()),
        data: q.data.clone().unwrap_or_default(),
    }
}
