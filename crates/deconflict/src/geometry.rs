//! Areas on the WGS 84 ellipsoid and the distances between them.
//!
//! Polygon edges are geodesics (the shortest path on the ellipsoid between their ends), so an
//! area drawn across the antimeridian or near a pole means what it shows on a globe. Distances
//! are computed in an azimuthal equidistant frame centred between the two areas, where
//! distances from the centre are exact geodesic distances and distances between points near the
//! centre are within a few parts per million of them; the frame is re-centred on the closest
//! points found, so the gap that decides a conflict is measured where the frame is exact.

use std::sync::LazyLock;

use geo::{
    Area as _, BooleanOps, Buffer, Coord, Densify, Distance, Euclidean, Intersects, LineString, MultiPolygon, Point,
    Polygon,
};
use geographiclib_rs::{DirectGeodesic, Geodesic, InverseGeodesic};
use serde::{Deserialize, Serialize};

static WGS84: LazyLock<Geodesic> = LazyLock::new(Geodesic::wgs84);

/// The smallest radius of curvature of the ellipsoid (meridional, at the equator): no geodesic
/// of length `s` turns through more than `s / MIN_RADIUS` radians of latitude.
const MIN_RADIUS: f64 = 6_335_439.0;

/// Sides of the polygon standing for a disc when areas are buffered; drawn around the circle,
/// so the polygon covers it.
const DISC_SIDES: usize = 64;

/// Longest edge of an overlap's ring as given to the grid, in metres.
const MAX_PIECE_M: f64 = 1_000.0;

/// A position in degrees: longitude east, latitude north (GeoJSON order).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LonLat {
    pub lon: f64,
    pub lat: f64,
}

impl LonLat {
    pub fn new(lon: f64, lat: f64) -> Self {
        LonLat { lon, lat }
    }
}

/// Geodesic distance in metres.
pub fn distance(a: LonLat, b: LonLat) -> f64 {
    InverseGeodesic::<f64>::inverse(&*WGS84, a.lat, a.lon, b.lat, b.lon)
}

/// The point halfway along the geodesic from `a` to `b`.
pub fn midpoint(a: LonLat, b: LonLat) -> LonLat {
    let (s12, azi1, _azi2, _a12): (f64, f64, f64, f64) = WGS84.inverse(a.lat, a.lon, b.lat, b.lon);
    destination(a, azi1, s12 / 2.0)
}

/// The point `metres` from `from` along the geodesic leaving at `azimuth` degrees.
pub fn destination(from: LonLat, azimuth: f64, metres: f64) -> LonLat {
    let (lat, lon): (f64, f64) = WGS84.direct(from.lat, from.lon, azimuth, metres);
    LonLat { lon: normalise_lon(lon), lat }
}

fn normalise_lon(lon: f64) -> f64 {
    let wrapped = (lon + 180.0).rem_euclid(360.0) - 180.0;
    if wrapped == -180.0 && lon > 0.0 {
        180.0
    } else {
        wrapped
    }
}

/// An azimuthal equidistant frame: plane metres, `x` east and `y` north at the centre.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    centre: LonLat,
}

impl Frame {
    pub fn new(centre: LonLat) -> Self {
        Frame { centre }
    }

    pub fn project(&self, p: LonLat) -> Coord {
        let (s12, azi1, _azi2, _a12): (f64, f64, f64, f64) =
            WGS84.inverse(self.centre.lat, self.centre.lon, p.lat, p.lon);
        let azimuth = azi1.to_radians();
        Coord { x: s12 * azimuth.sin(), y: s12 * azimuth.cos() }
    }

    pub fn unproject(&self, c: Coord) -> LonLat {
        let metres = c.x.hypot(c.y);
        if metres == 0.0 {
            return self.centre;
        }
        destination(self.centre, c.x.atan2(c.y).to_degrees(), metres)
    }

    pub fn project_polygon(&self, polygon: &Polygon) -> Polygon {
        Project::project_polygon(self, polygon)
    }

    /// The area in this frame: polygons as they are, a disc as the polygon drawn around it
    /// (widened by `widen` metres).
    fn project_area(&self, area: &Area, widen: f64) -> MultiPolygon {
        match area {
            Area::Polygons(polygons) => {
                let projected = MultiPolygon::new(polygons.iter().map(|p| self.project_polygon(p)).collect());
                if widen > 0.0 {
                    projected.buffer(widen)
                } else {
                    projected
                }
            }
            Area::Disc { centre, radius_m } => {
                let radius = (radius_m + widen) / (std::f64::consts::PI / DISC_SIDES as f64).cos();
                let c = self.project(*centre);
                let ring: LineString = (0..=DISC_SIDES)
                    .map(|i| {
                        let angle = std::f64::consts::TAU * (i % DISC_SIDES) as f64 / DISC_SIDES as f64;
                        Coord { x: c.x + radius * angle.cos(), y: c.y + radius * angle.sin() }
                    })
                    .collect();
                MultiPolygon::new(vec![Polygon::new(ring, vec![])])
            }
        }
    }
}

