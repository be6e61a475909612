//! Text plumbing for the classifier: folding, automata, word boundaries and clauses.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, Input, MatchKind};

/// Folds one string the way both patterns and reports are folded: full-width ASCII to
/// half-width, the ideographic space to a space, lower case. With `keep_space` false,
/// whitespace is dropped (names are matched on the compact text, as `fold_name` does).
pub fn fold_into(text: &str, out: &mut String, keep_space: bool) {
    out.clear();
    for c in text.chars() {
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        };
        if c.is_whitespace() {
            if keep_space {
                out.push(' ');
            }
            continue;
        }
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
}

pub fn fold(text: &str, keep_space: bool) -> String {
    let mut s = String::with_capacity(text.len());
    fold_into(text, &mut s, keep_space);
    s.trim().to_string()
}

/// The text for name matching: folded, with whitespace removed except a single space between two
/// ASCII letters or digits, so that "Oracle 数据库" meets the alias "Oracle数据库" while "OA is
/// down" keeps "OA" a word of its own.
pub fn compact(text: &str) -> String {
    let spaced = fold(text, true);
    let mut out = String::with_capacity(spaced.len());
    let mut chars = spaced.chars().peekable();
    let mut prev: Option<char> = None;
    while let Some(c) = chars.next() {
        if c == ' ' {
            let next = chars.peek().copied();
            let keep = prev.is_some_and(|p| p.is_ascii_alphanumeric())
                && next.is_some_and(|n| n.is_ascii_alphanumeric());
            if keep {
                out.push(' ');
                prev = Some(' ');
            }
            continue;
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

/// A leftmost-longest automaton over folded patterns, each carrying a payload, with ASCII word
/// boundaries for patterns that begin or end with an ASCII letter or digit ("no" must not match
/// inside "node", "down" not inside "download").
#[derive(Debug, Clone)]
pub struct Dictionary<T> {
    ac: AhoCorasick,
    /// Per pattern: (pattern text, needs a boundary before, needs one after, payload).
    entries: Vec<Entry<T>>,
}

#[derive(Debug, Clone)]
pub struct Entry<T> {
    pub pattern: String,
    boundary_start: bool,
    boundary_end: bool,
    pub payload: T,
}

/// One accepted match.
#[derive(Debug, Clone, Copy)]
pub struct Hit<'d, T> {
    pub start: usize,
    pub end: usize,
    pub entry: &'d Entry<T>,
}

impl<T> Dictionary<T> {
    /// `patterns` must already be folded, non-empty and distinct.
    pub fn build(patterns: Vec<(String, T)>) -> Result<Dictionary<T>, String> {
        let texts: Vec<&str> = patterns.iter().map(|(p, _)| p.as_str()).collect();
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&texts)
            .map_err(|e| e.to_string())?;
        let entries = patterns
            .into_iter()
            .map(|(pattern, payload)| Entry {
                boundary_start: pattern.chars().next().is_some_and(|c| c.is_ascii_alphanumeric()),
                boundary_end: pattern.chars().last().is_some_and(|c| c.is_ascii_alphanumeric()),
                pattern,
                payload,
            })
            .collect();
        Ok(Dictionary { ac, entries })
    }

    /// Non-overlapping leftmost-longest matches that respect ASCII word boundaries.
    pub fn hits<'d, 't>(&'d self, text: &'t str) -> impl Iterator<Item = Hit<'d, T>> + use<'d, 't, T> {
        self.ac.find_iter(text).filter_map(move |m| self.accept(text, m))
    }

    /// The longest match starting at each position where one starts (overlapping between
    /// positions): "电子卷宗深度应用" yields both 电子卷宗 and 卷宗深度应用, so the caller can
    /// prefer the longest name in the whole text.
    pub fn hits_at_every_start<'d>(&'d self, text: &str) -> Vec<Hit<'d, T>> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < text.len() {
            let Some(m) = self.ac.find(Input::new(text).span(pos..text.len())) else { break };
            if let Some(hit) = self.accept(text, m) {
                out.push(hit);
            }
            pos = m.start() + text[m.start()..].chars().next().map_or(1, char::len_utf8);
        }
        out
    }

    fn accept<'d>(&'d self, text: &str, m: aho_corasick::Match) -> Option<Hit<'d, T>> {
        let entry = &self.entries[m.pattern().as_usize()];
        let before = text[..m.start()].chars().next_back();
        let after = text[m.end()..].chars().next();
        if entry.boundary_start && before.is_some_and(|c| c.is_ascii_alphanumeric()) {
            return None;
        }
        if entry.boundary_end && after.is_some_and(|c| c.is_ascii_alphanumeric()) {
            return None;
        }
        Some(Hit { start: m.start(), end: m.end(), entry })
    }
}

/// True when `text[from..to]` (the folded text between a negation and a keyword) stays within
/// one clause and is at most `window` characters long.
pub fn same_clause_within(text: &str, from: usize, to: usize, window: usize) -> bool {
    if from > to {
        return false;
    }
    let gap = &text[from..to];
    let mut prev = text[..from].chars().next_back();
    let after = text[to..].chars().next();
    let mut chars = gap.chars().peekable();
    let mut count = 0;
    while let Some(c) = chars.next() {
        count += 1;
        if count > window || is_clause_break(c) {
            return false;
        }
        // A space between two non-ASCII characters separates clauses in chat ("没宕机 就是慢");
        // between English words it does not ("not down").
        if c == ' ' {
            let next = chars.peek().copied().or(after);
            if prev.is_none_or(|p| !p.is_ascii()) && next.is_none_or(|n| !n.is_ascii()) {
                return false;
            }
        }
        prev = Some(c);
    }
    true
}

fn is_clause_break(c: char) -> bool {
    matches!(
        c,
        ',' | '.' | ';' | '!' | '?' | ':' | '。' | '…' | '~' | '\n' | '\r' | '|' | '【' | '】' | '(' | ')'
    )
}
