//! Random coalitions and random STIX content posted over TAXII: what each user receives matches
//! the oracle (objects, labels withheld by granular markings, references to what it may not see),
//! nothing it may not see appears anywhere in what it gets, and a withheld object answers exactly
//! like one that does not exist.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use serde_json::{json, Value};
use tearline_hub::taxii::TaxiiQuery;
use tearline_hub::HubError;
use tearline_model::{stix, Coalition, Code, Collection, Marking, Topic, User};
use time::OffsetDateTime;

use crate::oracle;
use crate::properties::{coalition_toml, fixture, mark, mark_text, oracle_coalition, world, Mark, PARTIES};

const COLLECTION: &str = "7f3d2c1b-0a9e-4d8c-b7f6-5e4d3c2b1a00";
const LABELS: [&str; 3] = ["alpha", "beta", "gamma"];

/// An indicator with an object-level marking and a marking per label.
#[derive(Debug, Clone)]
struct Indicator {
    originator: usize,
    mark: Mark,
    labels: Vec<(usize, Mark)>,
}

/// A relationship or a report over indicators (by index), with its own marking.
#[derive(Debug, Clone)]
struct Link {
    originator: usize,
    mark: Mark,
    refs: Vec<usize>,
    is_report: bool,
}

fn indicator() -> impl Strategy<Value = Indicator> {
    (0..4usize, mark(), prop::collection::vec((0..3usize, mark()), 0..4))
        .prop_map(|(originator, mark, labels)| Indicator { originator, mark, labels })
}

fn link() -> impl Strategy<Value = Link> {
    (0..4usize, mark(), prop::collection::vec(0..6usize, 2..4), any::<bool>())
        .prop_map(|(originator, mark, refs, is_report)| Link { originator, mark, refs, is_report })
}

fn uuid(kind: &str, n: usize) -> String {
    format!("{kind}--00000000-0000-4000-8000-{n:012}")
}

/// The posted STIX objects, with what the oracle needs to know of each.
struct Posted {
    id: String,
    originator: Code,
    topics: BTreeSet<Topic>,
    marking: Marking,
    /// Indicators: each label with its marking combined with the object's.
    labels: Vec<(String, Marking)>,
    /// Relationships (both required) and reports (at least one required).
    refs: Vec<String>,
    is_report: bool,
}

fn marking_of(mark: &Mark, originator: &Code, coalition: &Coalition) -> Marking {
    Marking::parse(&mark_text(mark), originator, coalition).unwrap()
}

