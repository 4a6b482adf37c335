//! Random coalitions and reports: every user's renderings and listing match the oracle, after
//! submission, after the coalition changes, and after time passes an agreement's boundary.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use proptest::prelude::*;
use tearline_hub::{Hub, HubError, SqlStore};
use tearline_model::{Classification, Coalition, Code, Report, User};
use time::{Duration, OffsetDateTime};

use crate::oracle;

pub(crate) const PARTIES: [&str; 4] = ["AAA", "BBB", "CCC", "DDD"];
const GROUPS: [&str; 2] = ["GRPX", "GRPY"];
const TOPICS: [&str; 2] = ["alpha", "beta"];
const CLASSES: [&str; 4] = ["U", "C", "S", "TS"];

#[derive(Debug, Clone)]
struct Agreement {
    from: usize,
    to: Vec<usize>, // indexes into PARTIES then GROUPS
    max: usize,
    topics: Option<Vec<usize>>,
    /// Valid from now + 1 day (`Some(true)`), until now + 1 day (`Some(false)`), or always.
    window: Option<bool>,
    onward: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct World {
    members: Vec<Vec<usize>>, // per group, party indexes
    agreements: Vec<Agreement>,
    embargoes: Vec<(usize, usize)>, // (from party, against party-or-group)
    clearances: Vec<Vec<usize>>,    // per party, users' clearances
}

#[derive(Debug, Clone)]
pub(crate) struct Mark {
    pub class: usize,
    pub orcon: bool,
    pub dissemination: u8, // 0 open, 1 NOFORN, 2 REL TO
    pub rel_to: Vec<usize>,
    pub tlp: Option<usize>,
}

#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub originator: usize,
    topics: Vec<usize>,
    title: Mark,
    paragraphs: Vec<Mark>,
}

pub(crate) fn code_name(index: usize) -> &'static str {
    if index < PARTIES.len() {
        PARTIES[index]
    } else {
        GROUPS[(index - PARTIES.len()) % GROUPS.len()]
    }
}

pub(crate) fn mark() -> impl Strategy<Value = Mark> {
    (0..4usize, any::<bool>(), 0..3u8, prop::collection::vec(0..6usize, 1..4), prop::option::weighted(0.3, 0..5usize))
        .prop_map(|(class, orcon, dissemination, rel_to, tlp)| Mark { class, orcon, dissemination, rel_to, tlp })
}

pub(crate) fn world() -> impl Strategy<Value = World> {
    let agreement = (
        0..4usize,
        prop::collection::vec(0..6usize, 1..3),
        0..4usize,
        prop::option::weighted(0.3, prop::collection::vec(0..2usize, 1..3)),
        prop::option::weighted(0.3, any::<bool>()),
        any::<bool>(),
    )
        .prop_map(|(from, to, max, topics, window, onward)| Agreement { from, to, max, topics, window, onward });
    (
        prop::collection::vec(prop::collection::vec(0..4usize, 0..4), 2),
        prop::collection::vec(agreement, 0..7),
        prop::collection::vec((0..4usize, 0..6usize), 0..3),
        prop::collection::vec(prop::collection::vec(0..4usize, 1..3), 4),
    )
        .prop_map(|(members, agreements, embargoes, clearances)| World {
            members,
            agreements,
            embargoes,
            clearances,
        })
}

pub(crate) fn draft() -> impl Strategy<Value = Draft> {
    (0..4usize, prop::collection::vec(0..2usize, 0..3), mark(), prop::collection::vec(mark(), 1..5))
        .prop_map(|(originator, topics, title, paragraphs)| Draft { originator, topics, title, paragraphs })
}

fn toml_list(items: impl IntoIterator<Item = String>) -> String {
    let quoted: Vec<String> = items.into_iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap()
}

