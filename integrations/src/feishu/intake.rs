//! Robot-compatible intake: a body shaped like a Feishu custom bot request (what monitoring tools
//! post to `…/bot/v2/hook/<uuid>`), read as a title and plain text. So a tool set up for a Feishu
//! group robot can post to zhiban unchanged.
//!
//! Accepted `msg_type`s: `text`, `post` (rich text, any locale), `interactive` (card JSON 1.0 with
//! `header`/`elements`, card JSON 2.0 with `body.elements`, `i18n_elements`, a template card by
//! `template_id`; under `card`, or as a JSON string), `image` and `share_chat` (as placeholders).
//! Markup is dropped: `lark_md`/markdown emphasis, headings, quotes and code fences; links become
//! `text (url)`; `<at …>` mentions become `@name` and their ids go to
//! [`RobotPayload::mentions`] (`all` for everyone).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::webhook::PayloadError;

/// A robot message read as text.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RobotPayload {
    /// The card's or post's title, else the first line of the text.
    pub title: String,
    pub text: String,
    /// Mentioned ids (`open_id`, `user_id` or email as written; `all`), in order, without repeats.
    pub mentions: Vec<String>,
}

/// The signature fields a signed custom bot request carries in its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RobotSignature {
    pub timestamp: String,
    pub sign: String,
}

/// The longest title taken from a first line.
const MAX_TITLE_CHARS: usize = 100;

/// `timestamp` and `sign` of a signed robot body (check them with
/// [`verify_robot_sign`](super::verify_robot_sign)); `None` when the body has neither.
pub fn robot_signature(body: &[u8]) -> Option<RobotSignature> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let timestamp = match v.get("timestamp")? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let sign = v.get("sign")?.as_str()?.to_string();
    Some(RobotSignature { timestamp, sign })
}

/// Reads a Feishu custom bot request body.
pub fn parse_robot_payload(body: &[u8]) -> Result<RobotPayload, PayloadError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(PayloadError::Syntax { line: 1, column: 0, message: "the body is empty".into() });
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let root: Value = serde_path_to_error::deserialize(&mut de).map_err(PayloadError::from_json)?;
    de.end().map_err(PayloadError::from_trailing)?;
    if !root.is_object() {
        return Err(PayloadError::invalid(".", "a robot message is a JSON object"));
    }
    let msg_type = match root.get("msg_type") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(field("msg_type", "expected a string")),
        None => return Err(missing("msg_type")),
    };
    let mut out = Reader::default();
    let mut title = String::new();
    match msg_type {
        "text" => {
            let text = root
                .pointer("/content/text")
                .and_then(Value::as_str)
                .ok_or_else(|| missing("content.text"))?;
            out.markdown(text);
        }
        "post" => {
            let post = root.pointer("/content/post").ok_or_else(|| missing("content.post"))?;
            let locale = ["zh_cn", "en_us", "ja_jp"]
                .iter()
                .find_map(|l| post.get(*l))
                .or_else(|| post.as_object().and_then(|o| o.values().next()))
                .ok_or_else(|| PayloadError::invalid("content.post", "no language in the post"))?;
            title = plain(locale.get("title"));
            out.post_rows(locale.get("content"));
        }
        "interactive" => {
            let card = match root.get("card").or_else(|| root.get("content")) {
                Some(Value::String(s)) => serde_json::from_str::<Value>(s)
                    .map_err(|e| PayloadError::invalid("card", format!("not a JSON card: {e}")))?,
                Some(v @ Value::Object(_)) => v.clone(),
                Some(_) => return Err(field("card", "expected an object")),
                None => return Err(missing("card")),
            };
            title = out.card(&card);
        }
        "image" => out.line("[图片]"),
        "share_chat" => out.line("[群名片]"),
        other => return Err(PayloadError::invalid("msg_type", format!("unsupported msg_type {other:?}"))),
    }
    let mut text = out.finish();
    title = title.trim().to_string();
    if title.is_empty() {
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or_default().trim().to_string();
        title = first.chars().take(MAX_TITLE_CHARS).collect();
        if first.chars().count() <= MAX_TITLE_CHARS {
            let rest = text.trim_start().strip_prefix(first.as_str()).unwrap_or_default().trim().to_string();
            if !rest.is_empty() {
                text = rest;
            }
        }
    }
    Ok(RobotPayload { title, text, mentions: out.mentions })
}