/// A map from the ellipsoid to plane metres around a centre.
pub trait Project {
    fn project(&self, p: LonLat) -> Coord;

    fn project_polygon(&self, polygon: &Polygon) -> Polygon {
        let ring = |ring: &LineString| ring.0.iter().map(|c| self.project(LonLat::new(c.x, c.y))).collect();
        Polygon::new(ring(polygon.exterior()), polygon.interiors().iter().map(ring).collect())
    }
}

impl Project for Frame {
    fn project(&self, p: LonLat) -> Coord {
        Frame::project(self, p)
    }
}

/// Mean radius of the ellipsoid (IUGG).
const MEAN_RADIUS: f64 = 6_371_008.8;

/// WGS 84: the semi-major axis and the first eccentricity squared (`f (2 - f)`).
const SEMI_MAJOR: f64 = 6_378_137.0;
const E2: f64 = 0.006_694_379_990_141_317;

/// The radii of curvature at a latitude (radians): meridional and prime vertical.
fn curvature(lat: f64) -> (f64, f64) {
    let w2 = 1.0 - E2 * lat.sin().powi(2);
    let w = w2.sqrt();
    (SEMI_MAJOR * (1.0 - E2) / (w2 * w), SEMI_MAJOR / w)
}

/// What the quick frame's bound leaves for the rest: geodesic edges drawn as great circles, and
/// rounding (the share the mean sphere's bound, 0.56%, had below its 0.6%).
const QUICK_SLACK: f64 = 0.000_4;

/// The azimuthal equidistant frame on a sphere fitted to the ellipsoid where it is centred: a
/// few dot products and an arctangent a point where the exact frame solves a geodesic. Only for
/// decisions far from their limit (see [`within`] and [`QuickFrame::error`]).
#[derive(Debug, Clone, Copy)]
struct QuickFrame {
    /// The sphere's radius, between the ellipsoid's radii of curvature at the centre.
    radius: f64,
    /// The centre's latitude, radians from the equator.
    lat: f64,
    lon: f64,
    sin_lat: f64,
    cos_lat: f64,
    /// The centre and the directions east and north there, on the unit sphere.
    up: [f64; 3],
    east: [f64; 3],
    north: [f64; 3],
}

/// A point on the unit sphere (geodetic latitude read as spherical).
fn unit(p: LonLat) -> [f64; 3] {
    let (sin_lat, cos_lat) = p.lat.to_radians().sin_cos();
    let (sin_lon, cos_lon) = p.lon.to_radians().sin_cos();
    [cos_lat * cos_lon, cos_lat * sin_lon, sin_lat]
}

