//! The crate's tests.
//!
//! The conflict check and the theatre are compared with a brute-force oracle that shares no code
//! with the crate's geometry: each area's boundary is sampled densely along its geodesic edges
//! with geographiclib directly, two areas meet when a sampled boundary point of one lies inside
//! the other (winding number of unit vectors on the sphere, or the distance to a disc's centre),
//! and otherwise their gap is the least geodesic distance between samples of the two. The
//! oracle's gap is never below the true gap and exceeds it by at most the sampling spacing, so
//! pairs whose oracle gap lies within `spacing + 0.2% + 5 m` of the threshold are left
//! undecided, counted, and the tests require most pairs to be decided.

use std::cell::{Cell, OnceCell};
use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::LazyLock;

use geographiclib_rs::{DirectGeodesic, Geodesic, InverseGeodesic};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::geometry::{gap, LonLat};
use crate::notice::{overlap, Notice};
use crate::sweep::{sweep, Footprint};
use crate::{
    in_conflict, Activity, ActivityDraft, Buffers, DeconflictError, Kind, Registered, Settings, SweepSettings, Theatre,
    MAX_VERTICES,
};

// ---------------------------------------------------------------------------------------------
// Geodesy for the oracle: geographiclib directly, nothing of `crate::geometry`.
// ---------------------------------------------------------------------------------------------

static WGS84: LazyLock<Geodesic> = LazyLock::new(Geodesic::wgs84);
const SEMI_MAJOR_M: f64 = 6_378_137.0;
const FLATTENING: f64 = 1.0 / 298.257_223_563;
const SEMI_MINOR_M: f64 = SEMI_MAJOR_M * (1.0 - FLATTENING);
/// 2030-03-17: every generated window starts after it.
const T0: i64 = 1_900_000_000;

fn wrap_lon(lon: f64) -> f64 {
    if lon > 180.0 {
        lon - 360.0
    } else if lon < -180.0 {
        lon + 360.0
    } else {
        lon
    }
}

/// Geodesic distance in metres.
fn geodesic(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    InverseGeodesic::<f64>::inverse(&*WGS84, lat1, lon1, lat2, lon2)
}

