//! How a hub deconflicts: buffers, margins, the disclosure grid and the limits that stop probing.
//! Declared in the coalition file's `[deconfliction]` table; every field has a default.

use serde::{Deserialize, Serialize};

use crate::{DeconflictError, Kind};

/// Greatest buffer, in metres: with activities below 85 degrees, a widened area never reaches
/// a pole.
pub const MAX_BUFFER_M: f64 = 100_000.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Metres each activity's area is widened by, per kind.
    pub buffer_m: Buffers,
    /// Minutes each activity's window is widened by, at both ends.
    pub time_margin_minutes: u32,
    /// H3 resolution of the cells a notice gives the overlap in (0 coarsest, 15 finest).
    pub h3_resolution: u8,
    /// A notice's overlap window is rounded outward to this step, in minutes.
    pub time_step_minutes: u32,
    /// Registrations and amendments a party may make in any hour.
    pub registrations_per_hour: u32,
    /// Smallest area an activity may cover, in square kilometres: tiny activities would be
    /// precise probes.
    pub min_area_km2: f64,
    /// Greatest distance from an activity's centre to its edge, in kilometres.
    pub max_extent_km: f64,
    pub min_duration_minutes: u32,
    pub max_duration_days: u32,
    /// When a party's registrations are reported to the operators as a sweep.
    pub sweep: SweepSettings,
    /// Parties that let their counterpart's notice name them (default: nobody is named).
    pub identify: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            buffer_m: Buffers::default(),
            time_margin_minutes: 15,
            h3_resolution: 6,
            time_step_minutes: 30,
            registrations_per_hour: 20,
            min_area_km2: 4.0,
            max_extent_km: 500.0,
            min_duration_minutes: 30,
            max_duration_days: 31,
            sweep: SweepSettings::default(),
            identify: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Buffers {
    pub air: f64,
    pub ground: f64,
    pub maritime: f64,
    pub other: f64,
}

impl Default for Buffers {
    fn default() -> Self {
        Buffers { air: 5_000.0, ground: 500.0, maritime: 2_000.0, other: 1_000.0 }
    }
}

/// A sweep: at least `registrations` registrations or amendments of one party within
/// `window_hours`, each at a position of its own, all within `radius_km` of the newest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SweepSettings {
    pub window_hours: u32,
    pub registrations: u32,
    pub radius_km: f64,
}

impl Default for SweepSettings {
    fn default() -> Self {
        SweepSettings { window_hours: 24, registrations: 8, radius_km: 300.0 }
    }
}

impl Settings {
    pub fn buffer(&self, kind: Kind) -> f64 {
        match kind {
            Kind::Air => self.buffer_m.air,
            Kind::Ground => self.buffer_m.ground,
            Kind::Maritime => self.buffer_m.maritime,
            Kind::Other => self.buffer_m.other,
        }
    }

    pub fn time_margin_s(&self) -> i64 {
        i64::from(self.time_margin_minutes) * 60
    }

    pub fn time_step_s(&self) -> i64 {
        i64::from(self.time_step_minutes) * 60
    }

    /// Refuses settings that would make checks meaningless or unsafe.
    pub fn check(&self) -> Result<(), DeconflictError> {
        let bad = |field: &'static str, reason: String| Err(DeconflictError::Settings { field, reason });
        for (field, value) in [
            ("buffer_m.air", self.buffer_m.air),
            ("buffer_m.ground", self.buffer_m.ground),
            ("buffer_m.maritime", self.buffer_m.maritime),
            ("buffer_m.other", self.buffer_m.other),
        ] {
            if !(0.0..=MAX_BUFFER_M).contains(&value) {
                return bad(field, format!("must be between 0 and {MAX_BUFFER_M} metres"));
            }
        }
        if h3o::Resolution::try_from(self.h3_resolution).is_err() {
            return bad("h3_resolution", "must be 0 to 15".into());
        }
        if self.time_step_minutes == 0 {
            return bad("time_step_minutes", "must be at least 1".into());
        }
        if self.registrations_per_hour == 0 {
            return bad("registrations_per_hour", "must be at least 1".into());
        }
        if !(self.min_area_km2.is_finite() && self.min_area_km2 > 0.0) {
            return bad("min_area_km2", "must be above 0".into());
        }
        if !(self.max_extent_km.is_finite() && self.max_extent_km > 0.0 && self.max_extent_km <= 2_000.0) {
            return bad("max_extent_km", "must be above 0 and at most 2000".into());
        }
        if self.max_duration_days == 0
            || u64::from(self.min_duration_minutes) > u64::from(self.max_duration_days) * 1440
        {
            return bad("max_duration_days", "must be at least 1 and not below min_duration_minutes".into());
        }
        if self.sweep.registrations < 2
            || self.sweep.window_hours == 0
            || self.sweep.radius_km.is_nan()
            || self.sweep.radius_km <= 0.0
        {
            return bad("sweep", "needs registrations >= 2, window_hours >= 1 and radius_km > 0".into());
        }
        Ok(())
    }
}
