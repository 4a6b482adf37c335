//! The release decision of DESIGN.md section 3 on the coalition of `shared/scenario/coalition.toml`
//! and the example report `examples/route-clearance.md`.

// clippy.toml allows these in `#[test]` functions; the fixture helpers below fail the same way.
#![allow(clippy::unwrap_used, reason = "a fixture that does not parse should fail the test at once")]

use std::collections::{BTreeMap, BTreeSet};

use tearline_model::{
    Agreement, Classification, Coalition, Code, Embargo, Group, Marking, Party, PortionSet, ReleaseFacts, Report,
    ReportDraft, Topic, User, UserName,
};
use tearline_policy::{indexed_decision, rule, Decider, Decision, Policies, PolicyError, PortionFacts};
use time::macros::datetime;
use time::OffsetDateTime;

const ROUTE_CLEARANCE: &str = include_str!("../../../examples/route-clearance.md");
const NOW: OffsetDateTime = datetime!(2026-03-01 0:00 UTC);

fn code(text: &str) -> Code {
    Code::new(text).unwrap()
}

fn topics(names: &[&str]) -> BTreeSet<Topic> {
    names.iter().map(|t| Topic::new(t).unwrap()).collect()
}

fn agreement(id: &str, from: &str, to: &[&str], max: Classification) -> Agreement {
    Agreement {
        id: id.into(),
        from: code(from),
        to: to.iter().map(|c| code(c)).collect(),
        max_classification: max,
        topics: None,
        onward: false,
        valid_from: None,
        valid_until: None,
        revoked_at: None,
    }
}

fn party(text: &str) -> Party {
    Party { code: code(text), name: text.to_lowercase() }
}

fn group(text: &str, members: &[&str]) -> Group {
    Group { code: code(text), name: text.to_lowercase(), members: members.iter().map(|c| code(c)).collect() }
}

/// `shared/scenario/coalition.toml`, with agreements as given.
fn coalition_with(agreements: Vec<Agreement>, extra_groups: Vec<Group>) -> Coalition {
    let parties = ["USA", "IRQ", "SYR", "RUS", "IRN", "GBR"].map(party);
    let mut groups = vec![group("BIC", &["IRQ", "SYR", "RUS", "IRN"])];
    groups.extend(extra_groups);
    let embargoes = ["SYR", "RUS", "IRN"].map(|against| Embargo { from: code("USA"), against: code(against) });
    Coalition::new(parties, groups, agreements, embargoes)
}

fn scenario_agreements() -> Vec<Agreement> {
    vec![
        agreement("usa-irq", "USA", &["IRQ"], Classification::Secret),
        agreement("irq-bic", "IRQ", &["BIC"], Classification::Secret),
        agreement("rus-bic", "RUS", &["BIC"], Classification::Secret),
    ]
}

fn scenario() -> Coalition {
    coalition_with(scenario_agreements(), vec![])
}

fn shipped() -> Policies {
    Policies::shipped().unwrap()
}

fn decider(coalition: &Coalition) -> Decider {
    Decider::new(&shipped(), coalition, NOW)
}

fn report_text(originator: &str, text: &str, coalition: &Coalition) -> Report {
    let draft = ReportDraft::parse(text, &code(originator), coalition).unwrap();
    Report {
        id: "report--route-clearance".into(),
        originator: code(originator),
        created: NOW,
        title: draft.title,
        topics: draft.topics,
        paragraphs: draft.paragraphs,
    }
}

fn route_clearance(coalition: &Coalition) -> Report {
    report_text("USA", ROUTE_CLEARANCE, coalition)
}

fn marking(text: &str, originator: &str, coalition: &Coalition) -> Marking {
    Marking::parse(text, &code(originator), coalition).unwrap()
}

/// The decision for `party` on one portion marked `mark` by `originators[0]`, with `topics`.
fn decide(decider: &Decider, party: &str, originators: &[&str], topic_names: &[&str], mark: &str) -> Decision {
    let originators: Vec<Code> = originators.iter().map(|c| code(c)).collect();
    let topics = topics(topic_names);
    let marking = Marking::parse(mark, &originators[0], decider.coalition()).unwrap();
    decider.party_decision(&code(party), &PortionFacts::new(&originators, &topics, &marking))
}

fn user(name: &str, of: &str, clearance: Classification) -> User {
    User { name: UserName::new(name).unwrap(), party: code(of), clearance }
}

fn portions(indexes: &[usize]) -> PortionSet {
    indexes.iter().copied().collect()
}

fn reason_text(decision: &Decision, rule: &str) -> String {
    decision.reasons.iter().find(|r| r.rule == rule).map(ToString::to_string).unwrap_or_default()
}

// --- The example report across the coalition -------------------------------------------------

#[test]
fn the_originator_receives_the_title_and_every_paragraph() {
    let coalition = scenario();
    let entries =
        decider(&coalition).release_entries(&ReleaseFacts::of_report(&route_clearance(&coalition)), [&code("USA")]);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].party, code("USA"));
    assert_eq!(entries[0].portions, portions(&[0, 1, 2, 3, 4, 5]));
    assert_eq!(entries[0].min_clearance, Classification::Unclassified);
}