/// The world as an `apply` file; every party also gets a TOP SECRET author.
pub(crate) fn coalition_toml(world: &World, now: OffsetDateTime) -> String {
    let mut out = String::new();
    for party in PARTIES {
        out += &format!("[[party]]\ncode = \"{party}\"\nname = \"Party {party}\"\n\n");
    }
    for (g, members) in world.members.iter().enumerate() {
        let members: BTreeSet<&str> = members.iter().map(|m| PARTIES[*m]).collect();
        out += &format!(
            "[[group]]\ncode = \"{}\"\nname = \"group\"\nmembers = {}\n\n",
            GROUPS[g],
            toml_list(members.into_iter().map(String::from))
        );
    }
    for (n, a) in world.agreements.iter().enumerate() {
        let to: BTreeSet<&str> = a.to.iter().map(|c| code_name(*c)).filter(|c| *c != PARTIES[a.from]).collect();
        if to.is_empty() {
            continue;
        }
        out += &format!(
            "[[agreement]]\nid = \"a{n}\"\nfrom = \"{}\"\nto = {}\nmax_classification = \"{}\"\n",
            PARTIES[a.from],
            toml_list(to.into_iter().map(String::from)),
            CLASSES[a.max]
        );
        if let Some(topics) = &a.topics {
            let topics: BTreeSet<&str> = topics.iter().map(|t| TOPICS[*t]).collect();
            out += &format!("topics = {}\n", toml_list(topics.into_iter().map(String::from)));
        }
        if a.onward {
            out += "onward = true\n";
        }
        match a.window {
            Some(true) => out += &format!("valid_from = {}\n", rfc3339(now + Duration::days(1))),
            Some(false) => out += &format!("valid_until = {}\n", rfc3339(now + Duration::days(1))),
            None => {}
        }
        out += "\n";
    }
    let mut embargoes: BTreeMap<usize, BTreeSet<&str>> = BTreeMap::new();
    for (from, against) in &world.embargoes {
        if code_name(*against) != PARTIES[*from] {
            embargoes.entry(*from).or_default().insert(code_name(*against));
        }
    }
    for (from, against) in embargoes {
        out += &format!(
            "[[embargo]]\nfrom = \"{}\"\nagainst = {}\n\n",
            PARTIES[from],
            toml_list(against.into_iter().map(String::from))
        );
    }
    for (p, clearances) in world.clearances.iter().enumerate() {
        out += &format!("[[user]]\nname = \"author-{p}\"\nparty = \"{}\"\nclearance = \"TS\"\n\n", PARTIES[p]);
        for (u, class) in clearances.iter().enumerate() {
            out += &format!(
                "[[user]]\nname = \"user-{p}-{u}\"\nparty = \"{}\"\nclearance = \"{}\"\n\n",
                PARTIES[p], CLASSES[*class]
            );
        }
    }
    out
}

pub(crate) fn mark_text(mark: &Mark) -> String {
    let mut controls = Vec::new();
    if mark.orcon {
        controls.push("OC".to_string());
    }
    match mark.dissemination {
        1 => controls.push("NF".to_string()),
        2 => {
            let codes: BTreeSet<&str> = mark.rel_to.iter().map(|c| code_name(*c)).collect();
            controls.push(format!("REL TO {}", codes.into_iter().collect::<Vec<_>>().join(", ")));
        }
        _ => {}
    }
    let mut text = CLASSES[mark.class].to_string();
    if !controls.is_empty() {
        text += &format!("//{}", controls.join("/"));
    }
    if let Some(tlp) = mark.tlp {
        text += &format!("//TLP:{}", ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"][tlp]);
    }
    text
}

pub(crate) fn report_text(draft: &Draft) -> String {
    let mut out = format!("TITLE: ({}) Title of a report\n", mark_text(&draft.title));
    if !draft.topics.is_empty() {
        let topics: BTreeSet<&str> = draft.topics.iter().map(|t| TOPICS[*t]).collect();
        out += &format!("TOPICS: {}\n", topics.into_iter().collect::<Vec<_>>().join(", "));
    }
    for (i, paragraph) in draft.paragraphs.iter().enumerate() {
        out += &format!("\n({}) Paragraph number {i}.\n", mark_text(paragraph));
    }
    out
}

pub(crate) struct Fixture {
    _dir: tempfile::TempDir,
    pub hub: Hub,
}

pub(crate) async fn fixture(now: OffsetDateTime) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqlStore::open_sqlite(dir.path()).await.unwrap());
    tearline_hub::init(store.as_ref(), None).await.unwrap();
    let hub = Hub::open(store, None, now).await.unwrap();
    Fixture { _dir: dir, hub }
}

/// The coalition as the oracle sees it, parsed from the same file by the model only.
pub(crate) fn oracle_coalition(toml: &str) -> (Coalition, Vec<User>) {
    let declared = tearline_hub::coalition_file::parse(toml).unwrap();
    let coalition = Coalition::new(declared.parties, declared.groups, declared.agreements, declared.embargoes);
    (coalition, declared.users)
}

