//! [`Edges`]: where the on-call answer may change around an instant.
//!
//! Every part of a schedule (a layer's rotation and window, the roster, the overrides) is constant
//! between its edges, so the whole answer is constant between the nearest edges of all parts. Walking
//! from edge to edge is how [`super::Schedule::shifts`] and the handoff search stay exact without
//! sampling time.

use jiff::Timestamp;

/// The last edge at or before an instant `t` and the first edge after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Edges {
    /// `<= t`; None if nothing changes before `t`.
    pub prev: Option<Timestamp>,
    /// `> t`; None if nothing changes after `t`.
    pub next: Option<Timestamp>,
}

impl Edges {
    pub const NONE: Edges = Edges { prev: None, next: None };

    /// These edges with `edge` taken into account, seen from `t`.
    pub fn with(self, edge: Timestamp, t: Timestamp) -> Edges {
        if edge <= t {
            Edges { prev: Some(self.prev.map_or(edge, |p| p.max(edge))), next: self.next }
        } else {
            Edges { prev: self.prev, next: Some(self.next.map_or(edge, |n| n.min(edge))) }
        }
    }

    /// The nearest edges of both.
    pub fn merge(self, other: Edges) -> Edges {
        let max = |a: Option<Timestamp>, b: Option<Timestamp>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let min = |a: Option<Timestamp>, b: Option<Timestamp>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Edges { prev: max(self.prev, other.prev), next: min(self.next, other.next) }
    }
}
