//! Provenance across a chain of derived reports (DESIGN.md section 2, "Provenance", and
//! section 3): random coalitions of five parties, and a chain of reports each declaring the
//! previous one as its `SOURCES:`, written by changing parties.
//!
//! After every submission, every user's view of every report of the chain agrees with the oracle,
//! which follows the chain by itself: a declared source must be released to the author (else the
//! submission is refused and nothing is stored); a derived report's portions carry the
//! combination of the source portions the author's party received (highest classification,
//! caveats united, the literal intersection of `REL TO` codes, the most restrictive TLP), its
//! originators are its author's party and every originator of its source, and its topics are
//! united with the source's. Deriving from one's own report that derives from nothing is not
//! provenance: a party may re-mark its own content.
//!
//! The invariant checked on top, independently of how markings are combined: **no party ever
//! receives a portion of a derived report that it could not receive of every ancestor's content
//! it derives from** (the portions of each report up the chain that the deriving party received).
//! A party can never lower the restrictions it inherited.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use tearline_hub::{Hub, HubError};
use tearline_model::{Classification, Coalition, Code, Marking, Rendering, Tlp, Topic, User};
use time::{Duration, OffsetDateTime};

use crate::oracle::{self, Restrictions};
use crate::properties::{fixture, oracle_coalition};

const PARTIES: [&str; 5] = ["AAA", "BBB", "CCC", "DDD", "EEE"];
const GROUPS: [&str; 2] = ["GRPX", "GRPY"];
const TOPICS: [&str; 2] = ["alpha", "beta"];
const CLASSES: [&str; 4] = ["U", "C", "S", "TS"];
const CLASSIFICATIONS: [Classification; 4] =
    [Classification::Unclassified, Classification::Confidential, Classification::Secret, Classification::TopSecret];
const TLPS: [&str; 5] = ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"];
/// Party codes, then group codes.
const CODES: usize = PARTIES.len() + GROUPS.len();

#[derive(Debug, Clone)]
struct Agreement {
    from: usize,
    to: Vec<usize>, // indexes into CODES
    max: usize,
    topics: Option<Vec<usize>>,
    /// Valid only from tomorrow: not in force yet.
    pending: bool,
}

#[derive(Debug, Clone)]
struct World {
    members: Vec<Vec<usize>>, // per group, party indexes
    agreements: Vec<Agreement>,
    embargoes: Vec<(usize, usize)>, // (from party, against code)
    clearances: Vec<Vec<usize>>,    // per party, its users' clearances
}

#[derive(Debug, Clone)]
struct Mark {
    class: usize,
    orcon: bool,
    dissemination: u8, // 0 open, 1 NOFORN, 2 REL TO
    rel_to: Vec<usize>,
    tlp: Option<usize>,
}

/// One report of the chain: by user `user` (modulo the party's users) of the first of `parties`
/// that may see its source (each of the others is refused, in turn).
#[derive(Debug, Clone)]
struct Step {
    parties: Vec<usize>,
    user: usize,
    topics: Vec<usize>,
    title: Mark,
    paragraphs: Vec<Mark>,
}

fn code_name(index: usize) -> &'static str {
    if index < PARTIES.len() {
        PARTIES[index]
    } else {
        GROUPS[(index - PARTIES.len()) % GROUPS.len()]
    }
}

fn code(index: usize) -> Code {
    Code::new(code_name(index)).unwrap()
}

