//! Robot-compatible intake: a body shaped like a WeCom group-robot webhook (spec §1.2), as a
//! monitoring tool would post it to `…/cgi-bin/webhook/send?key=…`, turned into a title and plain
//! text, so a tool already set up for a WeCom robot can post to zhiban unchanged.
//!
//! WeCom robots do not sign their requests (the key in the URL is the credential), so there is no
//! `verify_robot_sign` here: check the key the sender used like any webhook token.

use serde::Deserialize;

use super::text::truncate_chars;
use crate::webhook::PayloadError;
use crate::webhook::PayloadError as E;

/// The longest title taken from a body, in characters.
pub const MAX_TITLE_CHARS: usize = 200;

/// What a robot-shaped body says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RobotPayload {
    /// The first line (a heading, a card's main title, the first article's title), without markup.
    pub title: String,
    /// The rest, as plain text: markdown markup removed, links as `label (url)`; may be empty.
    pub text: String,
    /// Who the sender @-mentioned: `mentioned_list` UserIDs, `mentioned_mobile_list` numbers,
    /// `<@userid>` in the content; `@all` as is. In order, without repeats.
    pub mentions: Vec<String>,
}

#[derive(Deserialize)]
struct Body {
    msgtype: String,
    text: Option<TextBody>,
    markdown: Option<Content>,
    markdown_v2: Option<Content>,
    news: Option<News>,
    template_card: Option<Card>,
}

