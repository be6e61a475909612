//! The GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 §6.2.1), and septet
//! packing (§6.1.2.1.1).

/// Code points 0x00..=0x7F of the default alphabet. 0x1B is the escape to the extension table and
/// never matches a character (it is written as U+001B here only to keep the indices right).
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

const ESC: u8 = 0x1B;

/// The extension table: (code after ESC, character).
const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

fn basic_char(code: u8) -> char {
    BASIC.chars().nth(usize::from(code & 0x7F)).unwrap_or(' ')
}

/// The septets for one character: one for the default alphabet, two (ESC, code) for the
/// extension table, `None` when the character has no GSM 7-bit form.
pub(crate) fn encode_char(c: char) -> Option<&'static [u8]> {
    // Static tables of single septets and of escape pairs, so callers can keep boundaries intact.
    static SINGLE: [u8; 128] = {
        let mut t = [0u8; 128];
        let mut i = 0;
        while i < 128 {
            t[i] = i as u8;
            i += 1;
        }
        t
    };
    static PAIRS: [[u8; 2]; 10] = [
        [ESC, 0x0A],
        [ESC, 0x14],
        [ESC, 0x28],
        [ESC, 0x29],
        [ESC, 0x2F],
        [ESC, 0x3C],
        [ESC, 0x3D],
        [ESC, 0x3E],
        [ESC, 0x40],
        [ESC, 0x65],
    ];
    if c == '\u{1b}' {
        return None;
    }
    if let Some(i) = BASIC.chars().position(|b| b == c) {
        return SINGLE.get(i).map(std::slice::from_ref);
    }
    EXTENSION.iter().position(|&(_, e)| e == c).and_then(|i| PAIRS.get(i)).map(|p| p.as_slice())
}

/// The septets of `text` grouped per character, or `None` if any character is not GSM 7-bit.
pub(crate) fn encode(text: &str) -> Option<Vec<&'static [u8]>> {
    text.chars().map(encode_char).collect()
}

/// Decodes septets (one per byte, high bit ignored) to text.
pub(crate) fn decode(septets: &[u8]) -> String {
    let mut out = String::with_capacity(septets.len());
    let mut iter = septets.iter().map(|s| s & 0x7F);
    while let Some(s) = iter.next() {
        if s != ESC {
            out.push(basic_char(s));
            continue;
        }
        // An escape at the very end carries nothing; an unknown extension code shows the default
        // character of that code, as TS 23.038 asks of a receiver that does not understand it.
        if let Some(code) = iter.next() {
            let ext = EXTENSION.iter().find(|&&(k, _)| k == code).map(|&(_, c)| c);
            out.push(ext.unwrap_or_else(|| basic_char(code)));
        }
    }
    out
}

/// Packs septets little-endian into octets, after `fill_bits` zero bits (0..=6) that align the
/// text after a user data header.
pub(crate) fn pack(septets: &[u8], fill_bits: usize) -> Vec<u8> {
    let total_bits = fill_bits + 7 * septets.len();
    let mut out = vec![0u8; total_bits.div_ceil(8)];
    for (i, &s) in septets.iter().enumerate() {
        let bit = fill_bits + 7 * i;
        let value = u16::from(s & 0x7F) << (bit % 8);
        let byte = bit / 8;
        if let Some(o) = out.get_mut(byte) {
            *o |= (value & 0xFF) as u8;
        }
        if let Some(o) = out.get_mut(byte + 1) {
            *o |= (value >> 8) as u8;
        }
    }
    out
}

/// Unpacks `count` septets after `fill_bits` bits; stops early if `octets` runs out.
pub(crate) fn unpack(octets: &[u8], fill_bits: usize, count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let bit = fill_bits + 7 * i;
        let byte = bit / 8;
        let Some(&lo) = octets.get(byte) else { break };
        let hi = octets.get(byte + 1).copied().unwrap_or(0);
        if (bit % 8) + 7 > 8 && byte + 1 >= octets.len() {
            break;
        }
        let word = u16::from(lo) | (u16::from(hi) << 8);
        out.push(((word >> (bit % 8)) & 0x7F) as u8);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_128_entries() {
        assert_eq!(BASIC.chars().count(), 128);
        assert_eq!(basic_char(0x00), '@');
        assert_eq!(basic_char(0x41), 'A');
        assert_eq!(basic_char(0x7F), 'à');
        assert_eq!(basic_char(0x24), '¤');
    }

    #[test]
    fn classic_packing() {
        // "hellohello" packs to E8329BFD4697D9EC37 (the textbook example of TS 23.038 packing).
        let septets: Vec<u8> = encode("hellohello").unwrap().concat();
        let packed = pack(&septets, 0);
        assert_eq!(hex::encode_upper(&packed), "E8329BFD4697D9EC37");
        assert_eq!(decode(&unpack(&packed, 0, 10)), "hellohello");
    }

    #[test]
    fn extension_and_fill_bits() {
        let septets: Vec<u8> = encode("[€]{x}").unwrap().concat();
        assert_eq!(septets.len(), 11);
        for fill in 0..7 {
            let packed = pack(&septets, fill);
            assert_eq!(decode(&unpack(&packed, fill, septets.len())), "[€]{x}");
        }
        assert!(encode("告警").is_none());
        assert!(encode("\u{1b}").is_none());
        assert_eq!(decode(&[0x41, ESC]), "A");
        assert_eq!(decode(&[ESC, 0x41]), "A");
    }

    #[test]
    fn unpack_never_reads_past_the_end() {
        assert_eq!(unpack(&[], 0, 5), Vec::<u8>::new());
        assert_eq!(unpack(&[0xFF], 3, 5).len(), 0);
        assert_eq!(unpack(&[0xFF], 1, 5).len(), 1);
    }
}