fn dot(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

impl QuickFrame {
    fn new(centre: LonLat) -> Self {
        let (sin_lat, cos_lat) = centre.lat.to_radians().sin_cos();
        let (sin_lon, cos_lon) = centre.lon.to_radians().sin_cos();
        let lat = centre.lat.to_radians().abs();
        let (meridional, prime) = curvature(lat);
        QuickFrame {
            // Errs as much either way at the centre: `radius / meridional - 1 = 1 - radius / prime`.
            radius: 2.0 * meridional * prime / (meridional + prime),
            lat,
            lon: centre.lon,
            sin_lat,
            cos_lat,
            up: [cos_lat * cos_lon, cos_lat * sin_lon, sin_lat],
            east: [-sin_lon, cos_lon, 0.0],
            north: [-sin_lat * cos_lon, -sin_lat * sin_lon, cos_lat],
        }
    }

    /// The greatest share by which a distance on this sphere can differ from the geodesic
    /// distance between the same two points (latitude and longitude), for points within `span`
    /// metres of the centre. Along any path, a length on the sphere over the length on the
    /// ellipsoid lies between `radius / max(M, N)` and `radius / min(M, N)`, the radii of
    /// curvature where the path runs; the shortest paths between two such points, on either
    /// surface, stay within `2 span` of the centre, so within `2 span / MIN_RADIUS` radians of
    /// its latitude, where both radii grow away from the equator.
    fn error(&self, span: f64) -> f64 {
        let turn = 2.02 * span / MIN_RADIUS;
        let (low, _) = curvature((self.lat - turn).max(0.0));
        let (_, high) = curvature((self.lat + turn).min(std::f64::consts::FRAC_PI_2));
        (self.radius / low - 1.0).max(1.0 - self.radius / high) + QUICK_SLACK
    }

    /// How far a gap measured in this frame can be from the geodesic gap, for two areas that lie
    /// within `span` metres of the centre: the sphere's error, and the frame's away from its
    /// centre (its scale and the bending of edges there grow with the square of the distance).
    fn margin(&self, span: f64) -> f64 {
        let angle = span / self.radius;
        span * (self.error(span) + angle * angle / 3.0) + 50.0
    }

    /// A point given on the unit sphere, in this frame.
    fn project_unit(&self, u: &[f64; 3]) -> Coord {
        let (east, north, up) = (dot(u, &self.east), dot(u, &self.north), dot(u, &self.up));
        let across = (east * east + north * north).sqrt();
        if across == 0.0 {
            return Coord { x: 0.0, y: 0.0 };
        }
        let metres = self.radius * across.atan2(up);
        Coord { x: metres * east / across, y: metres * north / across }
    }

    /// The point on the mean sphere at plane position `c` (geodetic latitude read as spherical).
    fn unproject(&self, c: Coord) -> LonLat {
        let angle = c.x.hypot(c.y) / self.radius;
        let (sin_angle, cos_angle) = angle.sin_cos();
        let (sin_bearing, cos_bearing) = c.x.atan2(c.y).sin_cos();
        let sin_lat = (self.sin_lat * cos_angle + self.cos_lat * sin_angle * cos_bearing).clamp(-1.0, 1.0);
        let dlon = (sin_bearing * sin_angle * self.cos_lat).atan2(cos_angle - self.sin_lat * sin_lat);
        LonLat::new(normalise_lon(self.lon + dlon.to_degrees()), sin_lat.asin().to_degrees())
    }
}

impl Project for QuickFrame {
    fn project(&self, p: LonLat) -> Coord {
        self.project_unit(&unit(p))
    }
}

/// Whether the gap between two areas is at most `limit` metres: decided from their centres,
/// extents and inscribed discs when those settle it, else by the gap measured on the sphere
/// when it is clear of the limit by more than that measure's error, else by the exact gap.
pub fn within(a: &Shape, b: &Shape, limit: f64) -> bool {
    Prepared::new(a).within(b, limit)
}

/// What the first, cheapest test of a pair needs of an area: its centre (on the unit sphere),
/// its extent and its inscribed radius. Small enough to keep beside an index entry, so that most
/// pairs are decided without reaching the area itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    centre: [f64; 3],
    extent_m: f64,
    inner_m: Option<f64>,
}

/// An area about to be checked against many others: its quick frame, and its polygons
/// projected into it once, when first needed.
pub struct Prepared<'a> {
    shape: &'a Shape,
    frame: QuickFrame,
    projected: std::cell::OnceCell<Flat>,
    /// The other area of a pair, projected: one buffer for every pair.
    scratch: std::cell::RefCell<Flat>,
}

impl<'a> Prepared<'a> {
    pub fn new(shape: &'a Shape) -> Self {
        Prepared {
            shape,
            frame: QuickFrame::new(shape.centre),
            projected: std::cell::OnceCell::new(),
            scratch: std::cell::RefCell::new(Flat::default()),
        }
    }

    fn polygons(&self) -> &Flat {
        self.projected.get_or_init(|| {
            let mut flat = Flat::default();
            if let Area::Polygons(polygons) = &self.shape.area {
                flat.fill(&self.frame, polygons);
            }
            flat
        })
    }

    /// See [`within`].
    pub fn within(&self, b: &Shape, limit: f64) -> bool {
        let bounds = b.bounds();
        match self.settle(&bounds, limit) {
            Some(decided) => decided,
            None => self.decide(b, &bounds, limit),
        }
    }

    /// [`within`] from the other area's bounds alone (its centre, extent and inscribed disc)
    /// and this area, when they settle it.
    pub fn settle(&self, b: &Bounds, limit: f64) -> Option<bool> {
        let a = self.shape;
        let centre_b = self.frame.project_unit(&b.centre);
        let apart = (centre_b.x * centre_b.x + centre_b.y * centre_b.y).sqrt();
        let span = apart + a.extent_m + b.extent_m;
        // Over any span (the latitudes clamped to the whole globe), a bound on the sphere.
        let error = self.frame.error(span);
        // The centres farther apart than both extents and the limit.
        if apart * (1.0 - error) - a.extent_m - b.extent_m > limit {
            return Some(false);
        }
        // The discs both areas surely cover within the limit.
        if let (Some(inner_a), Some(inner_b)) = (a.inner_m, b.inner_m) {
            if apart * (1.0 + error) <= inner_a + inner_b + limit {
                return Some(true);
            }
        }
        if span >= MEAN_RADIUS {
            return None;
        }
        if let Area::Polygons(_) = &a.area {
            let margin = self.frame.margin(span);
            // From the other's centre, this area (projected once): the nearest it could be, and
            // whether that centre lies deep inside this area (then, being in its own area when
            // it has an inscribed disc, the areas meet).
            let inside = self.polygons().contains(centre_b);
            let to_boundary = self.polygons().boundary_distance(centre_b);
            if inside && b.inner_m.is_some() && to_boundary > margin {
                return Some(true);
            }
            // This area reaches within the limit of the disc the other surely covers.
            if b.inner_m.is_some_and(|inner_b| to_boundary + margin <= inner_b + limit) {
                return Some(true);
            }
            if !inside && to_boundary - b.extent_m > limit + margin {
                return Some(false);
            }
        }
        None
    }

