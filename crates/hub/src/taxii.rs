//! TAXII 2.1's domain operations: collections, objects, manifests, versions, adds, deletes and
//! statuses, each computed from the caller's own view. Everything a caller reads is an object
//! version released to its party (the release index), rendered for it: withheld portions and
//! references to objects it may not see removed. Nothing counts what was withheld.
//!
//! HTTP (media types, query parsing, headers) is the server's; this module takes parsed queries.

use std::collections::{BTreeSet, HashMap, HashSet};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tearline_model::stix::{self, MarkingMeaning, ObjectPortions, StixObject};
use tearline_model::{Code, Collection, ReleaseFacts, User};
pub use tearline_store::VersionFilter;
use tearline_store::{
    Added, ListingPosition, MarkingUse, NewObject, ObjectQuery, Released, StatusWrite, StoreError, StoredObject,
};
use time::OffsetDateTime;

use crate::{fresh, until_fresh, Hub, HubError, Result, Snapshot};

/// Largest page a caller gets, whatever `limit` it asks.
pub const MAX_TAXII_PAGE: u32 = 1000;
/// Largest request body the API root accepts (advertised as `max_content_length`).
pub const MAX_CONTENT_LENGTH: usize = 10 * 1024 * 1024;
/// The media type of STIX 2.1 content in manifests.
pub const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";

/// A collection as one caller sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionView {
    pub collection: Collection,
    pub can_read: bool,
    pub can_write: bool,
}

/// The filters of a TAXII request, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaxiiQuery {
    pub added_after: Option<OffsetDateTime>,
    pub limit: Option<u32>,
    pub next: Option<String>,
    pub ids: Vec<String>,
    pub types: Vec<String>,
    /// Empty: the default of the endpoint (`last`).
    pub versions: VersionFilter,
    pub spec_versions: Vec<String>,
}

/// One page of a listing, with what the TAXII headers and envelope need.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub more: bool,
    pub next: Option<String>,
    pub first_added: Option<OffsetDateTime>,
    pub last_added: Option<OffsetDateTime>,
    /// The receipt of the release, when the page released object versions.
    pub receipt: Option<crate::Receipt>,
}

/// A manifest record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRecord {
    pub id: String,
    pub date_added: OffsetDateTime,
    pub version: OffsetDateTime,
    pub media_type: &'static str,
}

/// A released object version rendered for the caller.
struct Rendered {
    object: StoredObject,
    value: Value,
    /// The portions the rendering holds.
    portions: tearline_model::PortionSet,
    /// The fingerprints of its texts (field, choices).
    marks: Vec<(String, String)>,
}

impl Hub {
    /// The collections the caller may read: the declared ones and its party's feed.
    pub async fn collections(&self, viewer: &User, now: OffsetDateTime) -> Result<Vec<CollectionView>> {
        let snapshot = self.current(now).await?;
        let mut views =
            vec![CollectionView { collection: Collection::feed_of(&viewer.party), can_read: true, can_write: false }];
        for collection in &snapshot.state.declared.collections {
            if collection.can_read(&snapshot.coalition, &viewer.party) {
                views.push(CollectionView {
                    can_read: true,
                    can_write: collection.can_write(&snapshot.coalition, &viewer.party),
                    collection: collection.clone(),
                });
            }
        }
        Ok(views)
    }

    /// One collection the caller may read; any other is [`HubError::NotFound`].
    pub async fn collection(&self, viewer: &User, id: &str, now: OffsetDateTime) -> Result<CollectionView> {
        self.collections(viewer, now).await?.into_iter().find(|v| v.collection.id == id).ok_or(HubError::NotFound)
    }

    /// The objects of a collection the caller receives, a page at a time.
    pub async fn taxii_objects(
        &self,
        viewer: &User,
        collection: &str,
        query: &TaxiiQuery,
        now: OffsetDateTime,
    ) -> Result<Page<Value>> {
        let view = self.collection(viewer, collection, now).await?;
        let mut page = self.released_page(viewer, &view, query, None, "objects").await?;
        page.receipt = self.record_taxii_deliveries(viewer, &page.items, now).await?;
        let mut page = page.map(|rendered| rendered.value);
        // Public definitions asked for by id come first, on the first page.
        if query.next.is_none() {
            let definitions = query.ids.iter().filter_map(|id| public_definition(id)).filter(|definition| {
                let of_type = |t: &String| definition.get("type").and_then(Value::as_str) == Some(t.as_str());
                query.types.is_empty() || query.types.iter().any(of_type)
            });
            let mut items: Vec<Value> = definitions.collect();
            items.append(&mut page.items);
            page.items = items;
        }
        Ok(page)
    }

    /// The manifest of a collection, from the caller's view.
    pub async fn taxii_manifest(
        &self,
        viewer: &User,
        collection: &str,
        query: &TaxiiQuery,
        now: OffsetDateTime,
    ) -> Result<Page<ManifestRecord>> {
        let view = self.collection(viewer, collection, now).await?;
        let page = self.released_page(viewer, &view, query, None, "manifest").await?;
        Ok(page.map(|rendered| ManifestRecord {
            id: rendered.object.id,
            date_added: rendered.object.date_added,
            version: rendered.object.version,
            media_type: STIX_MEDIA_TYPE,
        }))
    }

