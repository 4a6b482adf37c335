//! TAXII 2.1 over HTTP: discovery at `/taxii2/`, one API root at `/api/`. Media types are
//! negotiated strictly (406, 415), errors carry TAXII's error body, and every answer comes from
//! one hub operation on the caller's own view.

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use tearline_hub::taxii::VersionFilter;
use tearline_hub::taxii::{taxii_timestamp, CollectionView, Page, TaxiiQuery, MAX_CONTENT_LENGTH, MAX_TAXII_PAGE};
use tearline_model::User;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::{ApiError, AppState, Caller};

/// The media type of every TAXII 2.1 request and answer body.
pub const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/taxii2/", get(discovery))
        .route("/api/", get(api_root))
        .route("/api/status/{status}/", get(status))
        .route("/api/collections/", get(collections))
        .route("/api/collections/{collection}/", get(collection))
        .route("/api/collections/{collection}/manifest/", get(manifest))
        .route("/api/collections/{collection}/objects/", get(objects).post(add_objects))
        .route("/api/collections/{collection}/objects/{object}/", get(object).delete(delete_object))
        .route("/api/collections/{collection}/objects/{object}/versions/", get(versions))
}

/// An error as TAXII wants it (section 3.6.1): `title`, `description`, `http_status`.
pub struct TaxiiError(ApiError);

impl<E: Into<ApiError>> From<E> for TaxiiError {
    fn from(error: E) -> Self {
        TaxiiError(error.into())
    }
}

impl IntoResponse for TaxiiError {
    fn into_response(self) -> Response {
        let (status, code, description) = self.0.status();
        let title = status.canonical_reason().unwrap_or("Error");
        let body = json!({
            "title": title,
            "description": description,
            "error_code": code,
            "http_status": status.as_str(),
        });
        self.0.with_headers(taxii_json(status, &body))
    }
}

type TaxiiResult = Result<Response, TaxiiError>;

/// The authenticated caller of a TAXII endpoint: as [`Caller`], refusing in TAXII's form.
pub struct TaxiiCaller(pub User);

impl FromRequestParts<AppState> for TaxiiCaller {
    type Rejection = TaxiiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Caller(user) = Caller::from_request_parts(parts, state).await?;
        Ok(TaxiiCaller(user))
    }
}

/// Whether a request asks for TAXII (so that a path the server does not have is answered in
/// TAXII's form).
pub fn wants_taxii(headers: &HeaderMap) -> bool {
    let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    accept.split(',').any(is_taxii_media_type)
}

fn taxii_json(status: StatusCode, body: &Value) -> Response {
    (status, [(CONTENT_TYPE, HeaderValue::from_static(TAXII_MEDIA_TYPE))], body.to_string()).into_response()
}

/// The caller must accept TAXII 2.1's media type (`406` otherwise).
fn check_accept(headers: &HeaderMap) -> Result<(), TaxiiError> {
    let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if accept.split(',').any(is_taxii_media_type) {
        Ok(())
    } else {
        Err(ApiError::NotAcceptable(format!(
            "this server answers in {TAXII_MEDIA_TYPE}, which `{accept}` does not accept"
        ))
        .into())
    }
}

/// `application/taxii+json`, with `version=2.1` or no version, whatever the spacing and case.
fn is_taxii_media_type(text: &str) -> bool {
    let mut parts = text.split(';').map(|p| p.trim().to_ascii_lowercase());
    if parts.next().as_deref() != Some("application/taxii+json") {
        return false;
    }
    parts.all(|param| match param.split_once('=') {
        Some(("version", version)) => version.trim() == "2.1",
        // A quality or other parameter does not change the type.
        Some(_) => true,
        None => param.is_empty(),
    })
}

fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(HOST).and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1");
    format!("http://{host}")
}

async fn discovery(State(_): State<AppState>, TaxiiCaller(_): TaxiiCaller, headers: HeaderMap) -> TaxiiResult {
    check_accept(&headers)?;
    let root = format!("{}/api/", base_url(&headers));
    Ok(taxii_json(
        StatusCode::OK,
        &json!({
            "title": "Tearline",
            "description": "A releasability-enforcing intelligence-sharing hub: each caller receives only what \
                            is released to it.",
            "default": root,
            "api_roots": [root],
        }),
    ))
}

