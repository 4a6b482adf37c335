//! The REST API of onward control: shares, approvals, recalls, the dissemination audit and
//! copied-text alerts. Thin handlers over `tearline_hub::onward`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;
use tearline_hub::onward::to_csv;
use tearline_hub::{OnwardRecord, ReceivedRecord, ShareRequest};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::{ApiError, AppState, Caller};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/shares", post(share))
        .route("/v1/approvals", get(approvals).post(request_approval))
        .route("/v1/approvals/{id}/approve", post(approve))
        .route("/v1/approvals/{id}/deny", post(deny))
        .route("/v1/recalls", post(recall))
        .route("/v1/audit/received", get(audit_received))
        .route("/v1/audit/onward", get(audit_onward))
        .route("/v1/alerts", get(alerts))
        .route("/v1/trace", post(trace))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShareBody {
    object: String,
    version: Option<String>,
    to: Vec<String>,
    portions: Option<Vec<usize>>,
}

/// `200` when something was passed on, `403` when everything was refused; the body says, per
/// party and portion, what went and which rules refused the rest.
async fn share(State(state): State<AppState>, Caller(user): Caller, body: Bytes) -> Result<Response, ApiError> {
    let body: ShareBody = json_body(&body)?;
    let request = ShareRequest {
        object: body.object,
        version: body.version.as_deref().map(|v| timestamp("version", v)).transpose()?,
        to: body.to,
        portions: body.portions,
        into_collection: None,
    };
    let outcome = state.hub.share(&user, &request, "rest", state.now()).await?;
    let status = if outcome.outcome == "refused" { StatusCode::FORBIDDEN } else { StatusCode::OK };
    Ok((status, Json(outcome)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TraceQuery {
    /// Bound on accusing any innocent recipient (default 1e-6).
    epsilon: Option<f64>,
}

/// Traces a leaked text (the body as sent: plain text, or a STIX object or bundle) among the
/// recipients of the caller's party's texts.
async fn trace(
    State(state): State<AppState>,
    Caller(user): Caller,
    Query(query): Query<TraceQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let leak = std::str::from_utf8(&body).map_err(|_| ApiError::BadRequest("the leak is not UTF-8 text".into()))?;
    let report = state.hub.trace(&user, leak, query.epsilon, state.now()).await?;
    Ok(Json(report).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApprovalBody {
    object: String,
    version: Option<String>,
    recipient: String,
    reason: Option<String>,
}

async fn request_approval(
    State(state): State<AppState>,
    Caller(user): Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: ApprovalBody = json_body(&body)?;
    let version = body.version.as_deref().map(|v| timestamp("version", v)).transpose()?;
    let approvals =
        state.hub.request_approval(&user, &body.object, version, &body.recipient, body.reason, state.now()).await?;
    Ok((StatusCode::CREATED, Json(json!({ "approvals": approvals }))).into_response())
}

#[derive(Deserialize)]
struct ApprovalsQuery {
    /// Only those still pending.
    pending: Option<bool>,
    /// The requests the caller's party made, rather than those it decides.
    requested: Option<bool>,
}

async fn approvals(
    State(state): State<AppState>,
    Caller(user): Caller,
    Query(query): Query<ApprovalsQuery>,
) -> Result<Response, ApiError> {
    let approvals =
        state.hub.approvals(&user, query.requested.unwrap_or(false), query.pending.unwrap_or(false)).await?;
    Ok(Json(json!({ "approvals": approvals })).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    until: Option<String>,
}

async fn approve(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: DecisionBody = if body.is_empty() { DecisionBody::default() } else { json_body(&body)? };
    let until = body.until.as_deref().map(|v| timestamp("until", v)).transpose()?;
    let approval = state.hub.decide_approval(&user, &id, true, until, state.now()).await?;
    Ok(Json(approval).into_response())
}

async fn deny(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let approval = state.hub.decide_approval(&user, &id, false, None, state.now()).await?;
    Ok(Json(approval).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecallBody {
    object: String,
    version: Option<String>,
}

async fn recall(State(state): State<AppState>, Caller(user): Caller, body: Bytes) -> Result<Response, ApiError> {
    let body: RecallBody = json_body(&body)?;
    let version = body.version.as_deref().map(|v| timestamp("version", v)).transpose()?;
    let outcome = state.hub.recall(&user, &body.object, version, state.now()).await?;
    Ok(Json(outcome).into_response())
}

#[derive(Deserialize)]
struct AuditQuery {
    party: Option<String>,
    since: Option<String>,
    format: Option<String>,
}

impl AuditQuery {
    fn since(&self) -> Result<OffsetDateTime, ApiError> {
        self.since.as_deref().map_or(Ok(OffsetDateTime::UNIX_EPOCH), |v| timestamp("since", v))
    }

    fn csv(&self) -> Result<bool, ApiError> {
        match self.format.as_deref() {
            None | Some("json") => Ok(false),
            Some("csv") => Ok(true),
            Some(other) => Err(ApiError::BadRequest(format!("unknown format `{other}` (json or csv)"))),
        }
    }
}

async fn audit_received(
    State(state): State<AppState>,
    Caller(user): Caller,
    Query(query): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let party = query.party.as_deref().ok_or_else(|| ApiError::BadRequest("name the `party` to audit".into()))?;
    let records = state.hub.audit_received(&user, party, query.since()?).await?;
    Ok(if query.csv()? {
        csv(to_csv(&ReceivedRecord::COLUMNS, records.iter().map(ReceivedRecord::fields)))
    } else {
        Json(json!({ "received": records })).into_response()
    })
}

async fn audit_onward(
    State(state): State<AppState>,
    Caller(user): Caller,
    Query(query): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let records = state.hub.audit_onward(&user, query.party.as_deref(), query.since()?).await?;
    onward_answer(&query, records)
}

async fn alerts(
    State(state): State<AppState>,
    Caller(user): Caller,
    Query(query): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let records = state.hub.alerts(&user, query.since()?).await?;
    onward_answer(&query, records)
}

fn onward_answer(query: &AuditQuery, records: Vec<OnwardRecord>) -> Result<Response, ApiError> {
    Ok(if query.csv()? {
        csv(to_csv(&OnwardRecord::COLUMNS, records.iter().map(OnwardRecord::fields)))
    } else {
        Json(json!({ "events": records })).into_response()
    })
}

fn csv(text: String) -> Response {
    ([(CONTENT_TYPE, "text/csv; charset=utf-8")], text).into_response()
}

/// A JSON request body, or a `400` saying what is wrong with it.
pub(crate) fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("the request body: {e}")))
}

/// An RFC 3339 timestamp, or a `400` naming the field.
fn timestamp(field: &str, text: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| ApiError::BadRequest(format!("`{field}` is not an RFC 3339 timestamp: {e}")))
}
