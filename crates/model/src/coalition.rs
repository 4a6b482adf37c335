//! Who shares with whom: parties, groups, users, agreements and embargoes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{Classification, Code, CodeKind, Directory};

/// An organisation or nation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub code: Code,
    pub name: String,
}

/// A named set of parties usable in `REL TO` lists; decisions use membership at decision time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub code: Code,
    pub name: String,
    pub members: BTreeSet<Code>,
}

/// A user name: 1 to 64 characters among `a-z 0-9 . _ -`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a user name (1 to 64 characters among a-z, 0-9, '.', '_', '-')")]
pub struct UserNameError {
    pub text: String,
}

impl UserName {
    pub fn new(text: &str) -> Result<Self, UserNameError> {
        let valid = (1..=64).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if valid {
            Ok(UserName(text.to_string()))
        } else {
            Err(UserNameError { text: text.to_string() })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for UserName {
    type Error = UserNameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        UserName::new(&value)
    }
}

impl From<UserName> for String {
    fn from(name: UserName) -> String {
        name.0
    }
}

/// A person or system of one party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub name: UserName,
    pub party: Code,
    pub clearance: Classification,
}

/// A topic label (`counter-ied`): 1 to 64 characters among `a-z 0-9 . _ -`, stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Topic(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a topic (1 to 64 characters among a-z, 0-9, '.', '_', '-')")]
pub struct TopicError {
    pub text: String,
}

impl Topic {
    pub fn new(text: &str) -> Result<Self, TopicError> {
        let lower = text.trim().to_ascii_lowercase();
        let valid = (1..=64).contains(&lower.len())
            && lower.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if valid {
            Ok(Topic(lower))
        } else {
            Err(TopicError { text: text.to_string() })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Stands, in decisions only, for content without topics among a derived object's sources:
    /// no topic-scoped agreement covers that content, so none may cover what derives from it.
    /// Not a valid label, so no scope can name it; never stored.
    pub fn untagged() -> Self {
        Topic("(untagged)".to_string())
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Topic {
    type Error = TopicError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Topic::new(&value)
    }
}

impl From<Topic> for String {
    fn from(topic: Topic) -> String {
        topic.0
    }
}

/// From one party to parties and groups: what they may receive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agreement {
    /// Stable name within the originator's agreements (the `apply` file's key).
    pub id: String,
    pub from: Code,
    pub to: BTreeSet<Code>,
    pub max_classification: Classification,
    /// `None`: every topic. Otherwise an object is covered when it has topics, all in the scope.
    pub topics: Option<BTreeSet<Topic>>,
    /// Whether recipients may pass content on (the third-party rule when false).
    pub onward: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub valid_from: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub valid_until: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl Agreement {
    /// In force at `now`: not revoked, and inside its validity period.
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none_or(|at| now < at)
            && self.valid_from.is_none_or(|from| from <= now)
            && self.valid_until.is_none_or(|until| now < until)
    }

    pub fn covers_topics(&self, topics: &BTreeSet<Topic>) -> bool {
        match &self.topics {
            None => true,
            Some(scope) => !topics.is_empty() && topics.is_subset(scope),
        }
    }
}

/// A party's absolute refusal to release anything of its own to a party or group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Embargo {
    pub from: Code,
    pub against: Code,
}

/// A snapshot of the declared coalition, as decisions see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coalition {
    parties: BTreeMap<Code, Party>,
    groups: BTreeMap<Code, Group>,
    agreements: Vec<Agreement>,
    embargoes: Vec<Embargo>,
}

impl Coalition {
    pub fn new(
        parties: impl IntoIterator<Item = Party>,
        groups: impl IntoIterator<Item = Group>,
        agreements: impl IntoIterator<Item = Agreement>,
        embargoes: impl IntoIterator<Item = Embargo>,
    ) -> Self {
        Coalition {
            parties: parties.into_iter().map(|p| (p.code.clone(), p)).collect(),
            groups: groups.into_iter().map(|g| (g.code.clone(), g)).collect(),
            agreements: agreements.into_iter().collect(),
            embargoes: embargoes.into_iter().collect(),
        }
    }

    pub fn parties(&self) -> impl Iterator<Item = &Party> {
        self.parties.values()
    }

    pub fn party(&self, code: &Code) -> Option<&Party> {
        self.parties.get(code)
    }

    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    pub fn agreements(&self) -> &[Agreement] {
        &self.agreements
    }

