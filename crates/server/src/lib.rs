//! Tearline's HTTP edge. Handlers are thin: authenticate, call one hub operation, map the result.
//! The one table from errors to HTTP statuses is [`ApiError::into_response`]; a withheld object
//! and a missing one give the same `404` and the same body.

use std::future::Future;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::header::{AUTHORIZATION, CONNECTION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tearline_hub::{rendering_json, Hub, HubError};
use tearline_model::User;
use time::OffsetDateTime;

mod deconfliction;
mod ledger;
mod metrics;
mod onward;
mod taxii;

pub use ledger::{LEDGER_COUNT_HEADER, LEDGER_INDEX_HEADER, RECEIPT_HEADER};
pub use metrics::Metrics;

/// Largest report text accepted.
const MAX_REPORT_BYTES: usize = 1024 * 1024;
const DEFAULT_PAGE: u32 = 100;

/// Where the server takes the time from: the system clock, or a test's.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

#[derive(Clone)]
pub struct AppState {
    hub: Arc<Hub>,
    clock: Clock,
    metrics: Arc<Metrics>,
}

impl AppState {
    pub fn new(hub: Arc<Hub>, clock: Clock) -> Self {
        AppState { hub, clock, metrics: Arc::new(Metrics::default()) }
    }

    fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }
}

/// The whole HTTP API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::render))
        .route("/v1/reports", get(list_reports).post(submit_report))
        .route("/v1/reports/{id}", get(view_report))
        .route("/v1/reports/{id}/explain", get(explain_report))
        .route("/v1/stix/extension-definitions", get(extension_definitions))
        .merge(onward::routes())
        .merge(deconfliction::routes())
        .merge(ledger::routes())
        .merge(taxii::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::count))
        .layer(DefaultBodyLimit::max(MAX_REPORT_BYTES))
        .with_state(state)
}

/// Serves until `shutdown` completes, then finishes the requests under way.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

/// Errors as HTTP answers.
#[derive(Debug)]
pub enum ApiError {
    Unauthenticated,
    Hub(HubError),
    BadRequest(String),
    UnsupportedMediaType(String),
    NotAcceptable(String),
    TooLarge(String),
    Unprocessable(String),
}

impl From<HubError> for ApiError {
    fn from(error: HubError) -> Self {
        ApiError::Hub(error)
    }
}

fn error_body(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}

impl ApiError {
    /// The one table from errors to statuses: a status, a short code and a message.
    fn status(&self) -> (StatusCode, &'static str, String) {
        match self {
            ApiError::Unauthenticated => {
                (StatusCode::UNAUTHORIZED, "unauthenticated", "a valid API token is required".into())
            }
            ApiError::BadRequest(message) => (StatusCode::BAD_REQUEST, "bad-request", message.clone()),
            ApiError::UnsupportedMediaType(message) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", message.clone())
            }
            ApiError::NotAcceptable(message) => (StatusCode::NOT_ACCEPTABLE, "not-acceptable", message.clone()),
            ApiError::TooLarge(message) => (StatusCode::PAYLOAD_TOO_LARGE, "too-large", message.clone()),
            ApiError::Unprocessable(message) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid", message.clone()),
            ApiError::Hub(error) => match error {
                HubError::NotFound => (StatusCode::NOT_FOUND, "not-found", "no such object".into()),
                HubError::Forbidden(message) => (StatusCode::FORBIDDEN, "forbidden", message.clone()),
                HubError::Report(_) | HubError::Rejected(_) => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "invalid-report", error.to_string())
                }
                HubError::Invalid(message) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid", message.clone()),
                HubError::Refused(message) => (StatusCode::UNPROCESSABLE_ENTITY, "refused", message.clone()),
                HubError::TooManyRequests { .. } => {
                    (StatusCode::TOO_MANY_REQUESTS, "too-many-requests", error.to_string())
                }
                HubError::BadCursor => (StatusCode::BAD_REQUEST, "bad-cursor", error.to_string()),
                HubError::UnknownUser(_) => ApiError::Unauthenticated.status(),
                HubError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy", error.to_string()),
                HubError::Apply(_) | HubError::Policy(_) | HubError::Store(_) | HubError::Internal(_) => {
                    tracing::error!(%error, "request failed");
                    (StatusCode::INTERNAL_SERVER_ERROR, "internal", "the hub could not complete the request".into())
                }
            },
        }
    }

    fn is_unauthenticated(&self) -> bool {
        matches!(self, ApiError::Unauthenticated | ApiError::Hub(HubError::UnknownUser(_)))
    }
}

