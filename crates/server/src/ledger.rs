//! The ledger over HTTP: the C2SP tlog-tiles layout (`/ledger/checkpoint`, `/ledger/tile/…`),
//! witnesses' cosignatures, proofs, and the receipt headers of release answers. Thin handlers
//! over `tearline_hub::ledger`.
//!
//! The checkpoint and hash tiles hold only hashes and sizes, so they are public, as a
//! transparency log's are: witnesses and auditors need no account. Entry tiles too: entries name
//! object versions only by keyed digests (see `tearline_hub::ledger`).

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tearline_hub::Receipt;

use crate::{ApiError, AppState};

/// The receipt of a release answer (base64 of the signed note).
pub const RECEIPT_HEADER: &str = "tearline-receipt";
/// The index of the first ledger entry recording the answer, and how many there are.
pub const LEDGER_INDEX_HEADER: &str = "tearline-ledger-index";
pub const LEDGER_COUNT_HEADER: &str = "tearline-ledger-count";

/// Largest cosigned checkpoint accepted (a checkpoint with a hundred signatures is far less).
const MAX_NOTE_BYTES: usize = 64 * 1024;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ledger/checkpoint", get(checkpoint))
        .route("/ledger/tile/{*path}", get(tile))
        .route("/ledger/cosignature", post(cosignature))
        .route("/v1/ledger", get(identity))
        .route("/v1/ledger/proof/inclusion", get(inclusion))
        .route("/v1/ledger/proof/consistency", get(consistency))
}

/// Adds the receipt headers to a release answer.
pub(crate) fn with_receipt(mut response: Response, receipt: Option<&Receipt>) -> Response {
    let Some(receipt) = receipt else { return response };
    let headers = response.headers_mut();
    for (name, value) in [
        (RECEIPT_HEADER, receipt.header()),
        (LEDGER_INDEX_HEADER, receipt.first.to_string()),
        (LEDGER_COUNT_HEADER, receipt.count.to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

fn text(body: String) -> Response {
    ([(CONTENT_TYPE, "text/plain; charset=utf-8"), (CACHE_CONTROL, "no-store")], body).into_response()
}

async fn checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    let note = match state.hub.served_checkpoint().await? {
        Some(note) => note,
        // Before the first checkpoint is made: make it, so that a log is always readable.
        None => state.hub.make_checkpoint(state.now()).await?,
    };
    Ok(text(note))
}

async fn tile(State(state): State<AppState>, Path(path): Path<String>) -> Result<Response, ApiError> {
    let data = state.hub.ledger_tile(&format!("tile/{path}")).await?;
    // Full tiles never change; a partial tile of a width never changes either.
    Ok(([(CONTENT_TYPE, "application/octet-stream"), (CACHE_CONTROL, "public, max-age=31536000, immutable")], data)
        .into_response())
}

async fn cosignature(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    if body.len() > MAX_NOTE_BYTES {
        return Err(ApiError::TooLarge(format!("a cosigned checkpoint is at most {MAX_NOTE_BYTES} bytes")));
    }
    let note = std::str::from_utf8(&body).map_err(|_| ApiError::BadRequest("the checkpoint is not UTF-8".into()))?;
    let kept = state.hub.accept_cosignatures(note, state.now()).await?;
    Ok(Json(json!({ "kept": kept })).into_response())
}

async fn identity(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (origin, verifier_key) = state.hub.ledger_identity();
    Ok(Json(json!({ "origin": origin, "verifier_key": verifier_key, "witness_key": state.hub.witness_key() }))
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InclusionQuery {
    index: u64,
    size: u64,
}

async fn inclusion(
    State(state): State<AppState>,
    query: Result<Query<InclusionQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) =
        query.map_err(|e| ApiError::BadRequest(format!("expected ?index=N&size=M: {}", e.body_text())))?;
    Ok(Json(state.hub.inclusion_proof(query.index, query.size).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyQuery {
    from: u64,
    to: u64,
}

async fn consistency(
    State(state): State<AppState>,
    query: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(format!("expected ?from=A&to=B: {}", e.body_text())))?;
    Ok(Json(state.hub.consistency_proof(query.from, query.to).await?).into_response())
}