#[test]
fn the_partner_receives_everything_but_the_noforn_paragraph() {
    let coalition = scenario();
    let report = route_clearance(&coalition);
    let decider = decider(&coalition);
    let entries = decider.release_entries(&ReleaseFacts::of_report(&report), [&code("IRQ")]);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].portions, portions(&[0, 1, 2, 3, 5]));
    assert_eq!(entries[0].min_clearance, Classification::Unclassified);

    let noforn = decider.party_decision(&code("IRQ"), &PortionFacts::of_report(&report, &report.paragraphs[3]));
    assert!(!noforn.allowed);
    assert_eq!(noforn.rules().collect::<Vec<_>>(), [rule::NOFORN]);
    assert_eq!(reason_text(&noforn, rule::NOFORN), "noforn: the portion is NOFORN: for USA only");

    // ORCON restricts onward release only: the partner itself receives the portion.
    let orcon = decider.party_decision(&code("IRQ"), &PortionFacts::of_report(&report, &report.paragraphs[2]));
    assert!(orcon.allowed);
    assert_eq!(orcon.rules().collect::<Vec<_>>(), [rule::RECIPIENT]);
    assert_eq!(reason_text(&orcon, rule::RECIPIENT), "recipient: USA shares up to SECRET with IRQ (agreement usa-irq)");
}

#[test]
fn embargoed_parties_receive_nothing() {
    let coalition = scenario();
    let report = route_clearance(&coalition);
    let decider = decider(&coalition);
    let entries = decider.release_entries_for_coalition(&ReleaseFacts::of_report(&report));
    let receivers: Vec<&str> = entries.iter().map(|e| e.party.as_str()).collect();
    assert_eq!(receivers, ["IRQ", "USA"]);
    for embargoed in ["RUS", "SYR", "IRN"] {
        for portion in report.portions() {
            let decision = decider.party_decision(&code(embargoed), &PortionFacts::of_report(&report, portion));
            assert!(!decision.allowed, "{embargoed} must not receive {}", portion.marked_text());
            assert!(decision.names(rule::EMBARGO), "{decision}");
        }
    }
    let title = decider.party_decision(&code("RUS"), &PortionFacts::of_report(&report, &report.title));
    assert_eq!(reason_text(&title, rule::EMBARGO), "embargo: USA embargoes RUS");
    assert!(title.names(rule::NO_AGREEMENT));
}

#[test]
fn a_user_sees_only_portions_within_its_clearance() {
    let coalition = scenario();
    let report = route_clearance(&coalition);
    let decider = decider(&coalition);
    let liaison = user("us-liaison", "USA", Classification::Confidential);
    let seen: Vec<usize> = report
        .portions()
        .enumerate()
        .filter(|(_, portion)| decider.user_decision(&liaison, &PortionFacts::of_report(&report, portion)).allowed)
        .map(|(index, _)| index)
        .collect();
    assert_eq!(seen, [0, 1, 5], "the title (U), the (U) paragraph and the (C//REL TO USA, IRQ) one");

    let secret = decider.user_decision(&liaison, &PortionFacts::of_report(&report, &report.paragraphs[1]));
    assert!(!secret.allowed);
    assert_eq!(secret.rules().collect::<Vec<_>>(), [rule::CLEARANCE]);
    assert_eq!(
        reason_text(&secret, rule::CLEARANCE),
        "clearance: us-liaison's clearance CONFIDENTIAL is below the portion's SECRET"
    );

    // Both the party rule and the clearance are reported when both deny.
    let iraqi = user("iq-clerk", "IRQ", Classification::Unclassified);
    let both = decider.user_decision(&iraqi, &PortionFacts::of_report(&report, &report.paragraphs[3]));
    assert_eq!(both.rules().collect::<Vec<_>>(), [rule::NOFORN, rule::CLEARANCE]);
}

#[test]
fn the_indexed_path_agrees_with_user_decisions() {
    let coalition = scenario();
    let report = route_clearance(&coalition);
    let decider = decider(&coalition);
    let entries = decider.release_entries_for_coalition(&ReleaseFacts::of_report(&report));
    for party in ["USA", "IRQ", "SYR", "RUS", "IRN", "GBR"] {
        for clearance in Classification::ALL {
            let viewer = user("viewer", party, clearance);
            let entry = entries.iter().find(|e| e.party.as_str() == party);
            for (index, portion) in report.portions().enumerate() {
                let direct = decider.user_decision(&viewer, &PortionFacts::of_report(&report, portion)).allowed;
                let indexed =
                    entry.is_some_and(|e| indexed_decision(e, index, portion.marking.classification(), clearance));
                // Without an entry the party receives nothing at all, even portions it may read.
                assert!(indexed <= direct, "{party} {clearance:?} portion {index}");
                if entry.is_some() {
                    assert_eq!(indexed, direct, "{party} {clearance:?} portion {index}");
                }
            }
        }
    }
}

