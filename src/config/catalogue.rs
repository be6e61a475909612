//! The catalogue (目录): units (单位), business systems (业务系统), people and teams.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::Problems;

/// 单位层级: 省院 → 中院 → 基层院.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitLevel {
    /// 省院: a provincial high court or procuratorate.
    Provincial,
    /// 中院: an intermediate court (or city procuratorate).
    Intermediate,
    /// 基层院: a basic-level court (or district procuratorate).
    Basic,
}

impl UnitLevel {
    fn rank(self) -> u8 {
        match self {
            UnitLevel::Provincial => 0,
            UnitLevel::Intermediate => 1,
            UnitLevel::Basic => 2,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Unit {
    pub id: String,
    pub name: String,
    pub level: UnitLevel,
    /// The unit above this one (absent for a 省院).
    pub parent: Option<String>,
    /// Short names staff type (省院, 市中院, …).
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// 重要程度: how much a system matters; the classifier raises levels for critical ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criticality {
    Critical,
    High,
    Normal,
    Low,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct System {
    pub id: String,
    pub name: String,
    /// The short names staff really type (统一业务, 卷宗, 签章, OA …).
    #[serde(default)]
    pub aliases: Vec<String>,
    pub criticality: Criticality,
    /// The team that owns it.
    pub team: String,
    /// Units where it runs; empty means everywhere.
    #[serde(default)]
    pub units: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Configures zhiban, does everything.
    Admin,
    /// O&M engineer: acknowledges, works on and resolves incidents.
    Engineer,
    /// Project manager or client leader: follows incidents, reads reports, comments.
    Leader,
    /// Court staff: reports faults and follows their own.
    Reporter,
}

/// What a person may do; the one place that maps roles to permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ReadIncidents,
    Comment,
    /// Acknowledge, progress, on site, resolve, close, reopen.
    Work,
    /// 定级: change an incident's level.
    SetSeverity,
    /// Cancel or merge incidents.
    Triage,
    /// 换班: record or cancel shift swaps (the client's leaders and the project manager approve them).
    ChangeSchedules,
    Admin,
}

impl Role {
    pub fn allows(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Engineer => matches!(p, ReadIncidents | Comment | Work | SetSeverity | Triage),
            Role::Leader => matches!(p, ReadIncidents | Comment | ChangeSchedules),
            Role::Reporter => matches!(p, ReadIncidents | Comment),
        }
    }
}

/// IM accounts of a person; filled by binding or by hand.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImAccounts {
    pub telegram: Option<String>,
    pub wecom: Option<String>,
    pub dingtalk: Option<String>,
    pub feishu: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    #[serde(default)]
    pub im: ImAccounts,
    pub roles: Vec<Role>,
    /// The unit this person belongs to (court staff) — optional for O&M staff.
    pub unit: Option<String>,
    /// 通知规则: how this person is paged (else `paging.default_rules`).
    #[serde(default, skip_serializing)]
    pub notify: Vec<super::paging::RawRule>,
}

impl Person {
    pub fn may(&self, p: Permission) -> bool {
        self.roles.iter().any(|r| r.allows(p))
    }
}

/// 驻场, 二线, 厂商 …: a group of people.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub members: Vec<String>,
    pub lead: Option<String>,
    /// The escalation policy for the systems this team owns (else `paging.default_policy`).
    pub escalation_policy: Option<String>,
}

/// The whole catalogue, with lookups.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Catalogue {
    #[serde(default)]
    pub units: Vec<Unit>,
    #[serde(default)]
    pub systems: Vec<System>,
    #[serde(default)]
    pub people: Vec<Person>,
    #[serde(default)]
    pub teams: Vec<Team>,
}

/// Folds case and full-width/half-width spacing so that "OA", "oa" and "ＯＡ" meet.
pub fn fold_name(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        })
        .flat_map(char::to_lowercase)
        .filter(|c| !c.is_whitespace())
        .collect()
}

impl Catalogue {
    pub fn person(&self, id: &str) -> Option<&Person> {
        self.people.iter().find(|p| p.id == id)
    }