/// A coalition where most parties share with most others; denser when `permissive`.
fn world(permissive: bool) -> impl Strategy<Value = World> {
    let (share, pending) = if permissive { (0.9, 0.02) } else { (0.7, 0.1) };
    let max = if permissive {
        prop_oneof![1 => Just(1usize), 1 => Just(2), 4 => Just(3)].boxed()
    } else {
        prop_oneof![1 => Just(0usize), 1 => Just(1), 2 => Just(2), 3 => Just(3)].boxed()
    };
    let agreement = move |from: usize| {
        (
            prop::collection::vec(prop::bool::weighted(share), CODES),
            max.clone(),
            prop::option::weighted(pending * 2.0, prop::collection::vec(0..TOPICS.len(), 1..3)),
            prop::bool::weighted(pending),
        )
            .prop_map(move |(to, max, topics, pending)| Agreement {
                from,
                to: (0..CODES).filter(|c| to[*c]).collect(),
                max,
                topics,
                pending,
            })
    };
    let agreements: Vec<_> = (0..PARTIES.len()).map(|from| prop::collection::vec(agreement(from), 1..3)).collect();
    let clearance = if permissive {
        prop_oneof![1 => Just(1usize), 1 => Just(2), 6 => Just(3)].boxed()
    } else {
        prop_oneof![1 => Just(0usize), 1 => Just(1), 2 => Just(2), 3 => Just(3)].boxed()
    };
    (
        prop::collection::vec(prop::collection::vec(0..PARTIES.len(), 0..4), GROUPS.len()),
        agreements,
        prop::collection::vec((0..PARTIES.len(), 0..CODES), 0..if permissive { 2 } else { 3 }),
        prop::collection::vec(prop::collection::vec(clearance, 1..3), PARTIES.len()),
    )
        .prop_map(|(members, agreements, embargoes, clearances)| World {
            members,
            agreements: agreements.into_iter().flatten().collect(),
            embargoes,
            clearances,
        })
}

/// A portion mark; mostly open and low when `permissive`, so that chains get long.
fn mark(permissive: bool) -> impl Strategy<Value = Mark> {
    let (class, dissemination, tlp) = if permissive {
        (
            prop_oneof![10 => Just(0usize), 2 => Just(1), 1 => Just(2), 1 => Just(3)].boxed(),
            prop_oneof![30 => Just(0u8), 1 => Just(1), 3 => Just(2)].boxed(),
            0.05,
        )
    } else {
        ((0..CLASSES.len()).boxed(), prop_oneof![5 => Just(0u8), 1 => Just(1), 4 => Just(2)].boxed(), 0.35)
    };
    (
        class,
        prop::bool::weighted(0.3),
        dissemination,
        prop::collection::vec(0..CODES, 1..6),
        prop::option::weighted(tlp, 0..TLPS.len()),
    )
        .prop_map(|(class, orcon, dissemination, rel_to, tlp)| Mark { class, orcon, dissemination, rel_to, tlp })
}

/// A title's mark: the title is required, so a permissive chain mostly keeps it `(U)`.
fn title(permissive: bool) -> impl Strategy<Value = Mark> {
    let plain = Mark { class: 0, orcon: false, dissemination: 0, rel_to: Vec::new(), tlp: None };
    if permissive {
        prop_oneof![4 => Just(plain), 1 => mark(true)].boxed()
    } else {
        mark(false).boxed()
    }
}

/// A coalition and a chain, both permissive (long chains) or not (more refusals).
fn case() -> impl Strategy<Value = (bool, World, Vec<Step>)> {
    any::<bool>().prop_flat_map(|permissive| (Just(permissive), world(permissive), chain(permissive)))
}

/// Four to six reports. The first five authors are the parties in a random order, each replaced
/// by a random party now and then: chains cross four parties or more, some come back to an
/// earlier author (who is then an originator of its source). When the author may not see the
/// source, the other parties try in turn, those new to the chain first.
fn chain(permissive: bool) -> impl Strategy<Value = Vec<Step>> {
    let step = (
        0..3usize,
        prop::collection::vec(0..TOPICS.len(), 0..2),
        title(permissive),
        prop::collection::vec(mark(permissive), 1..4),
    );
    (
        Just((0..PARTIES.len()).collect::<Vec<_>>()).prop_shuffle(),
        prop::collection::vec((prop::option::weighted(0.2, 0..PARTIES.len()), step), 4..7),
    )
        .prop_map(|(order, steps)| {
            steps
                .into_iter()
                .enumerate()
                .map(|(k, (party, (user, topics, title, paragraphs)))| Step {
                    parties: {
                        let mut parties = vec![party.unwrap_or(order[k % order.len()])];
                        for next in (1..order.len()).map(|n| order[(k + n) % order.len()]) {
                            if !parties.contains(&next) {
                                parties.push(next);
                            }
                        }
                        parties
                    },
                    user,
                    topics,
                    title,
                    paragraphs,
                })
                .collect()
        })
}

fn toml_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = items.into_iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