    /// [`within`] for a pair [`Prepared::settle`] left open (`bounds` are `b`'s).
    pub fn decide(&self, b: &Shape, bounds: &Bounds, limit: f64) -> bool {
        let a = self.shape;
        let centre_b = self.frame.project_unit(&bounds.centre);
        let apart = (centre_b.x * centre_b.x + centre_b.y * centre_b.y).sqrt();
        let span = apart + a.extent_m + b.extent_m;
        if span >= MEAN_RADIUS {
            return gap(a, b).metres <= limit;
        }
        let (error, margin) = (self.frame.error(span), self.frame.margin(span));
        let mut fresh = Flat::default();
        let mut borrowed = self.scratch.try_borrow_mut();
        let other = match borrowed.as_deref_mut() {
            Ok(scratch) => scratch,
            Err(_) => &mut fresh,
        };
        other.clear();
        // The other area in this frame; for polygons, a vertex near this area's inscribed disc
        // settles it.
        if let Area::Polygons(polygons) = &b.area {
            other.fill(&self.frame, polygons);
        }
        if let Some(inner_a) = a.inner_m {
            let reach = (inner_a + limit) / (1.0 + error);
            let reach2 = reach * reach;
            if other.coords.iter().any(|v| v.x * v.x + v.y * v.y <= reach2) {
                return true;
            }
        }
        let (quick, closest) = match (&a.area, &b.area) {
            (Area::Disc { radius_m: ra, .. }, Area::Disc { radius_m: rb, .. }) => ((apart - ra - rb).max(0.0), None),
            (Area::Disc { radius_m, .. }, Area::Polygons(_)) => {
                let origin = Coord::zero();
                let metres = other.distance(origin);
                ((metres - radius_m).max(0.0), None)
            }
            (Area::Polygons(_), Area::Disc { radius_m, .. }) => {
                let metres = self.polygons().distance(centre_b);
                ((metres - radius_m).max(0.0), None)
            }
            (Area::Polygons(_), Area::Polygons(_)) => match projected_gap(self.polygons(), other) {
                None => (0.0, None),
                Some((metres, ca, cb)) => (metres, Some(self.frame.unproject(mid(ca, cb)))),
            },
        };
        if quick > limit + margin {
            return false;
        }
        if quick + margin < limit {
            return true;
        }
        match (&a.area, &b.area, closest) {
            // Two polygons near the limit: measured once in the exact frame centred where the
            // quick measure found them closest, as `gap` does on its second pass.
            (Area::Polygons(pa), Area::Polygons(pb), Some(between)) => {
                polygons_gap(&Frame::new(between), pa, pb).map_or(0.0, |(metres, _, _)| metres) <= limit
            }
            _ => gap(a, b).metres <= limit,
        }
    }
}

/// Polygons in a plane frame, flat: every ring's vertices (closed, the first repeated last) in
/// one buffer, and where each ring ends. No allocation per polygon, and reusable.
#[derive(Debug, Default, Clone)]
struct Flat {
    coords: Vec<Coord>,
    ends: Vec<usize>,
}

impl Flat {
    fn clear(&mut self) {
        self.coords.clear();
        self.ends.clear();
    }

    fn fill(&mut self, frame: &impl Project, polygons: &MultiPolygon) {
        for ring in polygons.iter().flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors())) {
            self.coords.extend(ring.0.iter().map(|c| frame.project(LonLat::new(c.x, c.y))));
            self.ends.push(self.coords.len());
        }
    }

    fn of(frame: &impl Project, polygons: &MultiPolygon) -> Self {
        let mut flat = Flat::default();
        flat.fill(frame, polygons);
        flat
    }

    fn rings(&self) -> impl Iterator<Item = &[Coord]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(self.ends.iter().copied()).filter_map(|(start, end)| self.coords.get(start..end))
    }

    fn segments(&self) -> impl Iterator<Item = (Coord, Coord)> + '_ {
        self.rings().flat_map(|ring| ring.windows(2).map(|w| (w[0], w[1])))
    }

    /// Whether `p` lies inside (even-odd over every ring: parts do not overlap and holes lie
    /// in their polygon). A point on the boundary may go either way; callers decide those by
    /// their distance to the boundary, which is zero there.
    fn contains(&self, p: Coord) -> bool {
        let mut inside = false;
        for (a, b) in self.segments() {
            if (a.y > p.y) != (b.y > p.y) && p.x < a.x + (p.y - a.y) * (b.x - a.x) / (b.y - a.y) {
                inside = !inside;
            }
        }
        inside
    }

    /// The distance from `p` to the area: zero inside.
    fn distance(&self, p: Coord) -> f64 {
        if self.contains(p) {
            0.0
        } else {
            self.boundary_distance(p)
        }
    }

    /// The distance from `p` to the nearest boundary.
    fn boundary_distance(&self, p: Coord) -> f64 {
        self.segments().map(|(s0, s1)| closest_on(s0, s1, p).metres).fold(f64::INFINITY, f64::min)
    }
}