#[derive(Deserialize)]
struct TextBody {
    content: String,
    mentioned_list: Option<Vec<String>>,
    mentioned_mobile_list: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Content {
    content: String,
}

#[derive(Deserialize)]
struct News {
    articles: Vec<Article>,
}

#[derive(Deserialize)]
struct Article {
    title: String,
    description: Option<String>,
    url: Option<String>,
}

#[derive(Deserialize, Default)]
struct Card {
    source: Option<TitleDesc>,
    main_title: Option<TitleDesc>,
    emphasis_content: Option<TitleDesc>,
    quote_area: Option<QuoteArea>,
    sub_title_text: Option<String>,
    image_text_area: Option<TitleDesc>,
    horizontal_content_list: Option<Vec<KeyValue>>,
    vertical_content_list: Option<Vec<TitleDesc>>,
    jump_list: Option<Vec<Jump>>,
    card_action: Option<Jump>,
}

#[derive(Deserialize, Default)]
struct TitleDesc {
    title: Option<String>,
    desc: Option<String>,
}

#[derive(Deserialize)]
struct QuoteArea {
    title: Option<String>,
    quote_text: Option<String>,
}

#[derive(Deserialize)]
struct KeyValue {
    keyname: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
struct Jump {
    title: Option<String>,
    url: Option<String>,
}

/// Parses a robot-shaped body: `text`, `markdown`, `markdown_v2`, `news` and `template_card`
/// (`text_notice` / `news_notice`). `image`, `file` and `voice` carry no text and are refused, as
/// are unknown types, a missing section and empty content.
pub fn parse_robot_payload(body: &[u8]) -> Result<RobotPayload, PayloadError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(E::empty_body());
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed: Body = serde_path_to_error::deserialize(&mut de).map_err(E::from_json)?;
    de.end().map_err(E::from_trailing)?;
    let missing = |path: &str| E::Field {
        path: path.to_string(),
        message: "this required field is missing".to_string(),
    };
    let mut mentions = Vec::new();
    let (lines, path) = match parsed.msgtype.as_str() {
        "text" => {
            let t = parsed.text.ok_or_else(|| missing("text"))?;
            mentions.extend(t.mentioned_list.unwrap_or_default());
            mentions.extend(t.mentioned_mobile_list.unwrap_or_default());
            let (plain, inline) = take_mentions(&t.content);
            mentions.extend(inline);
            (plain, "text.content")
        }
        "markdown" | "markdown_v2" => {
            let section = if parsed.msgtype == "markdown" { parsed.markdown } else { parsed.markdown_v2 };
            let c = section.ok_or_else(|| missing(&parsed.msgtype))?;
            let (plain, inline) = markdown_to_text(&c.content);
            mentions.extend(inline);
            (plain, if parsed.msgtype == "markdown" { "markdown.content" } else { "markdown_v2.content" })
        }
        "news" => {
            let n = parsed.news.ok_or_else(|| missing("news"))?;
            let mut out = Vec::new();
            for a in n.articles {
                out.push(a.title);
                out.extend(a.description);
                out.extend(a.url);
            }
            (out.join("\n"), "news.articles")
        }
        "template_card" => {
            (card_text(parsed.template_card.ok_or_else(|| missing("template_card"))?), "template_card")
        }
        other @ ("image" | "file" | "voice") => {
            return Err(E::invalid("msgtype", format!("a {other} message carries no text")));
        }
        other => return Err(E::invalid("msgtype", format!("unknown msgtype {other:?}"))),
    };
    let mut rest = lines.lines().map(str::trim_end).skip_while(|l| l.trim().is_empty());
    let title = rest.next().unwrap_or_default().trim().to_string();
    if title.is_empty() {
        return Err(E::invalid(path, "is empty"));
    }
    let text = collapse_blank_lines(&rest.collect::<Vec<_>>().join("\n"));
    let mut seen = std::collections::HashSet::new();
    mentions.retain(|m| !m.trim().is_empty() && seen.insert(m.clone()));
    Ok(RobotPayload { title: truncate_chars(&title, MAX_TITLE_CHARS), text, mentions })
}

fn card_text(card: Card) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: Option<String>| {
        if let Some(s) = s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) {
            out.push(s);
        }
    };
    let main = card.main_title.unwrap_or_default();
    push(main.title);
    push(main.desc);
    if let Some(e) = card.emphasis_content {
        push(match (e.title, e.desc) {
            (Some(t), Some(d)) => Some(format!("{d}: {t}")),
            (t, d) => t.or(d),
        });
    }
    push(card.sub_title_text);
    if let Some(q) = card.quote_area {
        push(q.title);
        push(q.quote_text);
    }
    if let Some(i) = card.image_text_area {
        push(i.title);
        push(i.desc);
    }
    for kv in card.horizontal_content_list.unwrap_or_default() {
        push(match (kv.keyname, kv.value) {
            (Some(k), Some(v)) => Some(format!("{k}: {v}")),
            (k, v) => k.or(v),
        });
    }
    for v in card.vertical_content_list.unwrap_or_default() {
        push(v.title);
        push(v.desc);
    }
    for j in card.jump_list.unwrap_or_default() {
        push(match (j.title, j.url) {
            (Some(t), Some(u)) => Some(format!("{t} ({u})")),
            (t, u) => t.or(u),
        });
    }
    push(card.card_action.and_then(|a| a.url));
    push(card.source.and_then(|s| s.desc).map(|d| format!("来源: {d}")));
    out.join("\n")
}

