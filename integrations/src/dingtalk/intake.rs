//! Robot-compatible intake: a monitoring tool that already posts to a DingTalk custom robot can
//! post the same body to zhiban. [`parse_robot_payload`] reads every `msgtype` of §3.1 (`text`,
//! `markdown`, `actionCard`, `link`, `feedCard`) into a title and plain text;
//! [`verify_robot_sign`] checks the `timestamp`/`sign` query parameters the tool adds when its
//! robot is set to 加签.

use jiff::Timestamp;
use serde_json::Value;

use super::robot::MAX_TITLE_CHARS;
use super::sign::{fresh, sign_matches, url_decode};
use crate::webhook::PayloadError;

/// What a robot body said, as plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RobotPayload {
    pub title: String,
    pub text: String,
    /// `at.atMobiles`, then `at.atUserIds`, then `@all` for `isAtAll`.
    pub mentions: Vec<String>,
}

/// Whether `sign` is DingTalk's robot signature of `timestamp` with `secret`, and `timestamp`
/// within an hour of `now`. `sign` may be given URL-encoded (as it stands in the query) or
/// decoded; compared in constant time.
pub fn verify_robot_sign(secret: &str, timestamp: &str, sign: &str, now: Timestamp) -> bool {
    let secret = secret.trim();
    if secret.is_empty() || !fresh(timestamp, now) {
        return false;
    }
    // base64 has no `%`: a `%` means the value is still URL-encoded. A `+` decoded to a space by
    // a form decoder is put back.
    let sign = if sign.contains('%') { url_decode(sign) } else { sign.to_string() };
    sign_matches(secret, timestamp, &sign.replace(' ', "+"))
}

/// Reads a DingTalk robot body. The `msgtype` picks the part read; without one, the first of
/// `markdown`, `text`, `actionCard`, `link`, `feedCard` present is read.
pub fn parse_robot_payload(body: &[u8]) -> Result<RobotPayload, PayloadError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(PayloadError::Syntax { line: 1, column: 0, message: "the body is empty".to_string() });
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| PayloadError::Syntax {
        line: e.line(),
        column: e.column(),
        message: e.to_string().split(" at line ").next().unwrap_or_default().to_string(),
    })?;
    let Value::Object(root) = &value else {
        return Err(PayloadError::Field {
            path: ".".to_string(),
            message: "expected a JSON object".to_string(),
        });
    };
    let kinds = ["markdown", "text", "actionCard", "link", "feedCard"];
    let msgtype = match root.get("msgtype") {
        Some(Value::String(t)) => t.clone(),
        Some(_) => return Err(field("msgtype", "expected a string")),
        None => kinds.iter().find(|k| root.contains_key(**k)).map(|k| k.to_string()).ok_or_else(|| {
            PayloadError::Field {
                path: "msgtype".to_string(),
                message: "this required field is missing".to_string(),
            }
        })?,
    };
    // Some senders write `actioncard` / `feedcard`.
    let key = kinds.iter().find(|k| k.eq_ignore_ascii_case(&msgtype)).copied().ok_or_else(|| {
        PayloadError::Invalid {
            path: "msgtype".to_string(),
            message: format!("`{msgtype}` is not a DingTalk robot msgtype zhiban reads"),
        }
    })?;
    let part =
        root.get(key).or_else(|| root.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v));
    let Some(Value::Object(part)) = part else {
        return Err(field(key, "expected an object"));
    };
    let get = |name: &str| -> Result<String, PayloadError> {
        match part.get(name) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            Some(_) => Err(field(&format!("{key}.{name}"), "expected a string")),
        }
    };
    let (title, text) = match key {
        // Plain text: kept as it is, only trimmed.
        "text" => (String::new(), get("content")?.trim().to_string()),
        "markdown" => (get("title")?, strip_markdown(&get("text")?)),
        "actionCard" => {
            let mut text = strip_markdown(&get("text")?);
            let mut links = Vec::new();
            let single = (get("singleTitle")?, get("singleURL")?);
            if !single.1.is_empty() {
                links.push(single);
            }
            if let Some(btns) = part.get("btns") {
                let Value::Array(btns) = btns else {
                    return Err(field("actionCard.btns", "expected a list"));
                };
                for (i, b) in btns.iter().enumerate() {
                    let s = |n: &str| b.get(n).and_then(Value::as_str).unwrap_or("").to_string();
                    if !b.is_object() {
                        return Err(field(&format!("actionCard.btns[{i}]"), "expected an object"));
                    }
                    links.push((s("title"), s("actionURL")));
                }
            }
            for (label, url) in links {
                push_line(&mut text, &link_line(&label, &url));
            }
            (get("title")?, text)
        }
        "link" => {
            let mut text = strip_markdown(&get("text")?);
            let url = get("messageUrl")?;
            push_line(&mut text, &real_url(&url));
            (get("title")?, text)
        }
        _ => {
            let Some(Value::Array(links)) = part.get("links") else {
                return Err(field("feedCard.links", "expected a list"));
            };
            let mut text = String::new();
            let mut first = String::new();
            for (i, l) in links.iter().enumerate() {
                if !l.is_object() {
                    return Err(field(&format!("feedCard.links[{i}]"), "expected an object"));
                }
                let s = |n: &str| l.get(n).and_then(Value::as_str).unwrap_or("").trim().to_string();
                let url = if s("messageURL").is_empty() { s("messageUrl") } else { s("messageURL") };
                if first.is_empty() {
                    first = s("title");
                }
                push_line(&mut text, &link_line(&s("title"), &url));
            }
            (first, text)
        }
    };
    let title = match strip_markdown(&title).lines().map(str::trim).find(|l| !l.is_empty()) {
        Some(t) => t.to_string(),
        None => text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").to_string(),
    };
    let title: String = title.chars().take(MAX_TITLE_CHARS).collect();
    if title.is_empty() && text.is_empty() {
        return Err(PayloadError::Invalid {
            path: key.to_string(),
            message: "the message has no text".to_string(),
        });
    }
    Ok(RobotPayload { title, text, mentions: mentions(root.get("at"))? })
}