// --- Each rule --------------------------------------------------------------------------------

#[test]
fn originators_read_their_own_portions_whatever_the_marking() {
    let decider = decider(&scenario());
    for mark in ["TS//OC/NF", "S//REL TO IRQ//TLP:RED", "TLP:RED", "C//REL TO BIC"] {
        let decision = decide(&decider, "USA", &["USA"], &["counter-ied"], mark);
        assert!(decision.allowed, "{mark}: {decision}");
        assert_eq!(decision.rules().collect::<Vec<_>>(), [rule::ORIGINATOR]);
    }
    // An originator without any agreement of its own still reads: the rules bind recipients.
    let decision = decide(&decider, "GBR", &["GBR"], &[], "S//NF");
    assert!(decision.allowed);
}

#[test]
fn tlp_red_goes_only_to_parties_named_one_by_one() {
    let decider = decider(&scenario());
    let via_group = decide(&decider, "IRQ", &["USA"], &[], "C//REL TO BIC//TLP:RED");
    assert!(!via_group.allowed);
    assert_eq!(via_group.rules().collect::<Vec<_>>(), [rule::TLP_RED]);
    assert!(decide(&decider, "IRQ", &["USA"], &[], "C//REL TO BIC").allowed, "the group alone suffices without RED");

    let named = decide(&decider, "IRQ", &["USA"], &[], "C//REL TO IRQ//TLP:RED");
    assert!(named.allowed, "{named}");
    let unlisted = decide(&decider, "IRQ", &["USA"], &[], "TLP:RED");
    assert!(!unlisted.allowed && unlisted.names(rule::TLP_RED));
    for amber in ["TLP:AMBER", "TLP:AMBER+STRICT", "TLP:GREEN", "TLP:CLEAR"] {
        assert!(decide(&decider, "IRQ", &["USA"], &[], amber).allowed, "{amber}");
    }
}

#[test]
fn rel_to_lists_admit_named_parties_and_members_of_named_groups() {
    let decider = decider(&scenario());
    let elsewhere = decide(&decider, "IRQ", &["USA"], &[], "S//REL TO GBR");
    assert!(!elsewhere.allowed);
    assert_eq!(elsewhere.rules().collect::<Vec<_>>(), [rule::NOT_IN_REL_TO]);
    assert_eq!(
        reason_text(&elsewhere, rule::NOT_IN_REL_TO),
        "not-in-rel-to: IRQ is not in REL TO USA, GBR, neither named nor through a group"
    );
    assert!(decide(&decider, "IRQ", &["USA"], &[], "S//REL TO BIC").allowed);
    assert!(decide(&decider, "IRQ", &["USA"], &[], "S//REL TO GBR, IRQ").allowed);
}

#[test]
fn group_membership_is_taken_at_decision_time() {
    let without_irq = coalition_with(scenario_agreements(), vec![]);
    let mut groups: Vec<Group> = without_irq.groups().cloned().collect();
    groups[0].members.remove(&code("IRQ"));
    let changed = Coalition::new(
        without_irq.parties().cloned(),
        groups,
        without_irq.agreements().to_vec(),
        without_irq.embargoes().to_vec(),
    );
    let decision = decide(&decider(&changed), "IRQ", &["USA"], &[], "S//REL TO BIC");
    assert!(!decision.allowed && decision.names(rule::NOT_IN_REL_TO));
}

#[test]
fn agreement_ceilings_cap_the_classification() {
    let coalition = coalition_with(vec![agreement("usa-irq", "USA", &["IRQ"], Classification::Confidential)], vec![]);
    let decider = decider(&coalition);
    assert!(decide(&decider, "IRQ", &["USA"], &[], "C").allowed);
    let secret = decide(&decider, "IRQ", &["USA"], &[], "S//REL TO IRQ");
    assert!(!secret.allowed);
    assert_eq!(secret.rules().collect::<Vec<_>>(), [rule::ABOVE_AGREEMENT_CEILING]);
    assert_eq!(
        reason_text(&secret, rule::ABOVE_AGREEMENT_CEILING),
        "above-agreement-ceiling: the portion is SECRET, and USA shares with IRQ only up to CONFIDENTIAL (agreement usa-irq)"
    );

    // The highest of several covering agreements counts, directly or through a group.
    let mut agreements = vec![agreement("usa-irq", "USA", &["IRQ"], Classification::Confidential)];
    agreements.push(agreement("usa-bic", "USA", &["BIC"], Classification::Secret));
    let widened = coalition_with(agreements, vec![]);
    assert!(decide(&Decider::new(&shipped(), &widened, NOW), "IRQ", &["USA"], &[], "S").allowed);
}

