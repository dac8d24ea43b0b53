//! The served API routes against the stub's OpenAPI document: every
//! documented operation is answered by its handler behind the guards, and
//! every other method by the guarded `405` (see `jobs_http::api_router`:
//! the routes are built by hand, so nothing else ties them to the document).

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use jobs_sdk::JobState;
use tower::ServiceExt;

use jobs_http::{App, JOB_PATH, MISSING_ID_PATH, api_doc};

const TOKEN: &str = "s3cret";

fn app() -> App {
    super::app_with(&[("job_1", JobState::Active)], Some(TOKEN), None, false)
}

/// The status and `Allow` header of `method` on `path`, with or without the
/// bearer token.
async fn answer(method: &Method, path: &str, token: bool) -> (StatusCode, Option<String>) {
    // HTTP/1.1 (the builder's default) requires a Host field.
    let mut request = Request::builder()
        .method(method.clone())
        .uri(path)
        .header("host", "stub");
    if token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    }
    if *method == Method::PUT {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let body = if *method == Method::PUT {
        Body::from(r#"{"action":"pause"}"#)
    } else {
        Body::empty()
    };
    let Ok(response) = app()
        .oneshot(request.body(body).expect("valid request"))
        .await;
    let allow = response
        .headers()
        .get(header::ALLOW)
        .map(|v| v.to_str().expect("ASCII").to_owned());
    (response.status(), allow)
}

/// The methods the stub's document lists for `path`.
fn documented(path: &str) -> Vec<Method> {
    let doc = api_doc();
    let item = doc.paths.paths.get(path).expect("documented path");
    [
        (Method::GET, item.get.is_some()),
        (Method::PUT, item.put.is_some()),
        (Method::DELETE, item.delete.is_some()),
        (Method::POST, item.post.is_some()),
        (Method::PATCH, item.patch.is_some()),
        (Method::OPTIONS, item.options.is_some()),
    ]
    .into_iter()
    .filter_map(|(method, listed)| listed.then_some(method))
    .collect()
}

#[test]
fn the_served_paths_are_the_documented_ones() {
    let doc = api_doc();
    let paths: Vec<&String> = doc.paths.paths.keys().collect();
    assert_eq!(paths, [JOB_PATH, jobs_http::EVENTS_PATH]);
    assert_eq!(documented(jobs_http::EVENTS_PATH), [Method::GET]);
}

#[tokio::test]
async fn every_documented_operation_is_served_behind_the_guards() {
    let methods = documented(JOB_PATH);
    assert_eq!(methods, [Method::GET, Method::PUT, Method::DELETE]);
    for method in &methods {
        assert_eq!(
            answer(method, "/api/jobs/job_1", false).await.0,
            StatusCode::UNAUTHORIZED,
            "{method} without the token"
        );
        let (status, allow) = answer(method, "/api/jobs/job_1", true).await;
        assert!(status.is_success(), "{method} with the token: {status}");
        assert_eq!(allow, None, "{method}");
        // Without an id: the contract's 400, behind the guards too.
        assert_eq!(
            answer(method, MISSING_ID_PATH, false).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            answer(method, MISSING_ID_PATH, true).await.0,
            StatusCode::BAD_REQUEST
        );
    }
}

#[tokio::test]
async fn other_methods_get_the_guarded_405_with_allow() {
    for path in ["/api/jobs/job_1", MISSING_ID_PATH] {
        for method in [Method::POST, Method::PATCH, Method::OPTIONS] {
            let (status, allow) = answer(&method, path, false).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
            // axum's 405 adds `Allow` to the fallback's answer, refused or not.
            assert_eq!(allow.as_deref(), Some("GET,HEAD,PUT,DELETE"));
            let (status, allow) = answer(&method, path, true).await;
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_eq!(allow.as_deref(), Some("GET,HEAD,PUT,DELETE"));
        }
        // HEAD goes to GET's handler, behind the same guards.
        assert_eq!(
            answer(&Method::HEAD, path, false).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
}
