//! Joining the parts of long received messages.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::time::Duration;

use jiff::Timestamp;

use super::StoredSms;

/// A received text, parts joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedSms {
    /// The sender: `+8613800138000` for an international number, the digits (or text) otherwise.
    pub from: String,
    pub text: String,
    /// When the service centre received the (first) part.
    pub at: Timestamp,
    /// Where the parts are stored on the SIM; delete them once the reply is safely recorded.
    pub indices: Vec<u32>,
    /// False when parts never arrived and the text was given up on after the partial timeout;
    /// missing parts show as `…`.
    pub complete: bool,
}

/// Joins stored parts into messages.
///
/// Single messages pass straight through. Parts of a long message (same sender, reference and
/// total) are joined in order once all have arrived. A message still incomplete when its first
/// part is older than `partial_timeout` (by the service centre's clock, compared with `now`) is
/// returned with `complete: false`, so one lost part cannot block a reply forever; a younger
/// incomplete one is not returned and stays on the SIM for the next call. A part stored twice is
/// used once.
pub fn assemble(parts: Vec<StoredSms>, now: Timestamp, partial_timeout: Duration) -> Vec<ReceivedSms> {
    let mut out = Vec::new();
    let mut groups: BTreeMap<(String, u16, u8), Group> = BTreeMap::new();
    for part in parts {
        match part.pdu.concat.filter(|c| c.total > 1) {
            None => out.push(ReceivedSms {
                from: part.pdu.sender.to_string(),
                text: part.pdu.text,
                at: part.pdu.timestamp,
                indices: vec![part.index],
                complete: true,
            }),
            Some(c) => {
                let group = groups.entry((part.pdu.sender.to_string(), c.reference, c.total)).or_default();
                match group.parts.entry(c.seq) {
                    Entry::Vacant(slot) => {
                        slot.insert(part);
                    }
                    // Keep the first copy; the duplicate's slot is deleted with the message.
                    Entry::Occupied(_) => group.duplicates.push(part.index),
                }
            }
        }
    }
    let limit = jiff::SignedDuration::try_from(partial_timeout).unwrap_or(jiff::SignedDuration::MAX);
    for ((from, _, total), group) in groups {
        let at = group.parts.values().map(|p| p.pdu.timestamp).min().unwrap_or(now);
        let complete = group.parts.len() == usize::from(total);
        if !complete && at.duration_until(now) < limit {
            continue;
        }
        let mut text = String::new();
        let mut indices = Vec::new();
        for seq in 1..=total {
            match group.parts.get(&seq) {
                Some(p) => {
                    text.push_str(&p.pdu.text);
                    indices.push(p.index);
                }
                None => text.push('…'),
            }
        }
        indices.extend(group.duplicates);
        out.push(ReceivedSms { from, text, at, indices, complete });
    }
    out.sort_by_key(|m| m.at);
    out
}

#[derive(Default)]
struct Group {
    parts: BTreeMap<u8, StoredSms>,
    duplicates: Vec<u32>,
}