fn missing(path: &str) -> PayloadError {
    PayloadError::Field { path: path.into(), message: "this required field is missing".into() }
}

fn field(path: &str, message: &str) -> PayloadError {
    PayloadError::Field { path: path.into(), message: message.into() }
}

fn plain(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        // `{"tag": "plain_text", "content": …}` and i18n titles.
        Some(Value::Object(o)) => o
            .get("content")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                o.get("i18n")
                    .and_then(|i| i.get("zh_cn").or_else(|| i.get("en_us")))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_default(),
        _ => String::new(),
    }
}

#[derive(Default)]
struct Reader {
    lines: Vec<String>,
    mentions: Vec<String>,
}

impl Reader {
    fn line(&mut self, s: &str) {
        self.lines.push(s.to_string());
    }

    fn mention(&mut self, id: &str) {
        let id = id.trim().trim_matches(|c| c == '"' || c == '\'');
        if !id.is_empty() && !self.mentions.iter().any(|m| m == id) {
            self.mentions.push(id.to_string());
        }
    }

    fn markdown(&mut self, md: &str) {
        let text = strip_markdown(md, self);
        self.lines.push(text);
    }

    fn finish(&mut self) -> String {
        let joined = std::mem::take(&mut self.lines).join("\n");
        // At most one blank line in a row.
        let mut out = String::new();
        let mut blank = 0;
        for line in joined.lines().map(str::trim_end) {
            if line.trim().is_empty() {
                blank += 1;
                if blank > 1 {
                    continue;
                }
            } else {
                blank = 0;
            }
            out.push_str(line);
            out.push('\n');
        }
        out.trim().to_string()
    }

    fn post_rows(&mut self, rows: Option<&Value>) {
        for row in rows.and_then(Value::as_array).into_iter().flatten() {
            let mut line = String::new();
            for el in row.as_array().into_iter().flatten() {
                let text = el.get("text").and_then(Value::as_str).unwrap_or_default();
                match el.get("tag").and_then(Value::as_str).unwrap_or_default() {
                    "text" => line.push_str(text),
                    "a" => {
                        let href = el.get("href").and_then(Value::as_str).unwrap_or_default();
                        line.push_str(&link(text, href));
                    }
                    "at" => {
                        let id = el.get("user_id").and_then(Value::as_str).unwrap_or_default();
                        self.mention(id);
                        let name = el.get("user_name").and_then(Value::as_str).filter(|n| !n.is_empty());
                        let name = name.unwrap_or(if id == "all" { "所有人" } else { id });
                        line.push('@');
                        line.push_str(name);
                    }
                    "md" => line.push_str(&strip_markdown(text, self)),
                    "code_block" => line.push_str(text),
                    "emotion" => {
                        let emoji = el.get("emoji_type").and_then(Value::as_str).unwrap_or_default();
                        line.push_str(&format!("[{emoji}]"));
                    }
                    "img" => line.push_str("[图片]"),
                    "media" => line.push_str("[视频]"),
                    "hr" => line.push_str("———"),
                    _ => line.push_str(text),
                }
            }
            self.lines.push(line);
        }
    }

