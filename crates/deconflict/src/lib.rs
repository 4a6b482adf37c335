//! Deconfliction, pure: parties that share nothing register planned activities and learn only
//! that, where and when two of theirs collide.
//!
//! - [`Activity`]: a validated activity (GeoJSON area or a point with a radius, optional
//!   altitude band, time window, kind, own reference); [`ActivityDraft`] is what clients send.
//! - [`geometry`]: areas on the WGS 84 ellipsoid, geodesic edges, the gap between two areas.
//! - [`Theatre`]: the active activities indexed over space and time (R-tree), the conflict check.
//! - [`notice`]: the overlap of a conflict coarsened to H3 cells and a rounded window, and the
//!   notice each party gets.
//! - [`sweep`]: the probing pattern the hub reports to its operators.

mod activity;
pub mod geometry;
pub mod notice;
mod settings;
pub mod sweep;
mod theatre;

#[cfg(test)]
mod tests;

pub use activity::{Activity, ActivityDraft, Band, Kind, Window, MAX_LATITUDE, MAX_VERTICES};
pub use notice::{overlap, Notice, Overlap};
pub use settings::{Buffers, Settings, SweepSettings, MAX_BUFFER_M};
pub use theatre::{in_conflict, Registered, Theatre};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeconflictError {
    /// The activity is malformed: which field, and why.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// The activity is well formed but outside the hub's limits (too small, too long, ...).
    #[error("refused: {0}")]
    Refused(String),
    #[error("deconfliction settings, {field}: {reason}")]
    Settings { field: &'static str, reason: String },
    #[error("{0}")]
    Grid(String),
}
