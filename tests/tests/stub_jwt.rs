//! JWT bearer tokens on the shared HTTP layer, through the embedded stub:
//! each algorithm accepted from a JWKS served over HTTP and from a file,
//! every kind of bad token refused with the contract's 401 and nothing
//! applied, each missing scope a 403 (a typed error in the SDK), the
//! audit naming the token's subject, key rotation, and a flood of made-up
//! key ids costing the key server almost nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/jwt.rs"]
mod jwt;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jobs_http::access::{JwksSource, JwtConfig};
use jobs_sdk::{JobState, JobsClient, JobsError};
use jobs_server_stub::StubServer;
use jobs_server_stub::engine::JobBuilder;
use jwt::{AUDIENCE, ISSUER, Signer, claims, jwks, now};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const STATIC_TOKEN: &str = "static-t0ken";

/// A JWKS served over HTTP whose keys the test may change.
struct KeyServer {
    server: MockServer,
    document: Arc<Mutex<Value>>,
}

impl KeyServer {
    async fn start(document: Value) -> Self {
        let server = MockServer::start().await;
        let document = Arc::new(Mutex::new(document));
        let served = document.clone();
        Mock::given(method("GET"))
            .and(path("/jwks.json"))
            .respond_with(move |_: &wiremock::Request| {
                ResponseTemplate::new(200).set_body_json(served.lock().unwrap().clone())
            })
            .mount(&server)
            .await;
        Self { server, document }
    }

    fn url(&self) -> String {
        format!("{}/jwks.json", self.server.uri())
    }

    fn set(&self, document: Value) {
        *self.document.lock().unwrap() = document;
    }

    async fn fetches(&self) -> usize {
        self.server.received_requests().await.unwrap().len()
    }
}

async fn stub_with(source: JwksSource) -> StubServer {
    let stub = StubServer::builder()
        .auth_token(STATIC_TOKEN)
        .jwt(JwtConfig::new(source).issuer(ISSUER).audience(AUDIENCE))
        .start()
        .await
        .unwrap();
    stub.insert(JobBuilder::new("job_1")).unwrap();
    stub
}

fn http() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Status, `WWW-Authenticate`, JSON body.
async fn call(
    stub: &StubServer,
    verb: &str,
    url_path: &str,
    token: Option<&str>,
) -> (StatusCode, Option<String>, Value) {
    let url = stub.url(url_path);
    let http = http();
    let mut request = match verb {
        "GET" => http.get(url),
        "PUT" => http
            .put(url)
            .header("content-type", "application/json")
            .body(r#"{"action":"pause"}"#),
        "DELETE" => http.delete(url),
        other => panic!("{other}"),
    };
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = if response
        .headers()
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap().starts_with("application/json"))
    {
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
    } else {
        Value::Null
    };
    (status, challenge, body)
}

fn status_of(stub: &StubServer) -> JobState {
    stub.engine().get("job_1").unwrap().job.status
}

#[tokio::test]
async fn each_algorithm_is_accepted_and_the_audit_names_the_subject() {
    let (rs, es, ed) = (
        Signer::rs256(1, "rs"),
        Signer::es256(1, "es"),
        Signer::ed25519(1, "ed"),
    );
    let keys = KeyServer::start(jwks(&[&rs, &es, &ed])).await;
    let stub = stub_with(JwksSource::Url(keys.url())).await;
    for signer in [&rs, &es, &ed] {
        let token = signer.sign(&claims(
            &format!("svc-{}", signer.kid),
            "jobs:read jobs:manage",
        ));
        let (status, _, body) = call(&stub, "GET", "/api/jobs/job_1", Some(&token)).await;
        assert_eq!(status, 200, "{:?}: {body}", signer.algorithm);
        let (status, _, body) = call(&stub, "PUT", "/api/jobs/job_1", Some(&token)).await;
        assert!(
            status == 200 || status == 400,
            "{:?}: {status} {body}",
            signer.algorithm
        );
    }
    let clients: Vec<_> = stub
        .audit_log()
        .into_iter()
        .filter_map(|entry| entry.client)
        .collect();
    assert_eq!(clients, ["svc-rs", "svc-es", "svc-ed"]);
    // The static token stays, naming its holder by address.
    let (status, _, _) = call(&stub, "GET", "/api/jobs/job_1", Some(STATIC_TOKEN)).await;
    assert_eq!(status, 200);
    // /metrics is not behind the API's credentials, and counts the refusals.
    let metrics = http().get(stub.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("http_response_status_code=\"200\""), "{text}");
}