    /// One object of a collection (the versions the filters select); none is
    /// [`HubError::NotFound`]. Tearline's own definitions and the TLP marking definitions are
    /// served from any collection the caller may read.
    pub async fn taxii_object(
        &self,
        viewer: &User,
        collection: &str,
        object_id: &str,
        query: &TaxiiQuery,
        now: OffsetDateTime,
    ) -> Result<Page<Value>> {
        let view = self.collection(viewer, collection, now).await?;
        if let Some(definition) = public_definition(object_id) {
            let items = vec![definition];
            return Ok(Page { items, more: false, next: None, first_added: None, last_added: None, receipt: None });
        }
        let mut page = self.object_page(viewer, &view, object_id, query, "object").await?;
        page.receipt = self.record_taxii_deliveries(viewer, &page.items, now).await?;
        Ok(page.map(|rendered| rendered.value))
    }

    /// The versions of one object the caller receives.
    pub async fn taxii_versions(
        &self,
        viewer: &User,
        collection: &str,
        object_id: &str,
        query: &TaxiiQuery,
        now: OffsetDateTime,
    ) -> Result<Page<VersionRecord>> {
        let view = self.collection(viewer, collection, now).await?;
        let mut all = query.clone();
        all.versions = VersionFilter { all: true, ..VersionFilter::default() };
        let page = self.object_page(viewer, &view, object_id, &all, "versions").await?;
        Ok(page
            .map(|rendered| VersionRecord { version: rendered.object.version, date_added: rendered.object.date_added }))
    }

    /// Deletes the selected versions of an object the caller's party originated, from a
    /// collection it may write. An object it may not see is [`HubError::NotFound`]; one it sees
    /// but did not originate, or a collection it may only read, is [`HubError::Forbidden`].
    pub async fn taxii_delete(
        &self,
        viewer: &User,
        collection: &str,
        object_id: &str,
        query: &TaxiiQuery,
        now: OffsetDateTime,
    ) -> Result<()> {
        let view = self.collection(viewer, collection, now).await?;
        let mut all = query.clone();
        all.limit = Some(MAX_TAXII_PAGE);
        all.next = None;
        // Without `match[version]`, a delete removes every version.
        if all.versions == VersionFilter::default() {
            all.versions.all = true;
        }
        let mut seqs = Vec::new();
        loop {
            let page = self.released_page(viewer, &view, &all, Some(object_id), "delete").await?;
            if page.items.is_empty() && seqs.is_empty() {
                return Err(HubError::NotFound);
            }
            if !view.can_write {
                return Err(HubError::Forbidden("the collection is read-only for the caller".into()));
            }
            for rendered in &page.items {
                if rendered.object.facts.originator != viewer.party {
                    return Err(HubError::Forbidden("only the originator's users may delete an object".into()));
                }
                seqs.push(rendered.object.seq);
            }
            match page.next {
                Some(next) if page.more => all.next = Some(next),
                _ => break,
            }
        }
        self.store.delete_objects(&seqs).await?;
        Ok(())
    }

    /// A status the caller's party may read.
    pub async fn taxii_status(&self, viewer: &User, id: &str) -> Result<Value> {
        self.store.status(id, &viewer.party).await?.ok_or(HubError::NotFound)
    }

    /// Adds the objects of an envelope to a collection the caller may write; returns the status
    /// resource (already complete: adds are synchronous). Invalid STIX, or a marking the hub does
    /// not understand, refuses the whole envelope ([`HubError::Invalid`]); otherwise an object
    /// fails only when a different one is stored under its id and version, and an identical
    /// one already stored succeeds without a change.
    pub async fn taxii_add(
        &self,
        viewer: &User,
        collection: &str,
        envelope: Value,
        now: OffsetDateTime,
    ) -> Result<Value> {
        let view = self.collection(viewer, collection, now).await?;
        if !view.can_write {
            return Err(HubError::Forbidden("the caller may not add objects to this collection".into()));
        }
        let objects = match envelope {
            Value::Object(mut fields) => match fields.remove("objects") {
                Some(Value::Array(objects)) => objects,
                _ => return Err(HubError::Invalid("the envelope has no `objects` list".into())),
            },
            _ => return Err(HubError::Invalid("the envelope is not a JSON object".into())),
        };
        if objects.is_empty() {
            return Err(HubError::Invalid("the envelope's `objects` list is empty".into()));
        }
        let total = objects.len();
        let parsed = parse_envelope(objects)?;
        let status_id = uuid::Uuid::new_v4().to_string();
        let ids: Vec<String> = parsed.iter().map(|o| o.id().to_string()).collect::<BTreeSet<_>>().into_iter().collect();
        let originators = self.store.stored_originators(&ids).await?;
        let (shared, parsed) = self.share_received(viewer, &view, parsed, &originators, now).await?;
        let (view, parsed, originators, status_id, shared) = (&view, &parsed, &originators, &status_id, &shared);
        until_fresh(|| async move {
            let snapshot = self.current(now).await?;
            let prepared = self.prepare_add(&snapshot, viewer, view, parsed, originators, now).await?;
            // The definitions of inherited markings go first, and are no part of the status.
            let made = prepared.definitions.len();
            let (indexes, posted): (Vec<usize>, Vec<NewObject>) = prepared.objects.into_iter().unzip();
            let mut new = prepared.definitions;
            new.extend(posted);
            // The status is made once, written with the objects in their transaction, and answered.
            let make = |added: &[Added]| {
                status_of(status_id, now, total, &indexes, &new[made..], added.get(made..).unwrap_or_default(), shared)
            };
            let status = std::sync::OnceLock::new();
            let added = {
                let render = |added: &[Added]| {
                    let value = make(added);
                    let text = value.to_string();
                    let _ = status.set(value);
                    text
                };
                let write = StatusWrite { id: status_id, party: &viewer.party, render: &render };
                fresh(self.store.insert_objects(snapshot.state.version, &new, now, false, Some(&write)).await)?
            };
            Ok(added.map(|added| status.into_inner().unwrap_or_else(|| make(&added))))
        })
        .await
    }

