//! The active activities of every party, indexed over space and time.
//!
//! An R-tree holds one box per activity (two when it straddles the antimeridian): longitude,
//! latitude and time in days, the area widened by its own buffer and the window by the margin.
//! A new activity's box, widened the same way, finds the candidates; the exact checks (time,
//! altitude, then the geodesic gap) decide.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use rstar::{RTree, RTreeObject, AABB};

use crate::geometry::Prepared;
use crate::{Activity, Settings};

/// Time in the tree is in days: a day weighs about as much as a degree of space, which keeps the
/// tree's boxes from being long thin slivers of time (measured: a quarter off the mean check).
const SECONDS_PER_TIME_UNIT: f64 = 86_400.0;

#[derive(Debug, Clone, PartialEq)]
struct Slot {
    envelope: AABB<[f64; 3]>,
    slot: usize,
}

impl RTreeObject for Slot {
    type Envelope = AABB<[f64; 3]>;

    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

/// An activity in the theatre: its id and party (the hub's), the activity itself.
#[derive(Debug, Clone)]
pub struct Registered {
    pub id: String,
    pub party: String,
    pub activity: Activity,
}

#[derive(Debug, Default)]
pub struct Theatre {
    tree: RTree<Slot>,
    slots: Vec<Option<(Registered, Vec<Slot>)>>,
    free: Vec<usize>,
    by_id: HashMap<String, usize>,
    /// Window ends, soonest first, for expiry (entries of replaced activities are skipped).
    ends: BinaryHeap<Reverse<(i64, usize, String)>>,
}

/// Whether two activities of different parties conflict under `settings` (the definition the
/// index answers for; also what tests compare the index against).
pub fn in_conflict(a: &Activity, b: &Activity, settings: &Settings) -> bool {
    in_conflict_prepared(a, &Prepared::new(&a.shape), b, settings)
}

/// [`in_conflict`] with `a`'s area prepared once for many `b`.
fn in_conflict_prepared(a: &Activity, prepared: &Prepared, b: &Activity, settings: &Settings) -> bool {
    let margin = settings.time_margin_s();
    let (a_start, a_end) = a.widened_window(margin);
    let (b_start, b_end) = b.widened_window(margin);
    if a_start > b_end || b_start > a_end {
        return false;
    }
    if let (Some(x), Some(y)) = (a.altitude, b.altitude) {
        if !x.overlaps(&y) {
            return false;
        }
    }
    prepared.within(&b.shape, settings.buffer(a.kind) + settings.buffer(b.kind))
}

impl Theatre {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&Registered> {
        let slot = *self.by_id.get(id)?;
        self.slots.get(slot)?.as_ref().map(|(registered, _)| registered)
    }

    fn boxes(activity: &Activity, settings: &Settings) -> Vec<AABB<[f64; 3]>> {
        let (start, end) = activity.widened_window(settings.time_margin_s());
        let (t0, t1) = (start as f64 / SECONDS_PER_TIME_UNIT, end as f64 / SECONDS_PER_TIME_UNIT);
        activity
            .shape
            .boxes(settings.buffer(activity.kind))
            .into_iter()
            .map(|[west, south, east, north]| AABB::from_corners([west, south, t0], [east, north, t1]))
            .collect()
    }

    /// The ids of the active activities of other parties that `activity` conflicts with,
    /// sorted. `except` is left out (the activity's own earlier revision, when amending).
    pub fn conflicts(
        &self,
        activity: &Activity,
        party: &str,
        except: Option<&str>,
        settings: &Settings,
    ) -> Vec<String> {
        let mut seen: Vec<usize> = Vec::new();
        for query in Self::boxes(activity, settings) {
            seen.extend(self.tree.locate_in_envelope_intersecting(&query).map(|s| s.slot));
        }
        seen.sort_unstable();
        seen.dedup();
        let prepared = Prepared::new(&activity.shape);
        let mut found: Vec<String> = seen
            .into_iter()
            .filter_map(|slot| self.slots.get(slot)?.as_ref().map(|(registered, _)| registered))
            .filter(|other| other.party != party && Some(other.id.as_str()) != except)
            .filter(|other| in_conflict_prepared(activity, &prepared, &other.activity, settings))
            .map(|other| other.id.clone())
            .collect();
        found.sort();
        found
    }

    /// Adds an activity, replacing the one of the same id.
    pub fn insert(&mut self, registered: Registered, settings: &Settings) {
        self.remove(&registered.id);
        let slot = self.free.pop().unwrap_or(self.slots.len());
        let entries: Vec<Slot> =
            Self::boxes(&registered.activity, settings).into_iter().map(|envelope| Slot { envelope, slot }).collect();
        for entry in &entries {
            self.tree.insert(entry.clone());
        }
        self.ends.push(Reverse((registered.activity.window.end.unix_timestamp(), slot, registered.id.clone())));
        self.by_id.insert(registered.id.clone(), slot);
        if slot == self.slots.len() {
            self.slots.push(Some((registered, entries)));
        } else {
            self.slots[slot] = Some((registered, entries));
        }
    }

    /// Removes an activity (withdrawn); false if it was not there.
    pub fn remove(&mut self, id: &str) -> bool {
        let Some(slot) = self.by_id.remove(id) else {
            return false;
        };
        if let Some((_, entries)) = self.slots.get_mut(slot).and_then(Option::take) {
            for entry in &entries {
                self.tree.remove(entry);
            }
        }
        self.free.push(slot);
        true
    }

    /// Removes every activity whose window ended at or before `now`; returns their ids.
    pub fn expire(&mut self, now: time::OffsetDateTime) -> Vec<String> {
        let now = now.unix_timestamp();
        let mut expired = Vec::new();
        while let Some(Reverse((end, slot, id))) = self.ends.peek().cloned() {
            if end > now {
                break;
            }
            self.ends.pop();
            let current = self.by_id.get(&id) == Some(&slot)
                && self.get(&id).is_some_and(|r| r.activity.window.end.unix_timestamp() == end);
            if current && self.remove(&id) {
                expired.push(id);
            }
        }
        expired
    }

    /// Bytes held per activity beyond the activities themselves: tree entries and bookkeeping.
    pub fn entries(&self) -> usize {
        self.tree.size()
    }
}
