//! Splitting the modem's byte stream into lines and the `> ` prompt.

/// One unit of modem output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Token {
    /// A non-empty line, without its terminator and surrounding whitespace.
    Line(String),
    /// The `> ` that asks for the PDU after `AT+CMGS`; it has no line terminator.
    Prompt,
}

/// Longest line kept; a modem spewing garbage without newlines must not exhaust memory.
const MAX_LINE: usize = 4096;

#[derive(Debug, Default)]
pub(super) struct LineBuffer {
    buf: Vec<u8>,
}

impl LineBuffer {
    pub(super) fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() > MAX_LINE && !self.buf.iter().any(|b| matches!(b, b'\r' | b'\n')) {
            // Keep the tail so that a prompt at the very end is still seen.
            let cut = self.buf.len() - 2;
            self.buf.drain(..cut);
        }
    }

    /// The next complete token, if the buffer holds one. The prompt is recognised only when
    /// `prompt_expected`, since it is not terminated and could otherwise be confused with the
    /// start of a line.
    pub(super) fn next(&mut self, prompt_expected: bool) -> Option<Token> {
        loop {
            let start = self.buf.iter().position(|b| !matches!(b, b'\r' | b'\n' | b' ' | 0))?;
            self.buf.drain(..start);
            if prompt_expected && self.buf.first() == Some(&b'>') {
                let len = if self.buf.get(1) == Some(&b' ') { 2 } else { 1 };
                self.buf.drain(..len);
                return Some(Token::Prompt);
            }
            let end = self.buf.iter().position(|b| matches!(b, b'\r' | b'\n'))?;
            let line: Vec<u8> = self.buf.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line).trim().to_string();
            if !text.is_empty() {
                return Some(Token::Line(text));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_prompt_and_fragments() {
        let mut b = LineBuffer::default();
        b.push(b"\r\nOK\r\n\r\n+CMTI: \"SM\",3\r\n\r\n> ");
        assert_eq!(b.next(false), Some(Token::Line("OK".into())));
        assert_eq!(b.next(false), Some(Token::Line("+CMTI: \"SM\",3".into())));
        assert_eq!(b.next(false), None);
        assert_eq!(b.next(true), Some(Token::Prompt));
        b.push(b"+CMG");
        assert_eq!(b.next(false), None);
        b.push(b"S: 12\r");
        assert_eq!(b.next(false), Some(Token::Line("+CMGS: 12".into())));
    }

    #[test]
    fn garbage_is_bounded() {
        let mut b = LineBuffer::default();
        b.push(&[b'x'; 10_000]);
        assert!(b.buf.len() <= MAX_LINE);
        b.push(b"\r\nOK\r\n");
        assert_eq!(b.next(false), Some(Token::Line("xx".into())));
        assert_eq!(b.next(false), Some(Token::Line("OK".into())));
    }
}