    /// Objects of an envelope that another party originated (`originators`: of the envelope's
    /// ids stored): one the caller's party received, posted unchanged, is passed on to the
    /// collection's readers (a share, decided by the onward rules); any other is a failure.
    /// Returns their status records, and the objects left to add with their envelope positions.
    async fn share_received(
        &self,
        viewer: &User,
        view: &CollectionView,
        parsed: Vec<StixObject>,
        originators: &HashMap<String, Vec<Code>>,
        now: OffsetDateTime,
    ) -> Result<(Vec<Shared>, Vec<(usize, StixObject)>)> {
        let foreign = |object: &StixObject| {
            originators.get(object.id()).is_some_and(|codes| codes.iter().any(|code| *code != viewer.party))
        };
        let mut shared = Vec::new();
        let mut own = Vec::new();
        for (index, object) in parsed.into_iter().enumerate() {
            if !foreign(&object) {
                own.push((index, object));
                continue;
            }
            let version = object.version().map(stix::timestamp);
            let record = |outcome: std::result::Result<OffsetDateTime, String>| Shared {
                index,
                id: object.id().to_string(),
                version: version.clone(),
                outcome,
            };
            let received = match self.received_version(viewer, object.id(), object.version()).await {
                Ok((stored, _)) if stored.facts.originator != viewer.party => Some(stored),
                _ => None,
            };
            let Some(stored) = received else {
                shared.push(record(Err("another object is stored with this id and version".into())));
                continue;
            };
            let rendered = self.rendering_of(viewer, &stored).await?;
            if stored.stix != object.to_value() && rendered.as_ref() != Some(&object.to_value()) {
                let message = "the object is another party's: only a version received from it, unchanged, can be \
                               passed on";
                shared.push(record(Err(message.into())));
                continue;
            }
            let readers: Vec<String> = match &view.collection.readers {
                Some(readers) => readers.iter().map(ToString::to_string).collect(),
                None => self.parties(now).await?.iter().map(ToString::to_string).collect(),
            };
            let request = crate::onward::ShareRequest {
                object: stored.id.clone(),
                version: Some(stored.version),
                to: readers,
                portions: None,
                into_collection: Some(view.collection.id.clone()),
            };
            let outcome = self.share(viewer, &request, "taxii", now).await?;
            shared.push(record(if outcome.outcome == "refused" {
                let rules: BTreeSet<&str> = outcome
                    .recipients
                    .iter()
                    .flat_map(|r| r.refused.iter().flat_map(|p| p.reasons.iter().map(|reason| reason.rule.as_str())))
                    .collect();
                Err(format!("passing it on is refused: {}", rules.into_iter().collect::<Vec<_>>().join(", ")))
            } else {
                Ok(stored.date_added)
            }));
        }
        Ok((shared, own))
    }

    /// Records the renderings given to `viewer`, for the originators' audit and the ledger.
    async fn record_taxii_deliveries(
        &self,
        viewer: &User,
        items: &[Rendered],
        now: OffsetDateTime,
    ) -> Result<Option<crate::Receipt>> {
        let given: Vec<crate::ledger::Given> = items
            .iter()
            .map(|rendered| crate::ledger::Given {
                object_id: &rendered.object.id,
                version: rendered.object.version,
                portions: rendered.portions.clone(),
                rendering: &rendered.value,
                marks: rendered.marks.clone(),
            })
            .collect();
        self.deliver(viewer, &given, "taxii", now).await
    }

    /// What `viewer` receives of a stored object version (for comparing a re-posted copy).
    async fn rendering_of(&self, viewer: &User, stored: &StoredObject) -> Result<Option<Value>> {
        let snapshot = self.current_snapshot().await;
        let (entries, _) = self.store.release_entries_of(stored.seq).await?;
        let Some(entry) = entries.into_iter().find(|e| e.party == viewer.party) else { return Ok(None) };
        let row = Released { object: stored.clone(), entry, position: ListingPosition::default() };
        Ok(self.render_all(&snapshot, viewer, vec![row]).await?.pop().and_then(|(_, r)| r).map(|r| r.value))
    }