#[test]
fn parties_without_an_agreement_receive_nothing() {
    let decider = decider(&scenario());
    let decision = decide(&decider, "GBR", &["USA"], &["counter-ied"], "U");
    assert!(!decision.allowed);
    assert_eq!(decision.rules().collect::<Vec<_>>(), [rule::NO_AGREEMENT]);
    assert_eq!(
        reason_text(&decision, rule::NO_AGREEMENT),
        "no-agreement: no active agreement from USA covers GBR for the topics counter-ied"
    );
    // An agreement in the other direction does not count.
    assert!(!decide(&decider, "USA", &["IRQ"], &[], "U").allowed);
    // Nor does an object without any originator.
    let nobody: Vec<Code> = Vec::new();
    let (topics, marking) = (BTreeSet::new(), Marking::classified(Classification::Unclassified));
    assert!(!decider.party_decision(&code("USA"), &PortionFacts::new(&nobody, &topics, &marking)).allowed);
}

#[test]
fn topic_scoped_agreements_cover_objects_whose_topics_all_fall_inside() {
    let mut scoped = agreement("usa-irq", "USA", &["IRQ"], Classification::Secret);
    scoped.topics = Some(topics(&["counter-ied", "route-clearance"]));
    let decider = decider(&coalition_with(vec![scoped], vec![]));
    assert!(decide(&decider, "IRQ", &["USA"], &["counter-ied"], "S").allowed);
    assert!(decide(&decider, "IRQ", &["USA"], &["counter-ied", "route-clearance"], "S").allowed);
    let outside = decide(&decider, "IRQ", &["USA"], &["counter-ied", "cyber"], "U");
    assert!(!outside.allowed && outside.names(rule::NO_AGREEMENT), "{outside}");
    let untagged = decide(&decider, "IRQ", &["USA"], &[], "U");
    assert!(!untagged.allowed);
    assert_eq!(
        reason_text(&untagged, rule::NO_AGREEMENT),
        "no-agreement: no active agreement from USA covers IRQ for an object without topics"
    );
}

#[test]
fn agreements_count_only_while_valid_and_not_revoked() {
    let at = |valid_from, valid_until, revoked_at| {
        let mut a = agreement("usa-irq", "USA", &["IRQ"], Classification::Secret);
        (a.valid_from, a.valid_until, a.revoked_at) = (valid_from, valid_until, revoked_at);
        let decider = decider(&coalition_with(vec![a], vec![]));
        decide(&decider, "IRQ", &["USA"], &[], "U").allowed
    };
    let (before, after) = (Some(datetime!(2026-01-01 0:00 UTC)), Some(datetime!(2026-06-01 0:00 UTC)));
    assert!(at(before, after, None));
    assert!(!at(after, None, None), "not yet valid");
    assert!(!at(None, before, None), "expired");
    assert!(!at(None, None, before), "revoked");
    assert!(at(None, None, after), "revocation still to come");
    assert!(!at(None, None, Some(NOW)), "revoked at this very instant");

    // The same coalition decided at a later time.
    let mut a = agreement("usa-irq", "USA", &["IRQ"], Classification::Secret);
    a.revoked_at = after;
    let coalition = coalition_with(vec![a], vec![]);
    let later = Decider::new(&shipped(), &coalition, datetime!(2026-07-01 0:00 UTC));
    assert!(!decide(&later, "IRQ", &["USA"], &[], "U").allowed);
}

#[test]
fn embargoes_bind_through_groups_and_provenance() {
    let mut coalition = scenario();
    let mut embargoes = coalition.embargoes().to_vec();
    embargoes.push(Embargo { from: code("USA"), against: code("BIC") });
    coalition =
        Coalition::new(coalition.parties().cloned(), coalition.groups().cloned(), scenario_agreements(), embargoes);
    let decision = decide(&decider(&coalition), "IRQ", &["USA"], &[], "U");
    assert!(!decision.allowed);
    assert_eq!(reason_text(&decision, rule::EMBARGO), "embargo: USA embargoes BIC, which IRQ belongs to");

    // IRQ shares its own reports with the centre, but not what it derived from USA's.
    let decider = decider(&scenario());
    assert!(decide(&decider, "SYR", &["IRQ"], &[], "S//REL TO BIC").allowed);
    let derived = decide(&decider, "SYR", &["IRQ", "USA"], &[], "S//REL TO BIC");
    assert!(!derived.allowed);
    assert_eq!(derived.rules().collect::<Vec<_>>(), [rule::EMBARGO, rule::NO_AGREEMENT]);
    assert_eq!(
        reason_text(&derived, rule::NO_AGREEMENT),
        "no-agreement: no active agreement from USA covers SYR for an object without topics"
    );
    // An originator in the provenance reads.
    assert!(decide(&decider, "USA", &["IRQ", "USA"], &[], "S//REL TO BIC").allowed);
}

