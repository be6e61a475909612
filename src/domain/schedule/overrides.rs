//! Overrides (换班/代班): one person covers for another, or for whoever is on, for a while.

use jiff::Timestamp;

use super::error::ScheduleError;

/// A shift swap or cover: `person` is on call during `[from, until)`.
///
/// With `replaces`, the cover takes that one person's place while they are on call (and does nothing
/// while they are not); without it, the cover replaces everyone on call, or is on call alone when
/// nobody is. Overrides beat layers and the holiday roster. They come from the configuration or, at
/// run time, from swaps agreed in chat and kept in the database: [`super::Schedule::with_overrides`]
/// merges those in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    person: String,
    replaces: Option<String>,
    from: Timestamp,
    until: Timestamp,
    requested_by: Option<String>,
    approved_by: Option<String>,
    reason: Option<String>,
}

impl Override {
    /// `person` covers from `from` until `until` (exclusive).
    pub fn new(
        person: impl Into<String>,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Override, ScheduleError> {
        let person = person.into();
        if person.trim().is_empty() {
            return Err(ScheduleError::Empty { what: "the person" });
        }
        if until <= from {
            return Err(ScheduleError::OverrideEndsBeforeStart);
        }
        Ok(Override {
            person,
            replaces: None,
            from,
            until,
            requested_by: None,
            approved_by: None,
            reason: None,
        })
    }

    /// Cover for this one person only.
    pub fn replacing(mut self, person: impl Into<String>) -> Result<Override, ScheduleError> {
        let replaced = person.into();
        if replaced == self.person {
            return Err(ScheduleError::CoversSelf { person: replaced });
        }
        self.replaces = Some(replaced);
        Ok(self)
    }

    /// Who asked for the swap (a person id).
    pub fn requested_by(mut self, person: impl Into<String>) -> Override {
        self.requested_by = Some(person.into());
        self
    }

    /// Who approved it (a person id).
    pub fn approved_by(mut self, person: impl Into<String>) -> Override {
        self.approved_by = Some(person.into());
        self
    }

    /// Why, as written (家中有事, 出差 …).
    pub fn because(mut self, reason: impl Into<String>) -> Override {
        let reason = reason.into();
        self.reason = (!reason.trim().is_empty()).then_some(reason);
        self
    }

    pub fn person(&self) -> &str {
        &self.person
    }

    pub fn replaces(&self) -> Option<&str> {
        self.replaces.as_deref()
    }

    pub fn from(&self) -> Timestamp {
        self.from
    }

    pub fn until(&self) -> Timestamp {
        self.until
    }

    pub fn requester(&self) -> Option<&str> {
        self.requested_by.as_deref()
    }

    pub fn approver(&self) -> Option<&str> {
        self.approved_by.as_deref()
    }

    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
}