    /// Validates and decides each object of an add: what to store, with its position in the
    /// envelope (`originators`: of its ids already stored). An object that references another
    /// party's object the caller received, or reuses its text, derives from it.
    async fn prepare_add(
        &self,
        snapshot: &Snapshot,
        viewer: &User,
        view: &CollectionView,
        parsed: &[(usize, StixObject)],
        originators: &HashMap<String, Vec<Code>>,
        now: OffsetDateTime,
    ) -> Result<PreparedAdd> {
        let invalid = |at: usize, problem: &str| {
            let (index, object) = &parsed[at];
            refused(*index, object.id(), problem)
        };
        let parsed_objects: Vec<&StixObject> = parsed.iter().map(|(_, o)| o).collect();
        // Marking definitions come from the envelope itself or from the store. They never change
        // (STIX gives them no versions): one already stored must come again identical.
        let posted: Vec<String> = parsed_objects
            .iter()
            .filter(|o| o.object_type() == "marking-definition")
            .map(|o| o.id().to_string())
            .collect();
        let stored: std::collections::BTreeMap<String, Value> =
            self.store.marking_definitions(&posted).await?.into_iter().map(|d| (d.id, d.stix)).collect();
        let mut definitions: std::collections::BTreeMap<String, Result<MarkingMeaning, String>> = Default::default();
        for (index, object) in parsed_objects.iter().enumerate() {
            if object.object_type() == "marking-definition" {
                if stored.get(object.id()).is_some_and(|known| *known != object.to_value()) {
                    let problem = "a different marking definition is stored under this id, and marking \
                                   definitions cannot change";
                    return Err(invalid(index, problem));
                }
                let meaning = MarkingMeaning::of_definition(object).map_err(|e| e.to_string());
                definitions.insert(object.id().to_string(), meaning);
            }
        }
        let wanted: Vec<String> = parsed_objects
            .iter()
            .flat_map(|o| o.marking_refs())
            .filter(|id| stix::builtin_marking(id).is_none() && !definitions.contains_key(*id))
            .map(str::to_string)
            .collect::<BTreeSet<String>>()
            .into_iter()
            .collect();
        for stored in self.store.marking_definitions(&wanted).await? {
            let meaning = StixObject::parse(stored.stix.clone())
                .map_err(|e| e.to_string())
                .and_then(|o| MarkingMeaning::of_definition(&o).map_err(|e| e.to_string()));
            definitions.insert(stored.id.clone(), meaning);
        }
        let resolve = |id: &str| -> Option<MarkingMeaning> {
            stix::builtin_marking(id).or_else(|| definitions.get(id).and_then(|m| m.as_ref().ok().cloned()))
        };

        // Provenance: references to other parties' objects the caller received (a `derived-from`
        // relationship also makes its source derived), and reused text, looked up once.
        let sources = self.envelope_sources(snapshot, viewer, &parsed_objects).await?;
        // A new version of an object carries its earlier versions' provenance.
        let mut previous: HashMap<&str, ReleaseFacts> = Default::default();
        for id in originators.keys() {
            if let Some(latest) = self.store.object_versions(id).await?.pop() {
                previous.insert(id, latest.facts);
            }
        }
        let mut candidates = Vec::new();
        let mut inherited_definitions: Vec<NewObject> = Vec::new();
        for (index, object) in parsed_objects.iter().copied().enumerate() {
            if let Some(Err(reason)) = definitions.get(object.id()) {
                return Err(invalid(index, &format!("the marking definition is not understood: {reason}")));
            }
            let portions = ObjectPortions::of(object, &viewer.party, &snapshot.coalition, &resolve)
                .map_err(|e| invalid(index, &e.to_string()))?;
            if let Some(above) = portions.markings().iter().map(|m| m.classification()).find(|c| *c > viewer.clearance)
            {
                let problem = format!("a portion is marked {above}, above the author's clearance {}", viewer.clearance);
                return Err(invalid(index, &problem));
            }
            let own = if object.object_type() == "marking-definition" {
                ReleaseFacts::released_with_users(&viewer.party)
            } else {
                let topics = object.labels().into_iter().filter_map(|l| tearline_model::Topic::new(l).ok()).collect();
                ReleaseFacts::of_object(viewer.party.clone(), topics, portions.markings().to_vec())
            };
            let object_sources = sources.get(index).map(Vec::as_slice).unwrap_or_default();
            let mut derivation = crate::provenance::derive(&own, object_sources);
            if let Some(previous) = previous.get(object.id()).filter(|_| object.object_type() != "marking-definition") {
                derivation.facts.carry_provenance(previous);
            }
            let tried = snapshot.decider.release_entries_for_coalition(&own);
            // Most objects derive from nothing: their entries are those they tried for.
            let entries = if derivation.facts == own {
                tried.clone()
            } else {
                snapshot.decider.release_entries_for_coalition(&derivation.facts)
            };
            let version = object.version().unwrap_or(now);
            let events = crate::provenance::derivation_events(
                viewer,
                object.id(),
                version,
                object_sources,
                &tried,
                &entries,
                now,
            );
            let texts = stix::prose_portions(object, &portions);
            let stix = serde_json::to_string(object.json())
                .map_err(|e| HubError::Internal(format!("encoding {}: {e}", object.id())))?;
            let mut markings = marking_uses(object, &portions);
            if let Some(inherited) = &derivation.facts.inherited {
                // Renderings carry the restriction inherited from the sources (see `render_for`).
                inherited_definitions.extend(crate::marking_definitions_of(std::iter::once(inherited), &viewer.party)?);
                let every_portion: tearline_model::PortionSet = (0..portions.markings().len().max(1)).collect();
                markings.extend(stix::marking_refs(inherited, &viewer.party).into_iter().map(|id| MarkingUse {
                    id,
                    portions: every_portion.clone(),
                    min_classification: inherited.classification(),
                }));
            }
            candidates.push((
                parsed[index].0,
                NewObject {
                    id: object.id().to_string(),
                    version: object.version(),
                    object_type: object.object_type().to_string(),
                    spec_version: object.spec_version().unwrap_or("2.1").to_string(),
                    collection: Some(view.collection.id.clone()),
                    entries,
                    markings,
                    facts: derivation.facts,
                    report: None,
                    stix,
                    sources: derivation.sources,
                    sketches: crate::provenance::sketches(&texts),
                    events,
                },
            ));
        }
        let mut seen = BTreeSet::new();
        inherited_definitions.retain(|d| seen.insert(d.id.clone()));
        Ok(PreparedAdd { objects: candidates, definitions: inherited_definitions })
    }