/// Where an activity takes place: polygons (lon/lat degrees, geodesic edges), or the disc of
/// `radius_m` metres around a point.
#[derive(Debug, Clone, PartialEq)]
pub enum Area {
    Polygons(MultiPolygon),
    Disc { centre: LonLat, radius_m: f64 },
}

/// An area with what the index needs of it: a centre and the greatest distance from it to any
/// point of the area.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub area: Area,
    pub centre: LonLat,
    pub extent_m: f64,
    /// A radius around the centre the area surely covers; `None` when the centre is outside it.
    pub inner_m: Option<f64>,
}

impl Shape {
    pub fn new(area: Area) -> Self {
        match &area {
            Area::Disc { centre, radius_m } => {
                Shape { centre: *centre, extent_m: *radius_m, inner_m: Some(*radius_m), area }
            }
            Area::Polygons(polygons) => {
                let vertices: Vec<LonLat> =
                    polygons.iter().flat_map(|p| p.exterior().0.iter()).map(|c| LonLat::new(c.x, c.y)).collect();
                let centre = spherical_mean(&vertices);
                // On a geodesic edge shorter than a quarter meridian the farthest point from the
                // centre is an end, so the vertices bound the area.
                let extent_m = vertices.iter().map(|v| distance(centre, *v)).fold(0.0, f64::max);
                let inner_m = inscribed(polygons, centre);
                Shape { area, centre, extent_m, inner_m }
            }
        }
    }

    /// What [`Prepared::settle`] needs of this area.
    pub fn bounds(&self) -> Bounds {
        Bounds { centre: unit(self.centre), extent_m: self.extent_m, inner_m: self.inner_m }
    }

    /// The area's size in square metres.
    pub fn area_m2(&self) -> f64 {
        match &self.area {
            Area::Disc { radius_m, .. } => std::f64::consts::PI * radius_m * radius_m,
            Area::Polygons(_) => Frame::new(self.centre).project_area(&self.area, 0.0).unsigned_area(),
        }
    }

    /// Longitude/latitude boxes (`[west, south, east, north]`, one, or two split at the
    /// antimeridian) holding every point within `widen` metres of the area.
    pub fn boxes(&self, widen: f64) -> Vec<[f64; 4]> {
        let angle = 1.000_01 * (self.extent_m + widen) / MIN_RADIUS + 1e-9;
        let dlat = angle.to_degrees();
        let south = self.centre.lat - dlat;
        let north = self.centre.lat + dlat;
        if south <= -90.0 || north >= 90.0 || angle >= std::f64::consts::FRAC_PI_2 {
            return vec![[-180.0, south.max(-90.0), 180.0, north.min(90.0)]];
        }
        let sin_half_width = angle.sin() / self.centre.lat.to_radians().cos();
        if sin_half_width >= 1.0 {
            return vec![[-180.0, south, 180.0, north]];
        }
        let half_width = sin_half_width.asin().to_degrees() * 1.000_01 + 1e-9;
        let west = self.centre.lon - half_width;
        let east = self.centre.lon + half_width;
        if west < -180.0 {
            vec![[-180.0, south, east, north], [west + 360.0, south, 180.0, north]]
        } else if east > 180.0 {
            vec![[west, south, 180.0, north], [-180.0, south, east - 360.0, north]]
        } else {
            vec![[west, south, east, north]]
        }
    }
}

/// The distance from `centre` to the polygons' boundary when `centre` is inside them, less a
/// safety share (edges are drawn straight in the frame; geodesics bend a little).
fn inscribed(polygons: &MultiPolygon, centre: LonLat) -> Option<f64> {
    let frame = Frame::new(centre);
    let projected: Vec<Polygon> = polygons.iter().map(|p| frame.project_polygon(p)).collect();
    let origin = Point::new(0.0, 0.0);
    let around = projected.iter().find(|p| p.intersects(&origin))?;
    let boundary = std::iter::once(around.exterior())
        .chain(around.interiors())
        .map(|ring| Euclidean.distance(&origin, ring))
        .fold(f64::INFINITY, f64::min);
    Some((boundary * 0.99 - 10.0).max(0.0))
}

