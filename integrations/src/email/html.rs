//! A small HTML-to-text converter for mail bodies.
//!
//! Hand-written rather than `html2text` (html5ever, markup5ever, string_cache and code generation:
//! a long build on the 2-core machine) because mail HTML needs little: block tags become line
//! breaks, `<br>` a newline, list items `- ` / `1. `, links `text (url)`, `<blockquote>` lines
//! `> ` (so [`strip_quoted`](super::strip_quoted) drops them), entities decoded, `<script>`,
//! `<style>`, `<head>` and Outlook's `<xml>`/conditional comments dropped, whitespace collapsed
//! outside `<pre>`. It never fails and never panics: broken markup is read as well as it goes.

/// Converts an HTML mail body to plain text.
pub fn html_to_text(html: &str) -> String {
    let mut w = Writer::default();
    let mut rest = html;
    // Elements whose content is dropped, by closing-tag name.
    let mut skip_until: Option<&'static str> = None;

    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            if skip_until.is_none() {
                w.text(rest);
            }
            break;
        };
        if lt > 0 && skip_until.is_none() {
            w.text(&rest[..lt]);
        }
        rest = &rest[lt..];

        // Comments, including Outlook's `<!--[if gte mso 9]>…<![endif]-->`.
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        let Some(tag) = Tag::parse(rest) else {
            // A lone `<` (as in `a < b`): literal text.
            if skip_until.is_none() {
                w.text("<");
            }
            rest = &rest[1..];
            continue;
        };
        rest = &rest[tag.len..];

        if let Some(until) = skip_until {
            // An unclosed `<head>` must not swallow the body.
            let closes = tag.closing && tag.name == until;
            if closes || (until == "head" && !tag.closing && tag.name == "body") {
                skip_until = None;
            }
            continue;
        }
        if !tag.closing
            && !tag.self_closing
            && let Some(name) = SKIPPED.iter().find(|s| **s == tag.name)
        {
            skip_until = Some(name);
            continue;
        }
        w.tag(&tag);
    }
    w.finish()
}

const SKIPPED: &[&str] = &["script", "style", "head", "title", "xml", "noscript", "template", "svg"];

const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "center",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "header",
    "main",
    "nav",
    "section",
    "tbody",
    "thead",
    "tfoot",
    "caption",
];
const PARAGRAPHS: &[&str] = &["p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre"];

struct Tag<'a> {
    /// Lowercased, namespace prefix kept (`o:p`).
    name: String,
    closing: bool,
    self_closing: bool,
    /// Bytes consumed, `<` to `>` inclusive.
    len: usize,
    attrs: &'a str,
}

impl<'a> Tag<'a> {
    fn parse(s: &'a str) -> Option<Tag<'a>> {
        let body = s.strip_prefix('<')?;
        let (closing, body) = match body.strip_prefix('/') {
            Some(b) => (true, b),
            None => (false, body),
        };
        let first = body.chars().next()?;
        if !(first.is_ascii_alphabetic() || (!closing && (first == '!' || first == '?'))) {
            return None;
        }
        let name_len = body
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_' | '!' | '?')))
            .unwrap_or(body.len());
        let name = body[..name_len].to_ascii_lowercase();
        // Find the closing `>` outside quoted attribute values.
        let mut quote: Option<char> = None;
        let mut end = None;
        for (i, c) in body[name_len..].char_indices() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '>') => {
                    end = Some(name_len + i);
                    break;
                }
                _ => {}
            }
        }
        // An unterminated tag swallows the rest, as browsers do.
        let end = end.unwrap_or(body.len());
        let attrs = &body[name_len..end];
        let self_closing = attrs.trim_end().ends_with('/');
        let prefix = if closing { 2 } else { 1 };
        let len = (prefix + end + 1).min(s.len());
        Some(Tag { name, closing, self_closing, len, attrs })
    }

    /// The value of an attribute, entities decoded.
    fn attr(&self, wanted: &str) -> Option<String> {
        let mut s = self.attrs;
        loop {
            s = s.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
            if s.is_empty() {
                return None;
            }
            let name_end = s.find(|c: char| c.is_whitespace() || c == '=' || c == '/').unwrap_or(s.len());
            let name = &s[..name_end];
            s = s[name_end..].trim_start();
            let mut value = "";
            if let Some(v) = s.strip_prefix('=') {
                let v = v.trim_start();
                match v.chars().next() {
                    Some(q @ ('"' | '\'')) => {
                        let inner = &v[1..];
                        let close = inner.find(q).unwrap_or(inner.len());
                        value = &inner[..close];
                        s = inner.get(close + 1..).unwrap_or("");
                    }
                    _ => {
                        let close = v.find(char::is_whitespace).unwrap_or(v.len());
                        value = &v[..close];
                        s = &v[close..];
                    }
                }
            }
            if name.eq_ignore_ascii_case(wanted) {
                return Some(decode_entities(value));
            }
        }
    }
}

