//! The `apply` file: parties, groups, agreements, embargoes and users, as TOML.
//!
//! The file is declarative: the hub is made to match it. See the README for the format.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use tearline_model::{Agreement, Classification, Code, Collection, Embargo, Group, Party, Topic, User, UserName};
use tearline_store::Declared;
use time::OffsetDateTime;

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CoalitionFile {
    /// Format version; only 1 exists.
    version: Option<u32>,
    #[serde(default)]
    party: Vec<PartyEntry>,
    #[serde(default)]
    group: Vec<GroupEntry>,
    #[serde(default)]
    agreement: Vec<AgreementEntry>,
    #[serde(default)]
    embargo: Vec<EmbargoEntry>,
    #[serde(default)]
    user: Vec<UserEntry>,
    #[serde(default)]
    collection: Vec<CollectionEntry>,
    /// How activities are deconflicted; every field has a default.
    #[serde(default)]
    deconfliction: tearline_deconflict::Settings,
}

/// A TAXII collection. Readers default to every party; the owner may always read and write.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CollectionEntry {
    id: String,
    title: String,
    description: Option<String>,
    owner: String,
    readers: Option<Vec<String>>,
    #[serde(default)]
    writers: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartyEntry {
    code: String,
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupEntry {
    code: String,
    name: String,
    #[serde(default)]
    members: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgreementEntry {
    id: Option<String>,
    from: String,
    to: Vec<String>,
    max_classification: String,
    #[serde(default)]
    onward: bool,
    topics: Option<Vec<String>>,
    valid_from: Option<Instant>,
    valid_until: Option<Instant>,
}

/// A TOML date-time (`2026-01-01T00:00:00Z`), or the same as a string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Instant {
    Toml(toml::value::Datetime),
    Text(String),
}

impl Instant {
    fn resolve(&self, what: &str, field: &str) -> Result<OffsetDateTime, ApplyError> {
        let text = match self {
            Instant::Toml(datetime) => datetime.to_string(),
            Instant::Text(text) => text.clone(),
        };
        OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339).map_err(|_| {
            invalid(what, format!("`{field}` is not a date and time with an offset, such as 2026-01-01T00:00:00Z"))
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmbargoEntry {
    from: String,
    against: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    name: String,
    party: String,
    clearance: String,
}

/// Why an `apply` file is refused; nothing is changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("the file is not valid TOML for `apply`: {0}")]
    Syntax(String),
    #[error("format version {0} is not supported (this hub reads version 1)")]
    Version(u32),
    #[error("{what}: {problem}")]
    Invalid { what: String, problem: String },
}

fn invalid(what: impl Into<String>, problem: impl ToString) -> ApplyError {
    ApplyError::Invalid { what: what.into(), problem: problem.to_string() }
}

/// Reads and checks an `apply` file: every code is well formed and known, every name unique.
pub fn parse(text: &str) -> Result<Declared, ApplyError> {
    let file: CoalitionFile = toml::from_str(text).map_err(|e| ApplyError::Syntax(e.to_string()))?;
    if let Some(version) = file.version.filter(|v| *v != 1) {
        return Err(ApplyError::Version(version));
    }

    let mut parties = BTreeMap::new();
    for (n, entry) in file.party.iter().enumerate() {
        let what = format!("party {} (`{}`)", n + 1, entry.code);
        let code = Code::new(&entry.code).map_err(|e| invalid(&what, e))?;
        if entry.name.trim().is_empty() {
            return Err(invalid(&what, "the name is empty"));
        }
        if parties.insert(code.clone(), Party { code, name: entry.name.trim().to_string() }).is_some() {
            return Err(invalid(&what, "the party is declared twice"));
        }
    }

    let mut groups = BTreeMap::new();
    for (n, entry) in file.group.iter().enumerate() {
        let what = format!("group {} (`{}`)", n + 1, entry.code);
        let code = Code::new(&entry.code).map_err(|e| invalid(&what, e))?;
        if parties.contains_key(&code) {
            return Err(invalid(&what, "a party has the same code"));
        }
        let mut members = BTreeSet::new();
        for member in &entry.members {
            let member = Code::new(member).map_err(|e| invalid(&what, e))?;
            if !parties.contains_key(&member) {
                return Err(invalid(&what, format!("member `{member}` is not a declared party")));
            }
            members.insert(member);
        }
        let group = Group { code: code.clone(), name: entry.name.trim().to_string(), members };
        if groups.insert(code, group).is_some() {
            return Err(invalid(&what, "the group is declared twice"));
        }
    }

    let known = |code: &Code| parties.contains_key(code) || groups.contains_key(code);
    let party_code = |what: &str, text: &str| -> Result<Code, ApplyError> {
        let code = Code::new(text).map_err(|e| invalid(what, e))?;
        if parties.contains_key(&code) {
            Ok(code)
        } else {
            Err(invalid(what, format!("`{code}` is not a declared party")))
        }
    };
    let classification = |what: &str, text: &str| {
        Classification::parse(text).ok_or_else(|| invalid(what, format!("`{text}` is not a classification")))
    };

    let mut agreements: BTreeMap<(Code, String), Agreement> = BTreeMap::new();
    for (n, entry) in file.agreement.iter().enumerate() {
        let what = format!("agreement {} (from {} to {})", n + 1, entry.from, entry.to.join(", "));
        let from = party_code(&what, &entry.from)?;
        let mut to = BTreeSet::new();
        for recipient in &entry.to {
            let code = Code::new(recipient).map_err(|e| invalid(&what, e))?;
            if !known(&code) {
                return Err(invalid(&what, format!("`{code}` is neither a declared party nor a group")));
            }
            if code == from {
                return Err(invalid(&what, "a party does not need an agreement with itself"));
            }
            to.insert(code);
        }
        if to.is_empty() {
            return Err(invalid(&what, "`to` names no party or group"));
        }
        let topics = match &entry.topics {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|t| Topic::new(t))
                    .collect::<Result<BTreeSet<_>, _>>()
                    .map_err(|e| invalid(&what, e))?,
            ),
        };
        let valid_from = entry.valid_from.as_ref().map(|t| t.resolve(&what, "valid_from")).transpose()?;
        let valid_until = entry.valid_until.as_ref().map(|t| t.resolve(&what, "valid_until")).transpose()?;
        if let (Some(from), Some(until)) = (valid_from, valid_until) {
            if until <= from {
                return Err(invalid(&what, "`valid_until` is not after `valid_from`"));
            }
        }
        let id = match &entry.id {
            Some(id) if !id.trim().is_empty() => id.trim().to_string(),
            Some(_) => return Err(invalid(&what, "the id is empty")),
            None => to.iter().map(Code::as_str).collect::<Vec<_>>().join("+"),
        };
        let agreement = Agreement {
            id: id.clone(),
            from: from.clone(),
            to,
            max_classification: classification(&what, &entry.max_classification)?,
            topics,
            onward: entry.onward,
            valid_from,
            valid_until,
            revoked_at: None,
        };
        if agreements.insert((from, id.clone()), agreement).is_some() {
            return Err(invalid(
                &what,
                format!("another agreement of the same party has the id `{id}`: give each an `id`"),
            ));
        }
    }

    let mut embargoes = BTreeSet::new();
    for (n, entry) in file.embargo.iter().enumerate() {
        let what = format!("embargo {} (from {})", n + 1, entry.from);
        let from = party_code(&what, &entry.from)?;
        for against in &entry.against {
            let code = Code::new(against).map_err(|e| invalid(&what, e))?;
            if !known(&code) {
                return Err(invalid(&what, format!("`{code}` is neither a declared party nor a group")));
            }
            if code == from {
                return Err(invalid(&what, "a party cannot embargo itself"));
            }
            embargoes.insert(Embargo { from: from.clone(), against: code });
        }
    }

    let mut users = BTreeMap::new();
    for (n, entry) in file.user.iter().enumerate() {
        let what = format!("user {} (`{}`)", n + 1, entry.name);
        let name = UserName::new(&entry.name).map_err(|e| invalid(&what, e))?;
        let user = User {
            name: name.clone(),
            party: party_code(&what, &entry.party)?,
            clearance: classification(&what, &entry.clearance)?,
        };
        if users.insert(name, user).is_some() {
            return Err(invalid(&what, "the user is declared twice"));
        }
    }

    let mut collections = BTreeMap::new();
    for (n, entry) in file.collection.iter().enumerate() {
        let what = format!("collection {} (`{}`)", n + 1, entry.id);
        let id = uuid::Uuid::parse_str(&entry.id)
            .map_err(|_| invalid(&what, "the id is not a UUID (TAXII collection ids are UUIDs)"))?
            .hyphenated()
            .to_string();
        if parties.keys().any(|party| Collection::feed_id(party) == id) {
            return Err(invalid(&what, "the id is that of a party's built-in collection"));
        }
        if entry.title.trim().is_empty() {
            return Err(invalid(&what, "the title is empty"));
        }
        let codes = |list: &[String]| -> Result<BTreeSet<Code>, ApplyError> {
            list.iter()
                .map(|text| {
                    let code = Code::new(text).map_err(|e| invalid(&what, e))?;
                    if known(&code) {
                        Ok(code)
                    } else {
                        Err(invalid(&what, format!("`{code}` is neither a declared party nor a group")))
                    }
                })
                .collect()
        };
        let collection = Collection {
            id: id.clone(),
            title: entry.title.trim().to_string(),
            description: entry.description.clone().filter(|d| !d.trim().is_empty()),
            owner: party_code(&what, &entry.owner)?,
            readers: entry.readers.as_deref().map(codes).transpose()?,
            writers: codes(&entry.writers)?,
            is_feed: false,
        };
        if collections.insert(id, collection).is_some() {
            return Err(invalid(&what, "the collection is declared twice"));
        }
    }

    let deconfliction = file.deconfliction;
    deconfliction.check().map_err(|e| invalid("[deconfliction]", e))?;
    for code in &deconfliction.identify {
        let known = Code::new(code).ok().is_some_and(|code| parties.contains_key(&code));
        if !known {
            return Err(invalid("[deconfliction] identify", format!("`{code}` is not a declared party")));
        }
    }

    Ok(Declared {
        deconfliction,
        collections: collections.into_values().collect(),
        parties: parties.into_values().collect(),
        groups: groups.into_values().collect(),
        agreements: agreements.into_values().collect(),
        embargoes: embargoes.into_iter().collect(),
        users: users.into_values().collect(),
    })
}

/// What applying `new` over `old` changes, one line per change, in a stable order.
pub fn changes(old: &Declared, new: &Declared) -> Vec<String> {
    let mut lines = Vec::new();
    diff(
        &mut lines,
        &old.parties,
        &new.parties,
        |p| p.code.to_string(),
        |p| format!("party {} ({})", p.code, p.name),
        "retired",
    );
    diff(&mut lines, &old.groups, &new.groups, |g| g.code.to_string(), describe_group, "removed");
    diff(
        &mut lines,
        &old.agreements,
        &new.agreements,
        |a| format!("{}:{}", a.from, a.id),
        describe_agreement,
        "revoked",
    );
    diff(
        &mut lines,
        &old.embargoes,
        &new.embargoes,
        |e| format!("{}:{}", e.from, e.against),
        |e| format!("embargo {} against {}", e.from, e.against),
        "lifted",
    );
    diff(
        &mut lines,
        &old.users,
        &new.users,
        |u| u.name.to_string(),
        |u| format!("user {} ({}, cleared {})", u.name, u.party, u.clearance),
        "disabled",
    );
    diff(&mut lines, &old.collections, &new.collections, |c| c.id.clone(), describe_collection, "retired");
    if old.deconfliction != new.deconfliction {
        let identify = &new.deconfliction.identify;
        lines.push(format!(
            "~ deconfliction settings (parties named in notices: {})",
            if identify.is_empty() { "none".to_string() } else { identify.join(", ") }
        ));
    }
    lines
}

fn diff<T: PartialEq>(
    lines: &mut Vec<String>,
    old: &[T],
    new: &[T],
    key: impl Fn(&T) -> String,
    describe: impl Fn(&T) -> String,
    gone: &str,
) {
    let old: BTreeMap<String, &T> = old.iter().map(|x| (key(x), x)).collect();
    let new: BTreeMap<String, &T> = new.iter().map(|x| (key(x), x)).collect();
    for (k, item) in &new {
        match old.get(k) {
            None => lines.push(format!("+ {}", describe(item))),
            Some(before) if *before != *item => lines.push(format!("~ {} (was: {})", describe(item), describe(before))),
            Some(_) => {}
        }
    }
    for (k, item) in &old {
        if !new.contains_key(k) {
            lines.push(format!("- {} {gone}", describe(item)));
        }
    }
}

fn describe_collection(c: &Collection) -> String {
    let list = |codes: &BTreeSet<Code>| codes.iter().map(Code::as_str).collect::<Vec<_>>().join(", ");
    let readers = c.readers.as_ref().map_or("every party".to_string(), list);
    format!("collection {} ({}) of {}: read by {readers}, written by {}", c.id, c.title, c.owner, list(&c.writers))
}

fn describe_group(group: &Group) -> String {
    let members: Vec<&str> = group.members.iter().map(Code::as_str).collect();
    format!("group {} ({}): {}", group.code, group.name, members.join(", "))
}

fn describe_agreement(a: &Agreement) -> String {
    let to: Vec<&str> = a.to.iter().map(Code::as_str).collect();
    let mut text = format!(
        "agreement {} `{}` to {}: up to {}, onward {}",
        a.from,
        a.id,
        to.join(", "),
        a.max_classification,
        if a.onward { "allowed" } else { "not allowed" }
    );
    if let Some(topics) = &a.topics {
        let topics: Vec<&str> = topics.iter().map(Topic::as_str).collect();
        text.push_str(&format!(", topics {}", topics.join(", ")));
    }
    if let Some(from) = a.valid_from {
        text.push_str(&format!(", from {from}"));
    }
    if let Some(until) = a.valid_until {
        text.push_str(&format!(", until {until}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const COALITION: &str = include_str!("../../../examples/coalition.toml");

    #[test]
    fn the_scenario_file_parses() {
        let declared = parse(COALITION).unwrap();
        assert_eq!(declared.parties.len(), 5);
        assert_eq!(declared.groups[0].members.len(), 4);
        assert_eq!(declared.agreements.len(), 3);
        assert_eq!(declared.embargoes.len(), 3);
        assert_eq!(declared.users.len(), 5);
        assert_eq!(declared.collections.len(), 2);
        assert_eq!(declared.deconfliction.identify, ["USA"]);
        assert_eq!(declared.deconfliction.buffer_m.air, 5000.0);
        let usa_irq = declared.agreements.iter().find(|a| a.from.as_str() == "USA").unwrap();
        assert_eq!(
            (usa_irq.id.as_str(), usa_irq.max_classification, usa_irq.onward),
            ("IRQ", Classification::Secret, false)
        );
    }

    #[test]
    fn changes_list_additions_edits_and_removals() {
        let old = parse(COALITION).unwrap();
        assert!(changes(&old, &old).is_empty());
        let edited = COALITION.replace("clearance = \"CONFIDENTIAL\"", "clearance = \"SECRET\"");
        let new = parse(&edited).unwrap();
        assert_eq!(
            changes(&old, &new),
            ["~ user us-liaison (USA, cleared SECRET) (was: user us-liaison (USA, cleared CONFIDENTIAL))"]
        );
        let empty = Declared::default();
        let all = changes(&empty, &old);
        assert_eq!(all.len(), 5 + 1 + 3 + 3 + 5 + 2 + 1);
        assert!(all.iter().all(|l| l.starts_with("+ ") || l.starts_with("~ deconfliction")));
        assert!(all.contains(&"~ deconfliction settings (parties named in notices: USA)".to_string()));
        let gone = changes(&old, &empty);
        assert!(gone.contains(&"- agreement USA `IRQ` to IRQ: up to SECRET, onward not allowed revoked".to_string()));
    }

    #[test]
    fn deconfliction_settings_are_checked() {
        let unknown_party = COALITION.replace("identify = [\"USA\"]", "identify = [\"XYZ\"]");
        let error = parse(&unknown_party).unwrap_err().to_string();
        assert!(error.contains("`XYZ` is not a declared party"), "{error}");
        let too_wide = COALITION.replace("air = 5000", "air = 500000");
        let error = parse(&too_wide).unwrap_err().to_string();
        assert!(error.contains("buffer_m.air"), "{error}");
        let unknown_field = COALITION.replace("[deconfliction]\n", "[deconfliction]\nradius = 3\n");
        assert!(matches!(parse(&unknown_field), Err(ApplyError::Syntax(_))));
        let defaults = COALITION.split("[deconfliction]").next().unwrap();
        assert_eq!(parse(defaults).unwrap().deconfliction, tearline_deconflict::Settings::default());
    }

    #[test]
    fn collections_are_checked() {
        let head = "[[party]]\ncode = \"USA\"\nname = \"x\"\n[[party]]\ncode = \"IRQ\"\nname = \"y\"\n";
        let collection = |fields: &str| format!("{head}[[collection]]\ntitle = \"t\"\nowner = \"USA\"\n{fields}");
        let ok = parse(&collection("id = \"2B1C8F4E-7D4A-4C55-9A1E-3F6D1E0B9A01\"\nwriters = [\"IRQ\"]")).unwrap();
        let declared = &ok.collections[0];
        assert_eq!(declared.id, "2b1c8f4e-7d4a-4c55-9a1e-3f6d1e0b9a01", "ids are kept in canonical form");
        assert_eq!((declared.readers.clone(), declared.writers.len()), (None, 1));
        let err = |fields: &str| parse(&collection(fields)).unwrap_err().to_string();
        assert!(err("id = \"c1\"").contains("not a UUID"));
        assert!(err("id = \"2b1c8f4e-7d4a-4c55-9a1e-3f6d1e0b9a01\"\nwriters = [\"XYZ\"]")
            .contains("`XYZ` is neither a declared party nor a group"));
        let feed = Collection::feed_id(&Code::new("IRQ").unwrap());
        assert!(err(&format!("id = \"{feed}\"")).contains("built-in collection"));
        let twice = format!(
            "{}\n[[collection]]\nid = \"{}\"\ntitle = \"u\"\nowner = \"IRQ\"\n",
            collection("id = \"2b1c8f4e-7d4a-4c55-9a1e-3f6d1e0b9a01\""),
            "2b1c8f4e-7d4a-4c55-9a1e-3f6d1e0b9a01"
        );
        assert!(parse(&twice).unwrap_err().to_string().contains("declared twice"));
    }

    #[test]
    fn bad_files_are_refused_with_what_and_why() {
        let err = |text: &str| parse(text).unwrap_err().to_string();
        assert!(err("[[party]]\ncode = \"US\"\nname = \"x\"").contains("party 1 (`US`)"));
        assert!(err("[[party]]\ncode = \"USA\"\nname = \"x\"\ncolour = 1").contains("unknown field"));
        assert!(err(
            "[[party]]\ncode = \"USA\"\nname = \"x\"\n[[user]]\nname = \"a\"\nparty = \"IRQ\"\nclearance = \"S\""
        )
        .contains("`IRQ` is not a declared party"));
        assert!(err("[[party]]\ncode = \"USA\"\nname = \"x\"\n[[agreement]]\nfrom = \"USA\"\nto = [\"XYZ\"]\nmax_classification = \"S\"")
            .contains("`XYZ` is neither a declared party nor a group"));
        assert!(err(
            "[[party]]\ncode = \"USA\"\nname = \"x\"\n[[group]]\ncode = \"BIC\"\nname = \"b\"\nmembers = [\"IRQ\"]"
        )
        .contains("member `IRQ` is not a declared party"));
        assert!(err(
            "[[party]]\ncode = \"USA\"\nname = \"x\"\n[[user]]\nname = \"a\"\nparty = \"USA\"\nclearance = \"HIGH\""
        )
        .contains("`HIGH` is not a classification"));
        assert!(err("version = 2").contains("version 2"));
        let dated = "[[party]]\ncode = \"USA\"\nname = \"x\"\n[[party]]\ncode = \"IRQ\"\nname = \"y\"\n[[agreement]]\nfrom = \"USA\"\nto = [\"IRQ\"]\nmax_classification = \"S\"\n";
        let declared =
            parse(&format!("{dated}valid_from = 2026-01-01T00:00:00Z\nvalid_until = \"2027-01-01T00:00:00+01:00\"\n"))
                .unwrap();
        assert_eq!(declared.agreements[0].valid_from, Some(time::macros::datetime!(2026-01-01 0:00 UTC)));
        assert_eq!(declared.agreements[0].valid_until, Some(time::macros::datetime!(2027-01-01 0:00 +1)));
        assert!(err(&format!("{dated}valid_from = 2026-01-01\n")).contains("`valid_from` is not a date and time"));
        assert!(err(&format!("{dated}valid_from = 2027-01-01T00:00:00Z\nvalid_until = 2026-01-01T00:00:00Z\n"))
            .contains("not after"));
        assert!(
            err("[[party]]\ncode = \"USA\"\nname = \"x\"\n[[party]]\ncode = \"USA\"\nname = \"y\"").contains("twice")
        );
    }
}