#[tokio::test]
async fn every_kind_of_bad_token_is_401_and_applies_nothing() {
    let rs = Signer::rs256(1, "rs");
    let es = Signer::es256(1, "es");
    let stranger = Signer::rs256(2, "stranger");
    let keys = KeyServer::start(jwks(&[&rs, &es])).await;
    let stub = stub_with(JwksSource::Url(keys.url())).await;
    let all = "jobs:read jobs:manage";
    let with = |change: &dyn Fn(&mut Value)| {
        let mut c = claims("svc", all);
        change(&mut c);
        c
    };
    let good = rs.sign(&claims("svc", all));
    let bad_tokens: Vec<(&str, String)> = vec![
        (
            "expired",
            rs.sign(&with(&|c| c["exp"] = json!(now() - 3600))),
        ),
        (
            "not yet valid",
            rs.sign(&with(&|c| c["nbf"] = json!(now() + 3600))),
        ),
        (
            "no exp",
            rs.sign(&with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            })),
        ),
        (
            "no sub",
            rs.sign(&with(&|c| {
                c.as_object_mut().unwrap().remove("sub");
            })),
        ),
        (
            "wrong issuer",
            rs.sign(&with(&|c| c["iss"] = json!("https://evil.test"))),
        ),
        (
            "wrong audience",
            rs.sign(&with(&|c| c["aud"] = json!("another-api"))),
        ),
        ("unknown key", stranger.sign(&claims("svc", all))),
        (
            "unknown key under a known kid",
            stranger.sign_as(Some("rs"), &claims("svc", all)),
        ),
        (
            "bad signature",
            jwt::with_signature_of(&good, &rs.sign(&claims("other", all))),
        ),
        ("alg none", jwt::unsigned("rs", &claims("svc", all))),
        (
            "HS256 signed with the public key",
            rs.hs256_with_public_key(&claims("svc", all)),
        ),
        (
            "ES256 key named by an RS256 token",
            es.sign_as(Some("rs"), &claims("svc", all)),
        ),
        ("garbage", "not-a-jwt".to_owned()),
        ("three garbage parts", "a.b.c".to_owned()),
    ];
    for (kind, token) in &bad_tokens {
        for (verb, url_path) in [
            ("PUT", "/api/jobs/job_1"),
            ("DELETE", "/api/jobs/job_1"),
            ("GET", "/api/jobs/job_1"),
            ("GET", "/api/jobs/job_1/events"),
        ] {
            let (status, challenge, body) = call(&stub, verb, url_path, Some(token)).await;
            assert_eq!(status, 401, "{kind}: {verb} {url_path}: {body}");
            assert_eq!(
                challenge.as_deref(),
                Some("Bearer error=\"invalid_token\""),
                "{kind}"
            );
            assert_eq!(
                body,
                json!({"error": "Unauthorized", "details": "Missing or invalid bearer token"}),
                "{kind}"
            );
        }
        assert_eq!(
            status_of(&stub),
            JobState::Waiting,
            "{kind} applied something"
        );
    }
    let (status, challenge, _) = call(&stub, "PUT", "/api/jobs/job_1", None).await;
    assert_eq!(
        (status.as_u16(), challenge.as_deref()),
        (401, Some("Bearer"))
    );
    assert!(stub.audit_log().is_empty(), "nothing reached the engine");
    let (status, _, _) = call(&stub, "PUT", "/api/jobs/job_1", Some(&good)).await;
    assert_eq!(status, 200, "the good token still works");
}

