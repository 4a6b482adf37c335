//! Onward release against a second, simple implementation of the onward rules: random
//! coalitions (agreements with and without `onward`), a report, recipients passing it on to
//! random parties and groups, and originator approvals. Nothing reaches a party that the rules
//! deny, at any hop, and everything they allow does.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use tearline_hub::{HubError, ShareRequest};
use tearline_model::{Coalition, Code, Marking, Report, Tlp};
use time::OffsetDateTime;

use crate::oracle;
use crate::properties::{code_name, fixture, mark_text, oracle_coalition, Mark, PARTIES};

/// A party passing the report on: holder, targets (parties and groups), and which portions.
#[derive(Debug, Clone)]
struct ShareDraft {
    holder: usize,
    to: Vec<usize>,
    portions: Option<Vec<usize>>,
}

fn share_draft() -> impl Strategy<Value = ShareDraft> {
    (
        0..4usize,
        prop::collection::vec(0..6usize, 1..5),
        prop::option::weighted(0.3, prop::collection::vec(0..5usize, 1..3)),
    )
        .prop_map(|(holder, to, portions)| ShareDraft { holder, to, portions })
}

/// A coalition where content travels: each party may have one agreement to some others (with
/// or without `onward`), groups of random members, and a few embargoes.
#[derive(Debug, Clone)]
struct Setting {
    /// Per party: (to, as a bit mask of parties; max classification; onward), if any.
    agreements: Vec<Option<(usize, usize, bool)>>,
    /// Per group (GRPX, GRPY): members as a bit mask.
    groups: Vec<usize>,
    /// (from, against: party or group index as `code_name` takes it).
    embargoes: Vec<(usize, usize)>,
    /// Per party: a second user's clearance.
    clearances: Vec<usize>,
    originator: usize,
    title: Mark,
    paragraphs: Vec<Mark>,
}

/// Markings that let content travel more often than not.
fn travelling_mark() -> impl Strategy<Value = Mark> {
    (
        prop::sample::select(vec![0usize, 0, 1, 1, 2, 3]),
        prop::bool::weighted(0.2),
        prop::sample::select(vec![0u8, 0, 0, 0, 0, 0, 1, 2, 2, 2]),
        prop::collection::vec(0..6usize, 1..4),
        prop::option::weighted(0.2, 0..5usize),
    )
        .prop_map(|(class, orcon, dissemination, rel_to, tlp)| Mark { class, orcon, dissemination, rel_to, tlp })
}

fn setting() -> impl Strategy<Value = Setting> {
    (
        prop::collection::vec(prop::option::weighted(0.8, (1..16usize, 1..4usize, prop::bool::weighted(0.7))), 4),
        prop::collection::vec(0..16usize, 2),
        prop::collection::vec((0..4usize, 0..6usize), 0..2),
        prop::collection::vec(0..4usize, 4),
        0..4usize,
        travelling_mark(),
        prop::collection::vec(travelling_mark(), 1..4),
    )
        .prop_map(|(agreements, groups, embargoes, clearances, originator, title, paragraphs)| Setting {
            agreements,
            groups,
            embargoes,
            clearances,
            originator,
            title,
            paragraphs,
        })
}

fn parties_of(mask: usize, except: usize) -> Vec<String> {
    (0..PARTIES.len()).filter(|q| *q != except && mask & (1 << q) != 0).map(|q| format!("\"{}\"", PARTIES[q])).collect()
}

