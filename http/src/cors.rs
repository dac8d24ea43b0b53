//! Cross-origin requests (CORS) from the origins a server names, by
//! `tower-http`'s `CorsLayer`: a browser page on such an origin may read a
//! job, follow its event stream, and pause, resume or cancel it with a
//! bearer token. Requests from any other origin get no CORS header at all
//! (a browser then keeps the answer from the page), and a preflight from
//! one is answered as any other `OPTIONS` request: 405.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The origins allowed to call the API from a browser.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsConfig {
    origins: Vec<HeaderValue>,
}

/// Why an origin cannot be allowed.
#[derive(Debug, thiserror::Error)]
#[error("not an origin (scheme://host[:port]): {0}")]
pub struct InvalidOrigin(String);

impl CorsConfig {
    /// Allows `origins` (`https://app.example.com`, exactly as browsers send
    /// `Origin`: scheme, host, port if not the default, no path).
    ///
    /// # Errors
    ///
    /// An origin with a path, a wildcard or characters a header cannot
    /// carry.
    pub fn allow_origins<I, S>(origins: I) -> Result<Self, InvalidOrigin>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let origins = origins
            .into_iter()
            .map(|origin| {
                let origin = origin.as_ref().trim_end_matches('/');
                let valid = (origin.starts_with("http://") || origin.starts_with("https://"))
                    && !origin
                        .split_once("://")
                        .is_some_and(|(_, rest)| rest.contains('/'))
                    && !origin.contains('*');
                valid
                    .then(|| HeaderValue::from_str(origin).ok())
                    .flatten()
                    .ok_or_else(|| InvalidOrigin(origin.to_owned()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { origins })
    }

    /// Whether any origin is allowed.
    pub fn is_empty(&self) -> bool {
        self.origins.is_empty()
    }

    /// Whether `origin` (a request's `Origin`) is one of them.
    pub(crate) fn allows(&self, origin: &HeaderValue) -> bool {
        self.origins.iter().any(|allowed| allowed == origin)
    }

    /// The layer answering preflights and adding the CORS headers.
    pub(crate) fn layer(&self) -> CorsLayer {
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(self.origins.clone()))
            .allow_methods([Method::GET, Method::PUT, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_NONE_MATCH,
                HeaderName::from_static("last-event-id"),
                HeaderName::from_static("traceparent"),
                HeaderName::from_static("tracestate"),
            ])
            .expose_headers([header::ETAG, header::RETRY_AFTER, header::WWW_AUTHENTICATE])
            .max_age(Duration::from_secs(600))
    }
}

/// The CORS flag, for a server binary built with clap
/// (`#[command(flatten)]`); both servers here take it.
#[cfg(feature = "clap")]
#[derive(Debug, Clone, clap::Args)]
pub struct CorsArgs {
    /// Let browser pages on this origin (e.g. `https://app.example.com`) call
    /// the API; repeat for more. Other origins get no CORS headers.
    #[arg(long = "cors-allow-origin", value_name = "ORIGIN")]
    pub cors_allow_origin: Vec<String>,
}

#[cfg(feature = "clap")]
impl CorsArgs {
    /// The configuration the flags say (`None`: CORS off).
    ///
    /// # Errors
    ///
    /// An origin that is not one.
    pub fn config(&self) -> Result<Option<CorsConfig>, InvalidOrigin> {
        if self.cors_allow_origin.is_empty() {
            return Ok(None);
        }
        CorsConfig::allow_origins(&self.cors_allow_origin).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_exact_and_checked() {
        let config =
            CorsConfig::allow_origins(["https://app.example.com", "http://127.0.0.1:8080/"])
                .unwrap();
        assert!(config.allows(&HeaderValue::from_static("https://app.example.com")));
        assert!(config.allows(&HeaderValue::from_static("http://127.0.0.1:8080")));
        assert!(!config.allows(&HeaderValue::from_static("https://evil.example.com")));
        assert!(!config.allows(&HeaderValue::from_static("http://app.example.com")));
        for bad in [
            "*",
            "https://*.example.com",
            "app.example.com",
            "https://a.b/path",
        ] {
            assert!(CorsConfig::allow_origins([bad]).is_err(), "{bad}");
        }
    }
}