#[derive(Default)]
struct Writer {
    out: String,
    /// Whitespace seen since the last visible character (outside `<pre>`).
    space: bool,
    /// Line breaks owed before the next visible character: 1 = new line, 2 = blank line.
    breaks: u8,
    pre: u32,
    quote: u32,
    /// Per open list: `None` for `<ul>`, `Some(next number)` for `<ol>`.
    lists: Vec<Option<u32>>,
    /// Per open `<a>`: (href, position in `out` where its text starts).
    links: Vec<(Option<String>, usize)>,
}

impl Writer {
    fn text(&mut self, raw: &str) {
        let decoded = decode_entities(raw);
        for c in decoded.chars() {
            if self.pre > 0 {
                if c == '\n' {
                    self.newline_now();
                } else if c != '\r' {
                    self.visible(c);
                }
            } else if c.is_ascii_whitespace() {
                self.space = true;
            } else {
                // `&nbsp;` stays a (single, plain) space, but is not collapsed away.
                self.visible(if c == '\u{a0}' { ' ' } else { c });
            }
        }
    }

    fn at_line_start(&self) -> bool {
        self.out.is_empty() || self.out.ends_with('\n')
    }

    fn visible(&mut self, c: char) {
        if self.breaks > 0 {
            if !self.out.is_empty() {
                let have = self.out.chars().rev().take_while(|&c| c == '\n').count() as u8;
                for _ in have..self.breaks {
                    self.out.push('\n');
                }
            }
            self.breaks = 0;
            self.space = false;
        } else if self.space && !self.at_line_start() && !self.out.ends_with(' ') {
            self.out.push(' ');
        }
        self.space = false;
        if self.at_line_start() && self.quote > 0 {
            for _ in 0..self.quote {
                self.out.push_str("> ");
            }
        }
        self.out.push(c);
    }

    fn newline_now(&mut self) {
        if self.breaks > 0 {
            self.visible_break();
        }
        if self.at_line_start() && self.quote > 0 {
            for _ in 0..self.quote {
                self.out.push('>');
            }
        }
        self.out.push('\n');
        self.space = false;
    }

    /// Pays owed breaks without writing a character (used inside `<pre>`).
    fn visible_break(&mut self) {
        if !self.out.is_empty() {
            let have = self.out.chars().rev().take_while(|&c| c == '\n').count() as u8;
            for _ in have..self.breaks {
                self.out.push('\n');
            }
        }
        self.breaks = 0;
    }

    fn block(&mut self, n: u8) {
        self.breaks = self.breaks.max(n);
        self.space = false;
    }

    fn tag(&mut self, tag: &Tag<'_>) {
        let name = tag.name.as_str();
        match (name, tag.closing) {
            ("br", _) => {
                // `<br>` is an explicit line break: two in a row make an empty line.
                if self.breaks > 0 && !self.out.is_empty() {
                    self.visible_break();
                }
                if !self.out.is_empty() {
                    self.out.push('\n');
                }
                self.space = false;
            }
            ("hr", _) => self.block(2),
            ("blockquote", false) => {
                self.block(1);
                self.quote += 1;
            }
            ("blockquote", true) => {
                self.block(1);
                self.quote = self.quote.saturating_sub(1);
            }
            ("ul", false) => {
                self.block(1);
                self.lists.push(None);
            }
            ("ol", false) => {
                self.block(1);
                let start = tag.attr("start").and_then(|s| s.trim().parse().ok()).unwrap_or(1);
                self.lists.push(Some(start));
            }
            ("ul" | "ol", true) => {
                self.lists.pop();
                self.block(if self.lists.is_empty() { 2 } else { 1 });
            }
            ("li", false) => {
                self.block(1);
                let depth = self.lists.len().saturating_sub(1);
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let m = format!("{n}. ");
                        *n += 1;
                        m
                    }
                    _ => "- ".to_owned(),
                };
                for c in "  ".repeat(depth).chars().chain(marker.chars()) {
                    self.visible(c);
                }
            }
            ("li", true) => self.block(1),
            ("pre", false) => {
                self.block(2);
                self.pre += 1;
            }
            ("pre", true) => {
                self.pre = self.pre.saturating_sub(1);
                self.block(2);
            }
            ("tr", _) => self.block(1),
            ("td" | "th", false) if !self.at_line_start() || self.breaks == 0 => self.space = true,
            ("a", false) => {
                let href = tag.attr("href").map(|h| h.trim().to_owned()).filter(|h| !h.is_empty());
                self.links.push((href, self.out.len()));
            }
            ("a", true) => {
                if let Some((Some(href), start)) = self.links.pop() {
                    self.link_target(&href, start);
                }
            }
            ("img", _) => {
                if let Some(alt) = tag.attr("alt").map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()) {
                    self.text(&format!("[{alt}]"));
                }
            }
            (n, _) if PARAGRAPHS.contains(&n) => self.block(2),
            (n, _) if BLOCKS.contains(&n) => self.block(1),
            _ => {}
        }
    }

    /// After a link's text: append ` (url)` unless the text already is the url.
    fn link_target(&mut self, href: &str, start: usize) {
        let lower = href.to_ascii_lowercase();
        let shown = if let Some(addr) = lower.strip_prefix("mailto:") {
            &href[href.len() - addr.len()..]
        } else if lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("ftp://")
        {
            href
        } else {
            // `#anchor`, `javascript:`, `cid:`: nothing worth showing.
            return;
        };
        let text = self.out.get(start..).unwrap_or("").trim();
        let same = |a: &str, b: &str| {
            let strip = |s: &str| s.trim_end_matches('/').to_ascii_lowercase();
            strip(a) == strip(b)
        };
        if text.is_empty() {
            self.text(shown);
        } else if !same(text, shown) && !same(text, href) {
            self.space = true;
            for c in format!("({shown})").chars() {
                self.visible(c);
            }
        }
    }

    fn finish(self) -> String {
        let mut lines: Vec<&str> = Vec::new();
        let mut blank = 0;
        for line in self.out.lines() {
            let line = line.trim_end();
            if line.is_empty() {
                blank += 1;
                if blank > 1 {
                    continue;
                }
            } else {
                blank = 0;
            }
            lines.push(line);
        }
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        while lines.first().is_some_and(|l| l.is_empty()) {
            lines.remove(0);
        }
        lines.join("\n")
    }
}