fn setting_toml(setting: &Setting) -> String {
    let mut out = String::new();
    for party in PARTIES {
        out += &format!("[[party]]\ncode = \"{party}\"\nname = \"Party {party}\"\n\n");
    }
    for (g, mask) in setting.groups.iter().enumerate() {
        out += &format!(
            "[[group]]\ncode = \"{}\"\nname = \"group\"\nmembers = [{}]\n\n",
            code_name(PARTIES.len() + g),
            parties_of(*mask, usize::MAX).join(", ")
        );
    }
    for (p, agreement) in setting.agreements.iter().enumerate() {
        let Some((to, max, onward)) = agreement else { continue };
        let to = parties_of(*to, p);
        if !to.is_empty() {
            out += &format!(
                "[[agreement]]\nfrom = \"{}\"\nto = [{}]\nmax_classification = \"{}\"\nonward = {onward}\n\n",
                PARTIES[p],
                to.join(", "),
                ["U", "C", "S", "TS"][*max]
            );
        }
    }
    for (from, against) in &setting.embargoes {
        if code_name(*against) != PARTIES[*from] {
            out += &format!("[[embargo]]\nfrom = \"{}\"\nagainst = [\"{}\"]\n\n", PARTIES[*from], code_name(*against));
        }
    }
    for (p, clearance) in setting.clearances.iter().enumerate() {
        out += &format!("[[user]]\nname = \"author-{p}\"\nparty = \"{}\"\nclearance = \"TS\"\n\n", PARTIES[p]);
        out += &format!(
            "[[user]]\nname = \"user-{p}\"\nparty = \"{}\"\nclearance = \"{}\"\n\n",
            PARTIES[p],
            ["U", "C", "S", "TS"][*clearance]
        );
    }
    out
}

fn setting_report(setting: &Setting) -> String {
    let mut out = format!("TITLE: ({}) A report\n", mark_text(&setting.title));
    for (i, paragraph) in setting.paragraphs.iter().enumerate() {
        out += &format!("\n({}) Paragraph {i}.\n", mark_text(paragraph));
    }
    out
}

/// A share as the oracle keeps it.
struct Share {
    by: Code,
    to: Vec<Code>,
    portions: BTreeSet<usize>,
}

fn code(text: &str) -> Code {
    Code::new(text).unwrap()
}

fn includes(coalition: &Coalition, code: &Code, party: &Code) -> bool {
    code == party || coalition.groups().any(|g| &g.code == code && g.members.contains(party))
}

/// An active agreement from `from` covering `party` and the report's topics, up to `marking`,
/// and allowing onward release when `onward` is asked.
fn agreed(
    coalition: &Coalition,
    report: &Report,
    from: &Code,
    party: &Code,
    marking: &Marking,
    onward: bool,
    now: OffsetDateTime,
) -> bool {
    coalition.agreements().iter().any(|a| {
        &a.from == from
            && a.revoked_at.is_none_or(|t| now < t)
            && a.valid_from.is_none_or(|t| t <= now)
            && a.valid_until.is_none_or(|t| now < t)
            && a.max_classification >= marking.classification()
            && (!onward || a.onward)
            && a.to.iter().any(|to| includes(coalition, to, party))
            && match &a.topics {
                None => true,
                Some(scope) => !report.topics.is_empty() && report.topics.iter().all(|t| scope.contains(t)),
            }
    })
}

/// DESIGN.md section 3, onward release by `holder` to `party` of one portion.
fn onward_allowed(
    coalition: &Coalition,
    report: &Report,
    holder: &Code,
    party: &Code,
    marking: &Marking,
    approved: bool,
    now: OffsetDateTime,
) -> bool {
    let o = &report.originator;
    let embargoed = coalition.embargoes().iter().any(|e| &e.from == o && includes(coalition, &e.against, party));
    let listed = match marking.rel_to() {
        None => !marking.is_noforn(),
        Some(list) => list.parties().any(|p| p == party) || list.groups().any(|g| includes(coalition, g, party)),
    };
    let red_ok = marking.tlp() != Some(Tlp::Red) || marking.rel_to().is_some_and(|l| l.parties().any(|p| p == party));
    let holder_agreement = agreed(coalition, report, holder, party, marking, false, now);
    let free = !marking.is_orcon()
        && marking.tlp().is_none_or(|t| t < Tlp::Amber)
        && agreed(coalition, report, o, holder, marking, true, now);
    !embargoed && listed && red_ok && holder_agreement && (approved || free)
}