/// Length and initial azimuth of the geodesic from the first point to the second.
fn heading(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> (f64, f64) {
    let (s12, azi1, _azi2, _a12): (f64, f64, f64, f64) = WGS84.inverse(lat1, lon1, lat2, lon2);
    (s12, azi1)
}

/// The point `metres` along the geodesic leaving (lat, lon) at `azimuth`: (lat, lon).
fn travel(lat: f64, lon: f64, azimuth: f64, metres: f64) -> (f64, f64) {
    let (lat2, lon2): (f64, f64) = WGS84.direct(lat, lon, azimuth, metres);
    (lat2, wrap_lon(lon2))
}

fn dot(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: &[f64; 3], b: &[f64; 3]) -> [f64; 3] {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

/// Straight-line distance through the ellipsoid: never more than the geodesic distance.
fn chord(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

fn angle(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    let c = cross(a, b);
    dot(&c, &c).sqrt().atan2(dot(a, b))
}

fn normalised(v: [f64; 3]) -> [f64; 3] {
    let norm = dot(&v, &v).sqrt();
    [v[0] / norm, v[1] / norm, v[2] / norm]
}

/// Far apart, a better bound than the chord: every point of the ellipsoid is at least the
/// semi-minor axis from its centre, and moving a path onto that sphere along the radii (the
/// nearest-point map onto a ball) shortens it, so a geodesic is at least the semi-minor axis
/// times the angle between the two points' radius vectors. Returns the least cosine of that
/// angle a pair closer than `best` can have.
fn cos_limit(best: f64) -> f64 {
    if best / SEMI_MINOR_M < std::f64::consts::PI {
        (best / SEMI_MINOR_M).cos()
    } else {
        -2.0
    }
}

/// A point on the ellipsoid: degrees, the unit vector of its normal (winding numbers) and its
/// Earth-centred coordinates in metres (chords, a lower bound of geodesic distances).
#[derive(Debug, Clone, Copy)]
struct Sample {
    lat: f64,
    lon: f64,
    unit: [f64; 3],
    ecef: [f64; 3],
    /// `ecef` normalised.
    radial: [f64; 3],
}

impl Sample {
    fn new(lat: f64, lon: f64) -> Self {
        let (phi, lambda) = (lat.to_radians(), lon.to_radians());
        let unit = [phi.cos() * lambda.cos(), phi.cos() * lambda.sin(), phi.sin()];
        let e2 = FLATTENING * (2.0 - FLATTENING);
        let n = SEMI_MAJOR_M / (1.0 - e2 * phi.sin().powi(2)).sqrt();
        let ecef = [n * unit[0], n * unit[1], n * (1.0 - e2) * unit[2]];
        Sample { lat, lon, unit, ecef, radial: normalised(ecef) }
    }
}

/// Consecutive samples, a ball (in Earth-centred metres) holding them all, and a cone of radius
/// vectors holding theirs.
struct Chunk {
    centre: [f64; 3],
    radius: f64,
    direction: [f64; 3],
    spread: f64,
    range: Range<usize>,
}

const CHUNK: usize = 32;

/// An area as the oracle sees it: its boundary sampled.
struct Sampled {
    points: Vec<Sample>,
    /// Each ring's samples (closed implicitly: the last joins the first).
    rings: Vec<Range<usize>>,
    /// Each polygon's rings: its exterior, then its holes.
    polygons: Vec<Vec<usize>>,
    /// (lat, lon, radius) for a disc.
    disc: Option<(f64, f64, f64)>,
    chunks: Vec<Chunk>,
    /// Each ring's arcs in runs, for winding numbers.
    runs: Vec<Vec<Run>>,
}

/// Consecutive arcs of a ring, from sample `first` to sample `last` (the next run's first), all
/// within `spread` of `direction` (unit vectors of normals).
struct Run {
    first: usize,
    last: usize,
    direction: [f64; 3],
    spread: f64,
}

/// The signed angle at `p` from the arc towards `u` to the arc towards `v` (unit vectors).
fn turn_at(p: &[f64; 3], u: &[f64; 3], v: &[f64; 3]) -> f64 {
    let sin = dot(p, &cross(u, v));
    let cos = dot(u, v) - dot(p, u) * dot(p, v);
    sin.atan2(cos)
}

/// Samples the boundary of an area, no two consecutive samples more than `spacing` apart.
fn sample(geo: &Geo, spacing: f64) -> Sampled {
    let mut points = Vec::new();
    let mut rings = Vec::new();
    let mut polygons = Vec::new();
    let mut disc = None;
    match geo {
        Geo::Disc { lon, lat, radius_m } => {
            // Every half degree of azimuth, or closer on circles long enough to need it.
            let step = 0.5f64.min((spacing / radius_m).to_degrees());
            let n = (360.0 / step).ceil() as usize;
            for i in 0..n {
                let (la, lo) = travel(*lat, *lon, 360.0 * i as f64 / n as f64, *radius_m);
                points.push(Sample::new(la, lo));
            }
            rings.push(0..n);
            disc = Some((*lat, *lon, *radius_m));
        }
        Geo::Polygons(parts) => {
            for part in parts {
                let mut indexes = Vec::new();
                for ring in part {
                    let begin = points.len();
                    for edge in ring.windows(2) {
                        let ([lon1, lat1], [lon2, lat2]) = (edge[0], edge[1]);
                        let (length, azimuth) = heading(lat1, lon1, lat2, lon2);
                        let n = (length / spacing).ceil().max(1.0) as usize;
                        points.push(Sample::new(lat1, lon1));
                        for j in 1..n {
                            let (la, lo) = travel(lat1, lon1, azimuth, length * j as f64 / n as f64);
                            points.push(Sample::new(la, lo));
                        }
                    }
                    indexes.push(rings.len());
                    rings.push(begin..points.len());
                }
                polygons.push(indexes);
            }
        }
    }
    let chunks = (0..points.len())
        .step_by(CHUNK)
        .map(|begin| {
            let range = begin..(begin + CHUNK).min(points.len());
            let members = &points[range.clone()];
            let mut centre = [0.0; 3];
            for p in members {
                for (c, x) in centre.iter_mut().zip(p.ecef) {
                    *c += x / members.len() as f64;
                }
            }
            let radius = members.iter().map(|p| chord(&centre, &p.ecef)).fold(0.0, f64::max);
            let direction = normalised(centre);
            let spread = members.iter().map(|p| angle(&direction, &p.radial)).fold(0.0, f64::max);
            Chunk { centre, radius, direction, spread, range }
        })
        .collect();
    let runs = rings
        .iter()
        .map(|ring| {
            (ring.start..ring.end)
                .step_by(CHUNK)
                .map(|first| {
                    let end = (first + CHUNK).min(ring.end);
                    let last = if end == ring.end { ring.start } else { end };
                    let members = || points[first..end].iter().chain(std::iter::once(&points[last]));
                    let mut sum = [0.0; 3];
                    for p in members() {
                        for (s, x) in sum.iter_mut().zip(p.unit) {
                            *s += x;
                        }
                    }
                    let direction = normalised(sum);
                    let spread = members().map(|p| angle(&direction, &p.unit)).fold(0.0, f64::max);
                    Run { first, last, direction, spread }
                })
                .collect()
        })
        .collect();
    Sampled { points, rings, polygons, disc, chunks, runs }
}

impl Sampled {
    /// Whether the ring (great-circle arcs between its samples) winds around `p`: the angles the
    /// arcs turn through seen from `p` add up to a full turn. Seen from outside the small cap
    /// holding a run of arcs, the run turns through less than half a turn: the angle between its
    /// ends.
    fn winds_around(&self, ring: usize, p: &Sample) -> bool {
        let range = &self.rings[ring];
        let next = |i: usize| if i + 1 == range.end { range.start } else { i + 1 };
        let mut total = 0.0;
        for run in &self.runs[ring] {
            if angle(&p.unit, &run.direction) > run.spread + 1e-6 {
                total += turn_at(&p.unit, &self.points[run.first].unit, &self.points[run.last].unit);
            } else {
                let mut i = run.first;
                loop {
                    total += turn_at(&p.unit, &self.points[i].unit, &self.points[next(i)].unit);
                    i = next(i);
                    if i == run.last {
                        break;
                    }
                }
            }
        }
        total.abs() > std::f64::consts::PI
    }

    fn contains(&self, p: &Sample) -> bool {
        if let Some((lat, lon, radius)) = self.disc {
            return geodesic(lat, lon, p.lat, p.lon) <= radius;
        }
        self.polygons
            .iter()
            .any(|rings| self.winds_around(rings[0], p) && !rings[1..].iter().any(|&hole| self.winds_around(hole, p)))
    }

    /// The least geodesic distance from `p` to the sampled boundary (chunks nearest first; a
    /// chunk whose ball is no nearer than the best so far cannot improve it).
    fn boundary_distance(&self, p: &Sample) -> f64 {
        let mut chunks: Vec<(f64, &Chunk)> =
            self.chunks.iter().map(|c| (chord(&p.ecef, &c.centre) - c.radius, c)).collect();
        chunks.sort_by(|x, y| x.0.total_cmp(&y.0));
        let mut best = f64::INFINITY;
        for (bound, chunk) in chunks {
            if bound >= best {
                break;
            }
            for q in &self.points[chunk.range.clone()] {
                if chord(&p.ecef, &q.ecef) < best {
                    best = best.min(geodesic(p.lat, p.lon, q.lat, q.lon));
                }
            }
        }
        best
    }

    /// Whether `p` lies within `metres` of the area (the sampled boundary, or inside).
    fn within(&self, p: &Sample, metres: f64) -> bool {
        self.boundary_distance(p) <= metres || self.contains(p)
    }
}

/// The least geodesic distance between a sample of `a` and one of `b`. Chords and `cos_limit`
/// bound geodesic distances from below, so pairs of chunks (and of samples) whose bound is no
/// better than the best found so far cannot improve it and are passed over.
fn min_sample_distance(a: &Sampled, b: &Sampled) -> f64 {
    let mut pairs: Vec<(f64, usize, usize)> = Vec::with_capacity(a.chunks.len() * b.chunks.len());
    for (i, x) in a.chunks.iter().enumerate() {
        for (j, y) in b.chunks.iter().enumerate() {
            let through = chord(&x.centre, &y.centre) - x.radius - y.radius;
            let around = SEMI_MINOR_M * (angle(&x.direction, &y.direction) - x.spread - y.spread);
            pairs.push((through.max(around), i, j));
        }
    }
    pairs.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut best = f64::INFINITY;
    let mut least_cos = cos_limit(best);
    for (bound, i, j) in pairs {
        if bound >= best {
            break;
        }
        for p in &a.points[a.chunks[i].range.clone()] {
            for q in &b.points[b.chunks[j].range.clone()] {
                if chord(&p.ecef, &q.ecef) < best && dot(&p.radial, &q.radial) > least_cos {
                    let d = geodesic(p.lat, p.lon, q.lat, q.lon);
                    if d < best {
                        best = d;
                        least_cos = cos_limit(best);
                    }
                }
            }
        }
    }
    best
}

/// The oracle's gap between two areas: 0 when they meet, else the least distance between
/// samples. When that distance is at most `enough` (already small enough to decide) and the
/// boundaries may cross, the costly test of every sample is skipped and the distance returned
/// (the true gap lies between 0 and it).
fn oracle_gap(a: &Sampled, b: &Sampled, spacing: f64, enough: f64) -> f64 {
    let d = min_sample_distance(a, b);
    let near = d <= spacing;
    if near && d <= enough {
        return d;
    }
    let meet = if near {
        a.points.iter().any(|p| b.contains(p)) || b.points.iter().any(|p| a.contains(p))
    } else {
        // Boundaries that crossed would have samples within `spacing` of each other: each ring
        // lies wholly inside the other area or wholly outside, so one sample per ring decides.
        a.rings.iter().any(|r| b.contains(&a.points[r.start])) || b.rings.iter().any(|r| a.contains(&b.points[r.start]))
    };
    if meet {
        0.0
    } else {
        d
    }
}

fn spacing_for(threshold: f64) -> f64 {
    (threshold / 200.0).max(250.0)
}

/// How far from the threshold an oracle gap must be for the oracle to decide.
fn undecided_band(threshold: f64, spacing: f64) -> f64 {
    spacing + 0.002 * threshold + 5.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Conflict,
    Clear,
    Undecided,
}

fn decide(oracle_gap: f64, threshold: f64, spacing: f64) -> Verdict {
    if (oracle_gap - threshold).abs() <= undecided_band(threshold, spacing) {
        Verdict::Undecided
    } else if oracle_gap <= threshold {
        Verdict::Conflict
    } else {
        Verdict::Clear
    }
}

/// Closed intervals of seconds, widened by the margin at both ends.
fn windows_meet(a: &Spec, b: &Spec, margin: i64) -> bool {
    a.start - margin <= b.end + margin && b.start - margin <= a.end + margin
}

fn bands_meet(a: &Spec, b: &Spec) -> bool {
    match (a.band, b.band) {
        (Some((al, au)), Some((bl, bu))) => al <= bu && bl <= au,
        _ => true,
    }
}

/// The oracle's verdict on two activities (of different parties), sampling their areas only
/// when the windows, the bands and a bound from their centres leave the question open.
fn verdict(
    a: &Spec,
    sa: &OnceCell<Sampled>,
    b: &Spec,
    sb: &OnceCell<Sampled>,
    settings: &Settings,
    spacing: f64,
) -> Verdict {
    if !windows_meet(a, b, settings.time_margin_s()) || !bands_meet(a, b) {
        return Verdict::Clear;
    }
    let threshold = settings.buffer(a.kind) + settings.buffer(b.kind);
    let band = undecided_band(threshold, spacing);
    // Every sample of an area lies within its reach of its centre.
    let bound = geodesic(a.centre.0, a.centre.1, b.centre.0, b.centre.1) - a.reach_m - b.reach_m;
    if bound > threshold + band {
        return Verdict::Clear;
    }
    let sa = sa.get_or_init(|| sample(&a.geo, spacing));
    let sb = sb.get_or_init(|| sample(&b.geo, spacing));
    decide(oracle_gap(sa, sb, spacing, threshold - band), threshold, spacing)
}

// ---------------------------------------------------------------------------------------------
// Generated activities.
// ---------------------------------------------------------------------------------------------

/// An area as drawn by the generator; positions are [lon, lat] and rings are closed.
#[derive(Debug, Clone)]
enum Geo {
    Disc { lon: f64, lat: f64, radius_m: f64 },
    Polygons(Vec<Vec<Vec<[f64; 2]>>>),
}

/// An activity as the generator made it: what the oracle works from.
#[derive(Debug, Clone)]
struct Spec {
    geo: Geo,
    /// (lat, lon) the area was drawn around.
    centre: (f64, f64),
    /// No vertex (nor, the area being small, any point) is farther from the centre.
    reach_m: f64,
    start: i64,
    end: i64,
    band: Option<(f64, f64)>,
    kind: Kind,
}

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).expect("a time in range")
}

fn rfc3339(seconds: i64) -> String {
    at(seconds).format(&Rfc3339).expect("formats")
}

impl Spec {
    fn geometry(&self) -> Value {
        match &self.geo {
            Geo::Disc { lon, lat, .. } => json!({ "type": "Point", "coordinates": [lon, lat] }),
            Geo::Polygons(parts) if parts.len() == 1 => json!({ "type": "Polygon", "coordinates": parts[0] }),
            Geo::Polygons(parts) => json!({ "type": "MultiPolygon", "coordinates": parts }),
        }
    }

    fn draft_json(&self) -> Value {
        let mut draft = json!({
            "geometry": self.geometry(),
            "start": rfc3339(self.start),
            "end": rfc3339(self.end),
            "kind": self.kind,
        });
        if let Geo::Disc { radius_m, .. } = self.geo {
            draft["radius_m"] = json!(radius_m);
        }
        if let Some((lower_m, upper_m)) = self.band {
            draft["altitude"] = json!({ "lower_m": lower_m, "upper_m": upper_m });
        }
        draft
    }

    fn activity(&self) -> Result<Activity, TestCaseError> {
        let draft: ActivityDraft = serde_json::from_value(self.draft_json())
            .map_err(|e| TestCaseError::fail(format!("draft does not parse: {e}: {}", self.draft_json())))?;
        Activity::restore(draft)
            .map_err(|e| TestCaseError::fail(format!("generated activity refused: {e}: {}", self.draft_json())))
    }
}

/// A star-shaped ring: `k` vertices at increasing azimuths around the centre (consecutive ones
/// less than 180 degrees apart), so its geodesic edges never cross.
fn star(lat: f64, lon: f64, size: f64, radii: &[f64], jitter: &[f64], turn: f64) -> Vec<[f64; 2]> {
    let k = radii.len();
    let mut ring: Vec<[f64; 2]> = (0..k)
        .map(|i| {
            let azimuth = turn + (i as f64 + jitter[i]) * 360.0 / k as f64;
            let (la, lo) = travel(lat, lon, azimuth, size * radii[i]);
            [lo, la]
        })
        .collect();
    ring.push(ring[0]);
    ring
}

#[derive(Debug, Clone)]
struct ShapePlan {
    /// 0 disc, 1 polygon, 2 multipolygon of two parts, 3 polygon with a hole.
    form: u8,
    size_m: f64,
    k: usize,
    radii: Vec<f64>,
    jitter: Vec<f64>,
    turn: f64,
    second: f64,
}

impl ShapePlan {
    /// How far the area will reach from its centre, at most.
    fn reach_estimate(&self) -> f64 {
        1.1 * self.size_m + 500.0
    }

    /// The area drawn around (lat, lon), the centre moved towards the equator if need be so that
    /// every position stays within 85 degrees: (area, centre, reach).
    fn draw(&self, lat: f64, lon: f64) -> (Geo, (f64, f64), f64) {
        let lon = wrap_lon(lon);
        // A degree of latitude is more than 110 km everywhere.
        let limit = if self.form == 0 { 85.0 } else { 84.99 - self.reach_estimate() / 110_000.0 };
        let lat = lat.clamp(-limit, limit);
        let (k, size) = (self.k, self.size_m);
        let geo = match self.form {
            0 => Geo::Disc { lon, lat, radius_m: size },
            1 => Geo::Polygons(vec![vec![star(lat, lon, size, &self.radii[..k], &self.jitter[..k], self.turn)]]),
            2 => {
                let (r1, r2) = (size / 2.0, size / 2.0 * self.second);
                // Part centres 1.15 (r1 + r2) + 600 m apart on one geodesic: the parts never meet.
                let d = (r1 + r2) / 2.0 * 1.15 + 300.0;
                let (la1, lo1) = travel(lat, lon, self.turn, d);
                let (la2, lo2) = travel(lat, lon, self.turn + 180.0, d);
                let mut radii2 = self.radii[..k].to_vec();
                radii2.reverse();
                Geo::Polygons(vec![
                    vec![star(la1, lo1, r1, &self.radii[..k], &self.jitter[..k], self.turn)],
                    vec![star(la2, lo2, r2, &radii2, &self.jitter[..k], self.turn + 17.0)],
                ])
            }
            _ => {
                // At least five vertices: the exterior then holds the disc of 0.63 times its
                // smallest radius, and the hole stays within 0.3 times it.
                let k = k.max(5);
                let exterior = star(lat, lon, size, &self.radii[..k], &self.jitter[..k], self.turn);
                let smallest = self.radii[..k].iter().copied().fold(f64::INFINITY, f64::min);
                let hole = star(lat, lon, 0.3 * size * smallest, &[1.0, 0.8, 0.9, 0.7], &[0.0; 4], self.turn + 45.0);
                Geo::Polygons(vec![vec![exterior, hole]])
            }
        };
        let reach = match &geo {
            Geo::Disc { radius_m, .. } => *radius_m,
            Geo::Polygons(parts) => parts
                .iter()
                .flatten()
                .flatten()
                .map(|[vlon, vlat]| geodesic(lat, lon, *vlat, *vlon))
                .fold(0.0, f64::max),
        };
        // Slack for rounding: the bound only prunes.
        (geo, (lat, lon), reach * 1.000_001 + 1.0)
    }
}

fn shape_plan() -> impl Strategy<Value = ShapePlan> {
    (
        0u8..4,
        prop_oneof![1_000.0f64..10_000.0, 1_000.0f64..=80_000.0],
        3usize..=8,
        vec(0.4f64..=1.0, 8),
        vec(-0.2f64..0.2, 8),
        0.0f64..360.0,
        0.3f64..=1.0,
    )
        .prop_map(|(form, size_m, k, radii, jitter, turn, second)| ShapePlan {
            form,
            size_m,
            k,
            radii,
            jitter,
            turn,
            second,
        })
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::Air), Just(Kind::Ground), Just(Kind::Maritime), Just(Kind::Other)]
}

