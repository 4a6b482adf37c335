//! The REST API of deconfliction: activities, the caller's conflict notices as GeoJSON, and a
//! server-sent-events stream of new notices. Thin handlers over `tearline_hub::deconfliction`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::{json, Value};
use tearline_deconflict::Notice;
use tearline_hub::deconfliction::notices_geojson;
use tearline_model::User;

use crate::onward::json_body;
use crate::{ApiError, AppState, Caller};

/// How often a stream looks for notices another process recorded (this one's wake it at once).
const STREAM_POLL: Duration = Duration::from_secs(5);

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/activities", get(list).post(register))
        .route("/v1/activities/{id}", get(one).patch(amend).delete(withdraw))
        .route("/v1/conflicts", get(conflicts))
        .route("/v1/conflicts/stream", get(stream))
}

async fn register(State(state): State<AppState>, Caller(user): Caller, body: Bytes) -> Result<Response, ApiError> {
    let view = state.hub.register_activity(&user, &json_body::<Value>(&body)?, state.now()).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn list(State(state): State<AppState>, Caller(user): Caller) -> Result<Response, ApiError> {
    let views = state.hub.activities(&user, state.now()).await?;
    Ok(Json(json!({ "activities": views })).into_response())
}

async fn one(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(state.hub.activity(&user, &id, state.now()).await?).into_response())
}

/// A JSON merge patch (RFC 7396) of the activity as registered.
async fn amend(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    Ok(Json(state.hub.amend_activity(&user, &id, &json_body::<Value>(&body)?, state.now()).await?).into_response())
}

async fn withdraw(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(state.hub.withdraw_activity(&user, &id, state.now()).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConflictsQuery {
    /// Every notice ever given, not only the current conflicts.
    #[serde(default)]
    all: bool,
}

async fn conflicts(
    State(state): State<AppState>,
    Caller(user): Caller,
    Query(query): Query<ConflictsQuery>,
) -> Result<Response, ApiError> {
    let notices = state.hub.conflict_notices(&user, query.all, state.now()).await?;
    let mut response = Json(notices_geojson(&notices)).into_response();
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/geo+json"));
    Ok(response)
}

/// New notices as they are given: `event: conflict`, `id` the notice's sequence number,
/// `data` its GeoJSON feature. With `Last-Event-ID`, what came after it first.
async fn stream(
    State(state): State<AppState>,
    Caller(user): Caller,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let resume = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<i64>().ok());
    let cursor = match resume {
        Some(seq) => seq,
        None => state.hub.notices_after(&user, 0, state.now()).await?.last().map_or(0, |(seq, _)| *seq),
    };
    let wakeups = state.hub.conflict_wakeups();
    let first = Follow { state, user, cursor, wakeups, pending: VecDeque::new(), caught_up: resume.is_none() };
    let events = futures_util::stream::unfold(first, |mut follow| async move {
        let (seq, notice) = follow.next().await?;
        let event = Event::default().event("conflict").id(seq.to_string()).data(notice.to_feature().to_string());
        Some((Ok(event), follow))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// A caller's place in the stream of its notices.
struct Follow {
    state: AppState,
    user: User,
    cursor: i64,
    wakeups: tokio::sync::broadcast::Receiver<()>,
    pending: VecDeque<(i64, Notice)>,
    /// Whether to wait before reading (false: read what came after `Last-Event-ID` at once).
    caught_up: bool,
}

impl Follow {
    async fn next(&mut self) -> Option<(i64, Notice)> {
        loop {
            if let Some(next) = self.pending.pop_front() {
                return Some(next);
            }
            if self.caught_up {
                // A wake-up, a lagged channel or the poll interval: in each case, read again.
                let _ = tokio::time::timeout(STREAM_POLL, self.wakeups.recv()).await;
            }
            self.caught_up = true;
            match self.state.hub.notices_after(&self.user, self.cursor, self.state.now()).await {
                Ok(notices) => {
                    if let Some((seq, _)) = notices.last() {
                        self.cursor = *seq;
                    }
                    self.pending.extend(notices);
                }
                Err(error) => {
                    tracing::warn!(%error, "conflict stream ends");
                    return None;
                }
            }
        }
    }
}