    pub fn embargoes(&self) -> &[Embargo] {
        &self.embargoes
    }

    /// The groups `party` belongs to now.
    pub fn groups_of<'a>(&'a self, party: &'a Code) -> impl Iterator<Item = &'a Code> + 'a {
        self.groups.values().filter(move |g| g.members.contains(party)).map(|g| &g.code)
    }

    /// Whether `party` is `code` or a member of the group `code`.
    pub fn includes(&self, code: &Code, party: &Code) -> bool {
        code == party || self.groups.get(code).is_some_and(|g| g.members.contains(party))
    }

    /// The next instant after `now` at which an agreement starts or ends: decisions made now hold
    /// until then, unless something is changed.
    pub fn next_change_after(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.agreements
            .iter()
            .flat_map(|a| [a.valid_from, a.valid_until, a.revoked_at])
            .flatten()
            .filter(|t| *t > now)
            .min()
    }
}

impl Directory for Coalition {
    fn kind_of(&self, code: &Code) -> Option<CodeKind> {
        if self.parties.contains_key(code) {
            Some(CodeKind::Party)
        } else if self.groups.contains_key(code) {
            Some(CodeKind::Group)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn code(text: &str) -> Code {
        Code::new(text).unwrap()
    }

    fn agreement() -> Agreement {
        Agreement {
            id: "usa-irq".into(),
            from: code("USA"),
            to: [code("IRQ")].into(),
            max_classification: Classification::Secret,
            topics: Some([Topic::new("counter-ied").unwrap()].into()),
            onward: false,
            valid_from: Some(datetime!(2026-01-01 0:00 UTC)),
            valid_until: Some(datetime!(2027-01-01 0:00 UTC)),
            revoked_at: None,
        }
    }

    #[test]
    fn agreements_are_active_inside_their_period_until_revoked() {
        let mut a = agreement();
        assert!(!a.is_active(datetime!(2025-12-31 23:59 UTC)));
        assert!(a.is_active(datetime!(2026-01-01 0:00 UTC)));
        assert!(!a.is_active(datetime!(2027-01-01 0:00 UTC)));
        a.revoked_at = Some(datetime!(2026-06-01 0:00 UTC));
        assert!(a.is_active(datetime!(2026-05-31 0:00 UTC)));
        assert!(!a.is_active(datetime!(2026-06-01 0:00 UTC)));
    }

    #[test]
    fn topic_scope_covers_objects_whose_topics_all_fall_inside() {
        let a = agreement();
        let ied: BTreeSet<Topic> = [Topic::new("Counter-IED").unwrap()].into();
        let both: BTreeSet<Topic> = [Topic::new("counter-ied").unwrap(), Topic::new("cyber").unwrap()].into();
        assert!(a.covers_topics(&ied));
        assert!(!a.covers_topics(&both));
        assert!(!a.covers_topics(&BTreeSet::new()));
        assert!(Agreement { topics: None, ..a }.covers_topics(&BTreeSet::new()));
    }

    #[test]
    fn membership_and_next_change() {
        let bic = Group { code: code("BIC"), name: "centre".into(), members: [code("IRQ"), code("SYR")].into() };
        let c = Coalition::new([], [bic], [agreement()], []);
        assert!(c.includes(&code("BIC"), &code("SYR")));
        assert!(c.includes(&code("USA"), &code("USA")));
        assert!(!c.includes(&code("BIC"), &code("USA")));
        assert_eq!(c.groups_of(&code("IRQ")).collect::<Vec<_>>(), vec![&code("BIC")]);
        assert_eq!(c.next_change_after(datetime!(2026-03-01 0:00 UTC)), Some(datetime!(2027-01-01 0:00 UTC)));
        assert_eq!(c.next_change_after(datetime!(2025-03-01 0:00 UTC)), Some(datetime!(2026-01-01 0:00 UTC)));
    }

    #[test]
    fn user_names_and_topics_are_validated() {
        assert!(UserName::new("us-analyst").is_ok());
        assert!(UserName::new("US analyst").is_err());
        assert!(UserName::new("").is_err());
        assert_eq!(Topic::new(" Counter-IED ").unwrap().as_str(), "counter-ied");
        assert!(Topic::new("a b").is_err());
    }
}