#[test]
fn the_lowest_ceiling_over_originators_counts() {
    let mut agreements = scenario_agreements();
    agreements.push(agreement("usa-bic", "USA", &["BIC"], Classification::Confidential));
    let coalition =
        Coalition::new(scenario().parties().cloned(), scenario().groups().cloned(), agreements, Vec::<Embargo>::new());
    let decider = decider(&coalition);
    // RUS: SECRET from IRQ, CONFIDENTIAL from USA.
    assert!(decide(&decider, "RUS", &["IRQ", "USA"], &[], "C").allowed);
    let secret = decide(&decider, "RUS", &["IRQ", "USA"], &[], "S");
    assert_eq!(secret.rules().collect::<Vec<_>>(), [rule::ABOVE_AGREEMENT_CEILING]);
    assert!(reason_text(&secret, rule::ABOVE_AGREEMENT_CEILING).contains("USA shares with RUS only up to CONFIDENTIAL"));
}

#[test]
fn explanations_read_as_sentences() {
    let coalition = scenario();
    let report = route_clearance(&coalition);
    let decision = decider(&coalition).party_decision(&code("SYR"), &PortionFacts::of_report(&report, &report.title));
    assert_eq!(
        decision.to_string(),
        "denied (embargo: USA embargoes SYR; no-agreement: no active agreement from USA covers SYR for the topics counter-ied)"
    );
    let allowed = decider(&coalition).party_decision(&code("USA"), &PortionFacts::of_report(&report, &report.title));
    assert_eq!(allowed.to_string(), "allowed (originator: USA is an originator of the portion)");
}

// --- Memoization ------------------------------------------------------------------------------

#[test]
fn re_indexing_many_reports_evaluates_each_distinct_question_once() {
    let coalition = scenario();
    let report = route_clearance(&coalition);
    let decider = decider(&coalition);
    let first = decider.release_entries_for_coalition(&ReleaseFacts::of_report(&report));
    let evaluations = decider.cedar_evaluations();
    // Six parties, five distinct markings (the title and first paragraph share `U`).
    assert_eq!(evaluations, 6 * 5);
    assert_eq!(decider.memoized_decisions(), 30);
    for index in 0..1000 {
        let copy = Report { id: format!("report--{index}"), ..report.clone() };
        assert_eq!(decider.release_entries_for_coalition(&ReleaseFacts::of_report(&copy)), first);
    }
    assert_eq!(decider.cedar_evaluations(), evaluations);

    // Memoized and evaluated decisions agree.
    let facts = PortionFacts::of_report(&report, &report.paragraphs[3]);
    assert_eq!(decider.party_decision(&code("IRQ"), &facts), decider.party_decision_uncached(&code("IRQ"), &facts));
}

#[test]
fn deciders_are_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Decider>();
    let coalition = scenario();
    let report = route_clearance(&coalition);
    let decider = decider(&coalition);
    let expected = decider.release_entries_for_coalition(&ReleaseFacts::of_report(&report));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| decider.release_entries_for_coalition(&ReleaseFacts::of_report(&report))))
            .collect();
        for handle in handles {
            assert_eq!(handle.join().unwrap(), expected);
        }
    });
}

// --- Operator policies ------------------------------------------------------------------------

const IED_FVEY_ONLY: &str = r#"@id("ied-fvey-only") forbid(principal, action, resource) when { resource.topics.contains("counter-ied") && !(principal in Group::"FVEY") };"#;

fn operator(files: &[(&str, &str)]) -> Result<Policies, PolicyError> {
    Policies::load(&files.iter().map(|(name, text)| (name.to_string(), text.to_string())).collect::<BTreeMap<_, _>>())
}

#[test]
fn the_shipped_policies_are_named_and_documented() {
    let policies = shipped();
    let ids: Vec<&str> = policies.policies().iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            rule::ORIGINATOR,
            rule::RECIPIENT,
            rule::EMBARGO,
            rule::NO_AGREEMENT,
            rule::ABOVE_AGREEMENT_CEILING,
            rule::NOT_IN_REL_TO,
            rule::NOFORN,
            rule::TLP_RED,
            rule::ONWARD,
            rule::ORCON_NEEDS_APPROVAL,
            rule::TLP_FORBIDS_ONWARD,
            rule::THIRD_PARTY_RULE,
        ]
    );
    assert!(Policies::schema_text().contains("entity Party in [Group]"));
    assert!(Policies::default_policies_text().contains("@id(\"embargo\")"));
}

#[test]
fn counter_ied_stays_within_fvey() {
    let policies = operator(&[("ied.cedar", IED_FVEY_ONLY)]).unwrap();
    let fvey = group("FVEY", &["USA", "GBR"]);
    let mut agreements = scenario_agreements();
    agreements.push(agreement("usa-gbr", "USA", &["GBR"], Classification::TopSecret));
    let coalition = coalition_with(agreements, vec![fvey]);
    let report = route_clearance(&coalition);
    let decider = Decider::new(&policies, &coalition, NOW);

    let title = PortionFacts::of_report(&report, &report.title);
    let denied = decider.party_decision(&code("IRQ"), &title);
    assert!(!denied.allowed);
    assert_eq!(denied.rules().collect::<Vec<_>>(), ["ied-fvey-only"]);
    assert_eq!(reason_text(&denied, "ied-fvey-only"), "ied-fvey-only: forbidden by an operator policy in `ied.cedar`");
    assert!(decider.party_decision(&code("GBR"), &title).allowed);
    assert!(decider.party_decision(&code("USA"), &title).allowed);
    let receivers: Vec<String> = decider
        .release_entries_for_coalition(&ReleaseFacts::of_report(&report))
        .into_iter()
        .map(|e| e.party.to_string())
        .collect();
    assert_eq!(receivers, ["GBR", "USA"]);

    // Other topics are not affected.
    assert!(decide(&decider, "IRQ", &["USA"], &["logistics"], "U").allowed);
}