/// Where activities cluster: (lat, lon).
fn hotspot() -> impl Strategy<Value = (f64, f64)> {
    prop_oneof![
        // On the equator.
        (-1.0f64..1.0, -30.0f64..30.0),
        // Astride the antimeridian.
        (-60.0f64..60.0, prop_oneof![Just(179.9), Just(-179.9), 179.0f64..=180.0, -180.0f64..=-179.0]),
        // Near the poles, north and south.
        (78.0f64..=84.5, any::<bool>(), -180.0f64..180.0)
            .prop_map(|(lat, north, lon)| (if north { lat } else { -lat }, lon)),
        // Ordinary mid-latitudes.
        (30.0f64..60.0, any::<bool>(), -120.0f64..120.0)
            .prop_map(|(lat, north, lon)| (if north { lat } else { -lat }, lon)),
    ]
}

/// Where the second area goes, relative to the first.
#[derive(Debug, Clone)]
enum Place {
    /// `fraction` of the distance at which the areas could just conflict, at `azimuth`.
    Offset {
        azimuth: f64,
        fraction: f64,
    },
    Same,
    /// The same latitude, 180 degrees of longitude away: across the pole from a polar area.
    AcrossPole,
    /// Longitude negated: the other side of the antimeridian from an area next to it.
    Mirror {
        dlat: f64,
    },
    /// Centres `factor` times the threshold beyond both reaches (for discs, the gap), often due
    /// north, east, south or west: where boxes of the index are tightest.
    Touch {
        azimuth: f64,
        factor: f64,
    },
    /// Up to 3000 km away (farther, see `a_disc_is_far_from_a_polygon_around_its_antipode`).
    Away {
        azimuth: f64,
        metres: f64,
    },
}

fn place() -> impl Strategy<Value = Place> {
    prop_oneof![
        12 => (0.0f64..360.0, 0.0f64..1.3).prop_map(|(azimuth, fraction)| Place::Offset { azimuth, fraction }),
        4 => (prop_oneof![Just(0.0), Just(90.0), Just(180.0), Just(270.0), 0.0f64..360.0], 0.5f64..1.5)
            .prop_map(|(azimuth, factor)| Place::Touch { azimuth, factor }),
        1 => Just(Place::Same),
        1 => Just(Place::AcrossPole),
        2 => (-0.5f64..0.5).prop_map(|dlat| Place::Mirror { dlat }),
        1 => (0.0f64..360.0, 0.0f64..3_000_000.0).prop_map(|(azimuth, metres)| Place::Away { azimuth, metres }),
    ]
}

impl Place {
    fn centre(
        &self,
        from: (f64, f64),
        reach_from: f64,
        to: &ShapePlan,
        threshold: f64,
        settings: &Settings,
    ) -> (f64, f64) {
        let (lat, lon) = from;
        let reach_to = if to.form == 0 { to.size_m } else { to.reach_estimate() };
        match self {
            Place::Offset { azimuth, fraction } => {
                let largest = [Kind::Air, Kind::Ground, Kind::Maritime, Kind::Other]
                    .map(|k| settings.buffer(k))
                    .into_iter()
                    .fold(0.0, f64::max);
                travel(lat, lon, *azimuth, fraction * (reach_from + reach_to + 2.0 * largest + 2_000.0))
            }
            Place::Touch { azimuth, factor } => travel(lat, lon, *azimuth, reach_from + reach_to + factor * threshold),
            Place::Same => from,
            // Away from the poles that would be the antipode: the other side of the antimeridian.
            Place::AcrossPole if lat.abs() < 70.0 => (lat, -lon),
            Place::AcrossPole => (lat, wrap_lon(lon + 180.0)),
            Place::Mirror { dlat } => ((lat + dlat).clamp(-85.0, 85.0), -lon),
            Place::Away { azimuth, metres } => travel(lat, lon, *azimuth, *metres),
        }
    }
}

/// A window relative to another one's `(start, end)`: landing exactly on, just inside or just
/// outside the other's edges once both are widened by the margin, or anywhere.
#[derive(Debug, Clone)]
struct WhenPlan {
    mode: u8,
    delta: i64,
    duration: i64,
    shift: f64,
}

fn when_plan() -> impl Strategy<Value = WhenPlan> {
    (0u8..5, -1i64..=1, prop_oneof![60i64..3_600, 60i64..300_000], -1.0f64..1.0)
        .prop_map(|(mode, delta, duration, shift)| WhenPlan { mode, delta, duration, shift })
}

