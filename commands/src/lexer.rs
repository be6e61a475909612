//! Folding and splitting: the forgiving part of the language.
//!
//! People type on phones with a Chinese input method, so the same command arrives as `确认 007`,
//! `确认：007`, `确认　００７` (full-width digits and an ideographic space) or `确认007`. Everything is
//! folded to half-width first, so that the parser only ever sees one spelling.

/// Folds full-width ASCII (U+FF01–FF5E) to half-width, the ideographic space (U+3000) and control
/// characters other than line breaks and tabs to a plain space, and drops zero-width characters that
/// copy-and-paste leaves behind.
pub(crate) fn fold(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0),
            '\u{3000}' => Some(' '),
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' => None,
            '\n' | '\r' | '\t' => Some(c),
            c if c.is_control() => Some(' '),
            c => Some(c),
        })
        .collect()
}

/// Characters that separate words: whitespace and the punctuation people put after a verb or a
/// ticket number (`确认：007，马上到`). The parser folds first, but the full-width forms are listed
/// too so that this holds on unfolded text; `、` and `。` have no half-width twin at all.
pub(crate) fn is_sep(c: char) -> bool {
    c.is_whitespace() || matches!(c, ':' | ',' | ';' | '.' | '、' | '。' | '：' | '，' | '；')
}

/// The text with leading separators removed.
pub(crate) fn skip_seps(s: &str) -> &str {
    s.trim_start_matches(is_sep)
}

/// The first word of `s` and the rest after the separators that follow it.
pub(crate) fn split_word(s: &str) -> (&str, &str) {
    let s = skip_seps(s);
    let end = s.find(is_sep).unwrap_or(s.len());
    let (word, rest) = s.split_at(end);
    (word, skip_seps(rest))
}

/// Free text after the arguments, or `None` when nothing but separators is left.
pub(crate) fn rest_text(s: &str) -> Option<String> {
    let s = skip_seps(s).trim_end();
    (!s.is_empty()).then(|| s.to_owned())
}

/// At most `max` characters of `s`, for echoing user input back in an error without echoing a novel.
pub(crate) fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_full_width_and_drops_zero_width() {
        assert_eq!(fold("确认：００７"), "确认:007");
        assert_eq!(fold("／ＡＣＫ\u{3000}7"), "/ACK 7");
        assert_eq!(fold("a\u{200B}b\u{FEFF}"), "ab");
        assert_eq!(fold("a\u{0}b\nc"), "a b\nc");
    }

    #[test]
    fn splits_words_on_separators() {
        assert_eq!(split_word("  007，马上到"), ("007", "马上到"));
        assert_eq!(split_word(" 007, 马上到 "), ("007", "马上到 "));
        assert_eq!(split_word(""), ("", ""));
        assert_eq!(rest_text(" :, "), None);
        assert_eq!(rest_text(": 好的 "), Some("好的".to_owned()));
    }

    #[test]
    fn clips_by_characters() {
        assert_eq!(clip("确认确认", 2), "确认…");
        assert_eq!(clip("ab", 2), "ab");
    }
}