    /// The sources of each object of an envelope: other parties' objects it references that the
    /// caller's party received (with the target of a `derived-from` relationship among its
    /// source's), and released texts of other parties that its prose reuses.
    async fn envelope_sources(
        &self,
        snapshot: &Snapshot,
        viewer: &User,
        objects: &[&StixObject],
    ) -> Result<Vec<Vec<crate::provenance::SourceUse>>> {
        let in_envelope: HashSet<&str> = objects.iter().map(|o| o.id()).collect();
        let mut declared: Vec<Vec<String>> = objects
            .iter()
            .map(|o| o.references().into_iter().filter(|id| !in_envelope.contains(id)).map(str::to_string).collect())
            .collect();
        for object in objects.iter().filter(|o| o.object_type() == "relationship") {
            let field = |name: &str| object.json().get(name).and_then(Value::as_str);
            if field("relationship_type") != Some("derived-from") {
                continue;
            }
            let (Some(derived), Some(source)) = (field("source_ref"), field("target_ref")) else { continue };
            if let Some(position) = objects.iter().position(|o| o.id() == derived) {
                if !in_envelope.contains(source) {
                    declared[position].push(source.to_string());
                }
            }
        }
        let referenced: Vec<String> = declared.iter().flatten().cloned().collect::<BTreeSet<_>>().into_iter().collect();
        let originators = self.store.stored_originators(&referenced).await?;
        // Only references to objects of other parties count; ones the caller cannot see name nothing.
        let released = self.store.released_ids(&viewer.party, viewer.clearance, &referenced).await?;
        let foreign = |id: &String| {
            released.contains(id) && originators.get(id).is_some_and(|codes| codes.iter().any(|c| *c != viewer.party))
        };
        let texts: Vec<Vec<(usize, String)>> = objects
            .iter()
            .map(|object| {
                let anything = |_: &str| Some(MarkingMeaning::Statement);
                ObjectPortions::of(object, &viewer.party, &snapshot.coalition, &anything)
                    .map(|portions| stix::prose_portions(object, &portions))
                    .unwrap_or_default()
            })
            .collect();
        let copied = self.copied_sources(snapshot, viewer, &texts).await?;
        let mut all = Vec::with_capacity(objects.len());
        for (ids, copied) in declared.into_iter().zip(copied) {
            let ids: Vec<String> = ids.into_iter().filter(|id| foreign(id)).collect();
            let mut sources = self.declared_sources(viewer, &ids).await?;
            sources.extend(copied.into_iter().filter(|c| !ids.contains(&c.object.id)));
            all.push(sources);
        }
        Ok(all)
    }

    /// A page of the versions of one object the caller receives; a first page with none is
    /// [`HubError::NotFound`], like an object that does not exist.
    async fn object_page(
        &self,
        viewer: &User,
        view: &CollectionView,
        object_id: &str,
        query: &TaxiiQuery,
        endpoint: &str,
    ) -> Result<Page<Rendered>> {
        let page = self.released_page(viewer, view, query, Some(object_id), endpoint).await?;
        if page.items.is_empty() && query.next.is_none() {
            return Err(HubError::NotFound);
        }
        Ok(page)
    }

    /// A page of the object versions the caller receives in a collection (of one object, with
    /// `object_id`), rendered, skipping those whose rendering is withheld.
    async fn released_page(
        &self,
        viewer: &User,
        view: &CollectionView,
        query: &TaxiiQuery,
        object_id: Option<&str>,
        endpoint: &str,
    ) -> Result<Page<Rendered>> {
        let limit = query.limit.unwrap_or(MAX_TAXII_PAGE).clamp(1, MAX_TAXII_PAGE);
        let snapshot = self.current_snapshot().await;
        let key = self.paging_key().await?;
        let binding = binding_of(viewer, endpoint, &view.collection.id, object_id, query);
        let mut after = match &query.next {
            Some(next) => open_next(key, &binding, next).ok_or(HubError::BadCursor)?,
            None => ListingPosition::default(),
        };
        let mut ids = query.ids.clone();
        if let Some(id) = object_id {
            ids = vec![id.to_string()];
        }
        let versions = if query.versions == VersionFilter::default() {
            VersionFilter { last: true, ..VersionFilter::default() }
        } else {
            query.versions.clone()
        };
        let mut items: Vec<Rendered> = Vec::new();
        let mut more = false;
        'scan: loop {
            let rows = self
                .store
                .released_objects(&ObjectQuery {
                    party: viewer.party.clone(),
                    clearance: viewer.clearance,
                    collection: (!view.collection.is_feed).then(|| view.collection.id.clone()),
                    after,
                    added_after: query.added_after,
                    ids: ids.clone(),
                    types: query.types.clone(),
                    spec_versions: query.spec_versions.clone(),
                    versions: versions.clone(),
                    limit: limit + 1,
                })
                .await?;
            let exhausted = rows.len() <= limit as usize;
            let rendered = self.render_all(&snapshot, viewer, rows).await?;
            for (position, item) in rendered {
                let Some(item) = item else {
                    after = position;
                    continue;
                };
                if items.len() == limit as usize {
                    more = true;
                    break 'scan;
                }
                after = position;
                items.push(item);
            }
            if exhausted {
                break;
            }
        }
        let next = match (more, items.last()) {
            // `after` is the last item's position: the scan stopped at the one after it.
            (true, Some(_)) => Some(seal_next(key, &binding, after)),
            _ => None,
        };
        Ok(Page {
            first_added: items.first().map(|r| r.object.date_added),
            last_added: items.last().map(|r| r.object.date_added),
            items,
            more,
            next,
            receipt: None,
        })
    }

    /// Renders released object versions for the caller, in order; `None` where the rendering
    /// withholds the object (a required property or reference withheld).
    async fn render_all(
        &self,
        snapshot: &Snapshot,
        viewer: &User,
        rows: Vec<Released>,
    ) -> Result<Vec<(ListingPosition, Option<Rendered>)>> {
        // Only objects that rendering may change are parsed: reports in Tearline's form are
        // rendered from the report, and an object without granular markings whose references
        // need no check is released as stored.
        let parsed: Vec<(Released, Option<StixObject>)> = rows
            .into_iter()
            .map(|row| {
                let is_originator = row.object.facts.originator == viewer.party;
                let as_stored =
                    row.object.facts.portions.len() <= 1 && (is_originator || !has_references(&row.object.stix));
                let object = if row.object.report.is_some() || as_stored {
                    None
                } else {
                    StixObject::parse(row.object.stix.clone()).ok()
                };
                (row, object)
            })
            .collect();
        let references: Vec<String> = parsed
            .iter()
            .filter(|(row, _)| row.object.facts.originator != viewer.party)
            .filter_map(|(_, object)| object.as_ref())
            .flat_map(|object| object.references())
            .map(str::to_string)
            .collect::<BTreeSet<String>>()
            .into_iter()
            .collect();
        let mut released: HashSet<String> =
            self.store.released_ids(&viewer.party, viewer.clearance, &references).await?;
        // Identities of the coalition's parties are public within it.
        released.extend(snapshot.coalition.parties().map(|p| stix::party_identity_id(&p.code)));
        Ok(parsed
            .into_iter()
            .map(|(row, object)| {
                let position = row.position;
                let mut marker = self.marker(&viewer.party);
                let value = render_for(snapshot, viewer, &row, object.as_ref(), &released, &mut marker);
                let marks = marker.marks;
                let portions = (0..row.object.facts.portions.len().max(1))
                    .filter(|i| row.object.facts.portion_shown(&row.entry, viewer.clearance, *i))
                    .collect();
                (position, value.map(|value| Rendered { object: row.object, value, portions, marks }))
            })
            .collect())
    }

    /// The key that seals paging cursors, made once per hub (shared by every process on the
    /// store) and read once per process.
    async fn paging_key(&self) -> Result<&[u8]> {
        let key = self
            .paging_key
            .get_or_try_init(|| async {
                let mut fresh = [0u8; 32];
                getrandom::getrandom(&mut fresh).map_err(|e| HubError::Rejected(format!("no randomness: {e}")))?;
                let stored = self.store.init_meta("paging_key", &hex::encode(fresh)).await?;
                hex::decode(stored).map_err(|_| HubError::Store(StoreError::Corrupt("paging key".into())))
            })
            .await?;
        Ok(key)
    }
}

