//! Bounds-checked reading of PDU octets, so no malformed PDU can panic the decoder.

use super::PduError;

pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, pos: 0 }
    }

    pub(super) fn u8(&mut self, what: &'static str) -> Result<u8, PduError> {
        Ok(self.take(1, what)?[0])
    }

    pub(super) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], PduError> {
        let end =
            self.pos.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or(PduError::Truncated(what))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    pub(super) fn rest(&mut self) -> &'a [u8] {
        let out = &self.bytes[self.pos..];
        self.pos = self.bytes.len();
        out
    }
}

/// Hex (either case, surrounding whitespace ignored) to octets.
pub(super) fn from_hex(s: &str) -> Result<Vec<u8>, PduError> {
    hex::decode(s.trim()).map_err(|_| PduError::Hex)
}