/// Builds the envelopes (one per originator) and the oracle's view of them.
fn build(
    indicators: &[Indicator],
    links: &[Link],
    coalition: &Coalition,
    now: OffsetDateTime,
) -> (BTreeMap<usize, Vec<Value>>, Vec<Posted>) {
    let stamp = stix::timestamp(now);
    let mut envelopes: BTreeMap<usize, Vec<Value>> = BTreeMap::new();
    let mut definitions: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    let mut posted = Vec::new();
    let mut add_definitions = |party: usize, marking: &Marking, envelopes: &mut BTreeMap<usize, Vec<Value>>| {
        let originator = Code::new(PARTIES[party]).unwrap();
        if let Some(definition) = stix::marking_definition(marking, &originator) {
            let id = definition["id"].as_str().unwrap().to_string();
            if definitions.entry(party).or_default().insert(id) {
                envelopes.entry(party).or_default().push(definition);
            }
        }
        stix::marking_refs(marking, &originator)
    };
    for (n, ind) in indicators.iter().enumerate() {
        let originator = Code::new(PARTIES[ind.originator]).unwrap();
        let marking = marking_of(&ind.mark, &originator, coalition);
        let object_refs = add_definitions(ind.originator, &marking, &mut envelopes);
        let mut granular = Vec::new();
        let mut labels = Vec::new();
        for (i, (label, mark)) in ind.labels.iter().enumerate() {
            let label_marking = marking_of(mark, &originator, coalition);
            for marking_ref in add_definitions(ind.originator, &label_marking, &mut envelopes) {
                granular.push(json!({ "marking_ref": marking_ref, "selectors": [format!("labels.[{i}]")] }));
            }
            labels.push((LABELS[*label].to_string(), marking.restricted_by(&label_marking)));
        }
        let mut object = json!({
            "type": "indicator", "spec_version": "2.1", "id": uuid("indicator", n),
            "created": stamp, "modified": stamp, "name": format!("indicator {n}"),
            "pattern": format!("[ipv4-addr:value = '198.51.100.{n}']"), "pattern_type": "stix", "valid_from": stamp,
            "object_marking_refs": object_refs,
        });
        if !labels.is_empty() {
            object["labels"] = json!(labels.iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>());
        }
        if !granular.is_empty() {
            object["granular_markings"] = json!(granular);
        }
        let topics = labels.iter().map(|(l, _)| Topic::new(l).unwrap()).collect();
        envelopes.entry(ind.originator).or_default().push(object);
        posted.push(Posted {
            id: uuid("indicator", n),
            originator,
            topics,
            marking,
            labels,
            refs: Vec::new(),
            is_report: false,
        });
    }
    for (n, link) in links.iter().enumerate() {
        let originator = Code::new(PARTIES[link.originator]).unwrap();
        let marking = marking_of(&link.mark, &originator, coalition);
        let object_refs = add_definitions(link.originator, &marking, &mut envelopes);
        let refs: Vec<String> = link.refs.iter().map(|r| uuid("indicator", r % indicators.len())).collect();
        let refs: Vec<String> = refs.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect();
        let (id, object) = if link.is_report || refs.len() < 2 {
            let id = uuid("report", n);
            let object = json!({
                "type": "report", "spec_version": "2.1", "id": id, "created": stamp, "modified": stamp,
                "name": format!("report {n}"), "published": stamp, "object_refs": refs,
                "object_marking_refs": object_refs,
            });
            (id, object)
        } else {
            let id = uuid("relationship", n);
            let object = json!({
                "type": "relationship", "spec_version": "2.1", "id": id, "created": stamp, "modified": stamp,
                "relationship_type": "related-to", "source_ref": refs[0], "target_ref": refs[1],
                "object_marking_refs": object_refs,
            });
            (id, object)
        };
        let is_report = object["type"] == "report";
        let refs = if is_report { refs } else { refs[..2].to_vec() };
        envelopes.entry(link.originator).or_default().push(object);
        posted.push(Posted { id, originator, topics: BTreeSet::new(), marking, labels: Vec::new(), refs, is_report });
    }
    (envelopes, posted)
}

fn may_read(coalition: &Coalition, posted: &Posted, marking: &Marking, user: &User, now: OffsetDateTime) -> bool {
    user.clearance >= marking.classification()
        && oracle::party_may_receive(coalition, &posted.originator, &posted.topics, marking, &user.party, now)
}

/// A relationship or report that references indicators of other parties, posted before it and
/// received by its party, derives from them (DESIGN.md section 2, provenance): every originator
/// of them must allow it, under its own marking and the markings of what its party received of
/// them, with their topics; content without topics is never covered by a topic scope.
struct Derived {
    originators: BTreeSet<Code>,
    topics: BTreeSet<Topic>,
    restrictions: oracle::Restrictions,
}

fn derived(coalition: &Coalition, posted: &[Posted], link: &Posted, now: OffsetDateTime) -> Derived {
    let order = |code: &Code| PARTIES.iter().position(|p| *p == code.as_str()).unwrap_or(usize::MAX);
    let mut out = Derived {
        originators: BTreeSet::from([link.originator.clone()]),
        topics: link.topics.clone(),
        restrictions: oracle::Restrictions::of(&link.marking),
    };
    let party_may = |source: &Posted, marking: &Marking| {
        oracle::party_may_receive(coalition, &source.originator, &source.topics, marking, &link.originator, now)
    };
    for id in &link.refs {
        let Some(source) = posted.iter().find(|s| s.id == *id) else { continue };
        // Posted later (by a party whose envelope comes after) or the party's own: no provenance.
        if order(&source.originator) >= order(&link.originator) || !party_may(source, &source.marking) {
            continue;
        }
        out.originators.insert(source.originator.clone());
        out.topics.extend(source.topics.iter().cloned());
        if source.topics.is_empty() {
            out.topics.insert(Topic::new("no-scope-names-this").unwrap());
        }
        let received = std::iter::once(&source.marking)
            .chain(source.labels.iter().map(|(_, m)| m).filter(|m| party_may(source, m)));
        for marking in received {
            out.restrictions = out.restrictions.and(&oracle::Restrictions::of(marking));
        }
    }
    out
}