#[test]
fn operator_forbids_bind_originators_unless_they_say_otherwise() {
    // FVEY is not declared: the example policy then denies everyone, the originator too.
    let coalition = scenario();
    let report = route_clearance(&coalition);
    let title = PortionFacts::of_report(&report, &report.title);
    let strict = Decider::new(&operator(&[("ied.cedar", IED_FVEY_ONLY)]).unwrap(), &coalition, NOW);
    let usa = strict.party_decision(&code("USA"), &title);
    assert!(!usa.allowed);
    assert_eq!(usa.rules().collect::<Vec<_>>(), ["ied-fvey-only"]);

    let sparing = format!(
        "@reason(\"counter-IED reporting stays within FVEY\")\n{} unless {{ context.is_originator }};",
        IED_FVEY_ONLY.trim_end_matches(';')
    );
    let decider = Decider::new(&operator(&[("ied.cedar", &sparing)]).unwrap(), &coalition, NOW);
    assert!(decider.party_decision(&code("USA"), &title).allowed);
    let irq = decider.party_decision(&code("IRQ"), &title);
    assert_eq!(
        reason_text(&irq, "ied-fvey-only"),
        "ied-fvey-only: counter-IED reporting stays within FVEY (operator policy in `ied.cedar`)"
    );
}

#[test]
fn operator_policies_without_an_id_are_named_after_their_file() {
    let text = "forbid(principal == Party::\"IRQ\", action, resource) when { resource.orcon };\n\
                forbid(principal, action, resource) when { resource has tlp && resource.tlp >= 3 } unless { context.is_originator };";
    let policies = operator(&[("local.cedar", text)]).unwrap();
    let ids: Vec<&str> = policies.policies().iter().skip(12).map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["local.cedar#1", "local.cedar#2"]);
    let decider = Decider::new(&policies, &scenario(), NOW);
    let orcon = decide(&decider, "IRQ", &["USA"], &[], "S//OC/REL TO IRQ");
    assert_eq!(orcon.rules().collect::<Vec<_>>(), ["local.cedar#1"]);
    let strict = decide(&decider, "IRQ", &["USA"], &[], "TLP:AMBER+STRICT");
    assert_eq!(strict.rules().collect::<Vec<_>>(), ["local.cedar#2"]);
}

#[test]
fn operator_permits_cannot_override_the_shipped_forbids() {
    let text = "@id(\"let-russia-in\") permit(principal == Party::\"RUS\", action, resource);";
    let decider = Decider::new(&operator(&[("open.cedar", text)]).unwrap(), &scenario(), NOW);
    let decision = decide(&decider, "RUS", &["USA"], &[], "U");
    assert!(!decision.allowed);
    assert!(decision.names(rule::EMBARGO));
}

#[test]
fn invalid_policy_files_are_refused_naming_the_file() {
    let unknown_attribute = "forbid(principal, action, resource) when { resource.colour == \"red\" };";
    let err = operator(&[("a-fine.cedar", IED_FVEY_ONLY), ("colour.cedar", unknown_attribute)]).unwrap_err();
    assert!(
        matches!(&err, PolicyError::Invalid { file, id, .. } if file == "colour.cedar" && id == "colour.cedar#1"),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with("policy file `colour.cedar`: policy `colour.cedar#1` does not validate"),
        "{err}"
    );
    assert!(err.to_string().contains("colour"), "{err}");

    let wrong_type = "forbid(principal, action, resource) when { resource.classification == \"SECRET\" };";
    assert!(matches!(operator(&[("types.cedar", wrong_type)]), Err(PolicyError::Invalid { .. })));
    let unknown_entity = "forbid(principal == User::\"bob\", action, resource);";
    assert!(matches!(operator(&[("user.cedar", unknown_entity)]), Err(PolicyError::Invalid { .. })));

    let err = operator(&[("broken.cedar", "forbid(principal, action, resource) when { ")]).unwrap_err();
    assert!(matches!(&err, PolicyError::Parse { file, .. } if file == "broken.cedar"), "{err:?}");
    assert!(err.to_string().starts_with("policy file `broken.cedar`: "), "{err}");

    let err = operator(&[("shadow.cedar", "@id(\"embargo\") permit(principal, action, resource);")]).unwrap_err();
    assert_eq!(
        err,
        PolicyError::DuplicateId {
            file: "shadow.cedar".into(),
            id: "embargo".into(),
            used_by: "a shipped policy".into()
        }
    );
    let err = operator(&[("a.cedar", IED_FVEY_ONLY), ("b.cedar", IED_FVEY_ONLY)]).unwrap_err();
    assert!(
        matches!(&err, PolicyError::DuplicateId { file, used_by, .. } if file == "b.cedar" && used_by.contains("a.cedar"))
    );

    let template = "permit(principal == ?principal, action, resource);";
    assert_eq!(operator(&[("t.cedar", template)]).unwrap_err(), PolicyError::Template { file: "t.cedar".into() });
}