#[tokio::test]
async fn a_token_without_the_scope_is_403_and_a_typed_error() {
    let rs = Signer::rs256(1, "rs");
    let keys = KeyServer::start(jwks(&[&rs])).await;
    let stub = stub_with(JwksSource::Url(keys.url())).await;
    let reader = rs.sign(&claims("reader", "jobs:read"));
    let manager = rs.sign(&claims("manager", "jobs:manage"));
    let neither = rs.sign(&claims("nobody", "profile email"));
    let mut scp_array = claims("array", "");
    scp_array.as_object_mut().unwrap().remove("scope");
    scp_array["scp"] = json!(["jobs:read", "jobs:manage"]);
    let scp_array = rs.sign(&scp_array);

    for (token, verb, url_path, scope) in [
        (&reader, "PUT", "/api/jobs/job_1", "jobs:manage"),
        (&reader, "DELETE", "/api/jobs/job_1", "jobs:manage"),
        (&manager, "GET", "/api/jobs/job_1", "jobs:read"),
        (&manager, "GET", "/api/jobs/job_1/events", "jobs:read"),
        (&neither, "GET", "/api/jobs/job_1", "jobs:read"),
        (&neither, "DELETE", "/api/jobs/job_1", "jobs:manage"),
    ] {
        let (status, challenge, body) = call(&stub, verb, url_path, Some(token)).await;
        assert_eq!(status, 403, "{verb} {url_path}: {body}");
        assert_eq!(
            body,
            json!({"error": "Forbidden", "details": format!("The token lacks the scope {scope}")})
        );
        assert_eq!(
            challenge.unwrap(),
            format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\"")
        );
        assert_eq!(status_of(&stub), JobState::Waiting);
    }
    assert!(stub.audit_log().is_empty(), "a 403 applies nothing");
    assert_eq!(
        call(&stub, "GET", "/api/jobs/job_1", Some(&reader)).await.0,
        200
    );
    assert_eq!(
        call(&stub, "PUT", "/api/jobs/job_1", Some(&scp_array))
            .await
            .0,
        200,
        "`scp` as an array"
    );

    let client = JobsClient::builder(stub.base_url())
        .bearer_token(reader)
        .build()
        .unwrap();
    let err = client.cancel_job("job_1").await.unwrap_err();
    assert!(matches!(err, JobsError::Forbidden(_)), "{err:?}");
    assert_eq!(err.status(), Some(403));
    assert!(client.get_job("job_1").await.is_ok());
}