    pub fn unit(&self, id: &str) -> Option<&Unit> {
        self.units.iter().find(|u| u.id == id)
    }

    pub fn system(&self, id: &str) -> Option<&System> {
        self.systems.iter().find(|s| s.id == id)
    }

    /// A system named exactly (id, name or alias; case and width folded).
    pub fn find_system(&self, text: &str) -> Option<&System> {
        let key = fold_name(text);
        if key.is_empty() {
            return None;
        }
        self.systems.iter().find(|s| {
            fold_name(&s.id) == key
                || fold_name(&s.name) == key
                || s.aliases.iter().any(|a| fold_name(a) == key)
        })
    }

    /// A unit named exactly (id, name or alias; case and width folded).
    pub fn find_unit(&self, text: &str) -> Option<&Unit> {
        let key = fold_name(text);
        if key.is_empty() {
            return None;
        }
        self.units.iter().find(|u| {
            fold_name(&u.id) == key
                || fold_name(&u.name) == key
                || u.aliases.iter().any(|a| fold_name(a) == key)
        })
    }

    pub(super) fn validate(&self, problems: &mut Problems) {
        let unit_ids = unique_ids(problems, "units", self.units.iter().map(|u| u.id.as_str()));
        let person_ids = unique_ids(problems, "people", self.people.iter().map(|p| p.id.as_str()));
        let team_ids = unique_ids(problems, "teams", self.teams.iter().map(|t| t.id.as_str()));
        unique_ids(problems, "systems", self.systems.iter().map(|s| s.id.as_str()));

        let by_id: HashMap<&str, &Unit> = self.units.iter().map(|u| (u.id.as_str(), u)).collect();
        for (i, u) in self.units.iter().enumerate() {
            let key = |field: &str| format!("units[{i}].{field}");
            non_empty(problems, key("name"), &u.name);
            match (&u.parent, u.level) {
                (None, UnitLevel::Provincial) => {}
                (None, _) => problems.add(key("parent"), "only a provincial unit (省院) may have no parent"),
                (Some(p), level) => match by_id.get(p.as_str()) {
                    None => problems.add(key("parent"), format!("no unit has the id '{p}'")),
                    Some(parent) if parent.level.rank() >= level.rank() => problems.add(
                        key("parent"),
                        format!("'{p}' is not above this unit in the hierarchy 省院 → 中院 → 基层院"),
                    ),
                    Some(_) => {}
                },
            }
        }
        // Names and aliases must point at one thing each, or lookups would be a coin toss.
        names_unique(
            problems,
            "units",
            self.units.iter().map(|u| (u.id.as_str(), u.name.as_str(), &u.aliases)),
        );
        names_unique(
            problems,
            "systems",
            self.systems.iter().map(|s| (s.id.as_str(), s.name.as_str(), &s.aliases)),
        );

        for (i, s) in self.systems.iter().enumerate() {
            non_empty(problems, format!("systems[{i}].name"), &s.name);
            if !team_ids.contains(s.team.as_str()) {
                problems.add(format!("systems[{i}].team"), format!("no team has the id '{}'", s.team));
            }
            for (j, u) in s.units.iter().enumerate() {
                if !unit_ids.contains(u.as_str()) {
                    problems.add(format!("systems[{i}].units[{j}]"), format!("no unit has the id '{u}'"));
                }
            }
        }
        for (i, p) in self.people.iter().enumerate() {
            non_empty(problems, format!("people[{i}].name"), &p.name);
            if p.roles.is_empty() {
                problems.add(
                    format!("people[{i}].roles"),
                    "give at least one role (admin, engineer, leader, reporter)",
                );
            }
            if let Some(phone) = &p.phone
                && !valid_phone(phone)
            {
                problems.add(
                    format!("people[{i}].phone"),
                    format!("'{phone}' is not a phone number (digits, optional +, -, space)"),
                );
            }
            if let Some(email) = &p.email
                && !valid_email(email)
            {
                problems.add(format!("people[{i}].email"), format!("'{email}' is not an email address"));
            }
            if let Some(u) = &p.unit
                && !unit_ids.contains(u.as_str())
            {
                problems.add(format!("people[{i}].unit"), format!("no unit has the id '{u}'"));
            }
        }
        for (i, t) in self.teams.iter().enumerate() {
            non_empty(problems, format!("teams[{i}].name"), &t.name);
            for (j, m) in t.members.iter().enumerate() {
                if !person_ids.contains(m.as_str()) {
                    problems.add(format!("teams[{i}].members[{j}]"), format!("no person has the id '{m}'"));
                }
            }
            if let Some(lead) = &t.lead
                && !person_ids.contains(lead.as_str())
            {
                problems.add(format!("teams[{i}].lead"), format!("no person has the id '{lead}'"));
            }
        }
    }
}

