//! Activities: what a party registers, parsed and validated before anything else sees it.

use geo::algorithm::validation::InvalidMultiPolygon;
use geo::{Coord, LineString, MultiPolygon, Polygon, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::geometry::{distance, Area, Frame, LonLat, Shape};
use crate::{DeconflictError, Settings};

/// Activities stay this far from the poles, so that widened areas and notice grids never reach one.
pub const MAX_LATITUDE: f64 = 85.0;
/// Vertices an activity's polygons may have in all.
pub const MAX_VERTICES: usize = 512;
/// Altitudes are metres above mean sea level; below is for submarines.
pub const ALTITUDE_RANGE: (f64, f64) = (-12_000.0, 100_000.0);
pub const MAX_REFERENCE_CHARS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Air,
    Ground,
    Maritime,
    Other,
}

/// An altitude band, metres above mean sea level, lower below upper.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    pub lower_m: f64,
    pub upper_m: f64,
}

impl Band {
    pub fn overlaps(&self, other: &Band) -> bool {
        self.lower_m <= other.upper_m && other.lower_m <= self.upper_m
    }
}

/// A time window, `start` before `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
}

/// An activity as a client writes it (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityDraft {
    /// GeoJSON `Polygon`, `MultiPolygon` or `Point` (with `radius_m`).
    pub geometry: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub radius_m: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude: Option<Band>,
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub end: OffsetDateTime,
    pub kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// A valid activity: it cannot be built otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub shape: Shape,
    pub altitude: Option<Band>,
    pub window: Window,
    pub kind: Kind,
    pub reference: Option<String>,
    /// The activity as its author wrote it, as compact JSON: a parsed tree would be most of an
    /// indexed activity's memory.
    body: Box<str>,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> DeconflictError {
    DeconflictError::Invalid { field, reason: reason.into() }
}

fn refused(reason: impl Into<String>) -> DeconflictError {
    DeconflictError::Refused(reason.into())
}

impl Activity {
    /// Validates a new or amended activity: well-formed, and within the hub's limits at `now`.
    pub fn register(draft: ActivityDraft, settings: &Settings, now: OffsetDateTime) -> Result<Self, DeconflictError> {
        let activity = Self::parse(draft)?;
        activity.within_limits(settings, now)?;
        Ok(activity)
    }

    /// Reads back an activity accepted earlier: well-formed, whatever the limits are now.
    pub fn restore(draft: ActivityDraft) -> Result<Self, DeconflictError> {
        Self::parse(draft)
    }

    /// The activity as its author wrote it (JSON).
    pub fn body(&self) -> &str {
        &self.body
    }

    fn parse(draft: ActivityDraft) -> Result<Self, DeconflictError> {
        let area = parse_geometry(&draft.geometry, draft.radius_m)?;
        let shape = Shape::new(area);
        if let Area::Polygons(polygons) = &shape.area {
            check_polygons(polygons, &shape)?;
        }
        if draft.start >= draft.end {
            return Err(invalid("end", "must be after start"));
        }
        if let Some(band) = draft.altitude {
            let (low, high) = ALTITUDE_RANGE;
            if !(band.lower_m.is_finite() && band.upper_m.is_finite()) || band.lower_m >= band.upper_m {
                return Err(invalid("altitude", "needs finite lower_m below upper_m"));
            }
            if band.lower_m < low || band.upper_m > high {
                return Err(invalid("altitude", format!("must lie between {low} and {high} metres")));
            }
        }
        if let Some(reference) = &draft.reference {
            if reference.chars().count() > MAX_REFERENCE_CHARS || reference.chars().any(char::is_control) {
                return Err(invalid(
                    "reference",
                    format!("at most {MAX_REFERENCE_CHARS} characters, no control characters"),
                ));
            }
        }
        let body = serde_json::to_string(&draft).map_err(|e| invalid("geometry", e.to_string()))?.into_boxed_str();
        Ok(Activity {
            shape,
            altitude: draft.altitude,
            window: Window { start: draft.start, end: draft.end },
            kind: draft.kind,
            reference: draft.reference,
            body,
        })
    }

