//! The active activities of every party, indexed over space and time.
//!
//! An R-tree holds one box per activity (two when it straddles the antimeridian): longitude,
//! latitude and time in days, the area widened by its own buffer and the window by the margin.
//! A new activity's box, widened the same way, finds the candidates; the exact checks (time,
//! altitude, then the geodesic gap) decide.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::ops::ControlFlow;

use rstar::{RStarInsertionStrategy, RTree, RTreeObject, RTreeParams, AABB};

use crate::geometry::{within, Bounds, Prepared};
use crate::{Activity, Band, Kind, Settings};

/// Time in the tree is in days: a day weighs about as much as a degree of space, which keeps the
/// tree's boxes from being long thin slivers of time (measured: a quarter off the mean check).
const SECONDS_PER_TIME_UNIT: f64 = 86_400.0;

/// The R*-tree's node sizes.
struct Params;

impl RTreeParams for Params {
    const MIN_SIZE: usize = 3;
    const MAX_SIZE: usize = 6;
    const REINSERTION_COUNT: usize = 2;
    type DefaultInsertionStrategy = RStarInsertionStrategy;
}

/// One box of an activity in the tree, with what the cheap tests of a pair need (party, window,
/// band, kind, bounds): a query decides most candidates from the entries it visits anyway,
/// without reaching the activities themselves.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    /// Single precision, rounded outwards: half the bytes to walk, never a candidate lost.
    envelope: AABB<[f32; 3]>,
    slot: usize,
    party: usize,
    /// More than one box (across the antimeridian): a query may meet it twice.
    split: bool,
    kind: Kind,
    /// The window, seconds since the epoch.
    start: i64,
    end: i64,
    band: Option<Band>,
    bounds: Bounds,
}

impl RTreeObject for Entry {
    type Envelope = AABB<[f32; 3]>;

    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

/// `x` as single precision, not above it.
fn down(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) > x {
        step(f, -1.0)
    } else {
        f
    }
}

/// `x` as single precision, not below it.
fn up(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) < x {
        step(f, 1.0)
    } else {
        f
    }
}

/// The next single-precision number from finite `f` towards the sign of `towards`
/// (`f32::next_up` and `next_down` are newer than the workspace's Rust).
fn step(f: f32, towards: f32) -> f32 {
    if f == 0.0 {
        return f32::from_bits(1).copysign(towards);
    }
    let bits = f.to_bits();
    // Away from zero the magnitude grows with the bits, towards zero it shrinks.
    if (f > 0.0) == (towards > 0.0) {
        f32::from_bits(bits + 1)
    } else {
        f32::from_bits(bits - 1)
    }
}

/// An activity in the theatre: its id and party (the hub's), the activity itself.
#[derive(Debug, Clone)]
pub struct Registered {
    pub id: String,
    pub party: String,
    pub activity: Activity,
}

#[derive(Default)]
pub struct Theatre {
    tree: RTree<Entry, Params>,
    slots: Vec<Option<(Registered, Vec<Entry>)>>,
    free: Vec<usize>,
    by_id: HashMap<String, usize>,
    /// Parties by number, as the tree's entries name them.
    parties: HashMap<String, usize>,
    /// Window ends, soonest first, for expiry (entries of replaced activities are skipped).
    ends: BinaryHeap<Reverse<(i64, usize, String)>>,
}

impl std::fmt::Debug for Theatre {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Theatre").field("active", &self.by_id.len()).field("entries", &self.tree.size()).finish()
    }
}