    /// Reads a card; returns its title.
    fn card(&mut self, card: &Value) -> String {
        if card.get("type").and_then(Value::as_str) == Some("template") {
            // A card built in the card builder: only its variables travel.
            let vars = card.pointer("/data/template_variable").and_then(Value::as_object);
            for (k, v) in vars.into_iter().flatten() {
                let v = match v {
                    Value::String(s) => strip_markdown(s, self),
                    other => other.to_string(),
                };
                self.lines.push(format!("{k}: {v}"));
            }
            let title = vars.and_then(|v| v.get("title")).and_then(Value::as_str).unwrap_or_default();
            return title.to_string();
        }
        let title = plain(card.pointer("/header/title"));
        let subtitle = plain(card.pointer("/header/subtitle"));
        if !subtitle.is_empty() {
            self.lines.push(subtitle);
        }
        let elements = card
            .get("elements")
            .or_else(|| card.pointer("/body/elements"))
            .or_else(|| card.pointer("/i18n_elements/zh_cn"))
            .or_else(|| card.get("i18n_elements").and_then(Value::as_object).and_then(|o| o.values().next()));
        self.elements(elements);
        title
    }

    fn elements(&mut self, elements: Option<&Value>) {
        for el in elements.and_then(Value::as_array).into_iter().flatten() {
            self.element(el);
        }
    }

    fn text_object(&mut self, t: Option<&Value>) -> Option<String> {
        let t = t?;
        if let Some(s) = t.as_str() {
            return Some(s.to_string());
        }
        let content = t.get("content").and_then(Value::as_str)?;
        Some(match t.get("tag").and_then(Value::as_str) {
            Some("plain_text") => content.to_string(),
            _ => strip_markdown(content, self),
        })
    }