fn field(path: &str, message: &str) -> PayloadError {
    PayloadError::Field { path: path.to_string(), message: message.to_string() }
}

fn mentions(at: Option<&Value>) -> Result<Vec<String>, PayloadError> {
    let Some(at) = at.filter(|v| !v.is_null()) else { return Ok(Vec::new()) };
    if !at.is_object() {
        return Err(field("at", "expected an object"));
    }
    let mut out = Vec::new();
    for name in ["atMobiles", "atUserIds"] {
        match at.get(name) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let id = match item {
                        Value::String(s) => s.trim().to_string(),
                        Value::Number(n) => n.to_string(),
                        _ => return Err(field(&format!("at.{name}[{i}]"), "expected a string")),
                    };
                    if !id.is_empty() && !out.contains(&id) {
                        out.push(id);
                    }
                }
            }
            Some(_) => return Err(field(&format!("at.{name}"), "expected a list")),
        }
    }
    let all = match at.get("isAtAll") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    if all {
        out.push("@all".to_string());
    }
    Ok(out)
}

fn push_line(text: &mut String, line: &str) {
    if line.is_empty() {
        return;
    }
    if !text.is_empty() {
        text.push('\n');
    }
    text.push_str(line);
}

fn link_line(label: &str, url: &str) -> String {
    let url = real_url(url);
    match (label.trim(), url.as_str()) {
        ("", u) => u.to_string(),
        (l, "") => l.to_string(),
        (l, u) => format!("{l}: {u}"),
    }
}

/// `dingtalk://dingtalkclient/page/link?pc_slide=false&url=<encoded>` (how Grafana and others
/// open a page inside DingTalk) → the page's URL.
fn real_url(url: &str) -> String {
    let url = url.trim();
    if url.to_ascii_lowercase().starts_with("dingtalk://dingtalkclient/page/link")
        && let Some((_, query)) = url.split_once('?')
        && let Some(inner) = super::sign::query_param(query, "url")
    {
        return inner;
    }
    url.to_string()
}