/// Plain text of WeCom markdown (and markdown_v2), and the `<@userid>` mentions in it.
///
/// Headings, quotes, bold, strike-through, inline code and fences lose their markup; `<font …>`
/// tags go; `<br>` breaks the line; `[label](url)` becomes `label (url)` (just `url` when they
/// are the same), `![alt](url)` its alt text; table rows become cells joined by ` | ` and their
/// separator rows go, as do horizontal rules; `&lt; &gt; &quot; &amp;` are decoded. Single `*`
/// and `_` are left alone (they are common in host names and metrics).
pub(super) fn markdown_to_text(markdown: &str) -> (String, Vec<String>) {
    let (without_mentions, mentions) = take_mentions(markdown);
    let broken = replace_ci(&without_mentions, &["<br/>", "<br />", "<br>"], "\n");
    let mut out = Vec::new();
    for line in broken.lines() {
        let t = line.trim();
        if t.starts_with("```") || t.starts_with("~~~") {
            continue;
        }
        if t.len() >= 3
            && (t.chars().all(|c| c == '-') || t.chars().all(|c| c == '*') || t.chars().all(|c| c == '_'))
        {
            continue;
        }
        let mut l = line.trim_end().to_string();
        if t.starts_with('|') {
            let cells: Vec<&str> = t.trim_matches('|').split('|').map(str::trim).collect();
            if cells.iter().all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':' | ' '))) {
                continue;
            }
            l = cells.join(" | ");
        }
        let mut s = l.trim_start();
        while let Some(rest) = s.strip_prefix('>') {
            s = rest.trim_start();
        }
        let hashes = s.chars().take_while(|&c| c == '#').count();
        if (1..=6).contains(&hashes) && s[hashes..].starts_with([' ', '\t']) {
            s = s[hashes..].trim_start();
        }
        let indent = &l[..l.len() - l.trim_start().len()];
        let s = match s.strip_prefix("* ").or_else(|| s.strip_prefix("+ ")) {
            Some(item) => format!("- {item}"),
            None => s.to_string(),
        };
        out.push(format!("{}{}", if indent.len() > 1 { indent } else { "" }, inline(&s)));
    }
    (collapse_blank_lines(&out.join("\n")), mentions)
}

/// Inline markup of one line.
fn inline(line: &str) -> String {
    let s = strip_font_tags(line);
    let s = links(&s);
    let s = s.replace("**", "").replace("~~", "").replace('`', "");
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&")
}

/// Removes `<font …>` and `</font>` (any case).
fn strip_font_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        let lower = rest.to_ascii_lowercase();
        let next = [lower.find("<font"), lower.find("</font>")].into_iter().flatten().min();
        let Some(start) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..start]);
        match rest[start..].find('>') {
            Some(end) => rest = &rest[start + end + 1..],
            None => {
                out.push_str(&rest[start..]);
                return out;
            }
        }
    }
}

/// `[label](url)` → `label (url)`, `![alt](url)` → `alt`.
fn links(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        let Some(close_rel) = rest[open..].find("](") else { break };
        let close = open + close_rel;
        let Some(end_rel) = rest[close + 2..].find(')') else { break };
        let end = close + 2 + end_rel;
        let image = open > 0 && rest[..open].ends_with('!');
        let label = &rest[open + 1..close];
        let url = rest[close + 2..end].trim();
        out.push_str(&rest[..if image { open - 1 } else { open }]);
        if image {
            out.push_str(if label.is_empty() { url } else { label });
        } else if label.is_empty() || label == url {
            out.push_str(url);
        } else {
            out.push_str(&format!("{label} ({url})"));
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Removes `<@userid>` mentions, returning them.
pub(super) fn take_mentions(s: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(s.len());
    let mut mentions = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("<@") {
        let Some(end_rel) = rest[start..].find('>') else { break };
        let id = &rest[start + 2..start + end_rel];
        if id.is_empty() || id.chars().any(|c| c.is_whitespace() || c == '<') {
            out.push_str(&rest[..start + 2]);
            rest = &rest[start + 2..];
            continue;
        }
        out.push_str(rest[..start].trim_end_matches(' '));
        mentions.push(id.to_string());
        rest = &rest[start + end_rel + 1..];
    }
    out.push_str(rest);
    (out.lines().map(str::trim_end).collect::<Vec<_>>().join("\n").trim().to_string(), mentions)
}

fn replace_ci(s: &str, needles: &[&str], with: &str) -> String {
    let mut out = s.to_string();
    for n in needles {
        let mut result = String::with_capacity(out.len());
        let lower = out.to_ascii_lowercase();
        let mut last = 0;
        for (i, _) in lower.match_indices(n) {
            result.push_str(&out[last..i]);
            result.push_str(with);
            last = i + n.len();
        }
        result.push_str(&out[last..]);
        out = result;
    }
    out
}

fn collapse_blank_lines(s: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for line in s.lines().map(str::trim_end) {
        if line.trim().is_empty() && out.last().is_none_or(|l| l.trim().is_empty()) {
            continue;
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    out.join("\n")
}