#[tokio::test]
async fn a_new_key_is_found_on_first_sight_and_made_up_kids_cost_one_fetch_per_interval() {
    let old = Signer::es256(1, "2026-old");
    let new = Signer::ed25519(1, "2026-new");
    let keys = KeyServer::start(jwks(&[&old])).await;
    let stub = stub_with(JwksSource::Url(keys.url())).await;
    assert_eq!(keys.fetches().await, 1, "read once at start");
    let read = "jobs:read";
    assert_eq!(
        call(
            &stub,
            "GET",
            "/api/jobs/job_1",
            Some(&old.sign(&claims("a", read)))
        )
        .await
        .0,
        200
    );

    // The provider publishes a new key and signs with it at once.
    keys.set(jwks(&[&old, &new]));
    let first_sight = new.sign(&claims("b", read));
    assert_eq!(
        call(&stub, "GET", "/api/jobs/job_1", Some(&first_sight))
            .await
            .0,
        200
    );
    assert_eq!(keys.fetches().await, 2);

    // 200 tokens naming made-up keys, all at once.
    let before = keys.fetches().await;
    let stranger = Signer::rs256(2, "x");
    let forged: Vec<_> = (0..200)
        .map(|n| stranger.sign_as(Some(&format!("forged-{n}")), &claims("evil", read)))
        .collect();
    let started = std::time::Instant::now();
    let statuses = futures_util::future::join_all(
        forged
            .iter()
            .map(|token| call(&stub, "GET", "/api/jobs/job_1", Some(token))),
    )
    .await;
    assert!(statuses.iter().all(|(status, _, _)| *status == 401));
    let fetched = keys.fetches().await - before;
    // One fetch per second at most (the first at once, then the interval).
    let bound = 1 + started.elapsed().as_secs() as usize + 1;
    assert!(
        (1..=bound).contains(&fetched),
        "{fetched} fetches for 200 made-up kids in {:?}",
        started.elapsed()
    );
    // The known keys kept working throughout.
    assert_eq!(
        call(&stub, "GET", "/api/jobs/job_1", Some(&first_sight))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_jwks_file_is_read_at_start_and_again_for_a_new_key() {
    let dir = std::env::temp_dir().join(format!("jobs-jwks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("jwks.json");
    let rs = Signer::rs256(1, "file-rs");
    let ed = Signer::ed25519(2, "file-ed");
    std::fs::write(&file, jwks(&[&rs]).to_string()).unwrap();
    let stub = stub_with(JwksSource::File(file.clone())).await;
    let both = "jobs:read jobs:manage";
    assert_eq!(
        call(
            &stub,
            "PUT",
            "/api/jobs/job_1",
            Some(&rs.sign(&claims("f", both)))
        )
        .await
        .0,
        200
    );
    let token = ed.sign(&claims("g", both));
    assert_eq!(
        call(&stub, "GET", "/api/jobs/job_1", Some(&token)).await.0,
        401
    );
    std::fs::write(&file, jwks(&[&rs, &ed]).to_string()).unwrap();
    // A key not held is looked for at most once a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        call(&stub, "GET", "/api/jobs/job_1", Some(&token)).await.0,
        200
    );

    // A file that is not a JWKS stops the server from starting.
    std::fs::write(&file, "{\"not\": \"a jwks\"}").unwrap();
    let refused = StubServer::builder()
        .jwt(JwtConfig::new(JwksSource::File(file)))
        .start()
        .await;
    assert!(refused.is_err());
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_slow_or_lying_key_server_costs_a_bounded_wait_and_never_the_keys_held() {
    let rs = Signer::rs256(1, "rs");
    let new = Signer::es256(2, "new");
    // A key server that does not answer: the stub starts anyway, within
    // the fetch timeout, and refuses tokens until it can read the keys.
    let silent = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&silent)
        .await;
    let started = std::time::Instant::now();
    let stub = StubServer::builder()
        .jwt(
            JwtConfig::new(JwksSource::Url(format!("{}/jwks.json", silent.uri())))
                .fetch_timeout(Duration::from_millis(300)),
        )
        .start()
        .await
        .unwrap();
    stub.insert(JobBuilder::new("job_1")).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let started = std::time::Instant::now();
    let token = rs.sign(&claims("svc", "jobs:read"));
    assert_eq!(
        call(&stub, "GET", "/api/jobs/job_1", Some(&token)).await.0,
        401
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "a token waits at most the refetch interval and the fetch timeout: {:?}",
        started.elapsed()
    );

    // A key server that starts lying after the first reading: the keys
    // read stay in use; the new key is not found.
    let keys = KeyServer::start(jwks(&[&rs])).await;
    let stub = stub_with(JwksSource::Url(keys.url())).await;
    let good = rs.sign(&claims("svc", "jobs:read"));
    assert_eq!(
        call(&stub, "GET", "/api/jobs/job_1", Some(&good)).await.0,
        200
    );
    for lie in [
        json!("not a key set"),
        json!({"keys": "nope"}),
        json!({"keys": []}),
        json!({"keys": [{"kty": "oct", "kid": "new", "k": "c2VjcmV0"}]}),
        json!({"keys": [new.jwk()], "padding": "x".repeat(2 * 1024 * 1024)}),
    ] {
        keys.set(lie.clone());
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let token = new.sign(&claims("svc", "jobs:read"));
        assert_eq!(
            call(&stub, "GET", "/api/jobs/job_1", Some(&token)).await.0,
            401,
            "{}",
            &lie.to_string()[..60.min(lie.to_string().len())]
        );
        assert_eq!(
            call(&stub, "GET", "/api/jobs/job_1", Some(&good)).await.0,
            200,
            "the key held before still verifies"
        );
    }
    // A key set that parses and has keys is the truth: a key left out of
    // it is revoked.
    keys.set(jwks(&[&new]));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let token = new.sign(&claims("svc", "jobs:read"));
    assert_eq!(
        call(&stub, "GET", "/api/jobs/job_1", Some(&token)).await.0,
        200
    );
    assert_eq!(
        call(&stub, "GET", "/api/jobs/job_1", Some(&good)).await.0,
        401,
        "the key left out is no longer trusted"
    );
}

#[tokio::test]
async fn event_streams_are_counted_per_subject_not_per_address() {
    let rs = Signer::rs256(1, "rs");
    let keys = KeyServer::start(jwks(&[&rs])).await;
    let stub = StubServer::builder()
        .jwt(
            JwtConfig::new(JwksSource::Url(keys.url()))
                .issuer(ISSUER)
                .audience(AUDIENCE),
        )
        .streams(jobs_http::StreamConfig::default().max_streams_per_client(2))
        .start()
        .await
        .unwrap();
    stub.insert(JobBuilder::new("job_1")).unwrap();
    let alice = rs.sign(&claims("alice", "jobs:read"));
    let bob = rs.sign(&claims("bob", "jobs:read"));
    let http = http();
    let open = |token: &str| {
        http.get(stub.url("/api/jobs/job_1/events"))
            .bearer_auth(token)
            .send()
    };
    // Held open, unread.
    let mut held = Vec::new();
    for token in [&alice, &alice, &bob, &bob] {
        let response = open(token).await.unwrap();
        assert_eq!(response.status(), 200);
        held.push(response);
    }
    let refused = open(&alice).await.unwrap();
    assert_eq!(
        refused.status(),
        429,
        "alice's third, from the same address as bob"
    );
    assert!(refused.headers().contains_key("retry-after"));
    drop(held.remove(0));
    // The freed place is alice's again (the server notices the close).
    let mut reopened = None;
    for _ in 0..50 {
        let response = open(&alice).await.unwrap();
        if response.status() == 200 {
            reopened = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        reopened.is_some(),
        "a closed stream frees its subject's place"
    );
}

#[tokio::test]
async fn jobs_verify_passes_with_a_scoped_jwt_and_says_what_a_read_only_one_lacks() {
    let rs = Signer::rs256(1, "rs");
    let keys = KeyServer::start(jwks(&[&rs])).await;
    let stub = stub_with(JwksSource::Url(keys.url())).await;
    stub.insert(JobBuilder::new("job_2")).unwrap();
    let both = rs.sign(&claims("verifier", "jobs:read jobs:manage"));
    let config = jobs_verify::Config::new(stub.base_url(), "job_1")
        .disposable("job_2")
        .token(both);
    let report = jobs_verify::verify(&config).await;
    assert!(report.passed(), "{report:#?}");

    let nothing = rs.sign(&claims("verifier", "profile"));
    let report =
        jobs_verify::verify(&jobs_verify::Config::new(stub.base_url(), "job_1").token(nothing))
            .await;
    let fatal = report.fatal.expect("a fatal condition");
    assert_eq!(fatal.kind, jobs_verify::FatalKind::Unauthorized);
    assert!(fatal.message.contains("jobs:read"), "{}", fatal.message);
}

#[tokio::test]
async fn a_token_verified_once_still_expires_on_time() {
    let rs = Signer::rs256(1, "rs");
    let keys = KeyServer::start(jwks(&[&rs])).await;
    let stub = StubServer::builder()
        .jwt(
            JwtConfig::new(JwksSource::Url(keys.url()))
                .issuer(ISSUER)
                .audience(AUDIENCE)
                .leeway(Duration::ZERO),
        )
        .start()
        .await
        .unwrap();
    stub.insert(JobBuilder::new("job_1")).unwrap();
    let mut short = claims("svc", "jobs:read");
    short["exp"] = json!(now() + 2);
    let token = rs.sign(&short);
    for _ in 0..3 {
        assert_eq!(
            call(&stub, "GET", "/api/jobs/job_1", Some(&token)).await.0,
            200
        );
    }
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(
        call(&stub, "GET", "/api/jobs/job_1", Some(&token)).await.0,
        401,
        "expired, though verified before"
    );
}

#[tokio::test]
async fn metrics_can_have_an_address_of_their_own() {
    let stub = StubServer::builder()
        .auth_token(STATIC_TOKEN)
        .metrics_addr("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    assert_ne!(stub.metrics_url(), stub.url("/metrics"));
    let http = http();
    assert_eq!(
        http.get(stub.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        404,
        "not on the API's address"
    );
    let _ = call(&stub, "GET", "/api/jobs/none", Some(STATIC_TOKEN)).await;
    let text = http
        .get(stub.metrics_url())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("http_response_status_code=\"404\",http_route=\"/api/jobs/{jobId}\""),
        "{text}"
    );
    stub.shutdown().await;
}