/// What an add stores: the posted objects to store, each with its position in the envelope, and
/// the marking definitions of restrictions they inherit from their sources.
struct PreparedAdd {
    objects: Vec<(usize, NewObject)>,
    definitions: Vec<NewObject>,
}

/// One version of an object, for the versions endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRecord {
    pub version: OffsetDateTime,
    pub date_added: OffsetDateTime,
}

impl<T> Page<T> {
    fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            more: self.more,
            next: self.next,
            first_added: self.first_added,
            last_added: self.last_added,
            receipt: self.receipt,
        }
    }
}

/// The caller's rendering of one released object version, or `None` when it is withheld.
fn render_for(
    snapshot: &Snapshot,
    viewer: &User,
    row: &Released,
    object: Option<&StixObject>,
    released: &HashSet<String>,
    marker: &mut crate::fingerprint::Marker,
) -> Option<Value> {
    let facts = &row.object.facts;
    let shown = |i: usize| facts.portion_shown(&row.entry, viewer.clearance, i);
    if !facts.is_shown(shown) {
        return None;
    }
    if let Some(report) = &row.object.report {
        let mut rendering = report.render(shown)?;
        marker.rendering(&mut rendering);
        let mut value = stix::rendering_to_stix(&rendering);
        // The banner's marking definition is computed per rendering and not stored; each portion
        // keeps its own, which is.
        if let Some(fields) = value.as_object_mut() {
            fields.remove("object_marking_refs");
        }
        return Some(value);
    }
    let Some(object) = object else {
        // Nothing in it can be withheld but the whole (see `render_all`).
        let mut value = row.object.stix.clone();
        marker.stix(&row.object, &mut value);
        mark_inherited(facts, &mut value);
        return Some(value);
    };
    let is_originator = facts.originator == viewer.party;
    let visible = |id: &str| is_originator || released.contains(id) || is_public(id);
    // Rendering needs only where the portions are: every marking may stand for nothing here.
    let anything = |_: &str| Some(MarkingMeaning::Statement);
    let portions = ObjectPortions::of(object, &facts.originator, &snapshot.coalition, &anything).ok()?;
    let mut value = stix::render(object, &portions, &shown, &visible)?;
    marker.stix(&row.object, &mut value);
    mark_inherited(facts, &mut value);
    Some(value)
}

/// An object derived from other parties' content shows the restriction it inherited from them
/// in `object_marking_refs` (the definitions are stored with it), so that a client's tools see
/// what the hub enforces, not only the marking the poster gave it.
fn mark_inherited(facts: &ReleaseFacts, value: &mut Value) {
    let (Some(inherited), Some(fields)) = (&facts.inherited, value.as_object_mut()) else { return };
    let refs = fields.entry("object_marking_refs").or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(refs) = refs {
        let tlp_of = |r: &Value| r.as_str().and_then(tearline_model::Tlp::from_marking_definition_id);
        let mut ids = stix::marking_refs(inherited, &facts.originator);
        // One TLP: the object's own when it is as restrictive, else the inherited one alone.
        if let Some(tlp) = inherited.tlp() {
            if refs.iter().filter_map(tlp_of).max().is_some_and(|own| own >= tlp) {
                ids.retain(|id| id != tlp.marking_definition_id());
            } else {
                refs.retain(|r| tlp_of(r).is_none());
            }
        }
        for id in ids {
            if !refs.iter().any(|r| r.as_str() == Some(id.as_str())) {
                refs.push(Value::String(id));
            }
        }
    }
}