/// The mean direction of points on the sphere: a centre that ignores the antimeridian.
fn spherical_mean(points: &[LonLat]) -> LonLat {
    let (mut x, mut y, mut z) = (0.0, 0.0, 0.0);
    for p in points {
        let (lat, lon) = (p.lat.to_radians(), p.lon.to_radians());
        x += lat.cos() * lon.cos();
        y += lat.cos() * lon.sin();
        z += lat.sin();
    }
    let horizontal = x.hypot(y);
    if horizontal == 0.0 && z == 0.0 {
        return points.first().copied().unwrap_or(LonLat::new(0.0, 0.0));
    }
    LonLat::new(y.atan2(x).to_degrees(), z.atan2(horizontal).to_degrees())
}

/// The closest points of two areas and the gap between them, in metres (0 when they meet).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gap {
    pub metres: f64,
    /// Halfway between the closest points: where the frame that measured the gap is centred.
    pub between: LonLat,
}

/// The gap between two areas.
pub fn gap(a: &Shape, b: &Shape) -> Gap {
    match (&a.area, &b.area) {
        (Area::Disc { centre: ca, radius_m: ra }, Area::Disc { centre: cb, radius_m: rb }) => {
            Gap { metres: (distance(*ca, *cb) - ra - rb).max(0.0), between: midpoint(*ca, *cb) }
        }
        (Area::Disc { centre, radius_m }, Area::Polygons(polygons))
        | (Area::Polygons(polygons), Area::Disc { centre, radius_m }) => {
            // Centred on the disc, the frame measures every distance from its centre exactly.
            let frame = Frame::new(*centre);
            let projected = Flat::of(&frame, polygons);
            let origin = Coord::zero();
            let metres = projected.distance(origin);
            // Towards the antipode of the centre the frame tears (a polygon around the antipode
            // is drawn around the origin): no point of the polygon is nearer than its own centre
            // less its extent.
            let polygon = if matches!(a.area, Area::Polygons(_)) { a } else { b };
            let least = distance(*centre, polygon.centre) - polygon.extent_m;
            Gap { metres: (metres.max(least) - radius_m).max(0.0), between: *centre }
        }
        (Area::Polygons(pa), Area::Polygons(pb)) => {
            let first = Frame::new(midpoint(a.centre, b.centre));
            match polygons_gap(&first, pa, pb) {
                None => Gap { metres: 0.0, between: first.centre },
                Some((_, ca, cb)) => {
                    let second = Frame::new(first.unproject(mid(ca, cb)));
                    match polygons_gap(&second, pa, pb) {
                        None => Gap { metres: 0.0, between: second.centre },
                        Some((metres, ca, cb)) => Gap { metres, between: second.unproject(mid(ca, cb)) },
                    }
                }
            }
        }
    }
}

fn mid(a: Coord, b: Coord) -> Coord {
    Coord { x: (a.x + b.x) / 2.0, y: (a.y + b.y) / 2.0 }
}

/// In one frame: `None` when the polygons meet, else the gap and its closest points.
fn polygons_gap(frame: &impl Project, a: &MultiPolygon, b: &MultiPolygon) -> Option<(f64, Coord, Coord)> {
    projected_gap(&Flat::of(frame, a), &Flat::of(frame, b))
}

/// [`polygons_gap`] of polygons already in one frame.
fn projected_gap(pa: &Flat, pb: &Flat) -> Option<(f64, Coord, Coord)> {
    // Two areas meet when one holds a vertex of the other (one inside the other) or their
    // boundaries cross (found with the segments below).
    let holds = |outer: &Flat, inner: &Flat| inner.rings().filter_map(|r| r.first()).any(|v| outer.contains(*v));
    if holds(pa, pb) || holds(pb, pa) {
        return None;
    }
    let mut best = (f64::INFINITY, Coord::zero(), Coord::zero());
    for (a0, a1) in pa.segments() {
        for (b0, b1) in pb.segments() {
            if box_gap2(a0, a1, b0, b1) >= best.0 * best.0 {
                continue;
            }
            if segments_cross(a0, a1, b0, b1) {
                return None;
            }
            for (d, p, q) in [
                closest_on(b0, b1, a0).map_pair(a0, false),
                closest_on(b0, b1, a1).map_pair(a1, false),
                closest_on(a0, a1, b0).map_pair(b0, true),
                closest_on(a0, a1, b1).map_pair(b1, true),
            ] {
                if d < best.0 {
                    best = (d, p, q);
                }
            }
        }
    }
    Some(best)
}

/// Whether two segments share a point (crossing or touching).
fn segments_cross(a0: Coord, a1: Coord, b0: Coord, b1: Coord) -> bool {
    let side = |p: Coord, q: Coord, r: Coord| (q.x - p.x) * (r.y - p.y) - (q.y - p.y) * (r.x - p.x);
    let (d1, d2) = (side(b0, b1, a0), side(b0, b1, a1));
    let (d3, d4) = (side(a0, a1, b0), side(a0, a1, b1));
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0)) && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0)) {
        return true;
    }
    // Collinear or touching cases: a zero distance between an end and the other segment.
    [(b0, b1, a0), (b0, b1, a1), (a0, a1, b0), (a0, a1, b1)]
        .iter()
        .any(|&(s0, s1, p)| closest_on(s0, s1, p).metres == 0.0)
}