impl WhenPlan {
    fn window(&self, (a0, a1): (i64, i64), margin: i64) -> (i64, i64) {
        match self.mode {
            // Starts where the other ends, once both are widened (+/- a second).
            0 => {
                let s = a1 + 2 * margin + self.delta;
                (s, s + self.duration)
            }
            // Ends where the other starts, once both are widened (+/- a second).
            1 => {
                let e = a0 - 2 * margin - self.delta;
                (e - self.duration, e)
            }
            2 => {
                let s = a0 + (self.shift * (a1 - a0) as f64) as i64;
                (s, s + self.duration)
            }
            3 => {
                let s = a0 + (self.shift * 400_000.0) as i64;
                (s, s + self.duration)
            }
            _ => {
                let s = a0 + (self.shift.abs() * (a1 - a0) as f64 / 2.0) as i64;
                (s, (s + self.duration).min(a1).max(s + 1))
            }
        }
    }
}

/// An altitude band relative to another one: touching it, just overlapping or just apart.
#[derive(Debug, Clone)]
struct BandPlan {
    mode: u8,
    delta: f64,
    height: f64,
    lower: f64,
}

fn band_plan() -> impl Strategy<Value = BandPlan> {
    (0u8..5, prop::sample::select(vec![-1.0, -0.001, 0.0, 0.001, 1.0]), 1.0f64..5_000.0, -1_000.0f64..20_000.0)
        .prop_map(|(mode, delta, height, lower)| BandPlan { mode, delta, height, lower })
}

impl BandPlan {
    fn band(&self, other: Option<(f64, f64)>) -> Option<(f64, f64)> {
        match (self.mode, other) {
            (0, _) => None,
            (1, Some((_, upper))) => {
                let lower = upper + self.delta;
                Some((lower, lower + self.height))
            }
            (2, Some((lower, _))) => {
                let upper = lower - self.delta;
                Some((upper - self.height, upper))
            }
            _ => Some((self.lower, self.lower + self.height)),
        }
    }
}

fn own_band() -> impl Strategy<Value = Option<(f64, f64)>> {
    prop::option::weighted(0.7, (-1_000.0f64..20_000.0, 1.0f64..5_000.0).prop_map(|(l, h)| (l, l + h)))
}

fn settings() -> impl Strategy<Value = Settings> {
    let buffer = || prop::sample::select(vec![250.0, 500.0, 1_000.0, 2_000.0, 5_000.0, 20_000.0, 100_000.0]);
    (buffer(), buffer(), buffer(), buffer(), prop::sample::select(vec![0u32, 1, 15, 90]), any::<bool>()).prop_map(
        |(air, ground, maritime, other, margin, default)| {
            if default {
                Settings::default()
            } else {
                Settings {
                    buffer_m: Buffers { air, ground, maritime, other },
                    time_margin_minutes: margin,
                    ..Settings::default()
                }
            }
        },
    )
}

/// The first activity of a case: drawn at a hotspot.
#[derive(Debug, Clone)]
struct Lead {
    at: (f64, f64),
    shape: ShapePlan,
    kind: Kind,
    start: i64,
    duration: i64,
    band: Option<(f64, f64)>,
}

fn lead() -> impl Strategy<Value = Lead> {
    (hotspot(), shape_plan(), kind(), 0i64..864_000, prop_oneof![60i64..3_600, 60i64..300_000], own_band())
        .prop_map(|(at, shape, kind, start, duration, band)| Lead { at, shape, kind, start, duration, band })
}

impl Lead {
    fn spec(&self) -> Spec {
        let (geo, centre, reach_m) = self.shape.draw(self.at.0, self.at.1);
        let start = T0 + self.start;
        Spec { geo, centre, reach_m, start, end: start + self.duration, band: self.band, kind: self.kind }
    }
}

/// Another activity, placed and timed relative to the lead.
#[derive(Debug, Clone)]
struct Follower {
    place: Place,
    shape: ShapePlan,
    kind: Kind,
    when: WhenPlan,
    band: BandPlan,
}

fn follower() -> impl Strategy<Value = Follower> {
    (place(), shape_plan(), kind(), when_plan(), band_plan()).prop_map(|(place, shape, kind, when, band)| Follower {
        place,
        shape,
        kind,
        when,
        band,
    })
}

impl Follower {
    fn spec(&self, lead: &Spec, settings: &Settings) -> Spec {
        let threshold = settings.buffer(lead.kind) + settings.buffer(self.kind);
        let (lat, lon) = self.place.centre(lead.centre, lead.reach_m, &self.shape, threshold, settings);
        let (geo, centre, reach_m) = self.shape.draw(lat, lon);
        let (start, end) = self.when.window((lead.start, lead.end), settings.time_margin_s());
        Spec { geo, centre, reach_m, start, end, band: self.band.band(lead.band), kind: self.kind }
    }
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config { cases, failure_persistence: None, max_shrink_iters: 256, ..Config::default() })
}

fn percent(part: usize, whole: usize) -> f64 {
    100.0 * part as f64 / whole.max(1) as f64
}

// ---------------------------------------------------------------------------------------------
// The oracle itself.
// ---------------------------------------------------------------------------------------------

/// Winding numbers the plain way, arc by arc.
fn plain_contains(area: &Sampled, p: &Sample) -> bool {
    let winds = |ring: usize| {
        let ring = &area.points[area.rings[ring].clone()];
        let total: f64 =
            (0..ring.len()).map(|i| turn_at(&p.unit, &ring[i].unit, &ring[(i + 1) % ring.len()].unit)).sum();
        total.abs() > std::f64::consts::PI
    };
    area.polygons.iter().any(|rings| winds(rings[0]) && !rings[1..].iter().any(|&hole| winds(hole)))
}

