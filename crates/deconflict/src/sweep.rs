//! Probing shows as a sweep: one party registering activity after activity in one region, each
//! somewhere else: a grid laid over an area, or one area nudged edge by edge to find where a
//! conflict starts. The hub reports sweeps to its operators (a signal for people to judge, since
//! a busy planner can look the same); the rate limit and the smallest area bound how fast anyone
//! can go.

use time::{Duration, OffsetDateTime};

use crate::geometry::{distance, LonLat};
use crate::SweepSettings;

/// A registration or amendment as the sweep check sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Footprint {
    pub at: OffsetDateTime,
    pub centre: LonLat,
    pub extent_m: f64,
}

/// Footprints whose centres are closer than this are one position (the same activity again).
const SAME_POSITION_M: f64 = 100.0;

/// When the newest of a party's footprints (`recent`, oldest first) completes a sweep: the
/// indexes of the footprints at distinct positions within the window and the region around the
/// newest.
pub fn sweep(recent: &[Footprint], settings: &SweepSettings) -> Option<Vec<usize>> {
    let newest = recent.last()?;
    let since = newest.at - Duration::hours(i64::from(settings.window_hours));
    let radius = settings.radius_km * 1000.0;
    let mut positions: Vec<usize> = Vec::new();
    for (i, footprint) in recent.iter().enumerate() {
        if footprint.at < since || distance(footprint.centre, newest.centre) > radius {
            continue;
        }
        let seen = positions.iter().any(|&j| distance(recent[j].centre, footprint.centre) < SAME_POSITION_M);
        if !seen {
            positions.push(i);
        }
    }
    let newest_is_new = positions.last() == Some(&(recent.len() - 1));
    (newest_is_new && positions.len() >= settings.registrations as usize).then_some(positions)
}
