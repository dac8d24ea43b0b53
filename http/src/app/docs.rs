//! The contract documents: `openapi.yaml` verbatim, the same document as
//! JSON, Swagger UI (vendored: nothing is fetched at build or run time) and
//! the Redocly reference page built from the spec.

use std::sync::LazyLock;

use axum::Json;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;
use utoipa_swagger_ui::{Config, SwaggerUi, Url};

use crate::OPENAPI_YAML;
use crate::error::ApiError;

/// `docs/reference.html`: Redocly's page for `openapi.yaml`, self-contained
/// (Redoc inlined). Built and checked by `scripts/build-docs.sh`.
const REFERENCE_HTML: &str = include_str!("../../docs/reference.html");

/// `openapi.yaml` as JSON, parsed once.
static OPENAPI_JSON: LazyLock<Result<Value, String>> =
    LazyLock::new(|| yaml_serde::from_str::<Value>(OPENAPI_YAML).map_err(|e| e.to_string()));

async fn openapi_yaml() -> Response {
    (
        [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
        OPENAPI_YAML,
    )
        .into_response()
}

async fn reference_html() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        REFERENCE_HTML,
    )
        .into_response()
}

async fn openapi_json() -> Response {
    match &*OPENAPI_JSON {
        Ok(document) => Json(document.clone()).into_response(),
        Err(details) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Invalid contract document",
            Some(details.clone()),
        )
        .into_response(),
    }
}

/// Another OpenAPI document Swagger UI lists beside the API's (the stub's
/// control surface, say): its name and URL path.
#[derive(Debug, Clone, Copy)]
pub struct DocLink {
    /// The name in Swagger UI's document picker.
    pub name: &'static str,
    /// Where the document is served (`/__stub/openapi.json`).
    pub path: &'static str,
}

pub(super) fn router(more: &[DocLink]) -> Router {
    let urls = std::iter::once(Url::with_primary("Job Status API", "/openapi.json", true))
        .chain(more.iter().map(|link| Url::new(link.name, link.path)));
    let config = Config::new(urls);
    Router::new()
        .route("/openapi.yaml", get(openapi_yaml))
        .route("/openapi.json", get(openapi_json))
        .route("/docs/reference", get(reference_html))
        .merge(SwaggerUi::new("/docs").config(config))
}