    fn within_limits(&self, settings: &Settings, now: OffsetDateTime) -> Result<(), DeconflictError> {
        if self.window.end <= now {
            return Err(refused("the activity's window has already ended"));
        }
        let duration = self.window.end - self.window.start;
        if duration < time::Duration::minutes(i64::from(settings.min_duration_minutes)) {
            return Err(refused(format!("activities last at least {} minutes", settings.min_duration_minutes)));
        }
        if duration > time::Duration::days(i64::from(settings.max_duration_days)) {
            return Err(refused(format!("activities last at most {} days", settings.max_duration_days)));
        }
        if self.window.start > now + time::Duration::days(366) {
            return Err(refused("activities start within a year"));
        }
        if self.shape.extent_m > settings.max_extent_km * 1000.0 {
            return Err(refused(format!(
                "the area reaches {:.0} km from its centre; at most {} km",
                self.shape.extent_m / 1000.0,
                settings.max_extent_km
            )));
        }
        let km2 = self.shape.area_m2() / 1e6;
        if km2 < settings.min_area_km2 {
            return Err(refused(format!(
                "the area is {km2:.3} km²; activities cover at least {} km²",
                settings.min_area_km2
            )));
        }
        Ok(())
    }

    /// The widened time window `[start - margin, end + margin]`, in seconds since the epoch.
    pub fn widened_window(&self, margin_s: i64) -> (i64, i64) {
        (self.window.start.unix_timestamp() - margin_s, self.window.end.unix_timestamp() + margin_s)
    }

    /// The activity as written, as a JSON value.
    pub fn to_json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

fn position(value: &Value) -> Result<Coord, DeconflictError> {
    let numbers = value.as_array().filter(|a| a.len() == 2 || a.len() == 3);
    let (lon, lat) = match numbers.map(|a| (a[0].as_f64(), a[1].as_f64())) {
        Some((Some(lon), Some(lat))) => (lon, lat),
        _ => return Err(invalid("geometry", "a position is [longitude, latitude]")),
    };
    if !(-180.0..=180.0).contains(&lon) {
        return Err(invalid("geometry", format!("longitude {lon} is outside -180..180")));
    }
    if !(-MAX_LATITUDE..=MAX_LATITUDE).contains(&lat) {
        return Err(invalid("geometry", format!("latitude {lat} is outside -{MAX_LATITUDE}..{MAX_LATITUDE}")));
    }
    Ok(Coord { x: lon, y: lat })
}

fn ring(value: &Value) -> Result<LineString, DeconflictError> {
    let positions = value.as_array().ok_or_else(|| invalid("geometry", "a ring is an array of positions"))?;
    let coords = positions.iter().map(position).collect::<Result<Vec<_>, _>>()?;
    if coords.len() < 4 {
        return Err(invalid("geometry", "a ring has at least four positions"));
    }
    if coords.first() != coords.last() {
        return Err(invalid("geometry", "a ring is not closed: its last position must repeat its first"));
    }
    Ok(LineString::new(coords))
}

fn polygon(value: &Value) -> Result<Polygon, DeconflictError> {
    let rings = value.as_array().ok_or_else(|| invalid("geometry", "a polygon is an array of rings"))?;
    let mut rings = rings.iter().map(ring).collect::<Result<Vec<_>, _>>()?.into_iter();
    let exterior = rings.next().ok_or_else(|| invalid("geometry", "a polygon has an exterior ring"))?;
    Ok(Polygon::new(exterior, rings.collect()))
}

fn parse_geometry(geometry: &Value, radius_m: Option<f64>) -> Result<Area, DeconflictError> {
    let kind = geometry.get("type").and_then(Value::as_str).unwrap_or_default();
    let coordinates = geometry.get("coordinates").ok_or_else(|| invalid("geometry", "has no coordinates"))?;
    let polygons = match kind {
        "Point" => {
            let radius = radius_m.ok_or_else(|| invalid("radius_m", "a point needs a radius"))?;
            if !(radius.is_finite() && radius > 0.0) {
                return Err(invalid("radius_m", "must be above 0"));
            }
            let centre = position(coordinates)?;
            return Ok(Area::Disc { centre: LonLat::new(centre.x, centre.y), radius_m: radius });
        }
        "Polygon" => vec![polygon(coordinates)?],
        "MultiPolygon" => coordinates
            .as_array()
            .ok_or_else(|| invalid("geometry", "a multipolygon is an array of polygons"))?
            .iter()
            .map(polygon)
            .collect::<Result<Vec<_>, _>>()?,
        other => return Err(invalid("geometry", format!("type `{other}` is not Polygon, MultiPolygon or Point"))),
    };
    if radius_m.is_some() {
        return Err(invalid("radius_m", "only a point has a radius"));
    }
    if polygons.is_empty() {
        return Err(invalid("geometry", "a multipolygon has at least one polygon"));
    }
    let vertices: usize =
        polygons.iter().map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>()).sum();
    if vertices > MAX_VERTICES {
        return Err(invalid("geometry", format!("{vertices} positions; at most {MAX_VERTICES}")));
    }
    Ok(Area::Polygons(MultiPolygon::new(polygons)))
}

