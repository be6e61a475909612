//! 引导报障: a fault described in free text, completed by asking only for what is missing — the
//! system, the unit, a phone number to call back — one question at a time. Pure: the handler keeps
//! the state between messages.

use serde::{Deserialize, Serialize};
use zhiban_integrations::chat::Attachment;

/// One thing the report still needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Question {
    System,
    Unit,
    Phone,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// Not asked yet (or not needed: see [`GuidedReport::start`]).
    Missing,
    Given(String),
    /// The reporter did not know or did not want to say.
    Skipped,
}

impl Answer {
    pub fn value(&self) -> Option<&str> {
        match self {
            Answer::Given(v) => Some(v),
            _ => None,
        }
    }
}

/// A report being completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuidedReport {
    pub text: String,
    /// The reporter's message that started it (the report's idempotency).
    pub message_id: String,
    pub system: Answer,
    pub unit: Answer,
    pub phone: Answer,
    pub attachments: Vec<Attachment>,
    /// The question asked last, whose answer the next message is.
    pub asking: Option<Question>,
}

/// What is known when the report starts.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// Recognised in the text (catalogue ids).
    pub system: Option<String>,
    pub unit: Option<String>,
    /// From the reporter's catalogue entry.
    pub reporter_unit: Option<String>,
    pub reporter_phone: Option<String>,
    /// Whether the catalogue has any systems (units) to choose from; with none, nothing is asked.
    pub systems_listed: bool,
    pub units_listed: bool,
}

impl GuidedReport {
    pub fn start(
        text: String,
        message_id: String,
        attachments: Vec<Attachment>,
        known: Known,
    ) -> GuidedReport {
        let given = |v: Option<String>, listed: bool| match v {
            Some(v) => Answer::Given(v),
            None if !listed => Answer::Skipped,
            None => Answer::Missing,
        };
        GuidedReport {
            text,
            message_id,
            system: given(known.system, known.systems_listed),
            unit: given(known.unit.or(known.reporter_unit), known.units_listed),
            phone: given(known.reporter_phone, true),
            attachments,
            asking: None,
        }
    }

    /// The next question, in the order people expect; `None` when the report is complete.
    pub fn next_question(&self) -> Option<Question> {
        [(Question::System, &self.system), (Question::Unit, &self.unit), (Question::Phone, &self.phone)]
            .into_iter()
            .find(|(_, a)| **a == Answer::Missing)
            .map(|(q, _)| q)
    }

    /// Ask the next question (remembering it), or `None` when complete.
    pub fn ask(&mut self) -> Option<Question> {
        self.asking = self.next_question();
        self.asking
    }

    pub fn answer(&mut self, question: Question, answer: Answer) {
        match question {
            Question::System => self.system = answer,
            Question::Unit => self.unit = answer,
            Question::Phone => self.phone = answer,
        }
    }
}

/// A phone number as people type one (`138 0013 8001`, `0755-12345678`, `+86…`), cleaned; `None`
/// when the text is not one.
pub fn phone_in(text: &str) -> Option<String> {
    let t = text.trim();
    let cleaned: String = t.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '（' | '）')).collect();
    let digits = cleaned.strip_prefix('+').unwrap_or(&cleaned);
    let ok = (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Known {
        Known { systems_listed: true, units_listed: true, ..Known::default() }
    }

    #[test]
    fn asks_only_for_what_is_missing() {
        let mut r = GuidedReport::start("打不开".into(), "1".into(), vec![], known());
        assert_eq!(r.ask(), Some(Question::System));
        r.answer(Question::System, Answer::Given("spxt".into()));
        assert_eq!(r.ask(), Some(Question::Unit));
        r.answer(Question::Unit, Answer::Skipped);
        assert_eq!(r.ask(), Some(Question::Phone));
        r.answer(Question::Phone, Answer::Given("13800138000".into()));
        assert_eq!(r.ask(), None);

        let full = Known {
            system: Some("spxt".into()),
            reporter_unit: Some("zy".into()),
            reporter_phone: Some("1".into()),
            ..known()
        };
        assert_eq!(GuidedReport::start("x".into(), "1".into(), vec![], full).next_question(), None);
        let empty_catalogue = Known { reporter_phone: Some("1".into()), ..Known::default() };
        assert_eq!(
            GuidedReport::start("x".into(), "1".into(), vec![], empty_catalogue).next_question(),
            None
        );
    }

    #[test]
    fn phones_as_typed() {
        assert_eq!(phone_in("138 0013 8001").as_deref(), Some("13800138001"));
        assert_eq!(phone_in("0755-12345678").as_deref(), Some("075512345678"));
        assert_eq!(phone_in("+86 13800138001").as_deref(), Some("+8613800138001"));
        for t in ["", "电话", "123", "1380013800112345678", "138-abc"] {
            assert_eq!(phone_in(t), None, "{t}");
        }
    }
}
