//! 静默 (silences) and 告警风暴 (alert storms): when zhiban opens incidents without paging anyone.
//!
//! A silence matches new incidents by dedup key, system or labels for a while, with a reason; an
//! engineer sets it during planned work (a cut-over, a restart of the e-dossier servers). A storm
//! is many incidents opening at once (a network fault takes down everything behind it): the first
//! incident past the threshold pages, with the storm's size; the rest join it silently.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::incident::PersonId;

/// What a silence matches; every given criterion must hold, and at least one is given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matcher {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SilenceError {
    #[error("a silence needs at least one of dedup_key, system or labels")]
    MatchesEverything,
    #[error("a silence lasts between one minute and 31 days")]
    Duration,
}

/// The fields of a new incident that silences look at.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub dedup_key: &'a str,
    pub system: Option<&'a str>,
    pub labels: &'a BTreeMap<String, String>,
}

impl Matcher {
    /// A matcher that matches something (an empty one would silence every fault).
    pub fn validated(self) -> Result<Matcher, SilenceError> {
        let empty = |s: &Option<String>| s.as_deref().is_none_or(|v| v.trim().is_empty());
        if empty(&self.dedup_key) && empty(&self.system) && self.labels.is_empty() {
            return Err(SilenceError::MatchesEverything);
        }
        Ok(self)
    }

    pub fn matches(&self, s: Subject<'_>) -> bool {
        // Dedup keys are stored as "source:fingerprint"; a silence may name either form.
        let key_ok = self.dedup_key.as_deref().is_none_or(|k| {
            s.dedup_key == k || s.dedup_key.split_once(':').is_some_and(|(_, fingerprint)| fingerprint == k)
        });
        let system_ok = self.system.as_deref().is_none_or(|sys| s.system == Some(sys));
        let labels_ok = self.labels.iter().all(|(k, v)| s.labels.get(k) == Some(v));
        key_ok && system_ok && labels_ok
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Silence {
    pub id: i64,
    pub matcher: Matcher,
    pub reason: String,
    pub created_by: PersonId,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    /// Ended early by hand.
    pub ended_at: Option<Timestamp>,
}

impl Silence {
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.starts_at <= now && now < self.ends_at && self.ended_at.is_none_or(|e| now < e)
    }
}

pub fn check_duration(d: SignedDuration) -> Result<SignedDuration, SilenceError> {
    if d >= SignedDuration::from_mins(1) && d <= SignedDuration::from_hours(24 * 31) {
        Ok(d)
    } else {
        Err(SilenceError::Duration)
    }
}

/// The first active silence that matches, if any.
pub fn matching<'a>(silences: &'a [Silence], subject: Subject<'_>, now: Timestamp) -> Option<&'a Silence> {
    silences.iter().find(|s| s.is_active(now) && s.matcher.matches(subject))
}

/// Is this opening part of a storm? `opened_in_window` counts the incidents opened within the
/// window before this one.
pub fn is_storm(threshold: u32, opened_in_window: usize) -> bool {
    opened_in_window >= threshold as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject<'a>(labels: &'a BTreeMap<String, String>) -> Subject<'a> {
        Subject { dedup_key: "alertmanager:abc123", system: Some("dzjz"), labels }
    }

    #[test]
    fn every_criterion_must_hold() {
        let labels: BTreeMap<String, String> =
            [("env".into(), "prod".into()), ("dc".into(), "a".into())].into();
        let m = |key: Option<&str>, system: Option<&str>, l: &[(&str, &str)]| Matcher {
            dedup_key: key.map(Into::into),
            system: system.map(Into::into),
            labels: l.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        };
        assert!(m(Some("abc123"), None, &[]).matches(subject(&labels)));
        assert!(m(Some("alertmanager:abc123"), None, &[]).matches(subject(&labels)));
        assert!(!m(Some("abc"), None, &[]).matches(subject(&labels)));
        assert!(m(None, Some("dzjz"), &[("env", "prod")]).matches(subject(&labels)));
        assert!(!m(None, Some("dzjz"), &[("env", "test")]).matches(subject(&labels)));
        assert!(!m(None, Some("oa"), &[]).matches(subject(&labels)));
        assert_eq!(m(None, Some(" "), &[]).validated(), Err(SilenceError::MatchesEverything));
        assert_eq!(Matcher::default().validated(), Err(SilenceError::MatchesEverything));
    }

    #[test]
    fn a_silence_is_active_in_its_window_until_ended() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let mut s = Silence {
            id: 1,
            matcher: Matcher { system: Some("dzjz".into()), ..Default::default() },
            reason: "割接".into(),
            created_by: PersonId("zhangwei".into()),
            starts_at: t("2026-11-25T01:00:00Z"),
            ends_at: t("2026-11-25T03:00:00Z"),
            ended_at: None,
        };
        assert!(!s.is_active(t("2026-11-25T00:59:59Z")));
        assert!(s.is_active(t("2026-11-25T01:00:00Z")));
        assert!(!s.is_active(t("2026-11-25T03:00:00Z")));
        s.ended_at = Some(t("2026-11-25T02:00:00Z"));
        assert!(!s.is_active(t("2026-11-25T02:00:00Z")));
        assert!(check_duration(SignedDuration::from_secs(30)).is_err());
        assert!(check_duration(SignedDuration::from_hours(2)).is_ok());
    }

    #[test]
    fn storms_start_past_the_threshold() {
        assert!(!is_storm(10, 9));
        assert!(is_storm(10, 10));
    }
}