/// Whether two activities of different parties conflict under `settings` (the definition the
/// index answers for; also what tests compare the index against).
pub fn in_conflict(a: &Activity, b: &Activity, settings: &Settings) -> bool {
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
    within(&a.shape, &b.shape, settings.buffer(a.kind) + settings.buffer(b.kind))
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

    /// The activity's boxes in the tree's units (its own buffer, the time margin, days), as
    /// `[west, south, t0]` and `[east, north, t1]`.
    fn boxes(activity: &Activity, settings: &Settings) -> Vec<([f64; 3], [f64; 3])> {
        let (start, end) = activity.widened_window(settings.time_margin_s());
        let (t0, t1) = (start as f64 / SECONDS_PER_TIME_UNIT, end as f64 / SECONDS_PER_TIME_UNIT);
        activity
            .shape
            .boxes(settings.buffer(activity.kind))
            .into_iter()
            .map(|[west, south, east, north]| ([west, south, t0], [east, north, t1]))
            .collect()
    }

    fn envelope((low, high): ([f64; 3], [f64; 3])) -> AABB<[f32; 3]> {
        AABB::from_corners(low.map(down), high.map(up))
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
        let own = self.parties.get(party).copied();
        let except = except.and_then(|id| self.by_id.get(id)).copied();
        let queries = Self::boxes(activity, settings);
        let margin = settings.time_margin_s();
        let (start, end) = activity.widened_window(margin);
        let band = activity.altitude;
        let buffer = settings.buffer(activity.kind);
        let prepared = Prepared::new(&activity.shape);
        // What the entry alone tells of a pair (the tests of `in_conflict`, in its order), then
        // the activity itself when that leaves it open.
        let check = |entry: &Entry| -> bool {
            if start > entry.end + margin || entry.start - margin > end {
                return false;
            }
            if let (Some(x), Some(y)) = (band, entry.band) {
                if !x.overlaps(&y) {
                    return false;
                }
            }
            let limit = buffer + settings.buffer(entry.kind);
            match prepared.settle(&entry.bounds, limit) {
                Some(decided) => decided,
                None => self
                    .slots
                    .get(entry.slot)
                    .and_then(Option::as_ref)
                    .is_some_and(|(other, _)| prepared.decide(&other.activity.shape, &entry.bounds, limit)),
            }
        };
        let mut found: Vec<usize> = Vec::new();
        // An entry that may be met twice (two query boxes, or two boxes of its own) is checked
        // once, after the walk.
        let mut twice: Vec<&Entry> = Vec::new();
        for query in &queries {
            let _: ControlFlow<()> = self.tree.locate_in_envelope_intersecting_int(&Self::envelope(*query), |entry| {
                if Some(entry.party) == own || Some(entry.slot) == except {
                    return ControlFlow::Continue(());
                }
                if entry.split || queries.len() > 1 {
                    twice.push(entry);
                } else if check(entry) {
                    found.push(entry.slot);
                }
                ControlFlow::Continue(())
            });
        }
        twice.sort_unstable_by_key(|entry| entry.slot);
        twice.dedup_by_key(|entry| entry.slot);
        found.extend(twice.into_iter().filter(|entry| check(entry)).map(|entry| entry.slot));
        let mut ids: Vec<String> = found
            .into_iter()
            .filter_map(|slot| self.slots.get(slot)?.as_ref().map(|(registered, _)| registered.id.clone()))
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Adds an activity, replacing the one of the same id.
    pub fn insert(&mut self, registered: Registered, settings: &Settings) {
        self.remove(&registered.id);
        let slot = self.free.pop().unwrap_or(self.slots.len());
        let parties = self.parties.len();
        let party = *self.parties.entry(registered.party.clone()).or_insert(parties);
        let activity = &registered.activity;
        let boxes = Self::boxes(activity, settings);
        let split = boxes.len() > 1;
        let entries: Vec<Entry> = boxes
            .into_iter()
            .map(|corners| Entry {
                envelope: Self::envelope(corners),
                slot,
                party,
                split,
                kind: activity.kind,
                start: activity.window.start.unix_timestamp(),
                end: activity.window.end.unix_timestamp(),
                band: activity.altitude,
                bounds: activity.shape.bounds(),
            })
            .collect();
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

#[cfg(test)]
mod tests {
    use super::{down, up};

    #[test]
    fn single_precision_bounds_hold_the_double() {
        for x in [0.0, 1e-300, -1e-300, 0.1, -0.1, 179.999_999_9, -179.999_999_9, 20_591.123_456_789, -33.3, 90.0] {
            let (low, high) = (down(x), up(x));
            assert!(f64::from(low) <= x && x <= f64::from(high), "{x}: {low} {high}");
            assert!(f64::from(high) - f64::from(low) <= (x.abs() * 1e-6).max(1e-40), "{x}: {low} {high}");
        }
    }
}