#[test]
fn evaluation_errors_deny() {
    // Overflows at run time for any portion above UNCLASSIFIED: Cedar skips the failing forbid.
    let overflow = "@id(\"overflow\") forbid(principal, action, resource) when { resource.classification * 9223372036854775807 > 0 };";
    let decider = Decider::new(&operator(&[("overflow.cedar", overflow)]).unwrap(), &scenario(), NOW);
    let decision = decide(&decider, "USA", &["USA"], &[], "S");
    assert!(!decision.allowed, "{decision}");
    assert_eq!(decision.rules().collect::<Vec<_>>(), [rule::EVALUATION_ERROR]);
    assert!(decision.reasons[0].explanation.contains("overflow"), "{decision}");
}

#[test]
fn the_report_parses_as_in_the_scenario() {
    let coalition = scenario();
    let report = route_clearance(&coalition);
    let marks: Vec<String> = report.portions().map(|p| p.marking.portion_mark()).collect();
    assert_eq!(marks, ["U", "U", "S//REL TO USA, IRQ", "S//OC/REL TO USA, IRQ", "S//NF", "C//REL TO USA, IRQ"]);
    assert_eq!(marking("S//REL TO IRQ", "USA", &coalition).portion_mark(), "S//REL TO USA, IRQ");
}