impl ApiError {
    /// The headers every error answer carries, whatever its body's form: the schemes to
    /// authenticate with, and `Connection: close`, since an error may be answered before the
    /// request's body is read, and a client reusing the connection would then see it reset.
    fn with_headers(&self, mut response: Response) -> Response {
        let headers = response.headers_mut();
        if self.is_unauthenticated() {
            headers.append(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"tearline\""));
            headers.append(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"tearline\""));
        }
        if let ApiError::Hub(HubError::TooManyRequests { retry_after_s, .. }) = self {
            headers.insert(RETRY_AFTER, HeaderValue::from(*retry_after_s));
        }
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.status();
        self.with_headers(error_body(status, code, &message))
    }
}

/// The one answer for "absent" and "withheld".
fn not_found_response() -> Response {
    ApiError::Hub(HubError::NotFound).into_response()
}

/// A path the server does not have: in TAXII's form when the caller asks for TAXII.
async fn not_found(headers: HeaderMap) -> Response {
    if taxii::wants_taxii(&headers) {
        taxii::TaxiiError::from(HubError::NotFound).into_response()
    } else {
        not_found_response()
    }
}

/// The authenticated caller: `Authorization: Bearer TOKEN`, or Basic with the token as password.
pub struct Caller(pub User);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer_or_basic(&parts.headers).ok_or(ApiError::Unauthenticated)?;
        match state.hub.authenticate(&token).await? {
            Some(user) => Ok(Caller(user)),
            None => Err(ApiError::Unauthenticated),
        }
    }
}

fn bearer_or_basic(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, credentials) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(credentials.trim().to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD.decode(credentials.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (_, password) = text.split_once(':')?;
        return Some(password.to_string());
    }
    None
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.hub.store().version().await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(error) => {
            tracing::error!(%error, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response()
        }
    }
}

async fn submit_report(
    State(state): State<AppState>,
    Caller(user): Caller,
    headers: HeaderMap,
    body: String,
) -> Result<Response, ApiError> {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if media != "text/markdown" && media != "text/plain" {
        return Err(ApiError::UnsupportedMediaType(format!(
            "send the marked report text as text/markdown, not `{content_type}`"
        )));
    }
    let submitted = state.hub.submit_report(&user, &body, state.now()).await?;
    state.metrics.reports_submitted.inc();
    Ok((StatusCode::CREATED, Json(submitted)).into_response())
}

#[derive(Deserialize)]
struct ViewQuery {
    format: Option<String>,
}

async fn view_report(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
    Query(query): Query<ViewQuery>,
) -> Result<Response, ApiError> {
    // Checked before the release, so that a bad request releases (and records) nothing.
    if !matches!(query.format.as_deref(), None | Some("json" | "text" | "stix")) {
        return Err(ApiError::BadRequest("unknown format (json, text or stix)".into()));
    }
    let (rendering, receipt) = state.hub.view_with_receipt(&user, &id, state.now()).await?;
    state.metrics.renderings.inc();
    let response = match query.format.as_deref() {
        Some("text") => ([(CONTENT_TYPE, "text/markdown; charset=utf-8")], rendering.marked_text()).into_response(),
        Some("stix") => Json(Hub::stix_bundle(&rendering)).into_response(),
        _ => Json(rendering_json(&rendering)).into_response(),
    };
    Ok(ledger::with_receipt(response, Some(&receipt)))
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<u32>,
    after: Option<String>,
}

async fn list_reports(
    State(state): State<AppState>,
    Caller(user): Caller,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE).clamp(1, tearline_hub::MAX_PAGE);
    let (page, receipt) = state.hub.list_with_receipt(&user, query.after.as_deref(), limit, state.now()).await?;
    // A full page may have more behind it; the cursor is the last id the caller saw.
    let next = (page.len() == limit as usize).then(|| page.last().map(|r| r.id.clone())).flatten();
    let reports: Vec<serde_json::Value> = page.iter().map(tearline_hub::summary_json).collect();
    let response = Json(json!({ "reports": reports, "next": next })).into_response();
    Ok(ledger::with_receipt(response, receipt.as_ref()))
}

async fn explain_report(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let parties = state.hub.explain_for_parties(&user, &id, state.now()).await?;
    Ok(Json(json!({ "id": id, "parties": parties })).into_response())
}

async fn extension_definitions(Caller(_): Caller) -> Response {
    Json(json!({ "objects": tearline_model::stix::extension_definitions() })).into_response()
}
