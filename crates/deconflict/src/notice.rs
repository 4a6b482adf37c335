//! What a party learns of a conflict, and nothing more: that it exists, the overlap as H3 cells,
//! the overlap window rounded outward, a deconfliction line reference, and the other party only
//! if that party lets itself be named.

use geo::{Coord, LineString, MultiPolygon, Polygon};
use h3o::geom::{ContainmentMode, TilerBuilder};
use h3o::{CellIndex, Resolution};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::geometry::overlap_region;
use crate::{Activity, DeconflictError, Settings};

/// Where and when two activities collide, coarsened: the part both parties' notices share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overlap {
    /// H3 cells covering the overlap of the two widened areas, sorted.
    pub cells: Vec<String>,
    pub resolution: u8,
    /// The overlap of the two widened windows, rounded outward to the time step.
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub end: OffsetDateTime,
}

/// The overlap of two conflicting activities.
pub fn overlap(a: &Activity, b: &Activity, settings: &Settings) -> Result<Overlap, DeconflictError> {
    let resolution = Resolution::try_from(settings.h3_resolution)
        .map_err(|_| DeconflictError::Settings { field: "h3_resolution", reason: "must be 0 to 15".into() })?;
    let region = overlap_region(&a.shape, settings.buffer(a.kind), &b.shape, settings.buffer(b.kind));
    let mut tiler = TilerBuilder::new(resolution).containment_mode(ContainmentMode::Covers).build();
    for ring in region {
        let ring: LineString = ring.iter().map(|p| Coord { x: p.lon, y: p.lat }).collect();
        tiler
            .add(Polygon::new(ring, vec![]))
            .map_err(|e| DeconflictError::Grid(format!("the overlap cannot be gridded: {e}")))?;
    }
    let mut cells: Vec<CellIndex> = tiler.into_coverage().collect();
    cells.sort_unstable();
    cells.dedup();

    let margin = settings.time_margin_s();
    let (a_start, a_end) = a.widened_window(margin);
    let (b_start, b_end) = b.widened_window(margin);
    let step = settings.time_step_s().max(1);
    let start = a_start.max(b_start).div_euclid(step) * step;
    let end = -((-a_end.min(b_end)).div_euclid(step)) * step;
    let at = |seconds: i64| {
        OffsetDateTime::from_unix_timestamp(seconds).map_err(|e| DeconflictError::Grid(format!("overlap window: {e}")))
    };
    Ok(Overlap {
        cells: cells.iter().map(ToString::to_string).collect(),
        resolution: settings.h3_resolution,
        start: at(start)?,
        end: at(end)?,
    })
}

/// One party's notice of a conflict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notice {
    /// The conflict's id (both parties' notices share it).
    pub id: String,
    /// The deconfliction line reference to call about it.
    pub line: String,
    /// The recipient's own activity in conflict.
    pub activity: String,
    /// The other party, only when it lets itself be named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_party: Option<String>,
    pub overlap: Overlap,
    #[serde(with = "time::serde::rfc3339")]
    pub notified: OffsetDateTime,
}

impl Notice {
    /// The notice as a GeoJSON feature: the cells as a multipolygon, the rest as properties.
    pub fn to_feature(&self) -> Value {
        let polygons: Vec<Value> = self
            .overlap
            .cells
            .iter()
            .filter_map(|cell| cell.parse::<CellIndex>().ok())
            .map(|cell| json!([cell_ring(cell)]))
            .collect();
        let mut properties = json!({
            "conflict": true,
            "line": self.line,
            "activity": self.activity,
            "start": self.overlap.start.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "end": self.overlap.end.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "h3_resolution": self.overlap.resolution,
            "cells": self.overlap.cells,
            "notified": self.notified.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        });
        if let (Some(party), Some(map)) = (&self.other_party, properties.as_object_mut()) {
            map.insert("other_party".into(), json!(party));
        }
        json!({
            "type": "Feature",
            "id": self.id,
            "geometry": { "type": "MultiPolygon", "coordinates": polygons },
            "properties": properties,
        })
    }
}

/// A cell's boundary as a closed GeoJSON ring, longitudes kept continuous across the
/// antimeridian (so a cell astride it is one ring).
fn cell_ring(cell: CellIndex) -> Vec<[f64; 2]> {
    let mut ring: Vec<[f64; 2]> = Vec::new();
    for vertex in cell.boundary().iter() {
        let (mut lon, lat) = (vertex.lng(), vertex.lat());
        if let Some(first) = ring.first() {
            if lon - first[0] > 180.0 {
                lon -= 360.0;
            } else if first[0] - lon > 180.0 {
                lon += 360.0;
            }
        }
        ring.push([lon, lat]);
    }
    if let Some(first) = ring.first().copied() {
        ring.push(first);
    }
    ring
}

/// The cells of a notice as lon/lat polygons (what a map would draw).
pub fn cells_area(cells: &[String]) -> MultiPolygon {
    MultiPolygon::new(
        cells
            .iter()
            .filter_map(|cell| cell.parse::<CellIndex>().ok())
            .map(|cell| Polygon::new(cell_ring(cell).into_iter().map(|[x, y]| Coord { x, y }).collect(), vec![]))
            .collect(),
    )
}