/// The squared distance between the bounding boxes of two segments: a lower bound of theirs.
fn box_gap2(a0: Coord, a1: Coord, b0: Coord, b1: Coord) -> f64 {
    let dx = (a0.x.min(a1.x) - b0.x.max(b1.x)).max(b0.x.min(b1.x) - a0.x.max(a1.x)).max(0.0);
    let dy = (a0.y.min(a1.y) - b0.y.max(b1.y)).max(b0.y.min(b1.y) - a0.y.max(a1.y)).max(0.0);
    dx * dx + dy * dy
}

/// The point of segment `s0`–`s1` closest to `p`.
fn closest_on(s0: Coord, s1: Coord, p: Coord) -> Closest {
    let d = s1 - s0;
    let length2 = d.x * d.x + d.y * d.y;
    let t = if length2 == 0.0 { 0.0 } else { (((p - s0).x * d.x + (p - s0).y * d.y) / length2).clamp(0.0, 1.0) };
    let q = s0 + d * t;
    // A plain square root: `hypot` guards against overflow that metres never reach, and was
    // a good share of the check's time.
    let (dx, dy) = (p.x - q.x, p.y - q.y);
    Closest { point: q, metres: (dx * dx + dy * dy).sqrt() }
}

struct Closest {
    point: Coord,
    metres: f64,
}

impl Closest {
    /// As (gap, point of the first area, point of the second): `on_first` says which area the
    /// segment belongs to.
    fn map_pair(self, other: Coord, on_first: bool) -> (f64, Coord, Coord) {
        if on_first {
            (self.metres, self.point, other)
        } else {
            (self.metres, other, self.point)
        }
    }
}