fn unique_ids<'a>(
    problems: &mut Problems,
    table: &str,
    ids: impl Iterator<Item = &'a str>,
) -> HashSet<&'a str> {
    let mut seen = HashSet::new();
    for (i, id) in ids.enumerate() {
        if !valid_id(id) {
            problems.add(
                format!("{table}[{i}].id"),
                format!("'{id}' is not a valid id (use letters, digits, '-' and '_', at most 64)"),
            );
        } else if !seen.insert(id) {
            problems.add(format!("{table}[{i}].id"), format!("the id '{id}' is used twice"));
        }
    }
    seen
}

fn names_unique<'a>(
    problems: &mut Problems,
    table: &str,
    entries: impl Iterator<Item = (&'a str, &'a str, &'a Vec<String>)>,
) {
    let mut owner: BTreeMap<String, &str> = BTreeMap::new();
    for (i, (id, name, aliases)) in entries.enumerate() {
        let mut mine = vec![(format!("{table}[{i}].name"), name)];
        mine.extend(
            aliases.iter().enumerate().map(|(j, a)| (format!("{table}[{i}].aliases[{j}]"), a.as_str())),
        );
        let mut own_names = HashSet::new();
        for (key, n) in mine {
            let folded = fold_name(n);
            if folded.is_empty() || !own_names.insert(folded.clone()) {
                continue;
            }
            match owner.get(&folded) {
                Some(other) if *other != id => problems
                    .add(key, format!("'{n}' already names '{other}'; a name or alias must name one entry")),
                _ => {
                    owner.insert(folded, id);
                }
            }
        }
    }
}

fn non_empty(problems: &mut Problems, key: String, value: &str) {
    if value.trim().is_empty() {
        problems.add(key, "must not be empty");
    }
}

pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn valid_phone(p: &str) -> bool {
    let digits = p.chars().filter(char::is_ascii_digit).count();
    (5..=20).contains(&digits)
        && p.chars()
            .enumerate()
            .all(|(i, c)| c.is_ascii_digit() || c == '-' || c == ' ' || (c == '+' && i == 0))
}

fn valid_email(e: &str) -> bool {
    match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !e.contains(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_meets_full_width_and_case() {
        assert_eq!(fold_name("ＯＡ"), "oa");
        assert_eq!(fold_name(" 统一 业务 "), "统一业务");
    }

    #[test]
    fn roles_map_to_permissions() {
        assert!(Role::Engineer.allows(Permission::Work));
        assert!(!Role::Leader.allows(Permission::Work));
        assert!(!Role::Reporter.allows(Permission::SetSeverity));
        assert!(Role::Admin.allows(Permission::Admin));
        assert!(!Role::Engineer.allows(Permission::Admin));
    }

    #[test]
    fn phones_and_emails() {
        assert!(valid_phone("13800138000"));
        assert!(valid_phone("+86 138-0013-8000"));
        assert!(valid_phone("0571-88888888"));
        assert!(!valid_phone("1380013800a"));
        assert!(!valid_phone("12"));
        assert!(valid_email("ops@court.gov.cn"));
        assert!(!valid_email("ops@court"));
        assert!(!valid_email("ops court@x.cn"));
    }
}
