//! Who is on call: the precedence of overrides over the roster over the layers, and walks along the
//! timeline from edge to edge.

use jiff::{SignedDuration, Timestamp};

use super::edges::Edges;
use super::{LOOKAHEAD_EDGES, OnCall, Schedule, Shift, Why};

/// Where an entry comes from: an index into the schedule's layers, roster or overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Layer(usize),
    Roster(usize),
    Override(usize),
}

/// One person on call, borrowed from the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry<'a> {
    person: &'a str,
    source: Source,
}

impl Schedule {
    /// Who is on call at `t`, in a fixed order, each person once.
    fn resolve(&self, t: Timestamp) -> Vec<Entry<'_>> {
        let mut rows: Vec<usize> = self.roster_index.covering(t).collect();
        rows.sort_unstable();
        let mut on: Vec<Entry<'_>> = Vec::new();
        for i in rows {
            let person = self.roster[i].person();
            if !on.iter().any(|e| e.person == person) {
                on.push(Entry { person, source: Source::Roster(i) });
            }
        }
        if on.is_empty() {
            let top = self.layers.iter().enumerate().rev().find_map(|(i, layer)| {
                layer.who_at(t, &self.time_zone).map(|person| Entry { person, source: Source::Layer(i) })
            });
            on.extend(top);
        }
        for i in self.override_index.covering(t) {
            let o = &self.overrides[i];
            let cover = Entry { person: o.person(), source: Source::Override(i) };
            match o.replaces() {
                None => {
                    on.clear();
                    on.push(cover);
                }
                Some(replaced) => {
                    let Some(pos) = on.iter().position(|e| e.person == replaced) else { continue };
                    if on.iter().any(|e| e.person == cover.person) {
                        on.remove(pos);
                    } else {
                        on[pos] = cover;
                    }
                }
            }
        }
        on
    }

    /// The nearest instants around `t` where the answer may change.
    fn edges(&self, t: Timestamp) -> Edges {
        let layers = self.layers.iter().map(|l| l.edges(t, &self.time_zone));
        layers.fold(self.roster_index.edges(t).merge(self.override_index.edges(t)), Edges::merge)
    }

    fn why(&self, source: Source) -> Why {
        match source {
            Source::Layer(index) => Why::Layer { index, name: self.layers[index].name().to_owned() },
            Source::Roster(index) => {
                let r = &self.roster[index];
                Why::Roster { index, date: r.date(), shift: r.shift().to_owned() }
            }
            Source::Override(index) => {
                let o = &self.overrides[index];
                Why::Override {
                    index,
                    replaces: o.replaces().map(str::to_owned),
                    reason: o.reason().map(str::to_owned),
                }
            }
        }
    }

    /// The ids of the people on call at `t`, in the order of [`Schedule::on_call_at`], without the
    /// spans (no walk along the timeline): what paging needs.
    pub fn people_at(&self, t: Timestamp) -> Vec<String> {
        self.resolve(t).into_iter().map(|e| e.person.to_owned()).collect()
    }

    /// Who is on call at `t`, why, and since and until when (see [`OnCall`]). Nobody: an empty list.
    pub fn on_call_at(&self, t: Timestamp) -> Vec<OnCall> {
        let now = self.resolve(t);
        // For each entry: None while unknown, Some(answer) once found.
        let mut ends: Vec<Option<Option<Timestamp>>> = vec![None; now.len()];
        let mut starts = ends.clone();

        let mut next = self.edges(t).next;
        for _ in 0..LOOKAHEAD_EDGES {
            if ends.iter().all(Option::is_some) {
                break;
            }
            let Some(edge) = next else {
                // Nothing ever changes again: open-ended.
                ends.iter_mut().filter(|e| e.is_none()).for_each(|e| *e = Some(None));
                break;
            };
            let there = self.resolve(edge);
            for (end, entry) in ends.iter_mut().zip(&now) {
                if end.is_none() && !there.contains(entry) {
                    *end = Some(Some(edge));
                }
            }
            next = self.edges(edge).next;
        }

        let mut prev = self.edges(t).prev;
        for _ in 0..LOOKAHEAD_EDGES {
            if starts.iter().all(Option::is_some) {
                break;
            }
            let Some(edge) = prev else {
                starts.iter_mut().filter(|s| s.is_none()).for_each(|s| *s = Some(None));
                break;
            };
            let Ok(before) = edge.checked_sub(SignedDuration::from_nanos(1)) else { break };
            let there = self.resolve(before);
            for (start, entry) in starts.iter_mut().zip(&now) {
                if start.is_none() && !there.contains(entry) {
                    *start = Some(Some(edge));
                }
            }
            prev = self.edges(before).prev;
        }

        now.iter()
            .zip(starts.into_iter().zip(ends))
            .map(|(e, (start, end))| OnCall {
                person: e.person.to_owned(),
                why: self.why(e.source),
                start: start.flatten(),
                end: end.flatten(),
            })
            .collect()
    }

    /// Everyone on call during `[from, until)`, as shifts clipped to that range: one per person and
    /// reason for each unbroken stretch (adjacent equal stretches are one shift), ordered by start,
    /// then in the order of [`Schedule::on_call_at`]. Empty when `until <= from`.
    pub fn shifts(&self, from: Timestamp, until: Timestamp) -> Vec<Shift> {
        // (entry, start, end, the order it was first seen in) — the last keeps ties in answer order.
        let mut done: Vec<(Entry<'_>, Timestamp, Timestamp, usize)> = Vec::new();
        let mut open: Vec<(Entry<'_>, Timestamp, usize)> = Vec::new();
        let mut seen = 0;
        let mut cur = from;
        while cur < until {
            let on = self.resolve(cur);
            open.retain(|&(entry, start, seq)| {
                let stays = on.contains(&entry);
                if !stays {
                    done.push((entry, start, cur, seq));
                }
                stays
            });
            for entry in on {
                if !open.iter().any(|(e, _, _)| *e == entry) {
                    open.push((entry, cur, seen));
                    seen += 1;
                }
            }
            match self.edges(cur).next {
                Some(next) => cur = next,
                None => break,
            }
        }
        done.extend(open.into_iter().map(|(e, start, seq)| (e, start, until, seq)));
        done.sort_by_key(|&(_, start, _, seq)| (start, seq));
        done.into_iter()
            .map(|(e, start, end, _)| Shift {
                person: e.person.to_owned(),
                why: self.why(e.source),
                start,
                end,
            })
            .collect()
    }

    /// The first instant after `t` at which the set of people on call differs from the set at `t`;
    /// None if it never changes (or not within [`LOOKAHEAD_EDGES`] edges).
    pub fn next_handoff_after(&self, t: Timestamp) -> Option<Timestamp> {
        let people = |t: Timestamp| {
            let mut p: Vec<&str> = self.resolve(t).iter().map(|e| e.person).collect();
            p.sort_unstable();
            p
        };
        let now = people(t);
        let mut next = self.edges(t).next;
        for _ in 0..LOOKAHEAD_EDGES {
            let edge = next?;
            if people(edge) != now {
                return Some(edge);
            }
            next = self.edges(edge).next;
        }
        None
    }
}