/// Where two areas, each widened by its buffer, overlap: lon/lat polygons, never empty (two
/// areas exactly at the limit overlap in a point, given as a disc of a metre).
pub fn overlap_region(a: &Shape, buffer_a: f64, b: &Shape, buffer_b: f64) -> Vec<Vec<LonLat>> {
    let found = gap(a, b);
    let frame = Frame::new(found.between);
    let wa = frame.project_area(&a.area, buffer_a);
    let wb = frame.project_area(&b.area, buffer_b);
    let mut overlap = wa.intersection(&wb);
    if overlap.unsigned_area() < 1.0 {
        let disc = Shape::new(Area::Disc { centre: found.between, radius_m: 1.0 });
        overlap = frame.project_area(&disc.area, 0.0);
    }
    // The grid reads a ring's edges as straight in longitude and latitude, which a geodesic is
    // not (near a pole one of 100 km bows kilometres off that line): edges are cut into pieces
    // short enough for the difference not to matter.
    overlap
        .iter()
        .map(|polygon| {
            Euclidean.densify(polygon.exterior(), MAX_PIECE_M).0.iter().map(|c| frame.unproject(*c)).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(lon: f64, lat: f64, side: f64) -> Shape {
        let ring = LineString::from(vec![
            (lon, lat),
            (lon + side, lat),
            (lon + side, lat + side),
            (lon, lat + side),
            (lon, lat),
        ]);
        Shape::new(Area::Polygons(MultiPolygon::new(vec![Polygon::new(ring, vec![])])))
    }

    #[test]
    fn the_frame_measures_distances_from_its_centre_exactly() {
        let centre = LonLat::new(44.0, 33.0);
        let frame = Frame::new(centre);
        let p = LonLat::new(44.5, 33.4);
        let c = frame.project(p);
        assert!((c.x.hypot(c.y) - distance(centre, p)).abs() < 1e-6);
        let back = frame.unproject(c);
        assert!((back.lon - p.lon).abs() < 1e-9 && (back.lat - p.lat).abs() < 1e-9);
    }

    #[test]
    fn gap_between_squares_on_one_parallel_is_the_geodesic_between_facing_corners() {
        let a = square(10.0, 0.0, 0.1);
        let b = square(10.2, 0.0, 0.1);
        let expected = distance(LonLat::new(10.1, 0.0), LonLat::new(10.2, 0.0));
        let found = gap(&a, &b).metres;
        assert!((found - expected).abs() < 0.5, "{found} vs {expected}");
    }

    #[test]
    fn areas_across_the_antimeridian_are_near() {
        let a = square(179.95, 10.0, 0.04);
        let b = square(-179.99, 10.0, 0.04);
        let found = gap(&a, &b).metres;
        let expected = distance(LonLat::new(179.99, 10.0), LonLat::new(-179.99, 10.0));
        assert!((found - expected).abs() < 1.0, "{found} vs {expected}");
        assert!(found < 5_000.0);
    }

    fn star(centre: LonLat, radii_km: &[f64]) -> Shape {
        let n = radii_km.len();
        let mut ring: Vec<(f64, f64)> = radii_km
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let p = destination(centre, 360.0 * i as f64 / n as f64, r * 1000.0);
                (p.lon, p.lat)
            })
            .collect();
        ring.push(ring[0]);
        Shape::new(Area::Polygons(MultiPolygon::new(vec![Polygon::new(LineString::from(ring), vec![])])))
    }

    proptest::proptest! {
        /// The quick paths of `within` decide only what the exact gap would: with the limit set
        /// just below and just above the exact gap (0.1% either side), the answer flips with it.
        #[test]
        fn within_agrees_with_the_exact_gap_at_the_limit(
            lat in -84.0f64..84.0,
            lon in -180.0f64..180.0,
            bearing in 0.0f64..360.0,
            apart_km in 1.0f64..120.0,
            radii_a in proptest::collection::vec(1.0f64..30.0, 3..8),
            radii_b in proptest::collection::vec(1.0f64..30.0, 3..8),
            disc in proptest::bool::ANY,
        ) {
            let ca = LonLat::new(lon, lat);
            let cb = destination(ca, bearing, apart_km * 1000.0);
            let a = star(ca, &radii_a);
            let b = if disc { Shape::new(Area::Disc { centre: cb, radius_m: radii_b[0] * 1000.0 }) } else { star(cb, &radii_b) };
            let exact = gap(&a, &b).metres;
            proptest::prop_assume!(exact > 10.0);
            proptest::prop_assert!(within(&a, &b, exact * 1.001 + 0.5), "gap {exact}");
            proptest::prop_assert!(!within(&a, &b, exact * 0.999 - 0.5), "gap {exact}");
            proptest::prop_assert!(within(&a, &b, exact * 3.0 + 1000.0));
            proptest::prop_assert!(!within(&a, &b, exact / 3.0));
        }
    }

    proptest::proptest! {
        /// The quick frame's sphere, fitted where the frame is centred, errs by no more than
        /// `QuickFrame::error` (less the share left for edges) on distances from the centre, and
        /// by no more than that and the frame's distortion on distances between two points.
        #[test]
        fn the_quick_frame_errs_within_its_bound(
            lat in -85.0f64..85.0,
            lon in -180.0f64..180.0,
            bearings in (0.0f64..360.0, 0.0f64..360.0),
            km in (0.1f64..400.0, 0.0f64..1.0),
            far_km in 400.0f64..19_000.0,
        ) {
            let centre = LonLat::new(lon, lat);
            let frame = QuickFrame::new(centre);
            let p = destination(centre, bearings.0, km.0 * 1000.0);
            let q = destination(centre, bearings.1, km.0 * km.1 * 1000.0);
            let span = km.0 * 1000.0;
            let share = frame.error(span) - QUICK_SLACK;
            let (cp, cq) = (frame.project(p), frame.project(q));
            let from_centre = cp.x.hypot(cp.y);
            let exact = distance(centre, p);
            proptest::prop_assert!((from_centre - exact).abs() <= exact * share, "{from_centre} vs {exact}");
            // Far away too (the centres' test refutes at any distance).
            let far = destination(centre, bearings.1, far_km * 1000.0);
            let (cf, exact_far) = (frame.project(far), distance(centre, far));
            let share_far = frame.error(exact_far) - QUICK_SLACK;
            proptest::prop_assert!((cf.x.hypot(cf.y) - exact_far).abs() <= exact_far * share_far, "far: {exact_far}");
            let between = (cp.x - cq.x).hypot(cp.y - cq.y);
            let exact = distance(p, q);
            let angle = span / frame.radius;
            let bound = exact * share + span * angle * angle / 3.0 + 1e-6;
            proptest::prop_assert!((between - exact).abs() <= bound, "{between} vs {exact}, bound {bound}");
        }
    }

    #[test]
    fn the_quick_frame_is_tighter_than_the_mean_sphere_away_from_the_poles() {
        // The point of fitting the sphere: a narrower band left to the exact gap.
        let at = |lat: f64| QuickFrame::new(LonLat::new(44.0, lat)).error(60_000.0);
        assert!(at(0.0) < 0.004 && at(33.0) < 0.003 && at(80.0) < 0.001, "{} {} {}", at(0.0), at(33.0), at(80.0));
    }

    #[test]
    fn boxes_split_at_the_antimeridian_and_open_near_the_poles() {
        let near_antimeridian = square(179.9, 0.0, 0.05);
        assert_eq!(near_antimeridian.boxes(20_000.0).len(), 2);
        let polar = Shape::new(Area::Disc { centre: LonLat::new(0.0, 84.9), radius_m: 1_000.0 });
        assert_eq!(polar.boxes(600_000.0), vec![[-180.0, polar.boxes(600_000.0)[0][1], 180.0, 90.0]]);
    }
}
