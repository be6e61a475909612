//! [`Intervals`]: roster shifts and overrides as instants, sorted, for lookups in O(log n + k).

use jiff::{SignedDuration, Timestamp};

use super::edges::Edges;

/// Half-open intervals `[start, end)`, each with the index of what it came from.
#[derive(Debug, Clone, Default)]
pub(super) struct Intervals {
    /// Sorted by (start, index).
    by_start: Vec<(Timestamp, Timestamp, usize)>,
    /// Every start and end, sorted, without repeats.
    edges: Vec<Timestamp>,
    /// The longest interval: no interval starting earlier than `t - longest` can cover `t`.
    longest: SignedDuration,
}

impl Intervals {
    /// Empty intervals are left out.
    pub fn new(items: impl IntoIterator<Item = (Timestamp, Timestamp, usize)>) -> Intervals {
        let mut by_start: Vec<_> = items.into_iter().filter(|(s, e, _)| s < e).collect();
        by_start.sort_by_key(|&(s, _, i)| (s, i));
        let mut edges: Vec<Timestamp> = by_start.iter().flat_map(|&(s, e, _)| [s, e]).collect();
        edges.sort();
        edges.dedup();
        let longest = by_start.iter().map(|&(s, e, _)| e.duration_since(s)).max().unwrap_or_default();
        Intervals { by_start, edges, longest }
    }

    /// The indices of the intervals that contain `t`, by start then index.
    pub fn covering(&self, t: Timestamp) -> impl Iterator<Item = usize> + '_ {
        let hi = self.by_start.partition_point(|&(s, _, _)| s <= t);
        let lo = match t.checked_sub(self.longest) {
            Ok(earliest) => self.by_start[..hi].partition_point(|&(s, _, _)| s < earliest),
            Err(_) => 0,
        };
        self.by_start[lo..hi].iter().filter(move |&&(_, e, _)| t < e).map(|&(_, _, i)| i)
    }

    pub fn edges(&self, t: Timestamp) -> Edges {
        let after = self.edges.partition_point(|&e| e <= t);
        Edges { prev: after.checked_sub(1).map(|i| self.edges[i]), next: self.edges.get(after).copied() }
    }
}