    fn element(&mut self, el: &Value) {
        match el.get("tag").and_then(Value::as_str).unwrap_or_default() {
            "div" => {
                if let Some(text) = self.text_object(el.get("text")) {
                    self.lines.push(text);
                }
                for f in el.get("fields").and_then(Value::as_array).into_iter().flatten() {
                    if let Some(text) = self.text_object(f.get("text")) {
                        self.lines.push(text);
                    }
                }
            }
            "markdown" | "lark_md" => {
                let content = el.get("content").and_then(Value::as_str).unwrap_or_default();
                let text = strip_markdown(content, self);
                self.lines.push(text);
            }
            "plain_text" => {
                self.lines.push(el.get("content").and_then(Value::as_str).unwrap_or_default().to_string())
            }
            "note" => {
                let mut parts = Vec::new();
                for n in el.get("elements").and_then(Value::as_array).into_iter().flatten() {
                    if let Some(content) = n.get("content").and_then(Value::as_str) {
                        let text = if n.get("tag").and_then(Value::as_str) == Some("lark_md") {
                            strip_markdown(content, self)
                        } else {
                            content.to_string()
                        };
                        parts.push(text);
                    }
                }
                self.lines.push(parts.join(" "));
            }
            "action" => {
                for a in el.get("actions").and_then(Value::as_array).into_iter().flatten() {
                    self.element(a);
                }
            }
            "button" => {
                let label = self.text_object(el.get("text")).unwrap_or_default();
                let url = el
                    .get("url")
                    .or_else(|| el.pointer("/multi_url/url"))
                    .or_else(|| el.pointer("/behaviors/0/default_url"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !url.is_empty() {
                    self.lines.push(link(&label, url));
                }
            }
            "column_set" => {
                for c in el.get("columns").and_then(Value::as_array).into_iter().flatten() {
                    self.elements(c.get("elements"));
                }
            }
            "column" | "form" | "interactive_container" => self.elements(el.get("elements")),
            "collapsible_panel" => {
                let title = plain(el.pointer("/header/title"));
                if !title.is_empty() {
                    let title = strip_markdown(&title, self);
                    self.lines.push(title);
                }
                self.elements(el.get("elements"));
            }
            "hr" => self.lines.push(String::new()),
            "img" | "image" => {}
            _ => {
                if let Some(text) = self.text_object(el.get("text")) {
                    self.lines.push(text);
                }
            }
        }
    }
}

fn link(text: &str, href: &str) -> String {
    match (text.trim(), href.trim()) {
        ("", href) => href.to_string(),
        (text, "") => text.to_string(),
        (text, href) if text == href => href.to_string(),
        (text, href) => format!("{text} ({href})"),
    }
}

/// Feishu's markdown and `lark_md` as plain text; mentions are recorded in `reader`.
fn strip_markdown(md: &str, reader: &mut Reader) -> String {
    let md = md.replace("\r\n", "\n");
    let with_tags = replace_tags(&md, reader);
    let mut out = Vec::new();
    let mut in_fence = false;
    for line in with_tags.split('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            out.push(line.to_string());
            continue;
        }
        let mut l = trimmed;
        let hashes = l.chars().take_while(|&c| c == '#').count();
        if (1..=6).contains(&hashes) && l[hashes..].starts_with(' ') {
            l = l[hashes..].trim_start();
        }
        while let Some(rest) = l.strip_prefix('>') {
            l = rest.trim_start();
        }
        let indent = &line[..line.len() - trimmed.len()];
        let inline = strip_inline(l);
        out.push(if hashes > 0 || line.trim_start().starts_with('>') {
            inline
        } else {
            format!("{indent}{inline}")
        });
    }
    decode_entities(&out.join("\n"))
}

/// Emphasis markers, inline code and links.
fn strip_inline(line: &str) -> String {
    let mut s = line.replace("**", "").replace("~~", "");
    s = s.replace('`', "");
    // [text](url) → text (url)
    let mut out = String::new();
    let mut rest = s.as_str();
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find("](") else { break };
        let text = &after[..close];
        let tail = &after[close + 2..];
        let Some(end) = tail.find(')') else { break };
        if text.contains('[') {
            out.push_str(&rest[..=open]);
            rest = after;
            continue;
        }
        out.push_str(&rest[..open]);
        out.push_str(&link(text, &tail[..end]));
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

/// `<at …>` tags become `@name` (recording the id); `<br>` a line break; `<font>` and other
/// formatting tags are dropped, keeping their text. Anything else with `<` stays as written.
fn replace_tags(md: &str, reader: &mut Reader) -> String {
    const DROP: [&str; 8] = ["font", "text_tag", "b", "i", "u", "s", "local_datetime", "link"];
    let mut out = String::new();
    let mut rest = md;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let inside = &after[..close];
        let name: String = inside
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let name = name.to_ascii_lowercase();
        let mut next = &after[close + 1..];
        if name == "at" && !inside.starts_with('/') {
            let id = attribute(inside, &["user_id", "id", "email", "open_id"]).unwrap_or_default();
            reader.mention(&id);
            // The name between `<at …>` and `</at>`, when given.
            let (label, after_close) = match next.find("</at>") {
                Some(end) => (next[..end].trim().to_string(), &next[end + 5..]),
                None => (String::new(), next),
            };
            next = after_close;
            let shown = if !label.is_empty() {
                label
            } else if id == "all" {
                "所有人".to_string()
            } else {
                id
            };
            out.push('@');
            out.push_str(&shown);
        } else if name == "at" {
            // A stray `</at>`.
        } else if name == "br" {
            out.push('\n');
        } else if DROP.contains(&name.as_str()) {
        } else {
            // Not a tag we know (`a < b`): keep the `<` and read on right after it.
            out.push('<');
            next = after;
        }
        rest = next;
    }
    out.push_str(rest);
    out
}

/// The value of the first of `names` in a tag's inside (`at user_id="ou_1"`, `at id=all`).
fn attribute(inside: &str, names: &[&str]) -> Option<String> {
    for name in names {
        let mut search = inside;
        while let Some(at) = search.find(name) {
            let before_ok = at == 0 || search[..at].ends_with(|c: char| c.is_whitespace());
            let after = search[at + name.len()..].trim_start();
            if before_ok && let Some(value) = after.strip_prefix('=') {
                let value = value.trim_start();
                let v = if let Some(q) = value.strip_prefix('"') {
                    q.split('"').next().unwrap_or_default()
                } else if let Some(q) = value.strip_prefix('\'') {
                    q.split('\'').next().unwrap_or_default()
                } else {
                    value.split(|c: char| c.is_whitespace() || c == '/').next().unwrap_or_default()
                };
                return Some(v.to_string());
            }
            search = &search[at + name.len()..];
        }
    }
    None
}

fn decode_entities(s: &str) -> String {
    s.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}