/// DingTalk markdown → plain text: headings, quotes, emphasis, code marks, HTML tags (`<font>`,
/// `<br>`), images and links (`[text](url)` → `text (url)`), escapes and entities go; line
/// structure and list markers stay; runs of blank lines become one.
pub fn strip_markdown(markdown: &str) -> String {
    let mut lines = Vec::new();
    let mut blank = 0;
    for line in markdown.replace("\r\n", "\n").split('\n') {
        let mut l = line.trim();
        if l.starts_with("```") || l.starts_with("~~~") {
            continue;
        }
        while let Some(rest) = l.strip_prefix('>') {
            l = rest.trim_start();
        }
        let hashes = l.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&hashes) && l[hashes..].starts_with([' ', '\t']) {
            l = l[hashes..].trim_start();
        }
        let is_rule = l.len() >= 3
            && (l.chars().all(|c| c == '-') || l.chars().all(|c| c == '*') || l.chars().all(|c| c == '_'));
        let cleaned = if is_rule { String::new() } else { inline(l) };
        for part in cleaned.split('\n') {
            let part = part.trim();
            if part.is_empty() {
                blank += 1;
                if blank == 1 && !lines.is_empty() {
                    lines.push(String::new());
                }
            } else {
                blank = 0;
                lines.push(part.to_string());
            }
        }
    }
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines.join("\n")
}

const HTML_TAGS: [&str; 17] = [
    "font", "br", "b", "i", "u", "s", "em", "strong", "span", "p", "div", "a", "del", "center", "img", "sup",
    "sub",
];

/// Inline markup of one line.
fn inline(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if i + 1 < chars.len() && chars[i + 1].is_ascii_punctuation() => {
                out.push(chars[i + 1]);
                i += 2;
            }
            '*' if chars.get(i + 1) == Some(&'*') => i += 2,
            '`' => i += 1,
            '!' if chars.get(i + 1) == Some(&'[') => match link_at(&chars, i + 1) {
                Some((label, _, end)) => {
                    out.push_str(&label);
                    i = end;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            },
            '[' => match link_at(&chars, i) {
                Some((label, url, end)) => {
                    let url = real_url(&url);
                    let label = inline(&label);
                    if label.trim().is_empty() || label.trim() == url {
                        out.push_str(&url);
                    } else {
                        out.push_str(&format!("{} ({url})", label.trim()));
                    }
                    i = end;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            },
            '<' => match tag_at(&chars, i) {
                Some((name, end)) => {
                    if name == "br" || name == "p" || name == "div" {
                        out.push('\n');
                    }
                    i = end;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            },
            '&' => {
                let rest: String = chars[i..chars.len().min(i + 6)].iter().collect();
                let entity = [("&nbsp;", ' '), ("&lt;", '<'), ("&gt;", '>'), ("&amp;", '&'), ("&quot;", '"')]
                    .into_iter()
                    .find(|(e, _)| rest.starts_with(e));
                match entity {
                    Some((e, ch)) => {
                        out.push(ch);
                        i += e.chars().count();
                    }
                    None => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// `[label](url)` starting at `chars[start] == '['`: the label, the URL and the index after `)`.
fn link_at(chars: &[char], start: usize) -> Option<(String, String, usize)> {
    let close = start + chars[start..].iter().position(|c| *c == ']')?;
    if chars.get(close + 1) != Some(&'(') {
        return None;
    }
    let end = close + 2 + chars[close + 2..].iter().position(|c| *c == ')')?;
    let label: String = chars[start + 1..close].iter().collect();
    let url: String = chars[close + 2..end].iter().collect();
    // `[url "title"]` forms: keep the URL only.
    let url = url.split_whitespace().next().unwrap_or("").to_string();
    Some((label, url, end + 1))
}

/// An HTML tag of [`HTML_TAGS`] at `chars[start] == '<'`: its lower-case name and the index after `>`.
fn tag_at(chars: &[char], start: usize) -> Option<(String, usize)> {
    let mut j = start + 1;
    if chars.get(j) == Some(&'/') {
        j += 1;
    }
    let name_start = j;
    while chars.get(j).is_some_and(char::is_ascii_alphanumeric) {
        j += 1;
    }
    let name: String = chars[name_start..j].iter().collect::<String>().to_ascii_lowercase();
    if !HTML_TAGS.contains(&name.as_str()) {
        return None;
    }
    let end = j + chars[j..].iter().position(|c| *c == '>' || *c == '<')?;
    if chars[end] != '>' {
        return None;
    }
    let between: String = chars[j..end].iter().collect();
    if !(between.is_empty() || between.starts_with([' ', '/'])) {
        return None;
    }
    Some((name, end + 1))
}