/// Objects every authenticated caller may read: Tearline's definitions, the hub's identity, and
/// the TLP marking definitions.
fn is_public(id: &str) -> bool {
    [stix::MARKING_EXTENSION_ID, stix::REPORT_EXTENSION_ID, stix::HUB_IDENTITY_ID].contains(&id)
        || tearline_model::Tlp::from_marking_definition_id(id).is_some()
}

/// Whether a STIX object holds a reference to another object (`*_ref`, `*_refs`, at any depth),
/// marking references aside.
fn has_references(value: &Value) -> bool {
    match value {
        Value::Object(fields) => fields.iter().any(|(key, value)| {
            let is_reference = (key.ends_with("_ref") || key.ends_with("_refs"))
                && key != "object_marking_refs"
                && key != "marking_ref";
            is_reference || (key != "granular_markings" && has_references(value))
        }),
        Value::Array(items) => items.iter().any(has_references),
        _ => false,
    }
}

fn public_definition(id: &str) -> Option<Value> {
    stix::extension_definitions()
        .into_iter()
        .find(|d| d.get("id").and_then(Value::as_str) == Some(id))
        .or_else(|| tearline_model::Tlp::from_marking_definition_id(id).map(stix::tlp_definition))
}

/// An object of an envelope that another party originated, and what became of passing it on:
/// its date added, or why it failed.
pub(crate) struct Shared {
    index: usize,
    id: String,
    version: Option<String>,
    outcome: std::result::Result<OffsetDateTime, String>,
}

/// The status resource of an add: every object stored or already there is a success, every
/// conflict a failure, in envelope order; nothing is pending (adds are synchronous).
fn status_of(
    id: &str,
    now: OffsetDateTime,
    total: usize,
    indexes: &[usize],
    objects: &[NewObject],
    added: &[Added],
    shared: &[Shared],
) -> Value {
    let mut successes = Vec::new();
    let mut failures = Vec::new();
    for object in shared {
        match &object.outcome {
            Ok(date_added) => {
                let mut record = json!({ "id": object.id, "date_added": taxii_timestamp(*date_added) });
                if let (Some(version), Some(fields)) = (&object.version, record.as_object_mut()) {
                    fields.insert("version".into(), json!(version));
                }
                successes.push(record);
            }
            Err(message) => failures.push(failure(object.index, &object.id, object.version.as_deref(), message)),
        }
    }
    for ((index, object), outcome) in indexes.iter().zip(objects).zip(added) {
        let version = object.version.map(stix::timestamp);
        match outcome {
            Added::Stored { date_added } | Added::Duplicate { date_added } => {
                let mut record = json!({ "id": object.id, "date_added": taxii_timestamp(*date_added) });
                if let (Some(version), Some(fields)) = (version, record.as_object_mut()) {
                    fields.insert("version".into(), json!(version));
                }
                // The poster is told what its object derives from, as a REST submitter is.
                if let (Some(message), Some(fields)) = (derivation_message(object), record.as_object_mut()) {
                    fields.insert("message".into(), json!(message));
                }
                successes.push(record);
            }
            Added::Conflict => failures.push(failure(
                *index,
                &object.id,
                version.as_deref(),
                "another object is stored with this id and version",
            )),
        }
    }
    strip_index(json!({
        "id": id,
        "status": "complete",
        "request_timestamp": taxii_timestamp(now),
        "total_count": total,
        "success_count": successes.len(),
        "successes": successes,
        "failure_count": failures.len(),
        "failures": failures,
        "pending_count": 0,
        "pendings": [],
    }))
}