#[test]
fn policy_errors_point_at_the_line_and_column_in_the_file() {
    let text = "@id(\"fine\") permit(principal, action, resource);\n\n  forbid(principal, action, resource)\n when { resource.colour == \"red\" };";
    let err = operator(&[("third.cedar", text)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "policy file `third.cedar`: policy `third.cedar#2` does not validate against the schema: line 4, column 9: \
         for policy `third.cedar#2`, attribute `colour` on entity type `Portion` not found (did you mean `noforn`?)"
    );
    let err = operator(&[(
        "broken.cedar",
        "permit(principal, action, resource);\nforbid(principal, action, resource) when { ",
    )])
    .unwrap_err();
    assert_eq!(err.to_string(), "policy file `broken.cedar`: line 2, column 43: unexpected end of input");
    let optional = "forbid(principal, action, resource) when { resource.tlp == 4 };";
    assert!(operator(&[("tlp.cedar", optional)]).unwrap_err().to_string().contains("optional attribute `tlp`"));
}

// --- Onward release, provenance and recall ---------------------------------------------------

/// The scenario with `JOR` in `BIC`, and the USA->IRQ agreement allowing onward release or not.
fn onward_coalition(onward: bool) -> Coalition {
    let parties = ["USA", "IRQ", "SYR", "RUS", "IRN", "JOR", "GBR"].map(party);
    let groups = [group("BIC", &["IRQ", "SYR", "RUS", "IRN", "JOR"])];
    let mut agreements = scenario_agreements();
    agreements[0].onward = onward;
    agreements.push(agreement("jor-gbr", "JOR", &["GBR"], Classification::Secret));
    let embargoes = ["SYR", "RUS", "IRN"].map(|against| Embargo { from: code("USA"), against: code(against) });
    Coalition::new(parties, groups, agreements, embargoes)
}

fn shared(report: &Report, by: &str, to: &[&str]) -> ReleaseFacts {
    let mut facts = ReleaseFacts::of_report(report);
    let all = (0..facts.portions.len()).collect();
    facts.shares.push(tearline_model::Share { by: code(by), to: to.iter().map(|c| code(c)).collect(), portions: all });
    facts
}

fn entry_of(entries: &[tearline_model::ReleaseEntry], party: &str) -> Option<PortionSet> {
    entries.iter().find(|e| e.party == code(party)).map(|e| e.portions.clone())
}

#[test]
fn a_recipient_cannot_pass_on_under_the_third_party_rule() {
    let coalition = onward_coalition(false);
    let report = route_clearance(&coalition);
    let decider = decider(&coalition);
    let entries = decider.release_entries_for_coalition(&shared(&report, "IRQ", &["BIC"]));
    for party in ["SYR", "RUS", "IRN", "JOR", "GBR"] {
        assert_eq!(entry_of(&entries, party), None, "{party}");
    }
    assert_eq!(entry_of(&entries, "IRQ"), Some(portions(&[0, 1, 2, 3, 5])));
    let originators = [code("USA")];
    let unclassified = PortionFacts::new(&originators, &report.topics, &report.paragraphs[0].marking);
    let rus = decider.onward_decision(&code("IRQ"), &code("RUS"), &unclassified, false);
    assert!(!rus.allowed);
    assert!(rus.names(rule::EMBARGO) && rus.names(rule::THIRD_PARTY_RULE), "{rus:?}");
    let jor = decider.onward_decision(&code("IRQ"), &code("JOR"), &unclassified, false);
    assert_eq!(jor.rules().collect::<Vec<_>>(), [rule::THIRD_PARTY_RULE]);
    assert_eq!(
        reason_text(&jor, rule::THIRD_PARTY_RULE),
        "third-party-rule: third-party rule: no agreement from USA lets IRQ pass on a UNCLASSIFIED portion (onward = false)"
    );
}

#[test]
fn with_onward_allowed_unrestricted_portions_go_on_but_never_to_the_embargoed() {
    let coalition = onward_coalition(true);
    let report = route_clearance(&coalition);
    let decider = decider(&coalition);
    let entries = decider.release_entries_for_coalition(&shared(&report, "IRQ", &["BIC"]));
    // Title and the (U) paragraph: the others name USA, IRQ only, or are NOFORN.
    assert_eq!(entry_of(&entries, "JOR"), Some(portions(&[0, 1])));
    for party in ["SYR", "RUS", "IRN", "GBR"] {
        assert_eq!(entry_of(&entries, party), None, "{party}");
    }
    let originators = [code("USA")];
    let orcon = PortionFacts::new(&originators, &report.topics, &report.paragraphs[2].marking);
    let decision = decider.onward_decision(&code("IRQ"), &code("JOR"), &orcon, false);
    assert!(decision.names(rule::ORCON_NEEDS_APPROVAL) && decision.names(rule::NOT_IN_REL_TO), "{decision:?}");
    // A second hop: JOR has no agreement from USA that lets it pass anything on.
    let mut facts = shared(&report, "IRQ", &["BIC"]);
    facts.shares.push(tearline_model::Share { by: code("JOR"), to: [code("GBR")].into(), portions: portions(&[0, 1]) });
    assert_eq!(entry_of(&decider.release_entries_for_coalition(&facts), "GBR"), None);
}

#[test]
fn an_approval_lifts_orcon_and_tlp_but_not_rel_to_or_embargoes() {
    let coalition = onward_coalition(false);
    let text = "TITLE: (U//TLP:AMBER) Ferry schedule\n\n(C//OC) Ferries leave at dawn.\n\n(U//TLP:AMBER) Check the manifests.\n";
    let report = report_text("USA", text, &coalition);
    let decider = decider(&coalition);
    let mut facts = shared(&report, "IRQ", &["BIC"]);
    assert_eq!(entry_of(&decider.release_entries_for_coalition(&facts), "JOR"), None);
    let approval = |party: &str, until| tearline_model::Approval { party: code(party), by: code("USA"), until };
    facts.approvals.push(approval("JOR", Some(NOW + time::Duration::hours(1))));
    facts.approvals.push(approval("RUS", None));
    let entries = decider.release_entries_for_coalition(&facts);
    assert_eq!(entry_of(&entries, "JOR"), Some(portions(&[0, 1, 2])));
    assert_eq!(entry_of(&entries, "RUS"), None, "an approval never lifts an embargo");
    // Expired, it approves nothing.
    let later = Decider::new(&shipped(), &coalition, NOW + time::Duration::hours(2));
    assert_eq!(entry_of(&later.release_entries_for_coalition(&facts), "JOR"), None);
}

#[test]
fn derived_content_carries_every_ancestors_restrictions_and_a_recall_leaves_originators_only() {
    let coalition = onward_coalition(false);
    let source = ReleaseFacts::of_report(&route_clearance(&coalition));
    let text = "TITLE: (U) Notes for the centre\n\n(U) Devices were emplaced mostly before dawn.\n";
    let mut derived = ReleaseFacts::of_report(&report_text("IRQ", text, &coalition));
    // IRQ received portions 1 and 2 of the source: U and S//REL TO USA, IRQ.
    let inherited = ReleaseFacts::inherited_marking(&source, [1, 2]).unwrap();
    assert_eq!(inherited.banner(), "SECRET//REL TO USA, IRQ");
    derived.derive_from(&source, &inherited);
    assert_eq!(derived.originators(), [code("IRQ"), code("USA")]);
    let entries = decider(&coalition).release_entries_for_coalition(&derived);
    let parties: Vec<&str> = entries.iter().map(|e| e.party.as_str()).collect();
    assert_eq!(parties, ["IRQ", "USA"], "IRQ's agreement with BIC does not carry USA's content");
    derived.recalled = true;
    let recalled = decider(&coalition).release_entries_for_coalition(&derived);
    assert_eq!(recalled.iter().map(|e| e.party.as_str()).collect::<Vec<_>>(), ["IRQ", "USA"]);
    let mut source = source;
    source.recalled = true;
    let parties: Vec<String> =
        decider(&coalition).release_entries_for_coalition(&source).iter().map(|e| e.party.to_string()).collect();
    assert_eq!(parties, ["USA"]);
}