#[test]
fn the_oracle_tells_inside_from_outside_and_measures_discs() {
    let strategy =
        (hotspot(), shape_plan(), vec((0.0f64..360.0, 0.0f64..1.5), 24), shape_plan(), 0.0f64..360.0, 0.0f64..1.5);
    let result = runner(64).run(&strategy, |((lat, lon), plan, probes, other, azimuth, fraction)| {
        let (geo, (clat, clon), reach) = plan.draw(lat, lon);
        let area = sample(&geo, 250.0);
        let centre = Sample::new(clat, clon);
        // The centre of a disc or a star is inside; of a star with a hole, outside (that of two
        // parts may fall in the larger one).
        if plan.form != 2 {
            prop_assert_eq!(area.contains(&centre), plan.form < 2, "the centre of form {}", plan.form);
        }
        if plan.form != 0 {
            for (azimuth, fraction) in probes {
                let (plat, plon) = travel(clat, clon, azimuth, fraction * reach);
                let p = Sample::new(plat, plon);
                prop_assert_eq!(area.contains(&p), plain_contains(&area, &p), "({}, {})", plat, plon);
            }
        }
        // Two discs: the oracle's gap is the exact one, or at most a spacing more.
        let (ra, rb) = (plan.size_m, other.size_m);
        let (blat, blon) = travel(clat, clon, azimuth, fraction * (ra + rb + 10_000.0));
        let a = sample(&Geo::Disc { lon: clon, lat: clat, radius_m: ra }, 250.0);
        let b = sample(&Geo::Disc { lon: blon, lat: blat, radius_m: rb }, 250.0);
        let exact = (geodesic(clat, clon, blat, blon) - ra - rb).max(0.0);
        let found = oracle_gap(&a, &b, 250.0, -1.0);
        prop_assert!(found >= exact - 0.01 && found <= exact + 250.0, "oracle {} for {}", found, exact);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Properties (a) and (d): the conflict check and the gap against the oracle, pair by pair.
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct PairCounts {
    cases: Cell<usize>,
    decided: Cell<usize>,
    /// Decided by the areas (windows and bands meet): conflicts and clear pairs.
    spatial_conflicts: Cell<usize>,
    spatial_clear: Cell<usize>,
    /// Decided by the windows or the bands touching exactly.
    touching: Cell<usize>,
    far: Cell<usize>,
}

fn bump(cell: &Cell<usize>) {
    cell.set(cell.get() + 1);
}

#[test]
fn in_conflict_and_gap_agree_with_the_oracle() {
    let counts = PairCounts::default();
    let strategy = (settings(), lead(), follower());
    let result = runner(768).run(&strategy, |(settings, lead, follower)| {
        let a = lead.spec();
        let b = follower.spec(&a, &settings);
        let (activity_a, activity_b) = (a.activity()?, b.activity()?);
        let code = in_conflict(&activity_a, &activity_b, &settings);
        prop_assert_eq!(code, in_conflict(&activity_b, &activity_a, &settings), "in_conflict is not symmetric");

        let threshold = settings.buffer(a.kind) + settings.buffer(b.kind);
        // Far apart, samples 0.05% of the distance apart are enough for the gap (d).
        let bound = geodesic(a.centre.0, a.centre.1, b.centre.0, b.centre.1) - a.reach_m - b.reach_m;
        let spacing = spacing_for(threshold).max(0.000_5 * bound);
        let band = undecided_band(threshold, spacing);
        let (sa, sb) = (sample(&a.geo, spacing), sample(&b.geo, spacing));
        let oracle = oracle_gap(&sa, &sb, spacing, threshold - band);
        let margin = settings.time_margin_s();
        let verdict = if windows_meet(&a, &b, margin) && bands_meet(&a, &b) {
            decide(oracle, threshold, spacing)
        } else {
            Verdict::Clear
        };
        bump(&counts.cases);
        if verdict != Verdict::Undecided {
            bump(&counts.decided);
            prop_assert_eq!(
                code,
                verdict == Verdict::Conflict,
                "in_conflict {} but the oracle's gap is {:.1} m for a threshold of {} m\nA {}\nB {}",
                code,
                oracle,
                threshold,
                a.draft_json(),
                b.draft_json()
            );
        }
        let exactly_touching = a.start - margin == b.end + margin
            || b.start - margin == a.end + margin
            || matches!((a.band, b.band), (Some((al, au)), Some((bl, bu))) if al == bu || bl == au);
        if exactly_touching && verdict == Verdict::Conflict {
            bump(&counts.touching);
        }
        if windows_meet(&a, &b, margin) && bands_meet(&a, &b) {
            match verdict {
                Verdict::Conflict => bump(&counts.spatial_conflicts),
                Verdict::Clear => bump(&counts.spatial_clear),
                Verdict::Undecided => {}
            }
        }

        // (d) The gap is symmetric, and far apart it is the oracle's.
        let ab = gap(&activity_a.shape, &activity_b.shape).metres;
        let ba = gap(&activity_b.shape, &activity_a.shape).metres;
        prop_assert!((ab - ba).abs() <= 1.0, "gap(a, b) = {} but gap(b, a) = {}", ab, ba);
        if oracle >= (4.0 * spacing).max(2_000.0) {
            bump(&counts.far);
            prop_assert!(
                (ab - oracle).abs() <= 0.002 * oracle + spacing,
                "gap {:.1} m, oracle {:.1} m (spacing {} m)\nA {}\nB {}",
                ab,
                oracle,
                spacing,
                a.draft_json(),
                b.draft_json()
            );
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let cases = counts.cases.get();
    let decided = counts.decided.get();
    println!(
        "pairs: {cases}, decided {decided} ({:.1}%), spatial conflicts {}, spatial clear {}, touching {}, far {}",
        percent(decided, cases),
        counts.spatial_conflicts.get(),
        counts.spatial_clear.get(),
        counts.touching.get(),
        counts.far.get()
    );
    assert!(percent(decided, cases) >= 80.0, "the oracle decided only {decided} of {cases} pairs");
    assert!(percent(counts.spatial_conflicts.get(), cases) >= 10.0, "too few conflicts decided by the areas");
    assert!(percent(counts.spatial_clear.get(), cases) >= 10.0, "too few clear pairs decided by the areas");
    assert!(counts.touching.get() >= 5, "too few pairs whose windows or bands just touch");
    assert!(percent(counts.far.get(), cases) >= 10.0, "too few far pairs for the gap");
}

// ---------------------------------------------------------------------------------------------
// Properties (b) and (c): the theatre against the definition and the oracle, before and after
// amendments, withdrawals and expiry.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Member {
    party: usize,
    follower: Follower,
    /// 0 stays, 1 is withdrawn, 2 is amended (its window moved by `shift` seconds).
    fate: u8,
    shift: i64,
}

fn member() -> impl Strategy<Value = Member> {
    (0usize..4, follower(), prop_oneof![6 => Just(0u8), 2 => Just(1u8), 2 => Just(2u8)], -200_000i64..200_000)
        .prop_map(|(party, follower, fate, shift)| Member { party, follower, fate, shift })
}

#[derive(Default)]
struct TheatreCounts {
    pairs: Cell<usize>,
    decided: Cell<usize>,
    found: Cell<usize>,
    /// Conflicting activities later withdrawn or expired.
    gone_conflicting: Cell<usize>,
    expired: Cell<usize>,
}

struct Scene<'a> {
    settings: &'a Settings,
    new: &'a Spec,
    new_activity: &'a Activity,
    new_samples: &'a OnceCell<Sampled>,
    party: &'a str,
    ids: &'a [String],
    parties: &'a [String],
    spacing: f64,
    counts: &'a TheatreCounts,
}

impl Scene<'_> {
    /// Checks `conflicts` for the new activity against `in_conflict` over every present activity
    /// of another party, and against the oracle on the pairs it decides; returns what it found.
    fn check(
        &self,
        theatre: &Theatre,
        present: &[bool],
        specs: &[Spec],
        activities: &[Activity],
        samples: &[OnceCell<Sampled>],
    ) -> Result<Vec<String>, TestCaseError> {
        let found = theatre.conflicts(self.new_activity, self.party, None, self.settings);
        let others: Vec<usize> = (0..specs.len()).filter(|&i| present[i] && self.parties[i] != self.party).collect();
        let definition: Vec<String> = others
            .iter()
            .filter(|&&i| in_conflict(self.new_activity, &activities[i], self.settings))
            .map(|&i| self.ids[i].clone())
            .collect();
        prop_assert_eq!(&found, &definition, "the index and in_conflict disagree");
        if let Some(first) = found.first() {
            let rest = theatre.conflicts(self.new_activity, self.party, Some(first), self.settings);
            prop_assert_eq!(&rest[..], &found[1..], "`except` must leave out exactly that activity");
        }
        let mut expected = BTreeSet::new();
        let mut undecided = BTreeSet::new();
        for &i in &others {
            bump(&self.counts.pairs);
            match verdict(self.new, self.new_samples, &specs[i], &samples[i], self.settings, self.spacing) {
                Verdict::Conflict => {
                    expected.insert(self.ids[i].clone());
                }
                Verdict::Clear => {}
                Verdict::Undecided => {
                    undecided.insert(self.ids[i].clone());
                    continue;
                }
            }
            bump(&self.counts.decided);
        }
        let decided: BTreeSet<String> = found.iter().filter(|id| !undecided.contains(*id)).cloned().collect();
        prop_assert_eq!(
            &decided,
            &expected,
            "the theatre and the oracle disagree (undecided: {:?})\nnew {}",
            undecided,
            self.new.draft_json()
        );
        self.counts.found.set(self.counts.found.get() + found.len());
        Ok(found)
    }
}

#[test]
fn the_theatre_finds_what_the_oracle_finds_and_forgets_what_is_gone() {
    let counts = TheatreCounts::default();
    let strategy = (settings(), lead(), 2usize..=4, 0usize..4, vec(member(), 10..=60), any::<prop::sample::Index>());
    let result = runner(96).run(&strategy, |(settings, lead, parties, lead_party, members, pick)| {
        let new = lead.spec();
        let new_activity = new.activity()?;
        let party = format!("p{}", lead_party % parties);
        let mut specs: Vec<Spec> = members.iter().map(|m| m.follower.spec(&new, &settings)).collect();
        let mut activities = specs.iter().map(Spec::activity).collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<String> = (0..members.len()).map(|i| format!("a{i:02}")).collect();
        let party_of: Vec<String> = members.iter().map(|m| format!("p{}", m.party % parties)).collect();
        let mut theatre = Theatre::new();
        for (i, activity) in activities.iter().enumerate() {
            let registered = Registered { id: ids[i].clone(), party: party_of[i].clone(), activity: activity.clone() };
            theatre.insert(registered, &settings);
        }
        prop_assert_eq!(theatre.len(), members.len());

        let smallest = [Kind::Air, Kind::Ground, Kind::Maritime, Kind::Other]
            .map(|k| settings.buffer(new.kind) + settings.buffer(k))
            .into_iter()
            .fold(f64::INFINITY, f64::min);
        let new_samples = OnceCell::new();
        let scene = Scene {
            settings: &settings,
            new: &new,
            new_activity: &new_activity,
            new_samples: &new_samples,
            party: &party,
            ids: &ids,
            parties: &party_of,
            spacing: spacing_for(smallest),
            counts: &counts,
        };
        let samples: Vec<OnceCell<Sampled>> = members.iter().map(|_| OnceCell::new()).collect();
        let mut present = vec![true; members.len()];

        // (b)
        let before: BTreeSet<String> =
            scene.check(&theatre, &present, &specs, &activities, &samples)?.into_iter().collect();

        // (c) Amendments and withdrawals, then expiry at the end of some window, current or
        // replaced (the replaced one must not take the amended activity with it).
        let mut gone: BTreeSet<String> = BTreeSet::new();
        let mut ends: Vec<i64> = specs.iter().map(|s| s.end).collect();
        for (i, m) in members.iter().enumerate() {
            match m.fate {
                1 => {
                    prop_assert!(theatre.remove(&ids[i]), "withdrawing a present activity");
                    prop_assert!(!theatre.remove(&ids[i]), "withdrawing it twice");
                    present[i] = false;
                    gone.insert(ids[i].clone());
                }
                2 => {
                    specs[i].start += m.shift;
                    specs[i].end += m.shift;
                    activities[i] = specs[i].activity()?;
                    ends.push(specs[i].end);
                    let registered =
                        Registered { id: ids[i].clone(), party: party_of[i].clone(), activity: activities[i].clone() };
                    theatre.insert(registered, &settings);
                }
                _ => {}
            }
        }
        prop_assert_eq!(theatre.len(), present.iter().filter(|&&p| p).count());
        let now = ends[pick.index(ends.len())];
        let expired: BTreeSet<String> = theatre.expire(at(now)).into_iter().collect();
        let due: BTreeSet<String> =
            (0..members.len()).filter(|&i| present[i] && specs[i].end <= now).map(|i| ids[i].clone()).collect();
        prop_assert_eq!(&expired, &due, "expire({}) removes exactly the windows ended by then", now);
        prop_assert!(theatre.expire(at(now)).is_empty(), "expiring again removes nothing");
        counts.expired.set(counts.expired.get() + expired.len());
        for (i, id) in ids.iter().enumerate() {
            if expired.contains(id) {
                present[i] = false;
                gone.insert(id.clone());
            }
        }
        prop_assert_eq!(theatre.len(), present.iter().filter(|&&p| p).count());
        for id in &gone {
            prop_assert!(theatre.get(id).is_none(), "{} is gone but still there", id);
        }
        counts.gone_conflicting.set(counts.gone_conflicting.get() + before.intersection(&gone).count());
        let after = scene.check(&theatre, &present, &specs, &activities, &samples)?;
        prop_assert!(after.iter().all(|id| !gone.contains(id)), "gone activities returned: {:?}", after);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (pairs, decided) = (counts.pairs.get(), counts.decided.get());
    println!(
        "theatre pairs: {pairs}, decided {decided} ({:.1}%), found {}, gone while conflicting {}, expired {}",
        percent(decided, pairs),
        counts.found.get(),
        counts.gone_conflicting.get(),
        counts.expired.get()
    );
    assert!(percent(decided, pairs) >= 80.0, "the oracle decided only {decided} of {pairs} pairs");
    assert!(counts.found.get() >= 50, "too few conflicts to say anything");
    assert!(counts.gone_conflicting.get() >= 5, "too few conflicting activities withdrawn or expired");
    assert!(counts.expired.get() >= 10, "too few expired");
}

// ---------------------------------------------------------------------------------------------
// The gap far away: a disc and a polygon on opposite sides of the Earth.
// ---------------------------------------------------------------------------------------------

fn settings_with_buffers(metres: f64) -> Settings {
    Settings {
        buffer_m: Buffers { air: metres, ground: metres, maritime: metres, other: metres },
        ..Settings::default()
    }
}

#[test]
fn a_disc_is_far_from_a_polygon_around_its_antipode() {
    let settings = settings_with_buffers(crate::MAX_BUFFER_M);
    let disc = Spec {
        geo: Geo::Disc { lon: 20.0, lat: 10.0, radius_m: 2_000.0 },
        centre: (10.0, 20.0),
        reach_m: 2_000.0,
        start: T0,
        end: T0 + 3_600,
        band: None,
        kind: Kind::Air,
    };
    let square = Spec {
        geo: Geo::Polygons(vec![vec![vec![
            [-160.5, -10.5],
            [-159.5, -10.5],
            [-159.5, -9.5],
            [-160.5, -9.5],
            [-160.5, -10.5],
        ]]]),
        centre: (-10.0, -160.0),
        ..disc.clone()
    };
    let (d, s) = (disc.activity().expect("a disc"), square.activity().expect("a square"));
    for (x, y) in [(&d, &s), (&s, &d)] {
        let metres = gap(&x.shape, &y.shape).metres;
        assert!(metres > 19_000_000.0, "a disc and a square around its antipode are {metres} m apart");
        assert!(!in_conflict(x, y, &settings));
    }

    let strategy =
        (-80.0f64..80.0, -180.0f64..180.0, 1_000.0f64..80_000.0, shape_plan(), 0.0f64..360.0, 0.0f64..50_000.0);
    let result = runner(48).run(&strategy, |(lat, lon, radius_m, mut plan, azimuth, off)| {
        plan.form = if plan.form % 2 == 0 { 1 } else { 3 };
        let disc = Spec {
            geo: Geo::Disc { lon, lat, radius_m },
            centre: (lat, lon),
            reach_m: radius_m,
            start: T0,
            end: T0 + 3_600,
            band: None,
            kind: Kind::Air,
        };
        let (alat, alon) = travel(-lat, wrap_lon(lon + 180.0), azimuth, off);
        let (geo, centre, reach_m) = plan.draw(alat, alon);
        let polygon = Spec { geo, centre, reach_m, ..disc.clone() };
        let (d, p) = (disc.activity()?, polygon.activity()?);
        // Every point of the polygon is within its reach of its centre, so the areas are at
        // least `least` apart; a gap measured from another centre of the polygon may lose up to
        // twice its reach.
        let least = geodesic(lat, lon, centre.0, centre.1) - radius_m - reach_m;
        for (x, y) in [(&d, &p), (&p, &d)] {
            let metres = gap(&x.shape, &y.shape).metres;
            prop_assert!(
                metres >= least - 2.0 * reach_m - 1.0,
                "gap {} m, but the areas are at least {} m apart",
                metres,
                least
            );
            prop_assert!(!in_conflict(x, y, &settings), "{}", polygon.draft_json());
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Validation: malformed activities, and activities outside the hub's limits.
// ---------------------------------------------------------------------------------------------

const SQUARE: [[f64; 2]; 5] = [[10.0, 45.0], [10.1, 45.0], [10.1, 45.1], [10.0, 45.1], [10.0, 45.0]];

fn polygon(rings: Value) -> Value {
    json!({ "type": "Polygon", "coordinates": rings })
}

fn point(lon: f64, lat: f64) -> Value {
    json!({ "type": "Point", "coordinates": [lon, lat] })
}

/// A draft of the given geometry, two hours on 2030-01-01, with `extra` fields set.
fn draft_with(geometry: Value, extra: Value) -> Value {
    let mut draft =
        json!({ "geometry": geometry, "start": "2030-01-01T10:00:00Z", "end": "2030-01-01T12:00:00Z", "kind": "air" });
    if let (Some(map), Some(extra)) = (draft.as_object_mut(), extra.as_object()) {
        map.extend(extra.clone());
    }
    draft
}

fn restore(draft: Value) -> Result<Activity, DeconflictError> {
    let draft: ActivityDraft = serde_json::from_value(draft).expect("the draft parses");
    Activity::restore(draft)
}

/// A closed ring of `positions` positions (one repeated) on a circle of 20 km around (10, 45).
fn circle_ring(positions: usize) -> Value {
    let distinct = positions - 1;
    let mut ring: Vec<[f64; 2]> = (0..distinct)
        .map(|i| {
            let (lat, lon) = travel(45.0, 10.0, 360.0 * i as f64 / distinct as f64, 20_000.0);
            [lon, lat]
        })
        .collect();
    ring.push(ring[0]);
    json!([ring])
}

#[test]
fn malformed_activities_name_the_field_and_the_reason() {
    let invalid =
        |field: &'static str, reason: &str| Err(DeconflictError::Invalid { field, reason: reason.to_string() });
    let none = json!({});
    // What the cases below spoil is accepted as it is.
    for fine in [
        draft_with(polygon(json!([SQUARE])), json!({})),
        draft_with(point(10.0, 85.0), json!({ "radius_m": 5_000.0 })),
        draft_with(point(10.0, -85.0), json!({ "radius_m": 5_000.0 })),
        draft_with(
            polygon(json!([[[179.9, 45.0], [180.0, 45.0], [180.0, 45.1], [179.9, 45.1], [179.9, 45.0]]])),
            json!({}),
        ),
        draft_with(polygon(json!([SQUARE])), json!({ "altitude": { "lower_m": 100.0, "upper_m": 100.5 } })),
        draft_with(polygon(circle_ring(MAX_VERTICES)), json!({})),
        draft_with(
            polygon(json!([SQUARE, [[10.02, 45.02], [10.05, 45.02], [10.05, 45.05], [10.02, 45.02]]])),
            json!({}),
        ),
    ] {
        assert!(restore(fine.clone()).is_ok(), "{fine} is refused: {:?}", restore(fine.clone()).err());
    }
    let cases = [
        (
            "an open ring",
            draft_with(polygon(json!([[[10.0, 45.0], [10.1, 45.0], [10.1, 45.1], [10.0, 45.1]]])), none.clone()),
            invalid("geometry", "a ring is not closed: its last position must repeat its first"),
        ),
        (
            "a bow-tie",
            draft_with(polygon(json!([[[10.0, 45.0], [10.1, 45.1], [10.1, 45.0], [10.0, 45.1], [10.0, 45.0]]])), none.clone()),
            invalid("geometry", "polygon at index 0 is invalid: exterior ring has a self-intersection"),
        ),
        (
            "a hole outside its polygon",
            draft_with(
                polygon(json!([SQUARE, [[11.0, 45.0], [11.01, 45.0], [11.01, 45.01], [11.0, 45.0]]])),
                none.clone(),
            ),
            invalid(
                "geometry",
                "polygon at index 0 is invalid: interior ring at index 0 is not contained within the polygon's exterior",
            ),
        ),
        (
            "latitude 86",
            draft_with(point(10.0, 86.0), json!({ "radius_m": 5_000.0 })),
            invalid("geometry", "latitude 86 is outside -85..85"),
        ),
        (
            "latitude -86 in a polygon",
            draft_with(polygon(json!([[[10.0, -86.0], [10.1, -84.0], [10.2, -84.0], [10.0, -86.0]]])), none.clone()),
            invalid("geometry", "latitude -86 is outside -85..85"),
        ),
        (
            "longitude 181",
            draft_with(polygon(json!([[[180.9, 45.0], [181.0, 45.0], [181.0, 45.1], [180.9, 45.0]]])), none.clone()),
            invalid("geometry", "longitude 180.9 is outside -180..180"),
        ),
        (
            "longitude 181 at a point",
            draft_with(point(181.0, 45.0), json!({ "radius_m": 5_000.0 })),
            invalid("geometry", "longitude 181 is outside -180..180"),
        ),
        ("a point without a radius", draft_with(point(10.0, 45.0), none.clone()), invalid("radius_m", "a point needs a radius")),
        (
            "a point with a radius of 0",
            draft_with(point(10.0, 45.0), json!({ "radius_m": 0.0 })),
            invalid("radius_m", "must be above 0"),
        ),
        (
            "a radius on a polygon",
            draft_with(polygon(json!([SQUARE])), json!({ "radius_m": 5_000.0 })),
            invalid("radius_m", "only a point has a radius"),
        ),
        (
            "start after end",
            draft_with(polygon(json!([SQUARE])), json!({ "start": "2030-01-01T12:00:01Z" })),
            invalid("end", "must be after start"),
        ),
        (
            "start at end",
            draft_with(polygon(json!([SQUARE])), json!({ "start": "2030-01-01T12:00:00Z" })),
            invalid("end", "must be after start"),
        ),
        (
            "lower altitude above upper",
            draft_with(polygon(json!([SQUARE])), json!({ "altitude": { "lower_m": 3_000.0, "upper_m": 2_000.0 } })),
            invalid("altitude", "needs finite lower_m below upper_m"),
        ),
        (
            "lower altitude at upper",
            draft_with(polygon(json!([SQUARE])), json!({ "altitude": { "lower_m": 2_000.0, "upper_m": 2_000.0 } })),
            invalid("altitude", "needs finite lower_m below upper_m"),
        ),
        (
            "more than MAX_VERTICES positions",
            draft_with(polygon(circle_ring(MAX_VERTICES + 1)), none.clone()),
            invalid("geometry", &format!("{} positions; at most {MAX_VERTICES}", MAX_VERTICES + 1)),
        ),
    ];
    for (label, draft, expected) in cases {
        assert_eq!(restore(draft).map(|_| ()), expected, "{label}");
    }
}

fn disc_draft(radius_m: f64, start: i64, end: i64) -> ActivityDraft {
    serde_json::from_value(json!({
        "geometry": point(10.0, 45.0),
        "radius_m": radius_m,
        "start": rfc3339(start),
        "end": rfc3339(end),
        "kind": "ground",
    }))
    .expect("the draft parses")
}

#[test]
fn registration_refuses_what_is_outside_the_limits() {
    let settings = Settings::default();
    let now = T0;
    let (hour, minute, day) = (3_600, 60, 86_400);
    let register = |draft: ActivityDraft| Activity::register(draft, &settings, at(now)).map(|_| ());
    let refused = |reason: &str| Err(DeconflictError::Refused(reason.to_string()));
    // Each refusal next to the nearest case accepted.
    let cases = [
        (
            "already ended",
            disc_draft(5_000.0, now - 2 * hour, now - hour),
            refused("the activity's window has already ended"),
        ),
        ("ending now", disc_draft(5_000.0, now - 2 * hour, now), refused("the activity's window has already ended")),
        ("still on", disc_draft(5_000.0, now - 2 * hour, now + 1), Ok(())),
        (
            "29 minutes",
            disc_draft(5_000.0, now + hour, now + hour + 29 * minute),
            refused("activities last at least 30 minutes"),
        ),
        ("30 minutes", disc_draft(5_000.0, now + hour, now + hour + 30 * minute), Ok(())),
        (
            "31 days and a second",
            disc_draft(5_000.0, now + hour, now + hour + 31 * day + 1),
            refused("activities last at most 31 days"),
        ),
        ("31 days", disc_draft(5_000.0, now + hour, now + hour + 31 * day), Ok(())),
        (
            "starting in 367 days",
            disc_draft(5_000.0, now + 367 * day, now + 367 * day + hour),
            refused("activities start within a year"),
        ),
        (
            "3.142 km²",
            disc_draft(1_000.0, now + hour, now + 2 * hour),
            refused("the area is 3.142 km²; activities cover at least 4 km²"),
        ),
        ("4.011 km²", disc_draft(1_130.0, now + hour, now + 2 * hour), Ok(())),
        (
            "501 km from the centre",
            disc_draft(501_000.0, now + hour, now + 2 * hour),
            refused("the area reaches 501 km from its centre; at most 500 km"),
        ),
        ("500 km from the centre", disc_draft(500_000.0, now + hour, now + 2 * hour), Ok(())),
    ];
    for (label, draft, expected) in cases {
        assert_eq!(register(draft), expected, "{label}");
    }

    // A small polygon: about 1.11 km by 0.79 km at 45 degrees north.
    let small: ActivityDraft = serde_json::from_value(json!({
        "geometry": polygon(json!([[[10.0, 45.0], [10.01, 45.0], [10.01, 45.01], [10.0, 45.01], [10.0, 45.0]]])),
        "start": rfc3339(now + hour),
        "end": rfc3339(now + 2 * hour),
        "kind": "air",
    }))
    .expect("the draft parses");
    match Activity::register(small, &settings, at(now)) {
        Err(DeconflictError::Refused(reason)) => {
            let km2: f64 = reason
                .strip_prefix("the area is ")
                .and_then(|rest| rest.strip_suffix(" km²; activities cover at least 4 km²"))
                .and_then(|number| number.parse().ok())
                .unwrap_or_else(|| panic!("unexpected reason: {reason}"));
            let expected = geodesic(45.0, 10.0, 45.0, 10.01) * geodesic(45.0, 10.0, 45.01, 10.0) / 1e6;
            assert!((km2 - expected).abs() < 0.01 * expected, "{km2} km² for about {expected}");
        }
        other => panic!("a small polygon is not refused: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Notices: the overlap, its window, the feature; sweeps.
// ---------------------------------------------------------------------------------------------

/// A square of `side` degrees from (lon, lat) as its south-west corner; `lon` may run past 180.
fn square(lon: f64, lat: f64, side: f64, kind: Kind, start: i64, end: i64) -> Spec {
    square_wide(lon, lat, side, side, kind, start, end)
}

fn seconds(rfc: &str) -> i64 {
    OffsetDateTime::parse(rfc, &Rfc3339).expect("an RFC 3339 time").unix_timestamp()
}

/// A box of positions to sample: west and east longitude (east may run past 180), south and
/// north latitude.
struct Region {
    west: f64,
    east: f64,
    south: f64,
    north: f64,
}

/// Checks an overlap: cells at the resolution, sorted and distinct, covering every point of a
/// grid over `region` that lies in the exact overlap of the widened areas, and none far from it;
/// the window rounded outward to the step. Returns it.
fn check_overlap(a: &Spec, b: &Spec, settings: &Settings, region: Region, spacing: f64) -> crate::Overlap {
    let (x, y) = (a.activity().expect("a"), b.activity().expect("b"));
    assert!(in_conflict(&x, &y, settings));
    let found = overlap(&x, &y, settings).expect("an overlap");
    let resolution = h3o::Resolution::try_from(settings.h3_resolution).expect("a resolution");
    assert_eq!(found.resolution, settings.h3_resolution);
    let cells: Vec<h3o::CellIndex> = found.cells.iter().map(|c| c.parse().expect("an H3 cell")).collect();
    assert!(!cells.is_empty());
    assert!(cells.windows(2).all(|w| w[0] < w[1]), "cells sorted and distinct");
    assert!(cells.iter().all(|c| c.resolution() == resolution), "every cell at resolution {resolution}");
    let set: BTreeSet<h3o::CellIndex> = cells.iter().copied().collect();

    let (sa, sb) = (sample(&a.geo, spacing), sample(&b.geo, spacing));
    let (buffer_a, buffer_b) = (settings.buffer(a.kind), settings.buffer(b.kind));
    // Sampled distances are never below the true ones: points found within the buffers are.
    let (mut inside, steps) = (0, 40);
    for i in 0..=steps {
        for j in 0..=steps {
            let lat = region.south + (region.north - region.south) * i as f64 / steps as f64;
            let lon = wrap_lon(region.west + (region.east - region.west) * j as f64 / steps as f64);
            let p = Sample::new(lat, lon);
            if sa.within(&p, buffer_a) && sb.within(&p, buffer_b) {
                inside += 1;
                let cell = h3o::LatLng::new(lat, lon).expect("a position").to_cell(resolution);
                assert!(
                    set.contains(&cell),
                    "({lat}, {lon}) is in the overlap but its cell {cell} is not in the notice"
                );
            }
        }
    }
    assert!(inside >= 20, "only {inside} sample points in the overlap");
    let reach = 2.0 * resolution.edge_length_m() + spacing;
    for cell in &cells {
        let centre = h3o::LatLng::from(*cell);
        let p = Sample::new(centre.lat(), centre.lng());
        assert!(
            sa.within(&p, buffer_a + reach) && sb.within(&p, buffer_b + reach),
            "cell {cell} is far from the overlap"
        );
    }

    let (margin, step) = (settings.time_margin_s(), settings.time_step_s());
    let (from, until) = ((a.start - margin).max(b.start - margin), (a.end + margin).min(b.end + margin));
    let (start, end) = (found.start.unix_timestamp(), found.end.unix_timestamp());
    assert!(start % step == 0 && end % step == 0, "{start} and {end} are multiples of {step}");
    assert!(start <= from && from < start + step, "start {start} rounds {from} down");
    assert!(end >= until && until > end - step, "end {end} rounds {until} up");
    found
}

#[test]
fn an_overlap_is_cells_covering_the_widened_overlap_and_a_rounded_window() {
    for resolution in [6, 8] {
        let settings = Settings { h3_resolution: resolution, ..Settings::default() };
        // Air (5 km) and maritime (2 km) squares of about 19 by 28 km, overlapping.
        let a = square(8.0, 47.0, 0.25, Kind::Air, seconds("2030-01-01T10:07:13Z"), seconds("2030-01-01T13:41:00Z"));
        let b =
            square(8.15, 47.1, 0.25, Kind::Maritime, seconds("2030-01-01T12:00:00Z"), seconds("2030-01-01T18:22:05Z"));
        let region = Region { west: 8.1, east: 8.35, south: 47.05, north: 47.32 };
        let found = check_overlap(&a, &b, &settings, region, 50.0);
        // Widened: from 11:45:00, until 13:56:00.
        assert_eq!(
            (found.start, found.end),
            (at(seconds("2030-01-01T11:30:00Z")), at(seconds("2030-01-01T14:00:00Z")))
        );

        // Astride the antimeridian, ground (500 m) and other (1 km) squares overlapping; widened
        // windows meeting exactly on the step.
        let a =
            square(179.9, -20.0, 0.2, Kind::Ground, seconds("2030-01-01T06:00:00Z"), seconds("2030-01-01T08:15:00Z"));
        let b =
            square(180.05, -20.0, 0.2, Kind::Other, seconds("2030-01-01T07:45:00Z"), seconds("2030-01-01T09:00:00Z"));
        let region = Region { west: 180.0, east: 180.15, south: -20.05, north: -19.75 };
        let found = check_overlap(&a, &b, &settings, region, 50.0);
        assert_eq!(
            (found.start, found.end),
            (at(seconds("2030-01-01T07:30:00Z")), at(seconds("2030-01-01T08:30:00Z")))
        );

        // The same squares 1.41 km apart: a strip of about 90 m where the buffers (1.5 km) meet.
        let b = square(180.1135, -20.0, 0.2, Kind::Other, b.start, b.end);
        check_overlap(&a, &b, &settings, Region { west: 180.09, east: 180.125, south: -20.05, north: -19.75 }, 50.0);
    }
    // Near the pole, boxes of 8 by 1.5 degrees (about 150 by 165 km): their geodesic northern
    // edges bow 2.6 km north of the parallel, and the overlap must follow them.
    for resolution in [5, 6] {
        let settings = Settings { h3_resolution: resolution, ..Settings::default() };
        let a = square_wide(0.0, 79.0, 8.0, 1.5, Kind::Air, T0, T0 + 7_200);
        let b = square_wide(2.0, 79.5, 8.0, 1.5, Kind::Maritime, T0 + 3_600, T0 + 9_000);
        check_overlap(&a, &b, &settings, Region { west: 1.5, east: 8.5, south: 79.3, north: 80.7 }, 200.0);
    }
}

#[test]
fn a_notice_feature_has_exactly_its_keys() {
    let settings = Settings::default();
    let a = square(8.0, 47.0, 0.25, Kind::Air, T0, T0 + 7_200).activity().expect("a");
    let b = square(8.15, 47.1, 0.25, Kind::Ground, T0 + 3_600, T0 + 9_000).activity().expect("b");
    let found = overlap(&a, &b, &settings).expect("an overlap");
    let mut notice = Notice {
        id: "conflict-1".into(),
        line: "+1 555 0100".into(),
        activity: "act-7".into(),
        other_party: None,
        overlap: found.clone(),
        notified: at(T0 + 60),
    };
    let keys = |value: &Value| -> BTreeSet<String> {
        value.as_object().map(|map| map.keys().cloned().collect()).unwrap_or_default()
    };
    let expected = |names: &[&str]| -> BTreeSet<String> { names.iter().map(|s| s.to_string()).collect() };
    let properties = ["conflict", "line", "activity", "start", "end", "h3_resolution", "cells", "notified"];

    let feature = notice.to_feature();
    assert_eq!(keys(&feature), expected(&["type", "id", "geometry", "properties"]));
    assert_eq!(feature["type"], "Feature");
    assert_eq!(feature["id"], "conflict-1");
    assert_eq!(feature["geometry"]["type"], "MultiPolygon");
    let polygons = feature["geometry"]["coordinates"].as_array().expect("coordinates");
    assert_eq!(polygons.len(), found.cells.len());
    for polygon in polygons {
        let ring = polygon[0].as_array().expect("a ring");
        assert!(ring.len() >= 7 && ring.first() == ring.last(), "a closed cell boundary");
    }
    let p = &feature["properties"];
    assert_eq!(keys(p), expected(&properties));
    assert_eq!(p["conflict"], true);
    assert_eq!(p["line"], "+1 555 0100");
    assert_eq!(p["activity"], "act-7");
    assert_eq!(p["start"], json!(found.start.format(&Rfc3339).expect("formats")));
    assert_eq!(p["end"], json!(found.end.format(&Rfc3339).expect("formats")));
    assert_eq!(p["h3_resolution"], 6);
    assert_eq!(p["cells"], json!(found.cells));
    assert_eq!(p["notified"], json!(rfc3339(T0 + 60)));

    notice.other_party = Some("blue".into());
    let feature = notice.to_feature();
    assert_eq!(keys(&feature), expected(&["type", "id", "geometry", "properties"]));
    let mut with_party = expected(&properties);
    with_party.insert("other_party".into());
    assert_eq!(keys(&feature["properties"]), with_party);
    assert_eq!(feature["properties"]["other_party"], "blue");
}

/// `n` footprints of `extent_km`, `apart_km` apart eastwards from (8 E, 47 N), `hours` apart.
fn footprints(n: usize, apart_km: f64, extent_km: f64, hours: f64) -> Vec<Footprint> {
    (0..n)
        .map(|i| {
            let (lat, lon) = travel(47.0, 8.0, 90.0, apart_km * 1_000.0 * i as f64);
            Footprint {
                at: at(T0 + (hours * 3_600.0 * i as f64) as i64),
                centre: LonLat::new(lon, lat),
                extent_m: extent_km * 1_000.0,
            }
        })
        .collect()
}

#[test]
fn a_sweep_is_many_adjacent_registrations_in_one_region_within_a_day() {
    let settings = SweepSettings::default();
    // Eight adjacent areas, 20 km across and 30 km apart (210 km in all), every three hours.
    let adjacent = footprints(8, 30.0, 10.0, 3.0);
    assert_eq!(sweep(&adjacent, &settings), Some((0..8).collect()));
    assert_eq!(sweep(&adjacent[..7], &settings), None, "seven are not a sweep");
    // Eight registrations of one place.
    assert_eq!(sweep(&footprints(8, 0.0, 10.0, 3.0), &settings), None);
    // Within 100 m is the same place; an area nudged a kilometre at a time is probing.
    assert_eq!(sweep(&footprints(8, 0.05, 10.0, 3.0), &settings), None);
    assert_eq!(sweep(&footprints(8, 1.0, 10.0, 3.0), &settings), Some((0..8).collect()));
    // The same eight spread over two days: only five within the last 24 hours.
    assert_eq!(sweep(&footprints(8, 30.0, 10.0, 6.0), &settings), None);
    // The first exactly 24 hours before the last is still within the window, a second more is not.
    let mut day = footprints(8, 30.0, 10.0, 3.0);
    day[0].at = day[7].at - time::Duration::hours(24);
    assert_eq!(sweep(&day, &settings), Some((0..8).collect()));
    day[0].at -= time::Duration::seconds(1);
    assert_eq!(sweep(&day, &settings), None);
    // Spread beyond the region (700 km from the first to the last).
    assert_eq!(sweep(&footprints(8, 100.0, 10.0, 3.0), &settings), None);
    // An older registration elsewhere does not count, nor stop the sweep.
    let mut with_older = footprints(1, 0.0, 10.0, 0.0);
    with_older[0].centre = LonLat::new(30.0, 10.0);
    with_older.extend(
        footprints(8, 30.0, 10.0, 2.0).into_iter().map(|f| Footprint { at: f.at + time::Duration::hours(1), ..f }),
    );
    assert_eq!(sweep(&with_older, &settings), Some((1..9).collect()));
}
/// A box of `width` by `height` degrees from (lon, lat) as its south-west corner.
fn square_wide(lon: f64, lat: f64, width: f64, height: f64, kind: Kind, start: i64, end: i64) -> Spec {
    let corners = [[lon, lat], [lon + width, lat], [lon + width, lat + height], [lon, lat + height], [lon, lat]];
    let ring: Vec<[f64; 2]> = corners.iter().map(|[x, y]| [wrap_lon(*x), *y]).collect();
    let centre = (lat + height / 2.0, wrap_lon(lon + width / 2.0));
    let reach_m = ring.iter().map(|[x, y]| geodesic(centre.0, centre.1, *y, *x)).fold(0.0, f64::max) + 1.0;
    Spec { geo: Geo::Polygons(vec![vec![ring]]), centre, reach_m, start, end, band: None, kind }
}