/// The oracle: what `user` receives of each posted object (its labels and references), by id.
fn expected(
    coalition: &Coalition,
    posted: &[Posted],
    user: &User,
    now: OffsetDateTime,
) -> BTreeMap<String, (Vec<String>, Vec<String>)> {
    let indicators: BTreeSet<&str> = posted
        .iter()
        .filter(|p| p.refs.is_empty() && !p.is_report && may_read(coalition, p, &p.marking, user, now))
        .map(|p| p.id.as_str())
        .collect();
    let mut out = BTreeMap::new();
    for p in posted {
        let readable = if p.refs.is_empty() {
            may_read(coalition, p, &p.marking, user, now)
        } else {
            let d = derived(coalition, posted, p, now);
            user.clearance >= d.restrictions.classification
                && oracle::party_may_receive_from(
                    coalition,
                    &d.originators,
                    &d.topics,
                    &d.restrictions,
                    &user.party,
                    now,
                )
        };
        if !readable {
            continue;
        }
        let labels: Vec<String> =
            p.labels.iter().filter(|(_, m)| may_read(coalition, p, m, user, now)).map(|(l, _)| l.clone()).collect();
        let own = user.party == p.originator;
        let refs: Vec<String> = p.refs.iter().filter(|r| own || indicators.contains(r.as_str())).cloned().collect();
        let whole = if p.is_report { !refs.is_empty() } else { refs.len() == p.refs.len() };
        if whole {
            out.insert(p.id.clone(), (labels, refs));
        }
    }
    out
}

fn strings(value: &Value, key: &str) -> Vec<String> {
    value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(String::from))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn taxii_views_match_the_oracle(
        coalition_world in world(),
        indicators in prop::collection::vec(indicator(), 1..6),
        links in prop::collection::vec(link(), 0..4),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
            let fx = fixture(now).await;
            let mut toml = coalition_toml(&coalition_world, now);
            toml += &format!(
                "[[collection]]\nid = \"{COLLECTION}\"\ntitle = \"shared\"\nowner = \"AAA\"\nwriters = [\"AAA\", \"BBB\", \"CCC\", \"DDD\"]\n"
            );
            fx.hub.apply(&toml, now).await.unwrap();
            let (coalition, users) = oracle_coalition(&toml);
            let (envelopes, posted) = build(&indicators, &links, &coalition, now);
            for (party, objects) in &envelopes {
                let author = fx.hub.user(&format!("author-{party}")).await.unwrap();
                let status = fx.hub.taxii_add(&author, COLLECTION, json!({ "objects": objects }), now).await.unwrap();
                assert_eq!(status["failure_count"], 0, "{status}");
            }
            let all_ids: BTreeSet<&str> = posted.iter().map(|p| p.id.as_str()).collect();
            for user in &users {
                let expected = expected(&coalition, &posted, user, now);
                for collection in [COLLECTION.to_string(), Collection::feed_id(&user.party)] {
                    let page = fx.hub.taxii_objects(user, &collection, &TaxiiQuery::default(), now).await.unwrap();
                    let mut got = BTreeMap::new();
                    for object in page.items.iter().filter(|o| o["type"] != "marking-definition") {
                        let id = object["id"].as_str().unwrap().to_string();
                        let mut refs = strings(object, "object_refs");
                        for key in ["source_ref", "target_ref"] {
                            refs.extend(object.get(key).and_then(Value::as_str).map(String::from));
                        }
                        got.insert(id, (strings(object, "labels"), refs));
                    }
                    assert_eq!(got, expected, "{} ({}, {}) in {collection}", user.name, user.party, user.clearance);
                    // Nothing the user may not see is named anywhere in what it receives, but for
                    // the references its own party wrote.
                    let written: BTreeSet<&str> = posted
                        .iter()
                        .filter(|p| p.originator == user.party)
                        .flat_map(|p| p.refs.iter().map(String::as_str))
                        .collect();
                    let text = serde_json::to_string(&page.items).unwrap();
                    for id in all_ids.iter().filter(|id| !expected.contains_key(**id) && !written.contains(**id)) {
                        assert!(!text.contains(*id), "{} received a trace of {id}", user.name);
                    }
                }
                // A withheld object is exactly an absent one.
                for id in all_ids.iter().filter(|id| !expected.contains_key(**id)) {
                    let answer = fx.hub.taxii_object(user, COLLECTION, id, &TaxiiQuery::default(), now).await;
                    assert!(matches!(answer, Err(HubError::NotFound)), "{} reading {id}: {answer:?}", user.name);
                }
                let absent = uuid("indicator", 999_999);
                let answer = fx.hub.taxii_object(user, COLLECTION, &absent, &TaxiiQuery::default(), now).await;
                assert!(matches!(answer, Err(HubError::NotFound)));
            }
        });
    }
}