/// Decodes character references: the common named entities and all numeric ones. Unknown or
/// broken references are kept literally.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        // `;` is ASCII, so the slice below ends on a character boundary.
        let semi = rest.as_bytes()[1..rest.len().min(12)].iter().position(|&b| b == b';');
        let decoded = semi.and_then(|semi| {
            let name = rest.get(1..1 + semi)?;
            let c = if let Some(num) = name.strip_prefix('#') {
                let code = match num.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => num.parse::<u32>().ok()?,
                };
                match char::from_u32(code)? {
                    '\0' => '\u{fffd}',
                    c => c,
                }
            } else {
                named_entity(name)?
            };
            Some((c, semi + 2))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn named_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "quot" | "QUOT" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "ensp" | "emsp" | "thinsp" => ' ',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "middot" => '·',
        "bull" => '•',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "yen" => '¥',
        "times" => '×',
        "divide" => '÷',
        "deg" => '°',
        "plusmn" => '±',
        "sect" => '§',
        "para" => '¶',
        "euro" => '€',
        "larr" => '←',
        "rarr" => '→',
        "uarr" => '↑',
        "darr" => '↓',
        "zwj" => '\u{200d}',
        "zwnj" => '\u{200c}',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_lists_links_entities() {
        let html = r#"<html><head><title>x</title><style>p{color:red}</style></head>
<body><div>您好，</div><p>审判系统&nbsp;无法登录 &amp; 报错&lt;500&gt;。</p>
<ul><li>一号法庭</li><li>二号法庭</li></ul>
<ol><li>重启</li><li>复核</li></ol>
<p>详见 <a href="https://ops.example.cn/t/1">工单页面</a>，或 <a href="mailto:duty@court.gov.cn">duty@court.gov.cn</a>
第一行<br>第二行<br/><br>第四行</p><script>alert(1)</script><!--[if mso]><x>hidden</x><![endif]-->
<pre>  a   b
  c</pre></body></html>"#;
        let text = html_to_text(html);
        assert_eq!(
            text,
            "您好，\n\n审判系统 无法登录 & 报错<500>。\n\n- 一号法庭\n- 二号法庭\n\n1. 重启\n2. 复核\n\n\
             详见 工单页面 (https://ops.example.cn/t/1)，或 duty@court.gov.cn 第一行\n第二行\n\n第四行\n\n  a   b\n  c"
        );
    }

    #[test]
    fn blockquote_is_quoted_and_broken_markup_survives() {
        let text = html_to_text("<div>好的</div><blockquote><div>原文一</div><div>原文二</div></blockquote>");
        assert_eq!(text, "好的\n> 原文一\n> 原文二");
        assert_eq!(html_to_text("a < b <i>c"), "a < b c");
        assert_eq!(html_to_text("<div title=\"x>y\">z</div><"), "z\n<");
        assert_eq!(html_to_text("<a href='x"), "");
        assert_eq!(decode_entities("&#x4E2D;&#25991;&bogus;&#xZZ;&"), "中文&bogus;&#xZZ;&");
    }
}