/// What each party holds: direct releases, then shares hop by hop; a party holds only when it
/// may see the title and at least one paragraph.
fn holdings(
    coalition: &Coalition,
    report: &Report,
    shares: &[Share],
    approved: &BTreeSet<Code>,
    now: OffsetDateTime,
) -> BTreeMap<Code, BTreeSet<usize>> {
    let markings: Vec<&Marking> = report.portions().map(|p| &p.marking).collect();
    let complete = |set: &BTreeSet<usize>| set.contains(&0) && set.iter().any(|i| *i > 0);
    let mut held: BTreeMap<Code, BTreeSet<usize>> = BTreeMap::new();
    for party in coalition.parties() {
        let allowed: BTreeSet<usize> = (0..markings.len())
            .filter(|i| {
                oracle::party_may_receive(coalition, &report.originator, &report.topics, markings[*i], &party.code, now)
            })
            .collect();
        if complete(&allowed) {
            held.insert(party.code.clone(), allowed);
        }
    }
    loop {
        let mut changed = false;
        for share in shares {
            let Some(by) = held.get(&share.by).cloned() else { continue };
            for party in coalition.parties().map(|p| &p.code) {
                if *party == share.by
                    || *party == report.originator
                    || !share.to.iter().any(|t| includes(coalition, t, party))
                {
                    continue;
                }
                let current = held.get(party).cloned().unwrap_or_default();
                let mut grown = current.clone();
                for i in by.intersection(&share.portions) {
                    if onward_allowed(coalition, report, &share.by, party, markings[*i], approved.contains(party), now)
                    {
                        grown.insert(*i);
                    }
                }
                if grown != current && complete(&grown) {
                    held.insert(party.clone(), grown);
                    changed = true;
                }
            }
        }
        if !changed {
            return held;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn passing_on_matches_the_oracle(
        setting in setting(),
        shares in prop::collection::vec(share_draft(), 1..7),
        approvals in prop::collection::vec(0..4usize, 0..2),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
            let fx = fixture(now).await;
            let hub = &fx.hub;
            let toml = setting_toml(&setting);
            hub.apply(&toml, now).await.unwrap();
            let (coalition, users) = oracle_coalition(&toml);
            let draft = &setting;
            let author = hub.user(&format!("author-{}", draft.originator)).await.unwrap();
            let id = hub.submit_report(&author, &setting_report(&setting), now).await.unwrap().id;
            let report = hub.store().report(&id).await.unwrap().unwrap();
            let portions = report.portions().count();

            let mut kept: Vec<Share> = Vec::new();
            let mut approved: BTreeSet<Code> = BTreeSet::new();
            for (n, planned) in shares.iter().enumerate() {
                let before = holdings(&coalition, &report, &kept, &approved, now);
                // Mostly a party that holds the report (others are refused as not found).
                let holders: Vec<usize> = (0..PARTIES.len())
                    .filter(|i| *i != draft.originator && before.contains_key(&code(PARTIES[*i])))
                    .collect();
                let index = if holders.is_empty() || n % 3 == 2 { planned.holder } else { holders[planned.holder % holders.len()] };
                let holder = code(PARTIES[index]);
                let user = hub.user(&format!("author-{index}")).await.unwrap();
                let chosen: Option<BTreeSet<usize>> = planned.portions.as_ref().map(|p| {
                    let held = before.get(&holder).cloned().unwrap_or_default();
                    p.iter().copied().filter(|i| held.contains(i)).collect()
                });
                let chosen = chosen.filter(|c| !c.is_empty());
                let to: Vec<String> = planned.to.iter().map(|c| code_name(*c).to_string()).collect();
                let request = ShareRequest {
                    object: id.clone(),
                    version: None,
                    to: to.clone(),
                    portions: chosen.as_ref().map(|c| c.iter().copied().collect()),
                    into_collection: None,
                };
                let answer = hub.share(&user, &request, "rest", now).await;
                if holder == report.originator {
                    prop_assert!(matches!(answer, Err(HubError::Invalid(_))), "share {n}: the originator passes nothing on");
                    continue;
                }
                let Some(held) = before.get(&holder) else {
                    prop_assert!(matches!(answer, Err(HubError::NotFound)), "share {n}: {holder} holds nothing: {answer:?}");
                    continue;
                };
                let outcome = answer.unwrap();
                let share = Share {
                    by: holder.clone(),
                    to: to.iter().map(|t| code(t)).collect(),
                    portions: chosen.unwrap_or_else(|| held.clone()),
                };
                // Kept when it released something, or refused nothing.
                let mut trial: Vec<Share> = kept.iter().map(|s| Share { by: s.by.clone(), to: s.to.clone(), portions: s.portions.clone() }).collect();
                trial.push(Share { by: share.by.clone(), to: share.to.clone(), portions: share.portions.clone() });
                let after = holdings(&coalition, &report, &trial, &approved, now);
                let named: Vec<&Code> = coalition.parties().map(|p| &p.code)
                    .filter(|p| **p != holder && share.to.iter().any(|t| includes(&coalition, t, p))).collect();
                let has = |h: &BTreeMap<Code, BTreeSet<usize>>, p: &Code, i: usize| h.get(p).is_some_and(|s| s.contains(&i));
                let new_any = named.iter().any(|p| share.portions.iter().any(|i| !has(&before, p, *i) && has(&after, p, *i)));
                let refused_any = named.iter().any(|p| share.portions.iter().any(|i| !has(&before, p, *i) && !has(&after, p, *i)));
                let expected = match (new_any, refused_any) { (_, false) => "released", (true, true) => "partly released", (false, true) => "refused" };
                prop_assert_eq!(outcome.outcome, expected, "share {}: {:?}", n, outcome);
                if expected != "refused" {
                    kept.push(share);
                }
            }
            // Approvals: the first holder other than the originator asks, the originator approves.
            let originator_user = hub.user(&format!("author-{}", draft.originator)).await.unwrap();
            for recipient in approvals {
                let recipient = code(PARTIES[recipient]);
                let current = holdings(&coalition, &report, &kept, &approved, now);
                let Some(requester) = current.keys().find(|p| **p != report.originator && **p != recipient).cloned() else { continue };
                let index = PARTIES.iter().position(|p| *p == requester.as_str()).unwrap();
                let user = hub.user(&format!("author-{index}")).await.unwrap();
                let asked = hub.request_approval(&user, &id, None, recipient.as_str(), None, now).await;
                if recipient == report.originator {
                    prop_assert!(matches!(asked, Err(HubError::Invalid(_))), "the originator needs no approval");
                    continue;
                }
                let asked = asked.unwrap();
                hub.decide_approval(&originator_user, &asked[0].id, true, None, now).await.unwrap();
                approved.insert(recipient.clone());
                let covered = kept.iter().any(|s| s.by == requester && s.to.iter().any(|t| includes(&coalition, t, &recipient)));
                if !covered {
                    kept.push(Share { by: requester, to: vec![recipient], portions: (0..portions).collect() });
                }
            }

            // Every user of every party sees exactly what the oracle says its party holds, at its clearance.
            let held = holdings(&coalition, &report, &kept, &approved, now);
            for user in &users {
                let expected: BTreeSet<usize> = held.get(&user.party).map(|set| {
                    set.iter().copied().filter(|i| report.portions().nth(*i).unwrap().marking.classification() <= user.clearance).collect()
                }).unwrap_or_default();
                let visible = expected.contains(&0) && expected.iter().any(|i| *i > 0);
                match hub.view(user, &id, now).await {
                    Ok(rendering) => {
                        prop_assert!(visible, "{} sees a report the rules deny it", user.name);
                        let shown: BTreeSet<usize> = std::iter::once(0).chain(rendering.paragraphs.iter().map(|(i, _)| i + 1)).collect();
                        prop_assert_eq!(shown, expected, "{}", user.name);
                    }
                    Err(HubError::NotFound) => prop_assert!(!visible, "{} is denied what the rules allow", user.name),
                    Err(other) => prop_assert!(false, "{}: {}", user.name, other),
                }
            }
            prop_assert!(hub.verify_index(now).await.unwrap().mismatches.is_empty());
            Ok(())
        })?;
    }
}