async fn api_root(TaxiiCaller(_): TaxiiCaller, headers: HeaderMap) -> TaxiiResult {
    check_accept(&headers)?;
    Ok(taxii_json(
        StatusCode::OK,
        &json!({
            "title": "Tearline",
            "description": "Collections declared by the coalition, and each party's feed of what is released to it.",
            "versions": [TAXII_MEDIA_TYPE],
            "max_content_length": MAX_CONTENT_LENGTH,
        }),
    ))
}

async fn status(
    State(state): State<AppState>,
    TaxiiCaller(user): TaxiiCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> TaxiiResult {
    check_accept(&headers)?;
    let status = state.hub.taxii_status(&user, &id).await?;
    Ok(taxii_json(StatusCode::OK, &status))
}

fn collection_json(view: &CollectionView) -> Value {
    let mut body = json!({
        "id": view.collection.id,
        "title": view.collection.title,
        "can_read": view.can_read,
        "can_write": view.can_write,
        "media_types": [tearline_hub::taxii::STIX_MEDIA_TYPE],
    });
    if let (Some(description), Some(fields)) = (&view.collection.description, body.as_object_mut()) {
        fields.insert("description".into(), json!(description));
    }
    body
}

async fn collections(State(state): State<AppState>, TaxiiCaller(user): TaxiiCaller, headers: HeaderMap) -> TaxiiResult {
    check_accept(&headers)?;
    let views = state.hub.collections(&user, state.now()).await?;
    let list: Vec<Value> = views.iter().map(collection_json).collect();
    Ok(taxii_json(StatusCode::OK, &json!({ "collections": list })))
}

async fn collection(
    State(state): State<AppState>,
    TaxiiCaller(user): TaxiiCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> TaxiiResult {
    check_accept(&headers)?;
    let view = state.hub.collection(&user, &id, state.now()).await?;
    Ok(taxii_json(StatusCode::OK, &collection_json(&view)))
}

async fn objects(
    State(state): State<AppState>,
    TaxiiCaller(user): TaxiiCaller,
    headers: HeaderMap,
    Path(collection): Path<String>,
    RawQuery(raw): RawQuery,
) -> TaxiiResult {
    check_accept(&headers)?;
    let query = parse_query(raw.as_deref(), Endpoint::Objects)?;
    let page = state.hub.taxii_objects(&user, &collection, &query, state.now()).await?;
    state.metrics.renderings.inc_by(page.items.len() as u64);
    Ok(envelope(page, "objects", |value| value))
}

async fn object(
    State(state): State<AppState>,
    TaxiiCaller(user): TaxiiCaller,
    headers: HeaderMap,
    Path((collection, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> TaxiiResult {
    check_accept(&headers)?;
    let query = parse_query(raw.as_deref(), Endpoint::Object)?;
    let page = state.hub.taxii_object(&user, &collection, &id, &query, state.now()).await?;
    state.metrics.renderings.inc_by(page.items.len() as u64);
    Ok(envelope(page, "objects", |value| value))
}

async fn manifest(
    State(state): State<AppState>,
    TaxiiCaller(user): TaxiiCaller,
    headers: HeaderMap,
    Path(collection): Path<String>,
    RawQuery(raw): RawQuery,
) -> TaxiiResult {
    check_accept(&headers)?;
    let query = parse_query(raw.as_deref(), Endpoint::Objects)?;
    let page = state.hub.taxii_manifest(&user, &collection, &query, state.now()).await?;
    Ok(envelope(page, "objects", |record| {
        json!({
            "id": record.id,
            "date_added": taxii_timestamp(record.date_added),
            "version": tearline_model::stix::timestamp(record.version),
            "media_type": record.media_type,
        })
    }))
}

async fn versions(
    State(state): State<AppState>,
    TaxiiCaller(user): TaxiiCaller,
    headers: HeaderMap,
    Path((collection, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> TaxiiResult {
    check_accept(&headers)?;
    let query = parse_query(raw.as_deref(), Endpoint::Versions)?;
    let page = state.hub.taxii_versions(&user, &collection, &id, &query, state.now()).await?;
    Ok(envelope(page, "versions", |record| json!(tearline_model::stix::timestamp(record.version))))
}

async fn delete_object(
    State(state): State<AppState>,
    TaxiiCaller(user): TaxiiCaller,
    headers: HeaderMap,
    Path((collection, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> TaxiiResult {
    check_accept(&headers)?;
    let query = parse_query(raw.as_deref(), Endpoint::Delete)?;
    state.hub.taxii_delete(&user, &collection, &id, &query, state.now()).await?;
    Ok((StatusCode::OK, [(CONTENT_TYPE, HeaderValue::from_static(TAXII_MEDIA_TYPE))]).into_response())
}

async fn add_objects(
    State(state): State<AppState>,
    TaxiiCaller(user): TaxiiCaller,
    headers: HeaderMap,
    Path(collection): Path<String>,
    body: Body,
) -> TaxiiResult {
    check_accept(&headers)?;
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !is_taxii_media_type(content_type) || !content_type.contains("2.1") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "send a TAXII envelope as {TAXII_MEDIA_TYPE}, not `{content_type}`"
        ))
        .into());
    }
    let too_large = || ApiError::TooLarge(format!("the body exceeds max_content_length ({MAX_CONTENT_LENGTH} bytes)"));
    let declared_length = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > MAX_CONTENT_LENGTH as u64) {
        return Err(too_large().into());
    }
    let bytes = axum::body::to_bytes(body, MAX_CONTENT_LENGTH).await.map_err(|_| too_large())?;
    let envelope: Value =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::BadRequest(format!("the body is not JSON: {e}")))?;
    if !envelope.is_object() {
        return Err(ApiError::BadRequest("the body is not a TAXII envelope (a JSON object)".into()).into());
    }
    let status = state.hub.taxii_add(&user, &collection, envelope, state.now()).await?;
    Ok(taxii_json(StatusCode::ACCEPTED, &status))
}

/// A TAXII envelope (`more`, `next`, the items under `key`) with the date-added headers.
fn envelope<T>(page: Page<T>, key: &str, item: impl FnMut(T) -> Value) -> Response {
    let receipt = page.receipt.clone();
    let mut body = serde_json::Map::new();
    body.insert("more".into(), json!(page.more));
    if let Some(next) = &page.next {
        body.insert("next".into(), json!(next));
    }
    let items: Vec<Value> = page.items.into_iter().map(item).collect();
    if !items.is_empty() {
        body.insert(key.into(), Value::Array(items));
    }
    let mut response = taxii_json(StatusCode::OK, &Value::Object(body));
    for (name, at) in [("X-TAXII-Date-Added-First", page.first_added), ("X-TAXII-Date-Added-Last", page.last_added)] {
        if let Some(value) = at.and_then(|at| HeaderValue::from_str(&taxii_timestamp(at)).ok()) {
            response.headers_mut().insert(name, value);
        }
    }
    crate::ledger::with_receipt(response, receipt.as_ref())
}

/// Which filters an endpoint takes (TAXII 2.1 section 3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Objects,
    Object,
    Versions,
    Delete,
}

/// The URL parameters of a request; an unknown one or a bad value is `400`.
fn parse_query(raw: Option<&str>, endpoint: Endpoint) -> Result<TaxiiQuery, TaxiiError> {
    let mut query = TaxiiQuery::default();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or_default())
        .map_err(|e| ApiError::BadRequest(format!("the query string cannot be read: {e}")))?;
    let bad = |message: String| TaxiiError(ApiError::BadRequest(message));
    let list =
        |value: &str| value.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect::<Vec<_>>();
    for (name, value) in pairs {
        let allowed = match name.as_str() {
            "added_after" | "limit" | "next" => endpoint != Endpoint::Delete,
            "match[version]" | "match[spec_version]" => endpoint != Endpoint::Versions,
            "match[id]" | "match[type]" => endpoint == Endpoint::Objects,
            _ => false,
        };
        if !allowed {
            return Err(bad(format!("`{name}` is not a parameter of this endpoint")));
        }
        match name.as_str() {
            "added_after" => {
                let at = OffsetDateTime::parse(&value, &Rfc3339)
                    .map_err(|_| bad(format!("added_after `{value}` is not a timestamp")))?;
                query.added_after = Some(at);
            }
            "limit" => {
                let limit: u32 = value
                    .parse()
                    .ok()
                    .filter(|l| *l > 0)
                    .ok_or_else(|| bad(format!("limit `{value}` is not a positive integer")))?;
                query.limit = Some(limit.min(MAX_TAXII_PAGE));
            }
            "next" => query.next = Some(value),
            "match[id]" => {
                for id in list(&value) {
                    if !is_stix_id(&id) {
                        return Err(bad(format!("match[id] `{id}` is not a STIX id")));
                    }
                    query.ids.push(id);
                }
            }
            "match[type]" => {
                for object_type in list(&value) {
                    if !is_stix_type(&object_type) {
                        return Err(bad(format!("match[type] `{object_type}` is not a STIX type")));
                    }
                    query.types.push(object_type);
                }
            }
            "match[spec_version]" => {
                for version in list(&value) {
                    if !is_spec_version(&version) {
                        return Err(bad(format!("match[spec_version] `{version}` is not a STIX version")));
                    }
                    query.spec_versions.push(version);
                }
            }
            "match[version]" => {
                for version in list(&value) {
                    add_version(&mut query.versions, &version).map_err(bad)?;
                }
            }
            _ => {}
        }
    }
    Ok(query)
}

fn is_stix_type(text: &str) -> bool {
    (3..=250).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `type--uuid`.
fn is_stix_id(text: &str) -> bool {
    text.split_once("--")
        .is_some_and(|(object_type, uuid)| is_stix_type(object_type) && uuid::Uuid::parse_str(uuid).is_ok())
}

/// `2.1`, `2.0`, ...
fn is_spec_version(text: &str) -> bool {
    text.split_once('.').is_some_and(|(major, minor)| {
        !major.is_empty() && !minor.is_empty() && major.bytes().chain(minor.bytes()).all(|b| b.is_ascii_digit())
    })
}

fn add_version(filter: &mut VersionFilter, text: &str) -> Result<(), String> {
    match text {
        "all" => filter.all = true,
        "first" => filter.first = true,
        "last" => filter.last = true,
        other => {
            let at = OffsetDateTime::parse(other, &Rfc3339)
                .map_err(|_| format!("match[version] `{other}` is not all, first, last or a timestamp"))?;
            filter.at.push(at);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taxii_media_types_are_recognised() {
        assert!(is_taxii_media_type("application/taxii+json;version=2.1"));
        assert!(is_taxii_media_type("Application/TAXII+JSON; version=2.1"));
        assert!(is_taxii_media_type("application/taxii+json"));
        assert!(!is_taxii_media_type("application/taxii+json;version=2.0"));
        assert!(!is_taxii_media_type("application/json"));
        assert!(!is_taxii_media_type("*/*"));
    }

    #[test]
    fn queries_parse_and_bad_values_are_refused() {
        let a = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
        let b = "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b";
        let text = format!("match%5Bid%5D={a},{b}&match%5Bversion%5D=first,2026-01-01T00:00:00Z&limit=5");
        let query = parse_query(Some(&text), Endpoint::Objects).ok().unwrap();
        assert_eq!(query.ids, [a, b]);
        assert!(query.versions.first && !query.versions.last);
        assert_eq!(query.versions.at.len(), 1);
        assert_eq!(query.limit, Some(5));
        for bad in [
            "limit=0",
            "limit=x",
            "added_after=yesterday",
            "match%5Bversion%5D=newest",
            "match%5Bid%5D=indicator--x",
            "match%5Bspec_version%5D=two",
            "colour=red",
        ] {
            assert!(parse_query(Some(bad), Endpoint::Objects).is_err(), "{bad}");
        }
        assert!(parse_query(Some(&format!("match%5Bid%5D={a}")), Endpoint::Object).is_err());
    }
}