/// Checks every user's view of every report, and every user's listing, against the oracle.
async fn check_all(hub: &Hub, coalition: &Coalition, users: &[User], reports: &[Report], now: OffsetDateTime) {
    for user in users {
        let mut expected_ids = BTreeSet::new();
        for report in reports {
            let expected = oracle::expected_paragraphs(coalition, report, user, now);
            let answer = hub.view(user, &report.id, now).await;
            // Withheld is exactly the error of an unknown id, nothing more telling.
            if let Err(error) = &answer {
                assert!(matches!(error, HubError::NotFound), "{error:?}");
            }
            let actual = answer.ok().map(|r| r.paragraphs.iter().map(|(i, _)| *i).collect::<Vec<_>>());
            assert_eq!(
                actual, expected,
                "user {} ({}, {}) viewing {}:\n{report:#?}",
                user.name, user.party, user.clearance, report.id
            );
            if expected.is_some() {
                expected_ids.insert(report.id.clone());
            }
        }
        let listed: Vec<String> = hub.list(user, None, 1000, now).await.unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(listed.iter().cloned().collect::<BTreeSet<_>>(), expected_ids, "listing of {}", user.name);
        // Paging one at a time with the cursor walks the same list, in the same order.
        let mut paged = Vec::new();
        let mut cursor: Option<String> = None;
        while let Some(next) = hub.list(user, cursor.as_deref(), 1, now).await.unwrap().pop() {
            paged.push(next.id.clone());
            cursor = Some(next.id);
        }
        assert_eq!(paged, listed);
        // A cursor naming a report the user may not see is refused like an unknown one.
        for report in reports.iter().filter(|r| !expected_ids.contains(&r.id)) {
            assert!(matches!(hub.list(user, Some(&report.id), 10, now).await, Err(HubError::BadCursor)));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn renderings_and_listings_match_the_oracle(
        first in world(),
        second in world(),
        drafts in prop::collection::vec(draft(), 1..6),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
            let fx = fixture(now).await;
            let toml = coalition_toml(&first, now);
            fx.hub.apply(&toml, now).await.unwrap();
            let (coalition, users) = oracle_coalition(&toml);

            let mut reports = Vec::new();
            for draft in &drafts {
                let author = fx.hub.user(&format!("author-{}", draft.originator)).await.unwrap();
                let id = fx.hub.submit_report(&author, &report_text(draft), now).await.unwrap().id;
                reports.push(fx.hub.store().report(&id).await.unwrap().unwrap());
            }
            check_all(&fx.hub, &coalition, &users, &reports, now).await;

            // The coalition changes: the index follows at once.
            let toml = coalition_toml(&second, now);
            fx.hub.apply(&toml, now).await.unwrap();
            let (coalition, users) = oracle_coalition(&toml);
            check_all(&fx.hub, &coalition, &users, &reports, now).await;

            // Two days later, agreements that started or ended have taken effect.
            let later = now + Duration::days(2);
            check_all(&fx.hub, &coalition, &users, &reports, later).await;
            let check = fx.hub.verify_index(later).await.unwrap();
            assert!(check.mismatches.is_empty());
        });
    }
}

#[test]
fn the_generator_writes_a_file_the_hub_accepts() {
    // A sanity check of the generator itself: a fixed world round-trips through `apply`'s parser.
    let world = World {
        members: vec![vec![0, 1], vec![]],
        agreements: vec![Agreement {
            from: 0,
            to: vec![1, 4],
            max: 2,
            topics: Some(vec![0]),
            window: Some(true),
            onward: true,
        }],
        embargoes: vec![(0, 2)],
        clearances: vec![vec![1], vec![2], vec![3], vec![0]],
    };
    let (coalition, users) = oracle_coalition(&coalition_toml(&world, OffsetDateTime::UNIX_EPOCH));
    assert_eq!(coalition.agreements().len(), 1);
    assert_eq!(coalition.agreements()[0].to.len(), 2);
    assert_eq!(users.len(), 8);
    assert_eq!(users.iter().find(|u| u.name.as_str() == "user-1-0").unwrap().clearance, Classification::Secret);
    assert_eq!(coalition.embargoes()[0].against, Code::new("CCC").unwrap());
}