/// Self-intersections, holes outside their polygon and overlapping parts, checked where the
/// geodesic edges are straight enough to judge: in the frame centred on the area.
fn check_polygons(polygons: &MultiPolygon, shape: &Shape) -> Result<(), DeconflictError> {
    // Over a quarter meridian an edge's farthest point is no longer an end: no such areas.
    if shape.extent_m > 5_000_000.0 {
        return Err(invalid("geometry", "the area is larger than a continent"));
    }
    for p in polygons {
        for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
            if ring.0.windows(2).any(|w| distance(LonLat::new(w[0].x, w[0].y), LonLat::new(w[1].x, w[1].y)) == 0.0) {
                return Err(invalid("geometry", "a ring repeats a position"));
            }
        }
    }
    let frame = Frame::new(shape.centre);
    let projected = MultiPolygon::new(polygons.iter().map(|p| frame.project_polygon(p)).collect());
    // Parts may share an edge: an area split at the antimeridian, as RFC 7946 recommends, does.
    let problem = projected
        .validation_errors()
        .into_iter()
        .find(|problem| !matches!(problem, InvalidMultiPolygon::ElementsTouchOnALine(..)));
    match problem {
        Some(problem) => Err(invalid("geometry", problem.to_string())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn draft(geometry: Value) -> ActivityDraft {
        serde_json::from_value(json!({
            "geometry": geometry,
            "start": "2027-01-01T00:00:00Z",
            "end": "2027-01-01T04:00:00Z",
            "kind": "air",
        }))
        .unwrap()
    }

    #[test]
    fn an_area_split_at_the_antimeridian_is_one_area() {
        let split = draft(json!({"type": "MultiPolygon", "coordinates": [
            [[[179.5, 10.0], [180.0, 10.0], [180.0, 10.5], [179.5, 10.5], [179.5, 10.0]]],
            [[[-180.0, 10.0], [-179.5, 10.0], [-179.5, 10.5], [-180.0, 10.5], [-180.0, 10.0]]],
        ]}));
        let whole = draft(json!({"type": "Polygon", "coordinates": [
            [[179.5, 10.0], [-179.5, 10.0], [-179.5, 10.5], [179.5, 10.5], [179.5, 10.0]],
        ]}));
        let (split, whole) = (Activity::restore(split).unwrap(), Activity::restore(whole).unwrap());
        let (a, b) = (split.shape.area_m2(), whole.shape.area_m2());
        assert!((a - b).abs() / b < 1e-3, "{a} vs {b}");
        // Overlapping parts are still refused.
        let overlapping = draft(json!({"type": "MultiPolygon", "coordinates": [
            [[[10.0, 10.0], [10.5, 10.0], [10.5, 10.5], [10.0, 10.5], [10.0, 10.0]]],
            [[[10.2, 10.2], [10.7, 10.2], [10.7, 10.7], [10.2, 10.7], [10.2, 10.2]]],
        ]}));
        let refused = Activity::restore(overlapping).unwrap_err();
        assert!(matches!(refused, DeconflictError::Invalid { field: "geometry", .. }), "{refused}");
    }
}