/// What an object derives from, in words: each source, how, and the passages that matched.
fn derivation_message(object: &NewObject) -> Option<String> {
    let mut seen = BTreeSet::new();
    let parts: Vec<String> = object
        .events
        .iter()
        .filter(|event| seen.insert(event.detail["source"].as_str().unwrap_or_default().to_string()))
        .map(|event| {
            let source = event.detail["source"].as_str().unwrap_or_default();
            let passages: Vec<String> = event.detail["passages"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["text"].as_str().map(|text| format!("\"{text}\"")))
                .collect();
            if passages.is_empty() {
                format!("derived from {source}: it carries that object's restrictions")
            } else {
                format!("copies {source} ({}): it carries that object's restrictions", passages.join(", "))
            }
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Parses every object of an envelope; invalid STIX refuses the whole envelope (nothing is
/// stored), naming the object and why.
fn parse_envelope(objects: Vec<Value>) -> Result<Vec<StixObject>> {
    objects
        .into_iter()
        .enumerate()
        .map(|(index, value)| {
            let id = value.get("id").and_then(Value::as_str).unwrap_or("(no id)").to_string();
            StixObject::parse(value).map_err(|e| refused(index, &id, &e.to_string()))
        })
        .collect()
}

/// An envelope refused because of its object at `index`.
fn refused(index: usize, id: &str, problem: &str) -> HubError {
    HubError::Invalid(format!("object {index} of the envelope ({id}): {problem}"))
}

/// Which portions use each marking definition an object references: object-level markings the
/// whole object (portion 0), granular ones the portions of their selectors.
fn marking_uses(object: &StixObject, portions: &ObjectPortions) -> Vec<MarkingUse> {
    let mut uses: std::collections::BTreeMap<String, BTreeSet<usize>> = Default::default();
    let fields = object.json();
    for id in
        fields.get("object_marking_refs").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
    {
        uses.entry(id.to_string()).or_default().insert(0);
    }
    for granular in fields.get("granular_markings").and_then(Value::as_array).into_iter().flatten() {
        let Some(id) = granular.get("marking_ref").and_then(Value::as_str) else { continue };
        for selector in
            granular.get("selectors").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
        {
            if let Some(position) = portions.selectors().iter().position(|s| s == selector) {
                uses.entry(id.to_string()).or_default().insert(position + 1);
            }
        }
    }
    uses.into_iter()
        .map(|(id, used)| MarkingUse {
            min_classification: used
                .iter()
                .filter_map(|i| portions.markings().get(*i).map(|m| m.classification()))
                .min()
                .unwrap_or(tearline_model::Classification::Unclassified),
            portions: used.into_iter().collect(),
            id,
        })
        .collect()
}

fn failure(index: usize, id: &str, version: Option<&str>, message: &str) -> Value {
    let mut record = json!({ "id": id, "message": message, "index": index });
    if let (Some(version), Some(fields)) = (version, record.as_object_mut()) {
        fields.insert("version".into(), json!(version));
    }
    record
}

/// Failures are collected with their envelope position (to keep them in order); TAXII's status
/// does not carry it.
fn strip_index(mut status: Value) -> Value {
    if let Some(failures) = status.get_mut("failures").and_then(Value::as_array_mut) {
        failures.sort_by_key(|f| f.get("index").and_then(Value::as_u64).unwrap_or(0));
        for failure in failures.iter_mut() {
            if let Some(fields) = failure.as_object_mut() {
                fields.remove("index");
            }
        }
    }
    status
}

/// TAXII timestamps: RFC 3339 UTC with microseconds (dates added are distinct to the microsecond).
pub fn taxii_timestamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond()
    )
}

/// What a paging cursor is bound to: the caller, the endpoint, the collection, the object and
/// the filters.
fn binding_of(viewer: &User, endpoint: &str, collection: &str, object_id: Option<&str>, query: &TaxiiQuery) -> Vec<u8> {
    let filters = json!({
        "user": viewer.name.as_str(),
        "endpoint": endpoint,
        "collection": collection,
        "object": object_id,
        "added_after": query.added_after.map(taxii_timestamp),
        "limit": query.limit,
        "ids": query.ids,
        "types": query.types,
        "versions": [query.versions.all, query.versions.first, query.versions.last],
        "at": query.versions.at.iter().map(|t| taxii_timestamp(*t)).collect::<Vec<_>>(),
        "spec_versions": query.spec_versions,
    });
    filters.to_string().into_bytes()
}

type HmacSha256 = Hmac<Sha256>;

/// `next`: the position, and a MAC of it and of what it is bound to.
fn seal_next(key: &[u8], binding: &[u8], position: ListingPosition) -> String {
    use base64::Engine;
    let mut token = position_bytes(position).to_vec();
    token.extend_from_slice(&mac(key, binding, position));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token)
}

/// The position of a `next` sealed for this binding; `None` for a forged or foreign one.
fn open_next(key: &[u8], binding: &[u8], next: &str) -> Option<ListingPosition> {
    use base64::Engine;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(next).ok()?;
    let (after_seq, rest) = token.split_at_checked(8)?;
    let (order, tag) = rest.split_at_checked(8)?;
    let position = ListingPosition {
        after_seq: i64::from_be_bytes(after_seq.try_into().ok()?),
        order: i64::from_be_bytes(order.try_into().ok()?),
    };
    let mut check = HmacSha256::new_from_slice(key).ok()?;
    check.update(&position_bytes(position));
    check.update(binding);
    check.verify_truncated_left(tag).ok()?;
    (tag.len() == 16).then_some(position)
}

fn position_bytes(position: ListingPosition) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&position.after_seq.to_be_bytes());
    bytes[8..].copy_from_slice(&position.order.to_be_bytes());
    bytes
}

fn mac(key: &[u8], binding: &[u8], position: ListingPosition) -> Vec<u8> {
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(&position_bytes(position));
            mac.update(binding);
            mac.finalize().into_bytes()[..16].to_vec()
        }
        // HMAC takes keys of any length; an empty tag would never verify.
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_next_opens_only_with_its_binding() {
        let key = [7u8; 32];
        let at = ListingPosition { after_seq: 42, order: 3 };
        let next = seal_next(&key, b"alice", at);
        assert_eq!(open_next(&key, b"alice", &next), Some(at));
        assert_eq!(open_next(&key, b"bob", &next), None);
        assert_eq!(open_next(&[8u8; 32], b"alice", &next), None);
        let forged = seal_next(&key, b"alice", ListingPosition { after_seq: 43, order: 0 });
        let mut bytes = forged.into_bytes();
        bytes[0] ^= 1;
        assert_eq!(open_next(&key, b"alice", &String::from_utf8(bytes).unwrap()), None);
        assert_eq!(open_next(&key, b"alice", "not base64!"), None);
        assert_eq!(open_next(&key, b"alice", ""), None);
    }

    #[test]
    fn references_are_found_at_any_depth_but_markings_are_not_references() {
        let marked = json!({ "object_marking_refs": ["marking-definition--x"],
            "granular_markings": [{ "marking_ref": "marking-definition--y", "selectors": ["name"] }] });
        assert!(!has_references(&marked));
        assert!(has_references(&json!({ "created_by_ref": "identity--x" })));
        assert!(has_references(&json!({ "object_refs": [] })));
        assert!(has_references(&json!({ "extensions": { "e": { "items": [{ "parent_ref": "x" }] } } })));
        assert!(!has_references(&json!({ "name": "refs", "labels": ["a_ref"] })));
    }

    #[test]
    fn taxii_timestamps_have_microseconds() {
        let at = time::macros::datetime!(2026-03-01 10:30:05.123456789 UTC);
        assert_eq!(taxii_timestamp(at), "2026-03-01T10:30:05.123456Z");
    }
}