fn coalition_toml(world: &World, now: OffsetDateTime) -> String {
    let mut out = String::new();
    for party in PARTIES {
        out += &format!("[[party]]\ncode = \"{party}\"\nname = \"Party {party}\"\n\n");
    }
    for (g, members) in world.members.iter().enumerate() {
        let members: BTreeSet<&str> = members.iter().map(|m| PARTIES[*m]).collect();
        out += &format!("[[group]]\ncode = \"{}\"\nname = \"group\"\nmembers = {}\n\n", GROUPS[g], toml_list(members));
    }
    for (n, a) in world.agreements.iter().enumerate() {
        let to: BTreeSet<&str> = a.to.iter().map(|c| code_name(*c)).filter(|c| *c != PARTIES[a.from]).collect();
        if to.is_empty() {
            continue;
        }
        out += &format!(
            "[[agreement]]\nid = \"a{n}\"\nfrom = \"{}\"\nto = {}\nmax_classification = \"{}\"\n",
            PARTIES[a.from],
            toml_list(to),
            CLASSES[a.max]
        );
        if let Some(topics) = &a.topics {
            out += &format!("topics = {}\n", toml_list(topics.iter().map(|t| TOPICS[*t]).collect::<BTreeSet<_>>()));
        }
        if a.pending {
            let from = (now + Duration::days(1)).format(&time::format_description::well_known::Rfc3339).unwrap();
            out += &format!("valid_from = {from}\n");
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
        out += &format!("[[embargo]]\nfrom = \"{}\"\nagainst = {}\n\n", PARTIES[from], toml_list(against));
    }
    for (p, clearances) in world.clearances.iter().enumerate() {
        for (u, class) in clearances.iter().enumerate() {
            out += &format!(
                "[[user]]\nname = \"user-{p}-{u}\"\nparty = \"{}\"\nclearance = \"{}\"\n\n",
                PARTIES[p], CLASSES[*class]
            );
        }
    }
    out
}

/// The mark as written, its classification capped at `ceiling` (an author cannot mark above its
/// own clearance).
fn mark_text(mark: &Mark, ceiling: usize) -> String {
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
    let mut text = CLASSES[mark.class.min(ceiling)].to_string();
    if !controls.is_empty() {
        text += &format!("//{}", controls.join("/"));
    }
    if let Some(tlp) = mark.tlp {
        text += &format!("//TLP:{}", TLPS[tlp]);
    }
    text
}

/// The oracle's own reading of a mark written by `author` (not the model's parser).
fn restrictions(mark: &Mark, ceiling: usize, author: &Code) -> Restrictions {
    let classification = CLASSIFICATIONS[mark.class.min(ceiling)];
    let tlp = mark.tlp.map(|t| [Tlp::Clear, Tlp::Green, Tlp::Amber, Tlp::AmberStrict, Tlp::Red][t]);
    let rel_to = (mark.dissemination == 2)
        .then(|| mark.rel_to.iter().map(|c| code(*c)).chain(std::iter::once(author.clone())).collect());
    Restrictions { classification, orcon: mark.orcon, noforn: mark.dissemination == 1, rel_to, tlp }
}

/// The text of step `k`, declaring `source`. Every text is shorter than four words, so that no
/// text reuse is ever found between the reports: the declared source is the only provenance.
fn report_text(k: usize, step: &Step, ceiling: usize, source: Option<&str>) -> String {
    let mut out = format!("TITLE: ({}) Step {k} title\n", mark_text(&step.title, ceiling));
    if !step.topics.is_empty() {
        let topics: BTreeSet<&str> = step.topics.iter().map(|t| TOPICS[*t]).collect();
        out += &format!("TOPICS: {}\n", topics.into_iter().collect::<Vec<_>>().join(", "));
    }
    if let Some(source) = source {
        out += &format!("SOURCES: {source}\n");
    }
    for (i, paragraph) in step.paragraphs.iter().enumerate() {
        out += &format!("\n({}) Item {k}.{i}\n", mark_text(paragraph, ceiling));
    }
    out
}

/// A report of the chain as the oracle follows it.
#[derive(Debug, Clone)]
struct Link {
    id: String,
    /// Its author's party and every originator of its provenance.
    originators: BTreeSet<Code>,
    topics: BTreeSet<Topic>,
    /// Effective restrictions of portion `i` (0 the title).
    portions: Vec<Restrictions>,
    /// The content it derives from, transitively: (index of a report up the chain, the portions
    /// of it that the deriving party received).
    lineage: Vec<(usize, BTreeSet<usize>)>,
    /// Some content up the chain has no topics: no topic-scoped agreement covers it, so none
    /// covers this.
    untagged: bool,
}

impl Link {
    fn party_may_receive(&self, coalition: &Coalition, index: usize, party: &Code, now: OffsetDateTime) -> bool {
        let mut topics = self.topics.clone();
        if self.untagged {
            // A topic no generated scope names.
            topics.insert(Topic::new("no-scope-names-this").unwrap());
        }
        oracle::party_may_receive_from(coalition, &self.originators, &topics, &self.portions[index], party, now)
    }

    fn user_may_receive(&self, coalition: &Coalition, index: usize, user: &User, now: OffsetDateTime) -> bool {
        user.clearance >= self.portions[index].classification
            && self.party_may_receive(coalition, index, &user.party, now)
    }

    /// The paragraphs `user` gets, or `None` when the report does not exist for it.
    fn expected(&self, coalition: &Coalition, user: &User, now: OffsetDateTime) -> Option<Vec<usize>> {
        if !self.user_may_receive(coalition, 0, user, now) {
            return None;
        }
        let shown: Vec<usize> =
            (0..self.portions.len() - 1).filter(|i| self.user_may_receive(coalition, i + 1, user, now)).collect();
        (!shown.is_empty()).then_some(shown)
    }

    /// Who a marking lets in besides the originators (always in): everyone the rules allow
    /// (`None`), or the codes listed. The model keeps an originator in a combined `REL TO`
    /// list, and reads a list left with originators only as NOFORN: the same for every
    /// non-originator, which is all a marking decides.
    fn reach(&self, restrictions: &Restrictions) -> Option<BTreeSet<Code>> {
        if restrictions.noforn {
            return Some(BTreeSet::new());
        }
        restrictions.rel_to.as_ref().map(|list| list.difference(&self.originators).cloned().collect())
    }

    fn same_restrictions(&self, shown: &Marking, expected: &Restrictions) -> bool {
        let shown = Restrictions::of(shown);
        (shown.classification, shown.orcon, shown.tlp, self.reach(&shown))
            == (expected.classification, expected.orcon, expected.tlp, self.reach(expected))
    }
}

/// Every user's view of every report of the chain, and listing, against the oracle; and the
/// invariant for every portion shown.
async fn check_all(hub: &Hub, coalition: &Coalition, users: &[User], links: &[Link], now: OffsetDateTime) {
    assert_eq!(hub.store().count_reports().await.unwrap(), links.len() as u64, "stored reports");
    for user in users {
        let who = format!("user {} ({}, {})", user.name, user.party, user.clearance);
        let mut visible = BTreeSet::new();
        for (k, link) in links.iter().enumerate() {
            let expected = link.expected(coalition, user, now);
            let answer = hub.view(user, &link.id, now).await;
            if let Err(error) = &answer {
                assert!(matches!(error, HubError::NotFound), "{who} viewing R{k}: {error:?}");
            }
            let rendering: Option<Rendering> = answer.ok();
            let shown = rendering.as_ref().map(|r| r.paragraphs.iter().map(|(i, _)| *i).collect::<Vec<_>>());
            assert_eq!(shown, expected, "{who} viewing R{k}:\n{link:#?}");
            let Some(rendering) = rendering else { continue };
            visible.insert(link.id.clone());

            // Each portion shown carries the restrictions the oracle combined.
            let portions =
                std::iter::once((0, &rendering.title)).chain(rendering.paragraphs.iter().map(|(i, p)| (i + 1, p)));
            for (index, portion) in portions {
                assert!(
                    link.same_restrictions(&portion.marking, &link.portions[index]),
                    "{who}: R{k} portion {index} is shown as {}, the oracle expects {:?}\n{link:#?}",
                    portion.marking.portion_mark(),
                    link.portions[index]
                );
                // The invariant: whatever is shown of a derived report, this user could have
                // received of every ancestor's content it derives from.
                for (j, received) in &link.lineage {
                    for y in received {
                        assert!(
                            links[*j].user_may_receive(coalition, *y, user, now),
                            "{who} receives R{k} portion {index} ({}), derived from R{j} portion {y} \
                             ({:?}), which it may not receive\nR{k}: {link:#?}\nR{j}: {:#?}",
                            portion.marking.portion_mark(),
                            links[*j].portions[*y],
                            links[*j]
                        );
                    }
                }
            }
        }
        let listed: BTreeSet<String> =
            hub.list(user, None, 1000, now).await.unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(listed, visible, "listing of {who}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Each report after the first declares the last accepted one. A declared source the author
    /// may not see refuses the submission (and stores nothing); one it may see makes the new
    /// report derived. After every attempt every user's views and listing match the oracle, and
    /// no portion shown lowers an ancestor's restrictions.
    #[test]
    fn derived_reports_never_lower_their_sources_restrictions((_permissive, world, steps) in case()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let now = OffsetDateTime::from_unix_timestamp(1_750_000_000).unwrap();
            let fx = fixture(now).await;
            let toml = coalition_toml(&world, now);
            fx.hub.apply(&toml, now).await.unwrap();
            let (coalition, users) = oracle_coalition(&toml);

            let mut links: Vec<Link> = Vec::new();
            for (k, step) in steps.iter().enumerate() {
                let source = links.last().cloned();
                // After the step's own author, parties new to the chain try first.
                let mut candidates: Vec<Code> = step.parties.iter().map(|p| code(*p)).collect();
                candidates[1..].sort_by_key(|p| source.as_ref().is_some_and(|s| s.originators.contains(p)));
                for party in candidates {
                    let own: Vec<&User> = users.iter().filter(|u| u.party == party).collect();
                    let author = own[step.user % own.len()];
                    let ceiling = CLASSIFICATIONS.iter().position(|c| *c == author.clearance).unwrap();
                    let text = report_text(k, step, ceiling, source.as_ref().map(|s| s.id.as_str()));
                    let answer = fx.hub.submit_report(author, &text, now).await;
                    let may_see_source = source.as_ref().is_none_or(|s| s.expected(&coalition, author, now).is_some());
                    if !may_see_source {
                        assert!(
                            matches!(answer, Err(HubError::Rejected(_))),
                            "step {k}: {} may not see its source, yet: {answer:?}\n{text}",
                            author.name
                        );
                        check_all(&fx.hub, &coalition, &users, &links, now).await;
                        continue;
                    }
                    let submitted = answer.unwrap_or_else(|e| panic!("step {k} by {}: {e:?}\n{text}", author.name));

                    let mut link = Link {
                        id: submitted.id.clone(),
                        originators: BTreeSet::from([party.clone()]),
                        topics: step.topics.iter().map(|t| Topic::new(TOPICS[*t]).unwrap()).collect(),
                        portions: std::iter::once(&step.title)
                            .chain(&step.paragraphs)
                            .map(|m| restrictions(m, ceiling, &party))
                            .collect(),
                        lineage: Vec::new(),
                        untagged: false,
                    };
                    // A source that is the author's own and derives from nothing is no provenance.
                    let provenance = source.as_ref().filter(|s| s.originators != BTreeSet::from([party.clone()]));
                    match provenance {
                        None => assert!(submitted.derived_from.is_empty(), "step {k}: {:?}", submitted.derived_from),
                        Some(source) => {
                            let received: BTreeSet<usize> = (0..source.portions.len())
                                .filter(|i| source.party_may_receive(&coalition, *i, &party, now))
                                .collect();
                            let inherited = received
                                .iter()
                                .map(|i| source.portions[*i].clone())
                                .reduce(|a, b| a.and(&b))
                                .unwrap();
                            for portion in &mut link.portions {
                                *portion = portion.and(&inherited);
                            }
                            link.originators.extend(source.originators.iter().cloned());
                            link.topics.extend(source.topics.iter().cloned());
                            link.untagged = source.untagged || source.topics.is_empty();
                            link.lineage = source.lineage.clone();
                            link.lineage.push((links.len() - 1, received));
                            assert_eq!(submitted.derived_from.len(), 1, "step {k}: {:?}", submitted.derived_from);
                            assert_eq!(submitted.derived_from[0].source, source.id);
                            assert_eq!(submitted.derived_from[0].how, "declared");
                        }
                    }
                    links.push(link);
                    check_all(&fx.hub, &coalition, &users, &links, now).await;
                    break;
                }
            }
        });
    }
}
